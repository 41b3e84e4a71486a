//! `teledesk export` and `teledesk import`: the whole store as JSON lines.
//!
//! ```text
//! {"teledesk_export":1,"schema":3,"records":1234,"files":2}
//! {"space":"tickets","key":"0000000000000001","value":{...the record, byte for byte...}}
//! {"space":"uploads","key":"0000000000000009","bytes":"<base64>"}
//! {"file":"outbox/123-456-7","base64":"<the file>"}
//! {"end":{"records":1234,"files":2}}
//! ```
//!
//! The header says the format and the store schema the records are in: an import refuses a newer
//! one of either, and migrates an older schema as opening such a store would. Records come in key
//! order with the key in hex (minus its keyspace byte, which `space` names) and the value as the
//! JSON the store holds, so export → import → export gives the same bytes. The files records
//! name (Mini App uploads, staff files waiting for Telegram) follow, each on one line. The last
//! line repeats the counts: a backup cut short is refused.
//!
//! The snapshot is consistent: records are read under the store's write lock, so no write comes
//! between two of them, and the files they name are hard-linked aside under the same lock (a file
//! whose record is dropped later stays readable through its link). Only that part holds the lock,
//! and it writes to the store's own disk; streaming the backup to its reader comes after.

use super::keys::Space;
use super::{META_IMPORTING, META_SCHEMA, Mode, SCHEMA_VERSION, Store, StoreError};
use base64::Engine as _;
use serde::Deserialize;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The backup format this build writes and the newest it reads.
pub const EXPORT_FORMAT: u64 = 1;

/// The directory an export keeps its scratch files in, beside the store's other files.
pub(super) const SCRATCH_PREFIX: &str = "export-";

/// Records written per transaction on import: bounded memory, whatever the backup's size.
const IMPORT_BATCH: usize = 1000;

/// Why an export or an import failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(
        "the backup is in format {found}, written by a newer teledesk; this one reads format \
         {expected} and older: import it with the release that wrote it"
    )]
    NewerFormat { found: u64, expected: u64 },
    #[error(
        "the backup holds a store of schema {found}, written by a newer teledesk; this one reads \
         schema {expected} and older: import it with the release that wrote it"
    )]
    NewerSchema { found: u64, expected: u64 },
    #[error("line {line} of the backup is not what an export writes: {message}")]
    Format { line: u64, message: String },
    #[error(
        "the backup ends early (after line {line}): it was cut short; nothing from it may be \
         used. The store holds part of it; import a whole backup with --replace"
    )]
    Truncated { line: u64 },
    #[error(
        "the store already holds {records} record(s); importing would mix two stores. Import \
         into an empty store, or pass --replace to delete what it holds first"
    )]
    NotEmpty { records: u64 },
}

/// What an export or an import carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupSummary {
    pub records: u64,
    pub files: u64,
    /// Files a record names that were not beside the store (a damaged disk): the records are in
    /// the backup, their files are not.
    pub missing_files: Vec<String>,
    /// The schema the records were in (an import migrates an older one).
    pub schema: u64,
}

#[derive(serde::Serialize, Deserialize)]
struct Header {
    teledesk_export: u64,
    schema: u64,
    records: u64,
    files: u64,
}

#[derive(serde::Serialize, Deserialize)]
struct Counted {
    records: u64,
    files: u64,
}

#[derive(serde::Serialize, Deserialize)]
struct Trailer {
    end: Counted,
}

/// A directory beside the store for one export's scratch files, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Store {
    /// Writes the whole store, and the files its records name, to `out` (see the module docs).
    /// Safe while the daemon works on the store: its writes wait only while the records are read.
    pub fn export(&self, out: &mut dyn Write) -> Result<BackupSummary, BackupError> {
        static EXPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = EXPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scratch = Scratch(
            self.dir
                .join("spool")
                .join(format!("{SCRATCH_PREFIX}{}-{n}", std::process::id())),
        );
        std::fs::create_dir_all(&scratch.0)?;
        let records_path = scratch.0.join("records");
        let mut summary = BackupSummary {
            schema: SCHEMA_VERSION,
            ..BackupSummary::default()
        };
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        {
            let _writers = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            let tree = self.tree().ok_or(StoreError::Unavailable)?;
            let mut records = BufWriter::new(std::fs::File::create(&records_path)?);
            for entry in tree.iter() {
                let (key, value) = entry.map_err(StoreError::from)?;
                write_record(&mut records, &key, &value)?;
                summary.records += 1;
            }
            records.flush()?;
            let mut names: Vec<String> = self.read().referenced_files()?.into_iter().collect();
            names.sort();
            for (i, name) in names.into_iter().enumerate() {
                let link = scratch.0.join(format!("file-{i}"));
                let kept = self.files.path(&name)?;
                match std::fs::hard_link(&kept, &link)
                    .or_else(|_| std::fs::copy(&kept, &link).map(|_| ()))
                {
                    Ok(()) => files.push((name, link)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        summary.missing_files.push(name)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        summary.files = files.len() as u64;
        let header = Header {
            teledesk_export: EXPORT_FORMAT,
            schema: summary.schema,
            records: summary.records,
            files: summary.files,
        };
        let mut out = BufWriter::new(out);
        serde_json::to_writer(&mut out, &header).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
        io::copy(&mut std::fs::File::open(&records_path)?, &mut out)?;
        for (name, path) in &files {
            out.write_all(b"{\"file\":")?;
            serde_json::to_writer(&mut out, name).map_err(io::Error::from)?;
            out.write_all(b",\"base64\":\"")?;
            {
                let mut encoder = base64::write::EncoderWriter::new(
                    &mut out,
                    &base64::engine::general_purpose::STANDARD,
                );
                io::copy(&mut std::fs::File::open(path)?, &mut encoder)?;
                encoder.finish()?;
            }
            out.write_all(b"\"}\n")?;
        }
        let trailer = Trailer {
            end: Counted {
                records: summary.records,
                files: summary.files,
            },
        };
        serde_json::to_writer(&mut out, &trailer).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(summary)
    }

    /// Reads a backup written by [`Store::export`] into this store, which must be empty unless
    /// `replace` (then everything it holds is deleted first). Open the store with
    /// [`Store::open_for_import`]. Until the last line is read and checked the store is marked as
    /// holding an unfinished import, which no other open accepts.
    pub fn import(
        &self,
        input: &mut dyn BufRead,
        replace: bool,
    ) -> Result<BackupSummary, BackupError> {
        debug_assert_eq!(self.mode, Mode::Import);
        let mut line_no = 1u64;
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Err(BackupError::Truncated { line: 0 });
        }
        let header: Header = serde_json::from_slice(&line).map_err(|e| BackupError::Format {
            line: 1,
            message: format!("not a teledesk export header ({e})"),
        })?;
        if header.teledesk_export > EXPORT_FORMAT {
            return Err(BackupError::NewerFormat {
                found: header.teledesk_export,
                expected: EXPORT_FORMAT,
            });
        }
        if header.schema > SCHEMA_VERSION {
            return Err(BackupError::NewerSchema {
                found: header.schema,
                expected: SCHEMA_VERSION,
            });
        }
        self.prepare_for_import(replace)?;

        let mut summary = BackupSummary {
            schema: header.schema,
            ..BackupSummary::default()
        };
        let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(IMPORT_BATCH);
        let trailer = loop {
            line.clear();
            line_no += 1;
            if input.fill_buf()?.starts_with(b"{\"file\":") {
                self.import_file(input, line_no)?;
                summary.files += 1;
                continue;
            }
            if input.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
                return Err(BackupError::Truncated { line: line_no - 1 });
            }
            if line.starts_with(b"{\"end\":") {
                let trailer: Trailer =
                    serde_json::from_slice(&line).map_err(|e| BackupError::Format {
                        line: line_no,
                        message: e.to_string(),
                    })?;
                break trailer;
            }
            batch.push(read_record(&line, line_no)?);
            summary.records += 1;
            if batch.len() == IMPORT_BATCH {
                self.write_raw(std::mem::take(&mut batch))?;
            }
        };
        self.write_raw(batch)?;
        let expected = (header.records, header.files);
        let found = (summary.records, summary.files);
        if (trailer.end.records, trailer.end.files) != found || expected != found {
            return Err(BackupError::Format {
                line: line_no,
                message: format!(
                    "the backup says it holds {} record(s) and {} file(s), it holds {} and {}",
                    header.records, header.files, summary.records, summary.files
                ),
            });
        }
        let path = self.dir.display().to_string();
        self.write(|tx| {
            // The backup's own version, if it is older, is what the migrations start from.
            tx.put_meta_u64(META_SCHEMA, header.schema);
            Ok(())
        })?;
        // Still marked as an unfinished import: a migration stopped half-way leaves a store no
        // open accepts, and importing again starts over.
        self.migrate(self.tree(), &path)?;
        self.write(|tx| {
            tx.delete(Space::Meta, META_IMPORTING.as_bytes());
            Ok(())
        })?;
        self.db_flush()?;
        Ok(summary)
    }

    /// Refuses a store that holds anything but the records opening it wrote, or (with `replace`)
    /// deletes everything; then marks the import as under way.
    fn prepare_for_import(&self, replace: bool) -> Result<(), BackupError> {
        let tree = self.tree().ok_or(StoreError::Unavailable)?;
        let meta = Space::Meta.byte();
        let held = tree
            .iter()
            .keys()
            .filter(|k| k.as_ref().map_or(true, |k| k.first() != Some(&meta)))
            .count() as u64;
        if held > 0 && !replace {
            return Err(BackupError::NotEmpty { records: held });
        }
        // Marked first: a store left half deleted is refused like one left half imported.
        let marker = Space::Meta.key(META_IMPORTING.as_bytes());
        self.write(|tx| {
            tx.put_meta_u64(META_IMPORTING, 1);
            Ok(())
        })?;
        self.db_flush()?;
        let mut keys = tree
            .iter()
            .keys()
            .filter(|k| k.as_ref().map_or(true, |k| k.as_ref() != marker.as_slice()))
            .peekable();
        while keys.peek().is_some() {
            let chunk: Vec<Vec<u8>> = keys
                .by_ref()
                .take(IMPORT_BATCH)
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<Result<_, _>>()
                .map_err(StoreError::from)?;
            self.write(|tx| {
                for key in chunk {
                    tx.pending.insert(key, None);
                }
                Ok(())
            })?;
        }
        let referenced = std::collections::HashSet::new();
        self.files.sweep(&referenced)?;
        Ok(())
    }

    fn write_raw(&self, records: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for (key, value) in records {
                // The backup's meta records come in with the rest, except the mark of this
                // import, which only its end clears.
                if key == Space::Meta.key(META_IMPORTING.as_bytes()) {
                    continue;
                }
                tx.pending.insert(key, Some(value));
            }
            Ok(())
        })
    }

    /// Reads one `{"file":…,"base64":"…"}` line into the store's files, streaming: a file of any
    /// size passes through a small buffer.
    fn import_file(&self, input: &mut dyn BufRead, line: u64) -> Result<(), BackupError> {
        let format = |message: &str| BackupError::Format {
            line,
            message: message.to_owned(),
        };
        let mut head = Vec::new();
        input.read_until(b',', &mut head)?;
        let name: String = head
            .strip_prefix(b"{\"file\":")
            .and_then(|rest| rest.strip_suffix(b","))
            .and_then(|name| serde_json::from_slice(name).ok())
            .ok_or_else(|| format("a file line without its name"))?;
        let mut tag = [0u8; 10];
        input.read_exact(&mut tag)?;
        if &tag != b"\"base64\":\"" {
            return Err(format("a file line without its content"));
        }
        let target = self.files.path(&name)?;
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::File::create(&target)?;
        {
            let mut encoded = UntilQuote {
                input: &mut *input,
                done: false,
            };
            let mut decoder = base64::read::DecoderReader::new(
                &mut encoded,
                &base64::engine::general_purpose::STANDARD,
            );
            io::copy(&mut decoder, &mut file).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => format(&format!("the file {name} is not base64")),
                _ => e.into(),
            })?;
            if !encoded.done {
                return Err(BackupError::Truncated { line: line - 1 });
            }
        }
        let mut end = [0u8; 2];
        input.read_exact(&mut end)?;
        if &end != b"}\n" {
            return Err(format("a file line that goes on after its content"));
        }
        file.sync_all()?;
        Ok(())
    }

    fn db_flush(&self) -> Result<(), StoreError> {
        let db = self
            .handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|h| h.db.clone())
            .ok_or(StoreError::Unavailable)?;
        db.flush()?;
        Ok(())
    }
}

/// Reads up to (and consumes) the next `"`.
struct UntilQuote<'a> {
    input: &'a mut dyn BufRead,
    done: bool,
}

impl Read for UntilQuote<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let available = self.input.fill_buf()?;
        if available.is_empty() {
            return Ok(0);
        }
        let (take, quote) = match available.iter().position(|b| *b == b'"') {
            Some(at) => (at, true),
            None => (available.len(), false),
        };
        let n = take.min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        let consumed = if quote && n == take {
            self.done = true;
            n + 1
        } else {
            n
        };
        self.input.consume(consumed);
        Ok(n)
    }
}

pub(super) fn write_record(out: &mut dyn Write, key: &[u8], value: &[u8]) -> io::Result<()> {
    // A keyspace this build does not know (none should exist) keeps its byte.
    let byte = key.first().copied().unwrap_or_default();
    let space = Space::from_byte(byte).map_or_else(|| format!("#{byte}"), |s| s.name().to_owned());
    let rest = key.get(1..).unwrap_or_default();
    write!(
        out,
        "{{\"space\":\"{space}\",\"key\":\"{}\"",
        hex::encode(rest)
    )?;
    // The record as the store holds it, when that is JSON on one line (every record teledesk
    // writes); anything else (Mini App uploads of old stores, a damaged record) as base64.
    let verbatim = is_one_json_line(value);
    if verbatim {
        out.write_all(b",\"value\":")?;
        out.write_all(value)?;
    } else {
        write!(
            out,
            ",\"bytes\":\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(value)
        )?;
    }
    out.write_all(b"}\n")
}

/// Whether `bytes` are one JSON value on one line with nothing around it: what a record line
/// can carry verbatim, and read back byte for byte.
fn is_one_json_line(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii();
    trimmed.len() == bytes.len()
        && !bytes.contains(&b'\n')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Reads a record line as [`write_record`] writes it. Read by hand, not by a JSON parser, so
/// that the value comes back as the very bytes it was written with (a parser would rebuild it).
fn read_record(line: &[u8], line_no: u64) -> Result<(Vec<u8>, Vec<u8>), BackupError> {
    let format = |message: &str| BackupError::Format {
        line: line_no,
        message: message.to_owned(),
    };
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    // Space names and hex keys hold no quote, so each ends at the next one.
    let rest = line
        .strip_prefix(b"{\"space\":\"")
        .ok_or_else(|| format("not a record"))?;
    let end = rest
        .iter()
        .position(|b| *b == b'"')
        .ok_or_else(|| format("a record without its keyspace"))?;
    let (space, rest) = (
        std::str::from_utf8(&rest[..end]).unwrap_or(""),
        &rest[end..],
    );
    let rest = rest
        .strip_prefix(b"\",\"key\":\"")
        .ok_or_else(|| format("a record without its key"))?;
    let end = rest
        .iter()
        .position(|b| *b == b'"')
        .ok_or_else(|| format("a record without its key"))?;
    let (hex_key, rest) = (&rest[..end], &rest[end + 1..]);
    let space = match Space::from_name(space) {
        Some(space) => space.byte(),
        None => space
            .strip_prefix('#')
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| format(&format!("unknown keyspace {space:?}")))?,
    };
    let mut key = vec![space];
    key.extend(hex::decode(hex_key).map_err(|e| format(&format!("key: {e}")))?);
    let rest = rest
        .strip_suffix(b"}")
        .ok_or_else(|| format("a record that does not end where it should"))?;
    let value = if let Some(value) = rest.strip_prefix(b",\"value\":") {
        if !is_one_json_line(value) {
            return Err(format("a record whose value is not JSON"));
        }
        value.to_vec()
    } else if let Some(bytes) = rest
        .strip_prefix(b",\"bytes\":\"")
        .and_then(|b| b.strip_suffix(b"\""))
    {
        base64::engine::general_purpose::STANDARD
            .decode(bytes)
            .map_err(|e| format(&format!("bytes: {e}")))?
    } else {
        return Err(format("a record needs a value or its bytes"));
    };
    Ok((key, value))
}

/// Where the running daemon answers `teledesk export` (see [`crate::daemon::control`]).
pub fn control_socket(store_dir: &Path) -> PathBuf {
    store_dir.join("control.sock")
}
