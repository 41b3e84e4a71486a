//! The adapter conformance suite: one set of cases every helpdesk adapter must pass, against its
//! testkit fake in `cargo test` and against the real server in `.ci/run` where one can run here
//! (Request Tracker 5, Redmine 5).
//!
//! A case drives the adapter (the [`Helpdesk`] trait, exactly as the daemon does) and a
//! [`Backstage`]: the vendor's staff side (reply, internal note, change state, assign, resolve),
//! implemented per vendor over the vendor's own API so the same driver works against the fake and
//! the live server. Cases an adapter's [`teledesk_adapter::Capability`] does not declare are
//! skipped with a line on stderr, never passed silently.
//!
//! An adapter crate runs the whole suite with one macro call in `tests/conformance.rs`:
//!
//! ```ignore
//! teledesk_testkit::conformance_suite!(subject);
//! async fn subject() -> Option<teledesk_testkit::conformance::Subject> { /* start fake, build adapter */ }
//! ```
//!
//! `subject` returns `None` only for a live server whose URL is not configured; the macro then
//! prints why and — when `TELEDESK_LIVE_REQUIRED=1` (set by `.ci/run`) — fails instead.

mod cases;

pub use cases::*;

use async_trait::async_trait;
use std::sync::Arc;
use teledesk_adapter::{Attachment, ConfigTable, Helpdesk, StatusClass, TicketId, WebhookRequest};

/// What a [`Backstage`] call returns: the vendor's error as text (the suite only reports it).
pub type BackstageResult<T> = Result<T, String>;

/// The helpdesk's staff side, driven by the conformance cases through the vendor's own API (not
/// through the adapter under test).
#[async_trait]
pub trait Backstage: Send + Sync {
    /// A staff member writes a public reply, optionally with one file.
    async fn staff_reply(
        &self,
        ticket: &TicketId,
        body: &str,
        file: Option<&Attachment>,
    ) -> BackstageResult<()>;

    /// A staff member writes an internal note (never for the client).
    async fn internal_note(&self, ticket: &TicketId, body: &str) -> BackstageResult<()>;

    /// A staff member takes the ticket; returns the name the adapter must report as assignee.
    async fn assign(&self, ticket: &TicketId) -> BackstageResult<String>;

    /// The vendor states of the adapter's default status map, each with the class it maps to.
    /// Every one is set by [`Backstage::set_state`] and read back through the adapter.
    fn vendor_states(&self) -> Vec<(String, StatusClass)>;

    /// Moves the ticket to a vendor state named as in [`Backstage::vendor_states`].
    async fn set_state(&self, ticket: &TicketId, state: &str) -> BackstageResult<()>;

    /// Resolves the ticket with a resolution text (the vendor's solution field, or the closing
    /// reply where it has none), leaving it in a done state.
    async fn resolve(&self, ticket: &TicketId, resolution: &str) -> BackstageResult<()>;

    /// Everything a staff member sees on the ticket as one text: subject, description, requester
    /// fields, custom fields, relations. The suite looks for the requester's identity in it.
    async fn staff_text(&self, ticket: &TicketId) -> BackstageResult<String>;

    /// Where the ticket was filed (queue, project, board...), compared with
    /// [`Subject::expected_placement`] to prove the `[chats.ticket]` defaults were applied.
    async fn placement(&self, ticket: &TicketId) -> BackstageResult<String>;

    /// The ticket's priority as the vendor names it, where it has one.
    async fn priority(&self, ticket: &TicketId) -> BackstageResult<Option<String>>;

    /// The rating stored natively on the ticket (1–5 scale), where the vendor has ratings.
    async fn native_rating(&self, ticket: &TicketId) -> BackstageResult<Option<u8>>;

    /// Whether `follow_up` is linked to `original` by a native relation.
    async fn linked(&self, follow_up: &TicketId, original: &TicketId) -> BackstageResult<bool>;

    /// A text custom field new tickets can write, named as an intake field's `target` in the
    /// ticket table (`properties.id_42`, `custom_fields.8`, `custom_fields.Contract`); `None`
    /// where the helpdesk under test has none set up (the intake case then says so on stderr).
    fn intake_target(&self) -> Option<String> {
        None
    }

    /// The value staff see in the field `target` names on the ticket; `None` when it is empty.
    async fn intake_value(
        &self,
        ticket: &TicketId,
        target: &str,
    ) -> BackstageResult<Option<String>> {
        let _ = (ticket, target);
        Ok(None)
    }

    /// A text custom field that takes a ticket's registration time, named as a ticket-table
    /// target like [`Backstage::intake_target`] and read back with [`Backstage::intake_value`];
    /// `None` where the helpdesk under test has none set up (the case then says so on stderr).
    fn registered_target(&self) -> Option<String> {
        None
    }

    /// A webhook the vendor would send about `ticket`, signed with the adapter's configured
    /// secret where the vendor signs; `None` when the vendor has no webhooks.
    fn webhook(&self, ticket: &TicketId) -> Option<WebhookRequest>;

    /// A staff member creates a ticket in the helpdesk and addresses it to the Telegram chat
    /// `chat` (by the field, tag or queue the adapter's README names), as an announcement when
    /// `announcement`; returns its id. Only called where the adapter declares
    /// [`teledesk_adapter::Capability::staff_tickets`].
    async fn staff_addressed_ticket(
        &self,
        subject: &str,
        body: &str,
        chat: &str,
        announcement: bool,
    ) -> BackstageResult<TicketId> {
        let _ = (subject, body, chat, announcement);
        Err("this helpdesk's staff side cannot address a ticket to a chat".into())
    }

    /// A staff member sets the time by which the ticket is due to be resolved; returns the due
    /// time the adapter must report (the vendor may keep only the date). Only called where the
    /// adapter declares [`teledesk_adapter::Capability::due_times`].
    async fn set_due(
        &self,
        ticket: &TicketId,
        due: time::OffsetDateTime,
    ) -> BackstageResult<time::OffsetDateTime> {
        let _ = (ticket, due);
        Err("this helpdesk's staff side cannot set a due time".into())
    }

    /// An id no ticket has, for the not-found case.
    fn missing_ticket(&self) -> TicketId;

    /// Whether this staff side writes as the adapter's own integration account (a live server
    /// with a single token). No identity can tell its replies from teledesk's writes then, so the
    /// cases that need that say so on stderr and do not run.
    fn writes_as_integration_account(&self) -> bool {
        false
    }

    /// Makes the server's answers about `ticket` carry what an adapter was not written for, in
    /// the vendor's own shapes: unknown fields, list entries of unknown types, oddly typed values
    /// (string ids, sizes as strings, `null` urls, custom fields of unseen shapes). Every text
    /// among them contains [`ODDITY`], so the case can tell them from real content.
    ///
    /// `Ok(false)` only for a live server where nothing can be injected; the case then says on
    /// stderr that it did not run.
    async fn add_oddities(&self, ticket: &TicketId) -> BackstageResult<bool>;
}

/// The text every entry injected by [`Backstage::add_oddities`] carries where it has text.
pub const ODDITY: &str = "oddity-7c1f";

/// One adapter under test, with its staff side.
pub struct Subject {
    /// The adapter, built from config exactly as the daemon builds it.
    pub adapter: Arc<dyn Helpdesk>,
    /// The staff side of the same helpdesk.
    pub backstage: Arc<dyn Backstage>,
    /// The `[chats.ticket]` table new tickets are created with.
    pub defaults: ConfigTable,
    /// What [`Backstage::placement`] must say for a ticket created with `defaults`.
    pub expected_placement: String,
    /// Keeps the fake server (or other guards) alive for the duration of the case.
    pub keep_alive: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

/// Runs every case as its own `#[tokio::test]` against the subject `$make()` returns
/// (`async fn() -> Option<Subject>`).
#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@cases $make;
            check_identifies_the_integration_account,
            create_ticket_carries_requester_and_defaults,
            intake_category_places_the_ticket,
            intake_fields_reach_the_helpdesks_own_fields,
            registration_time_reaches_its_field,
            create_ticket_is_idempotent,
            client_typed_marker_does_not_swallow_the_next_ticket,
            comment_attachments_round_trip_byte_exact,
            spooled_files_round_trip_byte_exact,
            comment_is_idempotent,
            staff_reply_public_and_internal_note_hidden,
            staff_reply_quoting_a_client_comment_is_staff,
            staff_reply_with_a_marker_line_is_staff,
            client_typed_marker_does_not_swallow_the_next_comment,
            staff_text_ending_in_a_footer_is_no_earlier_write,
            staff_file_downloads_byte_exact,
            every_default_vendor_state_maps_to_its_class,
            set_status_moves_the_ticket,
            assignee_is_reported,
            resolution_is_reported_and_done,
            reopen_undoes_done,
            changes_since_reports_each_change_once,
            change_snapshots_read_as_the_ticket,
            timestamps_are_utc,
            internal_note_is_internal_own_and_idempotent,
            escalate_raises_priority_and_notes,
            rating_is_recorded,
            follow_up_references_the_closed_ticket,
            webhook_is_parsed_and_verified,
            missing_ticket_is_not_found,
            odd_entries_never_make_a_ticket_unreadable,
            staff_ticket_is_addressed_to_its_chat,
            due_time_is_reported,
            own_tickets_lists_what_teledesk_created
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(subject) = $make().await else {
                    $crate::conformance::no_subject(stringify!($case));
                    return;
                };
                let run = $crate::conformance::$case(&subject);
                if tokio::time::timeout($crate::conformance::CASE_TIMEOUT, run).await.is_err() {
                    panic!("conformance case {} timed out", stringify!($case));
                }
            }
        )*
    };
}

/// How long one case may take, live servers included.
pub const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Called when a subject maker returned `None` (a live server not configured): fails when
/// `TELEDESK_LIVE_REQUIRED=1`, else says on stderr that the case did not run.
pub fn no_subject(case: &str) {
    if std::env::var("TELEDESK_LIVE_REQUIRED").as_deref() == Ok("1") {
        panic!(
            "{case}: the live helpdesk is not configured but TELEDESK_LIVE_REQUIRED=1 — \
             its URL/credential variables must be set"
        );
    }
    eprintln!("{case}: skipped, live helpdesk not configured (set its URL variables to run it)");
}
