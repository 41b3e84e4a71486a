//! The pinned «Новая заявка» post (`teledesk pin`, the real binary) and the private `/new`
//! dialogue its button opens: a ticket for the chat the signed link names, for members only.

use std::process::Command;
use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::Outgoing;

const WAIT: Duration = Duration::from_secs(60);

fn pin(stage: &Stage, chat: i64) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .args(["pin", "--config"])
        .arg(&stage.config_path)
        .args(["--chat", &chat.to_string()])
        .output()
        .expect("run teledesk pin");
    assert!(
        output.status.success(),
        "teledesk pin failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinned_link_opens_a_private_dialogue_for_members_only() {
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);

    let first = pin(&stage, group);
    assert!(first.contains("pinned a new"), "{first}");
    let pinned = tg.pinned(group).expect("a pinned post");
    let again = pin(&stage, group);
    assert!(again.contains("refreshed"), "{again}");
    assert_eq!(
        tg.pinned(group),
        Some(pinned),
        "the same post is refreshed, not a second one"
    );
    let post = tg.message(group, pinned).expect("the post");
    assert!(post.text.contains("Новая заявка"), "{}", post.text);
    let url = post.reply_markup.as_ref().expect("a button")["inline_keyboard"][0][0]["url"]
        .as_str()
        .expect("a link button")
        .to_owned();
    let payload = url
        .split("start=")
        .nth(1)
        .expect("a /start payload")
        .to_owned();
    assert!(payload.starts_with("new_"), "{url}");

    let daemon = stage.start(Options::default()).await;
    // Someone who is not in the chat gets nothing out of the link.
    let eve = tg.add_user("Ева", None, Some("eve_outsider"));
    tg.set_can_dm(eve, true);
    tg.send(eve, eve, Outgoing::text(&format!("/start {payload}")));
    tg.wait_until(WAIT, "the refusal", |t| {
        t.messages(eve)
            .iter()
            .any(|m| m.from_bot && m.text.contains("только участники"))
            .then_some(())
    })
    .await;
    // A forged token is refused too.
    tg.send(
        eve,
        eve,
        Outgoing::text("/start new_n1001_0011223344556677"),
    );
    tg.wait_until(WAIT, "the invalid-link answer", |t| {
        t.messages(eve)
            .iter()
            .any(|m| m.from_bot && m.text.contains("недействительна"))
            .then_some(())
    })
    .await;

    // A member files a ticket privately; it belongs to the group.
    tg.set_can_dm(ann, true);
    tg.send(ann, ann, Outgoing::text(&format!("/start {payload}")));
    let bot_says = |n: usize| {
        let tg = tg.clone();
        async move {
            tg.wait_until(WAIT, "the bot's next prompt", move |t| {
                let bots: Vec<i32> = t
                    .messages(ann)
                    .iter()
                    .filter(|m| m.from_bot)
                    .map(|m| m.message_id)
                    .collect();
                (bots.len() >= n).then_some(())
            })
            .await
        }
    };
    bot_says(1).await;
    tg.send(ann, ann, Outgoing::text("Не сканирует МФУ"));
    bot_says(2).await;
    tg.send(
        ann,
        ann,
        Outgoing::text("Сканирование в PDF падает с ошибкой"),
    );
    bot_says(3).await;
    tg.send(ann, ann, Outgoing::text("/done"));
    let card = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    assert_eq!(card.title, "Не сканирует МФУ");
    assert!(
        card.description.contains("Сканирование в PDF"),
        "{}",
        card.description
    );
    tg.wait_until(WAIT, "the card in the group", |t| {
        t.messages(group)
            .iter()
            .any(|m| m.from_bot && m.text.contains(&format!("#{}", card.id)))
            .then_some(())
    })
    .await;
    assert_eq!(stage.kaiten.cards().len(), 1, "the outsider filed nothing");
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_typed_in_private_offers_the_users_chats_and_files_for_the_chosen_one() {
    let stage = Stage::new(2, "ru", "1s").await;
    let (tg, ann) = (&stage.telegram, stage.client);
    let branch = stage.groups[1];
    let daemon = stage.start(Options::default()).await;

    let eve = tg.add_user("Ева", None, Some("eve_outsider"));
    tg.set_can_dm(eve, true);
    tg.send(eve, eve, Outgoing::text("/new"));
    tg.wait_until(WAIT, "the no-chat answer", |t| {
        t.messages(eve)
            .iter()
            .any(|m| m.from_bot && m.text.contains("не состоите"))
            .then_some(())
    })
    .await;

    tg.set_can_dm(ann, true);
    tg.send(ann, ann, Outgoing::text("/new"));
    let choice = tg
        .wait_until(WAIT, "the choice of chats", |t| {
            t.messages(ann)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("Для какой компании"))
        })
        .await;
    let markup = choice.reply_markup.clone().expect("buttons");
    let buttons: Vec<(String, String)> = markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row.get(0))
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(buttons.len(), 2, "{buttons:?}");
    let (_, data) = buttons
        .iter()
        .find(|(label, _)| label.contains("branch"))
        .expect("the branch chat");
    tg.press(ann, choice.message_id, ann, data);
    let bots = |n: usize| {
        let tg = tg.clone();
        async move {
            tg.wait_until(WAIT, "the bot's next prompt", move |t| {
                (t.messages(ann).iter().filter(|m| m.from_bot).count() >= n).then_some(())
            })
            .await
        }
    };
    bots(2).await;
    tg.send(ann, ann, Outgoing::text("Нет доступа к 1С в филиале"));
    bots(3).await;
    tg.send(ann, ann, Outgoing::text("С утра ошибка лицензии"));
    bots(4).await;
    tg.send(ann, ann, Outgoing::text("/done"));
    let card = stage
        .kaiten
        .wait_until(WAIT, "the card", |k| k.cards().first().cloned())
        .await;
    assert_eq!(card.title, "Нет доступа к 1С в филиале");
    tg.wait_until(WAIT, "the card in the chosen chat", |t| {
        t.messages(branch)
            .iter()
            .any(|m| m.from_bot && m.text.contains(&format!("#{}", card.id)))
            .then_some(())
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_mini_app_the_pinned_button_opens_the_form_for_that_chat() {
    let stage = Stage::channel("ru", "1s").await;
    let channel = stage.channel.expect("a channel stage");
    let text = std::fs::read_to_string(&stage.config_path)
        .unwrap()
        .replace(
            "[server]\n",
            "[server]\npublic_url = \"https://desk.example.com\"\nmini_app = \"desk\"\n",
        );
    std::fs::write(&stage.config_path, text).unwrap();

    let first = pin(&stage, channel);
    assert!(first.contains("pinned a new"), "{first}");
    let post = stage
        .telegram
        .message(
            channel,
            stage.telegram.pinned(channel).expect("a pinned post"),
        )
        .expect("the post");
    assert!(post.text.contains("заполните форму"), "{}", post.text);
    let url = post.reply_markup.as_ref().expect("a button")["inline_keyboard"][0][0]["url"]
        .as_str()
        .expect("a link button")
        .to_owned();
    let prefix = format!(
        "https://t.me/{}/desk?startapp=",
        stage.telegram.bot_username()
    );
    let token = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
    let key = teledesk_adapter::Secret::new(stage.telegram.token());
    assert_eq!(
        teledesk::telegram::chat_token::verify(&key, token),
        Some(channel),
        "the start parameter names the channel, signed"
    );
    // Running it again refreshes that post rather than pinning another.
    assert!(pin(&stage, channel).contains("refreshed"));
}
