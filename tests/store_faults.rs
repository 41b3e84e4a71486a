//! A full disk under the store (DESIGN §3 rule 5, issue 12.1): while the store cannot be written
//! the daemon takes no new work, says so on `/healthz`, and repeats nothing it did; once space is
//! freed it recovers by itself, without a restart, and every client comment reaches the helpdesk
//! exactly once and every staff reply reaches Telegram exactly once.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::disk::SmallDisk;
use teledesk_testkit::telegram::{FakeError, Outgoing};

const WAIT: Duration = Duration::from_secs(60);
/// How a staff reply starts in the chat (the card, which quotes comments, does not).
const STAFF_HEADER: &str = "Мария Петрова (поддержка):";

async fn health(addr: std::net::SocketAddr) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_nothing_doubles_nothing_and_recovers_by_itself() {
    if let Ok(filter) = std::env::var("TELEDESK_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let Some(disk) = SmallDisk::mount(64) else {
        return;
    };
    let stage = Stage::new(1, "ru", "1s").await;
    stage.set_store_path(&disk.path.join("store"));
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let addr = daemon.http_addr().expect("the stage has a [server]");

    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;
    assert_eq!(health(addr).await.0, 200);

    disk.fill();
    let comments: Vec<String> = (1..=5).map(|i| format!("Комментарий {i}")).collect();
    for text in &comments {
        tg.send(group, ann, Outgoing::text(text).reply_to(source));
    }
    let replies: Vec<String> = (1..=3).map(|i| format!("Ответ поддержки {i}")).collect();
    for text in &replies {
        stage.kaiten.staff_reply(card, "Мария Петрова", text);
    }
    // The daemon notices, stops, and says so.
    let mut waited = Duration::ZERO;
    while daemon.store_failure().is_none() {
        assert!(waited < WAIT, "a full disk never failed the store");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let (status, body) = health(addr).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_ne!(body["store"], "ok", "{body}");
    // A while on a full disk: whatever it managed before stopping, nothing is repeated.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let count_in_helpdesk = |text: &str| {
        stage
            .kaiten
            .comments(card)
            .iter()
            .filter(|c| c.text.contains(text))
            .count()
    };
    // Staff replies only: the ticket card quotes the newest comments too.
    let count_in_telegram = |text: &str| {
        tg.messages(group)
            .iter()
            .filter(|m| m.from_bot && m.text.contains(STAFF_HEADER) && m.text.contains(text))
            .count()
    };
    for text in &comments {
        assert!(
            count_in_helpdesk(text) <= 1,
            "{text} doubled while the disk was full"
        );
    }
    for text in &replies {
        assert!(
            count_in_telegram(text) <= 1,
            "{text} doubled while the disk was full"
        );
    }

    disk.free();
    stage
        .kaiten
        .wait_until(WAIT, "every comment in the helpdesk", |_| {
            comments
                .iter()
                .all(|t| count_in_helpdesk(t) >= 1)
                .then_some(())
        })
        .await;
    tg.wait_until(WAIT, "every staff reply in the group", |_| {
        replies
            .iter()
            .all(|t| count_in_telegram(t) >= 1)
            .then_some(())
    })
    .await;
    assert_eq!(daemon.store_failure(), None, "recovered without a restart");
    assert_eq!(health(addr).await.0, 200);
    daemon.shutdown().await;
    for text in &comments {
        assert_eq!(count_in_helpdesk(text), 1, "{text}");
    }
    for text in &replies {
        assert_eq!(count_in_telegram(text), 1, "{text}");
    }
}

/// The narrowest window: Telegram accepts a staff reply, and recording that it was sent fails
/// because the disk filled meanwhile. The store comes back with the reply still queued, and the
/// daemon records the send it remembers instead of sending it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_record_failed_is_not_made_again() {
    let Some(disk) = SmallDisk::mount(64) else {
        return;
    };
    let stage = Stage::new(1, "ru", "1s").await;
    stage.set_store_path(&disk.path.join("store"));
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;

    tg.inject_error_at("sendMessage", group, 1, FakeError::HeldAnswer);
    stage
        .kaiten
        .staff_reply(card, "Мария Петрова", "Перезагрузите кассу");
    let in_group = |t: &teledesk_testkit::telegram::FakeTelegram| {
        t.messages(group)
            .iter()
            .filter(|m| {
                m.from_bot
                    && m.text.contains(STAFF_HEADER)
                    && m.text.contains("Перезагрузите кассу")
            })
            .count()
    };
    tg.wait_until(WAIT, "the reply sent, its answer held", |t| {
        (in_group(t) == 1).then_some(())
    })
    .await;
    // The disk fills while Telegram's answer is on its way; client messages keep coming until
    // the store fails, and only then does the answer arrive, so its record cannot be written.
    disk.fill();
    let mut waited = Duration::ZERO;
    let mut sent = 0;
    while daemon.store_failure().is_none() {
        assert!(waited < WAIT, "a full disk never failed the store");
        sent += 1;
        tg.send(
            group,
            ann,
            Outgoing::text(&format!("Ещё {sent}")).reply_to(source),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    tg.release_answers();
    // The sender has its answer and could not record it; then space comes back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    disk.free();
    let mut waited = Duration::ZERO;
    while daemon.store_failure().is_some() || daemon.queues().outbox > 0 {
        assert!(waited < WAIT, "the store did not recover and drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    daemon.shutdown().await;
    assert_eq!(
        in_group(tg),
        1,
        "the reply was sent again after the store came back: {:#?}",
        stage.transcript(group)
    );
}
