//! `teledesk rebuild`: the ticket ↔ Telegram mappings of a lost or damaged store, recreated from
//! the helpdesks themselves.
//!
//! Every ticket teledesk creates carries its idempotency key, `tg:<chat>:<message>`, in the
//! helpdesk ([`Helpdesk::own_tickets`] lists them). For each one the store does not know, the
//! ticket is read and recorded as teledesk would have left it: its source message indexed (a reply
//! to it reaches the ticket), every comment it holds known (nothing is mirrored twice), and a card
//! queued, so the next start posts a fresh card as a reply to the source message (the old card's
//! message id is nowhere in the helpdesk), which staff replies then answer.
//!
//! What cannot be mapped is reported, never guessed: tickets filed in the Mini App (their key names
//! no chat), tickets of a chat no `[[chats]]` entry of that helpdesk serves (channel mode among
//! them: the key names the discussion group, and the channel's post is unknown), and whole
//! helpdesks whose adapter cannot list what it created.

use crate::config::{ChatMode, Config};
use crate::engine::sync;
use crate::model::{TicketLink, TicketView};
use crate::store::Store;
use std::sync::Arc;
use teledesk_adapter::{ErrorKind, Helpdesk, OwnTicket, Requester};

/// What a rebuild did, per helpdesk.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Tickets recorded again.
    pub mapped: Vec<String>,
    /// Tickets the store knew already.
    pub known: usize,
    /// Tickets found but not mapped, with why.
    pub unmapped: Vec<(String, String)>,
    /// Helpdesks that could not be listed, with why.
    pub failed: Vec<(String, String)>,
}

/// Rebuilds the mappings of every configured helpdesk into `store`.
pub async fn run(config: &Config, store: &Store) -> Rebuilt {
    let mut report = Rebuilt::default();
    // Every comment up to the reads below is known; the watchers take over from here.
    let started = time::OffsetDateTime::now_utc();
    for (name, helpdesk) in &config.helpdesks {
        let adapter = match crate::helpdesks::build(helpdesk) {
            Ok(adapter) => adapter,
            Err(problems) => {
                let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                report.failed.push((name.clone(), text.join("; ")));
                continue;
            }
        };
        match adapter.own_tickets().await {
            Ok(tickets) => {
                // A lost store lost the watcher's cursor too, and a first poll without one starts
                // from its own time: what staff write between this listing and the daemon's start
                // would be missed.
                let cursor = store.write(|tx| {
                    if tx.cursor(name)?.is_none() {
                        tx.set_cursor(name, &teledesk_adapter::Cursor::starting_at(started));
                    }
                    Ok(())
                });
                if let Err(error) = cursor {
                    report.failed.push((name.clone(), error.to_string()));
                    continue;
                }
                for own in tickets {
                    let label = format!("{name} #{}", own.reference.number);
                    match rebuild_one(config, store, name, &adapter, own).await {
                        Ok(Outcome::Mapped) => report.mapped.push(label),
                        Ok(Outcome::Known) => report.known += 1,
                        Err(why) => report.unmapped.push((label, why)),
                    }
                }
            }
            Err(error) if error.kind() == ErrorKind::Unsupported => report.failed.push((
                name.clone(),
                format!(
                    "the {} adapter cannot list the tickets teledesk created",
                    adapter.kind()
                ),
            )),
            Err(error) => report.failed.push((name.clone(), error.to_string())),
        }
    }
    report
}

enum Outcome {
    Mapped,
    Known,
}

async fn rebuild_one(
    config: &Config,
    store: &Store,
    helpdesk: &str,
    adapter: &Arc<dyn Helpdesk>,
    own: OwnTicket,
) -> Result<Outcome, String> {
    let id = own.reference.id.clone();
    let known = store.read().ticket_by_helpdesk(helpdesk, &id);
    if known.map_err(|e| e.to_string())?.is_some() {
        return Ok(Outcome::Known);
    }
    let Some((chat_id, message_id)) = own.key.telegram_message() else {
        return Err(format!(
            "key {}: filed in the Mini App, which names no chat",
            own.key
        ));
    };
    let chat = config
        .chats
        .iter()
        .find(|c| c.id == chat_id && c.helpdesk == helpdesk)
        .ok_or_else(|| {
            format!(
                "key {}: no [[chats]] entry {chat_id} of this helpdesk",
                own.key
            )
        })?;
    if chat.mode == ChatMode::Channel {
        return Err(format!(
            "key {}: a channel's ticket post cannot be found again",
            own.key
        ));
    }
    let ticket = adapter
        .get_ticket(&id)
        .await
        .map_err(|e| format!("cannot read it: {e}"))?;
    let now = time::OffsetDateTime::now_utc();
    let mut link = TicketLink {
        ticket_id: Some(id),
        number: Some(own.reference.number.clone()),
        source_message_id: Some(message_id),
        // What was said before the store was lost is not said again.
        notified_reply: true,
        notified_done: ticket.status.is_done(),
        // Neither the intake category nor a staff address is written to the helpdesk in a form
        // that names it again: both stay unset.
        ..TicketLink::new(
            0,
            helpdesk.to_owned(),
            chat_id,
            own.requester.unwrap_or_else(|| Requester {
                display_name: String::new(),
                telegram_id: 0,
                username: None,
                company: Some(chat.name.clone()),
            }),
            TicketView {
                subject: String::new(),
                description: String::new(),
                status: ticket.status,
                state: String::new(),
                assignee: None,
                resolution: None,
                last_comments: Vec::new(),
                due: ticket.due,
                priority: ticket.priority.clone(),
            },
            now,
        )
    };
    let seen = sync::diff(&link, &ticket);
    link.view = seen.view;
    link.known_comments = seen.newly_known;
    store
        .write(|tx| {
            link.local = tx.next_seq()?;
            tx.put_ticket(&link);
            tx.index_message(chat_id, message_id, link.local);
            crate::engine::send(
                tx,
                chat_id,
                crate::model::SendAction::Card { ticket: link.local },
                now,
            )?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    Ok(Outcome::Mapped)
}
