//! What staff do in Kaiten reaches Telegram within two poll intervals, with the fake Kaiten
//! behaving as the live service does: a comment, a file and a new responsible leave the card's
//! `updated` alone, so the daemon finds them through the comment feed and the member sweep rather
//! than the `updated` feed. The real daemon against the fake Telegram and fake Kaiten (group mode).

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::{ChatMessage, Outgoing};

/// The promise: visible in Telegram within two poll intervals (`"3s"` below) of the staff action.
const WITHIN: Duration = Duration::from_secs(6);
const SETUP: Duration = Duration::from_secs(60);

/// Opens a ticket with `/ticket`; returns (Kaiten card id, the bot's ticket card message).
async fn open_ticket(stage: &Stage, text: &str) -> (i64, ChatMessage) {
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let source = tg.send(group, ann, Outgoing::text(text));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(SETUP, "the card", |k| k.cards().last().map(|c| c.id))
        .await;
    let message = tg
        .wait_until(SETUP, "the ticket card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
        })
        .await;
    (card_id, message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_comment_file_and_assignee_reach_telegram_within_two_polls() {
    let stage = Stage::new(1, "ru", "3s").await;
    let (tg, group) = (&stage.telegram, stage.group());
    let daemon = stage.start(Options::default()).await;
    let (card_id, card) = open_ticket(&stage, "Не открывается общий диск").await;
    let updated = stage.kaiten.card(card_id).expect("the card").updated;
    // Each step below must be found on its own, not ride along with the new card's own report:
    // wait until a poll has listed the new card and the watcher has swept twice since.
    stage
        .kaiten
        .wait_until(SETUP, "two quiet polls after the card", |k| {
            let calls = k.calls();
            let created = calls
                .iter()
                .position(|c| c.method == "POST" && c.path == "/api/latest/cards")?;
            let listed = created
                + calls[created..]
                    .iter()
                    .position(|c| c.query.contains("order_by=updated"))?;
            let sweeps = calls[listed..]
                .iter()
                .filter(|c| c.query.contains("order_by=created"))
                .count();
            (sweeps >= 2).then_some(())
        })
        .await;

    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Проверяем права доступа");
    tg.wait_until(WITHIN, "the staff comment in Telegram", |t| {
        t.messages(group)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains("Проверяем права доступа"))
    })
    .await;

    stage.kaiten.staff_reply_with_file(
        card_id,
        "Мария Петрова",
        "Инструкция во вложении",
        "instrukciya.pdf",
        b"%PDF-1.4 instruction".to_vec(),
    );
    tg.wait_until(WITHIN, "the staff file in Telegram", |t| {
        t.messages(group).into_iter().find(|m| {
            m.from_bot
                && m.media
                    .iter()
                    .any(|f| f.file_name.as_deref() == Some("instrukciya.pdf"))
        })
    })
    .await;

    stage.kaiten.assign(card_id, "Пётр Сидоров");
    tg.wait_until(WITHIN, "the new assignee on the ticket card", |t| {
        let m = t.message(group, card.message_id)?;
        m.text.contains("Пётр Сидоров").then_some(())
    })
    .await;

    // All loops of the daemon together stayed under Kaiten's 5 requests/s: the fake refuses more.
    let refused = stage
        .kaiten
        .calls()
        .into_iter()
        .filter(|c| c.status == 429)
        .count();
    assert_eq!(refused, 0, "the daemon's pace hit Kaiten's rate limit");
    assert_eq!(
        stage.kaiten.card(card_id).expect("the card").updated,
        updated,
        "none of the three moved the card's `updated`: the feeds found them"
    );
    daemon.shutdown().await;
}
