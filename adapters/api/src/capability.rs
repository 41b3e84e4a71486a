//! What an adapter declares it can do.

use std::time::Duration;

/// The capabilities of an adapter, declared once when it is built and shown in its README.
///
/// Plain flags and limits, named after what they allow (not `non_exhaustive`, so adapters can
/// write `Capability { comment: true, ..Capability::none() }`); the daemon checks them before calling an
/// optional method, and the conformance tests run only what is declared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capability {
    /// Client comments can be added.
    pub comment: bool,
    /// Comments can be told apart as public or internal when read back.
    pub comment_internal: bool,
    /// Files can be attached to tickets and comments.
    pub attachment: bool,
    /// The largest file the helpdesk accepts, when known.
    pub attachment_max_size: Option<u64>,
    /// Files can be downloaded from the helpdesk (to forward staff files to Telegram).
    pub download: bool,
    /// The ticket's state can be set ([`crate::Helpdesk::set_status`]: reopen, client replied).
    pub set_status: bool,
    /// The helpdesk stores the idempotency key natively (external id, custom field).
    pub native_idempotency: bool,
    /// Changes can be polled ([`crate::Helpdesk::changes_since`]).
    pub poll: bool,
    /// The helpdesk can push webhooks ([`crate::Helpdesk::parse_webhook`]).
    pub webhook: bool,
    /// The helpdesk signs its webhooks and the adapter verifies the signature.
    pub webhook_signed: bool,
    /// Internal notes can be written ([`crate::Helpdesk::add_internal_note`]): ratings without a
    /// native home, escalations, "this reply could not reach Telegram".
    pub internal_note: bool,
    /// The ticket has a priority that [`crate::Helpdesk::escalate`] raises.
    pub priority: bool,
    /// Ratings are stored natively ([`crate::Helpdesk::rate`]), not as an internal note.
    pub native_rating: bool,
    /// Intake fields of any kind (free text, phone, contract number, choice) can be written to
    /// the helpdesk's own ticket fields (custom fields, dynamic fields, properties, object
    /// attributes) through a `target` in the ticket table ([`crate::TicketDraft::ticket_table`]).
    /// Without it only the fields the ticket itself has (a category, a location) can be targeted;
    /// other values stay in the description, and `teledesk check` says so.
    pub custom_fields: bool,
    /// [`crate::Helpdesk::check_ticket_defaults`] asks the live helpdesk whether the custom
    /// fields a ticket table writes exist and take its values (a choice's option), so
    /// `teledesk doctor` can vouch for a chat's intake mapping; without it doctor says the
    /// mapping could not be checked there.
    pub check_fields: bool,
    /// A follow-up ticket is linked to the closed one natively (a relation), not only by text.
    pub native_link: bool,
    /// Every change [`crate::Helpdesk::changes_since`] reports carries a
    /// [`crate::Change::snapshot`] read from the listing itself, so a change whose comments did
    /// not move costs the daemon no request.
    pub change_snapshot: bool,
    /// The vendor's documented rate limit for one credential, when it documents one (Kaiten: 5
    /// requests per second); `None` for a self-hosted helpdesk that limits nothing by itself.
    /// The daemon sizes how many tickets it works on at once from it.
    pub rate_limit: Option<RateLimit>,
    /// Staff can address a ticket they create in the helpdesk to a Telegram chat (a field, tag or
    /// queue the adapter's README names), and [`crate::Ticket::addressed_to`] reads it back, so
    /// teledesk publishes the ticket in that chat.
    pub staff_tickets: bool,
    /// The helpdesk computes due times (SLA) for a ticket and [`crate::Ticket::due`] reads them.
    pub due_times: bool,
}

/// A rate limit as a vendor documents it: `requests` per `per`, for one credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// How many requests a window takes (also the burst a client may send at once).
    pub requests: u32,
    /// The window.
    pub per: Duration,
}

impl RateLimit {
    /// `requests` per second.
    pub const fn per_second(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(1),
        }
    }

    /// The average rate the limit allows, in requests per second.
    pub fn requests_per_second(self) -> f64 {
        f64::from(self.requests) / self.per.as_secs_f64().max(f64::EPSILON)
    }
}

impl Capability {
    /// Nothing: the starting point for `Capability { comment: true, ..Capability::none() }`.
    pub const fn none() -> Self {
        Self {
            comment: false,
            comment_internal: false,
            attachment: false,
            attachment_max_size: None,
            download: false,
            set_status: false,
            native_idempotency: false,
            poll: false,
            webhook: false,
            webhook_signed: false,
            internal_note: false,
            priority: false,
            native_rating: false,
            native_link: false,
            custom_fields: false,
            check_fields: false,
            change_snapshot: false,
            rate_limit: None,
            staff_tickets: false,
            due_times: false,
        }
    }
}
