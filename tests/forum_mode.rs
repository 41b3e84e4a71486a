//! Forum mode end to end: one topic per ticket named `#<number> <subject>`, every message in the
//! topic a comment, staff replies in the topic, the topic closed when the ticket is done and
//! reopened when it is reopened.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_per_ticket_closed_and_reopened_with_it() {
    let stage = Stage::forum("ru", "1s").await;
    let (tg, forum, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(forum, ann, Outgoing::text("Не работает Wi-Fi на складе"));
    tg.send(forum, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().map(|c| c.id))
        .await;
    let topic = tg
        .wait_until(WAIT, "the ticket's topic", |t| {
            t.topics(forum).into_iter().next()
        })
        .await;
    assert_eq!(
        topic.name,
        format!("#{card_id} Не работает Wi-Fi на складе")
    );
    let card = tg
        .wait_until(WAIT, "the card in the topic", |t| {
            t.messages(forum).into_iter().find(|m| {
                m.from_bot
                    && m.text.contains(&format!("#{card_id}"))
                    && m.thread_id == Some(topic.id)
            })
        })
        .await;
    assert!(card.text.contains("в этой теме"), "{}", card.text);

    // Any message in the topic is a comment; the staff reply lands in the topic.
    tg.send_in_topic(
        forum,
        topic.id,
        ann,
        Outgoing::text("Роутер мигает красным"),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the comment", |k| {
            k.comments(card_id)
                .iter()
                .any(|c| c.text.contains("Роутер мигает красным"))
                .then_some(())
        })
        .await;
    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Перезагрузили точку доступа");
    tg.wait_until(WAIT, "the staff reply in the topic", |t| {
        t.messages(forum)
            .iter()
            .any(|m| {
                m.from_bot
                    && m.text.contains("Перезагрузили точку доступа")
                    && m.thread_id == Some(topic.id)
            })
            .then_some(())
    })
    .await;

    // Done: the topic closes. Reopened: it opens again.
    stage
        .kaiten
        .move_to_column(card_id, FakeKaiten::COLUMN_DONE);
    tg.wait_until(WAIT, "the closed topic", |t| {
        t.topics(forum).first().filter(|t| t.closed).map(|_| ())
    })
    .await;
    stage
        .kaiten
        .move_to_column(card_id, FakeKaiten::COLUMN_IN_PROGRESS);
    tg.wait_until(WAIT, "the reopened topic", |t| {
        t.topics(forum).first().filter(|t| !t.closed).map(|_| ())
    })
    .await;
    assert_eq!(tg.topics(forum).len(), 1, "one topic per ticket");
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// An administrator deletes a ticket's topic: the next staff reply is not lost or refused, it
/// goes once to General (the deleted topic took the quoted card with it), and closing the
/// ticket later does not fail over the missing topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_topic_sends_the_reply_to_general_once() {
    let stage = Stage::forum("ru", "1s").await;
    let (tg, forum, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(forum, ann, Outgoing::text("Не печатает принтер"));
    tg.send(forum, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().map(|c| c.id))
        .await;
    let topic = tg
        .wait_until(WAIT, "the card in its topic", |t| {
            let topic = t.topics(forum).into_iter().next()?;
            t.messages(forum)
                .iter()
                .any(|m| m.from_bot && m.thread_id == Some(topic.id) && m.service.is_none())
                .then_some(topic)
        })
        .await;

    tg.delete_topic(forum, topic.id);
    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Заменили картридж");
    let reply = tg
        .wait_until(WAIT, "the staff reply in General", |t| {
            t.messages(forum)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("Заменили картридж"))
        })
        .await;
    assert_eq!((reply.thread_id, reply.is_topic_message), (None, false));
    assert_eq!(reply.reply_to, None);

    stage
        .kaiten
        .move_to_column(card_id, FakeKaiten::COLUMN_DONE);
    tg.wait_until(WAIT, "the card reposted in General as done", |t| {
        t.messages(forum)
            .into_iter()
            .find(|m| m.from_bot && m.thread_id.is_none() && m.text.contains("Закрыта"))
    })
    .await;
    let copies = tg
        .messages(forum)
        .iter()
        .filter(|m| m.text.starts_with("💬") && m.text.contains("Заменили картридж"))
        .count();
    assert_eq!(copies, 1, "delivered once (the card quotes it too)");
    assert!(
        tg.topics(forum).is_empty(),
        "the deleted topic stays deleted"
    );
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}
