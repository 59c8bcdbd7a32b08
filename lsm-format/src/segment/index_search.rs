//! Finding the data block for a key: the first index entry at or after `(key, seq)`
//! in internal order (`docs/format.md` section 3.3), by binary search over a compact
//! array of 8-byte key prefixes.
//!
//! The keys of one segment usually share a long prefix (a table id, `user:`...), so
//! the prefix kept for each index entry is the 8 bytes that follow the prefix common
//! to all index keys, big-endian, zero-padded. When two such prefixes differ, their
//! order is the order of the keys (a zero pad only ties, never inverts), so most
//! steps of the search compare two integers in a 8-byte-per-entry array; only ties
//! compare whole keys.

use std::cmp::Ordering;

use crate::entry::compare_internal;
use crate::segment::block_entry::mismatch;
use crate::segment::reader::IndexSlot;

/// Search structure over the decoded index entries.
#[derive(Debug, Default)]
pub(crate) struct IndexSearch {
    /// The prefix shared by every index key.
    common: Vec<u8>,
    /// For each index entry, the 8 key bytes after `common`.
    prefixes: Vec<u64>,
}

impl IndexSearch {
    /// Builds the search over `slots`, which are in strictly increasing order.
    pub(crate) fn new(slots: &[IndexSlot]) -> Self {
        let common = match (slots.first(), slots.last()) {
            (Some(a), Some(b)) => a
                .key
                .get(..mismatch(&a.key, &b.key))
                .unwrap_or_default()
                .to_vec(),
            _ => Vec::new(),
        };
        let prefixes = slots
            .iter()
            .map(|s| prefix_after(&s.key, common.len()))
            .collect();
        IndexSearch { common, prefixes }
    }

    /// Index of the first slot whose `(key, seq)` is at or after the target; the
    /// number of slots when there is none.
    pub(crate) fn find(&self, slots: &[IndexSlot], key: &[u8], seq: u64) -> usize {
        let head = key
            .get(..self.common.len().min(key.len()))
            .unwrap_or_default();
        match head.cmp(self.common.get(..head.len()).unwrap_or_default()) {
            Ordering::Less => return 0,
            Ordering::Greater => return slots.len(),
            // A target that is a proper prefix of every key is before all of them.
            Ordering::Equal if head.len() < self.common.len() => return 0,
            Ordering::Equal => {}
        }
        let target = prefix_after(key, self.common.len());
        let (mut lo, mut hi) = (0, slots.len().min(self.prefixes.len()));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let p = self.prefixes.get(mid).copied().unwrap_or(u64::MAX);
            let before = match p.cmp(&target) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => slots
                    .get(mid)
                    .is_some_and(|s| compare_internal(&s.key, s.tag >> 8, key, seq).is_lt()),
            };
            if before {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// The 8 bytes of `key` from `at`, big-endian, zero-padded.
#[inline]
fn prefix_after(key: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    let tail = key.get(at..).unwrap_or_default();
    let n = tail.len().min(8);
    if let (Some(dst), Some(src)) = (b.get_mut(..n), tail.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::BlockHandle;
    use bytes::Bytes;

    fn slots(keys: &[(&[u8], u64)]) -> Vec<IndexSlot> {
        keys.iter()
            .map(|(k, seq)| IndexSlot {
                key: Bytes::copy_from_slice(k),
                tag: seq << 8 | 1,
                handle: BlockHandle::default(),
            })
            .collect()
    }

    #[test]
    fn agrees_with_a_linear_search() {
        let keys: &[(&[u8], u64)] = &[
            (b"user:a", 3),
            (b"user:a", 1),
            (b"user:a\0", 9),
            (b"user:ab", 2),
            (b"user:abcdefghij", 5),
            (b"user:abcdefghijk", 5),
            (b"user:b", 7),
        ];
        let s = slots(keys);
        let search = IndexSearch::new(&s);
        assert_eq!(search.common, b"user:");
        let targets: &[&[u8]] = &[
            b"",
            b"u",
            b"user",
            b"user:",
            b"user:a",
            b"user:a\0",
            b"user:a\0\0",
            b"user:aa",
            b"user:ab",
            b"user:abcdefghij",
            b"user:abcdefghij\0",
            b"user:abcdefghijk",
            b"user:b",
            b"user:c",
            b"v",
            b"\xff",
        ];
        for &t in targets {
            for seq in [0, 1, 2, 3, 5, 9, 10] {
                let want =
                    s.partition_point(|x| compare_internal(&x.key, x.tag >> 8, t, seq).is_lt());
                assert_eq!(search.find(&s, t, seq), want, "{t:?} {seq}");
            }
        }
        let empty = IndexSearch::new(&[]);
        assert_eq!(empty.find(&[], b"x", 1), 0);
        let one = slots(&[(b"only", 1)]);
        let search = IndexSearch::new(&one);
        assert_eq!(search.find(&one, b"only", 5), 0);
        assert_eq!(search.find(&one, b"only", 0), 1);
        assert_eq!(search.find(&one, b"onl", 0), 0);
        assert_eq!(search.find(&one, b"onlz", 0), 1);
    }
}
