//! The decoded index block (`IndexSlot`, one per data block) and finding the data
//! block for a key: the first index entry at or after `(key, seq)` in internal order
//! (`docs/format.md` section 3.3), by binary search over a compact array of 8-byte
//! key prefixes.
//!
//! The keys of one segment usually share a long prefix (a table id, `user:`...), so
//! the prefix kept for each index entry is the 8 bytes that follow the prefix common
//! to all index keys, big-endian, zero-padded. When two such prefixes differ, their
//! order is the order of the keys (a zero pad only ties, never inverts), so most
//! steps of the search compare two integers in a 8-byte-per-entry array; only ties
//! compare whole keys.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::entry::compare_internal;
use crate::segment::block_entry::mismatch;
use crate::segment::BlockHandle;

/// One decoded index entry; `key` shares the index keys' buffer.
#[derive(Debug, Clone)]
pub(crate) struct IndexSlot {
    pub(crate) key: Bytes,
    pub(crate) tag: u64,
    pub(crate) handle: BlockHandle,
}

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

    /// A large index whose prefixes tie in long stretches (keys longer than the 8
    /// bytes kept), with several versions per key.
    #[test]
    fn agrees_with_a_linear_search_over_long_ties() {
        // Every key over {a, b} of 7 to 10 bytes, each with one to three versions.
        let mut keys: Vec<(Vec<u8>, u64)> = Vec::new();
        let mut state = 7u64;
        for len in 7..=10u32 {
            for bits in 0..(1u32 << len) {
                let k: Vec<u8> = (0..len)
                    .map(|i| {
                        if bits >> (len - 1 - i) & 1 == 1 {
                            b'b'
                        } else {
                            b'a'
                        }
                    })
                    .collect();
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                for v in 0..=(state >> 62) % 3 {
                    keys.push((k.clone(), 10 + v * 5));
                }
            }
        }
        keys.sort_by(|a, b| compare_internal(&a.0, a.1, &b.0, b.1));
        let refs: Vec<(&[u8], u64)> = keys.iter().map(|(k, s)| (k.as_slice(), *s)).collect();
        let s = slots(&refs);
        let search = IndexSearch::new(&s);
        let mut targets: Vec<Vec<u8>> = Vec::new();
        for (k, _) in &keys {
            targets.push(k.clone());
            targets.push(k[..k.len() - 1].to_vec());
            targets.push([k.as_slice(), b"0"].concat());
            targets.push([k.as_slice(), b"z"].concat());
        }
        targets.extend([b"".to_vec(), b"a".to_vec(), b"c".to_vec(), b"\xff".to_vec()]);
        for t in &targets {
            for seq in [0, 9, 10, 12, 15, 20, 21, u64::MAX >> 8] {
                let want =
                    s.partition_point(|x| compare_internal(&x.key, x.tag >> 8, t, seq).is_lt());
                assert_eq!(search.find(&s, t, seq), want, "{t:?} {seq}");
            }
        }
    }
}
