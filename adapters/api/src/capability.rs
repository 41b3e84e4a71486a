//! What an adapter declares it can do.

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
    /// A follow-up ticket is linked to the closed one natively (a relation), not only by text.
    pub native_link: bool,
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
        }
    }
}
