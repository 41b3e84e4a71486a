//! What [`super::FakeZammad::add_oddities`] makes Zammad's answers about a ticket carry. Zammad
//! has article types beyond the ones an adapter writes (`sms`, `chat`, `fax`, `telegram
//! personal-message`, `facebook feed comment`... — docs.zammad.org, ticket articles), `System`
//! senders for trigger notifications, and custom object attributes of any type (multiselects as
//! arrays, tree selects) as top-level ticket keys (docs.zammad.org, tickets API); the entries of
//! unseen shapes are assumed (see `testkit/FIDELITY.md`).

use super::World;
use crate::conformance::ODDITY;
use serde_json::{Value, json};

/// A ticket with oddities, as `GET /tickets/{id}` sends it.
pub(super) fn ticket(w: &World, id: i64, ticket: &mut Value) {
    if !w.oddities.contains(&id) {
        return;
    }
    if let Some(ticket) = ticket.as_object_mut() {
        ticket.insert("oddity_multiselect".into(), json!(["a", { "x": 1 }, null]));
        ticket.insert(
            "oddity_tree_select".into(),
            json!({ "Kazan": { "Office": 3 }, "text": ODDITY }),
        );
    }
}

/// The last page of an expanded ticket search while any ticket has oddities: one more hit of a
/// shape never seen (a text id, no timestamps).
pub(super) fn search_tail(w: &World, list: &mut Vec<Value>) {
    if w.oddities.is_empty() {
        return;
    }
    list.push(json!({
        "id": format!("{ODDITY}-ticket"),
        "number": { "oddity": ODDITY },
        "title": ODDITY,
        "state_id": "open",
    }));
}

/// Articles of a ticket with oddities (`GET /ticket_articles/by_ticket/{id}`).
pub(super) fn articles(w: &World, id: i64, articles: &mut Vec<Value>) {
    let Some(ticket) = w.tickets.get(&id).filter(|_| w.oddities.contains(&id)) else {
        return;
    };
    let created = super::format_time(ticket.updated_at);
    for article in articles.iter_mut() {
        if article["sender"] != "Agent" {
            continue;
        }
        if let Some(Value::Array(files)) = article.get_mut("attachments") {
            // A file whose id is a UUID and whose size is in words.
            files.push(json!({
                "id": format!("5f0c2d1e-8b1a-4c3e-9d2f-{id:012}"),
                "filename": format!("{ODDITY}.bin"),
                "size": "1 KB",
                "preferences": null,
            }));
        }
    }
    articles.extend([
        // An SMS trigger notification: a type teledesk never writes, sender System.
        json!({
            "id": 9_000_000 + id,
            "ticket_id": id,
            "type": "sms",
            "sender": "System",
            "internal": false,
            "body": format!("{ODDITY}: SMS notification"),
            "content_type": "text/plain",
            "created_by_id": 1,
            "created_at": created,
            "updated_at": created,
            "attachments": [],
            "preferences": { "sms_recipients": ["+70000000000"], "delivery_retry": 1 },
        }),
        // An agent article in a channel that sends no author and its id as text.
        json!({
            "id": format!("{ODDITY}-article"),
            "ticket_id": id,
            "type": "facebook feed comment",
            "sender": "Agent",
            "internal": false,
            "body": format!("{ODDITY}: feed comment"),
            "created_by_id": null,
            "created_at": created,
        }),
    ]);
}
