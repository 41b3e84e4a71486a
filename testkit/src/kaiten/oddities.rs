//! What [`super::FakeKaiten::add_oddities`] makes the answers about a card carry: entries Kaiten
//! sends that an adapter may not have been written for. Shapes follow kaiten-sdk
//! `openapi/kaiten.yaml` (`CardFileEntry`: legacy files `type` 1–10 with integer ids, private
//! files `type` 11 with UUID ids and sizes as strings; `Comment.type` 1 markdown / 2 HTML) where
//! it has them; the rest is marked assumed in `testkit/FIDELITY.md`.

use super::{Card, World, format_time};
use crate::conformance::ODDITY;
use serde_json::{Map, Value, json};

/// Extra top-level fields, property shapes and an odd member entry on a card, in the list view
/// too; in the full view also the card's own uploads as private files and odd file entries.
pub(super) fn decorate_card(w: &World, c: &Card, card: &mut Value, full: bool) {
    if !w.oddities.contains(&c.id) {
        return;
    }
    let Some(card) = card.as_object_mut() else {
        return;
    };
    card.insert(
        "oddity_extension".into(),
        json!({ "nested": [1, "x", null], "text": ODDITY }),
    );
    card.insert("sd_new_comment".into(), json!("yes"));
    let mut properties = match card.remove("properties") {
        Some(Value::Object(properties)) => properties,
        _ => Map::new(),
    };
    properties.insert("id_98".into(), json!({ "weird": [1, "x"] }));
    properties.insert("id_99".into(), json!([1, "x", null, { "id": "uuid" }]));
    card.insert("properties".into(), Value::Object(properties));
    if let Some(Value::Array(members)) = card.get_mut("members") {
        members.push(json!({ "id": format!("{ODDITY}-member"), "type": "observer" }));
    }
    if !full {
        return;
    }
    let staff_comment = w
        .comments
        .values()
        .filter(|m| m.card_id == c.id && m.author_id != Some(super::INTEGRATION_USER))
        .map(|m| m.id)
        .max();
    let created = format_time(c.created);
    let odd_files = [
        // A private file (type 11): UUID id, size as a string, no url yet.
        json!({
            "id": format!("5f0c2d1e-8b1a-4c3e-9d2f-{:012}", c.id),
            "type": 11,
            "name": format!("{ODDITY}-private.pdf"),
            "size": "1024",
            "url": null,
            "mime_type": "application/pdf",
            "entity_type": "comment",
            "card_id": c.id,
            "card_uid": format!("7c000000-0000-4000-8000-{:012}", c.id),
            "comment_id": staff_comment,
            "resizes": [],
            "deleted": false,
            "created": created,
            "updated": created,
        }),
        // A Google Drive link (type 2) on the staff comment: a link, not a stored file.
        json!({
            "id": 9_000_000 + c.id,
            "type": 2,
            "name": format!("{ODDITY} drive link"),
            "url": format!("https://drive.google.com/file/d/{ODDITY}/view"),
            "size": null,
            "comment_id": staff_comment,
            "card_id": c.id,
            "external": true,
            "deleted": false,
            "created": created,
            "updated": created,
        }),
        // A shape never seen: an object id, no name.
        json!({ "id": { "storage": "s3", "key": ODDITY }, "type": 12, "name": null }),
    ];
    if let Some(Value::Array(files)) = card.get_mut("files") {
        for file in files.iter_mut() {
            as_private_file(&w.base_url, file);
        }
        files.extend(odd_files);
    }
}

/// Kaiten stores new uploads as private files (`type` 11): the card's own files (those not on a
/// comment, i.e. teledesk's uploads) are shown in that shape, with a UUID id, the size as a
/// string and a site-relative address that needs the token.
fn as_private_file(base_url: &str, file: &mut Value) {
    let Some(file) = file.as_object_mut() else {
        return;
    };
    if !file.get("comment_id").is_none_or(Value::is_null) {
        return;
    }
    let uid = file.get("uid").cloned().unwrap_or(Value::Null);
    file.insert("id".into(), uid);
    file.insert("type".into(), json!(11));
    if let Some(size) = file.get("size").and_then(Value::as_u64) {
        file.insert("size".into(), json!(size.to_string()));
    }
    if let Some(Value::String(url)) = file.get_mut("url")
        && let Some(relative) = url.strip_prefix(base_url)
    {
        *url = relative.to_owned();
    }
    file.insert("entity_type".into(), json!("card"));
    file.insert("resizes".into(), json!([]));
}

/// Comments of kinds the adapter does not know, appended to a card's comment list.
pub(super) fn extend_comments(w: &World, card_id: i64, comments: &mut Vec<Value>) {
    let Some(card) = w
        .cards
        .get(&card_id)
        .filter(|_| w.oddities.contains(&card_id))
    else {
        return;
    };
    let created = format_time(card.updated);
    comments.extend([
        // A comment type beyond markdown (1) and HTML (2), and no `internal` flag.
        json!({
            "id": 8_000_000 + card_id,
            "uid": format!("c0000000-0000-4000-8000-{:012}", 8_000_000 + card_id),
            "text": format!("{ODDITY}: system comment"),
            "type": 3,
            "card_id": card_id,
            "author_id": super::INTEGRATION_USER + 1_000,
            "deleted": false,
            "created": created,
            "updated": created,
        }),
        // A kind named by a string, public and by staff: only its type says it is unknown.
        json!({
            "id": 8_100_000 + card_id,
            "text": format!("{ODDITY}: e-mail"),
            "type": "email",
            "card_id": card_id,
            "author_id": super::INTEGRATION_USER + 1_000,
            "internal": false,
            "deleted": false,
            "created": created,
        }),
        // A comment whose id is text and whose author and visibility are not what they should be.
        json!({
            "id": format!("{ODDITY}-comment"),
            "text": format!("{ODDITY}: broken"),
            "type": 1,
            "card_id": card_id,
            "author_id": null,
            "internal": "no",
            "created": created,
        }),
    ]);
}
