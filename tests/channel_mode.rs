//! Channel mode end to end: the ticket's post in the client's channel, its comment thread in the
//! linked discussion group (found through the post's automatic forward, whichever arrives first),
//! comments with files and as a channel, staff replies in the thread, the post kept current and
//! closed with its rating keyboard. The real daemon against the fake Telegram and fake Kaiten.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::{RESOLUTION_PROPERTY, Stage};
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::{ChatMessage, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// The client files a ticket in the discussion group with `/ticket`; returns the Kaiten card id,
/// the ticket post in the channel and its automatic forward in the group.
async fn file_ticket(stage: &Stage, text: &str) -> (i64, ChatMessage, ChatMessage) {
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let channel = stage.channel.expect("a channel stage");
    let source = tg.send(group, ann, Outgoing::text(text));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().last().map(|c| c.id))
        .await;
    let post = tg
        .wait_until(WAIT, "the ticket post in the channel", |t| {
            t.messages(channel)
                .into_iter()
                .find(|m| m.text.contains(&format!("#{card_id}")))
        })
        .await;
    let forward = tg
        .wait_until(WAIT, "the post's automatic forward", |t| {
            t.messages(group).into_iter().find(|m| {
                m.is_automatic_forward && m.forward_origin == Some((channel, post.message_id))
            })
        })
        .await;
    (card_id, post, forward)
}

fn comments_with(stage: &Stage, card_id: i64, needle: &str) -> usize {
    stage
        .kaiten
        .comments(card_id)
        .iter()
        .filter(|c| c.text.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_post_thread_comments_staff_replies_and_closing() {
    let stage = Stage::channel("ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let channel = stage.channel.expect("a channel stage");
    let daemon = stage.start(Options::default()).await;
    let (card_id, post, forward) = file_ticket(&stage, "Не печатает принтер в бухгалтерии").await;
    assert!(post.text.contains("Не печатает принтер"), "{}", post.text);
    assert!(post.text.contains("Анна Смирнова"), "{}", post.text);

    // Comments under the post: a file, and one written as a channel (sender_chat).
    let log = b"E3 paper jam\n".to_vec();
    tg.send(
        group,
        ann,
        Outgoing::document("printer.log", "text/plain", log.clone(), Some("Лог ошибки"))
            .reply_to(forward.message_id),
    );
    let brand = tg.add_channel("Acme Kazan");
    tg.send_as(
        group,
        ann,
        brand,
        Outgoing::text("Пишем от имени филиала").reply_to(forward.message_id),
    );
    stage
        .kaiten
        .wait_until(WAIT, "both comments", |k| {
            let file = k.files(card_id).iter().any(|f| f.bytes == log);
            let both = comments_with(&stage, card_id, "Лог ошибки") == 1
                && comments_with(&stage, card_id, "Пишем от имени филиала") == 1;
            (file && both).then_some(())
        })
        .await;
    assert_eq!(
        comments_with(&stage, card_id, "Acme Kazan"),
        1,
        "a comment sent as a channel is signed with the channel"
    );

    // Staff answer: the reply goes into the thread, the post shows status, assignee, comments.
    stage.kaiten.assign(card_id, "Мария Петрова");
    stage
        .kaiten
        .move_to_column(card_id, FakeKaiten::COLUMN_IN_PROGRESS);
    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Подойдём до 15:00");
    let reply = tg
        .wait_until(WAIT, "the staff reply in the thread", |t| {
            // The post shows the newest comments too (and its copy in the group may follow it).
            t.messages(group).into_iter().find(|m| {
                m.from_bot
                    && m.message_id != forward.message_id
                    && m.text.contains("Подойдём до 15:00")
            })
        })
        .await;
    assert_eq!(
        reply.reply_to,
        Some(forward.message_id),
        "the reply answers the thread root"
    );
    tg.wait_until(WAIT, "the updated post", |t| {
        let p = t.message(channel, post.message_id)?;
        (p.text.contains("В работе")
            && p.text.contains("Мария Петрова")
            && p.text.contains("Подойдём до 15:00"))
        .then_some(())
    })
    .await;
    assert!(
        !tg.messages(channel)
            .iter()
            .any(|m| m.text.contains("Подойдём до 15:00") && m.message_id != post.message_id),
        "staff replies go to the thread, not to the channel"
    );
    // The automatic forward and the bot's own messages never became comments.
    let comments = stage.kaiten.comments(card_id);
    assert_eq!(
        comments.iter().filter(|c| c.author_id == 1).count(),
        2,
        "only the two client comments were written by teledesk: {comments:?}"
    );

    // A reply to a comment (not to the forward) still belongs to the thread.
    let ann_comment = tg
        .messages(group)
        .into_iter()
        .find(|m| m.text.contains("Пишем от имени филиала"))
        .expect("the comment");
    tg.send(
        group,
        ann,
        Outgoing::text("И ещё: бумага застревает").reply_to(ann_comment.message_id),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the nested comment", |_| {
            (comments_with(&stage, card_id, "бумага застревает") == 1).then_some(())
        })
        .await;

    // Close: the post shows the resolution and the rating keyboard; a subscriber rates it.
    stage.kaiten.set_property(
        card_id,
        RESOLUTION_PROPERTY,
        serde_json::json!("Заменили картридж"),
    );
    stage
        .kaiten
        .move_to_column(card_id, FakeKaiten::COLUMN_DONE);
    let closed = tg
        .wait_until(WAIT, "the closed post", |t| {
            let p = t.message(channel, post.message_id)?;
            (p.text.contains("Заменили картридж") && p.reply_markup.is_some()).then_some(p)
        })
        .await;
    let markup = closed.reply_markup.expect("a keyboard");
    let rate = markup["inline_keyboard"][0][4]["callback_data"]
        .as_str()
        .expect("the fifth star")
        .to_owned();
    tg.press(channel, post.message_id, ann, &rate);
    tg.wait_until(WAIT, "the rated post", |t| {
        let p = t.message(channel, post.message_id)?;
        p.text.contains("★★★★★").then_some(())
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_that_arrives_before_the_post_is_recorded_is_still_mapped() {
    let stage = Stage::channel("en", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    tg.set_forward_before_response(true);
    let daemon = stage.start(Options::default()).await;
    let (card_id, _post, forward) = file_ticket(&stage, "The scanner is broken").await;
    tg.send(
        group,
        ann,
        Outgoing::text("It shows error 7").reply_to(forward.message_id),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the comment under the early forward", |_| {
            (comments_with(&stage, card_id, "It shows error 7") == 1).then_some(())
        })
        .await;
    daemon.shutdown().await;
}
