//! The demo's last scene, what a client portal offers beyond filing (issue 14): staff write to the
//! client first (a ticket started in the helpdesk, and an announcement), the client finds their
//! tickets with `/find`, a missed deadline shows on the card, and an admin asks for `/report`.

use super::{STEP, Stage, print_chat, say};
use crate::daemon::Options;
use teledesk_testkit::telegram::{FakeTelegram, Outgoing};

/// The bot's first message in `chat` after the first `after` of its messages that contains
/// `needle`.
async fn bot_says(tg: &FakeTelegram, chat: i64, after: usize, needle: &str) -> String {
    let needle = needle.to_owned();
    tg.wait_until(STEP, "the bot's answer", move |t| {
        t.messages(chat)
            .into_iter()
            .filter(|m| m.from_bot)
            .skip(after)
            .find(|m| m.text.contains(&needle))
            .map(|m| m.text)
    })
    .await
}

fn bot_count(tg: &FakeTelegram, chat: i64) -> usize {
    tg.messages(chat).iter().filter(|m| m.from_bot).count()
}

pub async fn portal_scene(lang: &str) -> Result<(), String> {
    let en = lang == "en";
    say("\n\n######## Staff write first, search and reports ########");
    say("A group chat on Kaiten; an admin of the bot is configured.\n");
    let stage = Stage::new(1, lang, "1s").await;
    let tg = &stage.telegram;
    let (group, ann) = (stage.group(), stage.client);
    let admin = tg.add_user("Olga", Some("Admin"), Some("olga_admin"));
    stage.set_admins(&[admin]);
    let daemon = stage.start(Options::default()).await;

    say("== 1. Staff create a card tagged tg:Acme in Kaiten: it is published in the chat ==");
    let (subject, body, answer) = if en {
        (
            "Suspicious sign-in to your account",
            "Yesterday at 23:10 someone signed in from a new device. Was it you?",
            "No, it was not us!",
        )
    } else {
        (
            "Подозрительный вход в кабинет",
            "Вчера в 23:10 был вход с нового устройства. Это были вы?",
            "Нет, это были не мы!",
        )
    };
    let card = stage
        .kaiten
        .staff_address_card(subject, body, "Acme", false);
    let posted = tg
        .wait_until(STEP, "the staff ticket in the chat", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card}")))
        })
        .await;
    tg.send(
        group,
        ann,
        Outgoing::text(answer).reply_to(posted.message_id),
    );
    stage
        .kaiten
        .wait_until(STEP, "the client's answer in Kaiten", |k| {
            k.comments(card)
                .iter()
                .any(|c| c.text.contains(answer))
                .then_some(())
        })
        .await;
    say(&format!(
        "the client's reply reached Kaiten card #{card} as a comment: yes"
    ));

    say("\n== 2. An announcement (tags tg:Acme and tg:announcement): no status, no buttons ==");
    let notice = stage.kaiten.staff_address_card(
        if en {
            "Maintenance on Saturday"
        } else {
            "Плановые работы в субботу"
        },
        if en {
            "The service is down from 10:00 to 12:00."
        } else {
            "Сервис будет недоступен с 10:00 до 12:00."
        },
        "Acme",
        true,
    );
    tg.wait_until(STEP, "the announcement", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains(&format!("#{notice}")))
            .then_some(())
    })
    .await;

    say("\n== 3. The deadline of the first card passes: the card marks it ==");
    stage.kaiten.set_due_date(
        card,
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        true,
    );
    let overdue = if en {
        "overdue"
    } else {
        "просрочено"
    };
    tg.wait_until(STEP, "the missed deadline on the card", |t| {
        t.message(group, posted.message_id)
            .filter(|m| m.text.contains(overdue))
    })
    .await;
    print_chat(&stage, group, "what the client sees in the group");

    say("\n== 4. The client looks for it privately: /find ==");
    tg.set_can_dm(ann, true);
    let word = if en { "sign-in" } else { "вход" };
    tg.send(ann, ann, Outgoing::text(&format!("/find {word}")));
    let found = bot_says(tg, ann, 0, &format!("#{card}")).await;
    say(&format!("/find {word}"));
    for line in found.lines() {
        say(&format!("    {line}"));
    }

    say("\n== 5. An admin asks for this month's report: /report ==");
    tg.set_can_dm(admin, true);
    let seen = bot_count(tg, admin);
    tg.send(admin, admin, Outgoing::text("/report"));
    let report = bot_says(tg, admin, seen, "Acme").await;
    for line in report.lines() {
        say(&format!("    {line}"));
    }
    tg.send(ann, ann, Outgoing::text("/report"));
    let refused = bot_says(
        tg,
        ann,
        0,
        if en {
            "admins only"
        } else {
            "только администраторам"
        },
    )
    .await;
    say(&format!("a client who asks for /report: {refused}"));
    let q = daemon.queues();
    say(&format!(
        "queues: inbox {}, jobs {}, outbox {}, dead letters {}",
        q.inbox, q.jobs, q.outbox, q.dead
    ));
    daemon.shutdown().await;
    if q.dead > 0 {
        return Err(format!("{} item(s) ended in dead letters", q.dead));
    }
    Ok(())
}
