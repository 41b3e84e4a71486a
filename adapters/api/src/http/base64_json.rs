//! Files carried as base64 strings inside JSON, sent and received without being whole in memory.
//!
//! Znuny and Zammad take an article's files as base64 strings inside the JSON that creates it.
//! Encoding a 45 MB file into a `String` costs 60 MB, serializing the body as much again, and a
//! client may send many such files at once. [`Base64Files`] and [`Base64Json`] build the same
//! bytes as a stream instead: the JSON around the files is serialized once (small), and each file
//! is read and encoded one chunk at a time while the request is sent.
//!
//! The other way, Znuny's `TicketGet` answers every attachment of a ticket's articles as base64
//! inside one JSON document, and RT one attachment. `receive_json_with_files` (behind
//! `HttpClient::json_with_files`) decodes those strings into the spool as the answer arrives and
//! leaves serde_json only the rest of the document ([`ReceivedFiles`]).

use crate::{Content, ContentReader, ContentWriter, Error, ErrorKind, Result, Spool};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::RequestBuilder;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::Serialize;
use std::hash::BuildHasher;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes of a file read and encoded at a time: a multiple of 3, so that every chunk but the last
/// encodes to base64 without padding and the chunks join into the base64 of the whole file.
const RAW_CHUNK: usize = 48 * 1024;

/// The files of one JSON request body whose base64 is encoded while the body is sent.
///
/// Put the string [`Base64Files::embed`] returns wherever a file's base64 belongs in the value
/// to serialize (the `Content` of a Znuny attachment, the `data` of a Zammad one), then turn the
/// value into a body with [`Base64Files::into_json`]. Each placeholder must end up as a whole
/// JSON string exactly once. Cloning is cheap (the files' bytes are shared), so a vendor client
/// can keep the files with a request it may have to send twice.
#[derive(Clone, Debug)]
pub struct Base64Files {
    /// Makes the placeholders of this body unguessable, so no text a client typed into the same
    /// JSON can be taken for one.
    nonce: u64,
    files: Vec<Content>,
}

impl Default for Base64Files {
    fn default() -> Self {
        Self::new()
    }
}

impl Base64Files {
    /// No files yet.
    pub fn new() -> Self {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        // RandomState is seeded randomly per process; the sequence makes every body differ.
        let nonce =
            std::hash::RandomState::new().hash_one(SEQUENCE.fetch_add(1, Ordering::Relaxed));
        Self {
            nonce,
            files: Vec::new(),
        }
    }

    /// Adds `content` and returns the placeholder to put, as a JSON string value, where its base64
    /// goes.
    pub fn embed(&mut self, content: &Content) -> String {
        self.files.push(content.clone());
        self.placeholder(self.files.len() - 1)
    }

    /// Whether no file was added (the body is then plain JSON).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn placeholder(&self, index: usize) -> String {
        format!("teledesk-base64-{:016x}-{index}", self.nonce)
    }

    /// Serializes `value` with serde_json and prepares it to be sent with every placeholder
    /// replaced by the base64 (standard alphabet, padded) of its file.
    ///
    /// The bytes sent are exactly `serde_json::to_vec(value)` with the base64 strings in place of
    /// the placeholders: base64's alphabet needs no escaping in JSON. An [`ErrorKind::Unexpected`]
    /// error when `value` cannot be serialized or a placeholder does not appear exactly once as a
    /// whole JSON string (a caller's mistake).
    pub fn into_json<T>(self, op: &'static str, value: &T) -> Result<Base64Json>
    where
        T: Serialize + ?Sized,
    {
        let json = serde_json::to_vec(value)
            .map_err(|e| Error::new(ErrorKind::Unexpected, op, e.to_string()))?;
        let mut found: Vec<(Range<usize>, Content)> = Vec::with_capacity(self.files.len());
        for (index, content) in self.files.iter().enumerate() {
            let quoted = format!("\"{}\"", self.placeholder(index));
            let mut hits = find_all(&json, quoted.as_bytes());
            let (Some(at), None) = (hits.next(), hits.next()) else {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    op,
                    format!("file {index} must appear exactly once in the request body"),
                ));
            };
            // The quotes stay in the JSON around the base64.
            found.push((at + 1..at + quoted.len() - 1, content.clone()));
        }
        found.sort_by_key(|(range, _)| range.start);
        let mut parts = Vec::with_capacity(2 * found.len() + 1);
        let mut len = 0u64;
        let mut from = 0;
        for (range, content) in found {
            parts.push(Part::Json(from..range.start));
            len += (range.start - from) as u64;
            len += encoded_len(content.len());
            parts.push(Part::File(content));
            from = range.end;
        }
        parts.push(Part::Json(from..json.len()));
        len += (json.len() - from) as u64;
        Ok(Base64Json {
            json: Arc::new(json),
            parts: Arc::new(parts),
            len,
        })
    }
}

/// The start of every occurrence of `needle` in `haystack`, without overlaps.
fn find_all<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = haystack
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)?
            + from;
        from = at + needle.len();
        Some(at)
    })
}

/// The length of the padded base64 of `len` bytes.
fn encoded_len(len: u64) -> u64 {
    len.div_ceil(3) * 4
}

/// A JSON request body with files embedded as base64, built by [`Base64Files::into_json`].
///
/// It is sent as a stream ([`Base64Json::body`]) that holds at most one chunk of one file at a
/// time, and its exact length is known before it is sent ([`Base64Json::len`]), so the request
/// carries a `Content-Length` as a serialized body would. Cloning is cheap; every body made from
/// it starts from the beginning, so a request can be sent again (after a new login) from the same
/// value.
#[derive(Clone, Debug)]
pub struct Base64Json {
    /// The serialized JSON, placeholders included (they are skipped when sent).
    json: Arc<Vec<u8>>,
    /// The pieces in the order they are sent.
    parts: Arc<Vec<Part>>,
    len: u64,
}

#[derive(Debug)]
enum Part {
    /// A range of the serialized JSON.
    Json(Range<usize>),
    /// A file, sent as its base64.
    File(Content),
}

impl Base64Json {
    /// The exact size of the body in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty (never, for a serialized value).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A reader over the whole body, from its start. A file that cannot be opened or read, or
    /// whose size changed since it was embedded, is an I/O error of the read.
    pub fn reader(&self) -> Base64JsonReader {
        Base64JsonReader {
            body: self.clone(),
            part: 0,
            at: 0,
            file: None,
            raw: Vec::new(),
            filled: 0,
            read: 0,
            out: Vec::new(),
            out_at: 0,
        }
    }

    /// The body as a streaming request body. A read error aborts the request (it fails as a
    /// transport error: the helpdesk did not receive a whole body).
    pub fn body(&self) -> reqwest::Body {
        reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            self.reader(),
            64 * 1024,
        ))
    }

    /// Puts the body on `builder` with `Content-Type: application/json` and its exact
    /// `Content-Length`.
    pub fn attach(&self, builder: RequestBuilder) -> RequestBuilder {
        builder
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, self.len)
            .body(self.body())
    }
}

/// Reads a [`Base64Json`] body from its start, encoding its files chunk by chunk.
pub struct Base64JsonReader {
    body: Base64Json,
    /// The part being sent.
    part: usize,
    /// How far into a JSON part.
    at: usize,
    /// The file of the current file part, once opened.
    file: Option<ContentReader>,
    /// Raw bytes of the file waiting to be encoded ([`RAW_CHUNK`] once allocated).
    raw: Vec<u8>,
    filled: usize,
    /// Raw bytes of the current file read so far.
    read: u64,
    /// Encoded bytes not yet handed out.
    out: Vec<u8>,
    out_at: usize,
}

impl Base64JsonReader {
    fn next_part(&mut self) {
        self.part += 1;
        self.at = 0;
        self.file = None;
        self.read = 0;
    }
}

impl AsyncRead for Base64JsonReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.out_at < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_at);
                buf.put_slice(&this.out[this.out_at..this.out_at + n]);
                this.out_at += n;
                return Poll::Ready(Ok(()));
            }
            let parts = Arc::clone(&this.body.parts);
            let Some(part) = parts.get(this.part) else {
                return Poll::Ready(Ok(()));
            };
            let content = match part {
                Part::Json(range) => {
                    let rest = &this.body.json[range.start + this.at..range.end];
                    if rest.is_empty() {
                        this.next_part();
                        continue;
                    }
                    let n = buf.remaining().min(rest.len());
                    buf.put_slice(&rest[..n]);
                    this.at += n;
                    return Poll::Ready(Ok(()));
                }
                Part::File(content) => content,
            };
            let file = match &mut this.file {
                Some(file) => file,
                None => this.file.insert(content.reader_now()?),
            };
            if this.raw.len() != RAW_CHUNK {
                this.raw = vec![0; RAW_CHUNK];
            }
            // Fill a whole chunk before encoding it, so that only the last one has padding.
            let mut ended = false;
            while this.filled < RAW_CHUNK {
                let mut chunk = ReadBuf::new(&mut this.raw[this.filled..]);
                match Pin::new(&mut *file).poll_read(cx, &mut chunk) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {
                        let n = chunk.filled().len();
                        if n == 0 {
                            ended = true;
                            break;
                        }
                        this.filled += n;
                        this.read += n as u64;
                    }
                }
            }
            // The length was promised in Content-Length: a file that changed would break it.
            if this.read > content.len() || (ended && this.read != content.len()) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a file changed size while it was sent ({} bytes expected)",
                        content.len()
                    ),
                )));
            }
            if this.filled > 0 {
                this.out.resize(encoded_len(this.filled as u64) as usize, 0);
                let written = STANDARD
                    .encode_slice(&this.raw[..this.filled], &mut this.out)
                    .map_err(io::Error::other)?;
                this.out.truncate(written);
                this.out_at = 0;
                this.filled = 0;
            }
            if ended {
                this.next_part();
            }
        }
    }
}

/// One step from a JSON document's root to a value: an object key or an array index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStep<'a> {
    /// The value under this key of an object.
    Key(&'a str),
    /// The value at this index of an array.
    Index(usize),
}

/// The files of a JSON answer read by [`HttpClient::json_with_files`](super::HttpClient::json_with_files):
/// each base64 string it was asked to take is decoded into the spool as the answer arrives, and
/// the parsed answer holds a placeholder string in its place, which [`ReceivedFiles::take`]
/// exchanges for the file.
///
/// Files not taken are deleted when this is dropped (a spooled file goes with its last handle).
#[derive(Debug, Default)]
pub struct ReceivedFiles {
    files: Vec<Option<Content>>,
}

/// What a decoded file's string becomes in the answer: this prefix and the file's index.
const RECEIVED_PLACEHOLDER: &str = "teledesk-received-file-";

impl ReceivedFiles {
    /// The file whose placeholder is `value` (the string the parsed answer holds where the base64
    /// was), once; `None` for any other string, and for a file already taken.
    pub fn take(&mut self, value: &str) -> Option<Content> {
        let index: usize = value.strip_prefix(RECEIVED_PLACEHOLDER)?.parse().ok()?;
        self.files.get_mut(index)?.take()
    }

    /// How many files the answer carried.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the answer carried no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Base64 characters decoded at a time: a multiple of 4, so each batch decodes on its own.
const BASE64_BATCH: usize = 64 * 1024;

/// Keys longer than this are not needed to find a file and are cut.
const MAX_KEY: usize = 256;

/// Copies a JSON document through, taking the base64 strings at the chosen paths out of it.
///
/// A small JSON scanner: it tracks the path to the current value (objects' keys, arrays' indices)
/// and whether it is inside a string, and copies every byte to `out` except the contents of a
/// string `is_file` accepts, which it decodes in batches ([`FileEvent`]s for the caller to write)
/// and replaces by a placeholder. It does not validate the JSON: `serde_json` parses `out`
/// afterwards, and whatever is malformed fails there.
struct Splicer<F> {
    is_file: F,
    out: Vec<u8>,
    stack: Vec<Frame>,
    lex: Lex,
    key: Vec<u8>,
    files: usize,
    base64: Vec<u8>,
    /// A padded group was decoded: the file has ended, whatever follows is an error.
    padded: bool,
    unicode: (u8, u32),
    events: Vec<FileEvent>,
}

enum Frame {
    Object { key: Option<String>, want_key: bool },
    Array { index: usize },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lex {
    Between,
    Key,
    KeyEscape,
    Value,
    ValueEscape,
    File,
    FileEscape,
    FileUnicode,
}

enum FileEvent {
    Start,
    Bytes(Vec<u8>),
    End,
}

impl<F> Splicer<F>
where
    F: Fn(&[JsonStep<'_>]) -> bool,
{
    fn new(is_file: F) -> Self {
        Self {
            is_file,
            out: Vec::new(),
            stack: Vec::new(),
            lex: Lex::Between,
            key: Vec::new(),
            files: 0,
            base64: Vec::new(),
            padded: false,
            unicode: (0, 0),
            events: Vec::new(),
        }
    }

    fn value_is_file(&self) -> bool {
        let path: Vec<JsonStep<'_>> = self
            .stack
            .iter()
            .map(|frame| match frame {
                Frame::Object { key, .. } => JsonStep::Key(key.as_deref().unwrap_or_default()),
                Frame::Array { index } => JsonStep::Index(*index),
            })
            .collect();
        (self.is_file)(&path)
    }

    /// Takes the next piece of the document; the [`FileEvent`]s it produced wait in `events`.
    fn feed(&mut self, chunk: &[u8]) -> std::result::Result<(), String> {
        for &byte in chunk {
            match self.lex {
                Lex::Between => self.between(byte),
                Lex::Key => {
                    self.out.push(byte);
                    match byte {
                        b'\\' => self.lex = Lex::KeyEscape,
                        b'"' => {
                            let key = String::from_utf8_lossy(&self.key).into_owned();
                            if let Some(Frame::Object { key: at, want_key }) = self.stack.last_mut()
                            {
                                *at = Some(key);
                                *want_key = false;
                            }
                            self.lex = Lex::Between;
                        }
                        _ if self.key.len() < MAX_KEY => self.key.push(byte),
                        _ => {}
                    }
                }
                Lex::KeyEscape => {
                    // Keys that matter here have no escapes; an escaped one just never matches.
                    self.out.push(byte);
                    if self.key.len() < MAX_KEY {
                        self.key.push(byte);
                    }
                    self.lex = Lex::Key;
                }
                Lex::Value => {
                    self.out.push(byte);
                    match byte {
                        b'\\' => self.lex = Lex::ValueEscape,
                        b'"' => self.lex = Lex::Between,
                        _ => {}
                    }
                }
                Lex::ValueEscape => {
                    self.out.push(byte);
                    self.lex = Lex::Value;
                }
                Lex::File => match byte {
                    b'"' => {
                        self.decode(true)?;
                        self.out.push(b'"');
                        self.events.push(FileEvent::End);
                        self.lex = Lex::Between;
                    }
                    b'\\' => self.lex = Lex::FileEscape,
                    // MIME-wrapped base64 (RT's) breaks its lines.
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    _ => self.push_base64(byte)?,
                },
                Lex::FileEscape => {
                    self.lex = Lex::File;
                    match byte {
                        b'n' | b'r' | b't' => {}
                        b'/' => self.push_base64(b'/')?,
                        b'u' => {
                            self.unicode = (0, 0);
                            self.lex = Lex::FileUnicode;
                        }
                        other => {
                            return Err(format!("not base64 (escaped {:?})", other as char));
                        }
                    }
                }
                Lex::FileUnicode => {
                    let digit = (byte as char)
                        .to_digit(16)
                        .ok_or_else(|| "a broken \\u escape".to_owned())?;
                    let (count, value) = self.unicode;
                    self.unicode = (count + 1, value * 16 + digit);
                    if count + 1 == 4 {
                        self.lex = Lex::File;
                        match char::from_u32(self.unicode.1) {
                            Some(' ' | '\t' | '\r' | '\n') => {}
                            Some(c) if c.is_ascii() => self.push_base64(c as u8)?,
                            _ => return Err("not base64 (a non-ASCII character)".to_owned()),
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn between(&mut self, byte: u8) {
        self.out.push(byte);
        match byte {
            b'{' => self.stack.push(Frame::Object {
                key: None,
                want_key: true,
            }),
            b'[' => self.stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                self.stack.pop();
            }
            b',' => match self.stack.last_mut() {
                Some(Frame::Object { want_key, .. }) => *want_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'"' => {
                if let Some(Frame::Object { want_key: true, .. }) = self.stack.last() {
                    self.key.clear();
                    self.lex = Lex::Key;
                } else if self.value_is_file() {
                    self.out.extend_from_slice(
                        format!("{RECEIVED_PLACEHOLDER}{}", self.files).as_bytes(),
                    );
                    self.files += 1;
                    self.events.push(FileEvent::Start);
                    self.base64.clear();
                    self.padded = false;
                    self.lex = Lex::File;
                } else {
                    self.lex = Lex::Value;
                }
            }
            _ => {}
        }
    }

    fn push_base64(&mut self, byte: u8) -> std::result::Result<(), String> {
        self.base64.push(byte);
        if self.base64.len() >= BASE64_BATCH {
            self.decode(false)?;
        }
        Ok(())
    }

    /// Decodes the whole groups of base64 waiting (all of it at the end of the string, where a
    /// group that is not whole is an error, as for the string decoded at once).
    fn decode(&mut self, last: bool) -> std::result::Result<(), String> {
        let usable = if last {
            self.base64.len()
        } else {
            self.base64.len() / 4 * 4
        };
        if usable == 0 {
            return Ok(());
        }
        if self.padded {
            return Err("not base64 (data after the padding)".to_owned());
        }
        let batch = &self.base64[..usable];
        let mut bytes = vec![0; usable.div_ceil(4) * 3];
        let n = STANDARD
            .decode_slice(batch, &mut bytes)
            .map_err(|e| format!("not base64 ({e})"))?;
        bytes.truncate(n);
        self.padded = batch.last() == Some(&b'=');
        self.base64.drain(..usable);
        self.events.push(FileEvent::Bytes(bytes));
        Ok(())
    }

    /// The document without the files, once it has all arrived.
    fn finish(self) -> std::result::Result<Vec<u8>, String> {
        if matches!(self.lex, Lex::File | Lex::FileEscape | Lex::FileUnicode) {
            return Err("the answer ended inside a file".to_owned());
        }
        Ok(self.out)
    }
}

/// Writes the files a [`Splicer`] decodes into a spool.
struct FileSink {
    spool: Spool,
    writing: Option<ContentWriter>,
    files: Vec<Option<Content>>,
}

impl FileSink {
    fn new(spool: Spool) -> Self {
        Self {
            spool,
            writing: None,
            files: Vec::new(),
        }
    }

    async fn apply(&mut self, events: Vec<FileEvent>) -> io::Result<()> {
        for event in events {
            match event {
                FileEvent::Start => self.writing = Some(self.spool.writer()),
                FileEvent::Bytes(bytes) => {
                    if let Some(writer) = &mut self.writing {
                        writer.write(&bytes).await?;
                    }
                }
                FileEvent::End => {
                    if let Some(writer) = self.writing.take() {
                        self.files.push(Some(writer.finish().await?));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads a JSON answer chunk by chunk, decoding the base64 strings at the paths `is_file` accepts
/// into `spool` as they arrive; returns the rest of the answer (each such string replaced by a
/// placeholder) and the files. Only the rest and one batch of a file are ever in memory.
pub(super) async fn receive_json_with_files<F>(
    op: &'static str,
    vendor: &str,
    mut response: reqwest::Response,
    spool: &Spool,
    is_file: F,
) -> Result<(Vec<u8>, ReceivedFiles)>
where
    F: Fn(&[JsonStep<'_>]) -> bool,
{
    let mut splicer = Splicer::new(is_file);
    let mut sink = FileSink::new(spool.clone());
    let undecodable = |e: String| {
        Error::new(
            ErrorKind::Unexpected,
            op,
            format!("{vendor} sent a file that cannot be read: {e}"),
        )
    };
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| super::transport_error(op, e))?
    {
        splicer.feed(&chunk).map_err(undecodable)?;
        let events = std::mem::take(&mut splicer.events);
        sink.apply(events)
            .await
            .map_err(|e| super::spool_error(op, e))?;
    }
    let json = splicer.finish().map_err(undecodable)?;
    Ok((json, ReceivedFiles { files: sink.files }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Spool;
    use serde_json::json;
    use tokio::io::AsyncReadExt;

    /// A small deterministic generator (SplitMix64), so sizes and bytes vary without a
    /// dependency.
    struct Mix(u64);
    impl Mix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    async fn spooled(spool: &Spool, bytes: &[u8]) -> Content {
        let mut writer = spool.writer();
        // Odd pieces, so that the spool file is not written in encoder-sized chunks either.
        for piece in bytes.chunks(10_007) {
            writer.write(piece).await.unwrap();
        }
        writer.finish().await.unwrap()
    }

    async fn read(body: &Base64Json) -> Vec<u8> {
        let mut out = Vec::new();
        body.reader().read_to_end(&mut out).await.unwrap();
        out
    }

    /// Two files in one Znuny-like body, around and between ordinary fields whose text looks
    /// like JSON.
    fn request(a: &str, b: &str, text: &str) -> serde_json::Value {
        json!({
            "Ticket": {"Title": text},
            "Attachment": [
                {"Content": a, "Filename": "a \"quoted\".bin"},
                {"Filename": "b.bin", "Content": b},
            ],
            "Note": text,
        })
    }

    #[tokio::test]
    async fn the_stream_is_byte_for_byte_the_serialized_json_with_the_base64_in_place() {
        let dir = std::env::temp_dir().join(format!("teledesk-b64-{}", std::process::id()));
        // Small threshold: files above 1 KiB are spooled, so both kinds of content are read.
        let spool = Spool::new(&dir, 1024);
        let chunk = RAW_CHUNK;
        let mut sizes = vec![
            0,
            1,
            2,
            3,
            4,
            1023,
            1025,
            chunk - 1,
            chunk,
            chunk + 1,
            chunk + 2,
            2 * chunk,
            3 * chunk + 1,
        ];
        let mut mix = Mix(7);
        sizes.extend((0..12).map(|_| (mix.next() % (4 * chunk as u64)) as usize));
        for (n, size) in sizes.iter().enumerate() {
            let a_bytes = mix.bytes(*size);
            let b_bytes = mix.bytes(sizes[sizes.len() - 1 - n]);
            let a = spooled(&spool, &a_bytes).await;
            let b = spooled(&spool, &b_bytes).await;
            let text = "typed: \"teledesk-base64-0000000000000000-0\" {\"Content\": 1}";

            let mut files = Base64Files::new();
            let (pa, pb) = (files.embed(&a), files.embed(&b));
            let body = files
                .into_json("test", &request(&pa, &pb, text))
                .expect("a body");
            let expected = serde_json::to_vec(&request(
                &STANDARD.encode(&a_bytes),
                &STANDARD.encode(&b_bytes),
                text,
            ))
            .unwrap();
            let streamed = read(&body).await;
            assert_eq!(body.len(), expected.len() as u64, "sizes {size}");
            assert!(streamed == expected, "sizes {size} and {}", b_bytes.len());
            // A second read (a re-sent request) gives the same bytes.
            assert!(read(&body).await == expected);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn no_files_is_plain_json_and_a_misplaced_placeholder_is_refused() {
        let value = json!({"a": "b", "n": [1, 2]});
        let body = Base64Files::new().into_json("test", &value).unwrap();
        assert_eq!(read(&body).await, serde_json::to_vec(&value).unwrap());

        let mut files = Base64Files::new();
        let placeholder = files.embed(&Content::from(b"abc"));
        let missing = files.clone().into_json("test", &json!({"a": 1}));
        assert_eq!(missing.unwrap_err().kind(), ErrorKind::Unexpected);
        let twice = files
            .clone()
            .into_json("test", &json!([placeholder, placeholder]));
        assert_eq!(twice.unwrap_err().kind(), ErrorKind::Unexpected);
        // Inside a longer string it is not a placeholder.
        let inside = files
            .clone()
            .into_json("test", &json!({"a": format!("x{placeholder}")}));
        assert!(inside.is_err());
        let once = files.into_json("test", &json!({"a": placeholder})).unwrap();
        assert_eq!(read(&once).await, br#"{"a":"YWJj"}"#);
    }

    /// Runs a document through the splicer in pieces of `piece` bytes.
    async fn splice(
        doc: &[u8],
        piece: usize,
        spool: &Spool,
        is_file: impl Fn(&[JsonStep<'_>]) -> bool,
    ) -> std::result::Result<(serde_json::Value, ReceivedFiles), String> {
        let mut splicer = Splicer::new(is_file);
        let mut sink = FileSink::new(spool.clone());
        for chunk in doc.chunks(piece.max(1)) {
            splicer.feed(chunk)?;
            let events = std::mem::take(&mut splicer.events);
            sink.apply(events).await.unwrap();
        }
        let json = splicer.finish()?;
        let value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        Ok((value, ReceivedFiles { files: sink.files }))
    }

    /// Znuny's TicketGet: files at `Ticket[].Article[].Attachment[].Content`, whatever the
    /// indices.
    fn znuny_content(path: &[JsonStep<'_>]) -> bool {
        let keys: Vec<&str> = path
            .iter()
            .filter_map(|step| match step {
                JsonStep::Key(key) => Some(*key),
                JsonStep::Index(_) => None,
            })
            .collect();
        keys == ["Ticket", "Article", "Attachment", "Content"]
    }

    /// Base64 with MIME line breaks every 76 characters, as RT and Perl's MIME::Base64 write it.
    fn mime_base64(bytes: &[u8]) -> String {
        let plain = STANDARD.encode(bytes);
        let lines: Vec<&str> = plain
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        lines.join("\n") + "\n"
    }

    #[tokio::test]
    async fn files_are_decoded_out_of_the_answer_in_any_pieces_and_the_rest_parses() {
        let dir = std::env::temp_dir().join(format!("teledesk-splice-{}", std::process::id()));
        let spool = Spool::new(&dir, 1024);
        let mut mix = Mix(11);
        let sizes = [0, 1, 2, 3, 5000, 3 * BASE64_BATCH / 4 + 1, 200_000];
        let files: Vec<Vec<u8>> = sizes.iter().map(|n| mix.bytes(*n)).collect();
        let attachment = |n: usize| {
            // Key order differs between files, as Perl's hashes give it.
            if n.is_multiple_of(2) {
                json!({"Content": mime_base64(&files[n]), "FileID": n, "Filename": format!("{n}.bin")})
            } else {
                json!({"FileID": n, "Filename": format!("{n}.bin"), "Content": mime_base64(&files[n])})
            }
        };
        let doc = json!({
            "Ticket": [{
                "Title": "a \"Content\": \"AAAA\" look-alike / with \\ escapes",
                "Article": [
                    {"ArticleID": 1, "Attachment": [attachment(0), attachment(1), attachment(2)]},
                    {"Body": "Content", "Attachment": [], "Other": {"Content": "not a file"}},
                    {"ArticleID": 3, "Attachment": [attachment(3), attachment(4), attachment(5), attachment(6)]},
                ],
                "Numbers": [1, 2.5, -3e2, true, false, null],
            }],
        });
        // Some encoders escape the slash; both spellings are the same JSON.
        let plain = serde_json::to_vec(&doc).unwrap();
        let slashed = String::from_utf8(plain.clone())
            .unwrap()
            .replace('/', "\\/");
        for (text, piece) in [
            (&plain, 1),
            (&plain, 7),
            (&plain, 4096),
            (&plain, usize::MAX),
            (&slashed.as_bytes().to_vec(), 3),
            (&slashed.as_bytes().to_vec(), 65_536),
        ] {
            let (value, mut received) = splice(text, piece, &spool, znuny_content)
                .await
                .expect("spliced");
            assert_eq!(received.len(), files.len());
            let mut expected = doc.clone();
            let articles = expected["Ticket"][0]["Article"].as_array_mut().unwrap();
            for article in articles.iter_mut() {
                for file in article["Attachment"].as_array_mut().unwrap() {
                    let n = file["FileID"].as_u64().unwrap() as usize;
                    let placeholder = value["Ticket"][0]["Article"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|a| a["Attachment"].as_array().unwrap().iter())
                        .find(|f| f["FileID"] == n)
                        .unwrap()["Content"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let content = received.take(&placeholder).expect("a file per placeholder");
                    assert!(content.read_all().await.unwrap() == files[n], "file {n}");
                    assert!(received.take(&placeholder).is_none(), "taken once");
                    file["Content"] = json!(placeholder);
                }
            }
            assert_eq!(value, expected, "the rest of the answer is untouched");
        }
        assert!(
            std::fs::read_dir(&dir).map_or(0, |d| d.count()) == 0,
            "no file left"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_top_level_file_and_broken_base64_are_told_apart() {
        let dir = std::env::temp_dir().join(format!("teledesk-splice-bad-{}", std::process::id()));
        let spool = Spool::new(&dir, 1024);
        let rt = |path: &[JsonStep<'_>]| path == [JsonStep::Key("Content")];
        let (value, mut files) = splice(
            br#"{"id": 7, "Content": "QUJD\nRA==\n", "Filename": "abcd.txt"}"#,
            5,
            &spool,
            rt,
        )
        .await
        .unwrap();
        assert_eq!(value["id"], 7);
        let content = files.take(value["Content"].as_str().unwrap()).unwrap();
        assert_eq!(content.read_all().await.unwrap(), b"ABCD");
        assert!(files.take("QUJD").is_none(), "only placeholders are files");

        for bad in [
            r#"{"Content": "QUJD*"}"#,
            r#"{"Content": "QQ==QUJD"}"#,
            r#"{"Content": "QUJDR"}"#,
            r#"{"Content": "QU\"JD"}"#,
            r#"{"Content": "QUJD"#,
        ] {
            let result = splice(bad.as_bytes(), 2, &spool, rt).await;
            assert!(result.is_err(), "{bad} was accepted");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_file_that_changed_size_fails_the_read_instead_of_breaking_the_length() {
        let dir = std::env::temp_dir().join(format!("teledesk-b64-size-{}", std::process::id()));
        let spool = Spool::new(&dir, 10);
        let content = spooled(&spool, &[1; 100]).await;
        let mut files = Base64Files::new();
        let placeholder = files.embed(&content);
        let body = files.into_json("test", &json!([placeholder])).unwrap();
        std::fs::write(content.path().unwrap(), [1; 50]).unwrap();
        let mut out = Vec::new();
        let error = body.reader().read_to_end(&mut out).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        drop(content);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
