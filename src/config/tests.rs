//! One test per accepted or rejected config shape.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::telegram::texts::Lang;
use crate::telegram::texts::ops::ConfigText;

/// A complete, valid config; tests change one thing at a time.
const BASE: &str = r#"[telegram]
token = "env:BOT_TOKEN"

[store]
path = "/var/lib/teledesk"

[helpdesks.main]
kind = "kaiten"
url = "https://example.kaiten.ru"
token = "env:KAITEN_TOKEN"
board_id = 1
column_id = 2

[[chats]]
id = -1001234567890
mode = "channel"
helpdesk = "main"
name = "Acme"
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "BOT_TOKEN" => Some("123:bot-secret".into()),
        "KAITEN_TOKEN" => Some("kaiten-secret".into()),
        "HOOK_SECRET" => Some("hook_secret-1".into()),
        _ => None,
    }
}

fn ok(text: &str) -> Loaded {
    match parse(text, &env) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("expected a valid config, got:\n{}", lines(&errors)),
    }
}

fn errors(text: &str) -> String {
    match parse(text, &env) {
        Ok(loaded) => panic!("expected errors, got a config: {:?}", loaded.config),
        Err(errors) => lines(&errors),
    }
}

fn warnings(text: &str) -> String {
    lines(&ok(text).warnings)
}

fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `BASE` with `extra` inserted right after the line that starts with `after`.
fn with(after: &str, extra: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for line in BASE.lines() {
        out.push_str(line);
        out.push('\n');
        if !done && line.starts_with(after) {
            out.push_str(extra);
            out.push('\n');
            done = true;
        }
    }
    assert!(done, "no line starts with {after:?}");
    out
}

// --- accepted shapes ---

#[test]
fn minimal_config_gets_the_defaults() {
    let loaded = ok(BASE);
    assert!(loaded.warnings.is_empty(), "{}", lines(&loaded.warnings));
    let config = loaded.config;
    assert_eq!(config.telegram.token.expose(), "123:bot-secret");
    assert_eq!(config.telegram.api_url, "https://api.telegram.org");
    assert_eq!(config.telegram.updates, UpdatesMode::Polling);
    assert!(config.telegram.webhook_secret.is_none());
    assert!(config.telegram.admins.is_empty());
    assert_eq!(config.telegram.language, Language::Ru);
    assert_eq!(
        config.server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.server.public_url, None);
    assert_eq!(config.store.path, PathBuf::from("/var/lib/teledesk"));

    let desk = &config.helpdesks["main"];
    assert_eq!(desk.name, "main");
    assert_eq!(desk.kind, "kaiten");
    assert_eq!(desk.poll_interval, Duration::from_secs(30));

    let chat = &config.chats[0];
    assert_eq!(chat.id, -1001234567890);
    assert_eq!(chat.mode, ChatMode::Channel);
    assert_eq!(chat.helpdesk, "main");
    assert_eq!(chat.name, "Acme");
    assert!(chat.companies.is_empty());
    assert_eq!(chat.on_closed_comment, OnClosedComment::FollowUp);
    assert_eq!(chat.visibility, Visibility::Own);
    assert!(chat.ticket.is_empty());
}

#[test]
fn every_optional_key_is_read() {
    let text = r#"[telegram]
token = "env:BOT_TOKEN"
api_url = "http://127.0.0.1:8081/"
updates = "webhook"
webhook_secret = "env:HOOK_SECRET"
admins = [111, 222]
language = "en"

[server]
listen = "[::]:9000"
public_url = "https://desk.example.com/"

[store]
path = "data"

[helpdesks.main]
kind = "kaiten"
url = "https://example.kaiten.ru"
token = "env:KAITEN_TOKEN"
board_id = 1
column_id = 2
poll_interval = "0s"

[[chats]]
id = -42
mode = "group"
helpdesk = "main"
name = "Acme"
companies = ["Acme Moscow", "Acme Kazan"]
on_closed_comment = "reopen"
visibility = "chat"
[chats.ticket]
board_id = 7
column_id = 70
"#;
    let config = ok(text).config;
    assert_eq!(config.telegram.api_url, "http://127.0.0.1:8081");
    assert_eq!(config.telegram.updates, UpdatesMode::Webhook);
    assert_eq!(
        config.telegram.webhook_secret.as_ref().map(Secret::expose),
        Some("hook_secret-1")
    );
    assert_eq!(config.telegram.admins, [111, 222]);
    assert_eq!(config.telegram.language, Language::En);
    assert_eq!(
        config.server.listen,
        "[::]:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://desk.example.com")
    );
    assert_eq!(config.helpdesks["main"].poll_interval, Duration::ZERO);
    let chat = &config.chats[0];
    assert_eq!(chat.mode, ChatMode::Group);
    assert_eq!(chat.companies, ["Acme Moscow", "Acme Kazan"]);
    assert_eq!(chat.on_closed_comment, OnClosedComment::Reopen);
    assert_eq!(chat.visibility, Visibility::Chat);
    assert_eq!(chat.ticket["board_id"], serde_json::json!(7));
}

#[test]
fn forum_mode_is_accepted() {
    let config = ok(&BASE.replace("\"channel\"", "\"forum\"")).config;
    assert_eq!(config.chats[0].mode, ChatMode::Forum);
}

#[test]
fn helpdesk_table_is_passed_whole_with_secrets_resolved() {
    let text = with(
        "column_id = 2",
        "[helpdesks.main.statuses]\n\"101\" = \"new\"\n\"102\" = \"closed\"",
    )
    .replace(
        "kind = \"kaiten\"",
        "kind = \"kaiten\"\npoll_interval = \"5m\"",
    );
    let desk = &ok(&text).config.helpdesks["main"];
    assert_eq!(desk.poll_interval, Duration::from_secs(300));
    assert_eq!(
        serde_json::Value::Object(desk.table.clone()),
        serde_json::json!({
            "kind": "kaiten",
            "poll_interval": "5m",
            "url": "https://example.kaiten.ru",
            "token": "kaiten-secret",
            "board_id": 1,
            "column_id": 2,
            "statuses": {"101": "new", "102": "closed"},
        })
    );
}

#[test]
fn secret_keys_are_resolved_at_any_depth_of_an_adapter_table() {
    use super::parse::{Report, Table};

    let text = "[desk]\nurl = \"env:BOT_TOKEN\"\napp_token = \"env:BOT_TOKEN\"\n\
                [desk.auth]\npassword = \"env:HOOK_SECRET\"\nuser = \"bot\"\n";
    let doc = toml::de::DeTable::parse(text).unwrap();
    let root = Table::root(doc.get_ref());
    let mut report = Report::new(text, &env);
    let desk = report.table(&root, "desk").unwrap();
    let (json, failed) = report.table_json(&desk, true);
    assert!(failed.is_empty());
    assert!(report.errors.is_empty() && report.warnings.is_empty());
    assert_eq!(
        serde_json::Value::Object(json),
        serde_json::json!({
            // Not a secret key: passed through unchanged.
            "url": "env:BOT_TOKEN",
            "app_token": "123:bot-secret",
            "auth": {"password": "hook_secret-1", "user": "bot"},
        })
    );
}

#[test]
fn helpdesk_debug_redacts_secret_keys_at_any_depth() {
    let desk = HelpdeskConfig {
        name: "main".into(),
        kind: "kaiten".into(),
        poll_interval: Duration::from_secs(30),
        max_in_flight: None,
        table: serde_json::json!({
            "token": "tok-value",
            "auth": {"password": "pw-value", "user": "bot"},
            "board_id": 1,
        })
        .as_object()
        .unwrap()
        .clone(),
    };
    let debug = format!("{desk:?}");
    assert!(
        !debug.contains("tok-value") && !debug.contains("pw-value"),
        "{debug}"
    );
    assert!(debug.contains("\"user\": String(\"bot\")"), "{debug}");
}

#[test]
fn file_secrets_are_read_and_trimmed() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "from-file").unwrap();
    let text = BASE.replace(
        "\"env:BOT_TOKEN\"",
        &format!("\"file:{}\"", file.path().display()),
    );
    assert_eq!(ok(&text).config.telegram.token.expose(), "from-file");
}

#[test]
fn basic_group_id_is_fine_in_group_mode() {
    let text = BASE
        .replace("-1001234567890", "-4567")
        .replace("\"channel\"", "\"group\"");
    assert_eq!(warnings(&text), "");
}

#[test]
fn several_chats_may_share_a_helpdesk() {
    let text = format!(
        "{BASE}\n[[chats]]\nid = -1009\nmode = \"group\"\nhelpdesk = \"main\"\nname = \"Beta\"\n"
    );
    assert_eq!(ok(&text).config.chats.len(), 2);
}

// --- warnings ---

#[test]
fn literal_secret_is_a_warning_without_the_value() {
    let text = BASE.replace("\"env:BOT_TOKEN\"", "\"123456:LITERAL\"");
    let loaded = ok(&text);
    assert_eq!(loaded.config.telegram.token.expose(), "123456:LITERAL");
    insta::assert_snapshot!(lines(&loaded.warnings), @"telegram.token (line 2): literal secret in the config file; use env:NAME or file:/path");
}

#[test]
fn literal_secret_in_a_helpdesk_table_is_a_warning() {
    let text = BASE.replace("\"env:KAITEN_TOKEN\"", "\"kaiten-literal\"");
    insta::assert_snapshot!(warnings(&text), @"helpdesks.main.token (line 10): literal secret in the config file; use env:NAME or file:/path");
}

#[test]
fn channel_with_a_basic_group_id_is_a_warning() {
    let text = BASE.replace("-1001234567890", "-4567");
    insta::assert_snapshot!(warnings(&text), @"chats[0].id (line 15): channel ids start with -100 (e.g. -1001234567890); -4567 looks like a basic group");
}

// --- rejected shapes ---

#[test]
fn toml_syntax_error_is_one_finding_with_its_line() {
    let text = BASE.replace("path = \"/var/lib/teledesk\"", "path = \"/var/lib/teledesk");
    let errors = parse(&text, &env).unwrap_err();
    assert_eq!(errors.len(), 1, "{}", lines(&errors));
    assert_eq!(errors[0].path, "");
    assert_eq!(errors[0].line, Some(5));
    assert!(
        errors[0].message().starts_with("invalid TOML: "),
        "{}",
        errors[0]
    );
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let text = with("token = \"env:BOT_TOKEN\"", "token = \"env:BOT_TOKEN\"");
    let errors = parse(&text, &env).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, Some(3));
}

#[test]
fn unknown_keys_everywhere_the_daemon_owns() {
    let text = format!(
        "extra = 1\n{}",
        BASE.replace("token = \"env:BOT_TOKEN\"", "tokn = \"env:BOT_TOKEN\"")
            .replace("[store]\n", "[store]\ndir = \"x\"\n")
            .replace("name = \"Acme\"", "name = \"Acme\"\ncompany = \"Acme\"")
            + "[server]\nport = 1\n"
    );
    insta::assert_snapshot!(errors(&text), @"
    extra (line 1): unknown key `extra`; expected one of telegram, server, store, helpdesks, chats, files
    telegram.token (line 2): missing required key
    telegram.tokn (line 3): unknown key `tokn`; expected one of token, api_url, updates, webhook_secret, admins, language
    store.dir (line 6): unknown key `dir`; expected one of path
    chats[0].company (line 21): unknown key `company`; expected one of id, mode, helpdesk, name, companies, on_closed_comment, visibility, ticket, files, categories, fields, registered_at
    server.port (line 23): unknown key `port`; expected one of listen, public_url, mini_app, init_data_max_age, admin_listen
    ");
}

#[test]
fn required_tables() {
    insta::assert_snapshot!(errors(""), @r"
    telegram: missing required table [telegram]
    store: missing required table [store]
    helpdesks: missing required table [helpdesks]
    chats: at least one chat is required: add a [[chats]] section
    ");
}

#[test]
fn required_keys() {
    let text = "[telegram]\n[store]\n[helpdesks.main]\n[[chats]]\n";
    insta::assert_snapshot!(errors(text), @r"
    telegram.token (line 1): missing required key
    store.path (line 2): missing required key
    helpdesks.main.kind (line 3): missing required key
    chats[0].id (line 4): missing required key
    chats[0].mode (line 4): missing required key
    chats[0].helpdesk (line 4): missing required key
    chats[0].name (line 4): missing required key
    ");
}

#[test]
fn tables_of_the_wrong_shape() {
    let text = "telegram = 1\nstore = \"x\"\nhelpdesks = { main = 3 }\n[chats]\nid = 1\n";
    insta::assert_snapshot!(errors(text), @r"
    telegram (line 1): must be a table, found integer
    store (line 2): must be a table, found string
    helpdesks.main (line 3): must be a table, found integer
    chats (line 4): must be an array of tables ([[chats]]), found table
    ");
}

#[test]
fn empty_helpdesks_and_chats() {
    let text =
        "chats = []\n[telegram]\ntoken = \"env:BOT_TOKEN\"\n[store]\npath = \"x\"\n[helpdesks]\n";
    insta::assert_snapshot!(errors(text), @"
    chats (line 1): at least one chat is required: add a [[chats]] section
    helpdesks (line 6): at least one helpdesk is required, e.g. [helpdesks.main]
    ");
}

#[test]
fn empty_chats_array() {
    let text = format!("chats = []\n{}", BASE.split("[[chats]]").next().unwrap());
    insta::assert_snapshot!(errors(&text), @"chats (line 1): at least one chat is required: add a [[chats]] section");
}

#[test]
fn wrong_value_types() {
    let text = BASE
        .replace("\"env:BOT_TOKEN\"", "123")
        .replace("\"/var/lib/teledesk\"", "[\"x\"]")
        .replace("-1001234567890", "\"-1001234567890\"")
        .replace("name = \"Acme\"", "name = 5\ncompanies = \"Acme\"");
    insta::assert_snapshot!(errors(&text), @"
    telegram.token (line 2): must be a string, found integer
    store.path (line 5): must be a string, found array
    chats[0].id (line 15): must be an integer, found string
    chats[0].name (line 18): must be a string, found integer
    chats[0].companies (line 19): must be an array of strings, found string
    ");
}

#[test]
fn missing_env_variables_are_named_never_valued() {
    let empty = |_: &str| None;
    let errors = parse(BASE, &empty).unwrap_err();
    insta::assert_snapshot!(lines(&errors), @r"
    telegram.token (line 2): environment variable `BOT_TOKEN` is not set
    helpdesks.main.token (line 10): environment variable `KAITEN_TOKEN` is not set
    ");
}

#[test]
fn unreadable_secret_file_names_the_path() {
    let text = BASE.replace("\"env:KAITEN_TOKEN\"", "\"file:/nonexistent/kaiten\"");
    insta::assert_snapshot!(errors(&text), @"helpdesks.main.token (line 10): cannot read secret file `/nonexistent/kaiten`: entity not found");
}

#[test]
fn secret_in_a_helpdesk_table_must_be_a_string() {
    let text = BASE.replace("\"env:KAITEN_TOKEN\"", "1234");
    insta::assert_snapshot!(errors(&text), @r#"helpdesks.main.token (line 10): must be a string ("env:NAME", "file:/path" or the secret), found integer"#);
}

#[test]
fn secrets_never_reach_messages_or_debug() {
    let text = BASE.replace("\"env:BOT_TOKEN\"", "\"LITERAL-BOT-SECRET\"") + "[telegram.extra]\n";
    let all = match parse(&text, &env) {
        Ok(loaded) => format!("{loaded:?} {}", lines(&loaded.warnings)),
        Err(errors) => lines(&errors),
    };
    assert!(!all.contains("LITERAL-BOT-SECRET"), "{all}");

    let text = with(
        "token = \"env:BOT_TOKEN\"",
        "webhook_secret = \"env:HOOK_SECRET\"",
    );
    let debug = format!("{:?}", ok(&text));
    for secret in ["123:bot-secret", "kaiten-secret", "hook_secret-1"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
}

#[test]
fn bad_enum_values_list_the_choices() {
    let text = with(
        "token = \"env:BOT_TOKEN\"",
        "updates = \"webhok\"\nlanguage = \"de\"",
    )
    .replace("\"channel\"", "\"supergroup\"")
    .replace(
        "name = \"Acme\"",
        "name = \"Acme\"\non_closed_comment = \"followup\"\nvisibility = \"company\"",
    );
    insta::assert_snapshot!(errors(&text), @r#"
    telegram.updates (line 3): unknown value "webhok"; expected one of polling, webhook
    telegram.language (line 4): unknown value "de"; expected one of ru, en
    chats[0].mode (line 18): unknown value "supergroup"; expected one of channel, group, forum
    chats[0].on_closed_comment (line 21): unknown value "followup"; expected one of follow_up, reopen
    chats[0].visibility (line 22): unknown value "company"; expected one of own, chat
    "#);
}

#[test]
fn admins_must_be_user_ids() {
    let text = with("token = \"env:BOT_TOKEN\"", "admins = [1, \"2\", -3]");
    insta::assert_snapshot!(errors(&text), @r#"
    telegram.admins[1] (line 3): must be an integer (a Telegram user id), found string
    telegram.admins[2] (line 3): must be a positive Telegram user id
    "#);
    let text = with("token = \"env:BOT_TOKEN\"", "admins = 1");
    insta::assert_snapshot!(errors(&text), @"telegram.admins (line 3): must be an array of Telegram user ids, found integer");
}

#[test]
fn webhook_mode_needs_a_public_url_and_a_secret() {
    let text = with("token = \"env:BOT_TOKEN\"", "updates = \"webhook\"");
    insta::assert_snapshot!(errors(&text), @r#"
    telegram.webhook_secret (line 3): required when updates = "webhook"; Telegram sends it with every webhook call
    server.public_url (line 3): required when telegram.updates = "webhook"; Telegram needs an https URL to call
    "#);
}

#[test]
fn webhook_mode_points_at_the_server_table_when_it_exists() {
    let text = with(
        "token = \"env:BOT_TOKEN\"",
        "updates = \"webhook\"\nwebhook_secret = \"env:HOOK_SECRET\"\n[server]\nlisten = \"0.0.0.0:80\"",
    );
    insta::assert_snapshot!(errors(&text), @r#"server.public_url (line 5): required when telegram.updates = "webhook"; Telegram needs an https URL to call"#);
}

#[test]
fn webhook_secret_must_suit_telegram() {
    let text = with(
        "token = \"env:BOT_TOKEN\"",
        "webhook_secret = \"has spaces!\"",
    );
    let errors = errors(&text);
    assert!(!errors.contains("has spaces"), "{errors}");
    insta::assert_snapshot!(errors, @"telegram.webhook_secret (line 3): Telegram requires 1-256 characters of A-Z, a-z, 0-9, _ and -");
}

#[test]
fn urls_must_be_http_and_public_url_https() {
    let text = with(
        "token = \"env:BOT_TOKEN\"",
        "api_url = \"api.telegram.org\"",
    ) + "[server]\npublic_url = \"http://desk.example.com\"\n";
    insta::assert_snapshot!(errors(&text), @r#"
    telegram.api_url (line 3): invalid URL "api.telegram.org"; expected an http or https URL, e.g. "https://api.telegram.org"
    server.public_url (line 21): invalid URL "http://desk.example.com"; expected an https URL, e.g. "https://desk.example.com" (http only on loopback)
    "#);
    let text = with("token = \"env:BOT_TOKEN\"", "api_url = \"ftp://x\"");
    assert!(errors(&text).contains("telegram.api_url (line 3): invalid URL"));
    // Behind a local Bot API server on the same host.
    for loopback in [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
    ] {
        let text = format!("{BASE}[server]\npublic_url = \"{loopback}\"\n");
        assert_eq!(
            ok(&text).config.server.public_url.as_deref(),
            Some(loopback)
        );
    }
}

#[test]
fn listen_must_be_a_socket_address() {
    let text = format!("{BASE}[server]\nlisten = \"localhost:8080\"\n");
    insta::assert_snapshot!(errors(&text), @r#"server.listen (line 20): invalid socket address "localhost:8080"; expected an IP and a port, e.g. "127.0.0.1:8080" or "[::]:8080""#);
}

#[test]
fn bad_durations_are_quoted() {
    let text = with("kind = \"kaiten\"", "poll_interval = \"30 sec\"");
    insta::assert_snapshot!(errors(&text), @r#"helpdesks.main.poll_interval (line 9): invalid duration "30 sec"; expected a whole number and a unit: "500ms", "30s", "5m" or "1h""#);
    let text = with("kind = \"kaiten\"", "poll_interval = 30");
    insta::assert_snapshot!(errors(&text), @r#"helpdesks.main.poll_interval (line 9): must be a duration string like "500ms", "30s", "5m" or "1h", found integer"#);
}

#[test]
fn max_in_flight_is_optional_and_bounded() {
    assert_eq!(ok(BASE).config.helpdesks["main"].max_in_flight, None);
    let text = with("kind = \"kaiten\"", "max_in_flight = 12");
    assert_eq!(ok(&text).config.helpdesks["main"].max_in_flight, Some(12));
    let text = with("kind = \"kaiten\"", "max_in_flight = 0");
    insta::assert_snapshot!(errors(&text), @"helpdesks.main.max_in_flight (line 9): must be from 1 to 1024 (tickets worked on at once)");
    let text = with("kind = \"kaiten\"", "max_in_flight = \"many\"");
    insta::assert_snapshot!(errors(&text), @"helpdesks.main.max_in_flight (line 9): must be a whole number of tickets, found string");
}

#[test]
fn only_a_self_hosted_helpdesk_takes_an_unlimited_rate() {
    let text = with("column_id", "requests_per_second = \"unlimited\"");
    insta::assert_snapshot!(errors(&text), @r#"helpdesks.main.requests_per_second (line 13): cannot be "unlimited" (Kaiten allows 5 requests per second); give a number greater than 0 and at most 5"#);
    let text = format!(
        "{BASE}\n[helpdesks.desk]\nkind = \"znuny\"\n\
         url = \"https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk\"\n\
         customer_user = \"client\"\nuser = \"teledesk\"\npassword = \"env:KAITEN_TOKEN\"\nqueue = \"Support\"\n\
         requests_per_second = \"unlimited\"\n"
    );
    let loaded = ok(&text);
    assert_eq!(
        loaded.config.helpdesks["desk"].table["requests_per_second"],
        "unlimited"
    );
    let text = text.replace("= \"unlimited\"", "= \"fast\"");
    insta::assert_snapshot!(errors(&text), @r#"helpdesks.desk.requests_per_second (line 27): must be a number greater than 0 and at most 100, or "unlimited" (no client-side limit)"#);
}

#[test]
fn unknown_kinds_and_another_vendors_keys() {
    let text = BASE.replace("\"kaiten\"", "\"jira\"");
    insta::assert_snapshot!(errors(&text), @"helpdesks.main.kind (line 8): unknown kind `jira`; expected one of kaiten, znuny, glpi, rt, zammad, redmine");
    // Switching `kind` without switching the keys: the RT adapter names what it does not know.
    let text = BASE.replace("\"kaiten\"", "\"rt\"");
    insta::assert_snapshot!(errors(&text), @"
    helpdesks.main.queue (line 7): required
    helpdesks.main.token (line 10): is not an RT auth token of the form 1-<user id>-<32 hex digits>; set `user` to the token owner's login
    helpdesks.main.board_id (line 11): unknown key; expected one of url, token, user, queue, requestor, requests_per_second, statuses, idempotency_field, resolution_field, chat_field, announcement_field, reopen_status, priorities
    helpdesks.main.column_id (line 12): unknown key; expected one of url, token, user, queue, requestor, requests_per_second, statuses, idempotency_field, resolution_field, chat_field, announcement_field, reopen_status, priorities
    ");
}

#[test]
fn chat_must_name_an_existing_helpdesk() {
    let text = BASE.replace("helpdesk = \"main\"", "helpdesk = \"mian\"");
    insta::assert_snapshot!(errors(&text), @"chats[0].helpdesk (line 17): no helpdesk named `mian` ([helpdesks.mian]); defined: main");
}

#[test]
fn chat_naming_a_broken_helpdesk_gets_no_second_error() {
    let text = BASE.replace("\"kaiten\"", "\"jira\"");
    let errors = errors(&text);
    assert!(!errors.contains("chats[0]"), "{errors}");
}

#[test]
fn chat_ids_must_be_negative_and_unique() {
    let text = format!(
        "{}\n[[chats]]\nid = -1001234567890\nmode = \"group\"\nhelpdesk = \"main\"\nname = \"Beta\"\n\n[[chats]]\nid = 42\nmode = \"group\"\nhelpdesk = \"main\"\nname = \"Gamma\"\n",
        BASE
    );
    insta::assert_snapshot!(errors(&text), @"
    chats[1].id (line 21): duplicate chat id -1001234567890; already used by chats[0] (line 15)
    chats[2].id (line 27): must be a negative chat id (a group, supergroup or channel); positive ids are users
    ");
}

#[test]
fn empty_name_and_bad_companies() {
    let text = BASE.replace(
        "name = \"Acme\"",
        "name = \"\"\ncompanies = [\"A\", \"\", \"A\", 3]",
    );
    insta::assert_snapshot!(errors(&text), @r#"
    chats[0].name (line 18): must not be empty
    chats[0].companies[1] (line 19): must not be empty
    chats[0].companies[2] (line 19): duplicate company "A"
    chats[0].companies[3] (line 19): must be a string, found integer
    "#);
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = r#"[telegram]
tokn = "env:BOT_TOKEN"
language = "fr"

[store]
path = ""

[helpdesks.main]
kind = "kaiten"
poll_interval = "soon"
token = "env:NOPE"

[[chats]]
id = -1001
mode = "chanel"
helpdesk = "other"
"#;
    insta::assert_snapshot!(errors(text), @r#"
    telegram.token (line 1): missing required key
    telegram.tokn (line 2): unknown key `tokn`; expected one of token, api_url, updates, webhook_secret, admins, language
    telegram.language (line 3): unknown value "fr"; expected one of ru, en
    store.path (line 6): must not be empty
    helpdesks.main.url (line 8): required: the Kaiten site, like https://acme.kaiten.ru
    helpdesks.main.board_id (line 8): required
    helpdesks.main.column_id (line 8): required
    helpdesks.main.poll_interval (line 10): invalid duration "soon"; expected a whole number and a unit: "500ms", "30s", "5m" or "1h"
    helpdesks.main.token (line 11): environment variable `NOPE` is not set
    chats[0].name (line 13): missing required key
    chats[0].mode (line 15): unknown value "chanel"; expected one of channel, group, forum
    chats[0].helpdesk (line 16): no helpdesk named `other` ([helpdesks.other]); defined: main
    "#);
}

#[test]
fn adapter_findings_get_the_table_path_and_line() {
    use super::parse::{Report, Table};
    use teledesk_adapter::{ConfigProblem, Problem};

    let text = "[helpdesks.main]\nkind = \"kaiten\"\nboard_id = \"x\"\n[helpdesks.main.statuses]\n\"5\" = \"nope\"\n";
    let doc = toml::de::DeTable::parse(text).unwrap();
    let root = Table::root(doc.get_ref());
    let mut report = Report::new(text, &env);
    let desks = report.table(&root, "helpdesks").unwrap();
    let main = report.table(&desks, "main").unwrap();
    report.adapter_problems(
        &main,
        vec![
            ConfigProblem::new(
                "board_id",
                Problem::PositiveId {
                    vendor: "Kaiten".into(),
                },
            ),
            ConfigProblem::new(
                "statuses.5",
                Problem::OneOf {
                    expected: vec!["new".into(), "closed".into()],
                },
            ),
            ConfigProblem::new("column_id", Problem::Required),
            ConfigProblem::new("", Problem::NotOneLine),
        ],
    );
    insta::assert_snapshot!(lines(&report.errors), @r"
    helpdesks.main.board_id (line 3): must be a positive integer (a Kaiten id)
    helpdesks.main.statuses.5 (line 5): must be one of new, closed
    helpdesks.main.column_id (line 1): required
    helpdesks.main (line 1): must be one line
    ");
    insta::assert_snapshot!(report.errors.iter().map(|f| f.message_in(Lang::Ru)).collect::<Vec<_>>().join("\n"), @r"
    должно быть положительным целым числом (id в Kaiten)
    должно быть одним из: new, closed
    обязательный ключ не задан
    должно быть одной строкой
    ");
}

#[test]
fn load_reads_the_file_and_reports_a_missing_one() {
    let errors = load(Path::new("/nonexistent/mappings.toml")).unwrap_err();
    insta::assert_snapshot!(lines(&errors), @"cannot read /nonexistent/mappings.toml: No such file or directory (os error 2)");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(
        BASE.replace("env:BOT_TOKEN", "123:literal")
            .replace("\"env:KAITEN_TOKEN\"", "\"k\"")
            .as_bytes(),
    )
    .unwrap();
    let loaded = load(file.path()).unwrap();
    assert_eq!(loaded.warnings.len(), 2);
}

#[test]
fn finding_display_shapes() {
    let finding = |path: &str, line| Finding {
        path: path.into(),
        line,
        text: ConfigText::Empty,
    };
    let m = "must not be empty";
    assert_eq!(
        finding("a.b", Some(3)).to_string(),
        format!("a.b (line 3): {m}")
    );
    assert_eq!(finding("a.b", None).to_string(), format!("a.b: {m}"));
    assert_eq!(finding("", Some(3)).to_string(), format!("line 3: {m}"));
    assert_eq!(finding("", None).to_string(), m);
}

#[test]
fn chats_add_no_errors_when_the_helpdesks_themselves_are_broken() {
    for broken in [
        "helpdesks = 1\n",
        "[helpdesks]\nmain = 3\n",
        "[helpdesks]\n",
    ] {
        // At the top, so that no table header before it captures it.
        let text = broken.to_string()
            + BASE.split("[helpdesks.main]").next().unwrap()
            + "[[chats]]\nid = -1001\nmode = \"group\"\nhelpdesk = \"main\"\nname = \"Acme\"\n";
        let errors = errors(&text);
        assert!(!errors.contains("chats[0]"), "{broken:?}: {errors}");
        assert_eq!(errors.lines().count(), 1, "{broken:?}: {errors}");
    }
}

#[test]
fn the_server_runs_only_when_configured_and_takes_the_mini_app_keys() {
    let config = ok(BASE).config;
    assert!(!config.server.enabled);
    assert_eq!(config.server.init_data_max_age, Duration::from_secs(3600));
    let text = format!(
        "{BASE}[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://desk.example.com\"\n\
         mini_app = \"desk\"\ninit_data_max_age = \"10m\"\n"
    );
    let server = ok(&text).config.server;
    assert!(server.enabled);
    assert_eq!(server.mini_app.as_deref(), Some("desk"));
    assert_eq!(server.init_data_max_age, Duration::from_secs(600));
}

#[test]
fn a_mini_app_needs_a_valid_short_name_and_a_public_url() {
    let text = format!("{BASE}[server]\nmini_app = \"my app!\"\ninit_data_max_age = \"soon\"\n");
    insta::assert_snapshot!(errors(&text), @r#"
    server.mini_app (line 20): invalid Mini App short name "my app!"; expected the 3-30 letters, digits or underscores given to BotFather's /newapp, e.g. "desk"
    server.init_data_max_age (line 21): invalid duration "soon"; expected a whole number and a unit: "500ms", "30s", "5m" or "1h"
    "#);
    let text = format!("{BASE}[server]\nmini_app = \"desk\"\n");
    insta::assert_snapshot!(errors(&text), @"server.public_url (line 19): required with server.mini_app; BotFather's Mini App URL is <public_url>/app/");
}

#[test]
fn the_admin_listener_is_an_address_of_its_own() {
    let text =
        format!("{BASE}[server]\nlisten = \"0.0.0.0:8080\"\nadmin_listen = \"127.0.0.1:9090\"\n");
    let server = ok(&text).config.server;
    assert_eq!(server.admin_listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert_eq!(ok(BASE).config.server.admin_listen, None);
    let text =
        format!("{BASE}[server]\nlisten = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:8080\"\n");
    insta::assert_snapshot!(errors(&text), @"server.admin_listen (line 21): the same address as server.listen (127.0.0.1:8080); give the admin listener its own");
    let text = format!("{BASE}[server]\nadmin_listen = \"localhost\"\n");
    insta::assert_snapshot!(errors(&text), @r#"server.admin_listen (line 20): invalid socket address "localhost"; expected an IP and a port, e.g. "127.0.0.1:8080" or "[::]:8080""#);
}

#[test]
fn file_limits_have_defaults_and_a_chat_overrides_them_key_by_key() {
    let config = ok(BASE).config;
    assert_eq!(config.files, FileLimits::DEFAULT);
    assert_eq!(config.chats[0].files, FileLimits::DEFAULT);

    let text = format!(
        "{BASE}[chats.files]\nmax_count = 2\n\n[[chats]]\nid = -1009876543210\nmode = \"group\"\n\
         helpdesk = \"main\"\nname = \"Globex\"\n\n[files]\nmax_count = 4\nmax_total_size = \"20MB\"\n"
    );
    let config = ok(&text).config;
    let mb = 1024 * 1024;
    assert_eq!(
        config.files,
        FileLimits {
            max_count: 4,
            max_bytes: 20 * mb
        }
    );
    // The chat's own count, the size from [files].
    assert_eq!(
        config.chats[0].files,
        FileLimits {
            max_count: 2,
            max_bytes: 20 * mb
        }
    );
    assert_eq!(config.chats[1].files, config.files);

    let none = format!("{BASE}[chats.files]\nmax_count = 0\nmax_total_size = \"500KB\"\n");
    let files = ok(&none).config.chats[0].files;
    assert_eq!((files.max_count, files.max_bytes), (0, 500 * 1024));
}

#[test]
fn bad_file_limits_name_the_key_and_its_line() {
    let text = format!(
        "{BASE}[chats.files]\nmax_count = 1000\nmax_total_size = \"1.5MB\"\nmax_size = 1\n\n\
         [files]\nmax_count = \"ten\"\nmax_total_size = \"0MB\"\n"
    );
    insta::assert_snapshot!(errors(&text), @r#"
    chats[0].files.max_count (line 20): must be between 0 (no files) and 100, found 1000
    chats[0].files.max_total_size (line 21): invalid size "1.5MB"; expected a whole number and a unit: "500KB", "20MB" or "1GB"
    chats[0].files.max_size (line 22): unknown key `max_size`; expected one of max_count, max_total_size
    files.max_count (line 25): must be an integer, found string
    files.max_total_size (line 26): must be more than 0 and at most "1GB", found "0MB"; max_count = 0 takes no files
    "#);
    let text = format!("{BASE}files = 3\n");
    insta::assert_snapshot!(errors(&text), @"chats[0].files (line 19): must be a table, found integer");
}

#[test]
fn files_admit_up_to_both_limits() {
    let limits = FileLimits {
        max_count: 2,
        max_bytes: 100,
    };
    assert!(limits.admits(0, 0, Some(100)));
    assert!(!limits.admits(0, 0, Some(101)));
    assert!(limits.admits(1, 60, Some(40)));
    assert!(!limits.admits(1, 60, Some(41)));
    assert!(!limits.admits(2, 0, Some(1)));
    assert!(limits.admits(1, 100, None));
    let none = FileLimits {
        max_count: 0,
        ..limits
    };
    assert!(!none.admits(0, 0, Some(1)));
}
