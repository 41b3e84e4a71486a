//! The `[helpdesks.<name>]` table of kind `kaiten` and a chat's `[chats.ticket]` table.
//!
//! Both are read by hand from the JSON map the daemon hands over, so that every problem in a table
//! is reported at once, each named by its key.

use std::collections::BTreeMap;
use teledesk_adapter::{
    Address, ConfigProblem, ConfigTable, DAEMON_KEYS, Dependency, FieldKeyForm, Problem, Secret,
    StatusClass, StatusKeyForm, TableReader,
};

/// Kaiten's documented limit is 5 requests per second per token.
pub const MAX_REQUESTS_PER_SECOND: f64 = 5.0;
/// Third-party clients settle on 4.5 rps to leave room for clock jitter.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 4.5;

/// How messages name the helpdesk (`a Kaiten id`).
const VENDOR: &str = "Kaiten";

const HELPDESK_KEYS: [&str; 12] = [
    "url",
    "token",
    "board_id",
    "column_id",
    "lane_id",
    "type_id",
    "service_id",
    "reopen_column_id",
    "client_replied_column_id",
    "resolution_property",
    "requests_per_second",
    "statuses",
];

const TICKET_KEYS: [&str; 8] = [
    "board_id",
    "column_id",
    "lane_id",
    "type_id",
    "service_id",
    "owner_id",
    "responsible_id",
    "properties",
];

/// A validated `[helpdesks.<name>]` table of kind `kaiten`.
///
/// `Debug` is safe to log: the token is a [`Secret`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KaitenConfig {
    /// The site, without a trailing slash (`https://acme.kaiten.ru`); the API lives under
    /// `/api/latest` and card links under `/space/<id>/card/<id>`.
    pub url: String,
    /// The integration user's API token.
    pub token: Secret,
    /// The board new cards go to.
    pub board_id: i64,
    /// The column new cards go to.
    pub column_id: i64,
    /// The lane new cards go to; Kaiten picks the board's default lane when unset.
    pub lane_id: Option<i64>,
    /// The card type of new cards.
    pub type_id: Option<i64>,
    /// The Service Desk service set on new cards (turns them into SD requests).
    pub service_id: Option<i64>,
    /// The column a card moves to when it is reopened (defaults to `column_id`).
    pub reopen_column_id: i64,
    /// The column a card moves to when the client replies, if the board has one.
    pub client_replied_column_id: Option<i64>,
    /// The custom property (`id_<n>`) that holds the resolution text.
    pub resolution_property: Option<String>,
    /// Client-side pacing, at most [`MAX_REQUESTS_PER_SECOND`].
    pub requests_per_second: f64,
    /// Column id → status class; columns not listed fall back to the card's `state`.
    pub statuses: BTreeMap<i64, StatusClass>,
}

impl KaitenConfig {
    /// Reads and validates a whole `[helpdesks.<name>]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&HELPDESK_KEYS, DAEMON_KEYS);
        let url = r.base_url("url", Address::KaitenSite, |url| {
            !url.ends_with("/api/latest") && !url.contains("/api/v1")
        });
        let token = r.required("token", |r| r.non_empty_string("token"));
        let board_id = r.required("board_id", |r| r.positive_id("board_id", VENDOR));
        let column_id = r.required("column_id", |r| r.positive_id("column_id", VENDOR));
        let lane_id = r.positive_id("lane_id", VENDOR);
        let type_id = r.positive_id("type_id", VENDOR);
        let service_id = r.positive_id("service_id", VENDOR);
        let reopen_column_id = r.positive_id("reopen_column_id", VENDOR);
        let client_replied_column_id = r.positive_id("client_replied_column_id", VENDOR);
        let resolution_property = property_key(&mut r, "resolution_property");
        let requests_per_second =
            r.requests_per_second("requests_per_second", MAX_REQUESTS_PER_SECOND, Some(VENDOR));
        let statuses = r
            .statuses("statuses", "<column id>", |column| {
                column
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or(Problem::StatusKey {
                        must_be: StatusKeyForm::ColumnId,
                    })
            })
            .into_iter()
            .collect();
        match (url, token, board_id, column_id) {
            (Some(url), Some(token), Some(board_id), Some(column_id)) if r.is_clean() => Ok(Self {
                url,
                token: Secret::new(token),
                board_id,
                column_id,
                lane_id,
                type_id,
                service_id,
                reopen_column_id: reopen_column_id.unwrap_or(column_id),
                client_replied_column_id,
                resolution_property,
                requests_per_second: requests_per_second.unwrap_or(DEFAULT_REQUESTS_PER_SECOND),
                statuses,
            }),
            _ => Err(r.into_problems()),
        }
    }

    /// The REST API base (`<url>/api/latest`).
    pub fn api_base(&self) -> String {
        format!("{}/api/latest", self.url)
    }
}

/// A validated `[chats.ticket]` table: per-chat overrides of where and how cards are created.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TicketDefaults {
    /// Board for this chat's cards.
    pub board_id: Option<i64>,
    /// Column for this chat's cards.
    pub column_id: Option<i64>,
    /// Lane for this chat's cards.
    pub lane_id: Option<i64>,
    /// Card type.
    pub type_id: Option<i64>,
    /// Service Desk service.
    pub service_id: Option<i64>,
    /// Card owner (user id).
    pub owner_id: Option<i64>,
    /// Responsible member (user id).
    pub responsible_id: Option<i64>,
    /// Custom properties (`id_<n>` → string, number or bool) set on every card.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl TicketDefaults {
    /// Reads and validates a `[chats.ticket]` table, reporting every problem.
    pub fn from_table(table: &ConfigTable) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = TableReader::new(table);
        r.reject_unknown(&TICKET_KEYS, &[]);
        let defaults = Self {
            board_id: r.positive_id("board_id", VENDOR),
            column_id: r.positive_id("column_id", VENDOR),
            lane_id: r.positive_id("lane_id", VENDOR),
            type_id: r.positive_id("type_id", VENDOR),
            service_id: r.positive_id("service_id", VENDOR),
            owner_id: r.positive_id("owner_id", VENDOR),
            responsible_id: r.positive_id("responsible_id", VENDOR),
            properties: r.scalar_table("properties", "\"id_<n>\" = value", |name| {
                if is_property_key(name) {
                    Ok(())
                } else {
                    Err(Problem::FieldKey {
                        must_be: FieldKeyForm::PropertyKey,
                    })
                }
            }),
        };
        // A column belongs to one board, so the helpdesk's column cannot serve another board.
        if defaults.board_id.is_some() && defaults.column_id.is_none() && !r.has_problem("board_id")
        {
            r.problem(
                "board_id",
                Problem::Needs {
                    other: "column_id".into(),
                    why: Dependency::ColumnOfBoard,
                },
            );
        }
        r.finish(defaults)
    }
}

fn property_key(r: &mut TableReader<'_>, key: &str) -> Option<String> {
    let text = match r.get(key)? {
        serde_json::Value::String(s) => s.clone(),
        _ => {
            r.problem(
                key,
                Problem::FieldKey {
                    must_be: FieldKeyForm::PropertyNameString,
                },
            );
            return None;
        }
    };
    if is_property_key(&text) {
        Some(text)
    } else {
        r.problem(
            key,
            Problem::FieldKey {
                must_be: FieldKeyForm::PropertyName,
            },
        );
        None
    }
}

/// `id_<n>`: how Kaiten names custom properties in card payloads.
fn is_property_key(text: &str) -> bool {
    text.strip_prefix("id_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
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
            "kind": "kaiten",
            "poll_interval": "10s",
            "url": "https://acme.kaiten.ru/",
            "token": "secret-token",
            "board_id": 10,
            "column_id": 101,
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
        KaitenConfig::from_table(t).expect_err("invalid")
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let config = KaitenConfig::from_table(&table(minimal())).expect("valid");
        assert_eq!(config.url, "https://acme.kaiten.ru");
        assert_eq!(config.api_base(), "https://acme.kaiten.ru/api/latest");
        assert_eq!(config.reopen_column_id, 101);
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert!(config.statuses.is_empty());
        assert_eq!(config.lane_id, None);
    }

    #[test]
    fn full_table_is_accepted() {
        let config = KaitenConfig::from_table(&with(json!({
            "lane_id": 201, "type_id": 5, "service_id": 7, "reopen_column_id": 102,
            "client_replied_column_id": 102, "resolution_property": "id_42",
            "requests_per_second": 3,
            "statuses": {"103": "waiting_client", "104": "resolved"},
        })))
        .expect("valid");
        assert_eq!(config.lane_id, Some(201));
        assert_eq!(config.reopen_column_id, 102);
        assert_eq!(config.requests_per_second, 3.0);
        assert_eq!(config.resolution_property.as_deref(), Some("id_42"));
        assert_eq!(config.statuses.get(&103), Some(&StatusClass::WaitingClient));
    }

    #[test]
    fn debug_redacts_the_token() {
        let config = KaitenConfig::from_table(&table(minimal())).expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("secret-token"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn empty_table_reports_every_required_key() {
        let p = problems(&table(json!({"kind": "kaiten"})));
        assert_eq!(keys(&p), ["url", "token", "board_id", "column_id"]);
    }

    #[test]
    fn unknown_key_names_the_expected_ones() {
        let p = problems(&with(json!({"bord_id": 1})));
        assert_eq!(keys(&p), ["bord_id"]);
        assert!(
            p[0].problem
                .to_string()
                .contains("expected one of url, token, board_id")
        );
    }

    #[test]
    fn url_must_be_http_or_https() {
        let p = problems(&with(json!({"url": "acme.kaiten.ru"})));
        assert_eq!(keys(&p), ["url"]);
    }

    #[test]
    fn url_must_not_include_the_api_path() {
        let p = problems(&with(json!({"url": "https://acme.kaiten.ru/api/latest"})));
        assert_eq!(keys(&p), ["url"]);
    }

    #[test]
    fn url_must_have_a_host() {
        let p = problems(&with(json!({"url": "https:///x"})));
        assert_eq!(keys(&p), ["url"]);
    }

    #[test]
    fn plain_http_is_accepted_for_local_test_servers() {
        let config =
            KaitenConfig::from_table(&with(json!({"url": "http://127.0.0.1:8080"}))).expect("ok");
        assert_eq!(config.url, "http://127.0.0.1:8080");
    }

    #[test]
    fn token_must_be_a_non_empty_string() {
        assert_eq!(keys(&problems(&with(json!({"token": ""})))), ["token"]);
        assert_eq!(keys(&problems(&with(json!({"token": 5})))), ["token"]);
    }

    #[test]
    fn ids_must_be_positive_integers() {
        let p = problems(&with(json!({
            "board_id": 0, "column_id": "101", "lane_id": -1, "type_id": 1.5,
            "service_id": true, "reopen_column_id": {}, "client_replied_column_id": [1],
        })));
        assert_eq!(
            keys(&p),
            [
                "board_id",
                "column_id",
                "lane_id",
                "type_id",
                "service_id",
                "reopen_column_id",
                "client_replied_column_id"
            ]
        );
    }

    #[test]
    fn resolution_property_must_be_id_n() {
        assert_eq!(
            keys(&problems(&with(
                json!({"resolution_property": "resolution"})
            ))),
            ["resolution_property"]
        );
        assert_eq!(
            keys(&problems(&with(json!({"resolution_property": "id_"})))),
            ["resolution_property"]
        );
        assert_eq!(
            keys(&problems(&with(json!({"resolution_property": 42})))),
            ["resolution_property"]
        );
    }

    #[test]
    fn requests_per_second_must_stay_within_kaitens_limit() {
        // Kaiten limits every token itself: "unlimited" would only earn 429s.
        for bad in [
            json!(0),
            json!(-1),
            json!(5.5),
            json!("fast"),
            json!("unlimited"),
        ] {
            let p = problems(&with(json!({ "requests_per_second": bad })));
            assert_eq!(keys(&p), ["requests_per_second"], "{bad}");
        }
        let ok = KaitenConfig::from_table(&with(json!({"requests_per_second": 5}))).expect("ok");
        assert_eq!(ok.requests_per_second, 5.0);
    }

    #[test]
    fn statuses_need_column_ids_and_known_classes() {
        let p = problems(&with(json!({
            "statuses": {"abc": "new", "105": "solved", "0": "closed", "104": "resolved"},
        })));
        assert_eq!(keys(&p), ["statuses.0", "statuses.105", "statuses.abc"]);
        assert!(p[1].problem.to_string().contains("waiting_third_party"));
    }

    #[test]
    fn statuses_must_be_a_table() {
        assert_eq!(
            keys(&problems(&with(json!({"statuses": "new"})))),
            ["statuses"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&table(json!({
            "kind": "kaiten", "url": "ftp://x", "board_id": -5, "extra": 1,
            "requests_per_second": 10, "statuses": {"1": "bogus"},
        })));
        assert_eq!(
            keys(&p),
            [
                "extra",
                "url",
                "token",
                "board_id",
                "column_id",
                "requests_per_second",
                "statuses.1"
            ]
        );
    }

    #[test]
    fn ticket_defaults_accept_every_key() {
        let d = TicketDefaults::from_table(&table(json!({
            "board_id": 11, "column_id": 111, "lane_id": 211, "type_id": 3, "service_id": 7,
            "owner_id": 100, "responsible_id": 101,
            "properties": {"id_1": "VIP", "id_2": 3, "id_3": true},
        })))
        .expect("valid");
        assert_eq!(d.board_id, Some(11));
        assert_eq!(d.properties.len(), 3);
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
            "queue": "x", "owner_id": "ann", "properties": {"vip": 1, "id_4": [1], "id_5": null},
        })))
        .expect_err("invalid");
        assert_eq!(
            keys(&p),
            [
                "queue",
                "owner_id",
                "properties.id_4",
                "properties.id_5",
                "properties.vip"
            ]
        );
    }

    #[test]
    fn ticket_defaults_board_needs_a_column() {
        let p = TicketDefaults::from_table(&table(json!({"board_id": 11}))).expect_err("invalid");
        assert_eq!(keys(&p), ["board_id"]);
    }

    #[test]
    fn ticket_defaults_properties_must_be_a_table() {
        let p =
            TicketDefaults::from_table(&table(json!({"properties": "x"}))).expect_err("invalid");
        assert_eq!(keys(&p), ["properties"]);
    }
}
