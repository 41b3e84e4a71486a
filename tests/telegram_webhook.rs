//! `updates = "webhook"`: the daemon sets Telegram's webhook to its own server and takes updates
//! there instead of polling; the fake Telegram delivers them as Telegram does (POST, secret token
//! header, retried until answered 2xx, `getUpdates` refused meanwhile). Switching back to polling
//! removes the webhook.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);
const SECRET: &str = "hook-Secret_0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Switches the stage's config to webhook mode on `port` (plain http on loopback, as with a local
/// Bot API server), or back to polling.
fn set_mode(stage: &Stage, webhook_port: Option<u16>) {
    let text = std::fs::read_to_string(&stage.config_path).expect("read config");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| {
            !l.starts_with("updates =")
                && !l.starts_with("webhook_secret =")
                && !l.starts_with("public_url =")
        })
        .map(str::to_owned)
        .collect();
    if let Some(port) = webhook_port {
        let telegram = lines.iter().position(|l| l == "[telegram]").unwrap();
        lines.insert(telegram + 1, "updates = \"webhook\"".into());
        lines.insert(telegram + 2, format!("webhook_secret = \"{SECRET}\""));
        let listen = lines
            .iter()
            .position(|l| l.starts_with("listen ="))
            .unwrap();
        lines[listen] = format!("listen = \"127.0.0.1:{port}\"");
        lines.insert(
            listen + 1,
            format!("public_url = \"http://127.0.0.1:{port}\""),
        );
    }
    std::fs::write(&stage.config_path, lines.join("\n") + "\n").expect("write config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_arrive_by_webhook_and_polling_takes_over_again() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let port = free_port();
    set_mode(&stage, Some(port));
    let daemon = stage.start(Options::default()).await;

    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;
    let calls = tg.calls();
    let set = calls
        .iter()
        .find(|c| c.method == "setWebhook")
        .expect("setWebhook was called");
    assert_eq!(
        set.params["url"],
        format!("http://127.0.0.1:{port}/telegram/updates")
    );
    assert_eq!(set.params["secret_token"], SECRET);
    assert_eq!(set.params["max_connections"], 1);
    assert!(
        calls.iter().all(|c| c.method != "getUpdates"),
        "no polling in webhook mode"
    );

    // Someone who is not Telegram.
    let forged = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/telegram/updates"))
        .header("X-Telegram-Bot-Api-Secret-Token", "guess")
        .json(&serde_json::json!({"update_id": 999_999, "message": {"message_id": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::UNAUTHORIZED);
    daemon.shutdown().await;

    // Back to polling: the webhook is removed, so getUpdates works and nothing queued is lost.
    set_mode(&stage, None);
    tg.send(
        group,
        ann,
        Outgoing::text("Касса снова работает").reply_to(source),
    );
    let daemon = stage.start(Options::default()).await;
    stage
        .kaiten
        .wait_until(WAIT, "the comment sent while the daemon was down", |k| {
            k.comments(card)
                .iter()
                .any(|c| c.text.contains("Касса снова работает"))
                .then_some(())
        })
        .await;
    assert!(tg.calls().iter().any(|c| c.method == "deleteWebhook"));
    daemon.shutdown().await;
}

/// Telegram restarts its `update_id` sequence after a week without updates, at a random and
/// usually lower id. Updates after the restart are new work in both modes: none is taken for a
/// repeat of an earlier one, and polling does not spin on an offset Telegram no longer honours.
async fn updates_after_an_id_restart_are_taken(webhook: bool) {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    set_mode(&stage, webhook.then(free_port));
    let daemon = stage.start(Options::default()).await;

    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;

    tg.restart_update_ids(7);
    for text in ["Касса снова работает", "И принтер тоже"] {
        tg.send(group, ann, Outgoing::text(text).reply_to(source));
    }
    stage
        .kaiten
        .wait_until(WAIT, "both comments sent after the restart", |k| {
            let comments = k.comments(card);
            let count = |t: &str| comments.iter().filter(|c| c.text.contains(t)).count();
            (count("Касса снова работает") == 1 && count("И принтер тоже") == 1).then_some(())
        })
        .await;
    daemon.shutdown().await;
    let comments = stage.kaiten.comments(card);
    assert_eq!(comments.len(), 2, "nothing doubled: {comments:?}");
    if !webhook {
        let polls = tg
            .calls()
            .iter()
            .filter(|c| c.method == "getUpdates")
            .count();
        assert!(polls < 100, "polling spun: {polls} getUpdates calls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_takes_updates_after_telegram_restarts_the_id_sequence() {
    updates_after_an_id_restart_are_taken(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_takes_updates_after_telegram_restarts_the_id_sequence() {
    updates_after_an_id_restart_are_taken(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_update_is_refused_with_413_and_nothing_is_stored() {
    let stage = Stage::new(1, "ru", "1s").await;
    let port = free_port();
    set_mode(&stage, Some(port));
    let daemon = stage.start(Options::default()).await;
    let huge = format!(
        "{{\"update_id\": 1, \"message\": {{\"text\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/telegram/updates"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("the daemon answers");
    assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(daemon.queues().inbox, 0);
    daemon.shutdown().await;
}
