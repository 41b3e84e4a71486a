//! A group upgraded to a supergroup keeps its tickets: Telegram's `migrate_to_chat_id` moves
//! every ticket to the new id, open tickets get their card again in the new chat, and replies and
//! staff answers flow there. The config keeps naming the old id.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_follow_a_group_upgraded_to_a_supergroup() {
    let stage = Stage::basic_group("ru", "1s").await;
    let (tg, old, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(old, ann, Outgoing::text("Не работает VPN"));
    tg.send(old, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().map(|c| c.id))
        .await;
    tg.wait_until(WAIT, "the card in the basic group", |t| {
        t.messages(old)
            .iter()
            .any(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
            .then_some(())
    })
    .await;

    let new = tg.migrate_to_supergroup(old);
    let card = tg
        .wait_until(WAIT, "the card again in the supergroup", |t| {
            t.messages(new)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
        })
        .await;
    tg.send(
        new,
        ann,
        Outgoing::text("После обновления группы тоже не работает").reply_to(card.message_id),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the comment from the supergroup", |k| {
            k.comments(card_id)
                .iter()
                .any(|c| c.text.contains("После обновления группы"))
                .then_some(())
        })
        .await;
    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Проверяем шлюз");
    tg.wait_until(WAIT, "the staff reply in the supergroup", |t| {
        t.messages(new)
            .iter()
            .any(|m| {
                m.from_bot
                    && m.text.contains("Проверяем шлюз")
                    && m.reply_to == Some(card.message_id)
            })
            .then_some(())
    })
    .await;
    // A new ticket in the supergroup works too (the config still names the old id).
    let second = tg.send(new, ann, Outgoing::text("И принтер"));
    tg.send(new, ann, Outgoing::text("/ticket").reply_to(second));
    stage
        .kaiten
        .wait_until(WAIT, "the second card", |k| {
            (k.cards().len() == 2).then_some(())
        })
        .await;
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}
