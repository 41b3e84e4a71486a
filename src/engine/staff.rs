//! Tickets staff start in the helpdesk (issue 14.3): a ticket addressed to a configured chat (by
//! the field, tag or queue each adapter's README names) is published there as a normal card or
//! post, once; replies to it become comments like on any ticket.
//!
//! Once is kept by the store: the ticket is recorded here, with its card queued, in the same
//! transaction that moves the poll cursor past its change, and a ticket teledesk already has is
//! never published again.

use super::{ChatSettings, Settings, send};
use crate::model::{SendAction, StaffStarted, TicketLink, TicketTimes, TicketView};
use crate::store::{Result, Tx};
use teledesk_adapter::{Requester, StaffAddress, Ticket};
use time::OffsetDateTime;

/// The Telegram "author" of a ticket staff started: nobody, so no one is notified or indexed
/// as its author by mistake.
pub const STAFF_AUTHOR: i64 = 0;

/// The configured chat of `helpdesk` an address names: its card chat (a channel, not its
/// discussion group), by id or by name. Two chats of one name are ambiguous and name none.
pub fn chat_for<'a>(
    settings: &'a Settings,
    helpdesk: &str,
    address: &StaffAddress,
) -> Option<&'a ChatSettings> {
    let mut named = settings
        .chats
        .values()
        .filter(|c| c.id == c.ticket_chat && c.helpdesk == helpdesk)
        .filter(|c| address.names(c.id, &c.name));
    let chat = named.next()?;
    named.next().is_none().then_some(chat)
}

/// Records a ticket staff addressed to a chat and queues its card, unless teledesk already has
/// it or the address names no chat of this helpdesk. Returns the new ticket's local id.
///
/// The comments the ticket already has are shown on the card (the newest three); its public
/// staff replies (files staff attached when they wrote it, say) follow the card as replies, as
/// the first refresh, queued here, sends them.
pub fn publish(
    tx: &mut Tx<'_>,
    settings: &Settings,
    helpdesk: &str,
    ticket: &Ticket,
    now: OffsetDateTime,
) -> Result<Option<u64>> {
    let Some(address) = &ticket.addressed_to else {
        return Ok(None);
    };
    if tx
        .ticket_by_helpdesk(helpdesk, &ticket.reference.id)?
        .is_some()
    {
        return Ok(None);
    }
    let Some(chat) = chat_for(settings, helpdesk, address) else {
        tracing::warn!(
            helpdesk,
            ticket = %ticket.reference.number,
            address = %address.chat,
            "A ticket is addressed to a chat that is not configured for its helpdesk; not published."
        );
        return Ok(None);
    };
    let local = tx.next_seq()?;
    let mut link = TicketLink {
        ticket_id: Some(ticket.reference.id.clone()),
        number: Some(ticket.reference.number.clone()),
        times: TicketTimes {
            registered_at: Some(now),
            ..TicketTimes::default()
        },
        staff_started: Some(StaffStarted {
            announcement: address.announcement,
        }),
        // No intake category: staff chose where it goes.
        ..TicketLink::new(
            local,
            helpdesk.to_owned(),
            chat.id,
            // Staff wrote it: no Telegram user to notify or to rate as its author.
            Requester {
                display_name: ticket
                    .assignee
                    .clone()
                    .unwrap_or_else(|| settings.lang.support_name().to_owned()),
                telegram_id: STAFF_AUTHOR,
                username: None,
                company: None,
            },
            TicketView {
                subject: ticket.subject.clone(),
                description: ticket.description.clone(),
                status: ticket.status,
                state: ticket.state.clone(),
                assignee: None,
                resolution: None,
                last_comments: Vec::new(),
                due: ticket.due,
                priority: ticket.priority.clone(),
            },
            now,
        )
    };
    let sync = super::sync::diff(&link, ticket);
    link.view = sync.view;
    link.known_comments = sync
        .newly_known
        .into_iter()
        .filter(|id| !sync.replies.iter().any(|reply| &reply.id == id))
        .collect();
    link.times.last_activity_at = Some(now);
    tx.put_ticket(&link);
    send(tx, chat.id, SendAction::Card { ticket: local }, now)?;
    if !sync.replies.is_empty() {
        // Queued after the card, so they answer it.
        tx.mark_dirty(local)?;
    }
    tracing::info!(
        helpdesk,
        ticket = %ticket.reference.number,
        chat = chat.id,
        announcement = address.announcement,
        "A ticket started by staff is published in its chat."
    );
    Ok(Some(local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ChatMode, FileLimits, OnClosedComment, Visibility};
    use crate::store::Store;
    use crate::telegram::texts::Lang;
    use std::collections::HashMap;
    use teledesk_adapter::{StatusClass, TicketId, TicketRef};

    fn chat(id: i64, ticket_chat: i64, helpdesk: &str, name: &str) -> ChatSettings {
        ChatSettings {
            id,
            ticket_chat,
            mode: ChatMode::Group,
            helpdesk: helpdesk.into(),
            name: name.into(),
            companies: vec![],
            on_closed_comment: OnClosedComment::default(),
            files: FileLimits::default(),
            visibility: Visibility::default(),
            intake: Default::default(),
        }
    }

    fn settings(chats: Vec<ChatSettings>) -> Settings {
        Settings {
            bot_id: 1,
            bot_username: "bot".into(),
            lang: Lang::Ru,
            chats: chats
                .into_iter()
                .map(|c| (c.id, c))
                .collect::<HashMap<_, _>>(),
            chat_key: teledesk_adapter::Secret::new("k"),
            admins: vec![],
        }
    }

    fn ticket(id: &str, address: Option<(&str, bool)>) -> Ticket {
        Ticket {
            reference: TicketRef {
                id: TicketId(id.into()),
                number: id.into(),
                url: None,
            },
            subject: "Плановые работы".into(),
            description: "В субботу сервис недоступен".into(),
            state: "Новые".into(),
            status: StatusClass::New,
            assignee: Some("Иван".into()),
            resolution: None,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            comments: vec![],
            addressed_to: address.map(|(chat, announcement)| StaffAddress {
                chat: chat.into(),
                announcement,
            }),
            due: Default::default(),
            priority: None,
        }
    }

    #[test]
    fn an_address_names_a_chat_of_the_helpdesk_by_id_or_name() {
        let settings = settings(vec![
            chat(-100, -100, "main", "Acme"),
            chat(-200, -200, "other", "Beta"),
            // A channel's discussion group is no card chat.
            chat(-301, -300, "main", "Gamma"),
            chat(-300, -300, "main", "Gamma"),
        ]);
        let to = |chat: &str| StaffAddress {
            chat: chat.into(),
            announcement: false,
        };
        let id = |c: Option<&ChatSettings>| c.map(|c| c.id);
        assert_eq!(id(chat_for(&settings, "main", &to(" acme "))), Some(-100));
        assert_eq!(id(chat_for(&settings, "main", &to("-100"))), Some(-100));
        assert_eq!(id(chat_for(&settings, "main", &to("gamma"))), Some(-300));
        assert_eq!(id(chat_for(&settings, "main", &to("Beta"))), None);
        assert_eq!(id(chat_for(&settings, "main", &to(""))), None);
        let twins = self::settings(vec![
            chat(-100, -100, "main", "Acme"),
            chat(-200, -200, "main", "ACME"),
        ]);
        assert_eq!(id(chat_for(&twins, "main", &to("Acme"))), None);
    }

    #[test]
    fn a_ticket_is_published_once_and_only_when_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let settings = settings(vec![chat(-100, -100, "main", "Acme")]);
        let now = OffsetDateTime::UNIX_EPOCH;
        let published = store
            .write(|tx| {
                let plain = publish(tx, &settings, "main", &ticket("1", None), now)?;
                let elsewhere = publish(
                    tx,
                    &settings,
                    "main",
                    &ticket("2", Some(("Nope", false))),
                    now,
                )?;
                let first = publish(
                    tx,
                    &settings,
                    "main",
                    &ticket("3", Some(("Acme", true))),
                    now,
                )?;
                let again = publish(
                    tx,
                    &settings,
                    "main",
                    &ticket("3", Some(("Acme", true))),
                    now,
                )?;
                Ok((plain, elsewhere, first, again))
            })
            .unwrap();
        assert_eq!(published.0, None);
        assert_eq!(published.1, None);
        let local = published.2.expect("published");
        assert_eq!(published.3, None, "never twice");
        let read = store.read();
        let link = read.ticket(local).unwrap().unwrap();
        assert_eq!(link.chat_id, -100);
        assert_eq!(link.number.as_deref(), Some("3"));
        assert_eq!(link.view.subject, "Плановые работы");
        assert_eq!(
            link.staff_started,
            Some(StaffStarted { announcement: true })
        );
        assert_eq!(link.author.telegram_id, 0);
        let cards: Vec<_> = read
            .outbox_heads()
            .unwrap()
            .into_iter()
            .filter(|(_, o)| o.action == SendAction::Card { ticket: local })
            .collect();
        assert_eq!(cards.len(), 1);
        assert_eq!(read.outbox_len(), 1);
    }
}
