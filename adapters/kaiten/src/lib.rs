//! Kaiten adapter for teledesk (work in progress: signatures fixed, bodies being written).

use teledesk_adapter::{ConfigProblem, ConfigTable};

/// The config tag (`kind = "kaiten"`), also the log field and metrics label.
pub const KIND: &str = "kaiten";

/// Validates a `[helpdesks.<name>]` table of kind `kaiten`.
pub fn validate_helpdesk(table: &ConfigTable) -> Vec<ConfigProblem> {
    let _ = table;
    Vec::new()
}

/// Validates a chat's `[chats.ticket]` table for a Kaiten helpdesk.
pub fn validate_ticket_defaults(table: &ConfigTable) -> Vec<ConfigProblem> {
    let _ = table;
    Vec::new()
}

/// The Kaiten adapter (skeleton: being written).
pub struct KaitenAdapter;

impl KaitenAdapter {
    /// Builds the adapter from its validated `[helpdesks.<name>]` table (secrets resolved).
    pub fn from_config(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let _ = table;
        Err(vec![ConfigProblem::new("", "the Kaiten adapter is not built yet")])
    }
}
