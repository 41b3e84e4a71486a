//! The helpdesk registry: `kind = "..."` → adapter crate.
//!
//! Adding a helpdesk is one entry in [`KINDS`] and one match arm in each function below.

use std::sync::Arc;

use teledesk_adapter::{ConfigProblem, ConfigTable, Helpdesk, Problem};

use crate::config::HelpdeskConfig;
use crate::telegram::texts::ops::ConfigText;

/// The kinds this build can run.
pub const KINDS: &[&str] = &[
    teledesk_kaiten::KIND,
    teledesk_znuny::KIND,
    teledesk_glpi::KIND,
    teledesk_rt::KIND,
    teledesk_zammad::KIND,
    teledesk_redmine::KIND,
];

/// Kinds DESIGN promises but this build does not have yet; naming one gets a clearer message than
/// "unknown kind".
const PLANNED: &[&str] = &[];

/// Validates a `[helpdesks.<name>]` table (secrets resolved); `None` when `kind` is not available.
pub fn validate_helpdesk(kind: &str, table: &ConfigTable) -> Option<Vec<ConfigProblem>> {
    Some(match kind {
        teledesk_kaiten::KIND => teledesk_kaiten::validate_helpdesk(table),
        teledesk_znuny::KIND => teledesk_znuny::validate_helpdesk(table),
        teledesk_glpi::KIND => teledesk_glpi::validate_helpdesk(table),
        teledesk_rt::KIND => teledesk_rt::validate_helpdesk(table),
        teledesk_zammad::KIND => teledesk_zammad::validate_helpdesk(table),
        teledesk_redmine::KIND => teledesk_redmine::validate_helpdesk(table),
        _ => return None,
    })
}

/// Validates a chat's `[chats.ticket]` table for a helpdesk of `kind`; `None` when `kind` is not
/// available.
pub fn validate_ticket_defaults(kind: &str, table: &ConfigTable) -> Option<Vec<ConfigProblem>> {
    Some(match kind {
        teledesk_kaiten::KIND => teledesk_kaiten::validate_ticket_defaults(table),
        teledesk_znuny::KIND => teledesk_znuny::validate_ticket_defaults(table),
        teledesk_glpi::KIND => teledesk_glpi::validate_ticket_defaults(table),
        teledesk_rt::KIND => teledesk_rt::validate_ticket_defaults(table),
        teledesk_zammad::KIND => teledesk_zammad::validate_ticket_defaults(table),
        teledesk_redmine::KIND => teledesk_redmine::validate_ticket_defaults(table),
        _ => return None,
    })
}

/// The capabilities an adapter of `kind` declares (its crate's `CAPABILITY`), known without
/// building it; `None` when `kind` is not available.
pub fn capability(kind: &str) -> Option<teledesk_adapter::Capability> {
    Some(match kind {
        teledesk_kaiten::KIND => teledesk_kaiten::CAPABILITY,
        teledesk_znuny::KIND => teledesk_znuny::CAPABILITY,
        teledesk_glpi::KIND => teledesk_glpi::CAPABILITY,
        teledesk_rt::KIND => teledesk_rt::CAPABILITY,
        teledesk_zammad::KIND => teledesk_zammad::CAPABILITY,
        teledesk_redmine::KIND => teledesk_redmine::CAPABILITY,
        _ => return None,
    })
}

/// Builds the adapter for a validated helpdesk config.
pub fn build(config: &HelpdeskConfig) -> Result<Arc<dyn Helpdesk>, Vec<ConfigProblem>> {
    let table = &config.table;
    Ok(match config.kind.as_str() {
        teledesk_kaiten::KIND => Arc::new(teledesk_kaiten::KaitenAdapter::from_config(table)?),
        teledesk_znuny::KIND => Arc::new(teledesk_znuny::ZnunyAdapter::from_config(table)?),
        teledesk_glpi::KIND => Arc::new(teledesk_glpi::GlpiAdapter::from_config(table)?),
        teledesk_rt::KIND => Arc::new(teledesk_rt::RtAdapter::from_config(table)?),
        teledesk_zammad::KIND => Arc::new(teledesk_zammad::ZammadAdapter::from_config(table)?),
        teledesk_redmine::KIND => Arc::new(teledesk_redmine::RedmineAdapter::from_config(table)?),
        _ => {
            let expected = KINDS.iter().map(|kind| (*kind).to_owned()).collect();
            return Err(vec![ConfigProblem::new(
                "kind",
                Problem::OneOf { expected },
            )]);
        }
    })
}

/// The finding for a `kind` that is not in [`KINDS`].
pub fn unknown_kind(kind: &str) -> ConfigText {
    ConfigText::UnknownKind {
        kind: kind.to_owned(),
        available: KINDS.join(", "),
        planned: PLANNED.contains(&kind),
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
    fn unknown_kinds_list_the_available_ones() {
        assert_eq!(
            unknown_kind("jira").to_string(),
            "unknown kind `jira`; expected one of kaiten, znuny, glpi, rt, zammad, redmine"
        );
    }

    #[test]
    fn build_rejects_an_unknown_kind_and_reports_adapter_problems() {
        let mut config = HelpdeskConfig {
            name: "main".into(),
            kind: "jira".into(),
            poll_interval: Duration::from_secs(30),
            max_in_flight: None,
            table: ConfigTable::new(),
        };
        let problems = build(&config).err().expect("no jira adapter");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "kind");
        for kind in KINDS {
            config.kind = (*kind).to_owned();
            let problems = build(&config)
                .err()
                .expect("an empty table is not a config");
            assert!(!problems.is_empty(), "{kind}");
        }
    }
}
