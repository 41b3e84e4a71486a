//! File contents that travel between Telegram and a helpdesk without being held whole in memory.
//!
//! A client may send dozens of 20 MB files at once, and a staff reply may carry as many. Holding each
//! file in memory (and cloning it per retry) once took the daemon past a gigabyte, so a file's bytes
//! live in a [`Content`]: small files in memory, larger ones in a file in the [`Spool`] directory
//! (next to the store in production), deleted when the last handle to them drops. Cloning a
//! `Content` is cheap and never copies the bytes; vendors stream them into their requests.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Files up to this size stay in memory: a photo or a short document costs less there than a file
/// would, and the spool only matters for the few large ones.
pub const DEFAULT_MEMORY_THRESHOLD: usize = 256 * 1024;

/// The bytes of one file: in memory when small, otherwise a spool file on disk.
///
/// Clones share the bytes. A spooled file is deleted when the last clone drops, unless it was
/// opened with [`Content::open`] (a file someone else owns, such as a durable Mini App upload).
#[derive(Clone)]
pub struct Content(Arc<Body>);

enum Body {
    Memory(Vec<u8>),
    File {
        path: PathBuf,
        len: u64,
        /// Whether dropping the last handle removes the file.
        owned: bool,
    },
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Body::File {
            path, owned: true, ..
        } = self
        {
            // Best effort: a file left behind is swept with the spool's leftovers at startup.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Content {
    /// Content held in memory (small files, tests).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        Self(Arc::new(Body::Memory(bytes)))
    }

    /// Content in a file someone else owns: it is read when needed and never deleted by teledesk's
    /// handles (the owner removes it when its record goes).
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        Self::file(path.into(), false)
    }

    /// Takes over a file (usually one written into the [`Spool`]): it is deleted when the last
    /// handle drops.
    pub fn adopt(path: impl Into<PathBuf>) -> io::Result<Self> {
        Self::file(path.into(), true)
    }

    fn file(path: PathBuf, owned: bool) -> io::Result<Self> {
        let len = std::fs::metadata(&path)?.len();
        Ok(Self(Arc::new(Body::File { path, len, owned })))
    }

    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match &*self.0 {
            Body::Memory(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when they are held in memory.
    pub fn in_memory(&self) -> Option<&[u8]> {
        match &*self.0 {
            Body::Memory(bytes) => Some(bytes),
            Body::File { .. } => None,
        }
    }

    /// The file holding the bytes, when they are spooled to disk.
    pub fn path(&self) -> Option<&Path> {
        match &*self.0 {
            Body::Memory(_) => None,
            Body::File { path, .. } => Some(path),
        }
    }

    /// A reader over the bytes, from the start.
    pub async fn reader(&self) -> io::Result<ContentReader> {
        Ok(match &*self.0 {
            Body::Memory(_) => ContentReader::Memory {
                content: self.clone(),
                at: 0,
            },
            Body::File { path, .. } => ContentReader::File(tokio::fs::File::open(path).await?),
        })
    }

    /// A reader over the bytes, from the start, opened without waiting: for request bodies a
    /// vendor builds inside a closure that is not async. Opening a local file does not block for
    /// long.
    pub fn reader_now(&self) -> io::Result<ContentReader> {
        Ok(match &*self.0 {
            Body::Memory(_) => ContentReader::Memory {
                content: self.clone(),
                at: 0,
            },
            Body::File { path, .. } => {
                ContentReader::File(tokio::fs::File::from_std(std::fs::File::open(path)?))
            }
        })
    }

    /// All the bytes in one buffer. Only for what must have them whole (a vendor that embeds a
    /// file as base64 inside a JSON body it cannot stream, a test comparing contents): it costs
    /// the file's size in memory while the buffer lives.
    pub async fn read_all(&self) -> io::Result<Vec<u8>> {
        match &*self.0 {
            Body::Memory(bytes) => Ok(bytes.clone()),
            Body::File { path, .. } => tokio::fs::read(path).await,
        }
    }

    /// Reads a spooled file synchronously; used only by `PartialEq`, which tests use.
    fn read_blocking(&self) -> io::Result<std::borrow::Cow<'_, [u8]>> {
        match &*self.0 {
            Body::Memory(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
            Body::File { path, .. } => std::fs::read(path).map(std::borrow::Cow::Owned),
        }
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from_vec(bytes)
    }
}

impl From<&[u8]> for Content {
    fn from(bytes: &[u8]) -> Self {
        Self::from_vec(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Content {
    fn from(bytes: &[u8; N]) -> Self {
        Self::from_vec(bytes.to_vec())
    }
}

impl fmt::Debug for Content {
    // File contents would flood logs and may be private; print where they are and their size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = if self.in_memory().is_some() {
            "memory"
        } else {
            "spool"
        };
        f.debug_struct("Content")
            .field("in", &place)
            .field("len", &self.len())
            .finish()
    }
}

/// Compares the bytes (reading spooled files from disk: meant for tests, not hot paths).
impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        if self.len() != other.len() {
            return false;
        }
        match (self.read_blocking(), other.read_blocking()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Content {}

/// Reads a [`Content`] from its start.
pub enum ContentReader {
    /// Bytes held in memory.
    Memory {
        /// The content read.
        content: Content,
        /// How far it has been read.
        at: usize,
    },
    /// A spooled file.
    File(tokio::fs::File),
}

impl AsyncRead for ContentReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            ContentReader::Memory { content, at } => {
                let bytes = content.in_memory().unwrap_or_default();
                let rest = &bytes[(*at).min(bytes.len())..];
                let n = rest.len().min(buf.remaining());
                buf.put_slice(&rest[..n]);
                *at += n;
                std::task::Poll::Ready(Ok(()))
            }
            ContentReader::File(file) => std::pin::Pin::new(file).poll_read(cx, buf),
        }
    }
}

/// The directory where large files wait while they travel, and the size below which they stay in
/// memory.
///
/// Every spooled file gets a fresh name; a [`Content`] made from it deletes it when dropped. The
/// daemon points the process-wide spool ([`Spool::global`]) at a directory next to its store at
/// startup and clears files left there by an earlier process.
#[derive(Clone, Debug)]
pub struct Spool {
    dir: PathBuf,
    memory_threshold: usize,
}

static GLOBAL: OnceLock<RwLock<Spool>> = OnceLock::new();
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Spool {
    /// A spool in `dir` (created on first use) keeping files up to `memory_threshold` bytes in
    /// memory.
    pub fn new(dir: impl Into<PathBuf>, memory_threshold: usize) -> Self {
        Self {
            dir: dir.into(),
            memory_threshold,
        }
    }

    /// The process-wide spool: the one set by [`Spool::set_global`], or a `teledesk-spool-PID`
    /// directory under the system's temporary directory until then.
    pub fn global() -> Spool {
        let lock = GLOBAL.get_or_init(|| RwLock::new(Self::default_for_process()));
        lock.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Points the process-wide spool at `spool` (the daemon calls this once at startup).
    pub fn set_global(spool: Spool) {
        let lock = GLOBAL.get_or_init(|| RwLock::new(Self::default_for_process()));
        *lock.write().unwrap_or_else(|e| e.into_inner()) = spool;
    }

    fn default_for_process() -> Spool {
        Spool::new(
            std::env::temp_dir().join(format!("teledesk-spool-{}", std::process::id())),
            DEFAULT_MEMORY_THRESHOLD,
        )
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size up to which files stay in memory.
    pub fn memory_threshold(&self) -> usize {
        self.memory_threshold
    }

    /// A fresh path in the spool for a file about to be written (the directory is created).
    pub fn fresh_path(&self) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        Ok(self
            .dir
            .join(format!("{}-{n}-{nanos:08x}.part", std::process::id())))
    }

    /// Starts collecting a file's bytes as they arrive.
    pub fn writer(&self) -> ContentWriter {
        ContentWriter {
            spool: self.clone(),
            memory: Vec::new(),
            file: None,
            len: 0,
        }
    }

    /// Keeps `bytes` a vendor had to receive whole (a file inside a JSON answer) as a
    /// [`Content`]: in memory when small, otherwise written to the spool so that the buffer is
    /// freed at once instead of living as long as the file travels.
    pub async fn keep(&self, bytes: Vec<u8>) -> io::Result<Content> {
        if bytes.len() <= self.memory_threshold {
            return Ok(Content::from_vec(bytes));
        }
        let mut writer = self.writer();
        writer.write(&bytes).await?;
        drop(bytes);
        writer.finish().await
    }

    /// Copies everything `reader` gives into a new [`Content`], refusing more than `limit` bytes
    /// (an [`io::ErrorKind::FileTooLarge`] error) when a limit is given.
    pub async fn copy_from(
        &self,
        reader: &mut (dyn AsyncRead + Unpin + Send),
        limit: Option<u64>,
    ) -> io::Result<Content> {
        let mut writer = self.writer();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if limit.is_some_and(|limit| writer.len() + n as u64 > limit) {
                return Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "the file is larger than allowed",
                ));
            }
            writer.write(&buf[..n]).await?;
        }
        writer.finish().await
    }

    /// Removes every file in the spool directory: what a killed process left behind. Call it only
    /// before this process spools anything.
    pub fn clear_leftovers(&self) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Collects a file's bytes as they arrive: in memory until they pass the spool's threshold, then in
/// a spool file. Dropped before [`ContentWriter::finish`], it removes its file.
pub struct ContentWriter {
    spool: Spool,
    memory: Vec<u8>,
    file: Option<(tokio::fs::File, PathBuf)>,
    len: u64,
}

impl ContentWriter {
    /// How many bytes have been written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `chunk`.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        if let Some((file, _)) = &mut self.file {
            return file.write_all(chunk).await;
        }
        if self.memory.len() + chunk.len() <= self.spool.memory_threshold {
            self.memory.extend_from_slice(chunk);
            return Ok(());
        }
        let path = self.spool.fresh_path()?;
        let file = tokio::fs::File::create(&path).await?;
        // Recorded before the first write, so an abandoned writer's file goes with it.
        let (file, _) = self.file.insert((file, path));
        file.write_all(&self.memory).await?;
        file.write_all(chunk).await?;
        self.memory = Vec::new();
        Ok(())
    }

    /// The collected file.
    pub async fn finish(mut self) -> io::Result<Content> {
        match self.file.take() {
            None => Ok(Content::from_vec(std::mem::take(&mut self.memory))),
            Some((mut file, path)) => {
                let flushed = file.flush().await;
                drop(file);
                // From here the returned handle (or, on error, this one) deletes the file.
                let content = Content(Arc::new(Body::File {
                    path,
                    len: self.len,
                    owned: true,
                }));
                flushed.map(|()| content)
            }
        }
    }
}

impl Drop for ContentWriter {
    fn drop(&mut self) {
        if let Some((_, path)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(threshold: usize) -> (tempfile_dir::Dir, Spool) {
        let dir = tempfile_dir::Dir::new();
        let spool = Spool::new(dir.path().join("spool"), threshold);
        (dir, spool)
    }

    /// A throwaway directory without a dev-dependency for it.
    mod tempfile_dir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let path = std::env::temp_dir().join(format!(
                    "teledesk-content-test-{}-{}",
                    std::process::id(),
                    super::SEQUENCE.fetch_add(1, super::Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn files_in(spool: &Spool) -> usize {
        std::fs::read_dir(spool.dir()).map_or(0, |d| d.count())
    }

    #[tokio::test]
    async fn small_files_stay_in_memory_and_large_ones_spill_to_the_spool() {
        let (_dir, spool) = spool(1024);
        let mut small = spool.writer();
        small.write(&[1; 1000]).await.unwrap();
        let small = small.finish().await.unwrap();
        assert_eq!(small.in_memory().map(<[u8]>::len), Some(1000));
        assert_eq!(files_in(&spool), 0);

        let mut large = spool.writer();
        for _ in 0..5 {
            large.write(&[7; 600]).await.unwrap();
        }
        let large = large.finish().await.unwrap();
        assert!(large.in_memory().is_none());
        assert_eq!(large.len(), 3000);
        assert_eq!(large.read_all().await.unwrap(), vec![7; 3000]);
        assert_eq!(files_in(&spool), 1);

        let mut read = Vec::new();
        large
            .reader()
            .await
            .unwrap()
            .read_to_end(&mut read)
            .await
            .unwrap();
        assert_eq!(read.len(), 3000);
    }

    #[tokio::test]
    async fn the_spool_file_goes_with_the_last_handle_and_with_an_abandoned_writer() {
        let (_dir, spool) = spool(10);
        let mut writer = spool.writer();
        writer.write(&[1; 100]).await.unwrap();
        let content = writer.finish().await.unwrap();
        let clone = content.clone();
        drop(content);
        assert_eq!(files_in(&spool), 1, "a clone still holds it");
        drop(clone);
        assert_eq!(files_in(&spool), 0);

        let mut abandoned = spool.writer();
        abandoned.write(&[1; 100]).await.unwrap();
        assert_eq!(files_in(&spool), 1);
        drop(abandoned);
        assert_eq!(files_in(&spool), 0);
    }

    #[tokio::test]
    async fn an_opened_file_is_never_deleted_and_a_limit_refuses_more() {
        let (dir, spool) = spool(10);
        let path = dir.path().join("upload");
        std::fs::write(&path, b"kept").unwrap();
        drop(Content::open(&path).unwrap());
        assert!(path.exists());

        let mut reader: &[u8] = &[0; 50];
        let refused = spool.copy_from(&mut reader, Some(49)).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(files_in(&spool), 0, "the refused file is not left behind");
        let mut reader: &[u8] = &[0; 50];
        assert_eq!(
            spool.copy_from(&mut reader, Some(50)).await.unwrap().len(),
            50
        );
    }

    #[tokio::test]
    async fn leftovers_of_a_killed_process_are_cleared() {
        let (_dir, spool) = spool(10);
        std::fs::create_dir_all(spool.dir()).unwrap();
        std::fs::write(spool.dir().join("1-2-3.part"), b"old").unwrap();
        assert_eq!(spool.clear_leftovers().unwrap(), 1);
        assert_eq!(files_in(&spool), 0);
    }
}
