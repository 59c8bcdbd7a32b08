//! The memtable's key: a user key plus a tag, ordered like every other source of
//! entries (`docs/format.md` section 1, internal order).

use std::cmp::Ordering;

use bytes::Bytes;
use lsm_format::EntryKind;

/// A user key with the tag `seq << 8 | kind` of one version of it.
///
/// Ordered by user key ascending, then tag descending, so the newest version of a key
/// comes first. Sequence numbers are unique, so comparing tags orders versions by
/// sequence number; the kind byte only matters for the lookup keys built by
/// [`MemKey::lookup`], whose kind byte is `0xff` so that they sort before every
/// version with the same sequence number.
///
/// The first 8 bytes of the key are kept inline, big-endian and zero-padded, and
/// compared first: the skip list then rarely follows the `Bytes` pointer to the key's
/// heap allocation (a cache miss per comparison). Padded prefixes order like the keys
/// they come from whenever they differ (a difference at a padded position means one
/// key is a proper prefix of the other); equal prefixes fall back to the full keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemKey {
    prefix: u64,
    pub key: Bytes,
    pub tag: u64,
}

fn prefix_of(key: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = key.len().min(8);
    buf[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(buf)
}

impl MemKey {
    /// The key of a stored version.
    pub fn new(key: Bytes, seq: u64, kind: EntryKind) -> Self {
        MemKey {
            prefix: prefix_of(&key),
            key,
            tag: lsm_format::entry::pack_tag(seq, kind),
        }
    }

    /// A search key positioned just before every version of `key` whose sequence
    /// number is `<= seq`: `lower_bound(Included(lookup))` finds the newest such
    /// version.
    pub fn lookup(key: Bytes, seq: u64) -> Self {
        MemKey {
            prefix: prefix_of(&key),
            key,
            tag: (seq << 8) | 0xff,
        }
    }

    /// A search key positioned just after every version of `key` whose sequence
    /// number is `>= seq` (the oldest possible entry when `seq` is 0):
    /// `upper_bound(Included(..))` finds the last entry at or before `(key, seq)`.
    pub fn lookup_back(key: Bytes, seq: u64) -> Self {
        MemKey {
            prefix: prefix_of(&key),
            key,
            tag: seq << 8,
        }
    }

    pub fn seq(&self) -> u64 {
        self.tag >> 8
    }

    pub fn kind(&self) -> EntryKind {
        // Only `new` builds stored keys, always from a valid kind.
        if self.tag & 0xff == EntryKind::Put as u64 {
            EntryKind::Put
        } else {
            EntryKind::Tombstone
        }
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.key.cmp(&other.key))
            .then_with(|| other.tag.cmp(&self.tag))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(key: &str, seq: u64) -> MemKey {
        MemKey::new(Bytes::copy_from_slice(key.as_bytes()), seq, EntryKind::Put)
    }

    #[test]
    fn orders_by_key_then_newest_first() {
        assert!(k("a", 1) < k("b", 9));
        assert!(k("a", 5) < k("a", 3));
        assert!(k("a", 9) < k("ab", 1), "shorter prefix first");
        let look = MemKey::lookup(Bytes::from_static(b"a"), 5);
        assert!(look < k("a", 5) && look > k("a", 6));
        let back = MemKey::lookup_back(Bytes::from_static(b"a"), 5);
        assert!(back > k("a", 5) && back < k("a", 4));
        assert_eq!(k("a", 7).seq(), 7);
        assert_eq!(k("a", 7).kind(), EntryKind::Put);
    }

    #[test]
    fn inline_prefixes_order_like_the_keys() {
        let keys: [&[u8]; 10] = [
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"a\0",
            b"a\0\x01",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
            b"b",
        ];
        for a in keys {
            for b in keys {
                let ka = MemKey::new(Bytes::copy_from_slice(a), 1, EntryKind::Put);
                let kb = MemKey::new(Bytes::copy_from_slice(b), 1, EntryKind::Put);
                assert_eq!(ka.cmp(&kb), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
