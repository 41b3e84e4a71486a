//! The sync logic: what an update or a helpdesk change means, and what must happen because of it.
//!
//! Everything here is free of network I/O: functions read the stored state through a store
//! transaction and write the new state and the work to do (helpdesk jobs, Telegram sends) into the
//! same transaction, so an update's effects are recorded atomically with its removal from the
//! inbox. The loops in `daemon` execute that work.

pub mod app;
pub mod channel;
pub mod dialogue;
pub mod expiry;
pub mod group;
pub mod lifecycle;
pub mod migration;
pub mod private;
pub mod search;
pub mod staff;
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
    /// The Telegram chat messages arrive in: the group, or a channel's discussion group.
    pub id: i64,
    /// The configured chat tickets belong to (their card or post is there): `id` itself, or the
    /// channel whose discussion group `id` is.
    pub ticket_chat: i64,
    pub mode: crate::config::ChatMode,
    pub helpdesk: String,
    /// The client company, shown to staff.
    pub name: String,
    /// Branches the requester picks from, for chains.
    pub companies: Vec<String>,
    /// What a comment on a done ticket does.
    pub on_closed_comment: crate::config::OnClosedComment,
    /// What one ticket or comment takes from a client.
    pub files: crate::config::FileLimits,
    /// Whose tickets its clients find.
    pub visibility: crate::config::Visibility,
    /// The category and extra fields a new ticket needs.
    pub intake: std::sync::Arc<crate::config::intake::IntakeConfig>,
}

/// What the engine needs to know about the deployment.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bot_id: i64,
    pub bot_username: String,
    pub lang: Lang,
    pub chats: HashMap<i64, ChatSettings>,
    /// Signs and verifies chat tokens (`/start new_<token>`): the bot token.
    pub chat_key: teledesk_adapter::Secret,
    /// `[telegram] admins`: who may ask for `/report`.
    pub admins: Vec<i64>,
}

impl Settings {
    /// The settings for a dialogue held in a private chat about a ticket for `target`: the
    /// target's, with the private chat as the chat messages arrive in.
    pub fn for_private_dialogue(&self, target: i64, private_chat: i64) -> Option<ChatSettings> {
        let mut chat = self.chats.get(&target)?.clone();
        chat.id = private_chat;
        Some(chat)
    }

    /// The settings of the chat a message arrived in: configured under this id, or under its
    /// other id when the group was upgraded to a supergroup (the config may name either).
    pub fn chat(&self, tx: &Tx<'_>, chat_id: i64) -> Result<Option<ChatSettings>> {
        if let Some(chat) = self.chats.get(&chat_id) {
            return Ok(Some(chat.clone()));
        }
        let Some(other) = tx.chat_alias(chat_id)? else {
            return Ok(None);
        };
        Ok(self.chats.get(&other).map(|chat| {
            let mut chat = chat.clone();
            if chat.ticket_chat == chat.id {
                chat.ticket_chat = chat_id;
            }
            chat.id = chat_id;
            chat
        }))
    }
}

/// What processing an update led to, so the daemon can wake the right loops and log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub jobs: bool,
    pub sends: bool,
    /// The update cannot be processed yet (it depends on something about to be recorded): leave
    /// it, and everything after it, in the inbox and try again shortly.
    pub defer: bool,
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

/// Facts about an update that only Telegram can tell, looked up by the daemon before the update
/// is processed (the engine does no I/O).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Whether the user acting on a ticket (pressing its rating/reopen button, sending feedback
    /// on it) is a member of the ticket's chat (`getChatMember`); `None` when no check was made.
    pub presser_is_member: Option<bool>,
    /// For `/new` typed in a private chat: the configured chats the user is a member of; for
    /// `/find` (and its buttons): those of the chats with `visibility = "chat"` or with tickets
    /// staff started.
    pub member_of: Vec<i64>,
    /// A membership the update depends on could not be asked: too many lookups for this user
    /// or chat lately. The user is told to try again; nothing else happens.
    pub membership_busy: bool,
}

/// The configured chats (channels, groups, forums; not the discussion groups found for channels)
/// a private `/new` may file a ticket for, when `raw` is such a `/new`; the chats whose tickets
/// their members find, when `raw` is a `/find` or one of its buttons: those whose `visibility`
/// is `chat`, and `staff_chats`, where staff started tickets for every member.
pub fn chats_to_offer(
    settings: &Settings,
    raw: &serde_json::Value,
    staff_chats: &[i64],
) -> Vec<i64> {
    let Ok(update) = serde_json::from_value::<Update>(raw.clone()) else {
        return Vec::new();
    };
    if let Some(query) = &update.callback_query
        && query
            .data
            .as_deref()
            .is_some_and(|d| private::find_request(d).is_some())
    {
        return chats_open_to_members(settings, staff_chats);
    }
    let Some(message) = update.message.filter(|m| m.chat.kind == "private") else {
        return Vec::new();
    };
    match crate::telegram::wire::command(message.body(), &settings.bot_username) {
        Some((name, _)) if name == "new" => {
            let mut chats: Vec<i64> = settings
                .chats
                .values()
                .filter(|c| c.id == c.ticket_chat)
                .map(|c| c.id)
                .collect();
            chats.sort_unstable();
            chats
        }
        Some((name, _)) if name == "find" => chats_open_to_members(settings, staff_chats),
        _ => Vec::new(),
    }
}

/// The chats whose tickets all their members may find (`visibility = "chat"`).
fn chats_open_to_members(settings: &Settings, staff_chats: &[i64]) -> Vec<i64> {
    let mut chats: Vec<i64> = settings
        .chats
        .values()
        .filter(|c| c.id == c.ticket_chat)
        .filter(|c| c.visibility == crate::config::Visibility::Chat || staff_chats.contains(&c.id))
        .map(|c| c.id)
        .collect();
    chats.sort_unstable();
    chats
}

/// The chat and user whose membership must be checked before `raw` is processed: rating and
/// reopening are for members of the ticket's chat only, whoever can see the button.
pub fn membership_to_check(
    tx: &Tx<'_>,
    settings: &Settings,
    raw: &serde_json::Value,
) -> Result<Option<(i64, i64)>> {
    let Ok(update) = serde_json::from_value::<Update>(raw.clone()) else {
        return Ok(None);
    };
    if let Some(message) = update.message.filter(|m| m.chat.kind == "private") {
        let Some(user) = &message.from else {
            return Ok(None);
        };
        return Ok(private::chat_concerned(tx, settings, &message)?.map(|chat| (chat, user.id)));
    }
    let Some(query) = update.callback_query else {
        return Ok(None);
    };
    if let Some(chat) = query.data.as_deref().and_then(private::chosen_chat) {
        return Ok(Some((chat, query.from.id)));
    }
    let Some(local) = query
        .data
        .as_deref()
        .and_then(lifecycle::ButtonAction::parse)
        .map(|action| action.ticket())
    else {
        return Ok(None);
    };
    Ok(tx.ticket(local)?.map(|link| (link.chat_id, query.from.id)))
}

/// Processes one raw update from the inbox.
pub fn process_update(
    tx: &mut Tx<'_>,
    settings: &Settings,
    raw: &serde_json::Value,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    if let Some(submission) = raw.get(app::PAYLOAD_FIELD) {
        return match serde_json::from_value(submission.clone()) {
            Ok(submission) => app::on_submission(tx, settings, &submission, now),
            Err(error) => Ok(Outcome::skipped(format!(
                "unreadable Mini App submission: {error}"
            ))),
        };
    }
    let update: Update = match serde_json::from_value(raw.clone()) {
        Ok(update) => update,
        Err(error) => return Ok(Outcome::skipped(format!("unparseable update: {error}"))),
    };
    if facts.membership_busy {
        return try_again_later(tx, settings, &update, now);
    }
    if let Some(message) = &update.message {
        if message.chat.kind == "private" {
            return private::on_message(tx, settings, message, facts, now);
        }
        return group::on_message(tx, settings, message, now);
    }
    if let Some(query) = &update.callback_query {
        if let Some(action) = query
            .data
            .as_deref()
            .and_then(lifecycle::ButtonAction::parse)
        {
            return lifecycle::on_button(tx, settings, query, action, facts, now);
        }
        if let Some(chat) = query.data.as_deref().and_then(private::chosen_chat) {
            return private::on_chat_chosen(tx, settings, query, chat, facts, now);
        }
        if let Some(request) = query.data.as_deref().and_then(private::find_request) {
            return private::on_find_button(tx, settings, query, &request, facts, now);
        }
        return group::on_callback(tx, settings, query, now);
    }
    if update.chat_member.is_some() {
        // Intake already told the Mini App's membership cache; nothing is stored.
        return Ok(Outcome::skipped("chat member update (read at intake)"));
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

/// Tells the user whose update needed a membership lookup over its limits to try again later.
fn try_again_later(
    tx: &mut Tx<'_>,
    settings: &Settings,
    update: &Update,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let text = settings.lang.too_many_requests();
    if let Some(query) = &update.callback_query {
        let chat = query.message.as_ref().map_or(query.from.id, |m| m.chat.id);
        send(
            tx,
            chat,
            SendAction::AnswerCallback {
                query_id: query.id.clone(),
                text: Some(text.to_owned()),
                alert: true,
            },
            now,
        )?;
    } else if let Some(message) = &update.message {
        say(tx, message.chat.id, Some(message.message_id), text, now)?;
    } else {
        return Ok(Outcome::skipped("membership lookups over their limit"));
    }
    Ok(Outcome {
        sends: true,
        skipped: Some("membership lookups over their limit; the user was told to wait".into()),
        ..Outcome::default()
    })
}

/// An [`Outcome`] that woke the sender.
pub(crate) fn sent() -> Outcome {
    Outcome {
        sends: true,
        ..Outcome::default()
    }
}

/// An [`Outcome`] that woke the runner (and the sender, which is harmless when idle).
pub(crate) fn queued() -> Outcome {
    Outcome {
        jobs: true,
        sends: true,
        ..Outcome::default()
    }
}

/// Queues a helpdesk job for a ticket, due now.
pub(crate) fn push_job(
    tx: &mut Tx<'_>,
    local: crate::model::LocalId,
    kind: crate::model::JobKind,
    now: OffsetDateTime,
) -> Result<()> {
    tx.push_job(
        local,
        &crate::model::Job {
            kind,
            attempts: 0,
            not_before: now,
            boot: 0,
            last_error: None,
            uncertain: false,
        },
    )?;
    Ok(())
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
        sent_parts: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn an_update_whose_membership_lookup_was_over_its_limit_is_told_to_wait() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let settings = Settings {
            bot_id: 1000,
            bot_username: "desk_bot".into(),
            lang: Lang::En,
            chats: HashMap::new(),
            chat_key: teledesk_adapter::Secret::new("1000:token".to_owned()),
            admins: Vec::new(),
        };
        let user = serde_json::json!({"id": 42, "is_bot": false, "first_name": "Eve"});
        let press = serde_json::json!({"update_id": 1, "callback_query": {"id": "q1",
            "from": user, "chat_instance": "c", "data": "rate:5:3",
            "message": {"message_id": 9, "date": 0, "chat": {"id": -100, "type": "supergroup"}}}});
        let typed = serde_json::json!({"update_id": 2, "message": {"message_id": 3, "date": 0,
            "chat": {"id": 42, "type": "private"}, "from": user, "text": "/new"}});
        let busy = Facts {
            membership_busy: true,
            ..Facts::default()
        };
        let now = OffsetDateTime::UNIX_EPOCH;
        for raw in [press, typed] {
            let outcome = store
                .write(|tx| process_update(tx, &settings, &raw, busy.clone(), now))
                .unwrap();
            assert!(outcome.sends && !outcome.jobs, "{outcome:?}");
        }
        let read = store.read();
        let sent: Vec<SendAction> = read
            .outbox_heads()
            .unwrap()
            .into_iter()
            .map(|(_, item)| item.action)
            .collect();
        assert_eq!(sent.len(), 2, "{sent:?}");
        let wait = Lang::En.too_many_requests();
        assert!(sent.iter().any(|a| matches!(a,
            SendAction::AnswerCallback { text: Some(t), alert: true, .. } if t == wait)));
        assert!(sent.iter().any(|a| matches!(a,
            SendAction::Text { html, reply_to: Some(3), .. } if html == wait)));
    }
}
