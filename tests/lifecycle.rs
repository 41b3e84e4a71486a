//! The ticket lifecycle end to end (group mode): the closing keyboard (rating from members only,
//! feedback in a DM, reopen), comments on a closed ticket under both policies, and `/escalate`.
//! The real daemon against the testkit's fake Telegram and fake Kaiten; waits on conditions.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::{RESOLUTION_PROPERTY, Stage};
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::{ChatMessage, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// Opens a ticket with `/ticket` and returns (Kaiten card id, the bot's card message).
async fn open_ticket(stage: &Stage, text: &str) -> (i64, ChatMessage) {
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let known = stage.kaiten.cards().len();
    let source = tg.send(group, ann, Outgoing::text(text));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().get(known).map(|c| c.id))
        .await;
    let message = tg
        .wait_until(WAIT, "the ticket card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
        })
        .await;
    (card_id, message)
}

/// Staff close the card with a resolution; waits for the closing keyboard in Telegram.
async fn close(stage: &Stage, card_id: i64, card_message: i32) -> ChatMessage {
    stage.kaiten.set_property(
        card_id,
        RESOLUTION_PROPERTY,
        serde_json::json!("Заменили картридж"),
    );
    stage
        .kaiten
        .move_to_column(card_id, FakeKaiten::COLUMN_DONE);
    let group = stage.group();
    stage
        .telegram
        .wait_until(WAIT, "the closing keyboard", |t| {
            let m = t.message(group, card_message)?;
            buttons(&m)
                .iter()
                .any(|(_, d)| d.starts_with("rate:"))
                .then_some(m)
        })
        .await
}

/// (label, callback data or url) of every inline button.
fn buttons(message: &ChatMessage) -> Vec<(String, String)> {
    let Some(markup) = &message.reply_markup else {
        return Vec::new();
    };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            let label = b["text"].as_str().unwrap_or_default().to_owned();
            let target = b["callback_data"]
                .as_str()
                .or(b["url"].as_str())
                .unwrap_or_default()
                .to_owned();
            (label, target)
        })
        .collect()
}

fn data_starting(message: &ChatMessage, prefix: &str) -> String {
    buttons(message)
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} button on {:?}", buttons(message)))
}

fn internal_notes(stage: &Stage, card_id: i64, needle: &str) -> usize {
    stage
        .kaiten
        .comments(card_id)
        .iter()
        .filter(|c| c.internal && c.text.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_keyboard_rating_by_members_feedback_in_dm_and_reopen() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (card_id, card) = open_ticket(&stage, "Не работает сканер в приёмной").await;
    let closed = close(&stage, card_id, card.message_id).await;
    assert!(closed.text.contains("Заменили картридж"), "{}", closed.text);
    assert!(closed.text.contains("Оцените"), "{}", closed.text);
    let labels: Vec<String> = buttons(&closed).into_iter().map(|(l, _)| l).collect();
    assert!(labels.contains(&"Переоткрыть".to_owned()), "{labels:?}");
    let rate_one = data_starting(&closed, "rate:");
    let rate_five = format!(
        "{}:5",
        rate_one.rsplit_once(':').expect("rate:<ticket>:<n>").0
    );

    // Someone outside the chat (the button is visible to anyone who sees the message) is refused.
    let eve = tg.add_user("Ева", None, Some("eve_outsider"));
    let refused = tg.press(group, card.message_id, eve, &rate_five);
    let answer = tg
        .wait_until(WAIT, "the refusal", |t| {
            t.callback_answers()
                .into_iter()
                .find(|a| a.query_id == refused)
        })
        .await;
    assert!(answer.show_alert, "a refusal is an alert: {answer:?}");
    assert!(
        answer
            .text
            .as_deref()
            .unwrap_or_default()
            .contains("участники"),
        "{answer:?}"
    );

    // A member rates: recorded in the helpdesk (Kaiten has no ratings: an internal note) and
    // shown on the card, which now offers feedback.
    tg.press(group, card.message_id, ann, &rate_five);
    stage
        .kaiten
        .wait_until(WAIT, "the rating note", |_| {
            (internal_notes(&stage, card_id, "Оценка клиента: 5 из 5") == 1).then_some(())
        })
        .await;
    let rated = tg
        .wait_until(WAIT, "the rated card", |t| {
            let m = t.message(group, card.message_id)?;
            m.text.contains("★★★★★").then_some(m)
        })
        .await;
    let feedback_link = data_starting(&rated, "https://t.me/");
    let start = feedback_link
        .split("start=")
        .nth(1)
        .expect("a /start payload")
        .to_owned();
    assert_eq!(internal_notes(&stage, card_id, "Оценка клиента"), 1);
    assert_eq!(
        internal_notes(&stage, card_id, "eve_outsider"),
        0,
        "the outsider's press left no trace"
    );
    // A second rating is not taken.
    tg.press(group, card.message_id, ann, &rate_one);

    // Feedback: the deep link opens a DM; the next message is the feedback.
    tg.set_can_dm(ann, true);
    tg.send(ann, ann, Outgoing::text(&format!("/start {start}")));
    tg.wait_until(WAIT, "the feedback prompt", |t| {
        t.messages(ann)
            .iter()
            .any(|m| m.from_bot && m.text.contains("отзыв"))
            .then_some(())
    })
    .await;
    tg.send(ann, ann, Outgoing::text("Всё отлично, спасибо мастеру"));
    stage
        .kaiten
        .wait_until(WAIT, "the feedback note", |_| {
            (internal_notes(&stage, card_id, "Отзыв: Всё отлично") == 1).then_some(())
        })
        .await;
    assert_eq!(
        internal_notes(&stage, card_id, "1 из 5"),
        0,
        "the second rating was ignored"
    );

    // Reopen: the card goes back to work, the closing keyboard disappears.
    let reopen = data_starting(&rated, "reopen:");
    tg.press(group, card.message_id, ann, &reopen);
    stage
        .kaiten
        .wait_until(WAIT, "the reopened card", |k| {
            (k.card(card_id)?.column_id == FakeKaiten::COLUMN_NEW).then_some(())
        })
        .await;
    tg.wait_until(WAIT, "the card without the closing keyboard", |t| {
        let m = t.message(group, card.message_id)?;
        m.reply_markup.is_none().then_some(())
    })
    .await;
    assert!(
        tg.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains("переоткрыта")),
        "the group is told who reopened"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_on_a_closed_ticket_opens_a_linked_follow_up_by_default() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (card_id, card) = open_ticket(&stage, "Не печатает принтер").await;
    close(&stage, card_id, card.message_id).await;
    let comments_before = stage.kaiten.comments(card_id).len();

    tg.send(
        group,
        ann,
        Outgoing::text("Опять не печатает").reply_to(card.message_id),
    );
    let follow_up = stage
        .kaiten
        .wait_until(WAIT, "the follow-up card", |k| {
            k.cards().into_iter().find(|c| c.id != card_id)
        })
        .await;
    assert!(
        follow_up.title.contains(&format!("#{card_id}")),
        "{}",
        follow_up.title
    );
    assert!(
        follow_up.description.contains(&format!("#{card_id}")),
        "staff see which ticket it follows: {}",
        follow_up.description
    );
    assert!(follow_up.description.contains("Опять не печатает"));
    let new_card = tg
        .wait_until(WAIT, "the follow-up's card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{}", follow_up.id)))
        })
        .await;
    assert!(
        new_card
            .text
            .contains(&format!("Продолжение заявки #{card_id}")),
        "{}",
        new_card.text
    );
    assert_eq!(
        stage.kaiten.comments(card_id).len(),
        comments_before,
        "the closed ticket is left alone"
    );
    assert_eq!(
        stage.kaiten.card(card_id).map(|c| c.column_id),
        Some(FakeKaiten::COLUMN_DONE)
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_on_a_closed_ticket_reopens_it_under_the_reopen_policy() {
    let stage = Stage::new(1, "en", "1s").await;
    stage.set_chat_option("on_closed_comment", "\"reopen\"");
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (card_id, card) = open_ticket(&stage, "The printer jams").await;
    close(&stage, card_id, card.message_id).await;

    tg.send(
        group,
        ann,
        Outgoing::text("It jams again").reply_to(card.message_id),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the reopened card with the comment", |k| {
            let reopened = k.card(card_id)?.column_id == FakeKaiten::COLUMN_NEW;
            let commented = k
                .comments(card_id)
                .iter()
                .any(|c| c.text.contains("It jams again"));
            (reopened && commented).then_some(())
        })
        .await;
    assert_eq!(stage.kaiten.cards().len(), 1, "no follow-up ticket");
    tg.wait_until(WAIT, "the reopened card in Telegram", |t| {
        let m = t.message(group, card.message_id)?;
        (m.reply_markup.is_none() && m.text.contains("New")).then_some(())
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_raises_priority_notes_staff_and_is_not_repeated_within_an_hour() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let (card_id, card) = open_ticket(&stage, "Касса не работает, очередь").await;

    tg.send(
        group,
        ann,
        Outgoing::text("/escalate").reply_to(card.message_id),
    );
    stage
        .kaiten
        .wait_until(WAIT, "the escalated card", |k| {
            let card = k.card(card_id)?;
            (card.asap && internal_notes(&stage, card_id, "Эскалация заявки") == 1).then_some(())
        })
        .await;
    tg.wait_until(WAIT, "the confirmation", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains("эскалирована"))
            .then_some(())
    })
    .await;

    tg.send(
        group,
        ann,
        Outgoing::text("/escalate").reply_to(card.message_id),
    );
    tg.wait_until(WAIT, "the repeat acknowledgement", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains("уже отправлена"))
            .then_some(())
    })
    .await;
    assert_eq!(
        internal_notes(&stage, card_id, "Эскалация заявки"),
        1,
        "a repeat within the hour is not sent to the helpdesk"
    );
    // /escalate outside a ticket's thread says how to use it.
    tg.send(group, ann, Outgoing::text("/escalate"));
    tg.wait_until(WAIT, "the usage hint", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains("ответом на карточку"))
            .then_some(())
    })
    .await;
    daemon.shutdown().await;
}

fn dm_attempts(stage: &Stage, user: i64) -> usize {
    stage
        .telegram
        .calls()
        .iter()
        .filter(|c| {
            c.method.eq_ignore_ascii_case("sendMessage")
                && c.params["chat_id"].as_i64() == Some(user)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_get_a_dm_on_the_first_reply_and_on_resolution_unless_they_never_started_the_bot() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let bob = tg.add_user("Борис", Some("Орлов"), Some("boris_o"));
    tg.add_member(group, bob);
    tg.set_can_dm(bob, true);
    let daemon = stage.start(Options::default()).await;

    // Bob started the bot: he hears about the first staff reply (once) and the resolution.
    let source = tg.send(group, bob, Outgoing::text("Не открывается 1С"));
    tg.send(group, bob, Outgoing::text("/ticket").reply_to(source));
    let card_id = stage
        .kaiten
        .wait_until(WAIT, "Bob's card", |k| k.cards().first().map(|c| c.id))
        .await;
    let card = tg
        .wait_until(WAIT, "Bob's ticket card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
        })
        .await;
    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Смотрим");
    let dm = tg
        .wait_until(WAIT, "the reply notification", |t| {
            t.messages(bob).into_iter().find(|m| m.from_bot)
        })
        .await;
    assert!(dm.text.contains("Мария Петрова"), "{}", dm.text);
    assert!(dm.text.contains(&format!("#{card_id}")), "{}", dm.text);
    let link = buttons(&dm)
        .into_iter()
        .map(|(_, url)| url)
        .next()
        .expect("a button to the thread");
    assert!(
        link.starts_with("https://t.me/c/") && link.ends_with(&format!("/{}", card.message_id)),
        "{link}"
    );
    stage
        .kaiten
        .staff_reply(card_id, "Мария Петрова", "Ещё смотрим");
    close(&stage, card_id, card.message_id).await;
    tg.wait_until(WAIT, "the resolution notification", |t| {
        t.messages(bob)
            .iter()
            .any(|m| m.from_bot && m.text.contains("решена"))
            .then_some(())
    })
    .await;
    let bot_dms = tg.messages(bob).iter().filter(|m| m.from_bot).count();
    assert_eq!(
        bot_dms, 2,
        "one reply notification, one resolution notification"
    );

    // Ann never started the bot: Telegram refuses once, and teledesk does not ask again.
    let source = tg.send(group, ann, Outgoing::text("Сломался сканер"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let ann_card = stage
        .kaiten
        .wait_until(WAIT, "Ann's card", |k| k.cards().get(1).map(|c| c.id))
        .await;
    stage
        .kaiten
        .staff_reply(ann_card, "Мария Петрова", "Принято");
    tg.wait_until(WAIT, "the refused notification attempt", |_| {
        (dm_attempts(&stage, ann) == 1).then_some(())
    })
    .await;
    stage
        .kaiten
        .staff_reply(ann_card, "Мария Петрова", "Скоро будем");
    stage
        .kaiten
        .move_to_column(ann_card, FakeKaiten::COLUMN_DONE);
    tg.wait_until(WAIT, "the closed card for Ann", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.text.contains(&format!("#{ann_card}")) && m.reply_markup.is_some())
            .then_some(())
    })
    .await;
    assert_eq!(
        dm_attempts(&stage, ann),
        1,
        "a user who never started the bot is recorded once, not retried"
    );
    assert_eq!(
        daemon.queues().dead,
        0,
        "a refused notification is not a dead letter"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_and_last_in_the_private_chat_list_the_users_tickets_with_links() {
    let stage = Stage::new(1, "en", "1s").await;
    let (tg, ann) = (&stage.telegram, stage.client);
    let daemon = stage.start(Options::default()).await;
    let (open_id, open_card) = open_ticket(&stage, "VPN drops every hour").await;
    let (closed_id, closed_card) = open_ticket(&stage, "Printer out of toner").await;
    close(&stage, closed_id, closed_card.message_id).await;
    tg.set_can_dm(ann, true);

    tg.send(ann, ann, Outgoing::text("/my"));
    let my = tg
        .wait_until(WAIT, "the /my answer", |t| {
            t.messages(ann)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("open tickets"))
        })
        .await;
    assert!(my.text.contains(&format!("#{open_id}")), "{}", my.text);
    assert!(!my.text.contains(&format!("#{closed_id}")), "{}", my.text);
    let my_html = my.html.clone().unwrap_or_default();
    assert!(
        my_html.contains(&format!("/{}\"", open_card.message_id)),
        "links to the card: {my_html}"
    );

    tg.send(ann, ann, Outgoing::text("/last"));
    let last = tg
        .wait_until(WAIT, "the /last answer", |t| {
            t.messages(ann)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("latest tickets"))
        })
        .await;
    let closed_line = format!("#{closed_id}");
    assert!(last.text.contains(&format!("#{open_id}")), "{}", last.text);
    assert!(last.text.contains(&closed_line), "{}", last.text);
    let last_html = last.html.clone().unwrap_or_default();
    assert!(
        last_html.contains("<s>"),
        "closed tickets are struck through: {last_html}"
    );
    let newest_first = last.text.find(&closed_line) < last.text.find(&format!("#{open_id}"));
    assert!(newest_first, "newest first: {}", last.text);
    daemon.shutdown().await;
}
