//! Key encoding: a keyspace byte, then big-endian numbers whose byte order is their numeric order
//! (so scans come back sorted by ticket, chat, sequence).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Space {
    Meta,
    Inbox,
    Tickets,
    ByHelpdesk,
    Messages,
    Jobs,
    Dirty,
    Cursors,
    Outbox,
    StaleCards,
    Dead,
    Dialogues,
    Albums,
    UnknownChats,
    PendingFeedback,
    Users,
    PendingForwards,
    ChatAliases,
    Submissions,
    Uploads,
    TicketsByChat,
    TicketsByAuthor,
    SeenUpdates,
    SeenOrder,
    UploadFiles,
    AlbumsByAge,
    IntakeMemory,
}

impl Space {
    /// Every keyspace.
    pub(super) const ALL: [Space; 26] = [
        Space::Meta,
        Space::Inbox,
        Space::Tickets,
        Space::ByHelpdesk,
        Space::Messages,
        Space::Jobs,
        Space::Dirty,
        Space::Cursors,
        Space::Outbox,
        Space::StaleCards,
        Space::Dead,
        Space::Dialogues,
        Space::Albums,
        Space::UnknownChats,
        Space::PendingFeedback,
        Space::Users,
        Space::PendingForwards,
        Space::ChatAliases,
        Space::Submissions,
        Space::Uploads,
        Space::TicketsByChat,
        Space::TicketsByAuthor,
        Space::SeenUpdates,
        Space::SeenOrder,
        Space::UploadFiles,
        Space::AlbumsByAge,
    ];

    pub(super) fn from_byte(byte: u8) -> Option<Space> {
        Self::ALL.into_iter().find(|s| s.byte() == byte)
    }

    pub(super) fn from_name(name: &str) -> Option<Space> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub(super) fn byte(self) -> u8 {
        // Stable on disk: never renumber, only append.
        match self {
            Space::Meta => 1,
            Space::Inbox => 2,
            Space::Tickets => 3,
            Space::ByHelpdesk => 4,
            Space::Messages => 5,
            Space::Jobs => 6,
            Space::Dirty => 7,
            Space::Cursors => 8,
            Space::Outbox => 9,
            Space::StaleCards => 10,
            Space::Dead => 11,
            Space::Dialogues => 12,
            Space::Albums => 13,
            Space::UnknownChats => 14,
            Space::PendingFeedback => 15,
            Space::Users => 16,
            Space::PendingForwards => 17,
            Space::ChatAliases => 18,
            Space::Submissions => 19,
            Space::Uploads => 20,
            Space::TicketsByChat => 21,
            Space::TicketsByAuthor => 22,
            Space::SeenUpdates => 30,
            Space::SeenOrder => 31,
            Space::UploadFiles => 32,
            Space::AlbumsByAge => 33,
            // Well apart from the others' next numbers, so branches adding spaces do not collide.
            Space::IntakeMemory => 47,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Space::Meta => "meta",
            Space::Inbox => "inbox",
            Space::Tickets => "tickets",
            Space::ByHelpdesk => "by_helpdesk",
            Space::Messages => "messages",
            Space::Jobs => "jobs",
            Space::Dirty => "dirty",
            Space::Cursors => "cursors",
            Space::Outbox => "outbox",
            Space::StaleCards => "stale_cards",
            Space::Dead => "dead_letters",
            Space::Dialogues => "dialogues",
            Space::Albums => "albums",
            Space::UnknownChats => "unknown_chats",
            Space::PendingFeedback => "pending_feedback",
            Space::Users => "users",
            Space::PendingForwards => "pending_forwards",
            Space::ChatAliases => "chat_aliases",
            Space::Submissions => "submissions",
            Space::Uploads => "uploads",
            Space::TicketsByChat => "tickets_by_chat",
            Space::TicketsByAuthor => "tickets_by_author",
            Space::SeenUpdates => "seen_updates",
            Space::SeenOrder => "seen_order",
            Space::UploadFiles => "upload_files",
            Space::AlbumsByAge => "albums_by_age",
            Space::IntakeMemory => "intake_memory",
        }
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
        for space in Space::ALL {
            assert_eq!(Space::from_byte(space.byte()), Some(space));
            assert_eq!(Space::from_name(space.name()), Some(space));
        }
        let mut bytes: Vec<u8> = Space::ALL.iter().map(|s| s.byte()).collect();
        bytes.sort();
        bytes.dedup();
        assert_eq!(bytes.len(), Space::ALL.len());
    }
}
