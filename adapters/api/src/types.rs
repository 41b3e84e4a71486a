//! Domain types shared by the daemon and every adapter.

use serde::{Deserialize, Serialize};

use crate::Content;
use std::fmt;
use time::OffsetDateTime;

/// The helpdesk's own id of a ticket (Kaiten card id, RT ticket id, ...), as a string.
///
/// Opaque to the daemon: it is only stored and handed back to the same adapter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub String);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The helpdesk's own id of a comment (Kaiten comment id, RT transaction id, Redmine journal id...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentId(pub String);

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key that makes a helpdesk write idempotent: `tg:<chat id>:<message id>` of the Telegram
/// message the write comes from, or `tg-app:…` for a Mini App submission.
///
/// Adapters store it in the helpdesk where they can (external id, custom field, a marker in the
/// text) so that a retry after a crash finds the earlier write.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    /// The key of a Telegram message.
    pub fn telegram(chat_id: i64, message_id: i32) -> Self {
        Self(format!("tg:{chat_id}:{message_id}"))
    }

    /// The key of a ticket filed through the Mini App: `tg-app:<user id>:<submission id>`, the
    /// submission id being the one the app generated for the form (the same on every retry).
    pub fn mini_app(user_id: i64, submission_id: &str) -> Self {
        Self(format!("tg-app:{user_id}:{submission_id}"))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Telegram chat and message a [`IdempotencyKey::telegram`] key names; `None` for any
    /// other key (a Mini App submission's names no message).
    pub fn telegram_message(&self) -> Option<(i64, i32)> {
        let (chat, message) = self.0.strip_prefix("tg:")?.split_once(':')?;
        Some((chat.parse().ok()?, message.parse().ok()?))
    }
}

/// A ticket teledesk created, found again in the helpdesk by the idempotency key it wrote there
/// (see [`crate::Helpdesk::own_tickets`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnTicket {
    /// Id, number and web link.
    pub reference: TicketRef,
    /// The key the ticket was created with: it names the Telegram message it came from.
    pub key: IdempotencyKey,
    /// The requester as teledesk wrote them into the ticket ([`crate::text::requester_line`]),
    /// when the adapter could read them back.
    pub requester: Option<Requester>,
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a ticket is referred to: the helpdesk id plus the number people say out loud.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRef {
    /// The id the adapter uses in API calls.
    pub id: TicketId,
    /// The number shown to clients and staff (`Заявка #<number>`); often equal to the id.
    pub number: String,
    /// A link to the ticket in the helpdesk's web UI, for staff-facing texts.
    pub url: Option<String>,
}

/// The Telegram person (or channel) a ticket or comment comes from, as staff should see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The name Telegram shows: first and last name of a user, or the title of a channel.
    pub display_name: String,
    /// The Telegram id of the user or of the chat the message was sent as.
    pub telegram_id: i64,
    /// The `@username`, without the `@`, when the person has one.
    pub username: Option<String>,
    /// The client company (the chat's `name`, or the branch picked from its `companies`).
    pub company: Option<String>,
}

impl Requester {
    /// `Ann Smith (@ann)`, or just the name when there is no username.
    pub fn label(&self) -> String {
        match &self.username {
            Some(username) => format!("{} (@{username})", self.display_name),
            None => self.display_name.clone(),
        }
    }
}

/// A file travelling between Telegram and the helpdesk.
///
/// Its bytes are a [`Content`]: cheap to clone, and spooled to disk when large, so that a ticket with
/// many files never holds them all in memory. Vendors stream them into their requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name shown to people (`photo_123.jpg`, `invoice.pdf`).
    pub file_name: String,
    /// The MIME type (`image/jpeg`); `application/octet-stream` when unknown.
    pub content_type: String,
    /// The file's content, byte-exact.
    pub content: Content,
}

/// A file attached to a ticket in the helpdesk, not yet downloaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The helpdesk's id of the file, handed back to [`crate::Helpdesk::download`].
    pub id: String,
    /// The file name.
    pub file_name: String,
    /// The MIME type when the helpdesk reports one.
    pub content_type: Option<String>,
    /// The size in bytes when the helpdesk reports one.
    pub size: Option<u64>,
    /// Where the adapter downloads it from, when the helpdesk gives a URL.
    pub url: Option<String>,
}

/// Everything needed to open a ticket from a Telegram message or dialogue.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketDraft {
    /// Idempotency key of the Telegram message the ticket comes from.
    pub key: IdempotencyKey,
    /// One line: the problem (`Проблема`).
    pub subject: String,
    /// The client's description; may be empty.
    pub description: String,
    /// Who asked.
    pub requester: Requester,
    /// A `https://t.me/...` link to the source message, when Telegram has one for the chat.
    pub source_url: Option<String>,
    /// When the Telegram message was sent: the exact registration time staff must see.
    pub registered_at: OffsetDateTime,
    /// Files the client attached.
    pub attachments: Vec<Attachment>,
    /// The chat's `[chats.ticket]` table: vendor-specific defaults (board, queue, service...).
    pub defaults: serde_json::Map<String, serde_json::Value>,
    /// The closed ticket this one follows up (a comment arrived after it closed), so staff see
    /// the history: linked natively where the helpdesk has relations
    /// ([`crate::Capability::native_link`]), always named in the description.
    pub follow_up_of: Option<TicketRef>,
    /// `true` when an earlier attempt of this same create may have reached the helpdesk; the
    /// adapter must then look the ticket up by `key` before creating.
    pub retry: bool,
    /// What the client answered to the chat's intake questions: the category and the extra
    /// fields (`[[chats.categories]]`, `[[chats.fields]]`). Empty for a chat that asks none.
    ///
    /// Adapters write it by building the ticket from [`TicketDraft::ticket_table`] instead of
    /// [`TicketDraft::defaults`]: the category's table and each field's value at its `target`
    /// land where the chat's own `[chats.ticket]` keys would, so the helpdesk's own fields are
    /// written by the code that already writes `[chats.ticket]`.
    pub intake: Intake,
}

impl TicketDraft {
    /// The ticket table this draft is created with: [`TicketDraft::defaults`], then the chosen
    /// category's [`IntakeCategory::ticket`] over it (key by key; a nested table such as
    /// `custom_fields` is merged one level down), then each [`IntakeField`] with a `target` set at
    /// that path (`custom_fields.8` → `{"custom_fields": {"8": value}}`).
    ///
    /// The daemon validated every such table against the adapter at config time (with each
    /// choice's id, and a sample text for free-text fields), so an adapter reads it with the
    /// same `[chats.ticket]` parser it always uses.
    pub fn ticket_table(&self) -> crate::ConfigTable {
        self.intake.apply(&self.defaults)
    }

    /// Puts [`TicketDraft::registered_at`] (RFC 3339 in UTC, as [`crate::text::rfc3339_utc`]
    /// writes it) at `target` in [`TicketDraft::defaults`] (`custom_fields.Registered` →
    /// `{"custom_fields": {"Registered": "2026-11-21T13:58:00Z"}}`), for a chat whose
    /// `registered_at` names a helpdesk field for it.
    ///
    /// The registration time then reaches the helpdesk exactly as a targeted intake field does:
    /// through [`TicketDraft::ticket_table`] and the adapter's `[chats.ticket]` code, validated at
    /// config time with a sample time. A category's table or an intake field aimed at the same
    /// path still wins.
    pub fn write_registered_at(&mut self, target: &str) {
        let value = serde_json::Value::String(crate::text::rfc3339_utc(self.registered_at));
        set_path(&mut self.defaults, target, value);
    }
}

/// The answers to a chat's intake questions, carried by [`TicketDraft::intake`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intake {
    /// The category the client chose, when the chat offers some.
    #[serde(default)]
    pub category: Option<IntakeCategory>,
    /// Every field the client filled, in the order the chat declares them. A field left empty
    /// (optional, skipped) is not listed.
    #[serde(default)]
    pub fields: Vec<IntakeField>,
}

impl Intake {
    /// `true` when nothing was asked or answered.
    pub fn is_empty(&self) -> bool {
        self.category.is_none() && self.fields.is_empty()
    }

    /// `table` with the category's table merged over it and each targeted field set: see
    /// [`TicketDraft::ticket_table`].
    pub fn apply(&self, table: &crate::ConfigTable) -> crate::ConfigTable {
        let mut out = table.clone();
        if let Some(category) = &self.category {
            merge_table(&mut out, &category.ticket);
        }
        for field in &self.fields {
            if let Some(target) = &field.target {
                set_path(&mut out, target, field.wire.clone());
            }
        }
        out
    }
}

/// `over`'s keys replace `base`'s; where both hold a table, the inner keys are merged instead,
/// so a category's `custom_fields = { "9" = "x" }` keeps the chat's `custom_fields."8"`.
pub fn merge_table(base: &mut crate::ConfigTable, over: &crate::ConfigTable) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(serde_json::Value::Object(inner)), serde_json::Value::Object(more)) => {
                for (k, v) in more {
                    inner.insert(k.clone(), v.clone());
                }
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Sets `value` at a dotted `path` (`custom_fields.8`; a single key is a top-level key),
/// creating the table on the way. Only the first dot splits: field names may hold dots.
pub fn set_path(table: &mut crate::ConfigTable, path: &str, value: serde_json::Value) {
    match path.split_once('.') {
        None => {
            table.insert(path.to_owned(), value);
        }
        Some((outer, inner)) => {
            let entry = table
                .entry(outer.to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(map) = entry {
                map.insert(inner.to_owned(), value);
            }
        }
    }
}

/// The category a client chose (`[[chats.categories]]`): which queue, service, column, tracker
/// or group the ticket goes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntakeCategory {
    /// The category's id in the config (`internet`), stable across label changes; reports group
    /// by it.
    pub id: String,
    /// What the client saw (`Интернет`).
    pub label: String,
    /// The category's `ticket` table, merged over the chat's `[chats.ticket]`.
    #[serde(default)]
    pub ticket: crate::ConfigTable,
}

/// One answered intake field (`[[chats.fields]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntakeField {
    /// The field's id in the config (`contract`).
    pub id: String,
    /// Its label, as the client saw it (`№ договора`).
    pub label: String,
    /// The value as people read it: the text typed, or the chosen option's label.
    pub value: String,
    /// The value as the helpdesk's field takes it: the text, or the chosen option's configured
    /// id (a string or a number).
    pub wire: serde_json::Value,
    /// Where in the ticket table the value goes (`custom_fields.8`, `properties.id_7`,
    /// `dynamic_fields.Contract`, `attributes.contract_no`, `locations_id`); `None` when the chat
    /// keeps the field in the description only.
    pub target: Option<String>,
}

/// An internal note teledesk writes for staff: a rating without a native home, an escalation,
/// feedback, or "this reply could not reach Telegram". Never shown to the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteDraft {
    /// Idempotency key of the event the note comes from (a callback, a command message).
    pub key: IdempotencyKey,
    /// The note's text, already written in the language staff read.
    pub body: String,
    /// `true` when an earlier attempt may have reached the helpdesk; look it up by `key` first.
    pub retry: bool,
}

/// A client's rating of a closed ticket, and the feedback text that may follow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Idempotency key of the event (the button press, or the feedback message).
    pub key: IdempotencyKey,
    /// 1 (bad) to 5 (excellent).
    pub score: u8,
    /// The client's feedback, when they sent one after rating.
    pub comment: Option<String>,
    /// Who rated.
    pub by: Requester,
    /// The text of the internal note written where the helpdesk has no native rating (or to carry
    /// the feedback next to a native rating), in the language staff read.
    pub note: String,
    /// `true` when an earlier attempt may have reached the helpdesk.
    pub retry: bool,
}

/// Where [`crate::Helpdesk::rate`] stored a rating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingStored {
    /// In the helpdesk's own satisfaction field or survey.
    Native,
    /// As an internal note.
    Note,
}

/// What [`crate::Helpdesk::escalate`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// The priority was raised to the named vendor priority, and the note written.
    PriorityRaised {
        /// The vendor's name of the new priority.
        to: String,
    },
    /// The ticket already had the highest priority; the note was written.
    AlreadyHighest,
    /// The helpdesk has no priority; only the note was written.
    NoteOnly,
}

/// A webhook request as it reached teledesk's HTTP server, for [`crate::Helpdesk::parse_webhook`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookRequest {
    /// Header names (lower-case) and values, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body, byte-exact (signatures are computed over it).
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A client's comment on an existing ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct CommentDraft {
    /// Idempotency key of the Telegram message (the first one, for an album).
    pub key: IdempotencyKey,
    /// Who wrote it.
    pub author: Requester,
    /// The text; may be empty when the comment is only files.
    pub body: String,
    /// Files attached to the message (every file of an album).
    pub attachments: Vec<Attachment>,
    /// A link to the Telegram message, when there is one.
    pub source_url: Option<String>,
    /// When the Telegram message was sent.
    pub written_at: OffsetDateTime,
    /// `true` when an earlier attempt may have reached the helpdesk; look it up by `key` first.
    pub retry: bool,
}

/// Who can see a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Visible to the client: mirrored to Telegram when staff wrote it.
    Public,
    /// An internal note: never leaves the helpdesk.
    Internal,
}

/// Who wrote a comment, as far as teledesk is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A support staff member.
    Staff,
    /// The requester, writing in the helpdesk directly (portal, e-mail).
    Requester,
    /// teledesk itself (a client comment it mirrored from Telegram): never mirrored back.
    Teledesk,
}

/// The status of a ticket, in the classes teledesk shows to clients.
///
/// Each adapter maps its vendor states onto these (configurable in `[helpdesks.<name>.statuses]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusClass {
    /// Registered, nobody has taken it yet.
    New,
    /// Someone works on it.
    InProgress,
    /// Staff wait for the client.
    WaitingClient,
    /// The client answered while staff were waiting for them.
    ClientReplied,
    /// Staff wait for a third party (vendor, developer).
    WaitingThirdParty,
    /// Staff consider it solved; the client may check.
    Resolved,
    /// Done.
    Closed,
}

impl StatusClass {
    /// Every class, in lifecycle order.
    pub const ALL: [StatusClass; 7] = [
        StatusClass::New,
        StatusClass::InProgress,
        StatusClass::WaitingClient,
        StatusClass::ClientReplied,
        StatusClass::WaitingThirdParty,
        StatusClass::Resolved,
        StatusClass::Closed,
    ];

    /// The config spelling (`"in_progress"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::New => "new",
            StatusClass::InProgress => "in_progress",
            StatusClass::WaitingClient => "waiting_client",
            StatusClass::ClientReplied => "client_replied",
            StatusClass::WaitingThirdParty => "waiting_third_party",
            StatusClass::Resolved => "resolved",
            StatusClass::Closed => "closed",
        }
    }

    /// Parses the config spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.as_str() == text)
    }

    /// `true` for the classes where the work is over (resolved or closed).
    pub fn is_done(self) -> bool {
        matches!(self, StatusClass::Resolved | StatusClass::Closed)
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One comment of a ticket, as read back from the helpdesk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// The helpdesk's id of the comment.
    pub id: CommentId,
    /// The author's name as staff see it (for staff replies: the signature shown in Telegram).
    pub author: String,
    /// The text, as plain text (adapters convert HTML/markdown where the vendor stores it).
    pub body: String,
    /// Public reply or internal note.
    pub visibility: Visibility,
    /// Staff, the requester, or teledesk itself.
    pub origin: Origin,
    /// When it was written (server time, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Files attached to this comment.
    pub attachments: Vec<AttachmentRef>,
}

/// A ticket as read back from the helpdesk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Id, number and web link.
    pub reference: TicketRef,
    /// The subject.
    pub subject: String,
    /// The description (the client's first text), as plain text.
    pub description: String,
    /// The vendor's own name of the current state (column title, status name).
    pub state: String,
    /// The class the state maps to.
    pub status: StatusClass,
    /// The responsible staff member's name, if any.
    pub assignee: Option<String>,
    /// The resolution text, once the helpdesk has one.
    pub resolution: Option<String>,
    /// The server's last-update time (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Every comment visible to the integration account, oldest first.
    pub comments: Vec<Comment>,
    /// The Telegram chat staff addressed this ticket to, when they started it in the helpdesk
    /// (where [`crate::Capability::staff_tickets`]); `None` for every other ticket.
    #[serde(default)]
    pub addressed_to: Option<StaffAddress>,
    /// The due times the helpdesk set for the ticket (where [`crate::Capability::due_times`]).
    #[serde(default)]
    pub due: DueTimes,
    /// The vendor's name of the ticket's priority (`High`, `ASAP`), where it has one.
    #[serde(default)]
    pub priority: Option<String>,
}

/// The chat a ticket started by staff is for, as the adapter read it from the helpdesk's field,
/// tag or queue that names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAddress {
    /// What staff wrote: the chat's Telegram id (`-1001234567890`) or its configured `name`
    /// (`Acme`); the daemon matches it against the chats of the helpdesk, ignoring case.
    pub chat: String,
    /// Staff marked the ticket as an announcement: a notice that expects no reply.
    pub announcement: bool,
}

impl StaffAddress {
    /// Whether this address names the chat `id` called `name` (by id, or by name ignoring case
    /// and surrounding blanks).
    pub fn names(&self, id: i64, name: &str) -> bool {
        let chat = self.chat.trim();
        !chat.is_empty()
            && (chat == id.to_string() || chat.to_lowercase() == name.trim().to_lowercase())
    }
}

/// When the helpdesk expects a ticket to be answered and resolved (its SLA), as it computed them.
///
/// A time the helpdesk does not have (no SLA, or the target was met and cleared) is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DueTimes {
    /// The first response is due by then (Znuny's response escalation, GLPI's time to own,
    /// Zammad's first response escalation).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub respond_by: Option<OffsetDateTime>,
    /// The ticket is due to be resolved by then (Znuny's solution escalation, GLPI's time to
    /// resolve, Zammad's close escalation, Kaiten's due date, RT's Due, Redmine's due date).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub resolve_by: Option<OffsetDateTime>,
}

impl DueTimes {
    /// No due time at all.
    pub fn is_empty(&self) -> bool {
        self.respond_by.is_none() && self.resolve_by.is_none()
    }
}

/// "This ticket changed", as reported by [`crate::Helpdesk::changes_since`] or a webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The ticket that changed.
    pub ticket: TicketId,
    /// The server's update time of that change (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The ticket as the listing that reported the change showed it, so the daemon need not read
    /// it: present on every change when the adapter declares
    /// [`crate::Capability::change_snapshot`], `None` otherwise (the daemon then reads the
    /// ticket with [`crate::Helpdesk::get_ticket`]).
    ///
    /// The daemon compares the snapshot's [`TicketSnapshot::comments`] with the mark it recorded
    /// when it last knew every comment: equal means no comment was added or removed, and the
    /// change costs no request at all; different means it reads the comments
    /// ([`crate::Helpdesk::get_comments`]), and only them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<TicketSnapshot>,
}

impl Change {
    /// A change without a snapshot: the daemon reads the ticket.
    pub fn new(ticket: TicketId, updated_at: OffsetDateTime) -> Self {
        Self {
            ticket,
            updated_at,
            snapshot: None,
        }
    }
}

/// How many comments a ticket has and when the newest was added, as the helpdesk's ticket
/// listing shows them: enough to tell whether the comments moved without reading them.
///
/// Two marks of one ticket are equal when no comment was added or removed in between (an added
/// one moves the time, a removed one the count). What counts is the helpdesk's own count
/// (internal notes included where it counts them); the daemon compares marks, never the count
/// with the comments it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommentMark {
    /// The number of comments the helpdesk counts on the ticket.
    pub count: u64,
    /// When the newest comment was added (UTC); `None` when none ever was.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_added_at: Option<OffsetDateTime>,
}

/// A ticket's fields as the change listing shows them: [`Ticket`] without the comments, whose
/// [`CommentMark`] stands in for them.
///
/// Each field must read exactly as [`crate::Helpdesk::get_ticket`] would read it at the same
/// moment (the conformance suite compares them), so that the daemon can show a status change
/// from the listing alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    /// The subject.
    pub subject: String,
    /// The description as plain text, when the listing carries it; `None` leaves the one the
    /// daemon has.
    pub description: Option<String>,
    /// The vendor's own name of the current state.
    pub state: String,
    /// The class the state maps to.
    pub status: StatusClass,
    /// The responsible staff member's name, if any.
    pub assignee: Option<String>,
    /// The resolution text, once the helpdesk has one.
    pub resolution: Option<String>,
    /// The server's last-update time (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Where the ticket's comments stand.
    pub comments: CommentMark,
    /// The due times, as [`Ticket::due`] (empty when the listing does not carry them).
    #[serde(default)]
    pub due: DueTimes,
    /// The priority, as [`Ticket::priority`].
    #[serde(default)]
    pub priority: Option<String>,
}

/// What [`crate::Helpdesk::write_comment`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenComment {
    /// The id of the comment (the earlier one, when a retry found it).
    pub id: CommentId,
    /// The server's creation time of the comment (UTC), when its answer says: with it the
    /// daemon recognises its own comment in the next [`TicketSnapshot::comments`] and reads
    /// nothing for it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
}

/// The answer to one [`crate::Helpdesk::changes_since`] call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeBatch {
    /// The changes, oldest first, each reported once.
    pub changes: Vec<Change>,
    /// The cursor to pass next time. The daemon stores it only after it has recorded `changes`.
    pub cursor: crate::Cursor,
}

/// The account an adapter acts as, from [`crate::Helpdesk::check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The helpdesk's id of the integration user.
    pub id: String,
    /// Its name, for `teledesk doctor`.
    pub name: String,
}
