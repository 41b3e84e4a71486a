//! Tickets started by staff (issue 14.3) and due times (14.4) on the fakes: a Kaiten card tagged
//! `tg:<chat>` is published in that chat once, the client's reply to it becomes a comment, an
//! announcement shows no status and no buttons, a deadline is shown and marked when missed; and
//! a daemon SIGKILLed while the card's send is in flight publishes it once after the restart.

mod common;

use common::{daemon_logs, spawn_daemon};
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::{ChatMessage, FakeError, FakeTelegram, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// The bot's messages in `chat` that carry the card of `card`.
fn cards_of(tg: &FakeTelegram, chat: i64, card: i64) -> Vec<ChatMessage> {
    tg.messages(chat)
        .into_iter()
        .filter(|m| m.from_bot && m.text.contains(&format!("#{card}")))
        .collect()
}

async fn card_message(tg: &FakeTelegram, chat: i64, card: i64, needle: &str) -> ChatMessage {
    let needle = needle.to_owned();
    tg.wait_until(WAIT, "the card of the staff ticket", move |t| {
        cards_of(t, chat, card)
            .into_iter()
            .find(|m| m.text.contains(&needle))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_ticket_is_published_once_and_replies_become_comments() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let daemon = stage.start(Options::default()).await;

    // Staff write a card with a file, then address it by the chat's name, in another case.
    let notice = kaiten.staff_create_card("Подозрительный вход в кабинет");
    kaiten.staff_describe(
        notice,
        "Вчера в 23:10 был вход с нового устройства. Это были вы?",
    );
    kaiten.staff_reply_with_file(
        notice,
        "Мария Петрова",
        "Журнал входов во вложении",
        "logins.csv",
        b"2026-12-06 23:10,192.0.2.7\n".to_vec(),
    );
    kaiten.staff_tag(notice, "tg:acme");
    let card = card_message(tg, group, notice, "Сообщение от поддержки").await;
    assert!(card.text.contains("Подозрительный вход"), "{}", card.text);
    assert!(card.text.contains("Статус"), "{}", card.text);
    // The staff reply written before it was published follows the card, with its file, once.
    tg.wait_until(WAIT, "the staff file under the card", |t| {
        t.messages(group).into_iter().find(|m| {
            m.from_bot
                && m.media
                    .iter()
                    .any(|f| f.file_name.as_deref() == Some("logins.csv"))
        })
    })
    .await;

    let reply = tg.send(
        group,
        stage.client,
        Outgoing::text("Нет, это не мы!").reply_to(card.message_id),
    );
    kaiten
        .wait_until(WAIT, "the client's reply as a comment", |k| {
            k.comments(notice)
                .iter()
                .any(|c| c.text.contains("Нет, это не мы!"))
                .then_some(())
        })
        .await;
    let _ = reply;

    // An announcement, addressed by the chat's id.
    let announcement = kaiten.staff_address_card(
        "Плановые работы в субботу",
        "Сервис будет недоступен с 10:00 до 12:00.",
        &group.to_string(),
        true,
    );
    let posted = card_message(tg, group, announcement, "Объявление").await;
    assert!(!posted.text.contains("Статус"), "{}", posted.text);
    assert!(posted.reply_markup.is_none(), "{:?}", posted.reply_markup);

    // A card without the tag is none of the chat's business.
    let internal = kaiten.staff_create_card("Внутренняя задача");
    // The deadline of the first card, already missed: the card shows it, marked.
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    kaiten.set_due_date(notice, past, true);
    let edited = tg
        .wait_until(WAIT, "the missed deadline on the card", |t| {
            cards_of(t, group, notice)
                .into_iter()
                .find(|m| m.text.contains("Решение до") && m.text.contains("просрочено"))
        })
        .await;
    assert_eq!(edited.message_id, card.message_id, "the card is edited");

    // More polls change nothing: each card once, the untagged one never.
    let polls = kaiten.calls().len();
    kaiten
        .wait_until(WAIT, "a few more polls", |k| {
            (k.calls().len() > polls + 6).then_some(())
        })
        .await;
    assert_eq!(cards_of(tg, group, notice).len(), 1);
    assert_eq!(cards_of(tg, group, announcement).len(), 1);
    let journal = |t: &FakeTelegram| {
        t.messages(group)
            .iter()
            .filter(|m| m.from_bot && m.message_id != card.message_id)
            .filter(|m| m.text.contains("Журнал входов во вложении"))
            .count()
    };
    assert_eq!(journal(tg), 1, "the staff reply once");
    assert!(cards_of(tg, group, internal).is_empty());

    // Addressed to the whole chat, it is found by its members (the chat's visibility is "own"),
    // and not by an outsider.
    tg.set_can_dm(stage.client, true);
    tg.send(stage.client, stage.client, Outgoing::text("/find вход"));
    tg.wait_until(WAIT, "the staff ticket found", |t| {
        t.messages(stage.client)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&format!("#{notice}")))
    })
    .await;
    let outsider = tg.add_user("Чужой", None, Some("stranger"));
    tg.set_can_dm(outsider, true);
    tg.send(outsider, outsider, Outgoing::text("/find вход"));
    let answer = tg
        .wait_until(WAIT, "the outsider's answer", |t| {
            t.messages(outsider).into_iter().find(|m| m.from_bot)
        })
        .await;
    assert!(
        !answer.text.contains(&format!("#{notice}")),
        "{}",
        answer.text
    );
    daemon.shutdown().await;
}

/// The daemon is SIGKILLed while the staff ticket's card is on its way to Telegram (the send in
/// flight, the ticket recorded and the poll cursor past it); after the restart the card is
/// published once, and a reply to it becomes a comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_publishing_a_staff_ticket_publishes_it_once() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let mut daemon = spawn_daemon(&stage, 0);
    // The daemon is up (its first poll came) before staff act.
    kaiten
        .wait_until(WAIT, "the first poll", |k| {
            (!k.calls().is_empty()).then_some(())
        })
        .await;
    tg.inject_error_at("sendMessage", group, 1, FakeError::Stall);
    let notice = kaiten.staff_address_card(
        "Смена реквизитов",
        "С 1 декабря меняются банковские реквизиты.",
        "Acme",
        false,
    );
    let stalled = tg.wait_until(WAIT, "the card's send in flight", |t| {
        t.calls()
            .iter()
            .any(|c| c.status == 0 && c.params["chat_id"].as_i64() == Some(group))
            .then_some(())
    });
    tokio::select! {
        () = stalled => {}
        status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", daemon_logs(&stage)),
    }
    assert!(cards_of(tg, group, notice).is_empty());
    daemon.kill().await.expect("SIGKILL");
    let mut daemon = spawn_daemon(&stage, 1);

    let card = tokio::select! {
        card = card_message(tg, group, notice, "Смена реквизитов") => card,
        status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", daemon_logs(&stage)),
    };
    tg.send(
        group,
        stage.client,
        Outgoing::text("Спасибо, учтём").reply_to(card.message_id),
    );
    kaiten
        .wait_until(WAIT, "the reply as a comment", |k| {
            k.comments(notice)
                .iter()
                .any(|c| c.text.contains("Спасибо, учтём"))
                .then_some(())
        })
        .await;
    let polls = kaiten.calls().len();
    kaiten
        .wait_until(WAIT, "a few more polls", |k| {
            (k.calls().len() > polls + 6).then_some(())
        })
        .await;
    assert_eq!(
        cards_of(tg, group, notice).len(),
        1,
        "{}",
        daemon_logs(&stage)
    );
    let store_path = stage.config().store.path;
    daemon.kill().await.expect("SIGKILL");
    let store = teledesk::store::Store::open(&store_path).unwrap();
    let staff_tickets = store
        .read()
        .tickets()
        .unwrap()
        .into_iter()
        .filter(|l| l.staff_started.is_some())
        .count();
    assert_eq!(staff_tickets, 1);
}

/// In channel mode the staff ticket is a post in the channel; a comment in its thread in the
/// discussion group becomes a ticket comment, and staff's answer comes back into the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_ticket_in_channel_mode_is_a_post_with_a_thread() {
    let stage = Stage::channel("ru", "1s").await;
    let (tg, group, kaiten) = (&stage.telegram, stage.group(), &stage.kaiten);
    let channel = stage.channel.expect("a channel stage");
    let daemon = stage.start(Options::default()).await;

    let notice = kaiten.staff_address_card(
        "Смена реквизитов",
        "С 1 декабря меняются банковские реквизиты.",
        &channel.to_string(),
        false,
    );
    let post = card_message(tg, channel, notice, "Сообщение от поддержки").await;
    let forward = tg
        .wait_until(WAIT, "the post's automatic forward", |t| {
            t.messages(group).into_iter().find(|m| {
                m.is_automatic_forward && m.forward_origin == Some((channel, post.message_id))
            })
        })
        .await;
    tg.send(
        group,
        stage.client,
        Outgoing::text("Пришлите новые реквизиты файлом").reply_to(forward.message_id),
    );
    kaiten
        .wait_until(WAIT, "the comment in Kaiten", |k| {
            k.comments(notice)
                .iter()
                .any(|c| c.text.contains("новые реквизиты файлом"))
                .then_some(())
        })
        .await;
    kaiten.staff_reply(notice, "Мария Петрова", "Отправили на почту");
    tg.wait_until(WAIT, "the staff reply in the thread", |t| {
        t.messages(group)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains("Отправили на почту"))
            .filter(|m| m.reply_to == Some(forward.message_id))
    })
    .await;
    assert_eq!(cards_of(tg, channel, notice).len(), 1);
    daemon.shutdown().await;
}
