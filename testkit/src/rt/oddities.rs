//! What [`super::FakeRt::add_oddities`] makes REST2's answers about a ticket carry. REST2 lists
//! a `customfield` hyperlink per applied custom field (bestpractical/rt REST2 tests, `_hyperlinks`
//! with `ref => 'customfield'`), and RT records transactions of many more types than
//! Create/Correspond/Comment (`CustomField`, `AddLink`, `SetWatcher`... in
//! `lib/RT/Transaction.pm`); the value shapes and the entries of unseen shapes are assumed (see
//! `testkit/FIDELITY.md`).

use super::World;
use crate::conformance::ODDITY;
use serde_json::{Value, json};

/// `GET /ticket/{id}` of a ticket with oddities.
pub(super) fn ticket(w: &World, id: i64, ticket: &mut Value) {
    if !w.oddities.contains(&id) {
        return;
    }
    let base = &w.base_url;
    if let Some(Value::Array(fields)) = ticket.get_mut("CustomFields") {
        fields.extend([
            // An image custom field: its value is an object, not text.
            json!({
                "type": "customfield", "id": "77", "name": "Screenshot",
                "_url": format!("{base}/REST/2.0/customfield/77"),
                "values": [{
                    "content_type": "image/png",
                    "filename": format!("{ODDITY}.png"),
                    "_url": format!("{base}/REST/2.0/download/cf/{ODDITY}"),
                }],
            }),
            // A custom field reference without an id.
            json!({ "type": "customfield", "id": null, "name": ODDITY, "values": [ODDITY] }),
        ]);
    }
    if let Some(Value::Array(links)) = ticket.get_mut("_hyperlinks") {
        links.extend([
            json!({
                "ref": "customfield", "type": "customfield", "id": "77", "name": "Screenshot",
                "_url": format!("{base}/REST/2.0/customfield/77"),
            }),
            // A link without `ref`: nothing says what it is.
            json!({ "type": "attachment", "id": { "oddity": ODDITY } }),
        ]);
    }
    if let Some(Value::Array(requestors)) = ticket.get_mut("Requestor") {
        requestors.push(json!({ "type": "group", "id": { "oddity": ODDITY } }));
    }
    if let Some(ticket) = ticket.as_object_mut() {
        ticket.insert(
            "OddityExtension".into(),
            json!({ "nested": [1, "x", null], "text": ODDITY }),
        );
    }
}

/// Items of `GET /ticket/{id}/history` of a ticket with oddities (with every field, asked for
/// or not).
pub(super) fn history(w: &World, id: i64, items: &mut Vec<Value>) {
    let Some(ticket) = w.tickets.get(&id).filter(|_| w.oddities.contains(&id)) else {
        return;
    };
    let created = super::format_time(ticket.last_updated);
    let base = &w.base_url;
    items.extend([
        // A custom field change: old value `null`, new value a number.
        json!({
            "type": "transaction", "id": (9_000_000 + id).to_string(),
            "Type": "CustomField", "Field": 77, "OldValue": null, "NewValue": 1024,
            "Created": created, "TimeTaken": "0",
            "Creator": {
                "type": "user", "id": "RT_System",
                "_url": format!("{base}/REST/2.0/user/RT_System"),
            },
        }),
        // A reply whose id is an object and which has no creation time or creator.
        json!({
            "type": "transaction", "id": { "oddity": ODDITY },
            "Type": "Correspond", "Field": { "oddity": ODDITY }, "OldValue": [ODDITY],
        }),
    ]);
}

/// Items of `GET /ticket/{id}/attachments` of a ticket with oddities.
pub(super) fn attachments(w: &World, id: i64, items: &mut Vec<Value>) {
    if !w.oddities.contains(&id) {
        return;
    }
    // A file part whose id is an object and whose size is in words.
    items.push(json!({
        "type": "attachment",
        "id": { "oddity": ODDITY },
        "Filename": format!("{ODDITY}.bin"),
        "ContentType": "application/octet-stream",
        "ContentLength": "1 KB",
        "TransactionId": null,
    }));
}
