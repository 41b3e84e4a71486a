//! README.ru.md is kept in step with README.md (issue 15.6): every section of the English README
//! has its Russian counterpart, and every command of the CLI, bot command, config key, HTTP path
//! and metric the English README names is named in the Russian one too; both link to each other.
//! The vocabulary comes from the code and the example config, so a new subcommand, key or metric
//! documented only in English fails here.

use clap::CommandFactory;
use std::collections::BTreeSet;

fn read(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `span` with each `<placeholder>` emptied, since placeholders are translated
/// (`[helpdesks.<name>]`, `[helpdesks.<имя>]`).
fn without_placeholders(span: &str) -> String {
    let mut out = String::with_capacity(span.len());
    let mut inside = false;
    for c in span.chars() {
        match c {
            '<' => {
                inside = true;
                out.push('<');
            }
            '>' if inside => {
                inside = false;
                out.push('>');
            }
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// The `code spans` of a Markdown text, fenced blocks left out, placeholders emptied.
fn spans(markdown: &str) -> BTreeSet<String> {
    let mut prose = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|span| without_placeholders(&span.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect()
}

/// Every key `mappings.toml.example` sets or shows in a comment.
fn example_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for line in read("mappings.toml.example").lines() {
        let line = line.trim_start_matches(['#', ' ']);
        if let Some((key, _)) = line.split_once(" = ")
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            keys.insert(key.to_owned());
        }
    }
    keys
}

/// Whether `spans` names `word`: as the whole span or as its first word (`/find 1042`,
/// `visibility = "chat"`).
fn names(spans: &BTreeSet<String>, word: &str) -> bool {
    spans
        .iter()
        .any(|span| span == word || span.split([' ', '=']).next() == Some(word))
}

#[test]
fn every_command_the_english_readme_documents_is_in_the_russian_one() {
    let (en, ru) = (read("README.md"), read("README.ru.md"));
    let cli = teledesk::cli::Cli::command();
    let mut documented = 0;
    for sub in cli.get_subcommands() {
        let call = format!("teledesk {}", sub.get_name());
        if en.contains(&call) {
            documented += 1;
            assert!(
                ru.contains(&call),
                "README.md documents `{call}`, README.ru.md does not"
            );
        }
    }
    assert!(documented >= 5, "README.md documents the CLI's commands");
    for key in [
        "admin_listen",
        "[store] path",
        "webhook_secret",
        "LoadCredential",
        "/readyz",
        "WatchdogSec",
        "contrib/grafana/teledesk.json",
        "contrib/prometheus/alerts.yml",
    ] {
        assert!(
            en.contains(key) && ru.contains(key),
            "both READMEs explain {key}"
        );
    }
}

#[test]
fn every_section_has_its_russian_counterpart() {
    let (en, ru) = (read("README.md"), read("README.ru.md"));
    let counterpart = |section: &str| match section {
        "Quick start" => "Быстрый старт",
        "How it works" => "Как это работает",
        "Using it in a group" => "Работа в группе",
        "Using it in a channel, a forum, and in private" => "Канал, форум и личные сообщения",
        "Configuration" => "Настройка",
        "Running under systemd" => "Запуск под systemd",
        "Operations" => "Эксплуатация",
        "Monitoring" => "Мониторинг",
        "Helpdesks" => "Helpdesk-системы",
        "Development" => "Разработка",
        "Limitations" => "Ограничения",
        other => panic!("README.md has a new section «{other}»: name its Russian counterpart here"),
    };
    let headings = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix("## "))
            .map(str::to_owned)
            .collect()
    };
    let russian = headings(&ru);
    let expected: Vec<String> = headings(&en)
        .iter()
        .map(|section| counterpart(section).to_owned())
        .collect();
    assert_eq!(russian, expected, "the same sections, in the same order");
}

#[test]
fn every_key_command_path_and_metric_the_english_readme_names_is_in_the_russian_one() {
    let (en, ru) = (spans(&read("README.md")), spans(&read("README.ru.md")));
    let mut checked = 0;
    let mut missing = Vec::new();
    // Config keys, from the example config.
    for key in example_keys() {
        if names(&en, &key) {
            checked += 1;
            if !names(&ru, &key) {
                missing.push(key);
            }
        }
    }
    // Bot commands and HTTP paths (`/find 1042`, `/healthz`), metrics and config tables.
    for span in &en {
        let first = span.split(' ').next().unwrap_or_default();
        let command = first.len() > 1
            && first.starts_with('/')
            && first[1..]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_');
        let named = if command {
            first
        } else if span.starts_with("teledesk_") || span.starts_with('[') {
            span.as_str()
        } else {
            continue;
        };
        checked += 1;
        if !names(&ru, named) && !ru.iter().any(|r| r.contains(named)) {
            missing.push(named.to_owned());
        }
    }
    assert!(
        checked >= 60,
        "README.md names keys, commands and metrics ({checked})"
    );
    assert!(
        missing.is_empty(),
        "README.md names these, README.ru.md does not: {missing:?}"
    );
}

#[test]
fn each_readme_links_to_the_other() {
    assert!(read("README.md").contains("(README.ru.md)"));
    assert!(read("README.ru.md").contains("(README.md)"));
}
