//! The demo's intake scene (issue 14.1): a chat that asks, as a client portal's form does, for
//! the category and a contract number; the private `/new` dialogue with buttons, a wrong answer
//! retried, and the values landing in Kaiten's own card properties.

use super::{STEP, Stage, print_chat, say};
use crate::daemon::Options;
use teledesk_testkit::kaiten::FakeKaiten;
use teledesk_testkit::telegram::{FakeTelegram, Outgoing};

pub async fn intake_scene(lang: &str) -> Result<(), String> {
    let en = lang == "en";
    say("\n\n######## Intake fields ########");
    say("The chat asks for a category and a contract number, like a client portal's form.\n");
    let stage = Stage::new(1, lang, "1s").await;
    let tg = &stage.telegram;
    let ann = stage.client;
    let contract = stage.kaiten.add_property("№ договора", "string", false);
    let form = format!(
        r#"
[[chats.categories]]
id = "network"
label = "{network}"
ticket = {{ service_id = 11 }}

[[chats.categories]]
id = "billing"
label = "{billing}"
ticket = {{ service_id = 12 }}

[[chats.fields]]
id = "contract"
label = "{contract_label}"
type = "contract"
pattern = '\d{{2}}-\d{{4}}'
example = "12-3456"
required = true
target = "properties.id_{contract}"

[[chats.fields]]
id = "area"
label = "{area}"
type = "choice"
target = "properties.id_{select}"
choices = [{{ id = "Сеть", label = "{net}" }}, {{ id = "1С", label = "1C" }}]
"#,
        network = if en { "Internet" } else { "Интернет" },
        billing = if en { "Billing" } else { "Оплата" },
        contract_label = if en {
            "Contract no."
        } else {
            "№ договора"
        },
        area = if en { "Area" } else { "Направление" },
        net = if en { "Network" } else { "Сеть" },
        select = FakeKaiten::PROPERTY_SELECT,
    );
    let mut text = std::fs::read_to_string(&stage.config_path).map_err(|e| e.to_string())?;
    text.push_str(&form);
    std::fs::write(&stage.config_path, text).map_err(|e| e.to_string())?;
    let daemon = stage.start(Options::default()).await;
    tg.set_can_dm(ann, true);

    say(
        "== 1. /new in the private chat: a category button, a contract number (a wrong one first), a choice ==",
    );
    tg.send(ann, ann, Outgoing::text("/new"));
    press_button(tg, ann, 1, 0).await?;
    bot_message(tg, ann, 2).await?;
    tg.send(ann, ann, Outgoing::text("123456"));
    bot_message(tg, ann, 3).await?;
    tg.send(ann, ann, Outgoing::text("12-3456"));
    press_button(tg, ann, 4, 0).await?;
    bot_message(tg, ann, 5).await?;
    tg.send(
        ann,
        ann,
        Outgoing::text(if en {
            "No internet in the office"
        } else {
            "Нет интернета в офисе"
        }),
    );
    bot_message(tg, ann, 6).await?;
    tg.send(
        ann,
        ann,
        Outgoing::text(if en {
            "Since 9 am, all floors"
        } else {
            "С 9 утра, все этажи"
        }),
    );
    bot_message(tg, ann, 7).await?;
    tg.send(ann, ann, Outgoing::text("/done"));
    print_chat(&stage, ann, "the private chat with the bot");

    let card = stage
        .kaiten
        .wait_until(STEP, "the card with its properties", |k| {
            k.cards().into_iter().find(|c| c.service_id.is_some())
        })
        .await;
    say("\n--- what staff see in Kaiten ---");
    say(&format!("card #{}: {}", card.id, card.title));
    say(&format!("service (the category): {:?}", card.service_id));
    let mut properties: Vec<_> = card.properties.iter().collect();
    properties.sort_by_key(|(key, _)| key.as_str());
    for (key, value) in properties {
        say(&format!("property {key}: {value}"));
    }
    let written = card.properties.get(&format!("id_{contract}")) == Some(&"12-3456".into());
    say(&format!(
        "\ncontract number written to Kaiten's own property: {}",
        if written { "yes" } else { "NO" }
    ));
    daemon.shutdown().await;
    if !written {
        return Err("the contract number did not reach the card's property".into());
    }
    Ok(())
}

/// The bot's `nth` message (1-based) in the chat.
async fn bot_message(
    tg: &FakeTelegram,
    chat: i64,
    nth: usize,
) -> Result<teledesk_testkit::telegram::ChatMessage, String> {
    Ok(tg
        .wait_until(STEP, "the bot's next message", |t| {
            t.messages(chat)
                .into_iter()
                .filter(|m| m.from_bot)
                .nth(nth - 1)
        })
        .await)
}

/// Presses the `index`-th button of the bot's `nth` message.
async fn press_button(
    tg: &FakeTelegram,
    chat: i64,
    nth: usize,
    index: usize,
) -> Result<(), String> {
    let message = bot_message(tg, chat, nth).await?;
    let data = message
        .reply_markup
        .as_ref()
        .and_then(|m| m["inline_keyboard"][index][0]["callback_data"].as_str())
        .ok_or("a prompt without its buttons")?
        .to_owned();
    tg.press(chat, message.message_id, chat, &data);
    Ok(())
}
