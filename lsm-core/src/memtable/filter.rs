//! A Bloom filter over the user keys of one memtable, filled as entries are
//! inserted, so a lookup of a key the memtable does not hold skips the skip-list
//! search (about 20 dependent cache misses in a full 64 MiB memtable) after one
//! probe of a 64-byte block.
//!
//! Same layout as a segment's version-3 filter (`docs/format.md` section 3.4), in
//! atomic words: the commit leader (the only writer) sets bits with relaxed stores
//! before it publishes the group's sequence number with release ordering, and a
//! reader loads that sequence number with acquire ordering before probing, so every
//! entry a reader may see has its bits visible. Bits of entries not yet published
//! only cause false positives.

use std::sync::atomic::{AtomicU64, Ordering};

use lsm_format::segment::bloom::{block_of, multiply_probes, FILTER_BLOCK_LEN};

/// Bits per expected key, and probes per key: about 1 % false positives.
const BITS_PER_KEY: usize = 10;
const PROBES: u8 = 6;
const WORDS_PER_BLOCK: usize = FILTER_BLOCK_LEN / 8;

pub(crate) struct MemFilter {
    words: Box<[AtomicU64]>,
    num_blocks: u64,
}

impl MemFilter {
    /// A filter sized for `expected_keys` distinct keys (more only raise the false
    /// positive rate; it never gives a false negative).
    pub fn with_capacity(expected_keys: usize) -> Self {
        let bits = expected_keys.max(1).saturating_mul(BITS_PER_KEY);
        let num_blocks = bits.div_ceil(8 * FILTER_BLOCK_LEN).max(1);
        let words = (0..num_blocks * WORDS_PER_BLOCK)
            .map(|_| AtomicU64::new(0))
            .collect();
        MemFilter {
            words,
            num_blocks: num_blocks as u64,
        }
    }

    fn block(&self, hash: u64) -> &[AtomicU64] {
        let start = block_of(hash, self.num_blocks) * WORDS_PER_BLOCK;
        self.words
            .get(start..start + WORDS_PER_BLOCK)
            .unwrap_or_default()
    }

    /// Adds the key whose `lsm_format` key hash is `hash`.
    ///
    /// Only the commit leader inserts (one thread at a time, see
    /// `wal::group_commit`), so each word is updated with a plain load and store
    /// rather than a locked read-modify-write: the bits are gathered per word
    /// first, and each touched word is written once.
    pub fn insert(&self, hash: u64) {
        let block = self.block(hash);
        let mut masks = [0u64; WORDS_PER_BLOCK];
        multiply_probes(hash, PROBES, |bit| {
            if let Some(m) = masks.get_mut((bit / 64) as usize) {
                *m |= 1 << (bit % 64);
            }
            true
        });
        for (word, mask) in block.iter().zip(masks) {
            if mask != 0 {
                word.store(word.load(Ordering::Relaxed) | mask, Ordering::Relaxed);
            }
        }
    }

    /// False when no key with this hash was inserted.
    #[inline]
    pub fn may_contain(&self, hash: u64) -> bool {
        let block = self.block(hash);
        multiply_probes(hash, PROBES, |bit| {
            block
                .get((bit / 64) as usize)
                .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (bit % 64)) != 0)
        })
    }

    /// Bytes of bits held.
    #[cfg(test)]
    pub fn size_bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsm_format::segment::bloom::key_hash;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let f = MemFilter::with_capacity(20_000);
        for i in 0..20_000u32 {
            f.insert(key_hash(format!("key{i}").as_bytes()));
        }
        for i in 0..20_000u32 {
            assert!(f.may_contain(key_hash(format!("key{i}").as_bytes())));
        }
        let fp = (0..20_000u32)
            .filter(|i| f.may_contain(key_hash(format!("absent{i}").as_bytes())))
            .count();
        // 10 bits per key, 6 probes in 512-bit blocks: about 1.1 % expected.
        assert!(fp < 400, "{fp} false positives of 20000");
    }

    #[test]
    fn an_overfull_filter_still_has_no_false_negatives() {
        let f = MemFilter::with_capacity(1);
        assert_eq!(f.size_bytes(), FILTER_BLOCK_LEN);
        for i in 0..1000u32 {
            f.insert(key_hash(&i.to_be_bytes()));
        }
        assert!((0..1000u32).all(|i| f.may_contain(key_hash(&i.to_be_bytes()))));
    }
}
