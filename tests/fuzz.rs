//! Fuzz targets as property tests (issue 12.9): whatever bytes Telegram, a helpdesk, a Mini App
//! client or an admin's editor sends, the parsers answer with a value or an error — never a panic,
//! never a hang. Stable Rust has no cargo-fuzz here, so these are proptest targets: `cargo test`
//! runs a few hundred cases each; `scripts/fuzz.sh MINUTES` runs them for longer with fresh
//! seeds. A case that fails is shrunk by proptest and belongs in `regressions()` below.
//!
//! Targets: Telegram updates into the engine (a stateful sequence against a real store), every
//! adapter's webhook parser, Mini App `initData` validation, the config loader, and the HTML
//! escaper and splitter.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};
use std::collections::HashMap;
use teledesk::config::{ChatMode, OnClosedComment};
use teledesk::engine::{ChatSettings, Facts, Settings, process_update};
use teledesk::store::Store;
use teledesk::telegram::split::split_html;
use teledesk::telegram::texts::{Lang, escape};
use teledesk_adapter::{Secret, WebhookRequest};

const GROUP: i64 = -1_001_000_000_001;
const CHANNEL: i64 = -1_001_000_000_100;
const DISCUSSION: i64 = -1_001_000_000_101;
const FORUM: i64 = -1_001_000_000_200;
const STRANGER_CHAT: i64 = -1_001_999_999_999;
const BOT: i64 = 42;
const USERS: [i64; 3] = [700_000_001, 700_000_002, BOT];

/// Cases per target in `cargo test`; `scripts/fuzz.sh` raises it through `PROPTEST_CASES`.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        // Failures are kept as regression tests in this file, not in a side file.
        failure_persistence: None,
        ..Config::default()
    }
}

fn settings() -> Settings {
    let chat = |id, ticket_chat, mode| ChatSettings {
        id,
        ticket_chat,
        mode,
        helpdesk: "main".into(),
        name: "Acme".into(),
        companies: vec!["Acme Moscow".into(), "Acme Kazan".into()],
        on_closed_comment: OnClosedComment::FollowUp,
        files: teledesk::config::FileLimits::DEFAULT,
        visibility: Default::default(),
        intake: Default::default(),
    };
    let chats: HashMap<i64, ChatSettings> = [
        (GROUP, chat(GROUP, GROUP, ChatMode::Group)),
        (CHANNEL, chat(CHANNEL, CHANNEL, ChatMode::Channel)),
        (DISCUSSION, chat(DISCUSSION, CHANNEL, ChatMode::Channel)),
        (FORUM, chat(FORUM, FORUM, ChatMode::Forum)),
    ]
    .into_iter()
    .collect();
    Settings {
        bot_id: BOT,
        bot_username: "teledesk_bot".into(),
        lang: Lang::Ru,
        chats,
        chat_key: Secret::new("123:fuzz"),
        admins: Vec::new(),
    }
}

/// Text a client might send: commands with and without arguments and the bot's name, callback
/// data, markers, HTML, and anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/new".to_owned()),
        Just("/new Не печатает принтер".to_owned()),
        Just("/ticket".to_owned()),
        Just("/ticket@teledesk_bot".to_owned()),
        Just("/escalate".to_owned()),
        Just("/my".to_owned()),
        Just("/last".to_owned()),
        Just("/cancel".to_owned()),
        Just("/done".to_owned()),
        Just("/start new_".to_owned()),
        Just("/start".to_owned()),
        Just("tg-key: tg:-1001000000001:7".to_owned()),
        Just("<b>жирный</b> &amp; <a href=\"x\">ссылка</a>".to_owned()),
        Just(String::new()),
        any::<String>(),
        any::<String>().prop_map(|s| format!("/new {s}")),
    ]
}

fn chat() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"id": GROUP, "type": "supergroup", "title": "Acme"})),
        Just(json!({"id": CHANNEL, "type": "channel", "title": "Acme news"})),
        Just(json!({"id": DISCUSSION, "type": "supergroup", "title": "Acme chat"})),
        Just(json!({"id": FORUM, "type": "supergroup", "title": "Acme forum", "is_forum": true})),
        Just(json!({"id": STRANGER_CHAT, "type": "group", "title": "Strangers"})),
        prop::sample::select(USERS.to_vec())
            .prop_map(|id| json!({"id": id, "type": "private", "first_name": "Анна"})),
        // A chat of a kind or shape Telegram may add.
        Just(json!({"id": GROUP, "type": "gigagroup"})),
        Just(json!({"id": "not a number"})),
    ]
}

fn user() -> impl Strategy<Value = Value> {
    (prop::sample::select(USERS.to_vec()), any::<bool>()).prop_map(|(id, bot)| {
        json!({"id": id, "is_bot": bot || id == BOT, "first_name": "Анна", "username": "anna"})
    })
}

/// A message with the parts the engine reads, each present or not, sometimes of the wrong type.
fn message() -> impl Strategy<Value = Value> {
    (
        1..40i64,
        chat(),
        user(),
        text(),
        prop::option::of(1..40i64),
        prop::option::of(prop::sample::select(vec!["album-1", "album-2"])),
        prop::option::of(1..5i64),
        0..6u8,
    )
        .prop_map(|(id, chat, from, text, reply, album, thread, extra)| {
            let mut message = json!({
                "message_id": id, "date": 1_760_000_000, "chat": chat, "from": from, "text": text,
            });
            if let Some(reply) = reply {
                message["reply_to_message"] = json!({
                    "message_id": reply, "date": 1_760_000_000, "chat": message["chat"].clone(),
                    "from": {"id": BOT, "is_bot": true, "first_name": "bot"}, "text": "Заявка #7",
                });
            }
            if let Some(album) = album {
                message["media_group_id"] = json!(album);
            }
            if let Some(thread) = thread {
                message["message_thread_id"] = json!(thread);
                message["is_topic_message"] = json!(true);
            }
            match extra {
                1 => {
                    message["photo"] = json!([{"file_id": "p1", "file_unique_id": "u1",
                        "width": 1, "height": 1, "file_size": 3}]);
                    message["caption"] = message["text"].take();
                }
                2 => {
                    message["document"] = json!({"file_id": "d1", "file_unique_id": "u2",
                        "file_name": "../../etc/passwd", "mime_type": "application/x-msdownload",
                        "file_size": 999_999_999_999u64});
                }
                3 => message["is_automatic_forward"] = json!(true),
                4 => message["sender_chat"] = json!({"id": CHANNEL, "type": "channel"}),
                5 => message["text"] = json!(12345),
                _ => {}
            }
            message
        })
}

fn update() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => message().prop_map(|m| json!({"message": m})),
        1 => message().prop_map(|m| json!({"edited_message": m})),
        1 => message().prop_map(|m| json!({"channel_post": m})),
        2 => (message(), user(), any::<String>(), 0..4u8).prop_map(|(m, from, junk, kind)| {
            let data = match kind {
                0 => "rate:1:5".to_owned(),
                1 => "reopen:1".to_owned(),
                2 => "company:0".to_owned(),
                _ => junk,
            };
            json!({"callback_query": {"id": "q1", "from": from, "message": m,
                "chat_instance": "c", "data": data}})
        }),
        1 => (chat(), user()).prop_map(|(chat, from)| json!({"chat_member": {"chat": chat,
            "from": from, "date": 0, "old_chat_member": {"status": "member", "user": from},
            "new_chat_member": {"status": "left", "user": from}}})),
        1 => Just(json!({"message_reaction": {"chat": {"id": GROUP, "type": "supergroup"}}})),
        1 => any_json().prop_map(|v| json!({"message": v})),
        1 => any_json(),
    ]
    .prop_flat_map(|update| (Just(update), 1..1_000_000i64))
    .prop_map(|(mut update, id)| {
        if let Value::Object(map) = &mut update {
            map.insert("update_id".into(), json!(id));
        }
        update
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "message",
                        "chat",
                        "id",
                        "text",
                        "from",
                        "reply_to_message",
                        "data",
                        "message_id",
                        "type",
                        "app_submission",
                        "x",
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(config(64))]

    /// A conversation of arbitrary updates, each applied to the state the ones before it left:
    /// the engine answers every one (or defers it) and never panics.
    #[test]
    fn updates_never_panic_the_engine(updates in prop::collection::vec(update(), 1..24)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let settings = settings();
        let now = time::OffsetDateTime::from_unix_timestamp(1_760_000_100).unwrap();
        for raw in &updates {
            let facts = Facts { presser_is_member: Some(true), member_of: vec![GROUP], membership_busy: false };
            let _ = store.write(|tx| process_update(tx, &settings, raw, facts, now).map(|_| ()));
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// `initData` from anyone: an answer, never a panic; and a launch signed with the token
    /// passes while a launch signed with another token, or changed after signing, does not.
    #[test]
    fn init_data_is_checked_without_panicking(
        raw in any::<String>(),
        name in any::<String>(),
        start in any::<String>(),
        flip in 0usize..64,
    ) {
        let token = Secret::new("123456:fuzz-token");
        let max_age = std::time::Duration::from_secs(3600);
        let _ = teledesk::http::init_data::validate(&raw, &token, 1_760_000_000, max_age);
        let user = json!({"id": 700_000_001, "first_name": name}).to_string();
        let fields = [
            ("auth_date", "1760000000".to_owned()),
            ("user", user),
            ("start_param", start),
        ];
        let signed = teledesk_testkit::telegram::mini_app::sign_init_data(token.expose(), &fields);
        prop_assert!(teledesk::http::init_data::validate(&signed, &token, 1_760_000_010, max_age).is_ok());
        let other = teledesk_testkit::telegram::mini_app::sign_init_data("123456:other", &fields);
        prop_assert!(teledesk::http::init_data::validate(&other, &token, 1_760_000_010, max_age).is_err());
        // Change one character of the signed data (its fields or its hash).
        let mut bytes: Vec<char> = signed.chars().collect();
        let at = flip % bytes.len();
        bytes[at] = if bytes[at] == 'a' { 'b' } else { 'a' };
        let changed: String = bytes.into_iter().collect();
        // `%A3` and `%a3` are the same byte: only a change of what the data says counts.
        let decoded = |query: &str| form_urlencoded::parse(query.as_bytes()).into_owned().collect::<Vec<_>>();
        if decoded(&changed) != decoded(&signed) {
            prop_assert!(teledesk::http::init_data::validate(&changed, &token, 1_760_000_010, max_age).is_err());
        }
    }

    /// Whatever an admin's editor saves: findings or a config, never a panic.
    #[test]
    fn the_config_loader_never_panics(
        text in any::<String>(),
        line in 0usize..200,
        replacement in any::<String>(),
    ) {
        let env = |_: &str| Some("secret".to_owned());
        let _ = teledesk::config::parse(&text, &env);
        // The example config with one line replaced by anything.
        let example = include_str!("../mappings.toml.example");
        let mut lines: Vec<&str> = example.lines().collect();
        let at = line % lines.len();
        lines[at] = &replacement;
        let _ = teledesk::config::parse(&lines.join("\n"), &env);
    }

    /// Any text escaped and split: every part fits Telegram's limit and the parts together carry
    /// the whole visible text.
    #[test]
    fn escaped_text_splits_within_the_limit(text in any::<String>(), limit in 16usize..300) {
        let html = escape(&text);
        let parts = split_html(&html, limit);
        for part in &parts {
            prop_assert!(visible_units(part) <= limit, "{part:?} over {limit}");
        }
        let joined: String = parts.iter().map(|p| unescape(p)).collect();
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        prop_assert_eq!(squash(&joined), squash(&text));
    }
}

/// UTF-16 units of the text Telegram shows for `html` (tags free, an entity one character).
fn visible_units(html: &str) -> usize {
    unescape(&strip_tags(html)).encode_utf16().count()
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Every adapter's webhook parser against arbitrary bodies and headers (signed where the vendor
/// signs, so the parser gets past the signature too).
#[test]
fn webhook_parsers_never_panic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for kind in ["kaiten", "znuny", "glpi", "rt", "zammad", "redmine"] {
        let stage = runtime
            .block_on(teledesk::demo::Stage::with_helpdesk(
                teledesk::demo::Target::Fake(kind.to_owned()),
                1,
                "ru",
                "0s",
            ))
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let config = stage.config();
        let adapter = teledesk::helpdesks::build(&config.helpdesks["main"]).expect("adapter");
        let secret = teledesk::demo::StagedHelpdesk::WEBHOOK_SECRET;
        let mut runner = proptest::test_runner::TestRunner::new(config_for_webhooks());
        runner
            .run(
                &(any::<Vec<u8>>(), any_json(), any::<String>(), 0..4u8),
                |(bytes, json, header, shape)| {
                    let body = match shape {
                        0 => bytes,
                        _ => json.to_string().into_bytes(),
                    };
                    let mut headers = vec![
                        ("content-type".to_owned(), "application/json".to_owned()),
                        ("x-hub-signature".to_owned(), header.clone()),
                        ("x-glpi-signature".to_owned(), header),
                    ];
                    if shape == 3 {
                        headers.extend(signatures(secret, &body));
                    }
                    let _ = adapter.parse_webhook(&WebhookRequest { headers, body });
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

fn config_for_webhooks() -> Config {
    config(256)
}

/// The signature headers GLPI and Zammad check, over `body` with `secret` (HMAC-SHA1 and
/// HMAC-SHA256 in their header forms).
fn signatures(secret: &str, body: &[u8]) -> Vec<(String, String)> {
    use hmac::Mac;
    let mut sha1 = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    sha1.update(body);
    let mut sha256 = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    sha256.update(body);
    let sha1 = hex::encode(sha1.finalize().into_bytes());
    let sha256 = hex::encode(sha256.finalize().into_bytes());
    vec![
        ("x-hub-signature".to_owned(), format!("sha1={sha1}")),
        ("x-glpi-signature".to_owned(), sha256.clone()),
        ("x-hub-signature-256".to_owned(), format!("sha256={sha256}")),
    ]
}

/// Cases proptest found once, kept so they stay fixed.
#[test]
fn regressions() {
    let token = Secret::new("123456:fuzz-token");
    for raw in ["=", "&&", "hash=", "hash=zz&hash=zz", "%", "user=%FF%FE"] {
        let _ =
            teledesk::http::init_data::validate(raw, &token, 0, std::time::Duration::from_secs(1));
    }
}
