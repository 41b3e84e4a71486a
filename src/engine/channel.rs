//! Channel mode: a ticket's post lives in the channel, its comments in the channel's discussion
//! group, under the post's automatic forward. This module maps forwards to tickets, whichever of
//! the two arrives first: the forward's update, or the sender's record of the post it copies.

use super::{ChatSettings, Outcome};
use crate::model::{LocalId, PendingForward};
use crate::store::{Result, Tx};
use crate::telegram::wire::Message;
use time::OffsetDateTime;

/// How long a comment under an unmapped forward waits for the post to be recorded (the sender
/// records a post within moments of Telegram's answer) before it is treated as chatter under a
/// post that is not a ticket's.
pub const FORWARD_GRACE: time::Duration = time::Duration::seconds(60);

/// Pending forwards older than this belong to posts that are not tickets (an admin's own post);
/// they are forgotten.
const PENDING_MEMORY: time::Duration = time::Duration::days(2);

/// The automatic forward of a channel post into its discussion group.
pub fn on_forward(
    tx: &mut Tx<'_>,
    chat: &ChatSettings,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let Some((channel, post)) = message.forwarded_post() else {
        return Ok(Outcome::skipped(
            "automatic forward without a channel origin",
        ));
    };
    if channel != chat.ticket_chat {
        return Ok(Outcome::skipped(format!(
            "automatic forward from channel {channel}, which this group is not configured for"
        )));
    }
    let group = message.chat.id;
    let forward = message.message_id;
    match tx.ticket_of_message(channel, post)? {
        Some(local) => attach_thread(tx, local, group, forward)?,
        None => {
            for ((g, f), pending) in tx.pending_forwards()? {
                if now - pending.seen_at > PENDING_MEMORY {
                    tx.remove_pending_forward(g, f);
                }
            }
            tx.put_pending_forward(
                group,
                forward,
                &PendingForward {
                    channel,
                    post,
                    seen_at: now,
                },
            );
        }
    }
    Ok(Outcome::default())
}

/// Called when the sender records a ticket's post: a forward that arrived first is mapped now.
pub fn on_post_recorded(tx: &mut Tx<'_>, local: LocalId, channel: i64, post: i32) -> Result<()> {
    for ((group, forward), pending) in tx.pending_forwards()? {
        if pending.channel == channel && pending.post == post {
            tx.remove_pending_forward(group, forward);
            attach_thread(tx, local, group, forward)?;
        }
    }
    Ok(())
}

fn attach_thread(tx: &mut Tx<'_>, local: LocalId, group: i64, forward: i32) -> Result<()> {
    tx.index_message(group, forward, local);
    if let Some(mut link) = tx.ticket(local)? {
        link.thread = Some((group, forward));
        tx.put_ticket(&link);
    }
    Ok(())
}

/// Whether a message that maps to no ticket sits under a forward whose post is about to be
/// recorded: it must wait (stay in the inbox) rather than be taken for chatter.
pub fn waits_for_its_post(tx: &Tx<'_>, message: &Message, now: OffsetDateTime) -> Result<bool> {
    let roots = [
        message.message_thread_id,
        message.reply_to_message.as_ref().map(|m| m.message_id),
    ];
    for root in roots.into_iter().flatten() {
        if let Some(pending) = tx.pending_forward(message.chat.id, root)?
            && now - pending.seen_at < FORWARD_GRACE
        {
            return Ok(true);
        }
    }
    Ok(false)
}
