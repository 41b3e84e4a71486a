//! SLA on the card in every mode (issue 14.4): the card shows when the client asked — the date of
//! the Telegram message the ticket was made from — and the helpdesk's due time, marked once it is
//! missed. Group, channel (the post), forum (the card in the ticket's topic) and a ticket filed
//! from the private chat, in Russian and English.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// A message's date as the card shows moments: `07.12.2026 03:43 UTC`.
fn shown_date(unix: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(unix).expect("a date");
    format!(
        "{:02}.{:02}.{} {:02}:{:02} UTC",
        at.day(),
        u8::from(at.month()),
        at.year(),
        at.hour(),
        at.minute()
    )
}

/// The words the card uses, by language.
struct Words {
    registered: &'static str,
    resolve_by: &'static str,
    overdue: &'static str,
}

fn words(lang: &str) -> Words {
    match lang {
        "ru" => Words {
            registered: "Зарегистрирована:",
            resolve_by: "Решение до:",
            overdue: "просрочено",
        },
        _ => Words {
            registered: "Registered:",
            resolve_by: "Resolution due:",
            overdue: "overdue",
        },
    }
}

/// The card of Kaiten card `card_id` in `chat`, once the bot has sent it.
async fn card_in(tg: &FakeTelegram, chat: i64, card_id: i64) -> ChatMessage {
    tg.wait_until(WAIT, "the ticket's card", |t| {
        t.messages(chat)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")) && !m.text.is_empty())
    })
    .await
}

/// The newest Kaiten card, once there are `count`.
async fn nth_card(stage: &Stage, count: usize) -> i64 {
    stage
        .kaiten
        .wait_until(WAIT, "the Kaiten card", |k| {
            let cards = k.cards();
            (cards.len() >= count).then(|| cards[count - 1].id)
        })
        .await
}

/// Checks the card shows `registered`, then sets a due time two hours ago in Kaiten and waits
/// for the same message to show it, marked as missed.
async fn registered_and_overdue(
    stage: &Stage,
    chat: i64,
    card: &ChatMessage,
    card_id: i64,
    registered: i64,
    lang: &str,
) {
    let w = words(lang);
    let line = format!("{} {}", w.registered, shown_date(registered));
    assert!(card.text.contains(&line), "{line:?} in {}", card.text);
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    stage.kaiten.set_due_date(card_id, past, true);
    let due = format!("{} {}", w.resolve_by, shown_date(past.unix_timestamp()));
    let edited = stage
        .telegram
        .wait_until(WAIT, "the missed due time on the card", |t| {
            let m = t.message(chat, card.message_id)?;
            (m.text.contains(&due) && m.text.contains(w.overdue)).then_some(m)
        })
        .await;
    assert!(edited.text.contains(&line), "{}", edited.text);
}

/// The date of a message the client sent.
fn date_of(tg: &FakeTelegram, chat: i64, message_id: i32) -> i64 {
    tg.message(chat, message_id).expect("the message").date
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_card_shows_registration_and_a_missed_due_time() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(group, ann, Outgoing::text("Не печатает принтер"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = nth_card(&stage, 1).await;
    let card = card_in(tg, group, card_id).await;
    let date = date_of(tg, group, source);
    registered_and_overdue(&stage, group, &card, card_id, date, "ru").await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_post_shows_registration_and_a_missed_due_time() {
    let stage = Stage::channel("en", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let channel = stage.channel.expect("a channel stage");
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(group, ann, Outgoing::text("VPN is down"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = nth_card(&stage, 1).await;
    let post = card_in(tg, channel, card_id).await;
    let date = date_of(tg, group, source);
    registered_and_overdue(&stage, channel, &post, card_id, date, "en").await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forum_topic_card_shows_registration_and_a_missed_due_time() {
    let stage = Stage::forum("ru", "1s").await;
    let (tg, forum, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(forum, ann, Outgoing::text("Не работает Wi-Fi"));
    tg.send(forum, ann, Outgoing::text("/ticket").reply_to(source));
    let card_id = nth_card(&stage, 1).await;
    let card = card_in(tg, forum, card_id).await;
    assert!(
        card.thread_id.is_some(),
        "the card is in the ticket's topic"
    );
    let date = date_of(tg, forum, source);
    registered_and_overdue(&stage, forum, &card, card_id, date, "ru").await;
    daemon.shutdown().await;
}

/// A ticket filed in the private chat: registered when the client sent `/new`, its card in the
/// group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_from_the_private_chat_shows_registration_and_a_missed_due_time() {
    let stage = Stage::new(1, "en", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    tg.set_can_dm(ann, true);
    let asked =
        |t: &FakeTelegram, n: usize| t.messages(ann).iter().filter(|m| m.from_bot).count() >= n;
    let start = tg.send(ann, ann, Outgoing::text("/new"));
    tg.wait_until(WAIT, "the subject question", |t| asked(t, 1).then_some(()))
        .await;
    tg.send(ann, ann, Outgoing::text("Scanner offline"));
    tg.wait_until(WAIT, "the description question", |t| {
        asked(t, 2).then_some(())
    })
    .await;
    tg.send(ann, ann, Outgoing::text("/done"));
    let card_id = nth_card(&stage, 1).await;
    let card = card_in(tg, group, card_id).await;
    let date = date_of(tg, ann, start);
    registered_and_overdue(&stage, group, &card, card_id, date, "en").await;
    daemon.shutdown().await;
}
