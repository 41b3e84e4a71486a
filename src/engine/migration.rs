//! A group upgraded to a supergroup (`migrate_to_chat_id`): Telegram gives it a new id and a new
//! message history, so every ticket of the group moves to the new id and open tickets get their
//! card again in the new chat (the old cards can no longer be edited or replied to).

use super::{Outcome, SendAction, Settings, send};
use crate::store::{Result, Tx};
use time::OffsetDateTime;

pub fn on_migrated(
    tx: &mut Tx<'_>,
    settings: &Settings,
    old: i64,
    new: i64,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let configured = settings.chat(tx, old)?.is_some() || settings.chats.contains_key(&new);
    if !configured {
        return Ok(Outcome::skipped(format!(
            "unconfigured group {old} upgraded to supergroup {new}"
        )));
    }
    if tx.chat_alias(old)? == Some(new) {
        return Ok(Outcome::skipped("upgrade already handled"));
    }
    tx.put_chat_alias(old, new);
    tx.move_outbox(old, new)?;
    let mut moved = 0;
    for mut link in tx.tickets_in_chat(old)? {
        link.chat_id = new;
        // The message the ticket came from stays in the old history: nothing can reply to it.
        link.source_chat_id = Some(link.source_chat_id.unwrap_or(old));
        link.card_message_id = None;
        link.rendered_hash = None;
        let open = !link.view.status.is_done();
        tx.put_ticket(&link);
        if open {
            send(tx, new, SendAction::Card { ticket: link.local }, now)?;
        }
        moved += 1;
    }
    tx.drop_chat_index(old)?;
    Ok(Outcome {
        sends: true,
        skipped: Some(format!(
            "group {old} became supergroup {new}; {moved} ticket(s) follow it"
        )),
        ..Outcome::default()
    })
}
