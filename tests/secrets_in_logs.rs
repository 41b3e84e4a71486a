//! Secrets at every log level (DESIGN: secrets never appear in logs): the real daemon binary runs
//! a whole conversation with every crate logging at `trace` (reqwest, hyper, teloxide, sled
//! included), and neither the bot token (which sits in every Telegram URL) nor the helpdesk token
//! appears anywhere in what it printed.

use std::process::Stdio;
use std::time::Duration;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_logged_even_at_trace() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let stderr_path = stage.dir.path().join("daemon.stderr");
    let stdout_path = stage.dir.path().join("daemon.stdout");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .args(["run", "--config"])
        .arg(&stage.config_path)
        .env_remove("TELEDESK_LOG")
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .expect("the daemon binary starts");

    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;
    tg.send(group, ann, Outgoing::text("Ошибка E-17").reply_to(source));
    stage
        .kaiten
        .wait_until(WAIT, "the comment", |k| {
            k.comments(card)
                .iter()
                .any(|c| c.text.contains("Ошибка E-17"))
                .then_some(())
        })
        .await;
    stage
        .kaiten
        .staff_reply(card, "Мария Петрова", "Перезагрузите кассу");
    tg.wait_until(WAIT, "the staff reply in the group", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains("Перезагрузите кассу"))
            .then_some(())
    })
    .await;
    daemon.kill().await.unwrap();

    let printed = std::fs::read_to_string(&stderr_path).unwrap()
        + &std::fs::read_to_string(&stdout_path).unwrap();
    // The run really logged at trace, from the HTTP stack too, or the test proves nothing.
    assert!(
        printed.contains("TRACE"),
        "no trace lines:\n{}",
        tail(&printed)
    );
    assert!(
        printed.contains("reqwest") || printed.contains("hyper"),
        "no HTTP client lines:\n{}",
        tail(&printed)
    );
    let bot_token = tg.token();
    let secret_part = bot_token.split(':').nth(1).expect("id:secret");
    for (name, secret) in [
        ("bot token", bot_token.as_str()),
        ("bot token's secret part", secret_part),
        ("Kaiten token", &stage.kaiten.token()),
    ] {
        if let Some(at) = printed.find(secret) {
            let line_start = printed[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = printed[at..].find('\n').map_or(printed.len(), |i| at + i);
            panic!(
                "the {name} was logged:\n{}",
                printed[line_start..line_end].replace(secret, "<SECRET>")
            );
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
