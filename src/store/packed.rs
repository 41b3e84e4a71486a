//! Packed indexes: the store's lookups by chat, by author, by helpdesk id and by Telegram message,
//! each kept as chunked sorted sets instead of one key per ticket.
//!
//! sled 0.34 holds memory per key, not per byte (about 47 bytes a key, BENCHMARKS.md: a page
//! splits at 17 keys and each page costs its bookkeeping), so a million tickets with one index key
//! each in four indexes held four times the memory of the ticket records themselves. Here an
//! owner's entries (a chat's tickets, a chat's card messages, …) are sorted fixed-width byte
//! strings cut into chunks of up to [`CHUNK_ENTRIES`], one key per chunk:
//!
//! ```text
//! key   = space byte ‖ group (8 bytes: the owner) ‖ identity of the chunk's lowest entry when made
//! value = the chunk's entries, sorted, each `width` bytes: identity ‖ payload
//! ```
//!
//! A chunk's key is at most its lowest entry and above every entry of the chunk before it, so
//! the chunk that holds (or would hold) an entry is the last key at or before the group and the
//! entry's identity. That lookup merges the transaction's own pending writes, like every read.
//! An insert rewrites one chunk (about a kilobyte), or two when it splits one; a chunk that
//! overflows with its new entry on top (ids grow, so nearly always) keeps its entries and the
//! new one starts the next chunk, so chunks stay full.

use super::keys::Space;
use super::{Result, Tx};
use std::ops::Bound;

/// The most entries a chunk holds: a write of a new entry rewrites up to this many (1.5 KB at
/// most), and the index costs sled one key per this many entries.
pub(super) const CHUNK_ENTRIES: usize = 128;

/// One packed index: its keyspace and the shape of its entries.
#[derive(Clone, Copy, Debug)]
pub(super) struct Packed {
    pub space: Space,
    /// Bytes per entry.
    pub width: usize,
    /// The leading bytes that name an entry: an insert of an entry whose identity is there
    /// already replaces it (a message filed again under another ticket). The rest is payload.
    pub identity: usize,
}

/// Tickets by chat: group = chat, entry = local id.
pub(super) const BY_CHAT: Packed = Packed {
    space: Space::PackedByChat,
    width: 8,
    identity: 8,
};

/// Tickets by author: group = Telegram user, entry = local id.
pub(super) const BY_AUTHOR: Packed = Packed {
    space: Space::PackedByAuthor,
    width: 8,
    identity: 8,
};

/// Card and thread messages: group = chat, entry = message id ‖ local id.
pub(super) const MESSAGES: Packed = Packed {
    space: Space::PackedMessages,
    width: 12,
    identity: 4,
};

/// Helpdesk ids: group = hash of the helpdesk's name, entry = hash of the ticket id ‖ local id.
/// Two ids may share a hash: both entries are kept (the identity is the whole entry), and a hit
/// counts only once the ticket record says it is that helpdesk's ticket with that id.
pub(super) const BY_HELPDESK: Packed = Packed {
    space: Space::PackedByHelpdesk,
    width: 16,
    identity: 16,
};

#[cfg(test)]
thread_local! {
    /// Test hook: every ticket id hashes alike, so a test can make collisions at will.
    pub(super) static COLLIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The hash a helpdesk ticket id is filed under: a stored one, so the same in every build.
pub(super) fn id_hash(id: &str) -> u64 {
    #[cfg(test)]
    if COLLIDE.with(|c| c.get()) {
        return 42;
    }
    teledesk_adapter::stable_hash(id.as_bytes())
}

impl Packed {
    fn group_key(self, group: &[u8; 8]) -> Vec<u8> {
        self.space.key(group)
    }

    fn entries(self, chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
        chunk.chunks_exact(self.width)
    }

    fn count(self, chunk: &[u8]) -> usize {
        chunk.len() / self.width
    }

    /// Where an entry with `identity` is in `chunk`, or would go: `Ok` when it is there.
    fn position(self, chunk: &[u8], identity: &[u8]) -> std::result::Result<usize, usize> {
        let entries: Vec<&[u8]> = self.entries(chunk).collect();
        entries.binary_search_by(|entry| entry[..self.identity].cmp(identity))
    }
}

impl Tx<'_> {
    /// The last record with `lower ≤ key ≤ at`, this transaction's pending writes merged in.
    fn last_at_or_before(&self, lower: &[u8], at: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let range = (
            Bound::Included(lower.to_vec()),
            Bound::Included(at.to_vec()),
        );
        // A stored key the transaction wrote or deleted is the pending write's to answer.
        let mut stored = None;
        for entry in self.tree()?.range::<Vec<u8>, _>(range.clone()).rev() {
            let (key, value) = entry?;
            if !self.pending.contains_key(key.as_ref()) {
                stored = Some((key.to_vec(), value.to_vec()));
                break;
            }
        }
        let pending = self
            .pending
            .range::<Vec<u8>, _>(range)
            .rev()
            .find_map(|(key, value)| Some((key.clone(), value.clone()?)));
        Ok(match (stored, pending) {
            (Some(s), Some(p)) => Some(if s.0 > p.0 { s } else { p }),
            (s, p) => s.or(p),
        })
    }

    /// The first record with `key > after` that starts with `prefix`, pending writes merged in.
    fn first_after(&self, after: &[u8], prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let range = (Bound::Excluded(after.to_vec()), Bound::Unbounded);
        let mut stored = None;
        for entry in self.tree()?.range::<Vec<u8>, _>(range.clone()) {
            let (key, value) = entry?;
            if !key.starts_with(prefix) {
                break;
            }
            if !self.pending.contains_key(key.as_ref()) {
                stored = Some((key.to_vec(), value.to_vec()));
                break;
            }
        }
        let pending = self
            .pending
            .range::<Vec<u8>, _>(range)
            .take_while(|(key, _)| key.starts_with(prefix))
            .find_map(|(key, value)| Some((key.clone(), value.clone()?)));
        Ok(match (stored, pending) {
            (Some(s), Some(p)) => Some(if s.0 < p.0 { s } else { p }),
            (s, p) => s.or(p),
        })
    }

    /// Files `entry` under `group`; returns whether anything was written (not when the same
    /// entry is there already).
    pub(super) fn packed_insert(
        &mut self,
        index: Packed,
        group: &[u8; 8],
        entry: &[u8],
    ) -> Result<bool> {
        debug_assert_eq!(entry.len(), index.width);
        let identity = &entry[..index.identity];
        let lower = index.group_key(group);
        let at = [lower.as_slice(), identity].concat();
        let Some((key, mut chunk)) = self.last_at_or_before(&lower, &at)? else {
            // Below every chunk of the group: the first chunk takes it, under a new key (its
            // key must not be above its lowest entry), unless it is full.
            let mut fresh = entry.to_vec();
            if let Some((first, chunk)) = self.first_after(&at, &lower)?
                && index.count(&chunk) < CHUNK_ENTRIES
            {
                fresh.extend_from_slice(&chunk);
                self.pending.insert(first, None);
            }
            self.pending.insert(at, Some(fresh));
            return Ok(true);
        };
        match index.position(&chunk, identity) {
            Ok(at) => {
                let old = &mut chunk[at * index.width..(at + 1) * index.width];
                if old == entry {
                    return Ok(false);
                }
                old.copy_from_slice(entry);
                self.pending.insert(key, Some(chunk));
            }
            Err(position) if index.count(&chunk) < CHUNK_ENTRIES => {
                let offset = position * index.width;
                chunk.splice(offset..offset, entry.iter().copied());
                self.pending.insert(key, Some(chunk));
            }
            Err(position) if position == index.count(&chunk) => {
                // A full chunk and a new highest entry: it starts the next chunk.
                self.pending.insert(at, Some(entry.to_vec()));
            }
            Err(position) => {
                let offset = position * index.width;
                chunk.splice(offset..offset, entry.iter().copied());
                let half = index.count(&chunk) / 2 * index.width;
                let upper = chunk.split_off(half);
                let upper_key = [lower.as_slice(), &upper[..index.identity]].concat();
                self.pending.insert(key, Some(chunk));
                self.pending.insert(upper_key, Some(upper));
            }
        }
        Ok(true)
    }

    /// Removes the entry named `identity` from `group`; returns whether it was there.
    pub(super) fn packed_remove(
        &mut self,
        index: Packed,
        group: &[u8; 8],
        identity: &[u8],
    ) -> Result<bool> {
        let lower = index.group_key(group);
        let at = [lower.as_slice(), identity].concat();
        let Some((key, mut chunk)) = self.last_at_or_before(&lower, &at)? else {
            return Ok(false);
        };
        let Ok(position) = index.position(&chunk, identity) else {
            return Ok(false);
        };
        let offset = position * index.width;
        chunk.drain(offset..offset + index.width);
        // The key stays: still at most the chunk's lowest entry.
        let value = (!chunk.is_empty()).then_some(chunk);
        self.pending.insert(key, value);
        Ok(true)
    }

    /// The entries of `group` whose identity starts with `prefix`, in order.
    pub(super) fn packed_find(
        &self,
        index: Packed,
        group: &[u8; 8],
        prefix: &[u8],
    ) -> Result<Vec<Vec<u8>>> {
        let lower = index.group_key(group);
        let at = [lower.as_slice(), prefix].concat();
        let mut found = Vec::new();
        let mut chunk = self.last_at_or_before(&lower, &at)?;
        let mut after = at.clone();
        loop {
            if let Some((key, entries)) = &chunk {
                found.extend(
                    index
                        .entries(entries)
                        .filter(|entry| entry.starts_with(prefix))
                        .map(<[u8]>::to_vec),
                );
                after.clone_from(key);
            }
            // Entries sharing a shorter prefix may go on in the chunks after, whose keys then
            // start with it.
            chunk = match self.first_after(&after, &at)? {
                Some(next) => Some(next),
                None => return Ok(found),
            };
        }
    }

    /// Every entry of `group`, in order.
    pub(super) fn packed_all(&self, index: Packed, group: &[u8; 8]) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .scan_raw(&index.group_key(group))?
            .into_iter()
            .flat_map(|(_, chunk)| {
                index
                    .entries(&chunk)
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Forgets every entry of `group`.
    pub(super) fn packed_drop_group(&mut self, index: Packed, group: &[u8; 8]) -> Result<()> {
        for (key, _) in self.scan_raw(&index.group_key(group))? {
            self.pending.insert(key, None);
        }
        Ok(())
    }
}
