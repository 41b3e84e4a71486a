//! The demo's Mini App scene: the pinned «Новая заявка» post opens the app from the channel, and
//! the form goes to the daemon's HTTP API exactly as the page sends it (launch data signed by the
//! fake Telegram, multipart with a file, then polling until the post is in the channel). The
//! browser itself is exercised by `tests/miniapp.rs`.

use super::{STEP, Stage, print_chat, say, wait_for};
use crate::daemon::Options;
use crate::telegram::{chat_token, client::TelegramClient, pin};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use teledesk_adapter::Secret;

const SHORT_NAME: &str = "desk";

pub async fn mini_app_scene(lang: &str) -> Result<(), String> {
    let en = lang == "en";
    say("\n\n######## Mini App ########");
    say("The channel's pinned «Новая заявка» post opens teledesk's own form inside Telegram.\n");
    let stage = Stage::channel(lang, "1s").await;
    stage.set_chat_option("companies", r#"["Acme Moscow", "Acme Kazan"]"#);
    let tg = &stage.telegram;
    let channel = stage.channel.ok_or("no channel")?;
    let daemon = stage.start(Options::default()).await;
    let addr = daemon.http_addr().ok_or("the daemon serves no HTTP")?;
    let bot_token = Secret::new(tg.token());

    say("== 1. `teledesk pin` posts and pins the button that opens the app ==");
    let client = TelegramClient::new(&tg.api_url(), &bot_token).map_err(|e| e.to_string())?;
    pin::pin_new_ticket_post(
        &client,
        &bot_token,
        Some(SHORT_NAME),
        if en {
            crate::telegram::texts::Lang::En
        } else {
            crate::telegram::texts::Lang::Ru
        },
        channel,
    )
    .await
    .map_err(|e| format!("pin: {e}"))?;
    print_chat(&stage, channel, "the channel");

    say("\n== 2. The client fills in the form (company, subject, description, a screenshot) ==");
    let token = chat_token::sign(&bot_token, channel);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let init_data = tg.mini_app_init_data(stage.client, &token, now);
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/app");
    let get = |path: String| {
        let request = http
            .get(format!("{base}{path}"))
            .header("Authorization", format!("tma {init_data}"));
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            response.json::<Value>().await.map_err(|e| e.to_string())
        }
    };
    let session = get("/session".into()).await?;
    say(&format!(
        "app session: chat «{}», companies {}, notifications: {}",
        session["chat"]["title"].as_str().unwrap_or("?"),
        session["companies"],
        session["notifications"].as_str().unwrap_or("?"),
    ));
    let (subject, description) = if en {
        (
            "The label printer jams",
            "Every third label jams; photo attached.",
        )
    } else {
        (
            "Зажёвывает этикетки принтер",
            "Каждая третья этикетка застревает, фото приложила.",
        )
    };
    let submission_id = "d3m0f0rm-0000-4000-8000-000000000001";
    let screenshot = Part::bytes(super::demo_photo())
        .file_name("printer.jpg")
        .mime_str("image/jpeg")
        .map_err(|e| e.to_string())?;
    let form = Form::new()
        .text("submission_id", submission_id)
        .text("company", "Acme Kazan")
        .text("subject", subject)
        .text("description", description)
        .part("files", screenshot);
    let response = http
        .post(format!("{base}/tickets"))
        .header("Authorization", format!("tma {init_data}"))
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    say(&format!(
        "«Отправить» → HTTP {}",
        response.status().as_u16()
    ));
    if response.status() != reqwest::StatusCode::ACCEPTED {
        return Err(format!(
            "the form was refused: {}",
            response.text().await.unwrap_or_default()
        ));
    }

    say("\n== 3. The app waits for the post, then shows «Задача успешно создана» ==");
    let mut posted = Value::Null;
    let deadline = tokio::time::Instant::now() + STEP;
    while tokio::time::Instant::now() < deadline {
        posted = get(format!("/submissions/{submission_id}")).await?;
        if posted["state"] == "posted" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    if posted["state"] != "posted" {
        return Err(format!("the submission was never posted: {posted}"));
    }
    let number = posted["ticket"]["number"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    say(&format!(
        "Задача успешно создана: #{number} — «Открыть заявку» → {}",
        posted["ticket"]["url"].as_str().unwrap_or("(no link)")
    ));
    print_chat(&stage, channel, "the channel");
    let card = wait_for("the ticket in the helpdesk", || {
        stage
            .kaiten
            .cards()
            .into_iter()
            .find(|c| c.title.contains(subject))
    })
    .await?;
    say(&format!(
        "--- what staff see in kaiten ---\n    {}",
        card.title
    ));
    for line in card.description.lines().filter(|l| !l.trim().is_empty()) {
        say(&format!("    {line}"));
    }
    for file in stage.kaiten.files(card.id) {
        say(&format!("    📎 {}", file.name));
    }

    say("\n== 4. The app's lists: «Открытые заявки» ==");
    let open = get("/tickets?scope=open".into()).await?;
    for row in open["tickets"].as_array().into_iter().flatten() {
        say(&format!(
            "#{} {} — {}",
            row["number"].as_str().unwrap_or("…"),
            row["subject"].as_str().unwrap_or(""),
            row["status_label"].as_str().unwrap_or("")
        ));
    }
    let ok = card.description.contains("Acme Kazan") && stage.kaiten.files(card.id).len() == 1;
    say(&format!(
        "\nchecks: one ticket with the company and the file: {}",
        super::yes(ok)
    ));
    daemon.shutdown().await;
    if !ok {
        return Err("the Mini App ticket is not what the client filed".into());
    }
    Ok(())
}
