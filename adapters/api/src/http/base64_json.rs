//! Files carried as base64 strings inside JSON request bodies, sent without being whole in memory.
//!
//! Znuny and Zammad take an article's files as base64 strings inside the JSON that creates it.
//! Encoding a 45 MB file into a `String` costs 60 MB, serializing the body as much again, and a
//! client may send many such files at once. [`Base64Files`] and [`Base64Json`] build the same
//! bytes as a stream instead: the JSON around the files is serialized once (small), and each file
//! is read and encoded one chunk at a time while the request is sent.

use crate::{Content, ContentReader, Error, ErrorKind, Result};
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
#[derive(Clone, Debug, Default)]
pub struct Base64Files {
    /// Makes the placeholders of this body unguessable, so no text a client typed into the same
    /// JSON can be taken for one.
    nonce: u64,
    files: Vec<Content>,
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
