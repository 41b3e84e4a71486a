//! How many records the work queues and the ticket table hold, and since when the oldest record
//! of each queue waits, kept up to date as each write is applied, so `/healthz` and `/metrics`
//! cost O(1) instead of a scan of the store per request. Counted once when the store is opened
//! (one scan per start), then moved by the writes.

use super::keys::Space;
use super::{Result, decode};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use teledesk_adapter::StatusClass;
use time::OffsetDateTime;

/// Record counts of the work queues, and tickets by status class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

impl Counts {
    /// Counts everything in `tree`, as opening the store does.
    #[cfg(test)]
    pub(super) fn scan(tree: &sled::Tree) -> Result<Self> {
        Ok(Tally::scan(tree, OffsetDateTime::now_utc())?.counts)
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
    /// Counts everything in `tree` (at open); records already queued wait from `now`.
    pub(super) fn scan(tree: &sled::Tree, now: OffsetDateTime) -> Result<Self> {
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
        for entry in tree.scan_prefix(Space::Tickets.key(&[])) {
            let (key, value) = entry?;
            if let Some(status) = ticket_status(&key, &value) {
                *tally.counts.tickets.entry(status).or_default() += 1;
            }
        }
        Ok(tally)
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

    /// Applies a write's changes, at `now`.
    pub(super) fn apply(&mut self, changes: Vec<Change>, now: OffsetDateTime) {
        for change in changes {
            if change.space == Space::Tickets {
                let tickets = &mut self.counts.tickets;
                if let Some(status) = change.old_status
                    && let Some(n) = tickets.get_mut(&status)
                {
                    *n = n.saturating_sub(1);
                }
                if let Some(status) = change.new_status {
                    *tickets.entry(status).or_default() += 1;
                }
                continue;
            }
            let Some(queue) = Queue::of(change.space) else {
                continue;
            };
            if let Some(slot) = self.counts.slot(change.space) {
                match (change.existed, change.exists) {
                    (false, true) => {
                        *slot += 1;
                        self.ages.insert(queue, &change.key, now);
                        if queue == Queue::Dead {
                            self.buried += 1;
                        }
                    }
                    (true, false) => {
                        *slot = slot.saturating_sub(1);
                        self.ages.remove(queue, &change.key);
                    }
                    _ => {}
                }
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
