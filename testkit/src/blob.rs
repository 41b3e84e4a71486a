//! File bodies the fakes keep and serve without holding large files in the test's memory.
//!
//! A test of bounded memory sends hundreds of megabytes through the daemon; the fakes live in the
//! test process, so they must not hold them either. A file a test sends is a [`Pattern`] (bytes
//! generated from a seed, served chunk by chunk), and an upload larger than [`KEEP_UPLOAD_BYTES`]
//! is kept as its size and SHA-256 only ([`Blob::Digest`]): enough to prove it arrived byte-exact.

use axum::body::Bytes;
use sha2::{Digest as _, Sha256};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Uploads up to this size are kept byte for byte; larger ones only as size and SHA-256.
pub const KEEP_UPLOAD_BYTES: usize = 4 * 1024 * 1024;

/// The size of the chunks a generated file is served in.
const CHUNK: usize = 64 * 1024;

/// A file's body as a fake holds it.
#[derive(Clone)]
pub enum Blob {
    /// The bytes themselves.
    Bytes(Arc<Vec<u8>>),
    /// Bytes generated on demand.
    Pattern(Pattern),
    /// An upload too large to keep: what is known of it.
    Digest {
        /// Size in bytes.
        len: u64,
        /// SHA-256 of the bytes.
        sha256: [u8; 32],
    },
}

impl Blob {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Blob::Bytes(bytes) => bytes.len() as u64,
            Blob::Pattern(pattern) => pattern.len,
            Blob::Digest { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SHA-256 of the bytes, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        let digest = match self {
            Blob::Bytes(bytes) => Sha256::digest(bytes.as_slice()).into(),
            Blob::Pattern(pattern) => pattern.sha256(),
            Blob::Digest { sha256, .. } => *sha256,
        };
        hex::encode(digest)
    }

    /// The bytes, unless only a digest was kept (a generated file is generated whole: for small
    /// ones).
    pub fn to_vec(&self) -> Option<Vec<u8>> {
        match self {
            Blob::Bytes(bytes) => Some(bytes.to_vec()),
            Blob::Pattern(pattern) => Some(pattern.to_vec()),
            Blob::Digest { .. } => None,
        }
    }

    /// A response body serving the bytes (a generated file chunk by chunk), unless only a digest
    /// was kept.
    pub fn body(&self) -> Option<axum::body::Body> {
        match self {
            Blob::Bytes(bytes) => Some(axum::body::Body::from(bytes.to_vec())),
            Blob::Pattern(pattern) => Some(axum::body::Body::new(PatternBody {
                pattern: *pattern,
                at: 0,
            })),
            Blob::Digest { .. } => None,
        }
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Blob::Bytes(Arc::new(bytes))
    }
}

/// Equal when the bytes are (compared through their digests across kinds).
impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Blob::Bytes(a), Blob::Bytes(b)) => a == b,
            (Blob::Pattern(a), Blob::Pattern(b)) if a == b => true,
            _ => self.len() == other.len() && self.sha256_hex() == other.sha256_hex(),
        }
    }
}

impl Eq for Blob {}

impl std::fmt::Debug for Blob {
    // Bytes would flood assertion messages; what the blob is and its size help.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blob::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Blob::Pattern(pattern) => write!(f, "{pattern:?}"),
            Blob::Digest { len, .. } => write!(f, "Digest({len} bytes)"),
        }
    }
}

/// `len` bytes generated from `seed` (SplitMix64 of the 8-byte word's index): any chunk can be
/// produced on its own, and two seeds give unrelated files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// Picks the file.
    pub seed: u64,
    /// Size in bytes.
    pub len: u64,
}

impl Pattern {
    /// The file of `len` bytes generated from `seed`.
    pub fn new(seed: u64, len: u64) -> Self {
        Self { seed, len }
    }

    fn word(&self, index: u64) -> [u8; 8] {
        let mut z = self
            .seed
            .wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }

    /// Fills `out` with the bytes from `offset` on (past the end: whatever the generator gives;
    /// callers stay inside `len`).
    pub fn fill(&self, offset: u64, out: &mut [u8]) {
        let mut at = offset;
        let mut written = 0;
        while written < out.len() {
            let word = self.word(at / 8);
            let skip = (at % 8) as usize;
            let n = (8 - skip).min(out.len() - written);
            out[written..written + n].copy_from_slice(&word[skip..skip + n]);
            written += n;
            at += n as u64;
        }
    }

    /// The whole file in memory (for small ones).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.len as usize];
        self.fill(0, &mut out);
        out
    }

    /// The SHA-256 of the file, computed chunk by chunk.
    pub fn sha256(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        let mut chunk = vec![0; CHUNK];
        let mut at = 0;
        while at < self.len {
            let n = (self.len - at).min(CHUNK as u64) as usize;
            self.fill(at, &mut chunk[..n]);
            hasher.update(&chunk[..n]);
            at += n as u64;
        }
        hasher.finalize().into()
    }

    /// The SHA-256 of the file, lowercase hex (as [`Blob::sha256_hex`]).
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }
}

/// Serves a [`Pattern`] one chunk at a time.
struct PatternBody {
    pattern: Pattern,
    at: u64,
}

impl http_body::Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let left = self.pattern.len - self.at;
        if left == 0 {
            return Poll::Ready(None);
        }
        let mut chunk = vec![0; left.min(CHUNK as u64) as usize];
        self.pattern.fill(self.at, &mut chunk);
        self.at += chunk.len() as u64;
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.at == self.pattern.len
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.pattern.len - self.at)
    }
}

/// Collects an upload as it arrives: its bytes while they fit in [`KEEP_UPLOAD_BYTES`], its size
/// and SHA-256 always.
pub struct BlobWriter {
    hasher: Sha256,
    kept: Option<Vec<u8>>,
    len: u64,
}

impl Default for BlobWriter {
    fn default() -> Self {
        Self {
            hasher: Sha256::new(),
            kept: Some(Vec::new()),
            len: 0,
        }
    }
}

impl BlobWriter {
    /// Nothing collected yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `chunk`.
    pub fn write(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        if self.len > KEEP_UPLOAD_BYTES as u64 {
            self.kept = None;
        } else if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(chunk);
        }
    }

    /// Bytes collected so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The upload: its bytes when small enough, else its digest.
    pub fn finish(self) -> Blob {
        match self.kept {
            Some(bytes) => Blob::from(bytes),
            None => Blob::Digest {
                len: self.len,
                sha256: self.hasher.finalize().into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_the_same_whichever_way_it_is_cut() {
        let pattern = Pattern::new(42, 1001);
        let whole = pattern.to_vec();
        let mut pieces = Vec::new();
        for (from, to) in [(0, 3), (3, 11), (11, 500), (500, 1001)] {
            let mut piece = vec![0; to - from];
            pattern.fill(from as u64, &mut piece);
            pieces.extend(piece);
        }
        assert_eq!(pieces, whole);
        assert_ne!(Pattern::new(43, 1001).to_vec(), whole);
        assert_eq!(pattern.sha256_hex(), Blob::from(whole.clone()).sha256_hex());
    }

    #[test]
    fn large_uploads_keep_only_their_digest() {
        let pattern = Pattern::new(1, KEEP_UPLOAD_BYTES as u64 + 5);
        let bytes = pattern.to_vec();
        let mut writer = BlobWriter::new();
        for chunk in bytes.chunks(100_000) {
            writer.write(chunk);
        }
        let blob = writer.finish();
        assert!(matches!(blob, Blob::Digest { .. }));
        assert_eq!(blob.len(), bytes.len() as u64);
        assert_eq!(blob.sha256_hex(), pattern.sha256_hex());
        assert!(blob.body().is_none());

        let mut small = BlobWriter::new();
        small.write(b"abc");
        assert_eq!(small.finish().to_vec(), Some(b"abc".to_vec()));
    }
}
