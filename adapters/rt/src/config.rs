//! The `[helpdesks.<name>]` table of kind `rt` and a chat's `[chats.ticket]` table.
//!
//! Both are read by hand from the JSON map the daemon hands over, so that every problem in a table
//! is reported at once, each named by its key.

use teledesk_adapter::{
    Address, ConfigProblem, ConfigTable, DAEMON_KEYS, Dependency, FieldKeyForm, FieldValueForm,
    Problem, Secret, StatusClass, StatusKeyForm, TableReader,
};

/// RT has no rate limit of its own; this keeps one daemon from crowding out the web UI.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 10.0;
/// Above this, pacing stops meaning anything for a single RT server.
pub const MAX_REQUESTS_PER_SECOND: f64 = 200.0;
/// RT 5's default lifecycle state teledesk's reopen moves a ticket to.
pub const DEFAULT_REOPEN_STATUS: &str = "open";

/// RT 5's default lifecycle (`new`; active `open`, `stalled`; inactive `resolved`, `rejected`,
/// `deleted`) and the class each state shows as in Telegram, in lifecycle order.
///
/// `stalled` is "waiting for the client": RT 5 no longer reopens stalled tickets on
/// correspondence, so teledesk moves them back to `open` itself when the client writes
/// (`client_replied`), which is what RT 3's AutoOpen did.
pub const DEFAULT_STATUSES: [(&str, StatusClass); 6] = [
    ("new", StatusClass::New),
    ("open", StatusClass::InProgress),
    ("stalled", StatusClass::WaitingClient),
    ("resolved", StatusClass::Resolved),
    ("rejected", StatusClass::Closed),
    ("deleted", StatusClass::Closed),
];

/// RT 5's default `%PriorityAsString` (`Low => 0, Medium => 50, High => 100`).
pub const DEFAULT_PRIORITIES: [(&str, i64); 3] = [("Low", 0), ("Medium", 50), ("High", 100)];

const HELPDESK_KEYS: [&str; 13] = [
    "url",
    "token",
    "user",
    "queue",
    "requestor",
    "requests_per_second",
    "statuses",
    "idempotency_field",
    "resolution_field",
    "chat_field",
    "announcement_field",
    "reopen_status",
    "priorities",
];

const TICKET_KEYS: [&str; 5] = ["queue", "priority", "owner", "requestor", "custom_fields"];

/// A validated `[helpdesks.<name>]` table of kind `rt`.
///
/// `Debug` is safe to log: the token is a [`Secret`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RtConfig {
    /// RT's web address without a trailing slash (`https://rt.example.com` or
    /// `https://example.com/rt`); REST2 lives under `/REST/2.0`.
    pub url: String,
    /// The integration user's auth token (`1-<user id>-<secret>`, RT → Settings → Auth Tokens).
    pub token: Secret,
    /// The token owner's login or numeric id, when the token is not in RT's `1-<id>-<hex>` form.
    pub user: Option<String>,
    /// The queue new tickets go to (name or id); a chat's `queue` overrides it.
    pub queue: String,
    /// Requestor addresses of new tickets (RT e-mails them); none by default, since Telegram
    /// users have no address.
    pub requestor: Vec<String>,
    /// Client-side pacing.
    pub requests_per_second: f64,
    /// RT status → class, in lifecycle order: [`DEFAULT_STATUSES`] overlaid with the table.
    pub statuses: Vec<(String, StatusClass)>,
    /// A ticket custom field (applied to the queues used) that holds teledesk's idempotency key.
    pub idempotency_field: Option<String>,
    /// A ticket custom field holding the resolution text.
    pub resolution_field: Option<String>,
    /// A ticket custom field staff fill in to address a ticket they create to a Telegram chat
    /// (its id or configured name): teledesk publishes it there.
    pub chat_field: Option<String>,
    /// A ticket custom field that marks such a ticket as an announcement when it holds `1`,
    /// `yes` or `true`.
    pub announcement_field: Option<String>,
    /// The status `reopen` (and a client's reply to a waiting ticket) moves a ticket to.
    pub reopen_status: String,
    /// Priority label → value, ascending by value; escalation moves to the next one up.
    pub priorities: Vec<(String, i64)>,
}

impl RtConfig {
    /// Reads and validates a whole `[helpdesks.<name>]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&HELPDESK_KEYS, DAEMON_KEYS);
        let url = r.base_url("url", Address::RtWeb, |url| {
            !url.to_ascii_lowercase().contains("/rest/")
        });
        let token = r.required("token", |r| r.non_empty_string("token"));
        let user = r.non_empty_string("user");
        if let Some(token) = &token
            && user.is_none()
            && token_user_id(token).is_none()
        {
            r.problem("token", Problem::RtToken);
        }
        let queue = r.required("queue", |r| name(r, "queue"));
        let requestor = addresses(&mut r, "requestor");
        let requests_per_second =
            r.requests_per_second("requests_per_second", MAX_REQUESTS_PER_SECOND, None);
        let statuses = statuses(&mut r, "statuses");
        let idempotency_field = name(&mut r, "idempotency_field");
        let resolution_field = name(&mut r, "resolution_field");
        let chat_field = name(&mut r, "chat_field");
        let announcement_field = name(&mut r, "announcement_field");
        if announcement_field.is_some() && chat_field.is_none() {
            r.problem(
                "announcement_field",
                Problem::Needs {
                    other: "chat_field".into(),
                    why: Dependency::AnnouncementNeedsChat { issue: false },
                },
            );
        }
        let reopen_status = name(&mut r, "reopen_status");
        let priorities = priorities(&mut r, "priorities");
        if let Some(reopen) = &reopen_status
            && let Some((_, class)) = statuses.iter().find(|(s, _)| s == reopen)
            && class.is_done()
        {
            r.problem(
                "reopen_status",
                Problem::ReopenToDone {
                    status: reopen.clone(),
                    class: class.to_string(),
                },
            );
        }
        match (url, token, queue) {
            (Some(url), Some(token), Some(queue)) if r.is_clean() => Ok(Self {
                url,
                token: Secret::new(token),
                user,
                queue,
                requestor,
                requests_per_second: requests_per_second.unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
                statuses,
                idempotency_field,
                resolution_field,
                chat_field,
                announcement_field,
                reopen_status: reopen_status.unwrap_or_else(|| DEFAULT_REOPEN_STATUS.to_owned()),
                priorities,
            }),
            _ => Err(r.into_problems()),
        }
    }

    /// The REST2 base (`<url>/REST/2.0`).
    pub fn api_base(&self) -> String {
        format!("{}/REST/2.0", self.url)
    }

    /// The class of an RT status; statuses of custom lifecycles that are not listed count as
    /// active work.
    pub fn class_of(&self, status: &str) -> StatusClass {
        self.statuses
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(status))
            .map_or(StatusClass::InProgress, |(_, class)| *class)
    }

    /// The first RT status (in lifecycle order) that maps to `class`.
    pub fn status_for(&self, class: StatusClass) -> Option<&str> {
        self.statuses
            .iter()
            .find(|(_, c)| *c == class)
            .map(|(s, _)| s.as_str())
    }

    /// The value of a priority label (case-insensitive).
    pub fn priority_value(&self, label: &str) -> Option<i64> {
        self.priorities
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(label))
            .map(|(_, value)| *value)
    }

    /// How a priority value is named: its label when it is one of `priorities`, else the number.
    pub fn priority_label(&self, value: i64) -> String {
        self.priorities
            .iter()
            .find(|(_, v)| *v == value)
            .map_or_else(|| value.to_string(), |(name, _)| name.clone())
    }
}

/// The user id in an RT auth token (`1-<user id>-<32 hex>`, RT::AuthToken's version 1 format).
pub fn token_user_id(token: &str) -> Option<i64> {
    let mut parts = token.splitn(3, '-');
    let version = parts.next()?;
    let user = parts.next()?;
    let secret = parts.next()?;
    let ok = version == "1"
        && secret.len() == 32
        && secret.bytes().all(|b| b.is_ascii_hexdigit())
        && !user.is_empty()
        && user.bytes().all(|b| b.is_ascii_digit());
    if ok { user.parse().ok() } else { None }
}

/// A priority as a chat's `[chats.ticket]` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Priority {
    /// A number, sent as is.
    Value(i64),
    /// A label of the helpdesk's `priorities` (RT's create call stores labels verbatim, so the
    /// adapter turns it into its number).
    Label(String),
}

/// A validated `[chats.ticket]` table: per-chat defaults of new tickets.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TicketDefaults {
    /// Queue (name or id).
    pub queue: Option<String>,
    /// Initial priority.
    pub priority: Option<Priority>,
    /// Owner (login).
    pub owner: Option<String>,
    /// Requestor addresses, replacing the helpdesk's.
    pub requestor: Option<Vec<String>>,
    /// Ticket custom fields (name → value or values) set on every ticket.
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

impl TicketDefaults {
    /// Reads and validates a `[chats.ticket]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&TICKET_KEYS, &[]);
        let defaults = Self {
            queue: name(&mut r, "queue"),
            priority: priority(&mut r, "priority"),
            owner: name(&mut r, "owner"),
            requestor: table
                .contains_key("requestor")
                .then(|| addresses(&mut r, "requestor")),
            custom_fields: custom_fields(&mut r, "custom_fields"),
        };
        r.finish(defaults)
    }
}

/// An RT object name (queue, status, custom field, user): a non-empty single-line string.
fn name(r: &mut TableReader<'_>, key: &str) -> Option<String> {
    let text = r.non_empty_string(key)?;
    if text.contains(['\n', '\r']) {
        r.problem(key, Problem::NotOneLine);
        return None;
    }
    Some(text)
}

/// One e-mail address or a list of them.
fn addresses(r: &mut TableReader<'_>, key: &str) -> Vec<String> {
    let Some(value) = r.get(key) else {
        return Vec::new();
    };
    let items: Vec<&serde_json::Value> = match value {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut addresses = Vec::new();
    for item in items {
        match item.as_str().map(str::trim) {
            Some(address) if looks_like_address(address) => addresses.push(address.to_owned()),
            _ => {
                r.problem(key, Problem::EmailList);
                return Vec::new();
            }
        }
    }
    addresses
}

fn statuses(r: &mut TableReader<'_>, key: &str) -> Vec<(String, StatusClass)> {
    let mut statuses: Vec<(String, StatusClass)> = DEFAULT_STATUSES
        .iter()
        .map(|(s, c)| ((*s).to_owned(), *c))
        .collect();
    let Some(map) = r.table_of(key, "\"<RT status>\" = \"<status class>\"") else {
        return statuses;
    };
    for (status, class) in map {
        let entry = format!("{key}.{status}");
        // Not `TableReader::statuses`: names merge case-insensitively into the lifecycle order,
        // and a bad name is reported alone.
        if status.trim().is_empty() || status.contains(['\n', '\r', '\'']) {
            r.problem(
                entry,
                Problem::StatusKey {
                    must_be: StatusKeyForm::RtStatus,
                },
            );
            continue;
        }
        let Some(class) = r.status_class(&entry, class) else {
            continue;
        };
        match statuses
            .iter_mut()
            .find(|(s, _)| s.eq_ignore_ascii_case(status))
        {
            Some(known) => known.1 = class,
            None => statuses.push((status.clone(), class)),
        }
    }
    statuses
}

fn priorities(r: &mut TableReader<'_>, key: &str) -> Vec<(String, i64)> {
    let defaults = || {
        DEFAULT_PRIORITIES
            .iter()
            .map(|(n, v)| ((*n).to_owned(), *v))
            .collect()
    };
    let Some(value) = r.get(key) else {
        return defaults();
    };
    let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
        r.problem(
            key,
            Problem::FieldValue {
                may_be: FieldValueForm::PriorityTable,
            },
        );
        return defaults();
    };
    let mut priorities: Vec<(String, i64)> = Vec::new();
    for (label, value) in map {
        let entry = format!("{key}.{label}");
        match value.as_i64() {
            Some(v) if v >= 0 => {
                if priorities.iter().any(|(_, other)| *other == v) {
                    r.problem(
                        entry,
                        Problem::FieldValue {
                            may_be: FieldValueForm::DistinctNumbers,
                        },
                    );
                } else {
                    priorities.push((label.clone(), v));
                }
            }
            _ => r.problem(
                entry,
                Problem::FieldValue {
                    may_be: FieldValueForm::WholeNumber,
                },
            ),
        }
    }
    priorities.sort_by_key(|(_, v)| *v);
    priorities
}

fn priority(r: &mut TableReader<'_>, key: &str) -> Option<Priority> {
    match r.get(key)? {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(v) if v >= 0 => Some(Priority::Value(v)),
            _ => {
                r.problem(key, Problem::PriorityValue);
                None
            }
        },
        serde_json::Value::String(_) => name(r, key).map(Priority::Label),
        _ => {
            r.problem(key, Problem::PriorityValue);
            None
        }
    }
}

fn custom_fields(r: &mut TableReader<'_>, key: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    let Some(map) = r.table_of(key, "\"<custom field name>\" = value") else {
        return fields;
    };
    for (name, value) in map {
        let entry = format!("{key}.{name}");
        let scalar = |v: &serde_json::Value| {
            matches!(
                v,
                serde_json::Value::String(_) | serde_json::Value::Number(_)
            )
        };
        let ok = match value {
            serde_json::Value::Array(items) => !items.is_empty() && items.iter().all(scalar),
            other => scalar(other),
        };
        if name.trim().is_empty() {
            r.problem(
                entry,
                Problem::FieldKey {
                    must_be: FieldKeyForm::CustomFieldName,
                },
            );
        } else if ok {
            fields.insert(name.clone(), value.clone());
        } else {
            r.problem(
                entry,
                Problem::FieldValue {
                    may_be: FieldValueForm::StringsOrNumbers,
                },
            );
        }
    }
    fields
}

fn looks_like_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(char::is_whitespace)
        && !text.contains([',', '<', '>'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "1-14-e64463c7d8021d4e80672911497f575c";

    fn table(value: serde_json::Value) -> ConfigTable {
        value.as_object().expect("a table").clone()
    }

    fn minimal() -> serde_json::Value {
        json!({
            "kind": "rt",
            "poll_interval": "30s",
            "url": "https://rt.example.com/",
            "token": TOKEN,
            "queue": "Support",
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
        RtConfig::from_table(t).expect_err("invalid")
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let config = RtConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(config.url, "https://rt.example.com");
        assert_eq!(config.api_base(), "https://rt.example.com/REST/2.0");
        assert_eq!(config.queue, "Support");
        assert_eq!(config.reopen_status, "open");
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert!(config.requestor.is_empty());
        assert_eq!(config.statuses.len(), 6);
        assert_eq!(config.class_of("stalled"), StatusClass::WaitingClient);
        assert_eq!(config.class_of("Resolved"), StatusClass::Resolved);
        assert_eq!(config.class_of("deleted"), StatusClass::Closed);
        // A state of a custom lifecycle nobody mapped is active work.
        assert_eq!(config.class_of("escalated"), StatusClass::InProgress);
        assert_eq!(config.status_for(StatusClass::Closed), Some("rejected"));
        assert_eq!(config.status_for(StatusClass::ClientReplied), None);
        assert_eq!(config.priority_label(50), "Medium");
        assert_eq!(config.priority_label(30), "30");
        assert_eq!(config.priority_value("high"), Some(100));
    }

    #[test]
    fn full_table_is_accepted() {
        let config = RtConfig::from_table(&with(json!({
            "user": "teledesk",
            "requestor": ["help@acme.example", "it@acme.example"],
            "requests_per_second": 5,
            "statuses": {"stalled": "waiting_third_party", "feedback": "waiting_client"},
            "idempotency_field": "Telegram key",
            "resolution_field": "Resolution",
            "reopen_status": "open",
            "priorities": {"Low": 0, "Normal": 30, "Urgent": 90},
        })))
        .expect("valid");
        assert_eq!(config.user.as_deref(), Some("teledesk"));
        assert_eq!(config.requestor.len(), 2);
        assert_eq!(config.class_of("stalled"), StatusClass::WaitingThirdParty);
        assert_eq!(config.class_of("feedback"), StatusClass::WaitingClient);
        assert_eq!(
            config.status_for(StatusClass::WaitingClient),
            Some("feedback")
        );
        assert_eq!(
            config.priorities,
            [
                ("Low".to_owned(), 0),
                ("Normal".to_owned(), 30),
                ("Urgent".to_owned(), 90)
            ]
        );
        assert_eq!(config.idempotency_field.as_deref(), Some("Telegram key"));
    }

    #[test]
    fn debug_redacts_the_token() {
        let config = RtConfig::from_table(&table(minimal())).expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("e64463c7"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn token_user_is_read_from_rts_token_format() {
        assert_eq!(token_user_id(TOKEN), Some(14));
        assert_eq!(token_user_id("2-14-e64463c7d8021d4e80672911497f575c"), None);
        assert_eq!(token_user_id("1-x-e64463c7d8021d4e80672911497f575c"), None);
        assert_eq!(token_user_id("1-14-short"), None);
        assert_eq!(token_user_id("opaque"), None);
    }

    #[test]
    fn an_opaque_token_needs_the_user() {
        let p = problems(&with(json!({"token": "opaque-secret"})));
        assert_eq!(keys(&p), ["token"]);
        assert!(p[0].problem.to_string().contains("user"));
        let config = RtConfig::from_table(&with(json!({"token": "opaque-secret", "user": "bot"})))
            .expect("valid");
        assert_eq!(config.user.as_deref(), Some("bot"));
    }

    #[test]
    fn empty_table_reports_every_required_key() {
        let p = problems(&table(json!({"kind": "rt"})));
        assert_eq!(keys(&p), ["url", "token", "queue"]);
    }

    #[test]
    fn unknown_key_names_the_expected_ones() {
        let p = problems(&with(json!({"queu": "x"})));
        assert_eq!(keys(&p), ["queu"]);
        assert!(
            p[0].problem
                .to_string()
                .contains("expected one of url, token, user, queue")
        );
    }

    #[test]
    fn url_must_be_the_web_address() {
        for bad in [
            "rt.example.com",
            "https://rt.example.com/REST/2.0",
            "https:///rt",
            "https://rt.example.com/?x=1",
        ] {
            assert_eq!(
                keys(&problems(&with(json!({ "url": bad })))),
                ["url"],
                "{bad}"
            );
        }
        let config =
            RtConfig::from_table(&with(json!({"url": "http://127.0.0.1:8091/rt/"}))).expect("ok");
        assert_eq!(config.api_base(), "http://127.0.0.1:8091/rt/REST/2.0");
    }

    #[test]
    fn requestor_must_be_addresses() {
        assert_eq!(
            keys(&problems(&with(json!({"requestor": "nobody"})))),
            ["requestor"]
        );
        assert_eq!(
            keys(&problems(&with(json!({"requestor": ["a@b.example", 5]})))),
            ["requestor"]
        );
        let config =
            RtConfig::from_table(&with(json!({"requestor": "help@acme.example"}))).expect("ok");
        assert_eq!(config.requestor, ["help@acme.example"]);
    }

    #[test]
    fn requests_per_second_must_be_positive() {
        for bad in [json!(0), json!(-1), json!(500), json!("fast")] {
            let p = problems(&with(json!({ "requests_per_second": bad })));
            assert_eq!(keys(&p), ["requests_per_second"], "{bad}");
        }
    }

    #[test]
    fn statuses_need_known_classes() {
        let p = problems(&with(json!({
            "statuses": {"open": "working", "": "new", "feedback": "waiting_client"},
        })));
        assert_eq!(keys(&p), ["statuses.", "statuses.open"]);
        assert!(p[1].problem.to_string().contains("waiting_third_party"));
        assert_eq!(
            keys(&problems(&with(json!({"statuses": "new"})))),
            ["statuses"]
        );
    }

    #[test]
    fn reopen_status_must_not_be_done() {
        let p = problems(&with(json!({"reopen_status": "resolved"})));
        assert_eq!(keys(&p), ["reopen_status"]);
    }

    #[test]
    fn priorities_need_distinct_whole_numbers() {
        let p = problems(&with(
            json!({"priorities": {"Low": 0, "Zero": 0, "Bad": -1, "X": "y"}}),
        ));
        assert_eq!(
            keys(&p),
            ["priorities.Bad", "priorities.X", "priorities.Zero"]
        );
        assert_eq!(
            keys(&problems(&with(json!({"priorities": {}})))),
            ["priorities"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&table(json!({
            "kind": "rt", "url": "ftp://x", "extra": 1, "queue": "",
            "requests_per_second": 0, "statuses": {"new": "bogus"},
        })));
        assert_eq!(
            keys(&p),
            [
                "extra",
                "url",
                "token",
                "queue",
                "requests_per_second",
                "statuses.new"
            ]
        );
    }

    #[test]
    fn ticket_defaults_accept_every_key() {
        let d = TicketDefaults::from_table(&table(json!({
            "queue": "Acme", "priority": "High", "owner": "maria",
            "requestor": "it@acme.example",
            "custom_fields": {"Company": "Acme", "Tags": ["a", "b"], "Level": 2},
        })))
        .expect("valid");
        assert_eq!(d.queue.as_deref(), Some("Acme"));
        assert_eq!(d.priority, Some(Priority::Label("High".into())));
        assert_eq!(d.requestor, Some(vec!["it@acme.example".to_owned()]));
        assert_eq!(d.custom_fields.len(), 3);
        let d = TicketDefaults::from_table(&table(json!({"priority": 20}))).expect("valid");
        assert_eq!(d.priority, Some(Priority::Value(20)));
    }

    #[test]
    fn ticket_defaults_may_be_empty() {
        assert_eq!(
            TicketDefaults::from_table(&ConfigTable::new()).expect("valid"),
            TicketDefaults::default()
        );
    }

    #[test]
    fn ticket_defaults_report_every_problem() {
        let p = TicketDefaults::from_table(&table(json!({
            "board_id": 1, "queue": "", "priority": -3, "owner": 5, "requestor": "x",
            "custom_fields": {"A": {"b": 1}, "B": [], "C": "ok"},
        })))
        .expect_err("invalid");
        assert_eq!(
            keys(&p),
            [
                "board_id",
                "queue",
                "priority",
                "owner",
                "requestor",
                "custom_fields.A",
                "custom_fields.B"
            ]
        );
    }
}
