//! Key encoding: a keyspace byte, then big-endian numbers whose byte order is their numeric order
//! (so scans come back sorted by ticket, chat, sequence).

/// Declares the keyspaces once: each variant with its byte (stable on disk: never renumber, only
/// append) and its name in backups, so that no keyspace can be left out of [`Space::ALL`] (one
/// was, and `teledesk export` wrote its records under a number `import` refused).
macro_rules! spaces {
    ($($variant:ident = $byte:literal, $name:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) enum Space {
            $($variant,)*
        }

        impl Space {
            /// Every keyspace.
            pub(super) const ALL: &[Space] = &[$(Space::$variant,)*];

            pub(super) fn byte(self) -> u8 {
                match self {
                    $(Space::$variant => $byte,)*
                }
            }

            pub(super) fn name(self) -> &'static str {
                match self {
                    $(Space::$variant => $name,)*
                }
            }
        }
    };
}

spaces! {
    Meta = 1, "meta";
    Inbox = 2, "inbox";
    Tickets = 3, "tickets";
    // Schema 2's index of helpdesk ids, one key per ticket: migrated to `PackedByHelpdesk`.
    ByHelpdesk = 4, "by_helpdesk";
    // Schema 2's message index, one key per message: migrated to `PackedMessages`.
    Messages = 5, "messages";
    Jobs = 6, "jobs";
    Dirty = 7, "dirty";
    Cursors = 8, "cursors";
    Outbox = 9, "outbox";
    StaleCards = 10, "stale_cards";
    Dead = 11, "dead_letters";
    Dialogues = 12, "dialogues";
    Albums = 13, "albums";
    UnknownChats = 14, "unknown_chats";
    PendingFeedback = 15, "pending_feedback";
    Users = 16, "users";
    PendingForwards = 17, "pending_forwards";
    ChatAliases = 18, "chat_aliases";
    Submissions = 19, "submissions";
    Uploads = 20, "uploads";
    // Schema 2's indexes by chat and by author: migrated to `PackedByChat`, `PackedByAuthor`.
    TicketsByChat = 21, "tickets_by_chat";
    TicketsByAuthor = 22, "tickets_by_author";
    // Schema 3's indexes, chunked sorted sets (see `packed`).
    PackedByChat = 23, "packed_tickets_by_chat";
    PackedByAuthor = 24, "packed_tickets_by_author";
    PackedByHelpdesk = 25, "packed_by_helpdesk";
    PackedMessages = 26, "packed_messages";
    SeenUpdates = 30, "seen_updates";
    SeenOrder = 31, "seen_order";
    UploadFiles = 32, "upload_files";
    AlbumsByAge = 33, "albums_by_age";
    IntakeMemory = 47, "intake_memory";
}

impl Space {
    pub(super) fn from_byte(byte: u8) -> Option<Space> {
        Self::ALL.iter().copied().find(|s| s.byte() == byte)
    }

    pub(super) fn from_name(name: &str) -> Option<Space> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }

    pub(super) fn key(self, rest: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(rest.len() + 1);
        key.push(self.byte());
        key.extend_from_slice(rest);
        key
    }
}

pub(super) fn u64_key(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

pub(super) fn i64_key(value: i64) -> [u8; 8] {
    // Flipping the sign bit makes negative ids (every group and channel) sort below positive ones
    // in byte order, keeping numeric order.
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

pub(super) fn i32_key(value: i32) -> [u8; 4] {
    ((value as u32) ^ (1 << 31)).to_be_bytes()
}

/// The inverse of [`i64_key`] followed by [`i32_key`] (a message key).
pub(super) fn read_message_key(bytes: &[u8]) -> (i64, i32) {
    let chat = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")) ^ (1 << 63);
    let message = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")) ^ (1 << 31);
    (chat as i64, message as i32)
}

pub(super) fn read_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_keys_sort_numerically() {
        let mut values = [-1001234567890i64, -5, 0, 7, i64::MIN, i64::MAX];
        let mut by_bytes = values;
        by_bytes.sort_by_key(|v| i64_key(*v));
        values.sort();
        assert_eq!(values, by_bytes);
        assert!(i32_key(-1) < i32_key(0) && i32_key(0) < i32_key(1));
    }

    #[test]
    fn every_space_is_listed_once_by_byte_and_by_name() {
        for &space in Space::ALL {
            assert_eq!(Space::from_byte(space.byte()), Some(space));
            assert_eq!(Space::from_name(space.name()), Some(space));
        }
        let mut bytes: Vec<u8> = Space::ALL.iter().map(|s| s.byte()).collect();
        bytes.sort();
        bytes.dedup();
        assert_eq!(bytes.len(), Space::ALL.len());
    }
}
