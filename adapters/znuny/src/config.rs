//! The `[helpdesks.<name>]` table of kind `znuny` and a chat's `[chats.ticket]` table.
//!
//! Both are read by hand from the JSON map the daemon hands over, so that every problem in a table
//! is reported at once, each named by its key.

use std::collections::BTreeMap;
use teledesk_adapter::{
    Address, ConfigProblem, ConfigTable, DAEMON_KEYS, Dependency, FieldKeyForm, FieldValueForm,
    OffsetOf, PriorityListFlaw, Problem, Secret, StatusClass, StatusKeyForm, TableReader,
};
use time::UtcOffset;

/// `+HH:MM` / `-HH:MM`.
pub use teledesk_adapter::parse_utc_offset as parse_offset;

/// Znuny has no request limit of its own, but every Generic Interface call is a Perl process
/// doing database work; five a second keeps a small installation responsive.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 5.0;
/// Above this the pacing is no protection at all; a typo like `500` is more likely than intent.
pub const MAX_REQUESTS_PER_SECOND: f64 = 100.0;
/// Znuny's default priorities, lowest first.
pub const DEFAULT_PRIORITIES: [&str; 5] =
    ["1 very low", "2 low", "3 normal", "4 high", "5 very high"];
/// Znuny's default priority of new tickets.
pub const DEFAULT_PRIORITY: &str = "3 normal";

/// The default map of Znuny's default states (see the README for why each lands where it does).
pub const DEFAULT_STATUSES: [(&str, StatusClass); 9] = [
    ("new", StatusClass::New),
    ("open", StatusClass::InProgress),
    ("pending reminder", StatusClass::WaitingClient),
    ("pending auto close+", StatusClass::Resolved),
    ("pending auto close-", StatusClass::WaitingClient),
    ("closed successful", StatusClass::Closed),
    ("closed unsuccessful", StatusClass::Closed),
    ("merged", StatusClass::Closed),
    ("removed", StatusClass::Closed),
];

const HELPDESK_KEYS: [&str; 17] = [
    "url",
    "user",
    "password",
    "queue",
    "customer_user",
    "type",
    "priority",
    "service",
    "requests_per_second",
    "statuses",
    "idempotency_field",
    "resolution_field",
    "priorities",
    "timezone",
    "webhook_secret",
    "chat_field",
    "announcement_field",
];

const TICKET_KEYS: [&str; 6] = [
    "queue",
    "type",
    "priority",
    "service",
    "customer_user",
    "dynamic_fields",
];

/// A validated `[helpdesks.<name>]` table of kind `znuny`.
///
/// `Debug` is safe to log: the password and the webhook secret are [`Secret`]s.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ZnunyConfig {
    /// The web service base, without a trailing slash
    /// (`https://host/otrs/nph-genericinterface.pl/Webservice/teledesk`); routes are appended.
    pub url: String,
    /// The integration agent's login.
    pub user: String,
    /// The integration agent's password, sent only to `POST /Session`.
    pub password: Secret,
    /// The queue new tickets go to.
    pub queue: String,
    /// `Ticket.CustomerUser` of new tickets: a customer user login (or e-mail) standing for every
    /// Telegram client, since they have no Znuny account.
    pub customer_user: String,
    /// The ticket type of new tickets (required by Znuny when `Ticket::Type` is on).
    pub ticket_type: Option<String>,
    /// The priority of new tickets.
    pub priority: String,
    /// The service of new tickets.
    pub service: Option<String>,
    /// Client-side pacing.
    pub requests_per_second: f64,
    /// State name → class overrides, merged over [`DEFAULT_STATUSES`].
    pub statuses: BTreeMap<String, StatusClass>,
    /// A ticket dynamic field (Text) holding the idempotency key; without it the key lives only as
    /// a marker in the first article.
    pub idempotency_field: Option<String>,
    /// A ticket dynamic field staff fill with the resolution text.
    pub resolution_field: Option<String>,
    /// A ticket dynamic field (Text or Dropdown) staff fill with the chat's Telegram id or name
    /// to publish a ticket they start in that chat (issue 14.3); without it staff cannot.
    pub chat_field: Option<String>,
    /// A ticket dynamic field (Checkbox) that marks such a ticket as an announcement.
    pub announcement_field: Option<String>,
    /// The priority ladder escalation climbs, lowest first.
    pub priorities: Vec<String>,
    /// The fixed UTC offset of the server's `OTRSTimeZone`: Znuny sends and expects naive local
    /// times (`2026-11-21 14:58:00`).
    pub timezone: UtcOffset,
    /// The shared secret Znuny's web service requester sends as HTTP Basic auth password on
    /// webhooks; without it webhooks are refused.
    pub webhook_secret: Option<Secret>,
}

impl ZnunyConfig {
    /// Reads and validates a whole `[helpdesks.<name>]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&HELPDESK_KEYS, DAEMON_KEYS);
        let url = web_service_url(&mut r, "url");
        let user = r.required("user", |r| r.non_empty_string("user"));
        let password = r.required("password", |r| r.non_empty_string("password"));
        let queue = r.required("queue", |r| r.non_empty_string("queue"));
        let customer_user = r.required("customer_user", |r| r.non_empty_string("customer_user"));
        let ticket_type = r.non_empty_string("type");
        let priority = r.non_empty_string("priority");
        let service = r.non_empty_string("service");
        let requests_per_second =
            r.requests_per_second("requests_per_second", MAX_REQUESTS_PER_SECOND, None);
        let statuses = r
            .statuses("statuses", "<state name>", |state| {
                if state.trim().is_empty() {
                    Err(Problem::StatusKey {
                        must_be: StatusKeyForm::StateName { vendor: "Znuny" },
                    })
                } else {
                    Ok(state.to_owned())
                }
            })
            .into_iter()
            .collect();
        let idempotency_field = r.checked_string("idempotency_field", check_field_name);
        let resolution_field = r.checked_string("resolution_field", check_field_name);
        let chat_field = r.checked_string("chat_field", check_field_name);
        let announcement_field = r.checked_string("announcement_field", check_field_name);
        let priorities = priorities(&mut r, "priorities");
        let timezone = timezone(&mut r, "timezone");
        let webhook_secret = r.non_empty_string("webhook_secret");

        let priorities = priorities
            .unwrap_or_else(|| DEFAULT_PRIORITIES.iter().map(|p| (*p).to_owned()).collect());
        let priority = match priority {
            Some(priority) => Some(priority),
            None if r.has_problem("priority") => None,
            None if priorities.iter().any(|p| p == DEFAULT_PRIORITY) => {
                Some(DEFAULT_PRIORITY.to_owned())
            }
            // A custom ladder without "3 normal": its middle rung is the natural default.
            None => priorities.get(priorities.len() / 2).cloned(),
        };
        if let Some(priority) = &priority
            && !r.has_problem("priorities")
            && !priorities.contains(priority)
        {
            r.problem(
                "priority",
                Problem::PriorityNotListed {
                    priority: priority.clone(),
                    listed: priorities.clone(),
                },
            );
        }
        if idempotency_field.is_some() && idempotency_field == resolution_field {
            r.problem(
                "resolution_field",
                Problem::SameFieldAs {
                    other: "idempotency_field".into(),
                },
            );
        }
        if announcement_field.is_some() && chat_field.is_none() && !r.has_problem("chat_field") {
            r.problem(
                "announcement_field",
                Problem::Needs {
                    other: "chat_field".into(),
                    why: Dependency::AnnouncementNeedsChat { issue: false },
                },
            );
        }
        // One field cannot hold two things: the chat would be overwritten by a key or a
        // resolution, or a checkbox read as a chat.
        for (key, field) in [
            ("chat_field", &chat_field),
            ("announcement_field", &announcement_field),
        ] {
            let taken = [
                ("idempotency_field", &idempotency_field),
                ("resolution_field", &resolution_field),
                ("chat_field", &chat_field),
            ]
            .into_iter()
            .take_while(|(other, _)| *other != key)
            .find(|(_, other)| field.is_some() && *other == field);
            if let Some((other, _)) = taken {
                r.problem(
                    key,
                    Problem::SameFieldAs {
                        other: other.to_string(),
                    },
                );
            }
        }
        match (url, user, password, queue, customer_user, priority) {
            (
                Some(url),
                Some(user),
                Some(password),
                Some(queue),
                Some(customer_user),
                Some(priority),
            ) if r.is_clean() => Ok(Self {
                url,
                user,
                password: Secret::new(password),
                queue,
                customer_user,
                ticket_type,
                priority,
                service,
                requests_per_second: requests_per_second.unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
                statuses,
                idempotency_field,
                resolution_field,
                chat_field,
                announcement_field,
                priorities,
                timezone: timezone.unwrap_or(UtcOffset::UTC),
                webhook_secret: webhook_secret.map(Secret::new),
            }),
            _ => Err(r.into_problems()),
        }
    }

    /// The class of a state name, by the configured map over the defaults; `None` for a state
    /// neither knows.
    pub fn class_of(&self, state: &str) -> Option<StatusClass> {
        self.statuses.get(state).copied().or_else(|| {
            DEFAULT_STATUSES
                .iter()
                .find(|(name, _)| *name == state)
                .map(|(_, class)| *class)
        })
    }

    /// The state to set for a class: states the admin mapped to it first (by name), then the
    /// default states in their listed order; a state only counts while it still maps to `class`.
    pub fn state_for(&self, class: StatusClass) -> Option<&str> {
        let configured = self
            .statuses
            .iter()
            .filter(|(_, c)| **c == class)
            .map(|(name, _)| name.as_str());
        let defaults = DEFAULT_STATUSES
            .iter()
            .filter(|(name, _)| self.class_of(name) == Some(class))
            .map(|(name, _)| *name);
        configured.chain(defaults).next()
    }

    /// The agent web interface (`…/index.pl`) next to the Generic Interface script, for ticket
    /// links; `None` when the url does not name `nph-genericinterface.pl`.
    pub fn web_base(&self) -> Option<String> {
        let at = self.url.find("/nph-genericinterface.pl")?;
        Some(format!("{}/index.pl", &self.url[..at]))
    }
}

/// One `[chats.ticket]` dynamic field value: a text, or several for multiselect fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// A single value (Text, Dropdown, ...).
    One(String),
    /// Several values (Multiselect).
    Many(Vec<String>),
}

/// A validated `[chats.ticket]` table: per-chat overrides of where and how tickets are created.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TicketDefaults {
    /// Queue for this chat's tickets.
    pub queue: Option<String>,
    /// Ticket type.
    pub ticket_type: Option<String>,
    /// Priority of new tickets.
    pub priority: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// The customer user standing for this chat's clients (e.g. one per client company).
    pub customer_user: Option<String>,
    /// Ticket dynamic fields set on every ticket, by field name.
    pub dynamic_fields: BTreeMap<String, FieldValue>,
}

impl TicketDefaults {
    /// Reads and validates a `[chats.ticket]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&TICKET_KEYS, &[]);
        let defaults = Self {
            queue: r.non_empty_string("queue"),
            ticket_type: r.non_empty_string("type"),
            priority: r.non_empty_string("priority"),
            service: r.non_empty_string("service"),
            customer_user: r.non_empty_string("customer_user"),
            dynamic_fields: dynamic_fields(&mut r, "dynamic_fields"),
        };
        r.finish(defaults)
    }
}

fn web_service_url(r: &mut TableReader<'_>, key: &str) -> Option<String> {
    r.base_url(key, Address::ZnunyWebService, |url| {
        // Znuny's REST transport cuts the request path after `Webservice(ID)/<name>` and routes
        // what follows, so the address must end exactly there.
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map_or("", |(_, path)| path);
        let segments: Vec<&str> = path.split('/').collect();
        segments.len() >= 2
            && matches!(segments[segments.len() - 2], "Webservice" | "WebserviceID")
            && !segments[segments.len() - 1].is_empty()
    })
}

fn priorities(r: &mut TableReader<'_>, key: &str) -> Option<Vec<String>> {
    let value = r.get(key)?;
    let Some(items) = value.as_array() else {
        r.problem(
            key,
            Problem::PriorityList {
                flaw: PriorityListFlaw::NotNameList,
            },
        );
        return None;
    };
    if items.is_empty() {
        r.problem(
            key,
            Problem::PriorityList {
                flaw: PriorityListFlaw::NoNames,
            },
        );
        return None;
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(name) if !name.is_empty() && !names.iter().any(|n| n == name) => {
                names.push(name.to_owned());
            }
            Some(name) if !name.is_empty() => {
                r.problem(
                    format!("{key}[{index}]"),
                    Problem::PriorityList {
                        flaw: PriorityListFlaw::Twice {
                            name: name.to_owned(),
                        },
                    },
                );
                ok = false;
            }
            _ => {
                r.problem(
                    format!("{key}[{index}]"),
                    Problem::PriorityList {
                        flaw: PriorityListFlaw::EmptyName,
                    },
                );
                ok = false;
            }
        }
    }
    ok.then_some(names)
}

fn timezone(r: &mut TableReader<'_>, key: &str) -> Option<UtcOffset> {
    let text = r.non_empty_string(key)?;
    match parse_offset(&text) {
        Some(offset) => Some(offset),
        None => {
            r.problem(
                key,
                Problem::UtcOffset {
                    of: OffsetOf::Znuny,
                },
            );
            None
        }
    }
}

fn dynamic_fields(r: &mut TableReader<'_>, key: &str) -> BTreeMap<String, FieldValue> {
    let mut fields = BTreeMap::new();
    let Some(map) = r.table_of(key, "\"<field name>\" = \"<value>\"") else {
        return fields;
    };
    for (name, value) in map {
        let entry = format!("{key}.{name}");
        let mut ok = true;
        if !is_field_name(name) {
            r.problem(
                entry.clone(),
                Problem::FieldKey {
                    must_be: FieldKeyForm::DynamicFieldKey,
                },
            );
            ok = false;
        }
        let value = match value {
            serde_json::Value::String(s) => Some(FieldValue::One(s.clone())),
            serde_json::Value::Array(items)
                if !items.is_empty() && items.iter().all(serde_json::Value::is_string) =>
            {
                Some(FieldValue::Many(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect(),
                ))
            }
            _ => {
                r.problem(
                    entry,
                    Problem::FieldValue {
                        may_be: FieldValueForm::Strings,
                    },
                );
                None
            }
        };
        if let (true, Some(value)) = (ok, value) {
            fields.insert(name.clone(), value);
        }
    }
    fields
}

/// Znuny dynamic field names: `^[A-Za-z0-9]+$`.
fn is_field_name(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn check_field_name(name: &str) -> Result<(), Problem> {
    if is_field_name(name) {
        Ok(())
    } else {
        Err(Problem::FieldKey {
            must_be: FieldKeyForm::DynamicFieldName,
        })
    }
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
            "kind": "znuny",
            "poll_interval": "10s",
            "url": "https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk/",
            "user": "teledesk",
            "password": "secret-password",
            "queue": "Support",
            "customer_user": "telegram",
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
        ZnunyConfig::from_table(t).expect_err("invalid")
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let config = ZnunyConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(
            config.url,
            "https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk"
        );
        assert_eq!(config.priority, "3 normal");
        assert_eq!(config.priorities.len(), 5);
        assert_eq!(config.timezone, UtcOffset::UTC);
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert!(config.idempotency_field.is_none());
        assert!(config.webhook_secret.is_none());
        assert_eq!(
            config.web_base().as_deref(),
            Some("https://desk.example.com/otrs/index.pl")
        );
    }

    #[test]
    fn full_table_is_accepted() {
        let config = ZnunyConfig::from_table(&with(json!({
            "type": "Incident", "priority": "2 low", "service": "Telegram",
            "requests_per_second": 2.5, "statuses": {"waiting for vendor": "waiting_third_party"},
            "idempotency_field": "TeledeskKey", "resolution_field": "Resolution",
            "priorities": ["1 low", "2 low", "3 urgent"], "timezone": "+03:00",
            "webhook_secret": "hook-secret",
        })))
        .expect("valid");
        assert_eq!(config.ticket_type.as_deref(), Some("Incident"));
        assert_eq!(config.priority, "2 low");
        assert_eq!(
            config.timezone,
            UtcOffset::from_hms(3, 0, 0).expect("offset")
        );
        assert_eq!(
            config.class_of("waiting for vendor"),
            Some(StatusClass::WaitingThirdParty)
        );
        assert_eq!(config.idempotency_field.as_deref(), Some("TeledeskKey"));
    }

    #[test]
    fn staff_address_fields_are_dynamic_fields_of_their_own() {
        let config = ZnunyConfig::from_table(&with(json!({
            "chat_field": "TelegramChat", "announcement_field": "TelegramAnnouncement",
        })))
        .expect("valid");
        assert_eq!(config.chat_field.as_deref(), Some("TelegramChat"));
        assert_eq!(
            config.announcement_field.as_deref(),
            Some("TelegramAnnouncement")
        );
        let p = problems(&with(json!({"announcement_field": "TelegramAnnouncement"})));
        assert_eq!(keys(&p), ["announcement_field"]);
        assert!(
            p[0].problem.to_string().contains("needs chat_field"),
            "{}",
            p[0].problem.to_string()
        );
        let p = problems(&with(json!({
            "idempotency_field": "TeledeskKey", "chat_field": "TeledeskKey",
            "announcement_field": "TeledeskKey",
        })));
        assert_eq!(keys(&p), ["chat_field", "announcement_field"]);
        assert!(
            p[0].problem.to_string().contains("idempotency_field"),
            "{}",
            p[0].problem.to_string()
        );
        let p = problems(&with(json!({"chat_field": "Telegram Chat"})));
        assert_eq!(keys(&p), ["chat_field"]);
        let p = problems(&with(
            json!({"chat_field": "Chat", "announcement_field": "Chat"}),
        ));
        assert_eq!(keys(&p), ["announcement_field"]);
        assert!(
            p[0].problem.to_string().contains("chat_field"),
            "{}",
            p[0].problem.to_string()
        );
    }

    #[test]
    fn debug_redacts_the_password_and_the_webhook_secret() {
        let config =
            ZnunyConfig::from_table(&with(json!({"webhook_secret": "hook-secret"}))).expect("ok");
        let printed = format!("{config:?}");
        assert!(!printed.contains("secret-password"), "{printed}");
        assert!(!printed.contains("hook-secret"), "{printed}");
    }

    #[test]
    fn empty_table_reports_every_required_key() {
        let p = problems(&table(json!({"kind": "znuny"})));
        assert_eq!(
            keys(&p),
            ["url", "user", "password", "queue", "customer_user"]
        );
    }

    #[test]
    fn unknown_key_names_the_expected_ones() {
        let p = problems(&with(json!({"queu": "x"})));
        assert_eq!(keys(&p), ["queu"]);
        assert!(
            p[0].problem
                .to_string()
                .contains("expected one of url, user, password")
        );
    }

    #[test]
    fn url_must_end_at_the_web_service() {
        for bad in [
            "desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk",
            "https://desk.example.com/otrs/index.pl",
            "https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk/Ticket",
            "https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/",
            "https://desk.example.com/x/Webservice/teledesk?x=1",
            "https:///Webservice/teledesk",
        ] {
            assert_eq!(
                keys(&problems(&with(json!({ "url": bad })))),
                ["url"],
                "{bad}"
            );
        }
        let by_id = ZnunyConfig::from_table(&with(json!({
            "url": "http://127.0.0.1:8080/otobo/nph-genericinterface.pl/WebserviceID/3"
        })))
        .expect("WebserviceID works too");
        assert_eq!(
            by_id.web_base().as_deref(),
            Some("http://127.0.0.1:8080/otobo/index.pl")
        );
    }

    #[test]
    fn strings_must_be_non_empty_strings() {
        let p = problems(&with(json!({
            "user": "", "password": 5, "queue": " ", "customer_user": [], "type": "",
            "service": 1, "webhook_secret": "",
        })));
        assert_eq!(
            keys(&p),
            [
                "user",
                "password",
                "queue",
                "customer_user",
                "type",
                "service",
                "webhook_secret"
            ]
        );
    }

    #[test]
    fn field_names_are_letters_and_digits() {
        let p = problems(&with(json!({
            "idempotency_field": "teledesk_key", "resolution_field": "Resolution Text",
        })));
        assert_eq!(keys(&p), ["idempotency_field", "resolution_field"]);
        let p = problems(&with(json!({
            "idempotency_field": "Key", "resolution_field": "Key",
        })));
        assert_eq!(keys(&p), ["resolution_field"]);
    }

    #[test]
    fn requests_per_second_must_be_sane() {
        for bad in [json!(0), json!(-1), json!(101), json!("fast")] {
            let p = problems(&with(json!({ "requests_per_second": bad })));
            assert_eq!(keys(&p), ["requests_per_second"], "{bad}");
        }
        let lifted = with(json!({"requests_per_second": "unlimited"}));
        let config = ZnunyConfig::from_table(&lifted).expect("unlimited is a rate");
        assert_eq!(config.requests_per_second, f64::INFINITY);
    }

    #[test]
    fn statuses_need_known_classes() {
        let p = problems(&with(json!({
            "statuses": {"open": "working", "closed successful": "resolved", "": "new"},
        })));
        assert_eq!(keys(&p), ["statuses.", "statuses.open"]);
        assert!(p[1].problem.to_string().contains("waiting_third_party"));
        assert_eq!(
            keys(&problems(&with(json!({"statuses": "open"})))),
            ["statuses"]
        );
    }

    #[test]
    fn overrides_change_reading_and_writing() {
        let config = ZnunyConfig::from_table(&with(json!({
            "statuses": {"open": "waiting_third_party", "in work": "in_progress",
                         "customer replied": "client_replied"},
        })))
        .expect("valid");
        assert_eq!(
            config.class_of("open"),
            Some(StatusClass::WaitingThirdParty)
        );
        assert_eq!(config.class_of("new"), Some(StatusClass::New));
        assert_eq!(config.class_of("unknown"), None);
        assert_eq!(config.state_for(StatusClass::InProgress), Some("in work"));
        assert_eq!(
            config.state_for(StatusClass::ClientReplied),
            Some("customer replied")
        );
        assert_eq!(
            config.state_for(StatusClass::WaitingThirdParty),
            Some("open")
        );
        let defaults = ZnunyConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(defaults.state_for(StatusClass::InProgress), Some("open"));
        assert_eq!(
            defaults.state_for(StatusClass::Closed),
            Some("closed successful")
        );
        assert_eq!(
            defaults.state_for(StatusClass::WaitingClient),
            Some("pending reminder")
        );
        assert_eq!(defaults.state_for(StatusClass::ClientReplied), None);
    }

    #[test]
    fn priorities_must_be_unique_names_and_contain_the_default() {
        let p = problems(&with(json!({"priorities": ["low", "low", 3]})));
        assert_eq!(keys(&p), ["priorities[1]", "priorities[2]"]);
        assert_eq!(
            keys(&problems(&with(json!({"priorities": []})))),
            ["priorities"]
        );
        let p = problems(&with(
            json!({"priorities": ["low", "high"], "priority": "3 normal"}),
        ));
        assert_eq!(keys(&p), ["priority"]);
        // Without an explicit priority a custom ladder's middle rung is the default.
        let config =
            ZnunyConfig::from_table(&with(json!({"priorities": ["P3", "P2", "P1"]}))).expect("ok");
        assert_eq!(config.priority, "P2");
    }

    #[test]
    fn timezone_is_a_fixed_offset() {
        for bad in ["Europe/Moscow", "+3", "03:00", "+15:00", "+03:60", "UTC"] {
            let p = problems(&with(json!({ "timezone": bad })));
            assert_eq!(keys(&p), ["timezone"], "{bad}");
        }
        assert_eq!(
            parse_offset("-05:30"),
            Some(UtcOffset::from_hms(-5, -30, 0).expect("offset"))
        );
        assert_eq!(parse_offset("+00:00"), Some(UtcOffset::UTC));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&table(json!({
            "kind": "znuny", "url": "ftp://x", "user": "bot", "extra": 1,
            "requests_per_second": 0, "statuses": {"open": "bogus"}, "timezone": "MSK",
        })));
        assert_eq!(
            keys(&p),
            [
                "extra",
                "url",
                "password",
                "queue",
                "customer_user",
                "requests_per_second",
                "statuses.open",
                "timezone"
            ]
        );
    }

    #[test]
    fn ticket_defaults_accept_every_key() {
        let d = TicketDefaults::from_table(&table(json!({
            "queue": "Support::Telegram", "type": "Incident", "priority": "4 high",
            "service": "Telegram", "customer_user": "acme",
            "dynamic_fields": {"Company": "Acme", "Tags": ["vip", "telegram"]},
        })))
        .expect("valid");
        assert_eq!(d.queue.as_deref(), Some("Support::Telegram"));
        assert_eq!(
            d.dynamic_fields.get("Tags"),
            Some(&FieldValue::Many(vec!["vip".into(), "telegram".into()]))
        );
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
            "board_id": 1, "queue": "", "priority": 3,
            "dynamic_fields": {"bad name": "x", "Count": 3, "Empty": []},
        })))
        .expect_err("invalid");
        assert_eq!(
            keys(&p),
            [
                "board_id",
                "queue",
                "priority",
                "dynamic_fields.Count",
                "dynamic_fields.Empty",
                "dynamic_fields.bad name"
            ]
        );
        let p = TicketDefaults::from_table(&table(json!({"dynamic_fields": "x"})))
            .expect_err("invalid");
        assert_eq!(keys(&p), ["dynamic_fields"]);
    }
}
