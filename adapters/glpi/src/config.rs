//! The `[helpdesks.<name>]` table of kind `glpi` and a chat's `[chats.ticket]` table.
//!
//! Both are read by hand from the JSON map the daemon hands over, so that every problem in a table
//! is reported at once, each named by its key.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use teledesk_adapter::{
    Address, Choice, ConfigProblem, ConfigTable, DAEMON_KEYS, Dependency, OffsetOf, Problem,
    Secret, StatusClass, StatusKeyForm, TableReader, parse_utc_offset,
};
use time::UtcOffset;

/// GLPI itself has no rate limit; this keeps one daemon from hogging a small PHP-FPM pool.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 10.0;
/// Anything above this is almost certainly a typo (GLPI answers each call with a PHP request).
pub const MAX_REQUESTS_PER_SECOND: f64 = 100.0;

const HELPDESK_KEYS: [&str; 10] = [
    "url",
    "user_token",
    "app_token",
    "entities_id",
    "requests_per_second",
    "statuses",
    "webhook_secret",
    "timezone",
    "chat_requesttype_id",
    "announcement_requesttype_id",
];

/// The `[chats.ticket]` keys, named as GLPI's `POST /Ticket` input fields.
const TICKET_KEYS: [&str; 13] = [
    "entities_id",
    "itilcategories_id",
    "type",
    "urgency",
    "impact",
    "priority",
    "requesttypes_id",
    "locations_id",
    "_users_id_requester",
    "_users_id_observer",
    "_users_id_assign",
    "_groups_id_requester",
    "_groups_id_assign",
];

/// GLPI's ticket status codes (`CommonITILObject` constants) and their default status classes.
pub const DEFAULT_STATUSES: [(i64, StatusClass); 6] = [
    (1, StatusClass::New),
    (2, StatusClass::InProgress),
    (3, StatusClass::InProgress),
    (4, StatusClass::WaitingClient),
    (5, StatusClass::Resolved),
    (6, StatusClass::Closed),
];

/// A validated `[helpdesks.<name>]` table of kind `glpi`.
///
/// `Debug` is safe to log: the tokens and the webhook secret are [`Secret`]s.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GlpiConfig {
    /// The legacy REST API base, without a trailing slash
    /// (`https://glpi.example.com/apirest.php`).
    pub url: String,
    /// The integration user's API token (Preferences → Remote access keys → API token).
    pub user_token: Secret,
    /// The API client's `App-Token`, when the API client in Setup → General → API has one.
    pub app_token: Option<Secret>,
    /// The entity new tickets go to unless the chat names one; `None` lets GLPI use the
    /// session's active entity.
    pub entities_id: Option<i64>,
    /// Client-side pacing, at most [`MAX_REQUESTS_PER_SECOND`].
    pub requests_per_second: f64,
    /// Status code (1–6) → status class: [`DEFAULT_STATUSES`] with the table's overrides.
    pub statuses: BTreeMap<i64, StatusClass>,
    /// The secret of the GLPI 11 webhook (Setup → Webhooks → Security), when webhooks are used.
    pub webhook_secret: Option<Secret>,
    /// The fixed UTC offset GLPI writes and reads its `YYYY-MM-DD HH:MM:SS` times in (the
    /// integration user's timezone, or the server's when GLPI's DB timezones are off).
    pub timezone: UtcOffset,
    /// The request source (Setup → Dropdowns → Request sources, `requesttypes_id`) staff pick to
    /// publish a ticket they open in the Telegram chat named like its entity (issue 14.3);
    /// without it staff cannot.
    pub chat_requesttype_id: Option<i64>,
    /// The request source that does the same for an announcement (a notice expecting no reply).
    pub announcement_requesttype_id: Option<i64>,
}

impl GlpiConfig {
    /// Reads and validates a whole `[helpdesks.<name>]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&HELPDESK_KEYS, DAEMON_KEYS);
        let url = r.base_url("url", Address::GlpiRestApi, |url| {
            !url.ends_with("/initSession") && !url.contains("/api.php/v2")
        });
        let user_token = r.required("user_token", |r| r.non_empty_string("user_token"));
        let app_token = r.non_empty_string("app_token");
        let entities_id = entity(&mut r, "entities_id");
        let requests_per_second =
            r.requests_per_second("requests_per_second", MAX_REQUESTS_PER_SECOND, None);
        let mut statuses: BTreeMap<i64, StatusClass> = DEFAULT_STATUSES.into_iter().collect();
        statuses.extend(r.statuses("statuses", "<status code 1-6>", |code| {
            code.parse::<i64>()
                .ok()
                .filter(|c| (1..=6).contains(c))
                .ok_or(Problem::StatusKey {
                    must_be: StatusKeyForm::GlpiCode,
                })
        }));
        let webhook_secret = r.non_empty_string("webhook_secret");
        let timezone = timezone(&mut r, "timezone");
        let chat_requesttype_id = r.positive_id("chat_requesttype_id", "GLPI request source");
        let announcement_requesttype_id =
            r.positive_id("announcement_requesttype_id", "GLPI request source");
        if announcement_requesttype_id.is_some()
            && chat_requesttype_id.is_none()
            && !r.has_problem("chat_requesttype_id")
        {
            r.problem(
                "announcement_requesttype_id",
                Problem::Needs {
                    other: "chat_requesttype_id".into(),
                    why: Dependency::AnnouncementNeedsChat { issue: false },
                },
            );
        }
        if announcement_requesttype_id.is_some()
            && announcement_requesttype_id == chat_requesttype_id
        {
            r.problem(
                "announcement_requesttype_id",
                Problem::SameFieldAs {
                    other: "chat_requesttype_id".into(),
                },
            );
        }
        match (url, user_token) {
            (Some(url), Some(user_token)) if r.is_clean() => Ok(Self {
                url,
                user_token: Secret::new(user_token),
                app_token: app_token.map(Secret::new),
                entities_id,
                requests_per_second: requests_per_second.unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
                statuses,
                webhook_secret: webhook_secret.map(Secret::new),
                timezone: timezone.unwrap_or(UtcOffset::UTC),
                chat_requesttype_id,
                announcement_requesttype_id,
            }),
            _ => Err(r.into_problems()),
        }
    }

    /// The web interface the API belongs to (`https://glpi.example.com`), for ticket links; `None`
    /// when the API address does not end in one of GLPI's known API paths.
    pub fn web_url(&self) -> Option<String> {
        ["/apirest.php", "/api.php/v1", "/api"]
            .iter()
            .find_map(|suffix| self.url.strip_suffix(suffix))
            .map(str::to_owned)
    }

    /// The vendor status code for a class: the lowest code mapped to it.
    pub fn status_for(&self, class: StatusClass) -> Option<i64> {
        self.statuses
            .iter()
            .find(|(_, c)| **c == class)
            .map(|(code, _)| *code)
    }
}

/// A validated `[chats.ticket]` table: the `POST /Ticket` input fields a chat sets on new
/// tickets.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TicketDefaults {
    /// The fields, named as GLPI's input (`itilcategories_id`, `_users_id_requester`...).
    pub fields: BTreeMap<String, i64>,
}

impl TicketDefaults {
    /// Reads and validates a `[chats.ticket]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&TICKET_KEYS, &[]);
        let mut fields = BTreeMap::new();
        let mut put = |key: &str, value: Option<i64>| {
            if let Some(value) = value {
                fields.insert(key.to_owned(), value);
            }
        };
        put("entities_id", entity(&mut r, "entities_id"));
        put("type", one_of(&mut r, "type", 1..=2, Choice::GlpiType));
        for key in ["urgency", "impact"] {
            put(key, one_of(&mut r, key, 1..=5, Choice::GlpiScale));
        }
        put(
            "priority",
            one_of(&mut r, "priority", 1..=6, Choice::GlpiPriority),
        );
        for key in [
            "itilcategories_id",
            "requesttypes_id",
            "locations_id",
            "_users_id_requester",
            "_users_id_observer",
            "_users_id_assign",
            "_groups_id_requester",
            "_groups_id_assign",
        ] {
            put(key, r.positive_id(key, "GLPI"));
        }
        r.finish(Self { fields })
    }
}

/// An entity id: 0 is the root entity.
fn entity(r: &mut TableReader<'_>, key: &str) -> Option<i64> {
    r.integer(
        key,
        |n| n >= 0,
        Problem::NumberChoice {
            of: Choice::GlpiEntity,
        },
    )
}

fn one_of(
    r: &mut TableReader<'_>,
    key: &str,
    allowed: RangeInclusive<i64>,
    of: Choice,
) -> Option<i64> {
    r.integer(key, |n| allowed.contains(&n), Problem::NumberChoice { of })
}

fn timezone(r: &mut TableReader<'_>, key: &str) -> Option<UtcOffset> {
    let text = match r.get(key)? {
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => {
            r.problem(key, Problem::UtcOffsetNotAString);
            return None;
        }
    };
    let parsed = parse_utc_offset(&text);
    if parsed.is_none() {
        r.problem(key, Problem::UtcOffset { of: OffsetOf::Glpi });
    }
    parsed
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
            "kind": "glpi",
            "poll_interval": "30s",
            "url": "https://glpi.example.com/apirest.php/",
            "user_token": "user-token-value",
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
        GlpiConfig::from_table(t).expect_err("invalid")
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let config = GlpiConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(config.url, "https://glpi.example.com/apirest.php");
        assert_eq!(
            config.web_url().as_deref(),
            Some("https://glpi.example.com")
        );
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert_eq!(config.timezone, UtcOffset::UTC);
        assert!(config.app_token.is_none());
        assert!(config.webhook_secret.is_none());
        assert_eq!(config.entities_id, None);
        assert_eq!(
            config.statuses,
            DEFAULT_STATUSES.into_iter().collect::<BTreeMap<_, _>>()
        );
    }

    #[test]
    fn full_table_is_accepted() {
        let config = GlpiConfig::from_table(&with(json!({
            "app_token": "app-token-value", "entities_id": 0, "requests_per_second": 2.5,
            "statuses": {"3": "waiting_third_party", "4": "waiting_client"},
            "webhook_secret": "webhook-secret-value", "timezone": "+03:00",
        })))
        .expect("valid");
        assert_eq!(config.entities_id, Some(0));
        assert_eq!(config.requests_per_second, 2.5);
        assert_eq!(
            config.statuses.get(&3),
            Some(&StatusClass::WaitingThirdParty)
        );
        assert_eq!(config.statuses.get(&2), Some(&StatusClass::InProgress));
        assert_eq!(
            config.timezone,
            UtcOffset::from_hms(3, 0, 0).expect("offset")
        );
        assert_eq!(
            config.app_token.as_ref().map(Secret::expose),
            Some("app-token-value")
        );
    }

    #[test]
    fn staff_address_request_sources_are_two_distinct_ids() {
        let config = GlpiConfig::from_table(&with(json!({
            "chat_requesttype_id": 7, "announcement_requesttype_id": 8,
        })))
        .expect("valid");
        assert_eq!(
            (
                config.chat_requesttype_id,
                config.announcement_requesttype_id
            ),
            (Some(7), Some(8))
        );
        let p = problems(&with(json!({"announcement_requesttype_id": 8})));
        assert_eq!(keys(&p), ["announcement_requesttype_id"]);
        assert!(
            p[0].problem
                .to_string()
                .contains("needs chat_requesttype_id"),
            "{}",
            p[0].problem.to_string()
        );
        let p = problems(&with(json!({
            "chat_requesttype_id": 7, "announcement_requesttype_id": 7,
        })));
        assert_eq!(keys(&p), ["announcement_requesttype_id"]);
        assert!(
            p[0].problem.to_string().contains("must differ"),
            "{}",
            p[0].problem.to_string()
        );
        let p = problems(&with(json!({"chat_requesttype_id": "Telegram"})));
        assert_eq!(keys(&p), ["chat_requesttype_id"]);
        assert!(
            p[0].problem.to_string().contains("positive integer"),
            "{}",
            p[0].problem.to_string()
        );
    }

    #[test]
    fn debug_redacts_every_credential() {
        let config = GlpiConfig::from_table(&with(json!({
            "app_token": "app-token-value", "webhook_secret": "webhook-secret-value",
        })))
        .expect("valid");
        let printed = format!("{config:?}");
        for secret in [
            "user-token-value",
            "app-token-value",
            "webhook-secret-value",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn empty_table_reports_every_required_key() {
        let p = problems(&table(json!({"kind": "glpi"})));
        assert_eq!(keys(&p), ["url", "user_token"]);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let p = problems(&with(json!({"token": "x", "board_id": 1})));
        assert_eq!(keys(&p), ["board_id", "token"]);
        assert!(
            p[0].problem
                .to_string()
                .contains("expected one of url, user_token")
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&table(json!({
            "kind": "glpi", "url": "ftp://glpi", "extra": 1, "entities_id": -1,
            "requests_per_second": 0, "statuses": {"7": "new", "2": "bogus"},
            "timezone": "Europe/Moscow", "app_token": "",
        })));
        assert_eq!(
            keys(&p),
            [
                "extra",
                "url",
                "user_token",
                "app_token",
                "entities_id",
                "requests_per_second",
                "statuses.2",
                "statuses.7",
                "timezone"
            ]
        );
    }

    #[test]
    fn url_shapes() {
        for bad in [
            "glpi.example.com/apirest.php",
            "https:///apirest.php",
            "https://glpi.example.com/apirest.php?x=1",
            "https://glpi.example.com/apirest.php/initSession",
            "https://glpi.example.com/api.php/v2",
        ] {
            assert_eq!(
                keys(&problems(&with(json!({"url": bad})))),
                ["url"],
                "{bad}"
            );
        }
        let config = GlpiConfig::from_table(&with(json!({"url": "http://127.0.0.1:8080/api"})))
            .expect("a rewritten API path is fine");
        assert_eq!(config.web_url().as_deref(), Some("http://127.0.0.1:8080"));
        let config = GlpiConfig::from_table(&with(json!({"url": "https://h/custom/rest"})))
            .expect("an unknown path is accepted");
        assert_eq!(config.web_url(), None);
    }

    #[test]
    fn requests_per_second_bounds() {
        for bad in [json!(0), json!(-1), json!(101), json!("fast")] {
            let p = problems(&with(json!({ "requests_per_second": bad })));
            assert_eq!(keys(&p), ["requests_per_second"], "{bad}");
        }
    }

    #[test]
    fn statuses_override_the_default_map() {
        let config =
            GlpiConfig::from_table(&with(json!({"statuses": {"4": "waiting_third_party"}})))
                .expect("valid");
        assert_eq!(
            config.statuses.get(&4),
            Some(&StatusClass::WaitingThirdParty)
        );
        assert_eq!(config.status_for(StatusClass::WaitingClient), None);
        assert_eq!(config.status_for(StatusClass::InProgress), Some(2));
        assert_eq!(config.status_for(StatusClass::Closed), Some(6));
        assert_eq!(config.status_for(StatusClass::ClientReplied), None);
        assert_eq!(
            keys(&problems(&with(json!({"statuses": "new"})))),
            ["statuses"]
        );
    }

    #[test]
    fn timezone_is_a_fixed_offset() {
        for (text, hours, minutes) in [("+00:00", 0, 0), ("-05:30", -5, -30), ("+14:00", 14, 0)] {
            let config = GlpiConfig::from_table(&with(json!({"timezone": text}))).expect("valid");
            assert_eq!(
                config.timezone,
                UtcOffset::from_hms(hours, minutes, 0).expect("offset"),
                "{text}"
            );
        }
        for bad in [
            json!("UTC"),
            json!("+3:00"),
            json!("+15:00"),
            json!("03:00"),
            json!(3),
        ] {
            assert_eq!(
                keys(&problems(&with(json!({ "timezone": bad })))),
                ["timezone"],
                "{bad}"
            );
        }
    }

    #[test]
    fn ticket_defaults_accept_every_key() {
        let d = TicketDefaults::from_table(&table(json!({
            "entities_id": 0, "itilcategories_id": 5, "type": 2, "urgency": 4, "impact": 3,
            "priority": 6, "requesttypes_id": 7, "locations_id": 3, "_users_id_requester": 42,
            "_users_id_observer": 43, "_users_id_assign": 9, "_groups_id_requester": 2,
            "_groups_id_assign": 7,
        })))
        .expect("valid");
        assert_eq!(d.fields.len(), 13);
        assert_eq!(d.fields.get("entities_id"), Some(&0));
        assert_eq!(d.fields.get("_groups_id_assign"), Some(&7));
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
            "queue": "x", "type": 3, "urgency": 0, "impact": "high", "priority": 7,
            "itilcategories_id": 0, "users_id_requester": 42, "entities_id": -2,
        })))
        .expect_err("invalid");
        assert_eq!(
            keys(&p),
            [
                "queue",
                "users_id_requester",
                "entities_id",
                "type",
                "urgency",
                "impact",
                "priority",
                "itilcategories_id"
            ]
        );
    }
}
