//! The decoded index block (`DecodedIndex`, a few columns with one row per data
//! block) and finding the data block for a key: the first index entry at or after
//! `(key, seq)` in internal order (`docs/format.md` section 3.3), by binary search
//! over a compact array of 8-byte key prefixes.
//!
//! Every open segment keeps its index decoded for as long as it is open, so the
//! rows are kept narrow: the keys share one buffer and each row holds where its
//! key ends (4 bytes), its tag (8) and where its block ends (8): 28 bytes with the
//! search prefix, against 64 for a row of key handle, tag, block handle and prefix.
//! A block's offset is where the previous one ends: the handles tile the data area
//! (checked when the index is decoded).
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
use crate::error::{Error, Result};
use crate::segment::block_entry::mismatch;
use crate::segment::{BlockHandle, BLOCK_TRAILER_LEN};

/// One index entry: the last key and tag of a data block, and the block.
#[derive(Debug, Clone)]
pub(crate) struct IndexSlot {
    pub(crate) key: Bytes,
    pub(crate) tag: u64,
    pub(crate) handle: BlockHandle,
}

/// The decoded index of one segment, with the search structure over its keys.
#[derive(Debug, Default)]
pub(crate) struct DecodedIndex {
    /// Every index key, one after the other.
    keys: Bytes,
    /// Where each key ends in `keys` (it starts where the previous one ends).
    key_ends: Vec<u32>,
    /// Each entry's tag (sequence number and kind).
    tags: Vec<u64>,
    /// Where each data block ends, trailer included (it starts where the previous
    /// one ends, the first at offset 0).
    block_ends: Vec<u64>,
    /// The prefix shared by every index key.
    common: Vec<u8>,
    /// For each index entry, the 8 key bytes after `common`.
    prefixes: Vec<u64>,
}

/// Collects index entries in order into a [`DecodedIndex`].
#[derive(Debug, Default)]
pub(crate) struct DecodedIndexBuilder {
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    tags: Vec<u64>,
    block_ends: Vec<u64>,
}

impl DecodedIndexBuilder {
    /// Where the data blocks added so far end: the offset the next one must start
    /// at.
    pub(crate) fn data_end(&self) -> u64 {
        self.block_ends.last().copied().unwrap_or(0)
    }

    /// The key and tag of the last entry added.
    pub(crate) fn last(&self) -> Option<(&[u8], u64)> {
        let n = self.key_ends.len();
        let start = n
            .checked_sub(2)
            .and_then(|i| self.key_ends.get(i))
            .map_or(0, |&e| e as usize);
        let end = *self.key_ends.last()? as usize;
        Some((self.keys.get(start..end)?, *self.tags.last()?))
    }

    /// Adds the next entry. The caller has checked that `handle` starts where the
    /// previous block ends (`data_end`) and that `(key, tag)` follows the last
    /// entry; `at` is the entry's file offset, for the error when the keys outgrow
    /// 4 GiB.
    pub(crate) fn push(
        &mut self,
        key: &[u8],
        tag: u64,
        handle: BlockHandle,
        at: u64,
    ) -> Result<()> {
        debug_assert_eq!(handle.offset, self.data_end());
        self.keys.extend_from_slice(key);
        let Ok(end) = u32::try_from(self.keys.len()) else {
            return Err(Error::corruption(at, "index keys longer than 4 GiB in all"));
        };
        self.key_ends.push(end);
        self.tags.push(tag);
        self.block_ends.push(handle.end());
        Ok(())
    }

    /// The finished index, its columns trimmed to their length.
    pub(crate) fn finish(mut self) -> DecodedIndex {
        self.keys.shrink_to_fit();
        self.key_ends.shrink_to_fit();
        self.tags.shrink_to_fit();
        self.block_ends.shrink_to_fit();
        let mut index = DecodedIndex {
            keys: Bytes::from(self.keys),
            key_ends: self.key_ends,
            tags: self.tags,
            block_ends: self.block_ends,
            common: Vec::new(),
            prefixes: Vec::new(),
        };
        let n = index.len();
        let common = match (index.key(0), n.checked_sub(1).and_then(|i| index.key(i))) {
            (Some(a), Some(b)) => a.get(..mismatch(a, b)).unwrap_or_default().to_vec(),
            _ => Vec::new(),
        };
        index.prefixes = (0..n)
            .map(|i| prefix_after(index.key(i).unwrap_or_default(), common.len()))
            .collect();
        index.common = common;
        index
    }
}

impl DecodedIndex {
    /// Number of entries (data blocks).
    pub(crate) fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// Whether the index has no entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    /// Where the data blocks end (0 without any).
    pub(crate) fn data_end(&self) -> u64 {
        self.block_ends.last().copied().unwrap_or(0)
    }

    fn key_range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let start = match i.checked_sub(1) {
            Some(p) => *self.key_ends.get(p)? as usize,
            None => 0,
        };
        Some(start..*self.key_ends.get(i)? as usize)
    }

    /// The key of entry `i`.
    pub(crate) fn key(&self, i: usize) -> Option<&[u8]> {
        self.keys.get(self.key_range(i)?)
    }

    /// The handle of data block `i`.
    pub(crate) fn handle(&self, i: usize) -> Option<BlockHandle> {
        let end = *self.block_ends.get(i)?;
        let offset = match i.checked_sub(1) {
            Some(p) => *self.block_ends.get(p)?,
            None => 0,
        };
        let len = end
            .checked_sub(offset)
            .and_then(|n| n.checked_sub(BLOCK_TRAILER_LEN as u64))
            .and_then(|n| u32::try_from(n).ok())?;
        Some(BlockHandle { offset, len })
    }

    /// Entry `i` whole; its key shares the index's buffer.
    pub(crate) fn slot(&self, i: usize) -> Option<IndexSlot> {
        Some(IndexSlot {
            key: self.keys.slice(self.key_range(i)?),
            tag: *self.tags.get(i)?,
            handle: self.handle(i)?,
        })
    }

    /// Every entry, in order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = IndexSlot> + '_ {
        (0..self.len()).filter_map(|i| self.slot(i))
    }

    /// Index of the first entry whose `(key, seq)` is at or after the target; the
    /// number of entries when there is none.
    pub(crate) fn find(&self, key: &[u8], seq: u64) -> usize {
        let head = key
            .get(..self.common.len().min(key.len()))
            .unwrap_or_default();
        match head.cmp(self.common.get(..head.len()).unwrap_or_default()) {
            Ordering::Less => return 0,
            Ordering::Greater => return self.len(),
            // A target that is a proper prefix of every key is before all of them.
            Ordering::Equal if head.len() < self.common.len() => return 0,
            Ordering::Equal => {}
        }
        let target = prefix_after(key, self.common.len());
        let (mut lo, mut hi) = (0, self.len().min(self.prefixes.len()));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let p = self.prefixes.get(mid).copied().unwrap_or(u64::MAX);
            let before = match p.cmp(&target) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => match (self.key(mid), self.tags.get(mid)) {
                    (Some(k), Some(tag)) => compare_internal(k, tag >> 8, key, seq).is_lt(),
                    _ => false,
                },
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
        let mut offset = 0;
        keys.iter()
            .enumerate()
            .map(|(i, (k, seq))| {
                let handle = BlockHandle {
                    offset,
                    len: 20 + i as u32 % 7,
                };
                offset = handle.end();
                IndexSlot {
                    key: Bytes::copy_from_slice(k),
                    tag: seq << 8 | 1,
                    handle,
                }
            })
            .collect()
    }

    fn index_of(slots: &[IndexSlot]) -> DecodedIndex {
        let mut b = DecodedIndexBuilder::default();
        for s in slots {
            b.push(&s.key, s.tag, s.handle, 0).unwrap();
        }
        b.finish()
    }

    #[test]
    fn the_columns_give_back_every_entry() {
        let keys: &[(&[u8], u64)] = &[(b"", 4), (b"a", 9), (b"a", 2), (b"abc", 1), (b"b", 7)];
        let s = slots(keys);
        let index = index_of(&s);
        assert_eq!(index.len(), s.len());
        assert_eq!(index.data_end(), s.last().unwrap().handle.end());
        for (i, want) in s.iter().enumerate() {
            let got = index.slot(i).unwrap();
            assert_eq!(
                (&got.key, got.tag, got.handle),
                (&want.key, want.tag, want.handle)
            );
            assert_eq!(index.key(i), Some(&want.key[..]));
        }
        assert_eq!(index.slots().count(), s.len());
        assert!(index.slot(s.len()).is_none() && index.handle(s.len()).is_none());
        let empty = index_of(&[]);
        assert!(empty.is_empty() && empty.data_end() == 0 && empty.slot(0).is_none());
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
        let search = index_of(&s);
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
                assert_eq!(search.find(t, seq), want, "{t:?} {seq}");
            }
        }
        let empty = index_of(&[]);
        assert_eq!(empty.find(b"x", 1), 0);
        let one = slots(&[(b"only", 1)]);
        let search = index_of(&one);
        assert_eq!(search.find(b"only", 5), 0);
        assert_eq!(search.find(b"only", 0), 1);
        assert_eq!(search.find(b"onl", 0), 0);
        assert_eq!(search.find(b"onlz", 0), 1);
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
        let search = index_of(&s);
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
                assert_eq!(search.find(t, seq), want, "{t:?} {seq}");
            }
        }
    }
}
