//! Group mode end to end: the real daemon (in-process, the same code path as `teledesk run`)
//! against the testkit's fake Telegram (limits enforced) and fake Kaiten, with sled on disk.
//! Tests wait on conditions, never on time.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::kaiten::{FakeKaiten, StaffComment};
use teledesk_testkit::telegram::{ChatMessage, FakeError, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect()
}

fn bot_messages(stage: &Stage) -> Vec<ChatMessage> {
    stage
        .telegram
        .messages(stage.group())
        .into_iter()
        .filter(|m| m.from_bot)
        .collect()
}

async fn card_message(stage: &Stage, card_id: i64) -> ChatMessage {
    let group = stage.group();
    stage
        .telegram
        .wait_until(WAIT, "the ticket card", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains(&format!("#{card_id}")))
        })
        .await
}

fn no_kaiten_429(stage: &Stage) {
    let refused = stage
        .kaiten
        .calls()
        .iter()
        .filter(|c| c.status == 429)
        .count();
    assert_eq!(
        refused, 0,
        "the adapter must pace itself under Kaiten's 5 requests/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_from_an_album_and_an_album_comment() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;

    let photos = [bytes(3, 5000), bytes(7, 7000)];
    let album = tg.send_album(
        group,
        ann,
        vec![
            Outgoing::photo(
                photos[0].clone(),
                Some("Касса не печатает чеки\nОшибка 0x17 после обновления"),
            ),
            Outgoing::photo(photos[1].clone(), None),
        ],
    );
    // /ticket on the second item takes the whole album.
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(album[1]));
    let card = kaiten
        .wait_until(WAIT, "the card with both photos", |k| {
            let card = k.cards().first().cloned()?;
            (k.files(card.id).len() == 2).then_some(card)
        })
        .await;
    assert_eq!(card.title, "Касса не печатает чеки");
    assert!(
        card.description.contains("Ошибка 0x17"),
        "{}",
        card.description
    );
    assert!(
        card.description.contains("Анна Смирнова"),
        "staff see the client: {}",
        card.description
    );
    assert_eq!(
        card.external_id.as_deref(),
        Some(format!("tg:{group}:{}", album[1]).as_str())
    );
    let files: Vec<Vec<u8>> = kaiten.files(card.id).into_iter().map(|f| f.bytes).collect();
    assert!(
        photos.iter().all(|p| files.contains(p)),
        "both photos reach Kaiten byte-exact"
    );

    let card_msg = card_message(&stage, card.id).await;
    assert_eq!(
        card_msg.reply_to,
        Some(album[1]),
        "the card answers the message it came from"
    );

    // An album replying to the card becomes one comment with all its files.
    let docs = [bytes(11, 3000), bytes(13, 4000), bytes(17, 100)];
    tg.send_album(
        group,
        ann,
        vec![
            Outgoing::document(
                "act.pdf",
                "application/pdf",
                docs[0].clone(),
                Some("Акт и логи"),
            )
            .reply_to(card_msg.message_id),
            Outgoing::document("log1.txt", "text/plain", docs[1].clone(), None)
                .reply_to(card_msg.message_id),
            Outgoing::document("log2.txt", "text/plain", docs[2].clone(), None)
                .reply_to(card_msg.message_id),
        ],
    );
    let comments = kaiten
        .wait_until(WAIT, "the album comment", |k| {
            let comments = k.comments(card.id);
            let files = k.files(card.id);
            (comments.len() == 1 && files.len() == 5).then_some(comments)
        })
        .await;
    assert!(comments[0].text.contains("Акт и логи"));
    for name in ["act.pdf", "log1.txt", "log2.txt"] {
        assert!(
            comments[0].text.contains(name),
            "the comment links {name}: {}",
            comments[0].text
        );
    }
    let stored: Vec<Vec<u8>> = kaiten.files(card.id).into_iter().map(|f| f.bytes).collect();
    assert!(docs.iter().all(|d| stored.contains(d)));

    // Plain chatter stays chatter.
    tg.send(group, ann, Outgoing::text("кто-нибудь видел мои ключи?"));
    tg.send(
        group,
        ann,
        Outgoing::text("ещё один комментарий").reply_to(card_msg.message_id),
    );
    kaiten
        .wait_until(WAIT, "the second comment", |k| {
            (k.comments(card.id).len() == 2).then_some(())
        })
        .await;
    assert!(
        kaiten
            .comments(card.id)
            .iter()
            .all(|c| !c.text.contains("ключи"))
    );
    no_kaiten_429(&stage);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_replies_status_and_assignee_reach_the_group_but_internal_notes_do_not() {
    let stage = Stage::new(1, "ru", "1s").await;
    // The chat's properties are written in the shape of each property's type.
    stage.set_chat_option(
        "ticket",
        "{ properties = { id_43 = \"Сеть\", id_44 = \"2026-07-16\" } }",
    );
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;

    tg.send(group, ann, Outgoing::text("/new Не работает VPN"));
    let prompt = tg
        .wait_until(WAIT, "the description prompt", |_| {
            bot_messages(&stage).first().map(|m| m.message_id)
        })
        .await;
    tg.press(group, prompt, ann, "new:skip");
    let files_prompt = tg
        .wait_until(WAIT, "the files prompt", |_| {
            bot_messages(&stage).get(1).map(|m| m.message_id)
        })
        .await;
    // Someone else's tap is refused; the owner's counts.
    let bob = tg.add_user("Bob", None, None);
    tg.add_member(group, bob);
    tg.press(group, files_prompt, bob, "new:done");
    tg.wait_until(WAIT, "the refusal", |t| {
        t.callback_answers()
            .iter()
            .any(|a| a.text.as_deref().is_some_and(|x| x.contains("не ваша")))
            .then_some(())
    })
    .await;
    assert!(kaiten.cards().is_empty());
    tg.press(group, files_prompt, ann, "new:done");
    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    assert_eq!(card.title, "Не работает VPN");
    assert_eq!(
        serde_json::Value::Object(card.properties.clone()),
        serde_json::json!({
            "id_43": [502],
            "id_44": {"date": "2026-07-16", "time": null, "tzOffset": null},
        })
    );
    let card_msg = card_message(&stage, card.id).await;
    assert!(card_msg.text.contains("Новая"), "{}", card_msg.text);

    // "message is not modified" on an edit is success, not an error.
    tg.inject_error(
        "editMessageText",
        1,
        FakeError::Api {
            code: 400,
            description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message".into(),
        },
    );
    kaiten.assign(card.id, "Иван Петров");
    tg.wait_until(WAIT, "the edit answered 'not modified'", |t| {
        t.calls()
            .iter()
            .any(|c| c.method.eq_ignore_ascii_case("editMessageText") && c.status == 400)
            .then_some(())
    })
    .await;
    kaiten.move_to_column(card.id, FakeKaiten::COLUMN_IN_PROGRESS);
    kaiten.internal_note(card.id, "Иван Петров", "Клиент должен нам за прошлый месяц");
    // Comments not known to be public stay in Kaiten: no `internal` flag (older payloads), a
    // comment kind teledesk does not know, Service Desk bookkeeping no user wrote.
    let ivan = kaiten.staff_user("Иван Петров");
    let mut unflagged = StaffComment::public(ivan, "Скидку согласуем отдельно");
    unflagged.internal = None;
    let mut odd_kind = StaffComment::public(ivan, "Служебная отметка");
    odd_kind.kind = 5;
    let mut bookkeeping = StaffComment::public(ivan, "Уведомление отправлено");
    bookkeeping.author = None;
    for comment in [unflagged, odd_kind, bookkeeping] {
        kaiten.staff_comment(card.id, comment);
    }
    kaiten.staff_reply(card.id, "Иван Петров", "Перезагрузите роутер, пожалуйста.");
    let reply = tg
        .wait_until(WAIT, "the staff reply", |t| {
            // The card shows the newest comments too, and may be edited before the reply is sent.
            t.messages(group).into_iter().find(|m| {
                m.from_bot
                    && m.message_id != card_msg.message_id
                    && m.text.contains("Перезагрузите роутер")
            })
        })
        .await;
    assert_eq!(
        reply.reply_to,
        Some(card_msg.message_id),
        "staff replies answer the card"
    );
    assert!(
        reply.text.contains("Иван Петров"),
        "signed with the staff name: {}",
        reply.text
    );
    let card_now = tg
        .wait_until(WAIT, "the card showing status and assignee", |t| {
            t.message(group, card_msg.message_id)
                .filter(|m| m.text.contains("В работе") && m.text.contains("Иван Петров"))
        })
        .await;
    assert!(
        card_now.text.contains("Перезагрузите роутер"),
        "last comments on the card: {}",
        card_now.text
    );

    // A colleague who never set a name signs with the login, never with "null".
    let nameless = kaiten.add_user(None, Some("n.petrov"));
    kaiten.staff_comment(card.id, StaffComment::public(nameless, "Проверим кабель."));
    let signed = tg
        .wait_until(WAIT, "the reply of the nameless colleague", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("Проверим кабель"))
        })
        .await;
    assert!(
        signed.text.contains("n.petrov") && !signed.text.contains("null"),
        "signed with the login: {}",
        signed.text
    );

    // The client answers the staff reply: that is a comment too.
    tg.send(
        group,
        ann,
        Outgoing::text("Перезагрузил, не помогло").reply_to(reply.message_id),
    );
    let answer = kaiten
        .wait_until(WAIT, "the client's answer", |k| {
            k.comments(card.id)
                .into_iter()
                .find(|c| c.text.contains("не помогло"))
        })
        .await;

    // Staff quote the client's comment as stored, teledesk's footer included, and answer below:
    // the reply is staff's (by its author), so it reaches the group signed by them.
    assert!(answer.text.contains("tg-key: "), "{}", answer.text);
    kaiten.staff_reply(
        card.id,
        "Иван Петров",
        &format!(
            "{}

Меняем роутер, курьер будет завтра.",
            answer.text
        ),
    );
    let quoting = tg
        .wait_until(WAIT, "the staff reply quoting the client", |t| {
            t.messages(group).into_iter().find(|m| {
                m.from_bot
                    && m.message_id != card_msg.message_id
                    && m.text.contains("курьер будет завтра")
            })
        })
        .await;
    assert_eq!(quoting.reply_to, Some(card_msg.message_id));
    assert!(
        quoting.text.contains("Иван Петров"),
        "signed with the staff name: {}",
        quoting.text
    );
    let card_quoting = tg
        .wait_until(WAIT, "the card showing the quoting reply", |t| {
            t.message(group, card_msg.message_id)
                .filter(|m| m.text.contains("курьер будет завтра"))
        })
        .await;
    let line = card_quoting
        .text
        .lines()
        .find(|l| l.contains("курьер будет завтра"))
        .unwrap_or_default();
    assert!(
        line.contains("Иван Петров"),
        "the card attributes the reply to staff, not to the client it quotes: {line}"
    );

    kaiten.set_property(
        card.id,
        teledesk::demo::RESOLUTION_PROPERTY,
        serde_json::json!("Заменили роутер"),
    );
    kaiten.move_to_column(card.id, FakeKaiten::COLUMN_DONE);
    tg.wait_until(WAIT, "the closed card", |t| {
        t.message(group, card_msg.message_id)
            .filter(|m| m.text.contains("Закрыта") && m.text.contains("Заменили роутер"))
    })
    .await;

    for hidden in [
        "прошлый месяц",
        "Скидку согласуем",
        "Служебная отметка",
        "Уведомление отправлено",
    ] {
        assert!(
            tg.messages(group).iter().all(|m| !m.text.contains(hidden)),
            "{hidden:?} is not known to be public and never reaches Telegram"
        );
    }
    // The card changed many times but edits are coalesced and paced.
    let edits = tg
        .calls()
        .iter()
        .filter(|c| {
            c.method.eq_ignore_ascii_case("editMessageText")
                && c.params["message_id"] == card_msg.message_id
        })
        .count();
    assert!(edits <= 8, "{edits} edits for 8 changes");
    assert_eq!(
        tg.calls().iter().filter(|c| c.status == 429).count(),
        0,
        "Telegram's limits respected"
    );
    assert_eq!(daemon.queues().dead, 0);
    no_kaiten_429(&stage);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kaiten_outage_queues_work_and_drains_it_later() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;

    kaiten.set_outage(true);
    let source = tg.send(group, ann, Outgoing::text("Сервер 1С недоступен"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    tg.wait_until(WAIT, "the 'helpdesk unavailable' notice", |_| {
        bot_messages(&stage)
            .iter()
            .any(|m| m.text.contains("недоступна"))
            .then_some(())
    })
    .await;
    for i in 0..3 {
        tg.send(
            group,
            ann,
            Outgoing::text(&format!("дополнение {i}")).reply_to(source),
        );
    }
    // A few failed attempts later, the outage ends.
    kaiten
        .wait_until(WAIT, "several refused attempts", |k| {
            (k.calls().iter().filter(|c| c.status == 503).count() >= 2).then_some(())
        })
        .await;
    kaiten.set_outage(false);
    let card = kaiten
        .wait_until(WAIT, "the card after the outage", |k| {
            k.cards().first().cloned()
        })
        .await;
    let comments = kaiten
        .wait_until(WAIT, "the queued comments", |k| {
            let comments = k.comments(card.id);
            (comments.len() == 3).then_some(comments)
        })
        .await;
    for (i, comment) in comments.iter().enumerate() {
        assert!(
            comment.text.contains(&format!("дополнение {i}")),
            "in order: {}",
            comment.text
        );
    }
    card_message(&stage, card.id).await;
    let notices = bot_messages(&stage)
        .iter()
        .filter(|m| m.text.contains("недоступна"))
        .count();
    assert_eq!(notices, 1, "the client is told once");
    assert_eq!(kaiten.cards().len(), 1);
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_updates_and_unconfigured_chats_are_skipped_without_loss() {
    let stage = Stage::new(1, "en", "0s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let stranger_group = tg.add_supergroup("Not configured");
    tg.add_member(stranger_group, ann);
    let daemon = stage.start(Options::default()).await;

    tg.push_raw_update(serde_json::json!({
        "business_message_2031": {"message_id": 1, "date": 1_800_000_000, "chat": {"id": group, "type": "supergroup"}}
    }));
    tg.push_raw_update(serde_json::json!({
        "message": {"message_id": 99_999, "date": 1_800_000_000, "chat": {"id": group, "type": "supergroup", "title": "x"},
            "from": {"id": ann, "is_bot": false, "first_name": "Anna"}, "poll_2031": {"question": "?"}}
    }));
    let foreign = tg.send(stranger_group, ann, Outgoing::text("please help"));
    tg.send(
        stranger_group,
        ann,
        Outgoing::text("/ticket").reply_to(foreign),
    );
    let source = tg.send(group, ann, Outgoing::text("Mail does not sync"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));

    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    assert_eq!(card.title, "Mail does not sync");
    let card_msg = card_message(&stage, card.id).await;
    assert!(
        card_msg.text.contains("Ticket #") && card_msg.text.contains("New"),
        "English card: {}",
        card_msg.text
    );
    tg.wait_until(WAIT, "every update acknowledged", |t| {
        (t.unconfirmed_updates() == 0).then_some(())
    })
    .await;
    assert_eq!(
        kaiten.cards().len(),
        1,
        "nothing from the unconfigured chat"
    );
    assert!(
        tg.messages(stranger_group).iter().all(|m| !m.from_bot),
        "the bot stays silent there"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_flood_control_reschedules_by_retry_after() {
    let stage = Stage::new(1, "ru", "0s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;

    tg.inject_error(
        "sendMessage",
        1,
        FakeError::TooManyRequests { retry_after: 2 },
    );
    let source = tg.send(group, ann, Outgoing::text("Нет интернета в офисе"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    card_message(&stage, card.id).await;
    let sends: Vec<u16> = tg
        .calls()
        .iter()
        .filter(|c| c.method.eq_ignore_ascii_case("sendMessage"))
        .map(|c| c.status)
        .collect();
    assert_eq!(sends, [429, 200], "one refusal, then the same message once");
    assert_eq!(bot_messages(&stage).len(), 1);
    daemon.shutdown().await;
}

/// A 429 on a card edit holds the whole chat for its `retry_after`, not only that card: a staff
/// reply due there meanwhile waits too, while another chat's reply goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_a_card_edit_holds_its_chat_for_the_retry_after() {
    let stage = Stage::new(2, "ru", "1s").await;
    let (tg, kaiten, ann) = (&stage.telegram, &stage.kaiten, stage.client);
    let (held, other) = (stage.groups[0], stage.groups[1]);
    let daemon = stage.start(Options::default()).await;
    let mut cards = Vec::new();
    for (group, title) in [
        (held, "Не печатает принтер"),
        (other, "Не открывается почта"),
    ] {
        let source = tg.send(group, ann, Outgoing::text(title));
        tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
        let card = kaiten
            .wait_until(WAIT, "the card", |k| {
                k.cards().into_iter().find(|c| c.title == title)
            })
            .await;
        let message = tg
            .wait_until(WAIT, "the ticket card", |t| {
                t.messages(group)
                    .into_iter()
                    .find(|m| m.from_bot && m.text.contains(&format!("#{}", card.id)))
            })
            .await;
        cards.push((card.id, message.message_id));
    }
    let (held_card, held_message) = cards[0];

    tg.inject_error_at(
        "editMessageText",
        held,
        1,
        FakeError::TooManyRequests { retry_after: 10 },
    );
    kaiten.move_to_column(held_card, FakeKaiten::COLUMN_IN_PROGRESS);
    tg.wait_until(WAIT, "the card edit refused with a 429", |t| {
        t.calls()
            .iter()
            .any(|c| c.method.eq_ignore_ascii_case("editMessageText") && c.status == 429)
            .then_some(())
    })
    .await;
    // The held chat's reply is read (and queued) before the other chat's is even written.
    let comments = format!("/api/latest/cards/{held_card}/comments");
    let comment_reads = |k: &FakeKaiten| {
        k.calls()
            .iter()
            .filter(|c| c.method == "GET" && c.path == comments)
            .count()
    };
    let reads_before = comment_reads(kaiten);
    kaiten.staff_reply(held_card, "Иван Петров", "Принтер заменим сегодня.");
    kaiten
        .wait_until(WAIT, "the held chat's reply read", |k| {
            (comment_reads(k) > reads_before).then_some(())
        })
        .await;
    kaiten.staff_reply(cards[1].0, "Иван Петров", "Почту уже починили.");
    tg.wait_until(WAIT, "the other chat's reply", |t| {
        t.messages(other)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains("Почту уже починили"))
    })
    .await;
    // The reply's own message (the card shows the newest comments too, once edited).
    let shown = |t: &teledesk_testkit::telegram::FakeTelegram| {
        t.messages(held)
            .into_iter()
            .filter(|m| {
                m.from_bot && m.message_id != held_message && m.text.contains("Принтер заменим")
            })
            .count()
    };
    assert_eq!(
        shown(tg),
        0,
        "the held chat got its reply within the 429's retry_after"
    );

    // After the wait, the reply goes once and the card is edited, with no further 429.
    tg.wait_until(WAIT, "the held chat's reply", |t| {
        (shown(t) > 0).then_some(())
    })
    .await;
    tg.wait_until(WAIT, "the held chat's card edited", |t| {
        t.calls()
            .iter()
            .any(|c| {
                c.method.eq_ignore_ascii_case("editMessageText")
                    && c.status == 200
                    && c.params.get("chat_id").and_then(|v| v.as_i64()) == Some(held)
            })
            .then_some(())
    })
    .await;
    assert_eq!(shown(tg), 1);
    let refused: Vec<_> = tg.calls().into_iter().filter(|c| c.status == 429).collect();
    assert_eq!(refused.len(), 1, "only the injected 429: {refused:?}");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_before_a_restart_is_done_after_it() {
    let stage = Stage::new(1, "ru", "0s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    kaiten.set_outage(true);
    let daemon = stage
        .start(Options {
            grace: Duration::from_millis(100),
            ..Options::default()
        })
        .await;
    let source = tg.send(group, ann, Outgoing::text("Телефония молчит"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    tg.wait_until(WAIT, "updates taken", |t| {
        (t.unconfirmed_updates() == 0).then_some(())
    })
    .await;
    kaiten
        .wait_until(WAIT, "a refused attempt", |k| {
            k.calls().iter().any(|c| c.status == 503).then_some(())
        })
        .await;
    daemon.shutdown().await;
    assert!(kaiten.cards().is_empty());

    kaiten.set_outage(false);
    let daemon = stage.start(Options::default()).await;
    let card = kaiten
        .wait_until(WAIT, "the card after restart", |k| {
            k.cards().first().cloned()
        })
        .await;
    assert_eq!(card.title, "Телефония молчит");
    card_message(&stage, card.id).await;
    assert_eq!(kaiten.cards().len(), 1);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_reply_telegram_refuses_is_noted_for_staff() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(group, ann, Outgoing::text("Не работает сканер"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    card_message(&stage, card.id).await;

    // Telegram refuses the reply for good (the bot was removed from the group, say).
    tg.inject_error_at(
        "sendMessage",
        group,
        1,
        FakeError::Api {
            code: 403,
            description: "Forbidden: bot was kicked from the supergroup chat".into(),
        },
    );
    kaiten.staff_reply(card.id, "Иван Петров", "Сканер заменим завтра утром.");
    let note = kaiten
        .wait_until(WAIT, "the internal note about the lost reply", |k| {
            k.comments(card.id)
                .into_iter()
                .find(|c| c.internal && c.text.contains("не доставлен"))
        })
        .await;
    assert!(
        note.text.contains("Сканер заменим завтра утром"),
        "{}",
        note.text
    );
    assert!(note.text.contains("bot was kicked"), "{}", note.text);
    assert_eq!(
        daemon.queues().dead,
        1,
        "the reply waits in dead letters for a retry"
    );
    // The note is internal: nothing more reaches the chat.
    assert!(
        tg.messages(group)
            .iter()
            .all(|m| !m.text.contains("не доставлен")),
        "staff's problem is not shown to the client"
    );
    assert_eq!(
        kaiten
            .comments(card.id)
            .iter()
            .filter(|c| c.text.contains("не доставлен"))
            .count(),
        1
    );
    daemon.shutdown().await;
}

/// The bot's messages in the group after `after`, oldest first.
fn bot_messages_after(stage: &Stage, after: i32) -> Vec<ChatMessage> {
    bot_messages(stage)
        .into_iter()
        .filter(|m| m.message_id > after)
        .collect()
}

/// Waits until the bot's messages after `after` hold `count` copies of `ch`, and returns them.
async fn parts_holding(stage: &Stage, after: i32, ch: char, count: usize) -> Vec<ChatMessage> {
    let group = stage.group();
    stage
        .telegram
        .wait_until(WAIT, "every part of the long reply", |t| {
            let parts: Vec<ChatMessage> = t
                .messages(group)
                .into_iter()
                .filter(|m| m.from_bot && m.message_id > after && m.text.contains(ch))
                .collect();
            let seen: usize = parts.iter().map(|m| m.text.matches(ch).count()).sum();
            (seen >= count).then_some(parts)
        })
        .await
}

/// Telegram counts 4096 UTF-16 units after entity parsing: a staff reply is cut by that count,
/// not by characters or bytes, so it arrives whole, in as few messages as the limit allows, and
/// Telegram refuses none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_staff_replies_arrive_whole_in_as_few_messages_as_possible() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(group, ann, Outgoing::text("Длинные ответы"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    let card_msg = card_message(&stage, card.id).await;

    // 3,000 emoji are 6,000 units: two messages, the header in the first.
    kaiten.staff_reply(card.id, "Иван Петров", &"😀".repeat(3000));
    let parts = parts_holding(&stage, card_msg.message_id, '😀', 3000).await;
    assert_eq!(
        parts.len(),
        2,
        "6,000 units and a header fit in two messages"
    );
    assert!(
        parts[0].text.starts_with("💬 Иван Петров"),
        "{}",
        parts[0].text
    );
    let emoji: String = parts
        .iter()
        .map(|m| m.text.replace(|c| c != '😀', ""))
        .collect();
    assert_eq!(emoji, "😀".repeat(3000), "every emoji arrives, none torn");
    assert!(
        parts
            .iter()
            .all(|m| m.reply_to == Some(card_msg.message_id))
    );

    // Exactly 4,096 units of Cyrillic (a letter the header lacks): with the header that is two messages, and the body
    // arrives complete.
    let last = parts.last().map(|m| m.message_id).unwrap_or_default();
    let body = "щ".repeat(4096);
    kaiten.staff_reply(card.id, "Иван Петров", &body);
    let parts = parts_holding(&stage, last, 'щ', 4096).await;
    assert_eq!(parts.len(), 2);
    let letters: usize = parts.iter().map(|m| m.text.matches('щ').count()).sum();
    assert_eq!(letters, 4096);

    let refused: Vec<_> = tg
        .calls()
        .into_iter()
        .filter(|c| c.method.eq_ignore_ascii_case("sendMessage") && c.status == 400)
        .collect();
    assert!(refused.is_empty(), "Telegram refused: {refused:?}");
    // Nothing beyond those parts: no stray empty or repeated message.
    assert_eq!(
        bot_messages_after(&stage, card_msg.message_id)
            .iter()
            .filter(
                |m| !m.text.contains("Заявка") && (m.text.contains('😀') || m.text.contains('щ'))
            )
            .count(),
        4
    );
    // Threads are a forum's business; the fake ignores them elsewhere, as Telegram does, so the
    // daemon must not lean on them.
    assert!(
        tg.calls()
            .iter()
            .all(|c| c.params.get("message_thread_id").is_none()),
        "no message_thread_id outside forums"
    );
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// A staff reply whose quoted message is gone goes out once, without the quote, even from a
/// server that refuses the quote instead of dropping it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_deleted_message_goes_out_once_without_the_quote() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let source = tg.send(group, ann, Outgoing::text("Не открывается почта"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    card_message(&stage, card.id).await;

    // Aimed at the group: the bot may still be writing to someone privately.
    tg.inject_error_at(
        "sendMessage",
        group,
        1,
        FakeError::Api {
            code: 400,
            description: "Bad Request: message to be replied not found".into(),
        },
    );
    kaiten.staff_reply(card.id, "Иван Петров", "Почту починили.");
    let reply = tg
        .wait_until(WAIT, "the staff reply", |t| {
            t.messages(group).into_iter().find(|m| {
                m.from_bot && m.text.starts_with("💬") && m.text.contains("Почту починили")
            })
        })
        .await;
    assert_eq!(reply.reply_to, None, "sent without the quote");

    // A client deletes the message the next reply would quote: Telegram drops the quote
    // because the daemon allows it to.
    let card_msg = card_message(&stage, card.id).await;
    tg.delete_message(group, card_msg.message_id);
    kaiten.staff_reply(card.id, "Иван Петров", "Проверьте ещё раз.");
    // The staff reply itself (💬), not the card, which quotes the newest comments too.
    tg.wait_until(WAIT, "the second reply", |t| {
        t.messages(group).into_iter().find(|m| {
            m.from_bot && m.text.starts_with("💬") && m.text.contains("Проверьте ещё раз")
        })
    })
    .await;
    for text in ["Почту починили", "Проверьте ещё раз"] {
        let copies = bot_messages(&stage)
            .iter()
            .filter(|m| m.text.starts_with("💬") && m.text.contains(text))
            .count();
        assert_eq!(copies, 1, "{text}: delivered once (the card quotes it too)");
    }
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// The bot's message in the group answering `to`, once sent.
async fn bot_reply_to(stage: &Stage, to: i32, what: &str) -> ChatMessage {
    let group = stage.group();
    stage
        .telegram
        .wait_until(WAIT, what, |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.reply_to == Some(to))
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_the_chats_limits_are_left_out_and_the_client_is_told() {
    let stage = Stage::new(1, "en", "1s").await;
    stage.set_chat_option("files", "{ max_count = 2, max_total_size = \"10KB\" }");
    let (tg, kaiten, group, ann) = (&stage.telegram, &stage.kaiten, stage.group(), stage.client);
    let daemon = stage.start(Options::default()).await;
    let doc = |name: &str, seed: u8, len: usize, caption: Option<&str>| {
        Outgoing::document(name, "text/plain", bytes(seed, len), caption)
    };

    // `/ticket` on an album of three: the first two fit.
    let album = tg.send_album(
        group,
        ann,
        vec![
            doc("a.txt", 3, 3000, Some("Printer jams")),
            doc("b.txt", 5, 4000, None),
            doc("c.txt", 7, 2000, None),
        ],
    );
    let command = tg.send(group, ann, Outgoing::text("/ticket").reply_to(album[0]));
    let told = bot_reply_to(&stage, command, "the note on the files left out").await;
    assert!(
        told.text.contains(
            "Files left out of the ticket: 1. One ticket takes at most 2 files and 10 KB"
        ),
        "{}",
        told.text
    );
    let card = kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    let names =
        |card: i64| -> Vec<String> { kaiten.files(card).into_iter().map(|f| f.name).collect() };
    // The card is posted once the creation job, files included, is done.
    let card_msg = card_message(&stage, card.id).await;
    assert_eq!(names(card.id), ["a.txt", "b.txt"]);

    // An album comment: 3000 + 4000 bytes fit in 10 KB, 5000 more do not.
    let comment = tg.send_album(
        group,
        ann,
        vec![
            doc("d.txt", 11, 3000, Some("Logs")).reply_to(card_msg.message_id),
            doc("e.txt", 13, 4000, None).reply_to(card_msg.message_id),
            doc("f.txt", 17, 5000, None).reply_to(card_msg.message_id),
        ],
    );
    let told = bot_reply_to(&stage, comment[2], "the note on the comment's files").await;
    assert!(
        told.text
            .contains("Files over the limit were not passed on"),
        "{}",
        told.text
    );
    kaiten
        .wait_until(WAIT, "the comment", |k| {
            (k.comments(card.id).len() == 1).then_some(())
        })
        .await;
    assert_eq!(names(card.id), ["a.txt", "b.txt", "d.txt", "e.txt"]);
    // A single file larger than the limit: its text still goes, the file does not.
    let big = tg.send(
        group,
        ann,
        doc("g.txt", 19, 11 * 1024, Some("One more thing")).reply_to(card_msg.message_id),
    );
    bot_reply_to(&stage, big, "the note on the big file").await;
    let comments = kaiten
        .wait_until(WAIT, "the second comment", |k| {
            let comments = k.comments(card.id);
            (comments.len() == 2).then_some(comments)
        })
        .await;
    assert!(comments[1].text.contains("One more thing"));
    assert_eq!(kaiten.files(card.id).len(), 4);
    daemon.shutdown().await;
}
