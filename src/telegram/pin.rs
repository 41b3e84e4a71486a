//! `teledesk pin`: the pinned «Новая заявка» post of a client chat. Its button opens the Mini App
//! form for that chat when one is configured (`server.mini_app`), else a private `/new` dialogue
//! with the bot; either link carries a signed chat token, so a client can file a ticket without
//! knowing any command. Running it again refreshes the same post instead of pinning a second one.

use super::chat_token;
use super::client::{TelegramClient, TgError};
use super::texts::Lang;
use crate::model::{Button, Keyboard};
use teledesk_adapter::Secret;

/// What `pin` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinned {
    /// A new post was sent and pinned.
    Created(i32),
    /// The post pinned earlier was brought up to date.
    Refreshed(i32),
}

/// The link the post's button opens: the Mini App's direct link (`startapp`), or a deep link
/// into a private dialogue with the bot (`start`).
pub fn new_ticket_link(
    bot_username: &str,
    bot_token: &Secret,
    mini_app: Option<&str>,
    chat_id: i64,
) -> String {
    let token = chat_token::sign(bot_token, chat_id);
    match mini_app {
        Some(app) => format!("https://t.me/{bot_username}/{app}?startapp={token}"),
        None => format!("https://t.me/{bot_username}?start=new_{token}"),
    }
}

/// Creates or refreshes the pinned «Новая заявка» post in `chat_id`.
pub async fn pin_new_ticket_post(
    telegram: &TelegramClient,
    bot_token: &Secret,
    mini_app: Option<&str>,
    lang: Lang,
    chat_id: i64,
) -> Result<Pinned, TgError> {
    let me = telegram.get_me().await?;
    let link = new_ticket_link(&me.username, bot_token, mini_app, chat_id);
    let keyboard = Keyboard {
        rows: vec![vec![Button::link(lang.button_new_ticket(), link)]],
    };
    if let Some(pinned) = telegram.pinned_message(chat_id).await?
        && is_ours(&pinned, me.id, chat_id)
        && let Some(id) = pinned["message_id"].as_i64()
    {
        let id = id as i32;
        telegram
            .edit_html(
                chat_id,
                id,
                lang.pin_text(mini_app.is_some()),
                Some(&keyboard),
            )
            .await?;
        return Ok(Pinned::Refreshed(id));
    }
    let id = telegram
        .send_html(
            chat_id,
            lang.pin_text(mini_app.is_some()),
            None,
            Some(&keyboard),
        )
        .await?;
    telegram.pin(chat_id, id).await?;
    Ok(Pinned::Created(id))
}

/// Whether a pinned message is an earlier «Новая заявка» post of this bot: sent by the bot (in a
/// channel: by the channel, as the bot's posts are) with a `start=new_` or `startapp=` button.
fn is_ours(pinned: &serde_json::Value, bot_id: i64, chat_id: i64) -> bool {
    let by_bot = pinned["from"]["id"].as_i64() == Some(bot_id)
        || (pinned["from"].is_null() && pinned["sender_chat"]["id"].as_i64() == Some(chat_id));
    let has_button = pinned["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .any(|b| {
            b["url"]
                .as_str()
                .is_some_and(|u| u.contains("start=new_") || u.contains("startapp="))
        });
    by_bot && has_button
}
