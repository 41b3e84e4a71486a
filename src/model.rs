//! The records teledesk persists: what it knows about tickets, the work it still has to do, and
//! the conversations it is in the middle of.
//!
//! These are plain data shared by the store (which persists them), the engine (which decides what
//! changes) and the Telegram side (which renders and sends them). They are serialized as JSON, so
//! fields added later get `#[serde(default)]`.

use serde::{Deserialize, Serialize};
use teledesk_adapter::{
    CommentId, CommentMark, DueTimes, IdempotencyKey, IntakeField, Requester, StatusClass,
    TicketId, TicketSnapshot,
};
use time::OffsetDateTime;

/// teledesk's own number for a ticket, assigned when it decides to open one (before the helpdesk
/// has answered), so comments can queue behind the creation.
pub type LocalId = u64;

/// Everything teledesk knows about one ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketLink {
    pub local: LocalId,
    /// The `[helpdesks.<name>]` it lives in.
    pub helpdesk: String,
    /// The helpdesk's id, once created.
    pub ticket_id: Option<TicketId>,
    /// The number shown to people, once created.
    pub number: Option<String>,
    /// The Telegram chat the ticket belongs to.
    pub chat_id: i64,
    /// The message the ticket was made from (its idempotency key names it); `None` when it came
    /// from the Mini App, which has no message. Records written before the Mini App hold a bare
    /// number, which reads as `Some`.
    pub source_message_id: Option<i32>,
    /// The bot's ticket card in the chat, once sent.
    pub card_message_id: Option<i32>,
    /// Who asked.
    pub author: Requester,
    /// What the card shows; refreshed from the helpdesk.
    pub view: TicketView,
    /// Hash of the card text and keyboard last sent, to skip edits that change nothing.
    pub rendered_hash: Option<u64>,
    /// Helpdesk comments already handled: written by teledesk, mirrored to Telegram, or internal.
    pub known_comments: Vec<CommentId>,
    /// The Telegram author of each comment teledesk wrote (the helpdesk shows the integration
    /// account as their author), so the card names the client.
    #[serde(default)]
    pub comment_authors: Vec<(CommentId, String)>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The client's rating (1–5) once given; the first one counts.
    #[serde(default)]
    pub rating: Option<u8>,
    /// Whether the client has sent feedback after rating.
    #[serde(default)]
    pub feedback_given: bool,
    /// When the ticket was last escalated, to acknowledge repeats without repeating them.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub escalated_at: Option<OffsetDateTime>,
    /// The closed ticket this one follows up, with the number people know it by.
    #[serde(default)]
    pub follow_up_of: Option<FollowUp>,
    /// The author was told (by DM) of the first staff reply.
    #[serde(default)]
    pub notified_reply: bool,
    /// The author was told (by DM) that the ticket was resolved.
    #[serde(default)]
    pub notified_done: bool,
    /// The chat the source message is in, when it is not `chat_id` (channel mode: the ticket's
    /// post is in the channel, the message it came from in the discussion group).
    #[serde(default)]
    pub source_chat_id: Option<i64>,
    /// Channel mode: the post's comment thread, `(discussion group, automatic forward id)`, once
    /// the automatic forward has been seen.
    #[serde(default)]
    pub thread: Option<(i64, i32)>,
    /// Forum mode: the ticket's topic.
    #[serde(default)]
    pub topic: Option<i32>,
    /// Forum mode: whether the topic was last closed (the ticket was done).
    #[serde(default)]
    pub topic_closed: bool,
    /// Where the ticket's comments stood, as the helpdesk's listing counts them, when teledesk
    /// last knew every one of them: a change whose snapshot shows the same mark added or removed
    /// no comment and costs no read. `None` when unknown (never listed yet, or teledesk wrote a
    /// comment whose time it was not told).
    #[serde(default)]
    pub comment_mark: Option<CommentMark>,
    /// When things happened to the ticket, as teledesk observed them (SLA figures, reports).
    #[serde(default)]
    pub times: TicketTimes,
    /// The intake category the client chose (its `[[chats.categories]]` id), for reports and
    /// lists; `None` when the chat offers no categories.
    #[serde(default)]
    pub category: Option<String>,
    /// The intake fields the client answered (`[[chats.fields]]`), as the adapter received
    /// them: a follow-up ticket takes them over instead of asking again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intake_fields: Vec<IntakeField>,
    /// Staff started the ticket in the helpdesk and addressed it to this chat; `None` for a
    /// client's ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_started: Option<StaffStarted>,
}

/// How a ticket staff started in the helpdesk is shown in its chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffStarted {
    /// A notice that expects no reply: no status, no rating, no reply hint on its card.
    pub announcement: bool,
}

/// Which of a ticket's due times were missed, as of some moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breaches {
    /// Staff first answered after the response was due, or have not and it is past due.
    pub response: bool,
    /// The ticket was resolved after it was due, or is not and it is past due.
    pub resolution: bool,
}

impl Breaches {
    pub fn any(self) -> bool {
        self.response || self.resolution
    }
}

/// Why a ticket is to be re-read from its helpdesk, as the dirty set records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dirty {
    /// Moves with every mark, so a refresh that read an older mark leaves a newer one in place.
    pub stamp: u64,
    /// The whole ticket must be read: something changed that no snapshot describes (a webhook,
    /// teledesk's own lifecycle write, a listing without snapshots).
    pub full: bool,
    /// The newest listing of the ticket, when the helpdesk gives snapshots: its fields need no
    /// read, and its comment mark tells whether the comments do.
    pub snapshot: Option<TicketSnapshot>,
}

impl<'de> Deserialize<'de> for Dirty {
    /// Marks written before snapshots existed are a bare stamp, and mean "read everything".
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        #[derive(Deserialize)]
        struct Mark {
            stamp: u64,
            #[serde(default)]
            full: bool,
            #[serde(default)]
            snapshot: Option<TicketSnapshot>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Record {
            Stamp(u64),
            Mark(Box<Mark>),
        }
        Ok(match Record::deserialize(deserializer)? {
            Record::Stamp(stamp) => Dirty {
                stamp,
                full: true,
                snapshot: None,
            },
            Record::Mark(mark) => Dirty {
                stamp: mark.stamp,
                full: mark.full,
                snapshot: mark.snapshot,
            },
        })
    }
}

/// The moments of a ticket's life teledesk saw, for response and resolution times.
///
/// Records written before these were kept read as all `None`; [`TicketLink::registered_at`]
/// then falls back to when teledesk opened the ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTimes {
    /// The date of the Telegram message (or Mini App form) the ticket was made from: after an
    /// outage the helpdesk gets it later, but the client asked at this moment.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub registered_at: Option<OffsetDateTime>,
    /// The first public staff reply teledesk mirrored to the client.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_response_at: Option<OffsetDateTime>,
    /// When the ticket last became resolved or closed; cleared when it is reopened, so it always
    /// describes the resolution that stands.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// Every time a done ticket was seen open again, oldest first (the history a cleared
    /// `resolved_at` leaves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reopened_at: Vec<TimeStamp>,
    /// The helpdesk's last change to the ticket, as of the last refresh.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_activity_at: Option<OffsetDateTime>,
}

/// A moment stored as RFC 3339 inside a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimeStamp(#[serde(with = "time::serde::rfc3339")] pub OffsetDateTime);

/// Whether the bot can write to a user privately (Telegram lets a bot DM only users who started
/// it, and not after they blocked it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmState {
    /// Never tried, never heard from them privately.
    #[default]
    Unknown,
    /// They wrote to the bot privately.
    Started,
    /// Telegram refused: they never started the bot. Not retried until they do.
    NeverStarted,
    /// They blocked the bot. Not retried until they write again.
    Blocked,
}

impl DmState {
    pub fn may_send(self) -> bool {
        matches!(self, DmState::Unknown | DmState::Started)
    }
}

/// A channel post whose automatic forward arrived before teledesk recorded the post's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingForward {
    pub channel: i64,
    pub post: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

/// The closed ticket a follow-up ticket continues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub local: LocalId,
    pub number: Option<String>,
}

impl TicketLink {
    /// A ticket just recorded in `chat_id`: not yet in the helpdesk, no card, nothing read,
    /// sent, rated or timed. Callers set what they know with struct-update syntax.
    pub fn new(
        local: LocalId,
        helpdesk: String,
        chat_id: i64,
        author: Requester,
        view: TicketView,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            local,
            helpdesk,
            ticket_id: None,
            number: None,
            chat_id,
            source_message_id: None,
            card_message_id: None,
            author,
            view,
            rendered_hash: None,
            known_comments: Vec::new(),
            comment_authors: Vec::new(),
            created_at,
            rating: None,
            feedback_given: false,
            escalated_at: None,
            follow_up_of: None,
            notified_reply: false,
            notified_done: false,
            source_chat_id: None,
            thread: None,
            topic: None,
            topic_closed: false,
            comment_mark: None,
            times: TicketTimes::default(),
            category: None,
            intake_fields: Vec::new(),
            staff_started: None,
        }
    }
}

#[cfg(test)]
impl TicketLink {
    /// A ticket of chat -100 by Ann (Telegram id 5) for unit tests, which override with
    /// struct-update syntax the fields they are about.
    pub fn sample(local: LocalId) -> Self {
        Self::new(
            local,
            "main".into(),
            -100,
            Requester {
                display_name: "Ann".into(),
                telegram_id: 5,
                username: None,
                company: None,
            },
            TicketView {
                subject: String::new(),
                description: String::new(),
                status: teledesk_adapter::StatusClass::New,
                state: String::new(),
                assignee: None,
                resolution: None,
                last_comments: vec![],
                due: DueTimes::default(),
                priority: None,
            },
            OffsetDateTime::UNIX_EPOCH,
        )
    }
}

impl TicketLink {
    /// The chat the ticket's source message is in.
    pub fn source_chat(&self) -> i64 {
        self.source_chat_id.unwrap_or(self.chat_id)
    }

    /// `https://t.me/c/<id>/<message>`: opens the ticket's card or post for members of its
    /// supergroup or channel (basic groups have no message links).
    pub fn post_link(&self) -> Option<String> {
        let internal = self.chat_id.to_string().strip_prefix("-100")?.to_owned();
        Some(format!(
            "https://t.me/c/{internal}/{}",
            self.card_message_id?
        ))
    }

    /// Where replies to the ticket go: its comment thread in channel mode, else its card.
    pub fn reply_target(&self) -> (i64, Option<i32>) {
        match self.thread {
            Some((group, root)) => (group, Some(root)),
            None => (self.chat_id, self.card_message_id),
        }
    }

    /// When the client asked: the source message's date, or (records older than that field) when
    /// teledesk opened the ticket.
    pub fn registered_at(&self) -> OffsetDateTime {
        self.times.registered_at.unwrap_or(self.created_at)
    }

    /// The last change seen on the ticket (its registration until the helpdesk says more).
    pub fn last_activity_at(&self) -> OffsetDateTime {
        self.times
            .last_activity_at
            .unwrap_or_else(|| self.registered_at())
    }

    /// How long staff took to answer publicly, once they have.
    pub fn first_response_time(&self) -> Option<time::Duration> {
        Some(self.times.first_response_at? - self.registered_at())
    }

    /// How long the standing resolution took, once the ticket is done.
    pub fn resolution_time(&self) -> Option<time::Duration> {
        Some(self.times.resolved_at? - self.registered_at())
    }

    /// The due times the helpdesk set that were missed as of `now`: a response is missed when
    /// the first staff reply came after it was due (or has not come and it is past due), a
    /// resolution likewise.
    pub fn breaches(&self, now: OffsetDateTime) -> Breaches {
        let missed = |due: Option<OffsetDateTime>, done: Option<OffsetDateTime>| {
            due.is_some_and(|due| done.unwrap_or(now) > due)
        };
        Breaches {
            response: missed(self.view.due.respond_by, self.times.first_response_at),
            resolution: missed(self.view.due.resolve_by, self.times.resolved_at),
        }
    }

    pub fn knows_comment(&self, id: &CommentId) -> bool {
        self.known_comments.contains(id)
    }

    /// The Telegram author of a comment teledesk wrote.
    pub fn comment_author(&self, id: &CommentId) -> Option<&str> {
        self.comment_authors
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, name)| name.as_str())
    }
}

/// The ticket as the card shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketView {
    pub subject: String,
    pub description: String,
    pub status: StatusClass,
    /// The helpdesk's own name of the state, for staff-facing texts.
    pub state: String,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    /// Up to three newest public comments, oldest first.
    pub last_comments: Vec<CommentLine>,
    /// The due times the helpdesk set (SLA); empty where it has none.
    #[serde(default, skip_serializing_if = "DueTimes::is_empty")]
    pub due: DueTimes,
    /// The helpdesk's name of the ticket's priority, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

/// One line of «Последние комментарии».
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommentLine {
    pub author: String,
    pub text: String,
}

/// A client's file not yet passed to the helpdesk: sent in Telegram (fetched when the job runs)
/// or uploaded through the Mini App (kept in the store until then).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFile {
    /// Telegram's `file_id`, or the store's upload key (decimal) for an upload.
    pub file_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: Option<u64>,
    #[serde(default)]
    pub source: FileSource,
}

/// A digest of a record's JSON form, to tell "the same record again" from "another record with
/// the same id" (a repeated Telegram update, an outbox item after the store was reopened).
pub fn json_digest(value: &impl Serialize) -> u64 {
    use sha2::Digest;
    let bytes = serde_json::to_vec(value).expect("records always serialize");
    let hash = sha2::Sha256::digest(bytes);
    u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"))
}

/// Where a [`ClientFile`]'s bytes are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSource {
    #[default]
    Telegram,
    Upload,
}

impl ClientFile {
    /// The store key of an uploaded file.
    pub fn upload_id(&self) -> Option<u64> {
        match self.source {
            FileSource::Upload => self.file_id.parse().ok(),
            FileSource::Telegram => None,
        }
    }
}

/// A ticket filed through the Mini App, as the HTTP server took it in: the inbox payload
/// (`{"app_submission": …}`) the engine turns into a ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppSubmission {
    /// The id the app generated for the form; the same on every retry of it.
    pub id: String,
    /// The configured chat the ticket is for, from the start token teledesk signed.
    pub chat_id: i64,
    /// The user, with the company they picked (or the chat's name).
    pub author: Requester,
    pub subject: String,
    pub description: String,
    pub files: Vec<ClientFile>,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    /// The category and fields the chat asks for, checked by the server.
    #[serde(default)]
    pub intake: teledesk_adapter::Intake,
}

/// What became of a Mini App submission, for the app waiting on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub id: String,
    pub user_id: i64,
    pub chat_id: i64,
    /// The ticket it opened; `None` while it waits in the inbox.
    pub ticket: Option<LocalId>,
    /// Why it could not become a ticket (its chat is no longer configured).
    #[serde(default)]
    pub refused: Option<String>,
}

/// Work for the helpdesk side, queued per ticket and done in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub kind: JobKind,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time (backoff, or the album window).
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// The process run that queued it; a job from an earlier run may have been in flight when
    /// that run died, so its first attempt now is a retry.
    pub boot: u64,
    #[serde(default)]
    pub last_error: Option<String>,
    /// An earlier attempt may have reached the helpdesk (its answer was lost, or the process
    /// died with it in flight), so the next one must look for that write before writing again.
    /// A refusal (429 included) wrote nothing and leaves it as it was. Records written before it
    /// existed read as `true` when they have failed attempts.
    #[serde(default = "yes")]
    pub uncertain: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    CreateTicket {
        key: IdempotencyKey,
        subject: String,
        description: String,
        files: Vec<ClientFile>,
        #[serde(with = "time::serde::rfc3339")]
        registered_at: OffsetDateTime,
        source_url: Option<String>,
        /// The closed ticket this one follows up; resolved to its helpdesk reference at creation.
        #[serde(default)]
        follow_up_of: Option<LocalId>,
        /// The answers to the chat's intake questions (category, fields).
        #[serde(default, skip_serializing_if = "teledesk_adapter::Intake::is_empty")]
        intake: teledesk_adapter::Intake,
    },
    /// Record the client's rating (and, later, feedback) in the helpdesk.
    Rate {
        key: IdempotencyKey,
        score: u8,
        comment: Option<String>,
        by: Requester,
    },
    /// The client asked to reopen (button, or a comment on a closed ticket).
    Reopen { key: IdempotencyKey, by: Requester },
    /// `/escalate`: raise priority and tell staff.
    Escalate {
        key: IdempotencyKey,
        by: Requester,
        /// The message to answer with the confirmation.
        message_id: i32,
    },
    /// Tell staff, by internal note, something the client side could not be told (a staff
    /// reply Telegram refused for good).
    NoteToStaff { key: IdempotencyKey, body: String },
    AddComment {
        key: IdempotencyKey,
        author: Requester,
        body: String,
        files: Vec<ClientFile>,
        #[serde(with = "time::serde::rfc3339")]
        written_at: OffsetDateTime,
        source_url: Option<String>,
        /// The Telegram messages this comment carries (several for an album).
        message_ids: Vec<i32>,
        media_group_id: Option<String>,
        /// A file of its messages was over the chat's limits and left out; the client was told
        /// (once per comment).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        files_refused: bool,
    },
}

impl JobKind {
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::CreateTicket { .. } => "create_ticket",
            JobKind::AddComment { .. } => "add_comment",
            JobKind::Rate { .. } => "rate",
            JobKind::Reopen { .. } => "reopen",
            JobKind::Escalate { .. } => "escalate",
            JobKind::NoteToStaff { .. } => "note_to_staff",
        }
    }
}

/// A message or edit teledesk owes Telegram, queued per chat and sent in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub chat_id: i64,
    pub action: SendAction,
    #[serde(default)]
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// The Telegram message ids of the parts of a multi-part action already sent, in order, each
    /// recorded as soon as Telegram accepted it: a retry or a restart resumes after the last.
    /// Items queued before parts were recorded read as nothing sent yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent_parts: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendAction {
    /// A plain message (prompts, notices), HTML.
    Text {
        html: String,
        reply_to: Option<i32>,
        keyboard: Option<Keyboard>,
        /// Index the sent message under this ticket, so replies to it become comments.
        ticket: Option<LocalId>,
        /// The dialogue waits for this message's id (to edit its buttons later).
        #[serde(default)]
        dialogue_user: Option<i64>,
    },
    /// The ticket card, first time.
    Card { ticket: LocalId },
    /// A staff member's public reply.
    StaffReply {
        ticket: LocalId,
        comment: CommentId,
        author: String,
        body: String,
        files: Vec<StaffFile>,
    },
    /// The answer to a button press (not rate limited by Telegram, but ordered after nothing).
    AnswerCallback {
        query_id: String,
        text: Option<String>,
        alert: bool,
    },
    /// Forum mode: close the ticket's topic when it is done, reopen it when it is not.
    TopicState { ticket: LocalId, closed: bool },
    /// A private notification to a ticket's author (first staff reply, resolution).
    Notify {
        html: String,
        /// A button that opens the ticket's thread, when the chat has message links.
        link: Option<String>,
    },
    /// Replace a message's inline keyboard (or remove it with `None`).
    EditKeyboard {
        message_id: i32,
        keyboard: Option<Keyboard>,
    },
}

/// A file staff attached to a reply, downloaded from the helpdesk and kept beside the store
/// (the outbox record names it; it is never held in the record or in memory whole).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffFile {
    pub file_name: String,
    pub content_type: String,
    /// Its name among the store's files ([`crate::store::Shelf::Outbox`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
    /// The whole file, in records queued before files were kept beside the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bytes: Vec<u8>,
}

/// An inline keyboard: rows of (label, callback data).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Keyboard {
    pub rows: Vec<Vec<Button>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    /// Callback data; ignored when `url` is set.
    pub data: String,
    /// A link button (a deep link to the bot, the ticket's thread) instead of a callback.
    #[serde(default)]
    pub url: Option<String>,
}

impl Button {
    pub fn callback(label: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            data: data.into(),
            url: None,
        }
    }

    pub fn link(label: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            data: String::new(),
            url: Some(url.into()),
        }
    }
}

/// Work that failed for good, kept for `teledesk queue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub failed_at: OffsetDateTime,
    pub error: String,
    pub item: DeadItem,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "queue", rename_all = "snake_case")]
pub enum DeadItem {
    Job {
        ticket: LocalId,
        job: Job,
    },
    Send {
        item: Outgoing,
    },
    /// A Telegram update (or Mini App submission) the engine could not process, or an inbox
    /// record that could not be read, kept byte for byte so `queue retry` can feed it again once
    /// a fixed release understands it.
    Update {
        raw: String,
    },
    /// A job or outbox record this build could not read, kept byte for byte; it cannot be queued
    /// again, only dropped (or repaired by hand).
    Unreadable {
        /// The keyspace the record was in (`jobs`, `outbox`).
        space: String,
        raw: String,
    },
}

impl Outgoing {
    /// The stored files this item names.
    pub fn stored_files(&self) -> Vec<String> {
        match &self.action {
            SendAction::StaffReply { files, .. } => {
                files.iter().filter_map(|f| f.stored.clone()).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl DeadItem {
    /// The stored files this dead letter still needs, should it be queued again.
    pub fn stored_files(&self) -> Vec<String> {
        match self {
            DeadItem::Send { item } => item.stored_files(),
            _ => Vec::new(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DeadItem::Job { ticket, job } => {
                format!("helpdesk {} for ticket L{ticket}", job.kind.name())
            }
            DeadItem::Send { item } => format!(
                "telegram {} to chat {}",
                match &item.action {
                    SendAction::Text { .. } => "message",
                    SendAction::Card { .. } => "ticket card",
                    SendAction::StaffReply { .. } => "staff reply",
                    SendAction::AnswerCallback { .. } => "callback answer",
                    SendAction::EditKeyboard { .. } => "keyboard edit",
                    SendAction::Notify { .. } => "notification",
                    SendAction::TopicState { .. } => "forum topic state",
                },
                item.chat_id
            ),
            DeadItem::Update { .. } => "telegram update the daemon could not process".to_owned(),
            DeadItem::Unreadable { space, .. } => format!("unreadable {space} record"),
        }
    }
}

/// A `/new` conversation with one user in one chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dialogue {
    pub chat_id: i64,
    pub user: Requester,
    pub step: DialogueStep,
    /// The `/new` message: the ticket's idempotency key names it.
    pub started_by: i32,
    pub company: Option<String>,
    pub subject: Option<String>,
    pub description: Option<String>,
    pub files: Vec<ClientFile>,
    /// The bot's last prompt carrying buttons, to remove them when the step is over.
    pub prompt_message_id: Option<i32>,
    /// The configured chat the ticket will belong to, when the dialogue is held elsewhere (a
    /// private chat started from the pinned «Новая заявка» link).
    #[serde(default)]
    pub target_chat: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub touched_at: OffsetDateTime,
    /// The intake answers so far: the category and the fields (`[[chats.fields]]`).
    #[serde(default)]
    pub intake: DialogueIntake,
}

/// What a dialogue collected of a chat's intake questions, and what it may offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DialogueIntake {
    /// The chosen category's id.
    pub category: Option<String>,
    /// The fields answered, in the chat's order.
    pub fields: Vec<teledesk_adapter::IntakeField>,
    /// Optional fields the user skipped: not asked again.
    pub skipped: Vec<String>,
    /// What the user answered last time in this chat (field id → answer; the category under
    /// [`REMEMBERED_CATEGORY`]), offered as a one-tap answer.
    pub remembered: std::collections::BTreeMap<String, String>,
    /// `/ticket` on someone's message: the author the ticket is for (the dialogue's user is the
    /// one who answers), and the message it is made from.
    pub on_behalf: Option<OnBehalf>,
}

/// The key under which the remembered category is kept in [`DialogueIntake::remembered`].
pub const REMEMBERED_CATEGORY: &str = "@category";

/// The message `/ticket` turns into a ticket once the missing intake fields are answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnBehalf {
    pub author: Requester,
    pub message_id: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
    pub url: Option<String>,
    /// Other album items of the message, indexed to the ticket too.
    pub extra_messages: Vec<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogueStep {
    Company,
    Category,
    /// The field at this index of the chat's `[[chats.fields]]`.
    Field(usize),
    Subject,
    Description,
    Files,
}

/// An album item seen in a chat, kept for a while so `/ticket` on one item takes the whole album.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlbumItem {
    pub message_id: i32,
    pub file: ClientFile,
    pub caption: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
}
