//! How many records the work queues and the ticket table hold, kept up to date as each write is
//! applied, so `/healthz` and `/metrics` cost O(1) instead of a scan of the store per request.
//!
//! The counts are saved in the store itself, in the same batch as every write that moves them, so
//! what is on disk after a crash (a prefix of the batches, each whole) always holds the counts of
//! exactly those records, and opening a store costs no scan. Only a store whose saved counts may
//! be stale is counted again at open: one written before the counts were saved, or opened in
//! between by a build that does not keep them (told by the boot number the counts carry).

use super::keys::Space;
use super::{Result, decode};
use std::collections::BTreeMap;
use teledesk_adapter::StatusClass;

/// Record counts of the work queues, and tickets by status class.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub inbox: usize,
    pub jobs: usize,
    pub outbox: usize,
    pub dead: usize,
    pub tickets: BTreeMap<StatusClass, usize>,
}

/// The keyspaces whose records are counted.
const COUNTED: [Space; 5] = [
    Space::Inbox,
    Space::Jobs,
    Space::Outbox,
    Space::Dead,
    Space::Tickets,
];

/// The counted keyspace a stored key belongs to, if any.
fn counted_space(key: &[u8]) -> Option<Space> {
    COUNTED
        .into_iter()
        .find(|space| key.first() == Some(&space.byte()))
}

/// The part of a ticket record the counts need.
#[derive(serde::Deserialize)]
struct StatusOnly {
    view: ViewStatus,
}

#[derive(serde::Deserialize)]
struct ViewStatus {
    status: StatusClass,
}

/// The meta record the counts are saved in.
const SAVED: &str = "counts";

/// The counts as saved, with the boot (process run) that saved them.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    /// Every run bumps the store's boot number when it opens it, and a run of this build saves
    /// the counts in the same batch; saved counts whose boot is not the store's last were left
    /// behind by a run that did not keep them.
    boot: u64,
    counts: Counts,
}

impl Counts {
    /// The counts of `tree` at open, where `boot` is the store's last boot number (before this
    /// run's): the saved ones when the run of that boot kept them, else a scan. Also says whether
    /// it scanned.
    pub(super) fn load(tree: &sled::Tree, boot: Option<u64>) -> Result<(Self, bool)> {
        let key = Self::saved_key();
        let saved = match tree.get(&key)? {
            // Unreadable (a later build's status class, say): counted again, not fatal.
            Some(bytes) => decode::<Saved>(Space::Meta, &key, &bytes).ok(),
            None => None,
        };
        match saved {
            Some(saved) if Some(saved.boot) == boot => Ok((saved.counts, false)),
            _ => Ok((Self::scan(tree)?, true)),
        }
    }

    /// The key of the saved counts.
    pub(super) fn saved_key() -> Vec<u8> {
        Space::Meta.key(SAVED.as_bytes())
    }

    /// These counts as saved by the run of `boot`.
    pub(super) fn saved_value(&self, boot: u64) -> Vec<u8> {
        let saved = Saved {
            boot,
            counts: self.clone(),
        };
        serde_json::to_vec(&saved).expect("counts always serialize")
    }

    /// Counts everything in `tree` (at open, when no saved counts can be trusted).
    pub(super) fn scan(tree: &sled::Tree) -> Result<Self> {
        let mut counts = Self::default();
        for space in [Space::Inbox, Space::Jobs, Space::Outbox, Space::Dead] {
            *counts.slot(space).expect("a counted space") =
                tree.scan_prefix(space.key(&[])).count();
        }
        for entry in tree.scan_prefix(Space::Tickets.key(&[])) {
            let (key, value) = entry?;
            if let Some(status) = ticket_status(&key, &value) {
                *counts.tickets.entry(status).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// Whether a write to `key` moves the counts (and so needs the key's old value).
    pub(super) fn tracks(key: &[u8]) -> bool {
        counted_space(key).is_some()
    }

    /// Moves the counts by one write about to be applied: `key` becomes `value` (`None`
    /// deletes), where `old` is what the key holds now.
    pub(super) fn apply(&mut self, key: &[u8], old: Option<&[u8]>, value: Option<&[u8]>) {
        let Some(space) = counted_space(key) else {
            return;
        };
        if space == Space::Tickets {
            if let Some(status) = old.and_then(|old| ticket_status(key, old))
                && let Some(n) = self.tickets.get_mut(&status)
            {
                *n = n.saturating_sub(1);
            }
            if let Some(status) = value.and_then(|value| ticket_status(key, value)) {
                *self.tickets.entry(status).or_default() += 1;
            }
            return;
        }
        if let Some(slot) = self.slot(space) {
            match (old.is_some(), value.is_some()) {
                (false, true) => *slot += 1,
                (true, false) => *slot = slot.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn slot(&mut self, space: Space) -> Option<&mut usize> {
        match space {
            Space::Inbox => Some(&mut self.inbox),
            Space::Jobs => Some(&mut self.jobs),
            Space::Outbox => Some(&mut self.outbox),
            Space::Dead => Some(&mut self.dead),
            _ => None,
        }
    }
}

/// A ticket record's status class; `None` for a record this build cannot read, which is left
/// out of the counts rather than failing the write that replaces it.
fn ticket_status(key: &[u8], bytes: &[u8]) -> Option<StatusClass> {
    decode::<StatusOnly>(Space::Tickets, key, bytes)
        .map(|record| record.view.status)
        .ok()
}
