//! The `[helpdesks.<name>]` table of kind `zammad` and a chat's `[chats.ticket]` table.
//!
//! Both are read by hand from the JSON map the daemon hands over, so that every problem in a table
//! is reported at once, each named by its key.

use std::collections::BTreeMap;
use teledesk_adapter::{
    Address, ConfigProblem, ConfigTable, DAEMON_KEYS, Dependency, EmailFlaw, FieldKeyForm,
    PriorityListFlaw, Problem, Requester, Secret, StatusClass, StatusKeyForm, TableReader,
};

/// Zammad documents no API rate limit; this keeps a busy daemon polite to a self-hosted server.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 10.0;
/// Above this a typo is more likely than a real need.
pub const MAX_REQUESTS_PER_SECOND: f64 = 100.0;
/// Zammad's default priorities, lowest first: 1 low, 2 normal, 3 high.
pub const DEFAULT_PRIORITY_IDS: [i64; 3] = [1, 2, 3];
/// The placeholder a customer template may contain.
pub const TELEGRAM_ID_PLACEHOLDER: &str = "{telegram_id}";

const HELPDESK_KEYS: [&str; 11] = [
    "url",
    "token",
    "group",
    "customer",
    "requests_per_second",
    "statuses",
    "webhook_secret",
    "priority_ids",
    "resolution_field",
    "chat_field",
    "announcement_field",
];

const TICKET_KEYS: [&str; 5] = [
    "group",
    "customer",
    "priority_id",
    "organization",
    "attributes",
];

/// Ticket columns a custom attribute must not shadow: the adapter sets them itself, or Zammad owns
/// them.
const RESERVED_ATTRIBUTES: [&str; 33] = [
    "id",
    "number",
    "title",
    "group",
    "group_id",
    "state",
    "state_id",
    "priority",
    "priority_id",
    "owner",
    "owner_id",
    "customer",
    "customer_id",
    "organization",
    "organization_id",
    "note",
    "article",
    "links",
    "tags",
    "mentions",
    "pending_time",
    "type",
    "time_unit",
    "preferences",
    "created_at",
    "updated_at",
    "created_by_id",
    "updated_by_id",
    "close_at",
    "escalation_at",
    "article_count",
    "create_article_type_id",
    "create_article_sender_id",
];

/// How the Zammad customer of a new ticket is chosen.
///
/// Telegram users have no e-mail address, and a Zammad ticket needs a customer, so the config
/// names one: a fixed customer (one mailbox per client company, typically), or a template that
/// gives every Telegram user a customer of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomerRule {
    /// An existing user, by id (`customer_id: 42`).
    Id(i64),
    /// `customer_id: "guess:<email>"`: Zammad finds the user by e-mail or creates it. The address
    /// may contain `{telegram_id}`, replaced by the requester's Telegram id.
    Guess(String),
}

impl CustomerRule {
    /// The `customer_id` value for a ticket of `requester`.
    pub fn customer_id(&self, requester: &Requester) -> serde_json::Value {
        match self {
            CustomerRule::Id(id) => serde_json::Value::from(*id),
            CustomerRule::Guess(email) => serde_json::Value::String(format!(
                "guess:{}",
                email.replace(TELEGRAM_ID_PLACEHOLDER, &requester.telegram_id.to_string())
            )),
        }
    }
}

/// A validated `[helpdesks.<name>]` table of kind `zammad`.
///
/// `Debug` is safe to log: the token and the webhook secret are [`Secret`]s.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ZammadConfig {
    /// The site, without a trailing slash (`https://support.acme.example`); the API lives under
    /// `/api/v1`.
    pub url: String,
    /// The integration user's access token (`Authorization: Token token=...`).
    pub token: Secret,
    /// The group (by name) new tickets go to.
    pub group: String,
    /// The customer of new tickets.
    pub customer: CustomerRule,
    /// Client-side pacing.
    pub requests_per_second: f64,
    /// State name → status class, overriding the default map.
    pub statuses: BTreeMap<String, StatusClass>,
    /// The HMAC-SHA1 token of the Zammad webhook; without it webhooks are not accepted.
    pub webhook_secret: Option<Secret>,
    /// Priority ids from lowest to highest; escalation moves one step up this list.
    pub priority_ids: Vec<i64>,
    /// A custom ticket attribute holding the resolution text; without it the resolution is the
    /// last public agent reply of a done ticket.
    pub resolution_field: Option<String>,
    /// A custom ticket attribute (text or select) staff fill with the chat's Telegram id or name
    /// to publish a ticket they start in that chat (issue 14.3); without it staff cannot.
    pub chat_field: Option<String>,
    /// A custom ticket attribute (boolean) that marks such a ticket as an announcement.
    pub announcement_field: Option<String>,
}

impl ZammadConfig {
    /// Reads and validates a whole `[helpdesks.<name>]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&HELPDESK_KEYS, DAEMON_KEYS);
        let url = r.base_url("url", Address::ZammadSite, |url| {
            !url.contains("/api/") && !url.ends_with("/api")
        });
        let token = r.required("token", |r| r.non_empty_string("token"));
        let group = r.required("group", |r| r.non_empty_string("group"));
        let customer = r.required("customer", |r| customer(r, "customer"));
        let requests_per_second =
            r.requests_per_second("requests_per_second", MAX_REQUESTS_PER_SECOND, None);
        let statuses = r
            .statuses("statuses", "<state name>", |state| {
                let state = state.trim();
                if state.is_empty() {
                    Err(Problem::StatusKey {
                        must_be: StatusKeyForm::StateName { vendor: "Zammad" },
                    })
                } else {
                    Ok(state.to_owned())
                }
            })
            .into_iter()
            .collect();
        let webhook_secret = r.non_empty_string("webhook_secret");
        let priority_ids = priority_ids(&mut r, "priority_ids");
        let resolution_field = r.checked_string("resolution_field", check_attribute);
        let chat_field = r.checked_string("chat_field", check_attribute);
        let announcement_field = r.checked_string("announcement_field", check_attribute);
        if announcement_field.is_some() && chat_field.is_none() && !r.has_problem("chat_field") {
            r.problem(
                "announcement_field",
                Problem::Needs {
                    other: "chat_field".into(),
                    why: Dependency::AnnouncementNeedsChat { issue: false },
                },
            );
        }
        // One attribute cannot hold two things: a resolution would overwrite the chat, or a
        // boolean be read as a chat.
        if chat_field.is_some() && chat_field == resolution_field {
            r.problem(
                "chat_field",
                Problem::SameFieldAs {
                    other: "resolution_field".into(),
                },
            );
        }
        let taken = [
            ("chat_field", &chat_field),
            ("resolution_field", &resolution_field),
        ]
        .into_iter()
        .find(|(_, field)| announcement_field.is_some() && announcement_field == **field);
        if let Some((other, _)) = taken {
            r.problem(
                "announcement_field",
                Problem::SameFieldAs {
                    other: other.into(),
                },
            );
        }
        match (url, token, group, customer) {
            (Some(url), Some(token), Some(group), Some(customer)) if r.is_clean() => Ok(Self {
                url,
                token: Secret::new(token),
                group,
                customer,
                requests_per_second: requests_per_second.unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
                statuses,
                webhook_secret: webhook_secret.map(Secret::new),
                priority_ids: priority_ids.unwrap_or_else(|| DEFAULT_PRIORITY_IDS.to_vec()),
                resolution_field,
                chat_field,
                announcement_field,
            }),
            _ => Err(r.into_problems()),
        }
    }

    /// The REST API base (`<url>/api/v1`).
    pub fn api_base(&self) -> String {
        format!("{}/api/v1", self.url)
    }
}

/// A validated `[chats.ticket]` table: per-chat overrides of how tickets are created.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TicketDefaults {
    /// Group (by name) for this chat's tickets.
    pub group: Option<String>,
    /// Customer for this chat's tickets.
    pub customer: Option<CustomerRule>,
    /// Priority of new tickets (Zammad's default priority when unset).
    pub priority_id: Option<i64>,
    /// Organization (by name) of new tickets.
    pub organization: Option<String>,
    /// Custom object attributes (name → string, number or bool) set on every new ticket.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl TicketDefaults {
    /// Reads and validates a `[chats.ticket]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&TICKET_KEYS, &[]);
        let defaults = Self {
            group: r.non_empty_string("group"),
            customer: customer(&mut r, "customer"),
            priority_id: r.positive_id("priority_id", "Zammad"),
            organization: r.non_empty_string("organization"),
            attributes: r.scalar_table(
                "attributes",
                "\"<attribute name>\" = value",
                check_attribute,
            ),
        };
        r.finish(defaults)
    }
}

fn customer(r: &mut TableReader<'_>, key: &str) -> Option<CustomerRule> {
    const HOW: Problem = Problem::Customer { flaw: None };
    match r.get(key)? {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(id) if id > 0 => Some(CustomerRule::Id(id)),
            _ => {
                r.problem(key, HOW);
                None
            }
        },
        serde_json::Value::String(text) => {
            let text = text.trim();
            let email = text.strip_prefix("guess:").unwrap_or(text).trim();
            match email_problem(email) {
                None => Some(CustomerRule::Guess(email.to_owned())),
                Some(flaw) => {
                    r.problem(key, Problem::Customer { flaw: Some(flaw) });
                    None
                }
            }
        }
        _ => {
            r.problem(key, HOW);
            None
        }
    }
}

fn priority_ids(r: &mut TableReader<'_>, key: &str) -> Option<Vec<i64>> {
    const HOW: Problem = Problem::PriorityList {
        flaw: PriorityListFlaw::DistinctIds,
    };
    let value = r.get(key)?;
    let Some(items) = value.as_array() else {
        r.problem(key, HOW);
        return None;
    };
    let ids: Vec<i64> = items
        .iter()
        .filter_map(|v| v.as_i64().filter(|n| *n > 0))
        .collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if ids.len() != items.len() || distinct.len() != ids.len() || ids.len() < 2 {
        r.problem(key, HOW);
        return None;
    }
    Some(ids)
}

/// Whether `name` can be a custom ticket attribute, and why not.
///
/// Zammad's object manager names attributes in lower case, `a-z`, digits and `_`; core columns are
/// set by the adapter or owned by Zammad.
fn check_attribute(name: &str) -> Result<(), Problem> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(Problem::FieldKey {
            must_be: FieldKeyForm::Attribute,
        });
    }
    if RESERVED_ATTRIBUTES.contains(&name) {
        return Err(Problem::CoreAttribute {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Why `email` cannot be a customer address, if it cannot. Zammad validates the address itself;
/// this catches what would fail every ticket create.
fn email_problem(email: &str) -> Option<EmailFlaw> {
    if email.contains(char::is_whitespace) {
        return Some(EmailFlaw::Spaces);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Some(EmailFlaw::NotAnAddress);
    };
    if local.is_empty() || domain.contains('@') || !domain.contains('.') {
        return Some(EmailFlaw::NotAnAddress);
    }
    if domain.contains('{') || domain.contains('}') {
        return Some(EmailFlaw::PlaceholderInDomain);
    }
    let without = local.replace(TELEGRAM_ID_PLACEHOLDER, "");
    if without.contains('{') || without.contains('}') {
        return Some(EmailFlaw::UnknownPlaceholder);
    }
    None
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
            "kind": "zammad",
            "poll_interval": "10s",
            "url": "https://support.acme.example/",
            "token": "secret-token",
            "group": "Users",
            "customer": "guess:telegram@acme.example",
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
        ZammadConfig::from_table(t).expect_err("invalid")
    }

    fn requester() -> Requester {
        Requester {
            display_name: "Анна".into(),
            telegram_id: 500_001,
            username: None,
            company: None,
        }
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let config = ZammadConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(config.url, "https://support.acme.example");
        assert_eq!(config.api_base(), "https://support.acme.example/api/v1");
        assert_eq!(config.group, "Users");
        assert_eq!(
            config.customer,
            CustomerRule::Guess("telegram@acme.example".into())
        );
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert_eq!(config.priority_ids, [1, 2, 3]);
        assert!(config.statuses.is_empty());
        assert!(config.webhook_secret.is_none());
        assert!(config.resolution_field.is_none());
    }

    #[test]
    fn full_table_is_read() {
        let config = ZammadConfig::from_table(&with(json!({
            "customer": 42,
            "requests_per_second": 2.5,
            "statuses": {"waiting for vendor": "waiting_third_party", "pending close": "closed"},
            "webhook_secret": "hook-secret",
            "priority_ids": [4, 1, 2, 3],
            "resolution_field": "resolution",
        })))
        .expect("valid");
        assert_eq!(config.customer, CustomerRule::Id(42));
        assert_eq!(config.requests_per_second, 2.5);
        assert_eq!(
            config.statuses.get("waiting for vendor"),
            Some(&StatusClass::WaitingThirdParty)
        );
        assert_eq!(config.priority_ids, [4, 1, 2, 3]);
        assert_eq!(
            config.webhook_secret.as_ref().map(Secret::expose),
            Some("hook-secret")
        );
        assert_eq!(config.resolution_field.as_deref(), Some("resolution"));
    }

    #[test]
    fn debug_hides_the_secrets() {
        let config =
            ZammadConfig::from_table(&with(json!({"webhook_secret": "hook-secret"}))).expect("ok");
        let text = format!("{config:?}");
        assert!(!text.contains("secret-token"), "{text}");
        assert!(!text.contains("hook-secret"), "{text}");
    }

    #[test]
    fn daemon_keys_are_accepted_and_unknown_keys_rejected() {
        let p = problems(&with(json!({"board_id": 1, "Token": "x"})));
        assert_eq!(keys(&p), ["Token", "board_id"]);
        assert!(p[0].problem.to_string().contains("webhook_secret"));
    }

    #[test]
    fn url_must_be_a_site() {
        for bad in [
            json!("support.acme.example"),
            json!("ftp://x"),
            json!("https://"),
            json!("https://a.example/api/v1"),
            json!("https://a.example?x=1"),
            json!(""),
            json!(7),
        ] {
            let p = problems(&with(json!({ "url": bad })));
            assert_eq!(keys(&p), ["url"], "{bad}");
        }
        let mut t = table(minimal());
        t.remove("url");
        assert_eq!(keys(&problems(&t)), ["url"]);
    }

    #[test]
    fn required_keys_are_named() {
        let p = problems(&table(json!({"kind": "zammad"})));
        assert_eq!(keys(&p), ["url", "token", "group", "customer"]);
    }

    #[test]
    fn customer_forms() {
        let read = |v: serde_json::Value| {
            ZammadConfig::from_table(&with(json!({ "customer": v })))
                .map(|c| c.customer)
                .map_err(|p| keys(&p).join(","))
        };
        assert_eq!(
            read(json!("telegram@acme.example")),
            Ok(CustomerRule::Guess("telegram@acme.example".into()))
        );
        assert_eq!(
            read(json!("guess:tg{telegram_id}@acme.example")),
            Ok(CustomerRule::Guess("tg{telegram_id}@acme.example".into()))
        );
        assert_eq!(read(json!(7)), Ok(CustomerRule::Id(7)));
        for bad in [
            json!("anna"),
            json!("guess:"),
            json!("a b@acme.example"),
            json!("a@localhost"),
            json!("tg{id}@acme.example"),
            json!("tg@{telegram_id}.example"),
            json!(0),
            json!(true),
        ] {
            assert_eq!(read(bad.clone()), Err("customer".into()), "{bad}");
        }
    }

    #[test]
    fn customer_rule_fills_the_telegram_id() {
        let rule = CustomerRule::Guess("tg{telegram_id}@acme.example".into());
        assert_eq!(
            rule.customer_id(&requester()),
            json!("guess:tg500001@acme.example")
        );
        assert_eq!(CustomerRule::Id(9).customer_id(&requester()), json!(9));
    }

    #[test]
    fn requests_per_second_is_bounded() {
        for bad in [json!(0), json!(-1), json!(101), json!("fast")] {
            let p = problems(&with(json!({ "requests_per_second": bad })));
            assert_eq!(keys(&p), ["requests_per_second"], "{bad}");
        }
    }

    #[test]
    fn statuses_need_known_classes() {
        let p = problems(&with(json!({
            "statuses": {"open": "working", "closed": "closed", " ": "new"},
        })));
        assert_eq!(keys(&p), ["statuses. ", "statuses.open"]);
        assert!(p[1].problem.to_string().contains("waiting_third_party"));
        let p = problems(&with(json!({"statuses": ["open"]})));
        assert_eq!(keys(&p), ["statuses"]);
    }

    #[test]
    fn priority_ids_need_two_distinct_ids() {
        for bad in [
            json!([3]),
            json!([1, 1]),
            json!([1, "2"]),
            json!([0, 1]),
            json!("1,2,3"),
        ] {
            let p = problems(&with(json!({ "priority_ids": bad })));
            assert_eq!(keys(&p), ["priority_ids"], "{bad}");
        }
    }

    #[test]
    fn staff_address_fields_are_custom_attributes_of_their_own() {
        let config = ZammadConfig::from_table(&with(json!({
            "chat_field": "telegram_chat", "announcement_field": "telegram_announcement",
        })))
        .expect("valid");
        assert_eq!(config.chat_field.as_deref(), Some("telegram_chat"));
        assert_eq!(
            config.announcement_field.as_deref(),
            Some("telegram_announcement")
        );
        let p = problems(&with(
            json!({"announcement_field": "telegram_announcement"}),
        ));
        assert_eq!(keys(&p), ["announcement_field"]);
        assert!(
            p[0].problem.to_string().contains("needs chat_field"),
            "{}",
            p[0].problem.to_string()
        );
        let p = problems(&with(json!({"chat_field": "title"})));
        assert_eq!(keys(&p), ["chat_field"]);
        let p = problems(&with(json!({
            "resolution_field": "resolution", "chat_field": "resolution",
            "announcement_field": "resolution",
        })));
        assert_eq!(keys(&p), ["chat_field", "announcement_field"]);
    }

    #[test]
    fn resolution_field_must_be_a_custom_attribute() {
        for bad in [json!("Resolution"), json!("note"), json!("1x"), json!(5)] {
            let p = problems(&with(json!({ "resolution_field": bad })));
            assert_eq!(keys(&p), ["resolution_field"], "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&table(json!({
            "kind": "zammad", "url": "ftp://x", "customer": "nobody", "extra": 1,
            "requests_per_second": 0, "statuses": {"open": "bogus"}, "webhook_secret": "",
            "priority_ids": [1],
        })));
        assert_eq!(
            keys(&p),
            [
                "extra",
                "url",
                "token",
                "group",
                "customer",
                "requests_per_second",
                "statuses.open",
                "webhook_secret",
                "priority_ids"
            ]
        );
    }

    #[test]
    fn ticket_defaults_accept_every_key() {
        let d = TicketDefaults::from_table(&table(json!({
            "group": "Telegram", "customer": "guess:acme@clients.example", "priority_id": 3,
            "organization": "Acme", "attributes": {"contract": "VIP-7", "seats": 12, "vip": true},
        })))
        .expect("valid");
        assert_eq!(d.group.as_deref(), Some("Telegram"));
        assert_eq!(
            d.customer,
            Some(CustomerRule::Guess("acme@clients.example".into()))
        );
        assert_eq!(d.priority_id, Some(3));
        assert_eq!(d.organization.as_deref(), Some("Acme"));
        assert_eq!(d.attributes.len(), 3);
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
            "queue": "x", "group": "", "customer": "someone", "priority_id": "high",
            "organization": 5,
            "attributes": {"Contract": "x", "title": "y", "ok_one": [1], "fine": "z"},
        })))
        .expect_err("invalid");
        assert_eq!(
            keys(&p),
            [
                "queue",
                "group",
                "customer",
                "priority_id",
                "organization",
                "attributes.Contract",
                "attributes.ok_one",
                "attributes.title"
            ]
        );
    }

    #[test]
    fn ticket_defaults_attributes_must_be_a_table() {
        let p =
            TicketDefaults::from_table(&table(json!({"attributes": "x"}))).expect_err("invalid");
        assert_eq!(keys(&p), ["attributes"]);
    }
}
