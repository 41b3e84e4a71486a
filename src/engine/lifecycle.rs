//! A ticket's life after it is opened: the buttons of a done ticket (rating, reopen), `/escalate`,
//! and what a comment on a done ticket does (`on_closed_comment`).

use super::{ChatSettings, Facts, Outcome, Settings, push_job, queued, say, send, sent};
use crate::config::OnClosedComment;
use crate::model::{FollowUp, JobKind, LocalId, SendAction, TicketLink};
use crate::store::{Result, Tx};
use crate::telegram::wire::{CallbackQuery, Message};
use teledesk_adapter::{IdempotencyKey, Requester};
use time::OffsetDateTime;

/// Repeated `/escalate` within this window is acknowledged but not sent to the helpdesk again.
pub const ESCALATION_COOLDOWN: time::Duration = time::Duration::hours(1);

/// A button on a done ticket's card, from its callback data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ButtonAction {
    /// `rate:<ticket>:<1..5>`
    Rate { ticket: LocalId, score: u8 },
    /// `reopen:<ticket>`
    Reopen { ticket: LocalId },
}

impl ButtonAction {
    pub fn parse(data: &str) -> Option<Self> {
        if let Some(rest) = data.strip_prefix("rate:") {
            let (ticket, score) = rest.split_once(':')?;
            let score: u8 = score.parse().ok()?;
            return (1..=5).contains(&score).then_some(ButtonAction::Rate {
                ticket: ticket.parse().ok()?,
                score,
            });
        }
        let ticket = data.strip_prefix("reopen:")?.parse().ok()?;
        Some(ButtonAction::Reopen { ticket })
    }

    pub fn ticket(self) -> LocalId {
        match self {
            ButtonAction::Rate { ticket, .. } | ButtonAction::Reopen { ticket } => ticket,
        }
    }
}

pub fn on_button(
    tx: &mut Tx<'_>,
    settings: &Settings,
    query: &CallbackQuery,
    action: ButtonAction,
    facts: Facts,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let reply_chat = query
        .message
        .as_ref()
        .map(|m| m.chat.id)
        .unwrap_or(query.from.id);
    let answer = |tx: &mut Tx<'_>, text: &str, alert: bool| {
        send(
            tx,
            reply_chat,
            SendAction::AnswerCallback {
                query_id: query.id.clone(),
                text: Some(text.to_owned()),
                alert,
            },
            now,
        )
    };
    let Some(mut link) = tx.ticket(action.ticket())? else {
        answer(tx, lang.nothing_to_do(), false)?;
        return Ok(sent());
    };
    // The button is only a claim; membership was checked with Telegram before we got here.
    if facts.presser_is_member != Some(true) {
        answer(tx, lang.members_only(), true)?;
        return Ok(Outcome {
            sends: true,
            skipped: Some(format!(
                "user {} is not a member of chat {}; button refused",
                query.from.id, link.chat_id
            )),
            ..Outcome::default()
        });
    }
    if !link.view.status.is_done() {
        answer(tx, lang.not_closed_yet(), false)?;
        return Ok(sent());
    }
    let company = settings.chats.get(&link.chat_id).map(|c| c.name.clone());
    let by = query.from.requester(company);
    let card = link
        .card_message_id
        .or(link.source_message_id)
        .unwrap_or_default();
    match action {
        ButtonAction::Rate { score, .. } => {
            if link.rating.is_some() {
                answer(tx, lang.already_rated(), false)?;
                return Ok(sent());
            }
            link.rating = Some(score);
            tx.put_ticket(&link);
            tx.mark_card_stale(link.local);
            push_job(
                tx,
                link.local,
                JobKind::Rate {
                    key: IdempotencyKey(format!("tg:{}:{card}:rate", link.chat_id)),
                    score,
                    comment: None,
                    by,
                },
                now,
            )?;
            answer(tx, lang.rated(), false)?;
        }
        ButtonAction::Reopen { .. } => {
            let pending = tx
                .jobs_of(link.local)?
                .iter()
                .any(|(_, job)| matches!(job.kind, JobKind::Reopen { .. }));
            if !pending {
                queue_reopen(tx, &link, by.clone(), &query.id, now)?;
                let (chat, reply_to) = link.reply_target();
                say(
                    tx,
                    chat,
                    reply_to.or(Some(card)),
                    lang.reopened_by(&by.display_name),
                    now,
                )?;
            }
            answer(tx, lang.reopen_requested(), false)?;
        }
    }
    Ok(queued())
}

fn queue_reopen(
    tx: &mut Tx<'_>,
    link: &TicketLink,
    by: Requester,
    event: &str,
    now: OffsetDateTime,
) -> Result<()> {
    push_job(
        tx,
        link.local,
        JobKind::Reopen {
            key: IdempotencyKey(format!("tg:{}:reopen:{event}", link.chat_id)),
            by,
        },
        now,
    )
}

/// `/escalate` in a ticket's thread.
pub fn escalate(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    local: Option<LocalId>,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let lang = settings.lang;
    let Some(mut link) = local.map(|l| tx.ticket(l)).transpose()?.flatten() else {
        say(
            tx,
            chat.id,
            Some(message.message_id),
            lang.escalate_usage(),
            now,
        )?;
        return Ok(sent());
    };
    tx.index_message(chat.id, message.message_id, link.local);
    if link
        .escalated_at
        .is_some_and(|at| now - at < ESCALATION_COOLDOWN)
    {
        say(
            tx,
            chat.id,
            Some(message.message_id),
            lang.escalated_already(),
            now,
        )?;
        return Ok(sent());
    }
    let Some(by) = message.author(Some(chat.name.clone())) else {
        return Ok(Outcome::skipped("/escalate without a sender"));
    };
    link.escalated_at = Some(now);
    tx.put_ticket(&link);
    push_job(
        tx,
        link.local,
        JobKind::Escalate {
            key: IdempotencyKey::telegram(chat.id, message.message_id),
            by,
            message_id: message.message_id,
        },
        now,
    )?;
    Ok(queued())
}

/// What a comment on a done ticket turns into. Returns `None` when the ticket is not done and the
/// comment is an ordinary one.
pub fn closed_comment(
    tx: &mut Tx<'_>,
    settings: &Settings,
    chat: &ChatSettings,
    link: &TicketLink,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Option<ClosedComment>> {
    if !link.view.status.is_done() {
        return Ok(None);
    }
    let pending_reopen = tx
        .jobs_of(link.local)?
        .iter()
        .any(|(_, job)| matches!(job.kind, JobKind::Reopen { .. }));
    if pending_reopen {
        // Already on its way back to work: the comment simply follows the reopen.
        return Ok(None);
    }
    match chat.on_closed_comment {
        OnClosedComment::Reopen => {
            let by = message
                .author(Some(chat.name.clone()))
                .unwrap_or_else(|| super::group::unknown_requester(chat));
            queue_reopen(tx, link, by.clone(), &message.message_id.to_string(), now)?;
            say(
                tx,
                chat.id,
                Some(message.message_id),
                settings.lang.reopened_by(&by.display_name),
                now,
            )?;
            Ok(Some(ClosedComment::Reopened))
        }
        OnClosedComment::FollowUp => Ok(Some(ClosedComment::FollowUp(FollowUp {
            local: link.local,
            number: link.number.clone(),
        }))),
    }
}

/// The outcome of [`closed_comment`].
pub enum ClosedComment {
    /// A reopen was queued; the comment follows it.
    Reopened,
    /// The comment must open a new ticket following this one.
    FollowUp(FollowUp),
}
