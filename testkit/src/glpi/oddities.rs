//! What [`super::FakeGlpi::add_oddities`] makes GLPI's answers about a ticket carry. GLPI's
//! legacy API sends dropdown fields as names instead of ids when `expand_dropdowns` is on and
//! numbers as strings from some code paths (glpi-project/glpi `apirest.md`: `expand_dropdowns`,
//! "show dropdown name instead of id"); followups written by plugins or mail collection carry
//! fields the adapter never asked for. The entries of unseen shapes are assumed (see
//! `testkit/FIDELITY.md`).

use super::World;
use crate::conformance::ODDITY;
use serde_json::{Map, Value, json};

/// `GET /Ticket/:id` of a ticket with oddities.
pub(super) fn ticket(w: &World, id: i64, row: &mut Map<String, Value>) {
    if !w.oddities.contains(&id) {
        return;
    }
    row.insert("entities_id".into(), json!("Root entity > Acme"));
    row.insert("locations_id".into(), json!("Kazan > Office 3"));
    row.insert("urgency".into(), json!("3"));
    row.insert(
        "plugin_oddity_extension".into(),
        json!({ "nested": [1, "x", null], "text": ODDITY }),
    );
}

/// Rows of `GET /<parent>/<id>/<sub>` for a ticket with oddities, or a followup of one.
pub(super) fn sub_rows(
    w: &World,
    parent: &str,
    id: i64,
    sub: &str,
    rows: &mut Vec<Map<String, Value>>,
) {
    let ticket = match parent {
        "Ticket" => Some(id),
        "ITILFollowup" => w.followups.get(&id).map(|f| f.ticket),
        _ => None,
    };
    let Some(ticket) = ticket.filter(|t| w.oddities.contains(t)) else {
        return;
    };
    let odd: Vec<Value> = match (parent, sub) {
        ("Ticket", "ITILFollowup") => {
            // The mail collector's private note: author and request type as names, ids as
            // strings, a plugin field.
            for row in rows.iter_mut() {
                let odd = row
                    .get("id")
                    .and_then(Value::as_i64)
                    .is_some_and(|id| w.odd_followups.contains(&id));
                if odd {
                    row.insert("users_id".into(), json!("glpi-mailgate"));
                    row.insert("requesttypes_id".into(), json!("E-Mail"));
                    row.insert("items_id".into(), json!(ticket.to_string()));
                    row.insert("is_private".into(), json!("1"));
                    row.insert("timeline_position".into(), json!("4"));
                    row.insert("plugin_oddity".into(), json!({ "nested": [1, "x"] }));
                }
            }
            vec![
                // A row whose id is not a number: nothing to refer to.
                json!({
                    "id": { "oddity": ODDITY },
                    "itemtype": "Ticket",
                    "items_id": ticket,
                    "content": format!("<p>{ODDITY}: broken followup</p>"),
                    "is_private": 0,
                }),
            ]
        }
        ("ITILFollowup", "Document_Item") => vec![
            // A link to a document that is no number.
            json!({
                "id": 9_000_000 + id,
                "documents_id": format!("{ODDITY}-document"),
                "itemtype": "ITILFollowup",
                "items_id": id,
            }),
        ],
        _ => Vec::new(),
    };
    rows.extend(odd.into_iter().filter_map(|v| v.as_object().cloned()));
}
