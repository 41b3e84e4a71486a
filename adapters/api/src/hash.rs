//! A hash whose values may be stored: the same bytes give the same number in every build, on
//! every platform, after every Rust upgrade — which `std`'s hashers do not promise.
//!
//! Adapters keep such hashes in polling cursors (a change stamp's fingerprint, a snapshot's) and
//! the daemon's store files ticket ids under them, so a hash that changed with the compiler
//! would make an upgraded daemon see every ticket as changed, or miss a stored id. FNV-1a, 64
//! bits: a few lines, well-spread for short keys, and published test vectors to hold it to.

/// FNV-1a (64 bits) fed piece by piece.
///
/// ```
/// use teledesk_adapter::StableHash;
/// let mut hash = StableHash::new();
/// hash.write(b"foo");
/// hash.write(b"bar");
/// assert_eq!(hash.finish(), teledesk_adapter::stable_hash(b"foobar"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StableHash(u64);

impl StableHash {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The hash of nothing yet.
    pub fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    /// Feeds `bytes`. Pieces are not delimited: feed a length or a separator between pieces
    /// whose boundaries matter ("ab", "c" and "a", "bc" hash alike).
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// The hash of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for StableHash {
    fn default() -> Self {
        Self::new()
    }
}

/// The [`StableHash`] of `bytes` in one call.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash = StableHash::new();
    hash.write(bytes);
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_vectors() {
        // From the FNV reference test suite (isthe.com/chongo/tech/comp/fnv).
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
