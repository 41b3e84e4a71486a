//! `/find` in the private chat on the fakes: a client finds their colleagues' tickets where the
//! chat's `visibility` is `chat`, an outsider finds none, and the filter buttons repeat the search.
//! The store keeps the times teledesk observed (registration, first response, resolution).

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk::store::Store;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// The bot's newest private message to `user` that contains `needle`, once it exists.
async fn answer(tg: &FakeTelegram, user: i64, after: usize, needle: &str) -> ChatMessage {
    let needle = needle.to_owned();
    tg.wait_until(WAIT, "the bot's answer", move |t| {
        t.messages(user)
            .into_iter()
            .filter(|m| m.from_bot)
            .skip(after)
            .find(|m| m.text.contains(&needle))
    })
    .await
}

fn bot_count(tg: &FakeTelegram, user: i64) -> usize {
    tg.messages(user).iter().filter(|m| m.from_bot).count()
}

fn button(message: &ChatMessage, label: &str) -> String {
    let markup = message.reply_markup.clone().expect("buttons");
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .find(|b| b["text"].as_str().is_some_and(|t| t.contains(label)))
        .and_then(|b| b["callback_data"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no button {label}: {markup}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_finds_their_chats_tickets_and_an_outsider_none() {
    let stage = Stage::new(1, "ru", "1s").await;
    stage.set_chat_option("visibility", "\"chat\"");
    let (tg, ann, group) = (&stage.telegram, stage.client, stage.group());
    let daemon = stage.start(Options::default()).await;

    let (_, printer) = stage.ticket_in_group("Не печатает принтер", WAIT).await;
    let bob = tg.add_user("Борис", None, Some("bob_colleague"));
    tg.add_member(group, bob);
    let source = tg.send(group, bob, Outgoing::text("Акт сверки за октябрь"));
    tg.send(group, bob, Outgoing::text("/ticket").reply_to(source));
    let act = stage
        .kaiten
        .wait_until(WAIT, "Bob's card", |k| {
            k.cards()
                .iter()
                .find(|c| c.title.contains("Акт сверки"))
                .map(|c| c.id)
        })
        .await;

    tg.set_can_dm(ann, true);
    tg.send(ann, ann, Outgoing::text("/find принтер"));
    let found = answer(tg, ann, 0, "Найдено заявок: 1").await;
    assert!(
        found.text.contains(&format!("#{printer}")),
        "{}",
        found.text
    );
    assert!(!found.text.contains(&format!("#{act}")), "{}", found.text);

    // A colleague's ticket, by its number.
    let seen = bot_count(tg, ann);
    tg.send(ann, ann, Outgoing::text(&format!("/find #{act}")));
    let found = answer(tg, ann, seen, "Найдено").await;
    assert!(found.text.contains("Акт сверки"), "{}", found.text);

    // Staff close the printer ticket; the «Закрытые» button finds it, «Открытые» does not.
    stage
        .kaiten
        .staff_reply(printer, "Иван Петров", "Заменили картридж");
    stage
        .kaiten
        .move_to_column(printer, FakeKaiten::COLUMN_DONE);
    tg.wait_until(WAIT, "the resolution notice", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains("Заменили картридж"))
            .then_some(())
    })
    .await;
    let seen = bot_count(tg, ann);
    tg.send(ann, ann, Outgoing::text("/find"));
    let all = answer(tg, ann, seen, "Найдено заявок: 2").await;
    let mut closed = None;
    for _ in 0..50 {
        let seen = bot_count(tg, ann);
        tg.press(ann, all.message_id, ann, &button(&all, "Закрытые"));
        let answer = answer(tg, ann, seen, "").await;
        if answer.text.contains(&format!("#{printer}")) {
            closed = Some(answer);
            break;
        }
        // The refresh that saw the close may not have landed yet.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed = closed.expect("the closed ticket is found");
    assert!(closed.text.contains("Найдено заявок: 1"), "{}", closed.text);
    let seen = bot_count(tg, ann);
    tg.press(ann, closed.message_id, ann, &button(&closed, "Открытые"));
    let open = answer(tg, ann, seen, "Найдено").await;
    assert!(open.text.contains(&format!("#{act}")), "{}", open.text);
    assert!(!open.text.contains(&format!("#{printer}")), "{}", open.text);

    // Someone outside the chat finds nothing of it.
    let eve = tg.add_user("Ева", None, Some("eve_outsider"));
    tg.set_can_dm(eve, true);
    tg.send(eve, eve, Outgoing::text("/find"));
    answer(tg, eve, 0, "Ничего не найдено").await;
    daemon.shutdown().await;

    let store = Store::open(&stage.dir.path().join("store")).unwrap();
    let tickets = store.read().tickets().unwrap();
    let printer = tickets
        .iter()
        .find(|l| l.view.subject.contains("принтер"))
        .unwrap();
    let times = &printer.times;
    let registered = times.registered_at.expect("registration time");
    assert!(registered <= printer.created_at);
    let first = times.first_response_at.expect("first response");
    let resolved = times.resolved_at.expect("resolution");
    assert!(registered <= first && first <= resolved, "{times:?}");
}

/// A `/find` answer, `/my` and `/last` show each ticket's priority (the helpdesk's own name of
/// it) and its intake category (by the label the chat shows), in either language (issue 14.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_tickets_show_their_priority_and_category_in_both_languages() {
    for (lang, priority, category) in [
        ("ru", "приоритет: ASAP", "категория: Касса"),
        ("en", "priority: ASAP", "category: Касса"),
    ] {
        let stage = Stage::new(1, lang, "1s").await;
        // A single category is never asked, and every ticket of the chat is in it.
        let mut text = std::fs::read_to_string(&stage.config_path).expect("config");
        text.push_str("\n[[chats.categories]]\nid = \"till\"\nlabel = \"Касса\"\n");
        std::fs::write(&stage.config_path, text).expect("config");
        let (tg, ann) = (&stage.telegram, stage.client);
        let daemon = stage.start(Options::default()).await;
        let (_, card) = stage.ticket_in_group("Не печатает чек", WAIT).await;
        stage.kaiten.set_asap(card, true);
        tg.set_can_dm(ann, true);
        // The refresh that reads the priority may not have landed yet: ask again until it has.
        let mut found = None;
        for _ in 0..100 {
            let seen = bot_count(tg, ann);
            tg.send(ann, ann, Outgoing::text("/find чек"));
            let answer = answer(tg, ann, seen, &format!("#{card}")).await;
            if answer.text.contains("ASAP") {
                found = Some(answer);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let found = found.unwrap_or_else(|| panic!("{lang}: the priority never showed"));
        assert!(found.text.contains(priority), "{lang}: {}", found.text);
        assert!(found.text.contains(category), "{lang}: {}", found.text);
        // The client's own lists show the same facts.
        for command in ["/my", "/last"] {
            let seen = bot_count(tg, ann);
            tg.send(ann, ann, Outgoing::text(command));
            let list = answer(tg, ann, seen, &format!("#{card}")).await;
            assert!(
                list.text.contains(priority),
                "{lang} {command}: {}",
                list.text
            );
            assert!(
                list.text.contains(category),
                "{lang} {command}: {}",
                list.text
            );
        }
        daemon.shutdown().await;
    }
}
