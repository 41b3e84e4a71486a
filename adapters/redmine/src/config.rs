//! The `[helpdesks.<name>]` table of kind `redmine` and a chat's `[chats.ticket]` table.
//!
//! Both are read by hand from the JSON map the daemon hands over, so that every problem in a table
//! is reported at once, each named by its key.

use std::collections::BTreeMap;
use std::fmt;
use teledesk_adapter::{
    Address, ConfigProblem, ConfigTable, DAEMON_KEYS, Dependency, FieldKeyForm, FieldValueForm,
    PriorityListFlaw, Problem, Secret, StatusClass, StatusKeyForm, TableReader,
};

/// Redmine has no rate limit of its own; one request at a time is what its single-threaded
/// default servers (thin, WEBrick) handle well, and 5/s keeps a small instance responsive.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 5.0;
/// An upper bound that still catches a typo like `500`.
pub const MAX_REQUESTS_PER_SECOND: f64 = 100.0;

/// How messages name the helpdesk (`a Redmine id`).
const VENDOR: &str = "Redmine";

const HELPDESK_KEYS: [&str; 15] = [
    "url",
    "api_key",
    "project_id",
    "tracker_id",
    "priority_id",
    "requests_per_second",
    "statuses",
    "reopen_status_id",
    "client_replied_status_id",
    "idempotency_field_id",
    "resolution_field_id",
    "chat_field_id",
    "announcement_field_id",
    "priority_ids",
    "webhook_secret",
];

const TICKET_KEYS: [&str; 6] = [
    "project_id",
    "tracker_id",
    "priority_id",
    "category_id",
    "assigned_to_id",
    "custom_fields",
];

/// Redmine's default statuses (English and Russian default data) and the classes they map to.
///
/// Feedback means "waiting for the reporter"; Rejected is a closed status like Closed.
pub const DEFAULT_STATUSES: [(&str, StatusClass); 12] = [
    ("New", StatusClass::New),
    ("In Progress", StatusClass::InProgress),
    ("Resolved", StatusClass::Resolved),
    ("Feedback", StatusClass::WaitingClient),
    ("Closed", StatusClass::Closed),
    ("Rejected", StatusClass::Closed),
    ("Новая", StatusClass::New),
    ("В работе", StatusClass::InProgress),
    ("Решена", StatusClass::Resolved),
    ("Нужен отклик", StatusClass::WaitingClient),
    ("Закрыта", StatusClass::Closed),
    ("Отклонена", StatusClass::Closed),
];

/// A project as config names it: its numeric id or its identifier (`ci-support`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectRef {
    /// The numeric id.
    Id(i64),
    /// The URL identifier.
    Identifier(String),
}

impl ProjectRef {
    /// The value for `project_id` in requests: a number or the identifier string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ProjectRef::Id(id) => serde_json::Value::from(*id),
            ProjectRef::Identifier(identifier) => serde_json::Value::from(identifier.as_str()),
        }
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectRef::Id(id) => write!(f, "{id}"),
            ProjectRef::Identifier(identifier) => f.write_str(identifier),
        }
    }
}

/// Vendor status → class: explicit ids and names from config over the default names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusMap {
    /// `statuses` entries keyed by a status id.
    pub by_id: BTreeMap<i64, StatusClass>,
    /// `statuses` entries keyed by a status name (compared case-insensitively).
    pub by_name: BTreeMap<String, StatusClass>,
}

impl StatusMap {
    /// The class of a status, or `None` when neither config nor the defaults name it (the caller
    /// then decides by the status's `is_closed` flag).
    pub fn class_of(&self, id: i64, name: &str) -> Option<StatusClass> {
        if let Some(class) = self.by_id.get(&id) {
            return Some(*class);
        }
        let key = name.trim().to_lowercase();
        if let Some(class) = self.by_name.get(&key) {
            return Some(*class);
        }
        DEFAULT_STATUSES
            .iter()
            .find(|(default, _)| default.to_lowercase() == key)
            .map(|(_, class)| *class)
    }
}

/// A validated `[helpdesks.<name>]` table of kind `redmine`.
///
/// `Debug` is safe to log: the API key and the webhook secret are [`Secret`]s.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedmineConfig {
    /// The Redmine root, without a trailing slash (`https://redmine.example.com` or
    /// `https://example.com/redmine`).
    pub url: String,
    /// The integration user's API key (`X-Redmine-API-Key`).
    pub api_key: Secret,
    /// The project new issues go to unless a chat names another.
    pub project_id: ProjectRef,
    /// The tracker of new issues; Redmine picks the project's first tracker when unset.
    pub tracker_id: Option<i64>,
    /// The priority of new issues; Redmine's default priority when unset.
    pub priority_id: Option<i64>,
    /// Client-side pacing.
    pub requests_per_second: f64,
    /// Status id or name → class, over [`DEFAULT_STATUSES`].
    pub statuses: StatusMap,
    /// The status a reopened issue moves to; the first status mapped to `in_progress` when unset.
    pub reopen_status_id: Option<i64>,
    /// The status "the client replied" moves an issue to; the first status mapped to
    /// `client_replied` when unset (none in the default map).
    pub client_replied_status_id: Option<i64>,
    /// A string custom field that stores the idempotency key of issues teledesk created.
    pub idempotency_field_id: Option<i64>,
    /// A custom field that holds the resolution text.
    pub resolution_field_id: Option<i64>,
    /// A custom field staff fill in to address an issue they create to a Telegram chat (its id
    /// or configured name): teledesk publishes it there.
    pub chat_field_id: Option<i64>,
    /// A boolean custom field that marks such an issue as an announcement (no reply expected).
    pub announcement_field_id: Option<i64>,
    /// Priority ids from lowest to highest, the steps escalation climbs; the server's priority
    /// order when unset.
    pub priority_ids: Option<Vec<i64>>,
    /// The secret Redmine (7+) signs webhooks with (`X-Redmine-Signature-256`).
    pub webhook_secret: Option<Secret>,
}

impl RedmineConfig {
    /// Reads and validates a whole `[helpdesks.<name>]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&HELPDESK_KEYS, DAEMON_KEYS);
        let url = r.base_url("url", Address::RedmineRoot, |url| {
            !url.ends_with(".json") && !url.contains("/issues")
        });
        let api_key = r.required("api_key", |r| r.non_empty_string("api_key"));
        let project_id = r.required("project_id", |r| project(r, "project_id"));
        let tracker_id = r.positive_id("tracker_id", VENDOR);
        let priority_id = r.positive_id("priority_id", VENDOR);
        let requests_per_second =
            r.requests_per_second("requests_per_second", MAX_REQUESTS_PER_SECOND, None);
        let statuses = statuses(&mut r, "statuses");
        let reopen_status_id = r.positive_id("reopen_status_id", VENDOR);
        let client_replied_status_id = r.positive_id("client_replied_status_id", VENDOR);
        let idempotency_field_id = r.positive_id("idempotency_field_id", VENDOR);
        let resolution_field_id = r.positive_id("resolution_field_id", VENDOR);
        let chat_field_id = r.positive_id("chat_field_id", VENDOR);
        let announcement_field_id = r.positive_id("announcement_field_id", VENDOR);
        if announcement_field_id.is_some() && chat_field_id.is_none() {
            r.problem(
                "announcement_field_id",
                Problem::Needs {
                    other: "chat_field_id".into(),
                    why: Dependency::AnnouncementNeedsChat { issue: true },
                },
            );
        }
        let priority_ids = id_list(&mut r, "priority_ids");
        let webhook_secret = r.non_empty_string("webhook_secret");
        if let (Some(a), Some(b)) = (idempotency_field_id, resolution_field_id)
            && a == b
        {
            r.problem(
                "resolution_field_id",
                Problem::SameFieldAs {
                    other: "idempotency_field_id".into(),
                },
            );
        }
        match (url, api_key, project_id) {
            (Some(url), Some(api_key), Some(project_id)) if r.is_clean() => Ok(Self {
                url,
                api_key: Secret::new(api_key),
                project_id,
                tracker_id,
                priority_id,
                requests_per_second: requests_per_second.unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
                statuses,
                reopen_status_id,
                client_replied_status_id,
                idempotency_field_id,
                resolution_field_id,
                chat_field_id,
                announcement_field_id,
                priority_ids,
                webhook_secret: webhook_secret.map(Secret::new),
            }),
            _ => Err(r.into_problems()),
        }
    }
}

/// A validated `[chats.ticket]` table: per-chat overrides of where and how issues are created.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TicketDefaults {
    /// Project for this chat's issues.
    pub project_id: Option<ProjectRef>,
    /// Tracker.
    pub tracker_id: Option<i64>,
    /// Priority.
    pub priority_id: Option<i64>,
    /// Issue category (belongs to the project).
    pub category_id: Option<i64>,
    /// Assignee (user or group id).
    pub assigned_to_id: Option<i64>,
    /// Custom field id → value (string, number, bool, or a list of strings for multi-value
    /// fields), set on every issue.
    pub custom_fields: BTreeMap<i64, serde_json::Value>,
}

impl TicketDefaults {
    /// Reads and validates a `[chats.ticket]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&TICKET_KEYS, &[]);
        let defaults = Self {
            project_id: project(&mut r, "project_id"),
            tracker_id: r.positive_id("tracker_id", VENDOR),
            priority_id: r.positive_id("priority_id", VENDOR),
            category_id: r.positive_id("category_id", VENDOR),
            assigned_to_id: r.positive_id("assigned_to_id", VENDOR),
            custom_fields: custom_fields(&mut r, "custom_fields"),
        };
        // A category belongs to one project; the helpdesk's project is the only safe guess.
        if defaults.category_id.is_some() && defaults.project_id.is_none() {
            r.problem(
                "category_id",
                Problem::Needs {
                    other: "project_id".into(),
                    why: Dependency::CategoryOfProject,
                },
            );
        }
        r.finish(defaults)
    }
}

fn id_list(r: &mut TableReader<'_>, key: &str) -> Option<Vec<i64>> {
    let value = r.get(key)?;
    let Some(items) = value.as_array() else {
        r.problem(
            key,
            Problem::PriorityList {
                flaw: PriorityListFlaw::NotIdList,
            },
        );
        return None;
    };
    let ids: Vec<Option<i64>> = items
        .iter()
        .map(|v| v.as_i64().filter(|n| *n > 0))
        .collect();
    if items.len() < 2 || ids.iter().any(Option::is_none) {
        r.problem(
            key,
            Problem::PriorityList {
                flaw: PriorityListFlaw::TooFewIds,
            },
        );
        return None;
    }
    let ids: Vec<i64> = ids.into_iter().flatten().collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ids.len() {
        r.problem(
            key,
            Problem::PriorityList {
                flaw: PriorityListFlaw::RepeatedId,
            },
        );
        return None;
    }
    Some(ids)
}

/// A project: its numeric id or its identifier.
fn project(r: &mut TableReader<'_>, key: &str) -> Option<ProjectRef> {
    let value = r.get(key)?;
    if let Some(id) = value.as_i64() {
        if id > 0 {
            return Some(ProjectRef::Id(id));
        }
    } else if let Some(text) = value.as_str() {
        let text = text.trim();
        if let Ok(id) = text.parse::<i64>() {
            if id > 0 {
                return Some(ProjectRef::Id(id));
            }
        } else if is_identifier(text) {
            return Some(ProjectRef::Identifier(text.to_owned()));
        }
    }
    r.problem(key, Problem::ProjectId);
    None
}

fn statuses(r: &mut TableReader<'_>, key: &str) -> StatusMap {
    let mut statuses = StatusMap::default();
    let Some(map) = r.table_of(key, "\"<status id or name>\" = \"<status class>\"") else {
        return statuses;
    };
    for (status, class) in map {
        let entry = format!("{key}.{status}");
        // Not `TableReader::statuses`: a key is an id or a name, and a bad class is reported
        // alone.
        let Some(class) = r.status_class(&entry, class) else {
            continue;
        };
        let status = status.trim();
        if status.is_empty() {
            r.problem(
                entry,
                Problem::StatusKey {
                    must_be: StatusKeyForm::StatusIdOrName,
                },
            );
        } else if status.bytes().all(|b| b.is_ascii_digit()) {
            match status.parse::<i64>() {
                Ok(id) if id > 0 => {
                    statuses.by_id.insert(id, class);
                }
                _ => r.problem(
                    entry,
                    Problem::StatusKey {
                        must_be: StatusKeyForm::PositiveStatusId,
                    },
                ),
            }
        } else {
            statuses.by_name.insert(status.to_lowercase(), class);
        }
    }
    statuses
}

fn custom_fields(r: &mut TableReader<'_>, key: &str) -> BTreeMap<i64, serde_json::Value> {
    let mut fields = BTreeMap::new();
    let Some(map) = r.table_of(key, "\"<custom field id>\" = value") else {
        return fields;
    };
    for (id, value) in map {
        let entry = format!("{key}.{id}");
        let field_id = id.parse::<i64>().ok().filter(|n| *n > 0);
        if field_id.is_none() {
            r.problem(
                entry.clone(),
                Problem::FieldKey {
                    must_be: FieldKeyForm::CustomFieldId,
                },
            );
        }
        let value = match value {
            serde_json::Value::String(_) => Some(value.clone()),
            // Redmine takes every custom field value as text.
            serde_json::Value::Number(n) => Some(serde_json::Value::from(n.to_string())),
            serde_json::Value::Bool(b) => Some(serde_json::Value::from(if *b { "1" } else { "0" })),
            serde_json::Value::Array(items) if items.iter().all(|i| i.is_string()) => {
                Some(value.clone())
            }
            _ => {
                r.problem(
                    entry,
                    Problem::FieldValue {
                        may_be: FieldValueForm::ScalarOrStrings,
                    },
                );
                None
            }
        };
        if let (Some(field_id), Some(value)) = (field_id, value) {
            fields.insert(field_id, value);
        }
    }
    fields
}

/// Redmine's project identifier rule: a lower-case letter, then letters, digits, `-` and `_`.
fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= 100
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(value: serde_json::Value) -> ConfigTable {
        value.as_object().expect("a table").clone()
    }

    fn minimal() -> serde_json::Value {
        json!({
            "kind": "redmine",
            "poll_interval": "10s",
            "url": "https://redmine.example.com/",
            "api_key": "0123456789abcdef0123456789abcdef01234567",
            "project_id": "support",
        })
    }

    fn with(extra: serde_json::Value) -> ConfigTable {
        let mut t = table(minimal());
        t.extend(table(extra));
        t
    }

    fn keys(problems: &[ConfigProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.key.as_str()).collect()
    }

    fn problems(t: &ConfigTable) -> Vec<ConfigProblem> {
        RedmineConfig::from_table(t).expect_err("invalid")
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let config = RedmineConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(config.url, "https://redmine.example.com");
        assert_eq!(config.project_id, ProjectRef::Identifier("support".into()));
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert_eq!(config.tracker_id, None);
        assert_eq!(config.reopen_status_id, None);
        assert!(config.priority_ids.is_none());
        assert!(config.webhook_secret.is_none());
    }

    #[test]
    fn full_table_is_accepted() {
        let config = RedmineConfig::from_table(&with(json!({
            "url": "https://example.com/redmine",
            "project_id": 7, "tracker_id": 3, "priority_id": 2, "requests_per_second": 2.5,
            "reopen_status_id": 2, "client_replied_status_id": 8,
            "idempotency_field_id": 4, "resolution_field_id": 5,
            "priority_ids": [1, 2, 3, 4], "webhook_secret": "s3cret",
            "statuses": {"8": "client_replied", "Ждём поставщика": "waiting_third_party"},
        })))
        .expect("valid");
        assert_eq!(config.url, "https://example.com/redmine");
        assert_eq!(config.project_id, ProjectRef::Id(7));
        assert_eq!(config.tracker_id, Some(3));
        assert_eq!(config.requests_per_second, 2.5);
        assert_eq!(config.priority_ids, Some(vec![1, 2, 3, 4]));
        assert_eq!(
            config.statuses.class_of(8, "whatever"),
            Some(StatusClass::ClientReplied)
        );
        assert_eq!(
            config.statuses.class_of(99, "ждём ПОСТАВЩИКА"),
            Some(StatusClass::WaitingThirdParty)
        );
    }

    #[test]
    fn default_status_names_map_in_english_and_russian() {
        let map = StatusMap::default();
        assert_eq!(map.class_of(1, "New"), Some(StatusClass::New));
        assert_eq!(
            map.class_of(4, "Feedback"),
            Some(StatusClass::WaitingClient)
        );
        assert_eq!(map.class_of(6, "Rejected"), Some(StatusClass::Closed));
        assert_eq!(map.class_of(3, "Решена"), Some(StatusClass::Resolved));
        assert_eq!(map.class_of(9, "Custom"), None);
    }

    #[test]
    fn config_ids_win_over_names() {
        let config = RedmineConfig::from_table(&with(json!({
            "statuses": {"4": "waiting_third_party", "feedback": "in_progress"},
        })))
        .expect("valid");
        assert_eq!(
            config.statuses.class_of(4, "Feedback"),
            Some(StatusClass::WaitingThirdParty)
        );
        assert_eq!(
            config.statuses.class_of(40, "Feedback"),
            Some(StatusClass::InProgress)
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = RedmineConfig::from_table(&with(json!({"webhook_secret": "hook-secret"})))
            .expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
        assert!(!printed.contains("hook-secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn empty_table_reports_every_required_key() {
        let p = problems(&table(json!({"kind": "redmine"})));
        assert_eq!(keys(&p), ["url", "api_key", "project_id"]);
    }

    #[test]
    fn unknown_key_names_the_expected_ones() {
        let p = problems(&with(json!({"token": "x"})));
        assert_eq!(keys(&p), ["token"]);
        assert!(
            p[0].problem
                .to_string()
                .contains("expected one of url, api_key")
        );
    }

    #[test]
    fn url_must_be_a_root_address() {
        for bad in [
            "redmine.example.com",
            "https:///x",
            "https://r.example.com/issues.json",
            "https://r.example.com/?key=1",
        ] {
            assert_eq!(
                keys(&problems(&with(json!({ "url": bad })))),
                ["url"],
                "{bad}"
            );
        }
        let ok = RedmineConfig::from_table(&with(json!({"url": "http://127.0.0.1:3000"})))
            .expect("plain http for local servers");
        assert_eq!(ok.url, "http://127.0.0.1:3000");
    }

    #[test]
    fn project_is_an_id_or_an_identifier() {
        for bad in [
            json!(0),
            json!("Support Desk"),
            json!("-x"),
            json!(true),
            json!(1.5),
        ] {
            assert_eq!(
                keys(&problems(&with(json!({ "project_id": bad })))),
                ["project_id"],
                "{bad}"
            );
        }
        let c = RedmineConfig::from_table(&with(json!({"project_id": "12"}))).expect("ok");
        assert_eq!(c.project_id, ProjectRef::Id(12));
        assert_eq!(c.project_id.to_json(), json!(12));
        let c =
            RedmineConfig::from_table(&with(json!({"project_id": "ci-support_2"}))).expect("ok");
        assert_eq!(c.project_id.to_json(), json!("ci-support_2"));
    }

    #[test]
    fn ids_must_be_positive_integers() {
        let p = problems(&with(json!({
            "tracker_id": 0, "reopen_status_id": "2", "client_replied_status_id": -1,
            "idempotency_field_id": 1.5, "resolution_field_id": [1], "priority_id": {},
        })));
        assert_eq!(
            keys(&p),
            [
                "tracker_id",
                "priority_id",
                "reopen_status_id",
                "client_replied_status_id",
                "idempotency_field_id",
                "resolution_field_id"
            ]
        );
    }

    #[test]
    fn one_custom_field_cannot_hold_key_and_resolution() {
        let p = problems(&with(
            json!({"idempotency_field_id": 4, "resolution_field_id": 4}),
        ));
        assert_eq!(keys(&p), ["resolution_field_id"]);
    }

    #[test]
    fn priority_ids_need_two_distinct_positive_ids() {
        for bad in [
            json!([3]),
            json!([1, 1]),
            json!([1, "2"]),
            json!("1,2"),
            json!([0, 1]),
        ] {
            assert_eq!(
                keys(&problems(&with(json!({ "priority_ids": bad })))),
                ["priority_ids"],
                "{bad}"
            );
        }
    }

    #[test]
    fn requests_per_second_is_bounded() {
        for bad in [json!(0), json!(-1), json!(101), json!("fast")] {
            let p = problems(&with(json!({ "requests_per_second": bad })));
            assert_eq!(keys(&p), ["requests_per_second"], "{bad}");
        }
    }

    #[test]
    fn statuses_need_ids_or_names_and_known_classes() {
        let p = problems(&with(json!({
            "statuses": {"0": "new", "5": "solved", "Готово": "done", "In Review": "resolved"},
        })));
        assert_eq!(keys(&p), ["statuses.0", "statuses.5", "statuses.Готово"]);
        assert!(p[1].problem.to_string().contains("waiting_third_party"));
        assert_eq!(
            keys(&problems(&with(json!({"statuses": ["new"]})))),
            ["statuses"]
        );
    }

    #[test]
    fn secrets_must_be_non_empty_strings() {
        let p = problems(&with(json!({"api_key": "", "webhook_secret": 5})));
        assert_eq!(keys(&p), ["api_key", "webhook_secret"]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&table(json!({
            "kind": "redmine", "url": "ftp://x", "projekt": 1, "tracker_id": -5,
            "requests_per_second": 1000, "statuses": {"1": "bogus"},
        })));
        assert_eq!(
            keys(&p),
            [
                "projekt",
                "url",
                "api_key",
                "project_id",
                "tracker_id",
                "requests_per_second",
                "statuses.1"
            ]
        );
    }

    #[test]
    fn ticket_defaults_accept_every_key() {
        let d = TicketDefaults::from_table(&table(json!({
            "project_id": "billing", "tracker_id": 3, "priority_id": 4, "category_id": 2,
            "assigned_to_id": 7,
            "custom_fields": {"1": "VIP", "2": 3, "3": true, "4": ["a", "b"]},
        })))
        .expect("valid");
        assert_eq!(d.project_id, Some(ProjectRef::Identifier("billing".into())));
        assert_eq!(d.custom_fields.len(), 4);
        assert_eq!(d.custom_fields[&2], json!("3"));
        assert_eq!(d.custom_fields[&3], json!("1"));
    }

    #[test]
    fn ticket_defaults_may_be_empty() {
        assert_eq!(
            TicketDefaults::from_table(&ConfigTable::new()).expect("valid"),
            TicketDefaults::default()
        );
    }

    #[test]
    fn ticket_defaults_reject_unknown_keys_and_bad_values() {
        let p = TicketDefaults::from_table(&table(json!({
            "queue": "x", "tracker_id": "bug", "custom_fields": {"vip": 1, "4": {}, "5": [1]},
        })))
        .expect_err("invalid");
        assert_eq!(
            keys(&p),
            [
                "queue",
                "tracker_id",
                "custom_fields.4",
                "custom_fields.5",
                "custom_fields.vip"
            ]
        );
    }

    #[test]
    fn ticket_defaults_category_needs_a_project() {
        let p = TicketDefaults::from_table(&table(json!({"category_id": 2}))).expect_err("invalid");
        assert_eq!(keys(&p), ["category_id"]);
    }

    #[test]
    fn ticket_defaults_custom_fields_must_be_a_table() {
        let p =
            TicketDefaults::from_table(&table(json!({"custom_fields": "x"}))).expect_err("invalid");
        assert_eq!(keys(&p), ["custom_fields"]);
    }
}
