//! Sample values of the adapter domain types, shared by the adapter tests so that every vendor
//! gets the same case: Анна Смирнова writes in a Telegram supergroup that the printer in
//! accounting does not print, and later comments on her ticket.
//!
//! A test that needs a variant changes the sample with struct update syntax
//! (`TicketDraft { retry: true, ..samples::draft(42) }`), so the changed fields are the ones
//! the test depends on.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use teledesk_adapter::{
    Attachment, ChangeBatch, CommentDraft, ConfigTable, IdempotencyKey, NoteDraft, Origin,
    Requester, Ticket, TicketDraft, Visibility,
};
use time::macros::datetime;

/// The supergroup every sample message is in (supergroup ids start with `-100`).
pub const CHAT_ID: i64 = -1001234567890;

/// The idempotency key of message `message_id` in [`CHAT_ID`], e.g. `tg:-1001234567890:42`.
pub fn key(message_id: i32) -> IdempotencyKey {
    IdempotencyKey::telegram(CHAT_ID, message_id)
}

/// The link to message `message_id` in [`CHAT_ID`], e.g. `https://t.me/c/1234567890/42`.
pub fn message_url(message_id: i32) -> String {
    format!("https://t.me/c/1234567890/{message_id}")
}

/// The client. She has a Cyrillic display name, a username and a company, so a test can check
/// each part of the requester block that staff read.
pub fn requester() -> Requester {
    Requester {
        display_name: "Анна Смирнова".into(),
        telegram_id: 555_001,
        username: Some("anna".into()),
        company: Some("ООО Ромашка".into()),
    }
}

/// The client as the conformance suite and the Zammad fixtures know her: another Telegram id,
/// a username with an underscore and a company name in Latin letters.
pub fn acme_requester() -> Requester {
    Requester {
        display_name: "Анна Смирнова".into(),
        telegram_id: 500_001,
        username: Some("anna_smirnova".into()),
        company: Some("Acme Kazan".into()),
    }
}

/// The client's new ticket from message `message_id`. It is registered at a whole second and has
/// no files, no chat defaults and no earlier ticket.
pub fn draft(message_id: i32) -> TicketDraft {
    TicketDraft {
        follow_up_of: None,
        key: key(message_id),
        subject: "Не печатает принтер".into(),
        description: "Принтер в бухгалтерии не печатает.".into(),
        requester: requester(),
        source_url: Some(message_url(message_id)),
        registered_at: datetime!(2026-11-21 11:58:00 UTC),
        attachments: Vec::new(),
        defaults: ConfigTable::new(),
        retry: false,
        intake: Default::default(),
    }
}

/// The ticket the contract fixtures were recorded with: message 42 with a [`screenshot`]. It is
/// registered at half a second, which shows how each vendor's body writes fractions. The
/// username `anna_s` has an underscore, which Markdown bodies must escape.
pub fn recorded_draft() -> TicketDraft {
    let requester = Requester {
        username: Some("anna_s".into()),
        ..requester()
    };
    TicketDraft {
        requester,
        registered_at: datetime!(2026-11-21 11:58:00.5 UTC),
        attachments: vec![screenshot()],
        ..draft(42)
    }
}

/// The client's comment from message `message_id`, with no files and no link.
pub fn comment(message_id: i32, body: &str) -> CommentDraft {
    CommentDraft {
        key: key(message_id),
        author: requester(),
        body: body.into(),
        attachments: Vec::new(),
        source_url: None,
        written_at: datetime!(2026-11-21 12:00:00 UTC),
        retry: false,
    }
}

/// [`comment`] with the link to its message, as the comments a client writes in the chat carry
/// one; the vendors show it in the footer of the comment.
pub fn linked_comment(message_id: i32, body: &str) -> CommentDraft {
    CommentDraft {
        source_url: Some(message_url(message_id)),
        ..comment(message_id, body)
    }
}

/// An internal note that teledesk writes, keyed by message `message_id` (for example the
/// `/escalate` command, or a reply that could not be delivered to Telegram).
pub fn note(message_id: i32, body: &str) -> NoteDraft {
    NoteDraft {
        key: key(message_id),
        body: body.into(),
        retry: false,
    }
}

/// A file's bytes, for a fake or a backstage that needs them whole (test files are small; a
/// spooled one is read from disk).
pub fn bytes_of(file: &Attachment) -> Vec<u8> {
    match (file.content.in_memory(), file.content.path()) {
        (Some(bytes), _) => bytes.to_vec(),
        (None, Some(path)) => std::fs::read(path).expect("a spooled test file is readable"),
        (None, None) => Vec::new(),
    }
}

/// A binary file: every byte value shifted by `seed` (so two files differ), then NUL NUL CR LF.
/// An adapter or fake that handles files as text (UTF-8, line endings, C strings) changes it.
pub fn file(name: &str, seed: u8) -> Attachment {
    Attachment {
        file_name: name.into(),
        content_type: "application/octet-stream".into(),
        content: (0..=255u8)
            .map(|b| b.wrapping_add(seed))
            .chain([0, 0, 13, 10])
            .collect::<Vec<u8>>()
            .into(),
    }
}

/// `screenshot.png`: the first four bytes of the PNG signature (base64 `iVBORw==`), as in the
/// recorded fixtures.
pub fn screenshot() -> Attachment {
    Attachment {
        file_name: "screenshot.png".into(),
        content_type: "image/png".into(),
        content: vec![137, 80, 78, 71].into(),
    }
}

/// A config table (`[helpdesks.<name>]` or `[chats.ticket]`) written as a JSON object.
pub fn table(value: Value) -> ConfigTable {
    value.as_object().cloned().expect("a JSON object")
}

/// `base` with each key of `extra` set over it: the usual config plus what one test changes.
/// An `extra` that is not an object changes nothing.
pub fn table_with(base: Value, extra: Value) -> ConfigTable {
    let mut table = table(base);
    table.extend(extra.as_object().cloned().unwrap_or_default());
    table
}

/// The payload recorded from a real server in `fixtures/<vendor>/<name>`, as text.
pub fn fixture_text(vendor: &str, name: &str) -> String {
    let path = format!("{}/../fixtures/{vendor}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The JSON payload recorded from a real server in `fixtures/<vendor>/<name>`.
pub fn fixture(vendor: &str, name: &str) -> Value {
    let text = fixture_text(vendor, name);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixtures/{vendor}/{name}: {e}"))
}

/// `json` parsed as `T`, after checking that writing it back and parsing that again gives the same
/// value: a wire model that drops or renames a field of a recorded payload fails here.
pub fn round_trip<T>(json: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let parsed: T = serde_json::from_str(json).expect("fixture parses");
    let again: T = serde_json::from_value(serde_json::to_value(&parsed).expect("serializes"))
        .expect("re-parses");
    assert_eq!(parsed, again);
    parsed
}

/// The ids of the tickets a poll reported, in order.
pub fn changed_ids(batch: &ChangeBatch) -> Vec<&str> {
    batch.changes.iter().map(|c| c.ticket.0.as_str()).collect()
}

/// The visibility and origin of each comment on a ticket, in order. Tests use it to check that
/// public, internal and teledesk's own comments are told apart.
pub fn comment_kinds(ticket: &Ticket) -> Vec<(Visibility, Origin)> {
    ticket
        .comments
        .iter()
        .map(|c| (c.visibility, c.origin))
        .collect()
}

/// The id, visibility and origin of each comment on a ticket, in order: [`comment_kinds`] for the
/// mapping tests, which also pin which recorded comment is which.
pub fn comment_ids_and_kinds(ticket: &Ticket) -> Vec<(&str, Visibility, Origin)> {
    ticket
        .comments
        .iter()
        .map(|c| (c.id.0.as_str(), c.visibility, c.origin))
        .collect()
}
