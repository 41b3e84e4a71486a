//! Config validation findings shared between adapters and `teledesk check`.

use std::fmt;

/// A config table handed to an adapter: `[helpdesks.<name>]` or a chat's `[chats.ticket]`, with
/// `env:`/`file:` secrets already resolved by the daemon.
pub type ConfigTable = serde_json::Map<String, serde_json::Value>;

/// One problem found in a config table.
///
/// `key` is relative to the table the adapter was given (`"board_id"`, `"statuses.17"`); the daemon
/// prefixes the table's own path and adds the line number, so the admin reads
/// `helpdesks.main.board_id (line 14): must be a positive integer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key the problem is about, relative to the table; empty for the table itself.
    pub key: String,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}
