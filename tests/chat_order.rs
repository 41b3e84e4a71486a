//! Order is kept per chat, and only per chat (DESIGN §3 rule 4, issue 12.5): an update that must
//! wait — here a private `/new` whose membership check Telegram keeps failing — holds back the
//! later updates of its own chat, never another chat's.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::{FakeError, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_update_in_one_chat_does_not_stall_another() {
    if let Ok(filter) = std::env::var("TELEDESK_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;

    // Each round the processor asks once and waits a second: about 15 s of failures.
    tg.inject_error(
        "getChatMember",
        15,
        FakeError::TooManyRequests { retry_after: 1 },
    );
    tg.set_can_dm(ann, true);
    tg.send(ann, ann, Outgoing::text("/new"));
    tg.send(
        group,
        ann,
        Outgoing::text("Касса снова не работает").reply_to(source),
    );
    let started = std::time::Instant::now();
    stage
        .kaiten
        .wait_until(WAIT, "the group's comment", |k| {
            k.comments(card)
                .iter()
                .any(|c| c.text.contains("Касса снова не работает"))
                .then_some(())
        })
        .await;
    let answered_in_dm =
        |t: &teledesk_testkit::telegram::FakeTelegram| t.messages(ann).iter().any(|m| m.from_bot);
    assert!(
        !answered_in_dm(tg),
        "the private /new should still be waiting for Telegram"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the group waited {:?} behind the private chat",
        started.elapsed()
    );
    // Nothing is lost: once Telegram answers, the private dialogue goes on.
    tg.wait_until(WAIT, "the bot's answer to /new", |t| {
        answered_in_dm(t).then_some(())
    })
    .await;
    daemon.shutdown().await;
}
