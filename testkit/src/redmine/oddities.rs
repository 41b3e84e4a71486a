//! What [`super::FakeRedmine::add_oddities`] makes `GET /issues/{id}.json` carry. Redmine sends
//! multi-value custom fields as `{"multiple": true, "value": [...]}` (redmine.org Rest_api,
//! "Working with custom fields"), journal details of other properties (`relation`, `cf`,
//! `attachment`) whose values may be numbers or `null`, and issue keys added by plugins; the
//! entries of unseen shapes are assumed (see `testkit/FIDELITY.md`).

use super::World;
use crate::conformance::ODDITY;
use serde_json::{Map, Value, json};

/// The last page of `GET /issues.json` while any issue has oddities: one more issue of a shape
/// never seen (a text id, no project, status or times).
pub(super) fn list_tail(w: &World, page: &mut Vec<Value>) {
    if w.oddities.is_empty() {
        return;
    }
    page.push(json!({ "id": format!("{ODDITY}-issue"), "subject": ODDITY }));
}

/// `GET /issues/{id}.json` (and list rows) of an issue with oddities.
pub(super) fn issue(w: &World, id: i64, issue: &mut Map<String, Value>) {
    let Some(stored) = w.issues.get(&id).filter(|_| w.oddities.contains(&id)) else {
        return;
    };
    let created = super::format_time(stored.updated_on);
    issue.insert(
        "oddity_plugin_extension".into(),
        json!({ "nested": [1, "x", null], "text": ODDITY }),
    );
    issue.insert("total_estimated_hours".into(), json!("1.5"));
    let fields = issue
        .entry("custom_fields")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(fields) = fields {
        fields.extend([
            // A multi-value field.
            json!({ "id": 9_001, "name": "Tags", "multiple": true, "value": ["a", ODDITY] }),
            // A value of an unseen shape, and a field whose id is text.
            json!({ "id": 9_002, "name": "Map", "value": { "weird": [1, "x"] } }),
            json!({ "id": format!("{ODDITY}-field"), "name": ODDITY, "value": "x" }),
        ]);
    }
    if let Some(Value::Array(journals)) = issue.get_mut("journals") {
        journals.extend([
            // A relation added by the system: no notes, numeric values.
            json!({
                "id": 9_000_000 + id,
                "user": { "id": 2, "name": "Anonymous" },
                "notes": null,
                "created_on": created,
                "private_notes": false,
                "details": [
                    { "property": "relation", "name": "relates", "new_value": 4242 },
                    { "property": "cf", "name": "9001", "old_value": null, "new_value": ODDITY },
                    { "property": { "oddity": ODDITY }, "name": null },
                ],
            }),
            // A journal whose id is text and which has no time.
            json!({
                "id": format!("{ODDITY}-journal"),
                "notes": format!("{ODDITY}: broken journal"),
                "private_notes": false,
            }),
        ]);
    }
    if let Some(Value::Array(files)) = issue.get_mut("attachments") {
        files.extend([
            // A file whose size is text and which has no download address.
            json!({
                "id": 9_000_000 + id,
                "filename": format!("{ODDITY}.pdf"),
                "filesize": "1024",
                "content_type": null,
                "content_url": null,
                "created_on": created,
            }),
            json!({ "id": null, "filename": format!("{ODDITY}-broken.bin") }),
        ]);
    }
}
