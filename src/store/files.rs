//! Files kept beside the database: Mini App uploads waiting for their ticket and staff files
//! waiting in the outbox.
//!
//! They are too large for records (tens of megabytes each) and must never be held in memory whole,
//! so a record names its file and the file lives in `<store>/spool/<shelf>/`. A file is made
//! durable (fsynced, and its directory) before the record naming it is written, and removed only
//! after the record that dropped it is applied, so a crash between the two leaves at worst an
//! unreferenced file, which [`StoredFiles::sweep`] clears at the next start. `spool/tmp/` is the
//! process-wide [`Spool`] for files in transit (downloads, uploads on their way); it is emptied at
//! every start.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use teledesk_adapter::content::DEFAULT_MEMORY_THRESHOLD;
use teledesk_adapter::{Content, Spool};

/// Where a kept file belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shelf {
    /// A file a client uploaded through the Mini App.
    Uploads,
    /// A staff file waiting to be sent to Telegram.
    Outbox,
}

impl Shelf {
    const ALL: [Shelf; 2] = [Shelf::Uploads, Shelf::Outbox];

    fn dir(self) -> &'static str {
        match self {
            Shelf::Uploads => "uploads",
            Shelf::Outbox => "outbox",
        }
    }
}

/// The files beside one store.
#[derive(Debug)]
pub struct StoredFiles {
    root: PathBuf,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl StoredFiles {
    pub(super) fn new(store_dir: &Path) -> Self {
        Self {
            root: store_dir.join("spool"),
        }
    }

    /// The spool for files in transit, inside the store's directory (so a hard link makes one of
    /// them durable without copying it).
    pub fn transit_spool(&self) -> Spool {
        Spool::new(self.root.join("tmp"), DEFAULT_MEMORY_THRESHOLD)
    }

    /// Makes `content` durable on `shelf` and returns the name a record keeps for it.
    pub async fn keep(&self, shelf: Shelf, content: &Content) -> io::Result<String> {
        let dir = self.root.join(shelf.dir());
        let name = format!(
            "{}/{}-{}-{}",
            shelf.dir(),
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let target = self.root.join(&name);
        let content = content.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            // A spooled file in this store's spool is linked, not copied; another spool (another
            // file system) or memory is written out.
            let linked = content
                .path()
                .is_some_and(|path| std::fs::hard_link(path, &target).is_ok());
            if !linked {
                let mut file = std::fs::File::create(&target)?;
                match (content.in_memory(), content.path()) {
                    (Some(bytes), _) => io::Write::write_all(&mut file, bytes)?,
                    (None, Some(path)) => {
                        io::copy(&mut std::fs::File::open(path)?, &mut file)?;
                    }
                    (None, None) => {}
                }
            }
            std::fs::File::open(&target)?.sync_all()?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(io::Error::other)??;
        Ok(name)
    }

    /// The file a record names, read when needed and never deleted by the handle.
    pub fn open(&self, name: &str) -> io::Result<Content> {
        Content::open(self.path(name)?)
    }

    /// Removes a kept file (best effort: what is left is swept at the next start).
    pub fn remove(&self, name: &str) {
        if let Ok(path) = self.path(name) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// A record's name as a path under the spool; a name that would leave it (a damaged or
    /// forged record) is refused.
    pub(super) fn path(&self, name: &str) -> io::Result<PathBuf> {
        let mut parts = name.split('/');
        let shelf_ok = parts
            .next()
            .is_some_and(|shelf| Shelf::ALL.iter().any(|s| s.dir() == shelf));
        let file_ok = parts.next().is_some_and(|file| {
            !file.is_empty()
                && file
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !shelf_ok || !file_ok || parts.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a stored file's name"),
            ));
        }
        Ok(self.root.join(name))
    }

    /// Removes files no record names (`referenced`) and everything in transit: what a crash
    /// left between a file and its record. Call only before this process keeps or spools files.
    pub fn sweep(&self, referenced: &HashSet<String>) -> io::Result<usize> {
        let mut removed = self.transit_spool().clear_leftovers()?;
        // What an export killed half-way left (see `backup`): its own process removes it when
        // it ends, and the store admits one process, so none is under way now.
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name
                    .to_string_lossy()
                    .starts_with(super::backup::SCRATCH_PREFIX)
                {
                    std::fs::remove_dir_all(entry.path())?;
                    removed += 1;
                }
            }
        }
        for shelf in Shelf::ALL {
            let entries = match std::fs::read_dir(self.root.join(shelf.dir())) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = format!("{}/{}", shelf.dir(), entry.file_name().to_string_lossy());
                if entry.file_type()?.is_file() && !referenced.contains(&name) {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Files kept for records not written yet: removed when dropped, unless the records were written
/// ([`Unrecorded::recorded`]). Saves an unreferenced file from waiting for the next start's sweep
/// when the write that was to name it fails or is never attempted.
pub struct Unrecorded<'a> {
    files: &'a StoredFiles,
    names: Vec<String>,
}

impl<'a> Unrecorded<'a> {
    pub fn new(files: &'a StoredFiles) -> Self {
        Self {
            files,
            names: Vec::new(),
        }
    }

    /// [`StoredFiles::keep`], remembered until recorded.
    pub async fn keep(&mut self, shelf: Shelf, content: &Content) -> io::Result<String> {
        let name = self.files.keep(shelf, content).await?;
        self.names.push(name.clone());
        Ok(name)
    }

    /// The records naming the files are written: they stay.
    pub fn recorded(mut self) {
        self.names.clear();
    }
}

impl Drop for Unrecorded<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            self.files.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kept_file_survives_its_spool_handle_and_unreferenced_ones_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let files = StoredFiles::new(dir.path());
        let spool = Spool::new(dir.path().join("spool/tmp"), 8);
        let content = spool.keep(vec![7; 100]).await.unwrap();
        let name = files.keep(Shelf::Outbox, &content).await.unwrap();
        drop(content);
        let kept = files.open(&name).unwrap();
        assert_eq!(kept.read_all().await.unwrap(), vec![7; 100]);
        let small = files
            .keep(Shelf::Uploads, &Content::from_vec(b"hi".to_vec()))
            .await
            .unwrap();
        drop(kept);

        let referenced = HashSet::from([name.clone()]);
        assert_eq!(
            files.sweep(&referenced).unwrap(),
            1,
            "the unreferenced upload"
        );
        assert!(files.open(&name).is_ok());
        assert!(files.open(&small).is_err());
        files.remove(&name);
        assert!(files.open(&name).is_err());

        let mut unrecorded = Unrecorded::new(&files);
        let dropped = unrecorded
            .keep(Shelf::Outbox, &Content::from_vec(vec![1]))
            .await
            .unwrap();
        drop(unrecorded);
        assert!(files.open(&dropped).is_err(), "never recorded: removed");
        let mut unrecorded = Unrecorded::new(&files);
        let kept = unrecorded
            .keep(Shelf::Outbox, &Content::from_vec(vec![1]))
            .await
            .unwrap();
        unrecorded.recorded();
        assert!(files.open(&kept).is_ok());
    }

    #[test]
    fn the_scratch_of_a_killed_export_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let files = StoredFiles::new(dir.path());
        let scratch = dir.path().join("spool/export-77-0");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::write(scratch.join("records"), b"{}").unwrap();
        assert_eq!(files.sweep(&HashSet::new()).unwrap(), 1);
        assert!(!scratch.exists());
    }

    #[test]
    fn a_forged_name_cannot_leave_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let files = StoredFiles::new(dir.path());
        for name in [
            "../conf",
            "outbox/../../conf",
            "/etc/passwd",
            "outbox/",
            "other/x",
        ] {
            assert!(files.path(name).is_err(), "{name}");
        }
        assert!(files.path("outbox/1-2-3").is_ok());
    }
}
