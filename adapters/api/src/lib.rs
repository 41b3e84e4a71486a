//! The helpdesk adapter API of teledesk.
//!
//! teledesk keeps Telegram chats and a company's helpdesk in sync. Everything the daemon needs from
//! a helpdesk goes through the [`Helpdesk`] trait defined here; each vendor (Kaiten, Znuny, GLPI,
//! Request Tracker, Zammad, Redmine) lives in its own crate that depends only on this one, reqwest
//! and serde.
//!
//! The crate holds:
//! - the trait ([`Helpdesk`]) and the domain types it speaks ([`TicketDraft`], [`Ticket`],
//!   [`Comment`], [`Visibility`], [`Origin`], [`StatusClass`], [`Change`] with its
//!   [`TicketSnapshot`], [`Cursor`]);
//! - the declared [`Capability`] flags of an adapter, and its vendor's documented [`RateLimit`];
//! - one [`Error`] type whose [`ErrorKind`] and temporary flag decide whether a caller retries;
//! - small shared helpers every adapter needs: [`Secret`] (a string that never prints),
//!   [`RequestPacer`] (client-side rate limiting with the vendor's burst, client work ahead of
//!   background work, honouring `Retry-After`, read by [`parse_retry_after`]), [`decode_json`] (a vendor's answer, or an error quoting it),
//!   [`ConfigProblem`] (one validation finding, named by its config key, whose [`Problem`] says
//!   what is wrong as data for the daemon to word in the operator's language) and
//!   [`TableReader`] (reads a config table, collecting every problem, with the checks all
//!   adapters share);
//! - [`content`]: file bytes held in memory when small and spooled to disk when large
//!   ([`Content`], [`Spool`]), so that many large files never fill the memory;
//! - [`work`]: how the daemon marks a call as a client's work and learns whether it may have
//!   written anything (so a retry looks for an earlier write only when one may exist);
//! - [`lenient`]: serde helpers that read vendor lists tolerantly, so one entry an adapter does
//!   not understand is skipped instead of making a whole ticket unreadable;
//! - [`text`]: the plain-text pieces several vendors write into their helpdesk and read back the
//!   same way (the requester block, the idempotency marker, titles, HTML to text);
//! - with the `http` feature, [`http`]: the paced HTTP client plumbing the vendor crates share.
//!
//! It holds no Telegram code, no storage and no HTTP server.

#![warn(missing_docs)]

mod capability;
mod config;
pub mod content;
mod cursor;
mod error;
mod hash;
#[cfg(feature = "http")]
pub mod http;
pub mod lenient;
mod pacer;
mod problem;
mod secret;
pub mod text;
mod types;
pub mod work;

pub use capability::{Capability, RateLimit};
pub use config::{
    ConfigProblem, ConfigTable, DAEMON_KEYS, TableReader, UNLIMITED, parse_utc_offset,
};
pub use content::{Content, ContentReader, ContentWriter, Spool};
pub use cursor::{Cursor, DEFAULT_OVERLAP};
pub use error::{Error, ErrorKind, Result, decode_json};
pub use hash::{StableHash, stable_hash};
pub use pacer::{Priority, RequestPacer, parse_retry_after};
pub use problem::{
    Address, Choice, Dependency, EmailFlaw, FieldKeyForm, FieldValueForm, OffsetOf,
    PriorityListFlaw, Problem, StatusKeyForm, Wanted,
};
pub use secret::Secret;
pub use types::{
    Attachment, AttachmentRef, Change, ChangeBatch, Comment, CommentDraft, CommentId, CommentMark,
    DueTimes, Escalation, IdempotencyKey, Identity, Intake, IntakeCategory, IntakeField, NoteDraft,
    Origin, OwnTicket, Rating, RatingStored, Requester, StaffAddress, StatusClass, Ticket,
    TicketDraft, TicketId, TicketRef, TicketSnapshot, Visibility, WebhookRequest, WrittenComment,
    merge_table, set_path,
};

use async_trait::async_trait;

/// One helpdesk, as teledesk sees it.
///
/// An adapter is built once from its `[helpdesks.<name>]` config section and shared by every task
/// of the daemon, so all methods take `&self` and must be safe to call concurrently. Implementations
/// pace their own requests to the vendor's rate limit (see [`RequestPacer`]) but do **not** retry:
/// they return an [`Error`] whose [`Error::is_temporary`] tells the caller whether a retry can help,
/// and whose [`Error::retry_after`] carries the server's hint. Retrying, backoff and dead-lettering
/// belong to the daemon, which persists its work across restarts.
///
/// Writes are idempotent by their [`IdempotencyKey`]: when a draft says
/// [`TicketDraft::retry`]/[`CommentDraft::retry`] is `true`, an earlier attempt may have reached the
/// helpdesk before the daemon crashed or the connection broke, and the adapter must look for that
/// earlier write (by external id, custom field or a marker in the text) and return it instead of
/// writing again.
///
/// Methods a vendor cannot support return [`ErrorKind::Unsupported`]; callers consult
/// [`Helpdesk::capability`] first.
#[async_trait]
pub trait Helpdesk: Send + Sync {
    /// The vendor tag used in config (`kind = "kaiten"`), logs and metrics.
    fn kind(&self) -> &'static str;

    /// What this adapter can do, declared once when it is built.
    fn capability(&self) -> Capability;

    /// Checks that the helpdesk is reachable and the credentials work.
    ///
    /// Returns the integration account teledesk acts as. Used by `teledesk doctor` and at start-up.
    async fn check(&self) -> Result<Identity>;

    /// Checks a chat's `[chats.ticket]` table against the live helpdesk: what offline validation
    /// cannot know, such as whether a named custom field or property exists there and can take
    /// the configured value.
    ///
    /// Returns the problems keyed relative to the table (`properties.id_7`), empty when all is
    /// well. Used by `teledesk doctor`. The default finds nothing beyond offline validation.
    /// Errors are those of the requests made (unreachable helpdesk, refused credentials).
    async fn check_ticket_defaults(&self, defaults: &ConfigTable) -> Result<Vec<ConfigProblem>> {
        let _ = defaults;
        Ok(Vec::new())
    }

    /// Creates a ticket, or finds the one an earlier attempt with the same key created.
    ///
    /// The requester's Telegram identity, company and a link to the source message must be visible
    /// to staff; `draft.defaults` carries the chat's `[chats.ticket]` table (queue, board, service...),
    /// which the adapter validated at config time.
    async fn create_ticket(&self, draft: &TicketDraft) -> Result<TicketRef>;

    /// Adds a client comment (with its files) to a ticket, attributed to the Telegram author.
    ///
    /// Idempotent by `draft.key` when `draft.retry` is set. Returns the id of the new comment so the
    /// daemon can recognise it when it comes back from [`Helpdesk::get_ticket`] (no echo).
    async fn add_comment(&self, ticket: &TicketId, draft: &CommentDraft) -> Result<CommentId>;

    /// Adds a client comment like [`Helpdesk::add_comment`] (idempotent by `draft.key` when
    /// `draft.retry` is set) and also tells the server's creation time of the comment, which lets
    /// the daemon recognise its own write in the next [`Change::snapshot`] without reading the
    /// comments.
    ///
    /// The default calls [`Helpdesk::add_comment`] and knows no time; adapters that declare
    /// [`Capability::change_snapshot`] override it with the time their write's answer carries.
    async fn write_comment(
        &self,
        ticket: &TicketId,
        draft: &CommentDraft,
    ) -> Result<WrittenComment> {
        Ok(WrittenComment {
            id: self.add_comment(ticket, draft).await?,
            created_at: None,
        })
    }

    /// Reads a ticket with its state and all comments visible to the integration account.
    ///
    /// Internal notes must come back with [`Visibility::Internal`] (or not at all), never as public;
    /// comments teledesk wrote must come back with [`Origin::Teledesk`].
    async fn get_ticket(&self, ticket: &TicketId) -> Result<Ticket>;

    /// Reads a ticket teledesk does not know yet, one a change listing reported, when staff
    /// addressed it to a Telegram chat ([`Ticket::addressed_to`]); `None` when they did not.
    ///
    /// The daemon calls it for every unknown ticket in a change batch where the adapter declares
    /// [`Capability::staff_tickets`]. On a helpdesk whose listing reports every changed ticket,
    /// most of those are not teledesk's at all, so this is a poll's most frequent read: an adapter
    /// whose full read costs several requests overrides it to look at the address first with one,
    /// and reads the rest only for an addressed ticket. The default reads the whole ticket.
    async fn addressed_ticket(&self, ticket: &TicketId) -> Result<Option<Ticket>> {
        let ticket = self.get_ticket(ticket).await?;
        Ok(ticket.addressed_to.is_some().then_some(ticket))
    }

    /// Reads a ticket's comments, as [`Helpdesk::get_ticket`] returns them in
    /// [`Ticket::comments`], for a change whose [`Change::snapshot`] already gave the ticket's
    /// fields.
    ///
    /// `known` lists comments the caller already handled: their attachments may come back empty
    /// when finding them costs the adapter another request (a vendor that lists a comment's files
    /// only on the ticket), since the caller never forwards them again. Every other comment comes
    /// back complete. The default reads the whole ticket.
    async fn get_comments(&self, ticket: &TicketId, known: &[CommentId]) -> Result<Vec<Comment>> {
        let _ = known;
        Ok(self.get_ticket(ticket).await?.comments)
    }

    /// Lists the tickets changed since `cursor`, and the cursor to ask with next time.
    ///
    /// Where the adapter declares [`Capability::change_snapshot`], each change carries the
    /// ticket's fields as the listing showed them ([`Change::snapshot`]).
    ///
    /// Costs O(changes): one search by update time, never a re-read of every open ticket. The
    /// returned cursor is the newest *server* timestamp seen, and the adapter re-asks with an overlap
    /// window and drops what it already reported (see [`Cursor`]), so a change made in the same second
    /// as the previous poll is never missed and never reported twice.
    async fn changes_since(&self, cursor: &Cursor) -> Result<ChangeBatch>;

    /// Moves a ticket to the vendor state mapped to `status` (reopen, "client replied").
    ///
    /// Returns [`ErrorKind::Unsupported`] when the helpdesk has no state for that class; callers
    /// treat that as "nothing to do".
    async fn set_status(&self, ticket: &TicketId, status: StatusClass) -> Result<()> {
        let _ = (ticket, status);
        Err(Error::unsupported("set_status"))
    }

    /// Downloads a file attached to a ticket, so it can be forwarded to Telegram.
    async fn download(&self, attachment: &AttachmentRef) -> Result<Attachment> {
        let _ = attachment;
        Err(Error::unsupported("download"))
    }

    /// Writes an internal note (never visible to the client) on a ticket.
    ///
    /// Idempotent by `note.key` when `note.retry` is set. The note must come back from
    /// [`Helpdesk::get_ticket`] as [`Visibility::Internal`] with [`Origin::Teledesk`].
    async fn add_internal_note(&self, ticket: &TicketId, note: &NoteDraft) -> Result<CommentId> {
        let _ = (ticket, note);
        Err(Error::unsupported("add_internal_note"))
    }

    /// Reopens a done ticket (the client pressed «Переоткрыть», or commented on a closed ticket
    /// under `on_closed_comment = "reopen"`).
    ///
    /// The default moves it to the state mapped to [`StatusClass::InProgress`]; adapters with a
    /// dedicated reopen state override it.
    async fn reopen(&self, ticket: &TicketId) -> Result<()> {
        self.set_status(ticket, StatusClass::InProgress).await
    }

    /// Escalates a ticket: raises its priority one step where the helpdesk has priorities
    /// ([`Capability::priority`]) and writes `note` as an internal note.
    ///
    /// The default writes the note only.
    async fn escalate(&self, ticket: &TicketId, note: &NoteDraft) -> Result<Escalation> {
        self.add_internal_note(ticket, note).await?;
        Ok(Escalation::NoteOnly)
    }

    /// Records a client's rating (and feedback, when `rating.comment` is set) of a ticket.
    ///
    /// Natively where the helpdesk has satisfaction ratings ([`Capability::native_rating`]); the
    /// default writes `rating.note` as an internal note.
    async fn rate(&self, ticket: &TicketId, rating: &Rating) -> Result<RatingStored> {
        let note = NoteDraft {
            key: rating.key.clone(),
            body: rating.note.clone(),
            retry: rating.retry,
        };
        self.add_internal_note(ticket, &note).await?;
        Ok(RatingStored::Note)
    }

    /// Lists every ticket teledesk created in this helpdesk, with the idempotency key it was
    /// created with, so that a lost store can be rebuilt from the helpdesk (`teledesk rebuild`):
    /// the key names the Telegram chat and message each ticket came from.
    ///
    /// Pages through the vendor's listing (oldest first where it can sort), keeping the tickets
    /// whose key teledesk wrote (an external id, a custom field, the description's marker); a
    /// ticket staff created, or one whose key was edited away, is not among them. Rare and
    /// costly: called by an operator, never by the running daemon.
    ///
    /// The default returns [`ErrorKind::Unsupported`]: the adapter cannot search its helpdesk for
    /// the keys it wrote.
    async fn own_tickets(&self) -> Result<Vec<OwnTicket>> {
        Err(Error::unsupported("own_tickets"))
    }

    /// Verifies and reads a webhook the helpdesk pushed: the tickets it says changed.
    ///
    /// Webhooks are hints: the daemon re-reads each ticket with [`Helpdesk::get_ticket`], so only
    /// ids matter. Where the vendor signs ([`Capability::webhook_signed`]) a missing or wrong
    /// signature is [`ErrorKind::PermissionDenied`]; an unparseable body is
    /// [`ErrorKind::InvalidInput`].
    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<TicketId>> {
        let _ = request;
        Err(Error::unsupported("parse_webhook"))
    }
}
