//! How many records the work queues and the ticket table hold, and since when the oldest record
//! of each queue waits, kept up to date as each write is applied, so `/healthz` and `/metrics`
//! cost O(1) instead of a scan of the store per request.
//!
//! The counts are saved in the store itself, in the same batch as every write that moves them, so
//! what is on disk after a crash (a prefix of the batches, each whole) always holds the counts of
//! exactly those records, and opening a store reads the ticket table's counts instead of every
//! ticket (a million mappings took 7.5 s). The queues, short by nature, are read at open for
//! their records' ages. Only a store whose saved counts may be stale has its tickets counted
//! again: one written before the counts were saved, or opened in between by a build that does
//! not keep them (told by the boot number the counts carry).

use super::keys::Space;
use super::{Result, decode};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use teledesk_adapter::StatusClass;
use time::OffsetDateTime;

/// Record counts of the work queues, and tickets by status class.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Counts {
    pub inbox: usize,
    pub jobs: usize,
    pub outbox: usize,
    /// Tickets marked to be read again from their helpdesk.
    pub dirty: usize,
    pub dead: usize,
    pub tickets: BTreeMap<StatusClass, usize>,
}

/// A work queue, as metrics and `/healthz` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Queue {
    Inbox,
    Jobs,
    Outbox,
    Dirty,
    Dead,
}

impl Queue {
    pub const ALL: [Queue; 5] = [
        Queue::Inbox,
        Queue::Jobs,
        Queue::Outbox,
        Queue::Dirty,
        Queue::Dead,
    ];

    /// The `queue` label.
    pub fn name(self) -> &'static str {
        match self {
            Queue::Inbox => "inbox",
            Queue::Jobs => "jobs",
            Queue::Outbox => "outbox",
            Queue::Dirty => "dirty",
            Queue::Dead => "dead",
        }
    }

    fn of(space: Space) -> Option<Self> {
        match space {
            Space::Inbox => Some(Queue::Inbox),
            Space::Jobs => Some(Queue::Jobs),
            Space::Outbox => Some(Queue::Outbox),
            Space::Dirty => Some(Queue::Dirty),
            Space::Dead => Some(Queue::Dead),
            _ => None,
        }
    }
}

/// The keyspaces whose records are counted.
const COUNTED: [Space; 6] = [
    Space::Inbox,
    Space::Jobs,
    Space::Outbox,
    Space::Dirty,
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

/// The part of a dead letter the ages need.
#[derive(serde::Deserialize)]
struct FailedAt {
    #[serde(with = "time::serde::rfc3339")]
    failed_at: OffsetDateTime,
}

/// Since when each queued record waits, oldest first, so the oldest of a queue is one lookup.
/// A record's time is when this process saw it written; one already queued when the store was
/// opened counts from then (a dead letter from when it failed, which it records). Memory is a
/// key and a time per queued record: queues are drained as they fill, and the records
/// themselves are larger.
#[derive(Debug, Default)]
struct Ages {
    since: HashMap<Vec<u8>, i128>,
    order: BTreeMap<Queue, BTreeSet<(i128, Vec<u8>)>>,
}

impl Ages {
    fn insert(&mut self, queue: Queue, key: &[u8], at: OffsetDateTime) {
        if self.since.contains_key(key) {
            return;
        }
        let at = at.unix_timestamp_nanos();
        self.since.insert(key.to_vec(), at);
        self.order
            .entry(queue)
            .or_default()
            .insert((at, key.to_vec()));
    }

    fn remove(&mut self, queue: Queue, key: &[u8]) {
        if let Some(at) = self.since.remove(key)
            && let Some(order) = self.order.get_mut(&queue)
        {
            order.remove(&(at, key.to_vec()));
        }
    }

    fn oldest(&self, queue: Queue) -> Option<OffsetDateTime> {
        let (at, _) = self.order.get(&queue)?.first()?;
        OffsetDateTime::from_unix_timestamp_nanos(*at).ok()
    }
}

/// One write's effect on the tally, worked out before the write is applied and applied once it
/// is (a write that fails moves nothing).
pub(super) struct Change {
    key: Vec<u8>,
    space: Space,
    old_status: Option<StatusClass>,
    new_status: Option<StatusClass>,
    existed: bool,
    exists: bool,
}

/// What the store keeps counted: [`Counts`], the queued records' ages, and how many dead
/// letters this process has made.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub counts: Counts,
    ages: Ages,
    /// Dead letters written since the store was opened by this process (a counter: it never
    /// goes down when a dead letter is retried or dropped).
    pub buried: u64,
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
    /// Counts everything in `tree`.
    #[cfg(test)]
    pub(super) fn scan(tree: &sled::Tree) -> Result<Self> {
        Ok(Tally::open(tree, None, OffsetDateTime::now_utc())?.0.counts)
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

    /// These counts after `changes`.
    pub(super) fn after(&self, changes: &[Change]) -> Self {
        let mut counts = self.clone();
        for change in changes {
            counts.apply(change);
        }
        counts
    }

    fn apply(&mut self, change: &Change) {
        if change.space == Space::Tickets {
            if let Some(status) = change.old_status
                && let Some(n) = self.tickets.get_mut(&status)
            {
                *n = n.saturating_sub(1);
            }
            if let Some(status) = change.new_status {
                *self.tickets.entry(status).or_default() += 1;
            }
            return;
        }
        if let Some(slot) = self.slot(change.space) {
            match (change.existed, change.exists) {
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
            Space::Dirty => Some(&mut self.dirty),
            Space::Dead => Some(&mut self.dead),
            _ => None,
        }
    }

    /// The number of records in `queue`.
    pub fn of(&self, queue: Queue) -> usize {
        match queue {
            Queue::Inbox => self.inbox,
            Queue::Jobs => self.jobs,
            Queue::Outbox => self.outbox,
            Queue::Dirty => self.dirty,
            Queue::Dead => self.dead,
        }
    }
}

impl Tally {
    /// The tally of `tree` at open, where `boot` is the store's last boot number (before this
    /// run's): the queues are read (records already queued wait from `now`), the tickets counted
    /// only when the saved counts were not kept by the run of that boot. Also says whether it
    /// counted the tickets.
    pub(super) fn open(
        tree: &sled::Tree,
        boot: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(Self, bool)> {
        let mut tally = Self::default();
        for space in [
            Space::Inbox,
            Space::Jobs,
            Space::Outbox,
            Space::Dirty,
            Space::Dead,
        ] {
            let queue = Queue::of(space).expect("a queue");
            for entry in tree.scan_prefix(space.key(&[])) {
                let (key, value) = entry?;
                *tally.counts.slot(space).expect("a counted space") += 1;
                tally
                    .ages
                    .insert(queue, &key, since(space, &key, &value, now));
            }
        }
        let key = Counts::saved_key();
        let saved = match tree.get(&key)? {
            // Unreadable (a later build's status class, say): counted again, not fatal.
            Some(bytes) => decode::<Saved>(Space::Meta, &key, &bytes).ok(),
            None => None,
        };
        match saved {
            Some(saved) if boot.is_some() && Some(saved.boot) == boot => {
                tally.counts.tickets = saved.counts.tickets;
                Ok((tally, false))
            }
            _ => {
                for entry in tree.scan_prefix(Space::Tickets.key(&[])) {
                    let (key, value) = entry?;
                    if let Some(status) = ticket_status(&key, &value) {
                        *tally.counts.tickets.entry(status).or_default() += 1;
                    }
                }
                Ok((tally, true))
            }
        }
    }

    /// Whether a write to `key` moves the tally (and so needs the key's old value).
    pub(super) fn tracks(key: &[u8]) -> bool {
        counted_space(key).is_some()
    }

    /// What a write about to be applied does to the tally: `key` becomes `value` (`None`
    /// deletes), where `old` is what the key holds now.
    pub(super) fn change(key: &[u8], old: Option<&[u8]>, value: Option<&[u8]>) -> Option<Change> {
        let space = counted_space(key)?;
        let status = |bytes: Option<&[u8]>| {
            (space == Space::Tickets)
                .then_some(bytes)
                .flatten()
                .and_then(|bytes| ticket_status(key, bytes))
        };
        Some(Change {
            key: key.to_vec(),
            space,
            old_status: status(old),
            new_status: status(value),
            existed: old.is_some(),
            exists: value.is_some(),
        })
    }

    /// Applies a write's changes, at `now`; `counts` are the counts after them
    /// ([`Counts::after`]), saved with the write.
    pub(super) fn apply(&mut self, changes: Vec<Change>, counts: Counts, now: OffsetDateTime) {
        self.counts = counts;
        for change in changes {
            let Some(queue) = Queue::of(change.space) else {
                continue;
            };
            match (change.existed, change.exists) {
                (false, true) => {
                    self.ages.insert(queue, &change.key, now);
                    if queue == Queue::Dead {
                        self.buried += 1;
                    }
                }
                (true, false) => self.ages.remove(queue, &change.key),
                _ => {}
            }
        }
    }

    /// Since when the oldest record of `queue` waits; `None` when it is empty.
    pub(super) fn oldest(&self, queue: Queue) -> Option<OffsetDateTime> {
        self.ages.oldest(queue)
    }
}

/// Since when a record found at open waits: a dead letter since it failed, anything else since
/// `now` (the records keep no time of their own that says when they were queued).
fn since(space: Space, key: &[u8], value: &[u8], now: OffsetDateTime) -> OffsetDateTime {
    if space == Space::Dead
        && let Ok(letter) = decode::<FailedAt>(space, key, value)
    {
        return letter.failed_at.min(now);
    }
    now
}

/// A ticket record's status class; `None` for a record this build cannot read, which is left
/// out of the counts rather than failing the write that replaces it.
fn ticket_status(key: &[u8], bytes: &[u8]) -> Option<StatusClass> {
    decode::<StatusOnly>(Space::Tickets, key, bytes)
        .map(|record| record.view.status)
        .ok()
}
