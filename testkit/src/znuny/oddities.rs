//! What [`super::FakeZnuny::add_oddities`] makes `TicketGet` answers about a ticket carry: things
//! a Znuny/OTRS/OTOBO system sends that an adapter may not know. Dynamic field values of other
//! backends are arrays and hashes, `system` articles exist beside `agent`/`customer` ones
//! (Znuny `Kernel/GenericInterface/Operation/Ticket/TicketGet.pm`, `Kernel/System/Ticket/Article.pm`);
//! the entries of unseen shapes are assumed (see `testkit/FIDELITY.md`).

use crate::conformance::ODDITY;
use serde_json::{Value, json};

pub(super) fn decorate_ticket(ticket_id: i64, ticket: &mut Value) {
    let Some(ticket) = ticket.as_object_mut() else {
        return;
    };
    ticket.insert(
        "OddityExtension".into(),
        json!({ "Nested": [1, "x", null], "Text": ODDITY }),
    );
    if let Some(Value::Array(fields)) = ticket.get_mut("DynamicField") {
        fields.extend([
            // A multiselect-like field whose value holds a hash among the strings.
            json!({ "Name": "ITSMReviewRequired", "Value": ["Yes", { "Key": ODDITY }] }),
            // A field named by a hash, and one without a name.
            json!({ "Name": { "Oddity": ODDITY }, "Value": "x" }),
            json!({ "Value": [ODDITY] }),
        ]);
    }
    let Some(Value::Array(articles)) = ticket.get_mut("Article") else {
        return;
    };
    for article in articles.iter_mut() {
        if article["SenderType"] != "agent" {
            continue;
        }
        if let Some(Value::Array(files)) = article.get_mut("Attachment") {
            // No FileID and a size in words: not a file anyone can fetch.
            files.push(json!({
                "Content": "",
                "ContentType": "text/plain",
                "FileID": "",
                "Filename": format!("{ODDITY}.txt"),
                "Filesize": "1 KB",
                "FilesizeRaw": "1 KB",
            }));
        }
    }
    articles.extend([
        // A system article visible to the customer (auto-replies, notifications).
        json!({
            "ArticleID": (9_000_000 + ticket_id).to_string(),
            "SenderType": "system",
            "SenderTypeID": "2",
            "IsVisibleForCustomer": "1",
            "CommunicationChannel": "Email",
            "From": "Znuny System <otrs@localhost>",
            "Subject": "Auto reply",
            "Body": format!("{ODDITY}: auto reply"),
            "ContentType": "text/plain; charset=utf-8",
            "TicketID": ticket_id.to_string(),
        }),
        // An article whose id is a hash: nothing to refer to.
        json!({
            "ArticleID": { "Oddity": ODDITY },
            "SenderType": "agent",
            "IsVisibleForCustomer": 1,
            "Body": format!("{ODDITY}: broken article"),
        }),
    ]);
}
