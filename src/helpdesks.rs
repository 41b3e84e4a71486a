//! The helpdesk registry: `kind = "..."` → adapter crate.
//!
//! Adding a helpdesk is one entry in [`KINDS`] and one match arm in each function below.

use std::sync::Arc;

use teledesk_adapter::{ConfigProblem, ConfigTable, Helpdesk};
use teledesk_kaiten::KaitenAdapter;

use crate::config::HelpdeskConfig;

/// The kinds this build can run.
pub const KINDS: &[&str] = &[teledesk_kaiten::KIND];

/// Kinds DESIGN promises but this build does not have yet; naming one gets a clearer message than
/// "unknown kind".
const PLANNED: &[&str] = &["znuny", "glpi", "rt", "zammad", "redmine"];

/// Validates a `[helpdesks.<name>]` table (secrets resolved); `None` when `kind` is not available.
pub fn validate_helpdesk(kind: &str, table: &ConfigTable) -> Option<Vec<ConfigProblem>> {
    match kind {
        teledesk_kaiten::KIND => Some(teledesk_kaiten::validate_helpdesk(table)),
        _ => None,
    }
}

/// Validates a chat's `[chats.ticket]` table for a helpdesk of `kind`; `None` when `kind` is not
/// available.
pub fn validate_ticket_defaults(kind: &str, table: &ConfigTable) -> Option<Vec<ConfigProblem>> {
    match kind {
        teledesk_kaiten::KIND => Some(teledesk_kaiten::validate_ticket_defaults(table)),
        _ => None,
    }
}

/// Builds the adapter for a validated helpdesk config.
pub fn build(config: &HelpdeskConfig) -> Result<Arc<dyn Helpdesk>, Vec<ConfigProblem>> {
    match config.kind.as_str() {
        teledesk_kaiten::KIND => Ok(Arc::new(KaitenAdapter::from_config(&config.table)?)),
        other => Err(vec![ConfigProblem::new("kind", unknown_kind(other))]),
    }
}

/// The message for a `kind` that is not in [`KINDS`].
pub fn unknown_kind(kind: &str) -> String {
    let available = KINDS.join(", ");
    if PLANNED.contains(&kind) {
        format!("helpdesk kind `{kind}` is not available in this build yet; available: {available}")
    } else {
        format!("unknown kind `{kind}`; expected one of {available}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_kind_has_validators() {
        for kind in KINDS {
            assert!(
                validate_helpdesk(kind, &ConfigTable::new()).is_some(),
                "{kind}"
            );
            assert!(
                validate_ticket_defaults(kind, &ConfigTable::new()).is_some(),
                "{kind}"
            );
        }
    }

    #[test]
    fn unknown_kind_has_no_validators() {
        assert!(validate_helpdesk("jira", &ConfigTable::new()).is_none());
        assert!(validate_ticket_defaults("jira", &ConfigTable::new()).is_none());
    }

    #[test]
    fn planned_kinds_say_so() {
        assert_eq!(
            unknown_kind("rt"),
            "helpdesk kind `rt` is not available in this build yet; available: kaiten"
        );
        assert_eq!(
            unknown_kind("jira"),
            "unknown kind `jira`; expected one of kaiten"
        );
    }

    #[test]
    fn build_rejects_an_unknown_kind() {
        let config = HelpdeskConfig {
            name: "main".into(),
            kind: "zammad".into(),
            poll_interval: Duration::from_secs(30),
            table: ConfigTable::new(),
        };
        let problems = build(&config)
            .err()
            .expect("no zammad adapter in this build");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "kind");
        assert!(
            problems[0]
                .message
                .contains("not available in this build yet")
        );
    }
}
