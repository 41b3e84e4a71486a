//! What the store keeps only for a while, bounded whatever clients send: the items of albums seen
//! in a chat (so `/ticket` on one item takes the whole album) and `/new` dialogues left
//! unfinished.
//!
//! A dialogue is one per user and chat, so users bound their number; albums are capped per chat
//! and per album, and both expire by age ([`sweep`], run by the daemon every few minutes).

use super::Outcome;
use crate::model::AlbumItem;
use crate::store::{Result, Tx};
use crate::telegram::wire::Message;
use time::OffsetDateTime;

/// Album items are kept this long for `/ticket` on one of them.
pub const ALBUM_MEMORY: time::Duration = time::Duration::hours(48);

/// Telegram's largest album (Bot API `sendMediaGroup`: 2–10 items; the apps send the same). Items
/// past it are not remembered: no client Telegram lets through sends more.
pub const ALBUM_ITEMS: usize = 10;

/// Albums remembered per chat; a new one past it makes the chat's oldest forgotten. A busy
/// support chat sees far fewer in [`ALBUM_MEMORY`]; a script sending albums does not grow the
/// store past it.
pub const ALBUMS_PER_CHAT: usize = 500;

/// A dialogue idle this long is removed. One idle for [`super::dialogue::IDLE_LIMIT`] is over
/// already, but stays until then so the client's late answer is told so instead of ignored.
pub const DIALOGUE_MEMORY: time::Duration = time::Duration::hours(24);

/// Remembers an album item with a file, for `/ticket` on any item of its album.
pub(crate) fn remember_album_item(
    tx: &mut Tx<'_>,
    message: &Message,
    media_group_id: &str,
    sent_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    let Some(file) = message.file() else {
        return Ok(());
    };
    let chat_id = message.chat.id;
    let mut items = tx.album(chat_id, media_group_id)?;
    items.retain(|item| now - item.date < ALBUM_MEMORY);
    if items
        .iter()
        .any(|item| item.message_id == message.message_id)
        || items.len() >= ALBUM_ITEMS
    {
        return Ok(());
    }
    items.push(AlbumItem {
        message_id: message.message_id,
        file,
        caption: message.caption.clone(),
        date: sent_at,
    });
    items.sort_by_key(|item| item.message_id);
    tx.put_album(chat_id, media_group_id, &items, now)?;
    let albums = tx.albums_in_chat(chat_id)?;
    for oldest in albums
        .iter()
        .take(albums.len().saturating_sub(ALBUMS_PER_CHAT))
    {
        tx.remove_album(oldest);
    }
    Ok(())
}

/// What a [`sweep`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub albums: usize,
    pub dialogues: usize,
}

/// Forgets albums older than [`ALBUM_MEMORY`] and closes dialogues idle for
/// [`DIALOGUE_MEMORY`] (their prompt's buttons are removed as when the user cancels).
pub fn sweep(tx: &mut Tx<'_>, now: OffsetDateTime) -> Result<(Swept, Outcome)> {
    let mut swept = Swept::default();
    for album in tx.albums()? {
        if now - album.first_seen >= ALBUM_MEMORY {
            tx.remove_album(&album);
            swept.albums += 1;
        }
    }
    for dialogue in tx.dialogues()? {
        if now - dialogue.touched_at >= DIALOGUE_MEMORY {
            super::group::close_dialogue(tx, &dialogue, now)?;
            swept.dialogues += 1;
        }
    }
    let outcome = Outcome {
        sends: swept.dialogues > 0,
        ..Outcome::default()
    };
    Ok((swept, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dialogue, DialogueStep, SendAction};
    use crate::store::Store;
    use teledesk_adapter::Requester;

    const CHAT: i64 = -1001;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
    }

    fn album_item(message_id: i32, group: &str) -> Message {
        serde_json::from_value(serde_json::json!({
            "message_id": message_id, "date": 1_700_000_000,
            "chat": {"id": CHAT, "type": "supergroup"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
            "media_group_id": group,
            "document": {"file_id": format!("f{message_id}"), "file_unique_id": "u", "file_size": 10},
        }))
        .unwrap()
    }

    fn remember(store: &Store, message_id: i32, group: &str, now: OffsetDateTime) {
        store
            .write(|tx| remember_album_item(tx, &album_item(message_id, group), group, now, now))
            .unwrap();
    }

    #[test]
    fn a_chat_remembers_its_newest_albums_only_and_an_album_no_more_than_telegram_sends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let flood = ALBUMS_PER_CHAT + 100;
        for n in 0..flood {
            remember(&store, n as i32 + 1, &format!("g{n}"), at(n as i64));
        }
        let read = store.read();
        let albums = read.albums_in_chat(CHAT).unwrap();
        assert_eq!(albums.len(), ALBUMS_PER_CHAT);
        assert_eq!(albums[0].media_group_id, "g100", "the oldest went first");
        assert!(read.album(CHAT, "g99").unwrap().is_empty());
        assert_eq!(
            read.album(CHAT, &format!("g{}", flood - 1)).unwrap().len(),
            1
        );
        drop(read);

        for n in 0..ALBUM_ITEMS as i32 + 5 {
            remember(&store, 10_000 + n, "big", at(flood as i64));
        }
        assert_eq!(store.read().album(CHAT, "big").unwrap().len(), ALBUM_ITEMS);
        assert_eq!(
            store.read().albums_in_chat(CHAT).unwrap().len(),
            ALBUMS_PER_CHAT
        );
    }

    fn dialogue(user: i64, touched_at: OffsetDateTime) -> Dialogue {
        Dialogue {
            chat_id: CHAT,
            user: Requester {
                display_name: "Ann".into(),
                telegram_id: user,
                username: None,
                company: None,
            },
            step: DialogueStep::Files,
            started_by: 1,
            company: None,
            subject: Some("VPN".into()),
            description: None,
            files: vec![],
            prompt_message_id: Some(77),
            target_chat: None,
            started_at: touched_at,
            touched_at,
            intake: Default::default(),
        }
    }

    #[test]
    fn a_sweep_forgets_old_albums_and_closes_dialogues_left_for_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        remember(&store, 1, "old", at(0));
        remember(&store, 2, "new", at(3600));
        store
            .write(|tx| {
                tx.put_dialogue(&dialogue(1, at(0)));
                tx.put_dialogue(&dialogue(2, at(3600)));
                Ok(())
            })
            .unwrap();
        let now = at(0) + ALBUM_MEMORY;
        let (swept, outcome) = store.write(|tx| sweep(tx, now)).unwrap();
        assert_eq!(
            swept,
            Swept {
                albums: 1,
                dialogues: 2
            }
        );
        assert!(outcome.sends);
        let read = store.read();
        assert!(read.album(CHAT, "old").unwrap().is_empty());
        assert_eq!(read.album(CHAT, "new").unwrap().len(), 1);
        assert!(read.dialogues().unwrap().is_empty());
        // Their prompts lose their buttons, as when the user cancels.
        let heads = read.outbox_heads().unwrap();
        assert!(
            matches!(
                heads[0].1.action,
                SendAction::EditKeyboard {
                    message_id: 77,
                    keyboard: None
                }
            ),
            "{heads:?}"
        );
        drop(read);

        // A dialogue touched within the day stays (its late answer is told it expired).
        store
            .write(|tx| {
                tx.put_dialogue(&dialogue(3, now - time::Duration::hours(1)));
                Ok(())
            })
            .unwrap();
        let (swept, _) = store.write(|tx| sweep(tx, now)).unwrap();
        assert_eq!(swept, Swept::default());
        assert_eq!(store.read().dialogues().unwrap().len(), 1);
    }
}
