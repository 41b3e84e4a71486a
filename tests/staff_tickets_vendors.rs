//! Tickets started by staff (issue 14.3) on Znuny, GLPI and Zammad, through the real daemon binary
//! against each fake: staff open a ticket addressed to the chat (Znuny's `TelegramChat` dynamic
//! field, GLPI's Telegram request source in the entity Acme, Zammad's `telegram_chat` attribute),
//! it is published in that chat once, the client's reply becomes a comment and staff's answer
//! comes back under the card; an announcement addressed by the chat's id shows no status and no
//! buttons; a ticket staff keep to themselves is never published.

mod common;

use common::{daemon_logs, spawn_daemon};
use std::time::Duration;
use teledesk::demo::{Stage, Target};
use teledesk_adapter::TicketId;
use teledesk_testkit::glpi::FakeGlpi;
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing};
use teledesk_testkit::zammad::FakeZammad;
use teledesk_testkit::znuny::FakeZnuny;

const WAIT: Duration = Duration::from_secs(60);

macro_rules! vendor {
    ($($test:ident => $kind:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                staff_ticket_round_trip($kind).await;
            }
        )*
    };
}

vendor! {
    znuny_publishes_a_staff_ticket_once_and_carries_the_dialogue => "znuny",
    glpi_publishes_a_staff_ticket_once_and_carries_the_dialogue => "glpi",
    zammad_publishes_a_staff_ticket_once_and_carries_the_dialogue => "zammad",
}

/// How many change searches the daemon has made of the stage's fake helpdesk: from the first
/// one on, the poll cursor stands before anything staff do next.
fn change_searches(stage: &Stage) -> usize {
    let helpdesk = &stage.helpdesk;
    if let Some(fake) = helpdesk.fake::<FakeZnuny>() {
        let calls = fake.calls();
        return calls
            .iter()
            .filter(|c| c.operation.as_deref() == Some("TicketSearch"))
            .count();
    }
    if let Some(fake) = helpdesk.fake::<FakeGlpi>() {
        let calls = fake.calls();
        return calls
            .iter()
            .filter(|c| c.path.ends_with("/search/Ticket"))
            .count();
    }
    if let Some(fake) = helpdesk.fake::<FakeZammad>() {
        let calls = fake.calls();
        return calls
            .iter()
            .filter(|c| c.path.ends_with("/tickets/search"))
            .count();
    }
    panic!("no fake of kind {}", helpdesk.kind)
}

/// Waits until the daemon has searched for changes `n` more times than `before`.
async fn polls_after(stage: &Stage, before: usize, n: usize) {
    let done = |stage: &Stage| (change_searches(stage) >= before + n).then_some(());
    let helpdesk = &stage.helpdesk;
    if let Some(fake) = helpdesk.fake::<FakeZnuny>() {
        fake.wait_until(WAIT, "polls", |_| done(stage)).await;
    } else if let Some(fake) = helpdesk.fake::<FakeGlpi>() {
        fake.wait_until(WAIT, "polls", |_| done(stage)).await;
    } else if let Some(fake) = helpdesk.fake::<FakeZammad>() {
        fake.wait_until(WAIT, "polls", |_| done(stage)).await;
    }
}

/// The bot's messages in `chat` that carry `needle` (a subject: numbers differ per vendor).
fn bot_messages(tg: &FakeTelegram, chat: i64, needle: &str) -> Vec<ChatMessage> {
    tg.messages(chat)
        .into_iter()
        .filter(|m| m.from_bot && m.text.contains(needle))
        .collect()
}

async fn staff_ticket_round_trip(kind: &str) {
    let stage = Stage::with_helpdesk(Target::Fake(kind.into()), 1, "ru", "1s")
        .await
        .expect("the stage starts");
    let (tg, group) = (&stage.telegram, stage.group());
    let staff = stage.helpdesk.backstage.clone();
    let mut daemon = spawn_daemon(&stage, 0);
    polls_after(&stage, 0, 1).await;

    let subject = "Подозрительный вход в кабинет";
    let notice = staff
        .staff_addressed_ticket(
            subject,
            "Вчера в 23:10 был вход с нового устройства. Это были вы?",
            "Acme",
            false,
        )
        .await
        .expect("staff open an addressed ticket");
    let card = tokio::select! {
        card = tg.wait_until(WAIT, "the staff ticket's card", |t| {
            bot_messages(t, group, subject)
                .into_iter()
                .find(|m| m.text.contains("Сообщение от поддержки"))
        }) => card,
        status = daemon.wait() => panic!("the daemon exited ({status:?}):\n{}", daemon_logs(&stage)),
    };
    assert!(card.text.contains("Статус"), "{}", card.text);

    // The client's reply becomes a comment staff read.
    tg.send(
        group,
        stage.client,
        Outgoing::text("Нет, это не мы!").reply_to(card.message_id),
    );
    let commented =
        tokio::time::timeout(WAIT, wait_for_comment(&stage, &notice, "Нет, это не мы!"));
    assert!(
        commented.await.is_ok(),
        "the client's reply is no comment:\n{}",
        daemon_logs(&stage)
    );

    // Staff answer; it comes back under the card (the ticket is followed like the client's own).
    staff
        .staff_reply(&notice, "Заблокировали устройство, смените пароль", None)
        .await
        .expect("staff reply");
    tg.wait_until(WAIT, "the staff answer under the card", |t| {
        t.messages(group)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains("Заблокировали устройство"))
    })
    .await;

    // A ticket staff keep to themselves (no address) is none of the chat's business.
    let internal = "Внутренняя задача: обновить сертификат";
    let helpdesk = &stage.helpdesk;
    if let Some(fake) = helpdesk.fake::<FakeZnuny>() {
        fake.staff_create_ticket(FakeZnuny::STAFF_LOGIN, internal, "Только для нас");
    } else if let Some(fake) = helpdesk.fake::<FakeGlpi>() {
        fake.staff_create_ticket(internal);
    } else if let Some(fake) = helpdesk.fake::<FakeZammad>() {
        fake.staff_create_ticket(internal);
    }

    // An announcement, addressed by the chat's Telegram id.
    let announced = "Плановые работы в субботу";
    staff
        .staff_addressed_ticket(
            announced,
            "Сервис будет недоступен с 10:00 до 12:00.",
            &group.to_string(),
            true,
        )
        .await
        .expect("staff open an announcement");
    let posted = tg
        .wait_until(WAIT, "the announcement", |t| {
            bot_messages(t, group, announced)
                .into_iter()
                .find(|m| m.text.contains("Объявление"))
        })
        .await;
    assert!(!posted.text.contains("Статус"), "{}", posted.text);
    assert!(posted.reply_markup.is_none(), "{:?}", posted.reply_markup);

    // More polls publish nothing again.
    let before = change_searches(&stage);
    polls_after(&stage, before, 4).await;
    let cards = |needle: &str| {
        bot_messages(tg, group, needle)
            .into_iter()
            .filter(|m| m.text.contains("Сообщение от поддержки") || m.text.contains("Объявление"))
            .count()
    };
    assert_eq!(cards(subject), 1, "{}", daemon_logs(&stage));
    assert_eq!(cards(announced), 1, "{}", daemon_logs(&stage));
    assert!(bot_messages(tg, group, internal).is_empty());
    daemon.kill().await.expect("SIGKILL");
}

/// Waits until the ticket has a comment holding `needle`, read as the adapter reads it.
async fn wait_for_comment(stage: &Stage, ticket: &TicketId, needle: &str) {
    let config = stage.config();
    let adapter = teledesk::helpdesks::build(&config.helpdesks["main"]).expect("the adapter");
    loop {
        if let Ok(read) = adapter.get_ticket(ticket).await
            && read.comments.iter().any(|c| c.body.contains(needle))
        {
            return;
        }
        // Wait on the daemon's next poll rather than a fixed sleep; the caller's timeout bounds
        // it all.
        let before = change_searches(stage);
        polls_after(stage, before, 1).await;
    }
}
