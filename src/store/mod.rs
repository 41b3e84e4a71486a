//! The store: the only module that touches sled.
//!
//! Every kind of record lives in its own keyspace (a typed "tree"). They share one sled tree and
//! are told apart by a one-byte prefix, because a write that must be atomic often spans several
//! of them (drop an inbox update *and* queue the jobs it caused *and* update a dialogue), and a
//! single-tree `Batch` is sled's simplest all-or-nothing write.
//!
//! Writes go through [`Store::write`]: it serializes writers with a mutex, lets the closure read
//! the current state (including its own pending writes) and applies everything it wrote as one
//! batch. Durability points call [`Store::flush`].

mod backup;
mod counts;
mod files;
mod keys;
mod packed;

pub use backup::{BackupError, BackupSummary, EXPORT_FORMAT, control_socket};
use counts::Tally;
pub use counts::{Counts, Queue};
pub use files::{Shelf, StoredFiles, Unrecorded};

use crate::model::{
    AlbumItem, DeadLetter, Dialogue, Dirty, DmState, Job, LocalId, Outgoing, PendingForward,
    Submission, TicketLink,
};
use keys::{Space, i32_key, i64_key, u64_key};
use packed::{BY_AUTHOR, BY_CHAT, BY_HELPDESK, MESSAGES, Packed};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use teledesk_adapter::{Cursor, TicketId};

/// sled's page cache. Its default (1 GB) is what the daemon's memory grew to once a large store
/// had been read through at start (1,019 MB RSS with a million mappings, BENCHMARKS.md); the
/// records teledesk reads often (queues, the tickets being worked on) fit in far less, and the
/// kernel's page cache keeps the rest of the file close anyway.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// The sled configuration the store opens its directory with. Public for the pipeline
/// benchmark's bare sled program, which opens the same directory the same way to tell sled's own
/// memory from the daemon's.
pub fn sled_config(dir: &Path) -> sled::Config {
    // No background flusher: durability points flush explicitly, and an I/O error then surfaces
    // in a call of ours, which stops all use of sled (see `Store::tree`), instead of in a
    // background thread while a reader walks the tree.
    sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .cache_capacity(CACHE_BYTES)
}

/// The one sled tree every keyspace lives in (see the module's documentation).
pub const TREE: &str = "teledesk";

/// The schema this build reads and writes. A store of an older schema is migrated when it is
/// opened (see [`migrate`]); one of a newer schema is refused.
///
/// 1. The keyspaces of [`Space`], with the indexes by chat, by author and by album age each
///    built once, as a meta flag recorded.
/// 2. Those indexes are part of the layout: every store has them, and the flags are gone.
/// 3. The indexes by chat, by author, by helpdesk id and by message are packed (see
///    [`packed`]): a few keys per owner instead of one per ticket or message.
pub const SCHEMA_VERSION: u64 = 3;

/// A store failure: the disk, or a record this build cannot read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {space}/{key} is unreadable: {source}")]
    Corrupt {
        space: &'static str,
        key: String,
        source: serde_json::Error,
    },
    #[error(
        "the store at {path} was written by a newer teledesk (schema version {found}; this one \
         reads versions up to {expected}): run the release that wrote it, or move the directory \
         away and restore a backup with `teledesk import`"
    )]
    Schema {
        path: String,
        found: u64,
        expected: u64,
    },
    /// `teledesk import` did not finish writing this store: it holds part of a backup.
    #[error(
        "the store at {path} holds an import that did not finish; run `teledesk import --replace` \
         again with the backup"
    )]
    ImportIncomplete { path: String },
    /// The store is being opened again after a failure.
    #[error("the store is being opened again after a failure")]
    Unavailable,
    /// Not a failure: the caller abandons the transaction on purpose (an update that must wait),
    /// and returning an error is what makes [`Store::write`] drop its writes.
    #[error("the transaction was abandoned on purpose")]
    Deferred,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The persistent state of the daemon.
pub struct Store {
    dir: PathBuf,
    /// `None` only while the database is being opened again after a failure.
    handle: RwLock<Option<Handle>>,
    write_lock: Mutex<()>,
    boot: AtomicU64,
    /// Why the store stopped working, until [`Store::recover`] opens it again.
    failure: Mutex<Option<String>>,
    /// Record counts and queue ages, moved by every applied write (see [`Counts`]).
    tally: Mutex<Tally>,
    /// Uploads and staff files too large for records, beside the database.
    files: StoredFiles,
    /// Held while a flush is under way: see [`Store::flush`].
    flushing: tokio::sync::Mutex<()>,
    /// Batches applied so far, and how many of them the last flush made durable: a flush that
    /// waited for another finds its writes flushed already when they came before that one began.
    applied: AtomicU64,
    flushed: AtomicU64,
    /// What the store is opened for.
    mode: Mode,
}

/// What a process opens the store for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The daemon, or a tool that acts on its queues: a new boot begins.
    Run,
    /// `teledesk export`: reads only, so no boot is counted and the backup shows the store as
    /// the daemon left it.
    Export,
    /// `teledesk import`: may open a store an unfinished import left.
    Import,
}

struct Handle {
    db: sled::Db,
    tree: sled::Tree,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("boot", &self.boot()).finish()
    }
}

/// Where a Mini App upload's bytes are.
#[derive(Debug)]
pub enum UploadAt {
    /// A file on the uploads shelf.
    Stored(String),
    /// In the record (stores written before uploads were kept as files).
    Inline(Vec<u8>),
}

impl Store {
    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files kept beside the database.
    pub fn files(&self) -> &StoredFiles {
        &self.files
    }

    /// Opens (or creates) the store in `dir` and starts a new boot (process run).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_as(dir, Mode::Run)
    }

    /// Opens the store to export it: migrated like any open, but no new boot is counted.
    pub fn open_for_export(dir: &Path) -> Result<Self> {
        Self::open_as(dir, Mode::Export)
    }

    /// Opens (or creates) the store to import a backup into it, even one an unfinished import
    /// left; no boot is counted (the backup brings its own).
    pub fn open_for_import(dir: &Path) -> Result<Self> {
        Self::open_as(dir, Mode::Import)
    }

    fn open_as(dir: &Path, mode: Mode) -> Result<Self> {
        let store = Self {
            mode,
            dir: dir.to_owned(),
            handle: RwLock::new(None),
            write_lock: Mutex::new(()),
            boot: AtomicU64::new(0),
            failure: Mutex::new(None),
            tally: Mutex::new(Tally::default()),
            files: StoredFiles::new(dir),
            flushing: tokio::sync::Mutex::new(()),
            applied: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
        };
        store.start()?;
        Ok(store)
    }

    /// Opens the database and counts a new boot: whatever was in flight before may or may not
    /// have happened, exactly as after a restart of the process.
    fn start(&self) -> Result<()> {
        let db = open_locked(&sled_config(&self.dir))?;
        let tree = db.open_tree(TREE)?;
        let last_boot = tree
            .get(Space::Meta.key(META_BOOT.as_bytes()))?
            .map(|bytes| {
                let key = Space::Meta.key(META_BOOT.as_bytes());
                decode::<u64>(Space::Meta, &key, &bytes)
            })
            .transpose()?;
        let (mut tally, scanned) = Tally::open(&tree, last_boot, time::OffsetDateTime::now_utc())?;
        if scanned && last_boot.is_some() {
            tracing::info!("Counted the store's tickets (no saved counts to trust).");
        }
        let counts = tally.counts.clone();
        // Dead letters made before a recovery were made by this process all the same.
        tally.buried = self.tally().buried;
        *self.tally() = tally;
        *self.handle.write().unwrap_or_else(|e| e.into_inner()) = Some(Handle {
            db: db.clone(),
            tree: tree.clone(),
        });
        let path = self.dir.display().to_string();
        // Written to the new tree directly: the failure that made us open it again still
        // stands until this boot is on disk.
        let count_boot = self.mode == Mode::Run;
        let boot = self.upgrade(&tree, &path).and_then(|()| {
            self.write_to(Some(tree), |tx| {
                if !count_boot {
                    return Ok(tx.meta_u64(META_BOOT)?.unwrap_or(0));
                }
                let boot = tx.meta_u64(META_BOOT)?.unwrap_or(0) + 1;
                tx.put_meta_u64(META_BOOT, boot);
                // With the boot: the counts are this run's from here on (see `Tally::open`).
                tx.pending
                    .insert(Counts::saved_key(), Some(counts.saved_value(boot)));
                Ok(boot)
            })
        });
        let boot = boot.and_then(|boot| Ok(db.flush().map(|_| boot)?));
        match boot {
            Ok(boot) => {
                self.boot.store(boot, Ordering::SeqCst);
                Ok(())
            }
            Err(error) => {
                *self.handle.write().unwrap_or_else(|e| e.into_inner()) = None;
                Err(error)
            }
        }
    }

    /// This process run's number: jobs queued by an earlier run may have been in flight. It
    /// grows when the store is opened again after a failure, for the same reason.
    pub fn boot(&self) -> u64 {
        self.boot.load(Ordering::SeqCst)
    }

    /// Why the store cannot be used right now (a write or flush failed: a full disk, an I/O
    /// error), or `None` while it works. Loops take no new work while it is set.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Remembers the first failure. sled keeps its first I/O error and fails every later write
    /// with it, so the store must be opened again ([`Store::recover`]) to work again.
    fn fail(&self, error: &StoreError) {
        if matches!(error, StoreError::Sled(_)) {
            let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
            if failure.is_none() {
                tracing::error!(%error, "The store failed; work stops until it can be written again.");
                *failure = Some(error.to_string());
            }
        }
    }

    /// Opens the database again after a failure: what had not reached the disk is gone, as in a
    /// crash, and a new boot begins (so jobs of the old one look for their earlier writes before
    /// repeating them). Fails while the disk still refuses, or while transactions begun before
    /// it still hold the old database (sled locks its directory): the caller tries again later.
    pub fn recover(&self) -> Result<()> {
        let _writer = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let old = self
            .handle
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(old);
        drop(_writer);
        self.start()?;
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
        tracing::info!(boot = self.boot(), "The store works again.");
        Ok(())
    }

    /// The tree, unless the store failed. sled must not be touched after an I/O error: it keeps
    /// failing, and a read that meets a node it wants to split retries that split without end
    /// (seen here: a `/healthz` scan spinning, gigabytes of memory), so a failed store answers
    /// every call with [`StoreError::Unavailable`] until it is opened again.
    fn tree(&self) -> Option<sled::Tree> {
        if self.failure().is_some() {
            return None;
        }
        self.handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|h| h.tree.clone())
    }

    /// Makes everything written so far durable.
    ///
    /// One flush at a time: sled 0.34 deadlocks when several `flush_async` calls run at once
    /// while a batch is applied (spacejam/sled#1308, fixed on its main branch but never
    /// released): each call takes a thread of sled's I/O pool and waits for a shared lock the
    /// batch queues behind, until none is left to write the buffer the first one waits for. The
    /// daemon, whose loops and jobs each flush, stopped that way for good with 20 tickets worked
    /// on at once (`benches/pipeline`, inbound on Znuny). Callers that waited while one flush
    /// ran share the next (a group commit), and find their writes flushed already when they
    /// came before the last one began: one at a time costs no more disk syncs than before.
    pub async fn flush(&self) -> Result<()> {
        let mine = self.applied.load(Ordering::SeqCst);
        let _one_at_a_time = self.flushing.lock().await;
        if self.flushed.load(Ordering::SeqCst) >= mine && self.failure().is_none() {
            return Ok(());
        }
        let covers = self.applied.load(Ordering::SeqCst);
        let db = self
            .handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|h| h.db.clone())
            .filter(|_| self.failure().is_none());
        let Some(db) = db else {
            return Err(StoreError::Unavailable);
        };
        let flushed = db.flush_async().await.map_err(StoreError::from);
        match &flushed {
            Ok(_) => self.flushed.fetch_max(covers, Ordering::SeqCst),
            Err(error) => {
                self.fail(error);
                0
            }
        };
        flushed.map(|_| ())
    }

    /// Runs `f` with exclusive write access and applies everything it wrote atomically. If `f`
    /// fails, nothing it wrote is applied.
    pub fn write<R>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<R>) -> Result<R> {
        self.write_to(self.tree(), f)
    }

    fn write_to<R>(
        &self,
        tree: Option<sled::Tree>,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R>,
    ) -> Result<R> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut tx = Tx {
            tree,
            boot: self.boot(),
            pending: BTreeMap::new(),
            unlink: Vec::new(),
            deferred: None,
            _store: std::marker::PhantomData,
        };
        let result = f(&mut tx);
        let result = result.and_then(|r| match tx.deferred.take() {
            Some(error) => Err(error),
            None => Ok(r),
        });
        let result = result.and_then(|r| {
            if !tx.pending.is_empty() {
                let tree = tx.tree()?.clone();
                let mut changes = Vec::new();
                let mut batch = sled::Batch::default();
                for (key, value) in std::mem::take(&mut tx.pending) {
                    if Tally::tracks(&key) {
                        let old = tree.get(&key)?;
                        changes.extend(Tally::change(&key, old.as_deref(), value.as_deref()));
                    }
                    match value {
                        Some(value) => batch.insert(key, value),
                        None => batch.remove(key),
                    }
                }
                let counts = self.tally().counts.after(&changes);
                // An import writes the backup's own saved counts (with the boot they belong to)
                // among its records; its batches must not overwrite them with a boot of none.
                if !changes.is_empty() && self.mode == Mode::Run {
                    // In the same batch: on disk the counts always match the records.
                    batch.insert(Counts::saved_key(), counts.saved_value(tx.boot));
                }
                tree.apply_batch(batch)?;
                self.applied.fetch_add(1, Ordering::SeqCst);
                // Under the write lock: no other write can come between the batch and its counts.
                self.tally()
                    .apply(changes, counts, time::OffsetDateTime::now_utc());
            }
            // Only once no record names them any more.
            for name in std::mem::take(&mut tx.unlink) {
                self.files.remove(&name);
            }
            Ok(r)
        });
        if let Err(error) = &result {
            self.fail(error);
        }
        result
    }

    /// How many records the queues and the ticket table hold, without reading the store.
    pub fn counts(&self) -> Counts {
        self.tally().counts.clone()
    }

    /// Since when the oldest record of each queue waits (absent: the queue is empty), without
    /// reading the store.
    pub fn oldest(&self) -> BTreeMap<Queue, time::OffsetDateTime> {
        let tally = self.tally();
        Queue::ALL
            .into_iter()
            .filter_map(|queue| Some((queue, tally.oldest(queue)?)))
            .collect()
    }

    /// Dead letters this process has made (a counter: retrying or dropping one does not lower it).
    pub fn buried(&self) -> u64 {
        self.tally().buried
    }

    /// The database's size on disk, in bytes. Reads the file sizes (not the records), so it is
    /// cheap but not free: callers sample it now and then.
    pub fn size_on_disk(&self) -> Result<u64> {
        let db = self
            .handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|h| h.db.clone())
            .filter(|_| self.failure().is_none())
            .ok_or(StoreError::Unavailable)?;
        Ok(db.size_on_disk()?)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A read-only view of the current state.
    pub fn read(&self) -> Tx<'_> {
        Tx {
            tree: self.tree(),
            boot: self.boot(),
            pending: BTreeMap::new(),
            unlink: Vec::new(),
            deferred: None,
            _store: std::marker::PhantomData,
        }
    }
}

/// Opens the database, waiting a little for its lock. sled locks the directory with `flock`,
/// which belongs to the open file, and a child process forked at that moment holds a copy of it
/// until it executes its program: the lock outlives a close by that long (seen in tests that
/// start processes while others reopen a store), and a process restarting at once can meet its
/// predecessor's lock the same way. Another process that keeps the store is still refused.
fn open_locked(config: &sled::Config) -> Result<sled::Db> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(2);
    let started = std::time::Instant::now();
    loop {
        match config.open() {
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock")
                    && started.elapsed() < WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return Ok(opened?),
        }
    }
}

const META_SCHEMA: &str = "schema_version";
const META_BOOT: &str = "boot";
const META_SEQ: &str = "seq";
const META_TG_OFFSET: &str = "telegram_offset";
/// The last inbox position handed out (see [`Tx::accept_update`]).
const META_INBOX_ARRIVAL: &str = "inbox_arrival";
/// Schema 1: set once the ticket indexes by chat and by author covered every ticket.
const META_TICKET_INDEXES: &str = "ticket_indexes";
/// Schema 1: set once every remembered album was in [`Space::AlbumsByAge`].
const META_ALBUM_INDEX: &str = "album_index";
/// Set while `teledesk import` writes a backup into the store, so that nothing runs on half of
/// one.
const META_IMPORTING: &str = "importing";

/// Ticket records, message keys or old index keys each migration batch reads: one batch is one
/// transaction, whose pending writes stay in memory until it is applied, and a store of a million
/// mappings has millions of them.
const MIGRATION_BATCH: usize = if cfg!(test) { 16 } else { 10_000 };

#[cfg(test)]
thread_local! {
    /// Test hook: the migration stops (as if the process died) once this many batches are
    /// applied.
    static MIGRATION_BATCHES_LEFT: std::cell::Cell<Option<usize>> =
        const { std::cell::Cell::new(None) };
}

/// A migration batch was applied: the test hook may stop the migration here.
fn migration_batch_applied() -> Result<()> {
    #[cfg(test)]
    if let Some(left) = MIGRATION_BATCHES_LEFT.with(|l| l.get()) {
        if left == 0 {
            return Err(StoreError::Sled(sled::Error::Unsupported(
                "the test stopped the migration".into(),
            )));
        }
        MIGRATION_BATCHES_LEFT.with(|l| l.set(Some(left - 1)));
    }
    Ok(())
}

impl Store {
    /// Readies the store for use at open: refuses one an unfinished import left (unless opened
    /// to import again, which replaces it) and migrates it to [`SCHEMA_VERSION`].
    fn upgrade(&self, tree: &sled::Tree, path: &str) -> Result<()> {
        let importing = self.write_to(Some(tree.clone()), |tx| tx.meta_u64(META_IMPORTING))?;
        match importing {
            Some(_) if self.mode == Mode::Import => Ok(()),
            Some(_) => Err(StoreError::ImportIncomplete {
                path: path.to_owned(),
            }),
            None => self.migrate(Some(tree.clone()), path),
        }
    }

    /// Brings the store to [`SCHEMA_VERSION`], one version at a time, each migration writing its
    /// version last (so a crash leaves the old version, and the migration runs again at the
    /// next open). A new store starts at the current version; a store whose version is newer is
    /// refused before anything is written.
    fn migrate(&self, tree: Option<sled::Tree>, path: &str) -> Result<()> {
        let found = self.write_to(tree.clone(), |tx| {
            Ok(match tx.meta_u64(META_SCHEMA)? {
                Some(found) => found,
                // Nothing but what this open is about to write: a new store.
                None if tx.tree()?.is_empty() => SCHEMA_VERSION,
                // Records without a version: the first schema, which wrote its version only
                // later.
                None => 1,
            })
        })?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Schema {
                path: path.to_owned(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
        for from in found..SCHEMA_VERSION {
            match from {
                1 => self.write_to(tree.clone(), |tx| {
                    migrate_1_to_2(tx)?;
                    tx.put_meta_u64(META_SCHEMA, 2);
                    Ok(())
                })?,
                2 => {
                    // About 80 s for a million tickets on 2 cores: say why the start waits.
                    tracing::info!("Packing the store's indexes (schema 3); this runs once.");
                    self.migrate_2_to_3(tree.clone())?;
                    // sled 0.34 keeps for good what it held for each page it ever had, freed or
                    // not (a migrated store of a million mappings holds what schema 2 held,
                    // ~215 MB; the same records written afresh, ~40 MB): only a new store
                    // sheds it.
                    tracing::info!(
                        "The store's indexes are packed. Its memory drops only in a new store: \
                         export it, move its directory aside and import the backup."
                    );
                }
                _ => unreachable!("a migration for every schema below SCHEMA_VERSION"),
            }
            tracing::info!(from, to = from + 1, "Migrated the store.");
        }
        self.write_to(tree, |tx| {
            if tx.meta_u64(META_SCHEMA)? != Some(SCHEMA_VERSION) {
                tx.put_meta_u64(META_SCHEMA, SCHEMA_VERSION);
            }
            Ok(())
        })
    }

    /// Schema 2 → 3: the ticket indexes and the message index become packed (see [`packed`]).
    ///
    /// In bounded batches, each one transaction: every ticket record is filed in the packed
    /// indexes by chat, by author and by helpdesk id; each schema-2 message key is filed in the
    /// packed message index and deleted in the same batch; the schema-2 index keys by chat, by
    /// author and by helpdesk id are deleted; last, the version is written.
    ///
    /// Safe to stop at any point (a crash, a full disk): sled recovers a prefix of the applied
    /// batches, so until the version is on disk the store says schema 2, and the next open runs
    /// this again from the start over what the stopped run left. Every step can be repeated:
    /// filing an entry already filed writes nothing, a message key is gone only once its entry
    /// is filed (the same batch), and the old index keys are read by nothing here (the packed
    /// indexes are built from the ticket records), so deleting part of them loses nothing.
    fn migrate_2_to_3(&self, tree: Option<sled::Tree>) -> Result<()> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let last = self.write_to(tree.clone(), |tx| {
                let start = match &after {
                    Some(key) => std::ops::Bound::Excluded(key.clone()),
                    None => std::ops::Bound::Included(Space::Tickets.key(&[])),
                };
                let end = std::ops::Bound::Excluded(vec![Space::Tickets.byte() + 1]);
                let records = tx
                    .tree()?
                    .range::<Vec<u8>, _>((start, end))
                    .take(MIGRATION_BATCH)
                    .collect::<Result<Vec<_>, _>>()?;
                for (key, value) in &records {
                    match decode::<Indexed>(Space::Tickets, key, value) {
                        Ok(now) => tx.index_ticket(keys::read_u64(&key[1..]), None, &now)?,
                        // Nothing to file it by; the record stays for whoever reads it.
                        Err(error) => tracing::warn!(%error, "Left a ticket out of the indexes."),
                    }
                }
                Ok(records.last().map(|(key, _)| key.to_vec()))
            })?;
            migration_batch_applied()?;
            match last {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        loop {
            let moved = self.write_to(tree.clone(), |tx| {
                let records = tx
                    .tree()?
                    .scan_prefix(Space::Messages.key(&[]))
                    .take(MIGRATION_BATCH)
                    .collect::<Result<Vec<_>, _>>()?;
                for (key, value) in &records {
                    let (chat_id, message_id) = keys::read_message_key(&key[1..]);
                    match decode::<LocalId>(Space::Messages, key, value) {
                        Ok(local) => tx.file_message(chat_id, message_id, local)?,
                        Err(error) => tracing::warn!(%error, "Dropped an unreadable message key."),
                    };
                    tx.pending.insert(key.to_vec(), None);
                }
                Ok(records.len())
            })?;
            migration_batch_applied()?;
            if moved == 0 {
                break;
            }
        }
        for space in [
            Space::ByHelpdesk,
            Space::TicketsByChat,
            Space::TicketsByAuthor,
        ] {
            loop {
                let deleted = self.write_to(tree.clone(), |tx| {
                    let keys = tx
                        .tree()?
                        .scan_prefix(space.key(&[]))
                        .keys()
                        .take(MIGRATION_BATCH)
                        .collect::<Result<Vec<_>, _>>()?;
                    for key in &keys {
                        tx.pending.insert(key.to_vec(), None);
                    }
                    Ok(keys.len())
                })?;
                migration_batch_applied()?;
                if deleted == 0 {
                    break;
                }
            }
        }
        self.write_to(tree, |tx| {
            tx.put_meta_u64(META_SCHEMA, 3);
            Ok(())
        })
    }
}

/// The album index schema 1 built on demand (as its flag recorded) becomes part of the layout.
/// Its ticket indexes are left to [`Store::migrate_2_to_3`], which files every ticket anew.
fn migrate_1_to_2(tx: &mut Tx<'_>) -> Result<()> {
    if tx.meta_u64(META_ALBUM_INDEX)?.is_none() {
        tx.index_unindexed_albums()?;
    }
    tx.delete(Space::Meta, META_TICKET_INDEXES.as_bytes());
    tx.delete(Space::Meta, META_ALBUM_INDEX.as_bytes());
    Ok(())
}

/// What the indexes file a ticket by: the part of its record they need.
#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
struct Indexed {
    helpdesk: String,
    ticket_id: Option<TicketId>,
    chat_id: i64,
    author: IndexedAuthor,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
struct IndexedAuthor {
    telegram_id: i64,
}

impl Indexed {
    fn of(link: &TicketLink) -> Self {
        Self {
            helpdesk: link.helpdesk.clone(),
            ticket_id: link.ticket_id.clone(),
            chat_id: link.chat_id,
            author: IndexedAuthor {
                telegram_id: link.author.telegram_id,
            },
        }
    }
}

/// The group a helpdesk's ids are filed under.
fn helpdesk_group(helpdesk: &str) -> [u8; 8] {
    teledesk_adapter::stable_hash(helpdesk.as_bytes()).to_be_bytes()
}

/// A ticket's entry in [`BY_HELPDESK`].
fn helpdesk_entry(id: &TicketId, local: LocalId) -> [u8; 16] {
    let mut entry = [0u8; 16];
    entry[..8].copy_from_slice(&packed::id_hash(&id.0).to_be_bytes());
    entry[8..].copy_from_slice(&u64_key(local));
    entry
}

/// Reads and writes inside [`Store::write`] (or reads on [`Store::read`]).
pub struct Tx<'a> {
    /// `None` while the store is being opened again: every read fails with
    /// [`StoreError::Unavailable`] instead of answering "nothing there".
    tree: Option<sled::Tree>,
    boot: u64,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Stored files the records this write drops named, removed once the write is applied.
    unlink: Vec<String>,
    /// A read failed in a write whose signature has no room for the error (see [`Tx::defer`]):
    /// the transaction fails when it ends, and nothing it wrote is applied.
    deferred: Option<StoreError>,
    _store: std::marker::PhantomData<&'a Store>,
}

impl Tx<'_> {
    fn tree(&self) -> Result<&sled::Tree> {
        self.tree.as_ref().ok_or(StoreError::Unavailable)
    }

    fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(value) = self.pending.get(key) {
            return Ok(value.clone());
        }
        Ok(self.tree()?.get(key)?.map(|v| v.to_vec()))
    }

    fn get<T: DeserializeOwned>(&self, space: Space, key: &[u8]) -> Result<Option<T>> {
        let full = space.key(key);
        match self.raw_get(&full)? {
            None => Ok(None),
            Some(bytes) => decode(space, &full, &bytes).map(Some),
        }
    }

    fn put<T: Serialize>(&mut self, space: Space, key: &[u8], value: &T) {
        let bytes = serde_json::to_vec(value).expect("records always serialize");
        self.pending.insert(space.key(key), Some(bytes));
    }

    fn delete(&mut self, space: Space, key: &[u8]) {
        self.pending.insert(space.key(key), None);
    }

    /// Every record of `space` whose key starts with `prefix`, in key order, with the key minus
    /// the space byte. Pending writes of this transaction are merged in.
    fn scan<T: DeserializeOwned>(&self, space: Space, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>> {
        self.scan_raw(&space.key(prefix))?
            .into_iter()
            .map(|(key, bytes)| {
                let value = decode(space, &key, &bytes)?;
                Ok((key[1..].to_vec(), value))
            })
            .collect()
    }

    /// Every record whose whole key starts with `start`, in key order, as stored. Pending writes
    /// of this transaction are merged in.
    fn scan_raw(&self, start: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for entry in self.tree()?.scan_prefix(start) {
            let (key, value) = entry?;
            merged.insert(key.to_vec(), value.to_vec());
        }
        for (key, value) in self.pending.range(start.to_vec()..) {
            if !key.starts_with(start) {
                break;
            }
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// Fails the transaction when it ends (see [`Tx::deferred`]); the first error is kept.
    fn defer(&mut self, error: StoreError) {
        self.deferred.get_or_insert(error);
    }

    /// The keys of `space` that start with `prefix`, in order, minus the space byte; for index
    /// spaces, whose values carry nothing. Pending writes of this transaction are merged in.
    fn scan_keys(&self, space: Space, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let start = space.key(prefix);
        let mut merged = std::collections::BTreeSet::new();
        for entry in self.tree()?.scan_prefix(&start) {
            let (key, _) = entry?;
            merged.insert(key.to_vec());
        }
        for (key, value) in self.pending.range(start.clone()..) {
            if !key.starts_with(&start) {
                break;
            }
            match value {
                Some(_) => merged.insert(key.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().map(|key| key[1..].to_vec()).collect())
    }

    fn meta_u64(&self, name: &str) -> Result<Option<u64>> {
        self.get(Space::Meta, name.as_bytes())
    }

    fn put_meta_u64(&mut self, name: &str, value: u64) {
        self.put(Space::Meta, name.as_bytes(), &value);
    }

    /// A fresh number, unique for the life of the store (ticket local ids, queue order).
    pub fn next_seq(&mut self) -> Result<u64> {
        let next = self.meta_u64(META_SEQ)?.unwrap_or(0) + 1;
        self.put_meta_u64(META_SEQ, next);
        Ok(next)
    }

    // --- Telegram intake ---------------------------------------------------------------

    /// The `getUpdates` offset to ask with: one past the newest update of the last batch taken.
    pub fn telegram_offset(&self) -> Result<i64> {
        Ok(self
            .get(Space::Meta, META_TG_OFFSET.as_bytes())?
            .unwrap_or(0))
    }

    pub fn set_telegram_offset(&mut self, offset: i64) {
        self.put(Space::Meta, META_TG_OFFSET.as_bytes(), &offset);
    }

    /// Takes a Telegram update into the inbox, unless it is one taken before: the same
    /// `update_id` with the same content among the last [`SEEN_UPDATES`] arrivals. Returns whether
    /// it was new.
    ///
    /// Telegram's ids are not assumed to grow: after a week without updates Telegram picks the
    /// next id at random (Bot API, `Update.update_id`), so a lower id is new work, and an id seen
    /// long ago with other content is a new update that happens to share it. The inbox is kept in
    /// arrival order, not id order, for the same reason.
    pub fn accept_update(&mut self, update_id: i64, update: &serde_json::Value) -> Result<bool> {
        // Telegram sends a repeated update byte for byte the same.
        let digest = crate::model::json_digest(update);
        let seen: Option<SeenUpdate> = self.get(Space::SeenUpdates, &i64_key(update_id))?;
        if seen.is_some_and(|s| s.digest == digest) {
            return Ok(false);
        }
        let arrival = self.next_arrival()?;
        self.put(Space::Inbox, &u64_key(arrival), update);
        self.put(
            Space::SeenUpdates,
            &i64_key(update_id),
            &SeenUpdate { digest, arrival },
        );
        self.put(Space::SeenOrder, &u64_key(arrival), &update_id);
        self.forget_old_arrivals(arrival)?;
        Ok(true)
    }

    /// The next inbox position. A store written before arrival order keyed Telegram updates by
    /// their id, so the count starts past the highest of those still waiting.
    fn next_arrival(&mut self) -> Result<u64> {
        let last = match self.meta_u64(META_INBOX_ARRIVAL)? {
            Some(last) => last,
            None => {
                let start = Space::Inbox.key(&[]);
                let end = Space::Inbox.key(&u64_key(APP_INBOX_BASE));
                match self.tree()?.range(start..end).next_back() {
                    Some(entry) => keys::read_u64(&entry?.0[1..]),
                    None => 0,
                }
            }
        };
        let next = last
            .checked_add(1)
            .filter(|n| *n < APP_INBOX_BASE)
            .expect("fewer than 2^62 inbox arrivals");
        self.put_meta_u64(META_INBOX_ARRIVAL, next);
        Ok(next)
    }

    /// Keeps the memory of taken update ids to the last [`SEEN_UPDATES`] arrivals: one or two
    /// deletions per arrival, never a scan.
    fn forget_old_arrivals(&mut self, newest: u64) -> Result<()> {
        let Some(horizon) = newest.checked_sub(SEEN_UPDATES) else {
            return Ok(());
        };
        let start = Space::SeenOrder.key(&[]);
        let end = Space::SeenOrder.key(&u64_key(horizon.saturating_add(1)));
        let mut old: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(2);
        for entry in self.tree()?.range(start..end) {
            let (key, value) = entry?;
            // Forgotten already by an earlier arrival of this transaction.
            if matches!(self.pending.get(key.as_ref()), Some(None)) {
                continue;
            }
            old.push((key.to_vec(), value.to_vec()));
            if old.len() == 2 {
                break;
            }
        }
        for (key, value) in old {
            let arrival = keys::read_u64(&key[1..]);
            let update_id: i64 = decode(Space::SeenOrder, &key, &value)?;
            self.delete(Space::SeenOrder, &key[1..]);
            let seen: Option<SeenUpdate> = self.get(Space::SeenUpdates, &i64_key(update_id))?;
            // A later arrival with the same id owns the entry now.
            if seen.is_some_and(|s| s.arrival == arrival) {
                self.delete(Space::SeenUpdates, &i64_key(update_id));
            }
        }
        Ok(())
    }

    /// The oldest inbox updates, oldest first. A record that is not JSON (a damaged disk, a bug)
    /// comes back as its raw text, for the caller to set aside instead of stalling on it.
    pub fn inbox(&self, limit: usize) -> Result<Vec<(u64, Result<serde_json::Value, String>)>> {
        self.inbox_after(None, limit)
    }

    /// Like [`Tx::inbox`], from the first update after position `after` (a page of a long inbox).
    pub fn inbox_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Result<serde_json::Value, String>)>> {
        let start = match after {
            Some(position) => match position.checked_add(1) {
                Some(next) => Space::Inbox.key(&u64_key(next)),
                None => return Ok(Vec::new()),
            },
            None => Space::Inbox.key(&[]),
        };
        let end = Space::Inbox.key(&[0xff; 9]);
        let mut out = Vec::new();
        for entry in self.tree()?.range(start..end) {
            let (key, value) = entry?;
            let update = decode(Space::Inbox, &key, &value)
                .map_err(|_| String::from_utf8_lossy(&value).into_owned());
            out.push((keys::read_u64(&key[1..]), update));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Writes bytes that are not an update into the inbox, as a damaged disk would.
    #[cfg(test)]
    pub fn put_unreadable_inbox_record(&mut self, bytes: &[u8]) -> Result<()> {
        let arrival = self.next_arrival()?;
        self.pending
            .insert(Space::Inbox.key(&u64_key(arrival)), Some(bytes.to_vec()));
        Ok(())
    }

    /// Puts an update back at the end of the inbox (`teledesk queue retry`), whatever its id.
    pub fn requeue_update(&mut self, update: &serde_json::Value) -> Result<()> {
        let arrival = self.next_arrival()?;
        self.put(Space::Inbox, &u64_key(arrival), update);
        Ok(())
    }

    pub fn remove_inbox(&mut self, position: u64) {
        self.delete(Space::Inbox, &u64_key(position));
    }

    pub fn inbox_len(&self) -> usize {
        self.tree
            .as_ref()
            .map_or(0, |t| t.scan_prefix(Space::Inbox.key(&[])).count())
    }

    // --- tickets -------------------------------------------------------------------------

    pub fn ticket(&self, local: LocalId) -> Result<Option<TicketLink>> {
        self.get(Space::Tickets, &u64_key(local))
    }

    /// Writes a ticket's record and files it in the indexes. Only what changed is filed again
    /// (tickets are written at every refresh, their chat, author and id seldom change); a
    /// read that fails fails the whole write (see [`Tx::defer`]).
    pub fn put_ticket(&mut self, link: &TicketLink) {
        let key = u64_key(link.local);
        // What the indexes hold for the ticket: what its record said before this write.
        let was = match self.get::<Indexed>(Space::Tickets, &key) {
            Ok(was) => was,
            // A record this build cannot read names nothing to unfile; whatever it left in the
            // indexes is skipped by every read, which checks the record.
            Err(StoreError::Corrupt { .. }) => None,
            Err(error) => return self.defer(error),
        };
        self.put(Space::Tickets, &key, link);
        if let Err(error) = self.index_ticket(link.local, was.as_ref(), &Indexed::of(link)) {
            self.defer(error);
        }
    }

    /// Files ticket `local` under its chat, its author and its helpdesk id, unfiled from what
    /// its record said before (`was`) where that differs.
    fn index_ticket(&mut self, local: LocalId, was: Option<&Indexed>, now: &Indexed) -> Result<()> {
        let entry = u64_key(local);
        let owners = [
            (BY_CHAT, was.map(|w| w.chat_id), now.chat_id),
            (
                BY_AUTHOR,
                was.map(|w| w.author.telegram_id),
                now.author.telegram_id,
            ),
        ];
        for (index, was, now) in owners {
            if was == Some(now) {
                continue;
            }
            if let Some(was) = was {
                self.packed_remove(index, &i64_key(was), &entry)?;
            }
            self.packed_insert(index, &i64_key(now), &entry)?;
        }
        let id_of = |i: &Indexed| (i.helpdesk.clone(), i.ticket_id.clone());
        if was.map(id_of) != Some(id_of(now)) {
            if let Some(Indexed {
                helpdesk,
                ticket_id: Some(id),
                ..
            }) = was
            {
                let entry = helpdesk_entry(id, local);
                self.packed_remove(BY_HELPDESK, &helpdesk_group(helpdesk), &entry)?;
            }
            if let Some(id) = &now.ticket_id {
                let entry = helpdesk_entry(id, local);
                self.packed_insert(BY_HELPDESK, &helpdesk_group(&now.helpdesk), &entry)?;
            }
        }
        Ok(())
    }

    /// The tickets of one chat (as the ticket records name it now), by local id.
    pub fn tickets_in_chat(&self, chat_id: i64) -> Result<Vec<TicketLink>> {
        let links = self.indexed_tickets(BY_CHAT, chat_id)?;
        Ok(links.into_iter().filter(|l| l.chat_id == chat_id).collect())
    }

    /// The tickets one Telegram user opened, by local id.
    pub fn tickets_by_author(&self, user_id: i64) -> Result<Vec<TicketLink>> {
        let links = self.indexed_tickets(BY_AUTHOR, user_id)?;
        Ok(links
            .into_iter()
            .filter(|l| l.author.telegram_id == user_id)
            .collect())
    }

    /// Forgets which tickets were filed under `chat_id`, after they all moved to another chat.
    pub fn drop_chat_index(&mut self, chat_id: i64) -> Result<()> {
        self.packed_drop_group(BY_CHAT, &i64_key(chat_id))
    }

    fn indexed_tickets(&self, index: Packed, owner: i64) -> Result<Vec<TicketLink>> {
        let mut links = Vec::new();
        for entry in self.packed_all(index, &i64_key(owner))? {
            if let Some(link) = self.ticket(keys::read_u64(&entry))? {
                links.push(link);
            }
        }
        Ok(links)
    }

    pub fn tickets(&self) -> Result<Vec<TicketLink>> {
        Ok(self
            .scan(Space::Tickets, &[])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// The local id of a helpdesk ticket teledesk knows.
    pub fn ticket_by_helpdesk(&self, helpdesk: &str, id: &TicketId) -> Result<Option<LocalId>> {
        let hash = packed::id_hash(&id.0).to_be_bytes();
        for entry in self.packed_find(BY_HELPDESK, &helpdesk_group(helpdesk), &hash)? {
            let local = keys::read_u64(&entry[8..]);
            // Another id, or another helpdesk's, may share the hashes: the record says whose
            // ticket this is. One this build cannot read answers for nobody.
            let owner = match self.get::<Indexed>(Space::Tickets, &u64_key(local)) {
                Ok(owner) => owner,
                Err(StoreError::Corrupt { .. }) => None,
                Err(error) => return Err(error),
            };
            if owner.is_some_and(|o| o.helpdesk == helpdesk && o.ticket_id.as_ref() == Some(id)) {
                return Ok(Some(local));
            }
        }
        Ok(None)
    }

    /// Records that a Telegram message belongs to a ticket's thread. A failed read fails the
    /// whole write (see [`Tx::defer`]).
    pub fn index_message(&mut self, chat_id: i64, message_id: i32, local: LocalId) {
        if let Err(error) = self.file_message(chat_id, message_id, local) {
            self.defer(error);
        }
    }

    fn file_message(&mut self, chat_id: i64, message_id: i32, local: LocalId) -> Result<()> {
        let mut entry = [0u8; 12];
        entry[..4].copy_from_slice(&i32_key(message_id));
        entry[4..].copy_from_slice(&u64_key(local));
        self.packed_insert(MESSAGES, &i64_key(chat_id), &entry)?;
        Ok(())
    }

    pub fn ticket_of_message(&self, chat_id: i64, message_id: i32) -> Result<Option<LocalId>> {
        Ok(self
            .packed_find(MESSAGES, &i64_key(chat_id), &i32_key(message_id))?
            .first()
            .map(|entry| keys::read_u64(&entry[4..])))
    }

    // --- helpdesk jobs (per ticket, in order) ------------------------------------------

    /// Queues a job behind the ticket's earlier ones.
    pub fn push_job(&mut self, local: LocalId, job: &Job) -> Result<u64> {
        let seq = self.next_seq()?;
        let mut job = job.clone();
        job.boot = self.boot;
        self.put(Space::Jobs, &job_key(local, seq), &job);
        Ok(seq)
    }

    pub fn put_job(&mut self, local: LocalId, seq: u64, job: &Job) {
        self.put(Space::Jobs, &job_key(local, seq), job);
    }

    pub fn job(&self, local: LocalId, seq: u64) -> Result<Option<Job>> {
        self.get(Space::Jobs, &job_key(local, seq))
    }

    pub fn remove_job(&mut self, local: LocalId, seq: u64) {
        self.delete(Space::Jobs, &job_key(local, seq));
    }

    /// The jobs of one ticket, oldest first.
    pub fn jobs_of(&self, local: LocalId) -> Result<Vec<(u64, Job)>> {
        Ok(self
            .scan(Space::Jobs, &u64_key(local))?
            .into_iter()
            .map(|(key, job)| (keys::read_u64(&key[8..]), job))
            .collect())
    }

    /// The first job of every ticket that has any: (ticket, seq, job).
    pub fn job_heads(&self) -> Result<Vec<(LocalId, u64, Job)>> {
        let mut heads: Vec<(LocalId, u64, Job)> = Vec::new();
        for (key, job) in self.scan::<Job>(Space::Jobs, &[])? {
            let local = keys::read_u64(&key[..8]);
            if heads.last().is_none_or(|(l, _, _)| *l != local) {
                heads.push((local, keys::read_u64(&key[8..]), job));
            }
        }
        Ok(heads)
    }

    /// Moves the job and outbox records this build cannot read to the dead-letter list, raw, so
    /// the rest of their queues go on; returns how many. Called when reading a queue's heads
    /// failed on such a record.
    pub fn set_aside_unreadable_work(&mut self) -> Result<usize> {
        Ok(self.set_aside_unreadable::<Job>(Space::Jobs)?
            + self.set_aside_unreadable::<Outgoing>(Space::Outbox)?)
    }

    fn set_aside_unreadable<T: DeserializeOwned>(&mut self, space: Space) -> Result<usize> {
        let mut unreadable = Vec::new();
        for entry in self.tree()?.scan_prefix(space.key(&[])) {
            let (key, value) = entry?;
            if let Err(error) = serde_json::from_slice::<T>(&value) {
                unreadable.push((key.to_vec(), value.to_vec(), error));
            }
        }
        for (key, value, error) in &unreadable {
            self.bury(
                format!("unreadable {} record: {error}", space.name()),
                crate::model::DeadItem::Unreadable {
                    space: space.name().to_owned(),
                    raw: String::from_utf8_lossy(value).into_owned(),
                },
            )?;
            self.pending.insert(key.clone(), None);
        }
        Ok(unreadable.len())
    }

    pub fn jobs_len(&self) -> usize {
        self.tree
            .as_ref()
            .map_or(0, |t| t.scan_prefix(Space::Jobs.key(&[])).count())
    }

    // --- tickets to re-read from the helpdesk ------------------------------------------

    /// Marks a ticket for re-reading in full. The stamp lets a refresh that started before this
    /// mark leave it in place (see [`Tx::clear_dirty`]).
    pub fn mark_dirty(&mut self, local: LocalId) -> Result<()> {
        self.mark_changed(local, None)
    }

    /// Marks a ticket as changed in the helpdesk: with the listing's snapshot of it, which
    /// replaces an older one, or without (the whole ticket is to be read). A mark for a full read
    /// stays one until a refresh clears it.
    pub fn mark_changed(
        &mut self,
        local: LocalId,
        snapshot: Option<teledesk_adapter::TicketSnapshot>,
    ) -> Result<()> {
        let stamp = self.next_seq()?;
        let earlier = self.get::<Dirty>(Space::Dirty, &u64_key(local))?;
        let full = snapshot.is_none() || earlier.as_ref().is_some_and(|d| d.full);
        let snapshot = snapshot.or(earlier.and_then(|d| d.snapshot));
        let mark = Dirty {
            stamp,
            full,
            snapshot,
        };
        self.put(Space::Dirty, &u64_key(local), &mark);
        Ok(())
    }

    /// Clears the mark, unless the ticket was marked again after `stamp` was read.
    pub fn clear_dirty(&mut self, local: LocalId, stamp: u64) -> Result<()> {
        if self
            .get::<Dirty>(Space::Dirty, &u64_key(local))?
            .is_some_and(|d| d.stamp == stamp)
        {
            self.delete(Space::Dirty, &u64_key(local));
        }
        Ok(())
    }

    /// Tickets to re-read, with why.
    pub fn dirty(&self) -> Result<Vec<(LocalId, Dirty)>> {
        Ok(self
            .scan::<Dirty>(Space::Dirty, &[])?
            .into_iter()
            .map(|(key, mark)| (keys::read_u64(&key), mark))
            .collect())
    }

    /// Records the watcher's new cursor for a helpdesk.
    pub fn set_cursor(&mut self, helpdesk: &str, cursor: &Cursor) {
        self.put(Space::Cursors, helpdesk.as_bytes(), cursor);
    }

    pub fn cursor(&self, helpdesk: &str) -> Result<Option<Cursor>> {
        self.get(Space::Cursors, helpdesk.as_bytes())
    }

    // --- Telegram outbox (per chat, in order) and card edits ---------------------------

    pub fn push_outgoing(&mut self, item: &Outgoing) -> Result<u64> {
        let seq = self.next_seq()?;
        self.put(Space::Outbox, &outbox_key(item.chat_id, seq), item);
        Ok(seq)
    }

    pub fn put_outgoing(&mut self, seq: u64, item: &Outgoing) {
        self.keep_files(&item.stored_files());
        self.put(Space::Outbox, &outbox_key(item.chat_id, seq), item);
    }

    pub fn outgoing(&self, chat_id: i64, seq: u64) -> Result<Option<Outgoing>> {
        self.get(Space::Outbox, &outbox_key(chat_id, seq))
    }

    /// The outbox item `seq` queued for `chat_id`, wherever it is now: still there, or moved
    /// with the chat's queue to the supergroup the group became (`chat_alias`). `None` when it
    /// is gone.
    pub fn outgoing_followed(&self, chat_id: i64, seq: u64) -> Result<Option<Outgoing>> {
        if let Some(item) = self.outgoing(chat_id, seq)? {
            return Ok(Some(item));
        }
        match self.chat_alias(chat_id)? {
            Some(new) if new != chat_id => self.outgoing(new, seq),
            _ => Ok(None),
        }
    }

    /// Drops an outbox item; its staff files go once the write is applied (unless the same write
    /// keeps the item elsewhere, as a dead letter).
    pub fn remove_outgoing(&mut self, chat_id: i64, seq: u64) {
        // An unreadable item names no files we can know; the start-up sweep finds them.
        if let Ok(Some(item)) = self.outgoing(chat_id, seq) {
            self.unlink.extend(item.stored_files());
        }
        self.delete(Space::Outbox, &outbox_key(chat_id, seq));
    }

    /// Records written in this transaction still name these files: they are not removed.
    fn keep_files(&mut self, names: &[String]) {
        if !names.is_empty() {
            self.unlink.retain(|n| !names.contains(n));
        }
    }

    /// The first queued item of every chat: (seq, item).
    pub fn outbox_heads(&self) -> Result<Vec<(u64, Outgoing)>> {
        let mut heads: Vec<(u64, Outgoing)> = Vec::new();
        for (key, item) in self.scan::<Outgoing>(Space::Outbox, &[])? {
            if heads.last().is_none_or(|(_, o)| o.chat_id != item.chat_id) {
                heads.push((keys::read_u64(&key[8..]), item));
            }
        }
        Ok(heads)
    }

    pub fn outbox_len(&self) -> usize {
        self.tree
            .as_ref()
            .map_or(0, |t| t.scan_prefix(Space::Outbox.key(&[])).count())
    }

    /// Moves every queued item of `old` chat to `new` (a group upgraded to a supergroup).
    pub fn move_outbox(&mut self, old: i64, new: i64) -> Result<()> {
        for (key, mut item) in self.scan::<Outgoing>(Space::Outbox, &i64_key(old))? {
            let seq = keys::read_u64(&key[8..]);
            self.remove_outgoing(old, seq);
            item.chat_id = new;
            self.put_outgoing(seq, &item);
        }
        Ok(())
    }

    /// Asks the sender to bring a ticket's card up to date.
    pub fn mark_card_stale(&mut self, local: LocalId) {
        self.put(Space::StaleCards, &u64_key(local), &());
    }

    pub fn clear_card_stale(&mut self, local: LocalId) {
        self.delete(Space::StaleCards, &u64_key(local));
    }

    pub fn stale_cards(&self) -> Result<Vec<LocalId>> {
        Ok(self
            .scan::<()>(Space::StaleCards, &[])?
            .into_iter()
            .map(|(key, _)| keys::read_u64(&key))
            .collect())
    }

    // --- dead letters --------------------------------------------------------------------

    /// Puts `item` on the dead-letter list, failed now for `error`; returns its number.
    pub fn bury(&mut self, error: String, item: crate::model::DeadItem) -> Result<u64> {
        let id = self.next_seq()?;
        self.push_dead(&DeadLetter {
            id,
            failed_at: time::OffsetDateTime::now_utc(),
            error,
            item,
        });
        Ok(id)
    }

    fn push_dead(&mut self, letter: &DeadLetter) {
        self.keep_files(&letter.item.stored_files());
        self.put(Space::Dead, &u64_key(letter.id), letter);
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        Ok(self
            .scan(Space::Dead, &[])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    pub fn remove_dead(&mut self, id: u64) {
        if let Ok(Some(letter)) = self.get::<DeadLetter>(Space::Dead, &u64_key(id)) {
            self.unlink.extend(letter.item.stored_files());
        }
        self.delete(Space::Dead, &u64_key(id));
    }

    // --- conversations ---------------------------------------------------------------------

    pub fn dialogue(&self, chat_id: i64, user_id: i64) -> Result<Option<Dialogue>> {
        self.get(Space::Dialogues, &dialogue_key(chat_id, user_id))
    }

    pub fn put_dialogue(&mut self, dialogue: &Dialogue) {
        self.put(
            Space::Dialogues,
            &dialogue_key(dialogue.chat_id, dialogue.user.telegram_id),
            dialogue,
        );
    }

    pub fn remove_dialogue(&mut self, chat_id: i64, user_id: i64) {
        self.delete(Space::Dialogues, &dialogue_key(chat_id, user_id));
    }

    pub fn album(&self, chat_id: i64, media_group_id: &str) -> Result<Vec<AlbumItem>> {
        Ok(self
            .get(Space::Albums, &album_key(chat_id, media_group_id))?
            .unwrap_or_default())
    }

    /// Records an album's items; a new album is filed under its chat by `first_seen`, so the
    /// oldest can be forgotten first.
    pub fn put_album(
        &mut self,
        chat_id: i64,
        media_group_id: &str,
        items: &[AlbumItem],
        first_seen: time::OffsetDateTime,
    ) -> Result<()> {
        let key = album_key(chat_id, media_group_id);
        if self.raw_get(&Space::Albums.key(&key))?.is_none() {
            self.put(
                Space::AlbumsByAge,
                &album_age_key(chat_id, first_seen, media_group_id),
                &(),
            );
        }
        self.put(Space::Albums, &key, &items);
        Ok(())
    }

    /// The albums remembered in one chat, oldest first.
    pub fn albums_in_chat(&self, chat_id: i64) -> Result<Vec<RememberedAlbum>> {
        Ok(self
            .scan_keys(Space::AlbumsByAge, &i64_key(chat_id))?
            .iter()
            .map(|key| read_album_age_key(key))
            .collect())
    }

    /// Every album remembered, by chat, oldest first in each.
    pub fn albums(&self) -> Result<Vec<RememberedAlbum>> {
        Ok(self
            .scan_keys(Space::AlbumsByAge, &[])?
            .iter()
            .map(|key| read_album_age_key(key))
            .collect())
    }

    /// Forgets an album: its items and its place in the chat's list.
    pub fn remove_album(&mut self, album: &RememberedAlbum) {
        self.delete(
            Space::Albums,
            &album_key(album.chat_id, &album.media_group_id),
        );
        self.delete(
            Space::AlbumsByAge,
            &album_age_key(album.chat_id, album.first_seen, &album.media_group_id),
        );
    }

    /// Files the albums of a store written before [`Space::AlbumsByAge`] existed, each by its
    /// newest item.
    fn index_unindexed_albums(&mut self) -> Result<()> {
        for (key, items) in self.scan::<Vec<AlbumItem>>(Space::Albums, &[])? {
            let Some(chat) = key.get(..8) else { continue };
            let chat_id = (keys::read_u64(chat) ^ (1 << 63)) as i64;
            let media_group_id = String::from_utf8_lossy(&key[8..]).into_owned();
            let newest = items
                .iter()
                .map(|item| item.date)
                .max()
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            self.put(
                Space::AlbumsByAge,
                &album_age_key(chat_id, newest, &media_group_id),
                &(),
            );
        }
        Ok(())
    }

    /// Every `/new` dialogue in progress.
    pub fn dialogues(&self) -> Result<Vec<Dialogue>> {
        Ok(self
            .scan(Space::Dialogues, &[])?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    /// The ticket whose feedback a user's next private message is (after «Оставить отзыв»).
    pub fn pending_feedback(&self, user_id: i64) -> Result<Option<LocalId>> {
        self.get(Space::PendingFeedback, &i64_key(user_id))
    }

    pub fn put_pending_feedback(&mut self, user_id: i64, local: LocalId) {
        self.put(Space::PendingFeedback, &i64_key(user_id), &local);
    }

    pub fn remove_pending_feedback(&mut self, user_id: i64) {
        self.delete(Space::PendingFeedback, &i64_key(user_id));
    }

    /// An automatic forward seen before the post it copies was recorded (Telegram does not order
    /// the two): `(group, forward id)` → the post.
    pub fn put_pending_forward(&mut self, group: i64, forward: i32, post: &PendingForward) {
        self.put(Space::PendingForwards, &message_key(group, forward), post);
    }

    pub fn pending_forward(&self, group: i64, forward: i32) -> Result<Option<PendingForward>> {
        self.get(Space::PendingForwards, &message_key(group, forward))
    }

    /// Every pending forward, with its `(group, forward id)`.
    pub fn pending_forwards(&self) -> Result<Vec<((i64, i32), PendingForward)>> {
        Ok(self
            .scan::<PendingForward>(Space::PendingForwards, &[])?
            .into_iter()
            .map(|(key, post)| (keys::read_message_key(&key), post))
            .collect())
    }

    pub fn remove_pending_forward(&mut self, group: i64, forward: i32) {
        self.delete(Space::PendingForwards, &message_key(group, forward));
    }

    /// A chat's other id: a group upgraded to a supergroup is known by both, whichever the
    /// config names. Stored both ways.
    pub fn chat_alias(&self, chat_id: i64) -> Result<Option<i64>> {
        self.get(Space::ChatAliases, &i64_key(chat_id))
    }

    pub fn put_chat_alias(&mut self, old: i64, new: i64) {
        self.put(Space::ChatAliases, &i64_key(old), &new);
        self.put(Space::ChatAliases, &i64_key(new), &old);
    }

    /// Whether the bot can DM a user, as far as teledesk has learned.
    pub fn dm_state(&self, user_id: i64) -> Result<DmState> {
        Ok(self
            .get(Space::Users, &i64_key(user_id))?
            .unwrap_or_default())
    }

    pub fn set_dm_state(&mut self, user_id: i64, state: DmState) {
        self.put(Space::Users, &i64_key(user_id), &state);
    }

    /// What a user last answered to a chat's intake questions (field id → answer, the category
    /// under [`crate::model::REMEMBERED_CATEGORY`]), offered next time.
    pub fn intake_memory(
        &self,
        user_id: i64,
        chat_id: i64,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        Ok(self
            .get(Space::IntakeMemory, &user_chat_key(user_id, chat_id))?
            .unwrap_or_default())
    }

    pub fn put_intake_memory(
        &mut self,
        user_id: i64,
        chat_id: i64,
        memory: &std::collections::BTreeMap<String, String>,
    ) {
        self.put(
            Space::IntakeMemory,
            &user_chat_key(user_id, chat_id),
            memory,
        );
    }

    // --- Mini App submissions -----------------------------------------------------------

    /// Queues a Mini App submission in the inbox, in arrival order with Telegram's updates, and
    /// records it under the client's id for it.
    pub fn push_submission(
        &mut self,
        submission: &Submission,
        payload: &serde_json::Value,
    ) -> Result<()> {
        let arrival = self.next_arrival()?;
        self.put(Space::Inbox, &u64_key(arrival), payload);
        self.put_submission(submission);
        Ok(())
    }

    /// A submission by its user and the id the Mini App generated for it.
    pub fn submission(&self, user_id: i64, id: &str) -> Result<Option<Submission>> {
        self.get(Space::Submissions, &submission_key(user_id, id))
    }

    pub fn put_submission(&mut self, submission: &Submission) {
        self.put(
            Space::Submissions,
            &submission_key(submission.user_id, &submission.id),
            submission,
        );
    }

    /// Records a file uploaded through the Mini App, already kept on the [`Shelf::Uploads`]
    /// shelf, until the ticket it belongs to is created; returns its key.
    pub fn put_upload(&mut self, stored: &str) -> Result<u64> {
        let id = self.next_seq()?;
        self.put(Space::UploadFiles, &u64_key(id), &stored);
        Ok(id)
    }

    /// Where upload `id` is: the name of its stored file, or (uploads recorded before files were
    /// kept beside the store) its bytes in the record itself.
    pub fn upload(&self, id: u64) -> Result<Option<UploadAt>> {
        if let Some(name) = self.get::<String>(Space::UploadFiles, &u64_key(id))? {
            return Ok(Some(UploadAt::Stored(name)));
        }
        Ok(self
            .raw_get(&Space::Uploads.key(&u64_key(id)))?
            .map(UploadAt::Inline))
    }

    pub fn remove_upload(&mut self, id: u64) {
        if let Ok(Some(name)) = self.get::<String>(Space::UploadFiles, &u64_key(id)) {
            self.unlink.push(name);
        }
        self.delete(Space::UploadFiles, &u64_key(id));
        self.delete(Space::Uploads, &u64_key(id));
    }

    /// Every stored file a record names: what [`StoredFiles::sweep`] must keep.
    pub fn referenced_files(&self) -> Result<std::collections::HashSet<String>> {
        let mut names = std::collections::HashSet::new();
        for (_, item) in self.scan::<Outgoing>(Space::Outbox, &[])? {
            names.extend(item.stored_files());
        }
        for letter in self.dead_letters()? {
            names.extend(letter.item.stored_files());
        }
        for (_, name) in self.scan::<String>(Space::UploadFiles, &[])? {
            names.insert(name);
        }
        Ok(names)
    }

    /// Chats already reported as unconfigured (logged once, not per message).
    pub fn note_unknown_chat(&mut self, chat_id: i64) -> Result<bool> {
        let key = i64_key(chat_id);
        if self.get::<()>(Space::UnknownChats, &key)?.is_some() {
            return Ok(false);
        }
        self.put(Space::UnknownChats, &key, &());
        Ok(true)
    }
}

fn decode<T: DeserializeOwned>(space: Space, key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        space: space.name(),
        key: String::from_utf8_lossy(&key[1..]).into_owned(),
        source,
    })
}

/// Inbox positions below this are arrivals; a store written by an older release may still hold
/// Mini App submissions from here up, which come after them.
const APP_INBOX_BASE: u64 = 1 << 62;

/// How many arrivals the memory of taken update ids covers. A repeated delivery comes back within
/// seconds (a `getUpdates` whose offset did not reach Telegram, a webhook answer Telegram did not
/// see), so this is far more than needed, and small on disk (about 40 bytes each).
pub const SEEN_UPDATES: u64 = 10_000;

/// What the store remembers of a taken update: a digest of its content and its inbox position.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct SeenUpdate {
    digest: u64,
    arrival: u64,
}

fn submission_key(user_id: i64, id: &str) -> Vec<u8> {
    let mut key = i64_key(user_id).to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn user_chat_key(user_id: i64, chat_id: i64) -> Vec<u8> {
    let mut key = i64_key(user_id).to_vec();
    key.extend_from_slice(&i64_key(chat_id));
    key
}

fn message_key(chat_id: i64, message_id: i32) -> Vec<u8> {
    let mut key = i64_key(chat_id).to_vec();
    key.extend_from_slice(&i32_key(message_id));
    key
}

fn job_key(local: LocalId, seq: u64) -> Vec<u8> {
    let mut key = u64_key(local).to_vec();
    key.extend_from_slice(&u64_key(seq));
    key
}

fn outbox_key(chat_id: i64, seq: u64) -> Vec<u8> {
    let mut key = i64_key(chat_id).to_vec();
    key.extend_from_slice(&u64_key(seq));
    key
}

fn dialogue_key(chat_id: i64, user_id: i64) -> Vec<u8> {
    let mut key = i64_key(chat_id).to_vec();
    key.extend_from_slice(&i64_key(user_id));
    key
}

fn album_key(chat_id: i64, media_group_id: &str) -> Vec<u8> {
    let mut key = i64_key(chat_id).to_vec();
    key.extend_from_slice(media_group_id.as_bytes());
    key
}

/// An album as its chat's list of remembered albums holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RememberedAlbum {
    pub chat_id: i64,
    /// When teledesk first saw one of its items (whole seconds).
    pub first_seen: time::OffsetDateTime,
    pub media_group_id: String,
}

/// Chat, then the time first seen, then the id: a prefix scan lists a chat's albums oldest first.
fn album_age_key(chat_id: i64, first_seen: time::OffsetDateTime, media_group_id: &str) -> Vec<u8> {
    let mut key = i64_key(chat_id).to_vec();
    key.extend_from_slice(&i64_key(first_seen.unix_timestamp()));
    key.extend_from_slice(media_group_id.as_bytes());
    key
}

fn read_album_age_key(key: &[u8]) -> RememberedAlbum {
    let signed = |bytes: &[u8]| (keys::read_u64(bytes) ^ (1 << 63)) as i64;
    RememberedAlbum {
        chat_id: signed(&key[..8]),
        first_seen: time::OffsetDateTime::from_unix_timestamp(signed(&key[8..16]))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        media_group_id: String::from_utf8_lossy(&key[16..]).into_owned(),
    }
}

#[cfg(test)]
mod tests;
