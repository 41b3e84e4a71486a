//! The sync logic: what an update or a helpdesk change means, and what must happen because of it.
//!
//! Everything here is free of network I/O: functions read the stored state through a store
//! transaction and write the new state and the work to do (helpdesk jobs, Telegram sends) into the
//! same transaction, so an update's effects are recorded atomically with its removal from the
//! inbox. The loops in `daemon` execute that work.

pub mod dialogue;
pub mod group;
pub mod sync;

use crate::model::{Outgoing, SendAction};
use crate::store::{Result, Tx};
use crate::telegram::texts::Lang;
use crate::telegram::wire::Update;
use std::collections::HashMap;
use time::OffsetDateTime;

/// How long album items keep arriving after the first one; a comment waits this long for the rest.
pub const ALBUM_WINDOW: time::Duration = time::Duration::seconds(2);

/// One configured chat, as the engine needs it.
#[derive(Clone, Debug)]
pub struct ChatSettings {
    pub id: i64,
    pub helpdesk: String,
    /// The client company, shown to staff.
    pub name: String,
    /// Branches the requester picks from, for chains.
    pub companies: Vec<String>,
}

/// What the engine needs to know about the deployment.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bot_id: i64,
    pub bot_username: String,
    pub lang: Lang,
    pub chats: HashMap<i64, ChatSettings>,
}

/// What processing an update led to, so the daemon can wake the right loops and log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub jobs: bool,
    pub sends: bool,
    /// A human-readable note for the log when the update was skipped.
    pub skipped: Option<String>,
}

impl Outcome {
    fn skipped(reason: impl Into<String>) -> Self {
        Self {
            skipped: Some(reason.into()),
            ..Self::default()
        }
    }
}

/// Processes one raw update from the inbox.
pub fn process_update(
    tx: &mut Tx<'_>,
    settings: &Settings,
    raw: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let update: Update = match serde_json::from_value(raw.clone()) {
        Ok(update) => update,
        Err(error) => return Ok(Outcome::skipped(format!("unparseable update: {error}"))),
    };
    if let Some(message) = &update.message {
        return group::on_message(tx, settings, message, now);
    }
    if let Some(query) = &update.callback_query {
        return group::on_callback(tx, settings, query, now);
    }
    if update.edited_message.is_some() {
        // Edits after the fact would rewrite what staff already read; the helpdesk keeps the
        // original text.
        return Ok(Outcome::skipped("edited message (edits are not mirrored)"));
    }
    Ok(Outcome::skipped(format!(
        "update type `{}` is not handled",
        Update::kind(raw)
    )))
}

/// Queues a message to a chat.
pub(crate) fn send(
    tx: &mut Tx<'_>,
    chat_id: i64,
    action: SendAction,
    now: OffsetDateTime,
) -> Result<()> {
    tx.push_outgoing(&Outgoing {
        chat_id,
        action,
        attempts: 0,
        not_before: now,
    })?;
    Ok(())
}

/// Queues a plain HTML text, optionally as a reply.
pub(crate) fn say(
    tx: &mut Tx<'_>,
    chat_id: i64,
    reply_to: Option<i32>,
    html: impl Into<String>,
    now: OffsetDateTime,
) -> Result<()> {
    send(
        tx,
        chat_id,
        SendAction::Text {
            html: html.into(),
            reply_to,
            keyboard: None,
            ticket: None,
            dialogue_user: None,
        },
        now,
    )
}
