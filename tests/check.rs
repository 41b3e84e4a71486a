//! `teledesk check --config FILE`, run as the real binary.

use std::path::Path;
use std::process::Command;

/// Runs `teledesk check --config <file>` in `dir` with only the given secret variables set, and
/// returns the exit code and stderr followed by stdout.
fn check(dir: &Path, file: &str, env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_teledesk"));
    command
        .args(["check", "--config", file])
        .current_dir(dir)
        .env_remove("TELEDESK_BOT_TOKEN")
        .env_remove("KAITEN_TOKEN")
        // English unless a test asks otherwise, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the teledesk binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status.code().expect("exited, not killed"), text)
}

const SECRETS: &[(&str, &str)] = &[
    ("TELEDESK_BOT_TOKEN", "123456:example-bot-token"),
    ("KAITEN_TOKEN", "example-kaiten-token"),
];

#[test]
fn example_config_passes_with_its_secrets_set() {
    let (code, output) = check(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "mappings.toml.example",
        SECRETS,
    );
    insta::assert_snapshot!(output, @"mappings.toml.example: OK (1 helpdesk, 2 chats)");
    assert_eq!(code, 0);
}

#[test]
fn example_config_names_the_missing_variables() {
    let (code, output) = check(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "mappings.toml.example",
        &[],
    );
    insta::assert_snapshot!(output, @"
    error: telegram.token (line 14): environment variable `TELEDESK_BOT_TOKEN` is not set
    error: helpdesks.main.token (line 57): environment variable `KAITEN_TOKEN` is not set
    mappings.toml.example: 2 problems
    ");
    assert_eq!(code, 1);
}

#[test]
fn every_mistake_is_printed_with_its_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"[telegram]
token = "env:TELEDESK_BOT_TOKEN"
admin = [123456789]

[store]
path = "/var/lib/teledesk"

[helpdesks.main]
kind = "kaiten"
url = "https://example.kaiten.ru"
token = "env:KAITEN_TOKEN"
board_id = 101
column_id = 1001
poll_interval = "30 seconds"

[[chats]]
id = -1001234567890
mode = "group"
helpdesk = "support"
name = "Acme"
"#;
    std::fs::write(dir.path().join("mappings.toml"), config).unwrap();
    let (code, output) = check(dir.path(), "mappings.toml", SECRETS);
    insta::assert_snapshot!(output, @r#"
    error: telegram.admin (line 3): unknown key `admin`; expected one of token, api_url, updates, webhook_secret, admins, language
    error: helpdesks.main.poll_interval (line 14): invalid duration "30 seconds"; expected a whole number and a unit: "500ms", "30s", "5m" or "1h"
    error: chats[0].helpdesk (line 19): no helpdesk named `support` ([helpdesks.support]); defined: main
    mappings.toml: 3 problems
    "#);
    assert_eq!(code, 1);
}

#[test]
fn missing_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, output) = check(dir.path(), "absent.toml", SECRETS);
    insta::assert_snapshot!(output, @r"
    error: cannot read absent.toml: No such file or directory (os error 2)
    absent.toml: 1 problem
    ");
    assert_eq!(code, 1);
}

#[test]
fn the_report_is_in_russian_where_the_locale_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), "[telegram]\ntoken = \"x\"\n").unwrap();
    let (code, output) = check(dir.path(), "m.toml", &[("LANG", "ru_RU.UTF-8")]);
    assert_eq!(code, 1);
    assert!(
        output.contains("ошибка: store: не хватает обязательной таблицы [store]"),
        "{output}"
    );
    assert!(
        output.contains("предупреждение: telegram.token (строка 2): секрет записан прямо"),
        "{output}"
    );
    assert!(output.ends_with("m.toml: 3 проблемы\n"), "{output}");
    // --lang wins over the locale.
    let mut command = Command::new(env!("CARGO_BIN_EXE_teledesk"));
    let output = command
        .args(["check", "--lang", "en", "--config", "m.toml"])
        .current_dir(dir.path())
        .env("LANG", "ru_RU.UTF-8")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("m.toml: 3 problems\n"));
}

#[test]
fn adapter_findings_are_said_in_the_asked_language() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"[telegram]
token = "env:TELEDESK_BOT_TOKEN"

[store]
path = "/var/lib/teledesk"

[helpdesks.main]
kind = "kaiten"
url = "example.kaiten.ru"
token = "env:KAITEN_TOKEN"
board_id = 0
column_id = 1001
requests_per_second = 10
lane = 3
poll_interval = "30 seconds"

[[chats]]
id = -1001234567890
mode = "group"
helpdesk = "main"
name = "Acme"
[chats.ticket]
properties = { "42" = "x" }
"#;
    std::fs::write(dir.path().join("mappings.toml"), config).unwrap();
    let (code, output) = check(dir.path(), "mappings.toml", SECRETS);
    assert_eq!(code, 1);
    let mut command = Command::new(env!("CARGO_BIN_EXE_teledesk"));
    let ru = command
        .args(["check", "--lang", "ru", "--config", "mappings.toml"])
        .current_dir(dir.path())
        .envs(SECRETS.iter().copied())
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap();
    assert_eq!(ru.status.code(), Some(1));
    let ru = format!(
        "{}{}",
        String::from_utf8_lossy(&ru.stderr),
        String::from_utf8_lossy(&ru.stdout)
    );
    insta::assert_snapshot!(output, @r#"
    error: helpdesks.main.url (line 9): must start with https:// (or http://)
    error: helpdesks.main.board_id (line 11): must be a positive integer (a Kaiten id)
    error: helpdesks.main.requests_per_second (line 13): must be a number greater than 0 and at most 5 (Kaiten allows 5 requests per second)
    error: helpdesks.main.lane (line 14): unknown key; expected one of url, token, board_id, column_id, lane_id, type_id, service_id, reopen_column_id, client_replied_column_id, resolution_property, requests_per_second, statuses
    error: helpdesks.main.poll_interval (line 15): invalid duration "30 seconds"; expected a whole number and a unit: "500ms", "30s", "5m" or "1h"
    error: chats[0].ticket.properties.42 (line 23): the key must name a custom property as id_<n>
    mappings.toml: 6 problems
    "#);
    // The keys and values are the config's own and stay as they are.
    insta::assert_snapshot!(ru, @r#"
    ошибка: helpdesks.main.url (строка 9): должно начинаться с https:// (или http://)
    ошибка: helpdesks.main.board_id (строка 11): должно быть положительным целым числом (id в Kaiten)
    ошибка: helpdesks.main.requests_per_second (строка 13): должно быть числом больше 0 и не больше 5 (Kaiten разрешает не больше 5 запросов в секунду)
    ошибка: helpdesks.main.lane (строка 14): неизвестный ключ; ожидается один из: url, token, board_id, column_id, lane_id, type_id, service_id, reopen_column_id, client_replied_column_id, resolution_property, requests_per_second, statuses
    ошибка: helpdesks.main.poll_interval (строка 15): недопустимая длительность "30 seconds"; ожидается целое число и единица: "500ms", "30s", "5m" или "1h"
    ошибка: chats[0].ticket.properties.42 (строка 23): ключ должен называть пользовательское свойство в виде id_<n>
    mappings.toml: 6 проблем
    "#);
}
