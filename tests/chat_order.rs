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

/// A chat with more updates waiting than the processor reads at once does not hide another
/// chat's update behind them: here 150 private messages wait behind a `/new` whose membership
/// check Telegram keeps failing, and a comment in the group still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_queue_in_one_chat_does_not_hide_another_chats_update() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (source, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;

    tg.inject_error(
        "getChatMember",
        30,
        FakeError::TooManyRequests { retry_after: 1 },
    );
    tg.set_can_dm(ann, true);
    tg.send(ann, ann, Outgoing::text("/new"));
    for n in 0..150 {
        tg.send(ann, ann, Outgoing::text(&format!("подробности {n}")));
    }
    tg.send(
        group,
        ann,
        Outgoing::text("Касса снова не работает").reply_to(source),
    );
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
        "the private chat should still be waiting for Telegram"
    );
    daemon.shutdown().await;
}

/// A send that takes long — a large file on a slow link, a Telegram server slow to answer — holds
/// back its own chat only (issue 13.5): here the answer to a staff reply in one group is held, and
/// a ticket filed in another group gets its card meanwhile. The held reply is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_send_to_one_chat_does_not_hold_another_chats_messages() {
    let stage = Stage::new(2, "ru", "1s").await;
    let (tg, ann) = (&stage.telegram, stage.client);
    let (slow, other) = (stage.groups[0], stage.groups[1]);
    let daemon = stage.start(Options::default()).await;
    let (_, card) = stage.ticket_in_group("Не печатает касса №2", WAIT).await;

    // Telegram takes the staff reply at once and answers only when told.
    tg.inject_error_at("sendMessage", slow, 1, FakeError::HeldAnswer);
    stage
        .kaiten
        .staff_reply(card, "Ольга", "Перезагрузите кассу");
    tg.wait_until(WAIT, "the staff reply reaching Telegram", |t| {
        t.messages(slow)
            .iter()
            .any(|m| is_reply(m, "Перезагрузите кассу"))
            .then_some(())
    })
    .await;

    let source = tg.send(other, ann, Outgoing::text("Сканер штрихкодов молчит"));
    tg.send(other, ann, Outgoing::text("/ticket").reply_to(source));
    let other_card = stage
        .kaiten
        .wait_until(WAIT, "the second group's card", |k| {
            k.cards()
                .iter()
                .find(|c| c.title.contains("Сканер") || c.description.contains("Сканер"))
                .map(|c| c.id)
        })
        .await;
    // The held answer lasts until the client's own timeout (17 s or more): a sender that waits
    // for it posts nothing in the other group before then.
    let card_in_other = |t: &teledesk_testkit::telegram::FakeTelegram| {
        t.messages(other)
            .iter()
            .any(|m| m.from_bot && m.text.contains(&format!("#{other_card}")))
    };
    tg.wait_until(
        Duration::from_secs(12),
        "the card in the other group",
        |t| card_in_other(t).then_some(()),
    )
    .await;

    tg.release_answers();
    // The held reply is recorded as sent, and sent once.
    stage.kaiten.staff_reply(card, "Ольга", "Касса заработала?");
    tg.wait_until(WAIT, "the next staff reply", |t| {
        t.messages(slow)
            .iter()
            .any(|m| is_reply(m, "Касса заработала?"))
            .then_some(())
    })
    .await;
    let replies = tg
        .messages(slow)
        .iter()
        .filter(|m| is_reply(m, "Перезагрузите кассу"))
        .count();
    assert_eq!(replies, 1, "the held staff reply was sent {replies} times");
    daemon.shutdown().await;
}

/// A staff reply's own message (the card also quotes the latest comments).
fn is_reply(message: &teledesk_testkit::telegram::ChatMessage, text: &str) -> bool {
    message.from_bot && message.text.starts_with("💬") && message.text.contains(text)
}
