//! README.ru.md is kept in step with README.md (issue 15.6): every command of the CLI that the
//! English README documents is documented in the Russian one too, and both link to each other.
//! A new subcommand documented only in English fails here.

use clap::CommandFactory;

fn read(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
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
fn each_readme_links_to_the_other() {
    assert!(read("README.md").contains("(README.ru.md)"));
    assert!(read("README.ru.md").contains("(README.md)"));
}
