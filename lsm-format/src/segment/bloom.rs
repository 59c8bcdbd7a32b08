//! The Bloom filter over user keys: `docs/format.md` section 3.4.
//!
//! ```text
//! filter_contents := bits[m] num_probes:u8
//! h = xxh3_64(key); a = h & 0xffff_ffff; b = h >> 32
//! probe j (0 <= j < num_probes) tests bit (a + j * b) mod (8 * m)
//! ```
//!
//! Double hashing from one 64-bit hash (Kirsch and Mitzenmacher) costs one hash per
//! key and stays within the documented false-positive bound.

use bytes::Bytes;

use crate::checksum::checksum;
use crate::error::{Error, Result};

/// Largest number of probes a filter may use.
pub const MAX_PROBES: u8 = 30;

/// Number of probes the writer uses for `bits_per_key`: `round(bits_per_key * 0.69)`
/// clamped to `1..=30`, computed exactly in integers as `(bits_per_key * 69 + 50) /
/// 100`; 0 when `bits_per_key` is 0 (no filter).
pub fn num_probes_for(bits_per_key: u8) -> u8 {
    if bits_per_key == 0 {
        return 0;
    }
    let k = (u32::from(bits_per_key) * 69 + 50) / 100;
    k.clamp(1, u32::from(MAX_PROBES)) as u8
}

/// Bytes of bits the writer uses for `n_keys` distinct keys:
/// `max(8, ceil(n_keys * bits_per_key / 8))`, or 0 when `bits_per_key` is 0.
pub fn filter_bytes_for(n_keys: u64, bits_per_key: u8) -> u64 {
    if bits_per_key == 0 {
        return 0;
    }
    n_keys
        .saturating_mul(u64::from(bits_per_key))
        .div_ceil(8)
        .max(8)
}

/// Hash of a key as the filter uses it.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    checksum(key)
}

/// Collects key hashes while a segment is written; [`finish`](Self::finish) lays out
/// the filter contents.
#[derive(Debug)]
pub struct BloomBuilder {
    bits_per_key: u8,
    hashes: Vec<u64>,
}

impl BloomBuilder {
    /// A builder for a filter with `bits_per_key` (0: no filter).
    pub fn new(bits_per_key: u8) -> Self {
        BloomBuilder {
            bits_per_key,
            hashes: Vec::new(),
        }
    }

    /// Adds a key. The caller adds each distinct user key once.
    pub fn add_key(&mut self, key: &[u8]) {
        if self.bits_per_key != 0 {
            self.hashes.push(key_hash(key));
        }
    }

    /// The filter contents (`bits[m] num_probes:u8`).
    pub fn finish(&self) -> Vec<u8> {
        let m = filter_bytes_for(self.hashes.len() as u64, self.bits_per_key) as usize;
        let k = num_probes_for(self.bits_per_key);
        let mut out = vec![0u8; m + 1];
        let nbits = 8 * m as u64;
        if let Some((probes, bits)) = out.split_last_mut() {
            *probes = k;
            for &h in &self.hashes {
                for_each_probe(h, k, nbits, |bit| {
                    if let Some(byte) = bits.get_mut((bit / 8) as usize) {
                        *byte |= 1 << (bit % 8);
                    }
                    true
                });
            }
        }
        out
    }
}

/// Calls `f` with each probed bit `(a + j * b) mod nbits` until it returns false;
/// returns whether every call returned true. `nbits` must not be 0.
///
/// Computed incrementally with two divisions instead of one per probe:
/// `(a + j * b) mod n = (a mod n + j * (b mod n)) mod n`, and adding `b mod n` to a
/// value below `n` needs at most one subtraction to stay below `n`.
#[inline]
fn for_each_probe(h: u64, k: u8, nbits: u64, mut f: impl FnMut(u64) -> bool) -> bool {
    let (a, b) = (h & 0xffff_ffff, h >> 32);
    let (mut bit, step) = (a % nbits, b % nbits);
    for _ in 0..k {
        if !f(bit) {
            return false;
        }
        bit += step;
        if bit >= nbits {
            bit -= nbits;
        }
    }
    true
}

/// A filter read from a segment.
#[derive(Debug, Clone, Default)]
pub struct BloomFilter {
    bits: Bytes,
    num_probes: u8,
}

impl BloomFilter {
    /// Parses filter contents; `offset` is the block's file offset, for errors.
    ///
    /// # Errors
    /// Corruption when the contents are empty, `num_probes > 30`, or `m = 0` with
    /// probes.
    pub fn parse(contents: Bytes, offset: u64) -> Result<Self> {
        let Some(&num_probes) = contents.last() else {
            return Err(Error::corruption(offset, "filter block is empty"));
        };
        let m = contents.len() - 1;
        if num_probes > MAX_PROBES {
            return Err(Error::corruption(
                offset + m as u64,
                format!("filter uses {num_probes} probes, more than {MAX_PROBES}"),
            ));
        }
        if m == 0 && num_probes != 0 {
            return Err(Error::corruption(offset, "filter has probes but no bits"));
        }
        Ok(BloomFilter {
            bits: contents.slice(..m),
            num_probes,
        })
    }

    /// False only when `key` was certainly not added.
    #[inline]
    pub fn may_contain(&self, key: &[u8]) -> bool {
        if self.num_probes == 0 || self.bits.is_empty() {
            return true;
        }
        let bits = &self.bits;
        for_each_probe(
            key_hash(key),
            self.num_probes,
            8 * bits.len() as u64,
            |bit| {
                bits.get((bit / 8) as usize)
                    .is_some_and(|b| b & (1 << (bit % 8)) != 0)
            },
        )
    }

    /// Bytes of bits (`m`).
    pub fn len_bytes(&self) -> usize {
        self.bits.len()
    }

    /// Number of probes.
    pub fn num_probes(&self) -> u8 {
        self.num_probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_and_sizes_follow_the_spec() {
        assert_eq!(num_probes_for(0), 0);
        assert_eq!(num_probes_for(1), 1);
        assert_eq!(num_probes_for(10), 7);
        assert_eq!(num_probes_for(16), 11);
        assert_eq!(num_probes_for(255), 30);
        for b in 1..=255u8 {
            let float = (f64::from(b) * 0.69).round().clamp(1.0, 30.0) as u8;
            assert_eq!(num_probes_for(b), float, "bits_per_key {b}");
        }
        assert_eq!(filter_bytes_for(0, 10), 8);
        assert_eq!(filter_bytes_for(100, 10), 125);
        assert_eq!(filter_bytes_for(101, 10), 127);
        assert_eq!(filter_bytes_for(100, 0), 0);
    }

    #[test]
    fn incremental_probes_equal_the_formula() {
        for nbits in [8u64, 64, 1000, 8 * 1250, (1 << 33) + 8] {
            for h in [
                0u64,
                1,
                u64::MAX,
                0x1234_5678_9abc_def0,
                0xffff_ffff_0000_0001,
            ] {
                let mut got = Vec::new();
                for_each_probe(h, 30, nbits, |bit| {
                    got.push(bit);
                    true
                });
                let (a, b) = (h & 0xffff_ffff, h >> 32);
                let want: Vec<u64> = (0..30).map(|j| (a + j * b) % nbits).collect();
                assert_eq!(got, want, "h {h:#x} nbits {nbits}");
            }
        }
    }

    #[test]
    fn added_keys_are_found() {
        let mut b = BloomBuilder::new(10);
        for i in 0..1000u32 {
            b.add_key(&i.to_be_bytes());
        }
        let f = BloomFilter::parse(Bytes::from(b.finish()), 0).unwrap();
        assert_eq!((f.len_bytes(), f.num_probes()), (1250, 7));
        assert!((0..1000u32).all(|i| f.may_contain(&i.to_be_bytes())));
        let fp = (1000..11000u32)
            .filter(|i| f.may_contain(&i.to_be_bytes()))
            .count();
        assert!(fp < 300, "{fp} false positives of 10000");
    }

    #[test]
    fn no_filter_and_empty_filter() {
        let none = BloomFilter::parse(Bytes::from(BloomBuilder::new(0).finish()), 0).unwrap();
        assert!(none.may_contain(b"anything"));
        let empty = BloomFilter::parse(Bytes::from(BloomBuilder::new(10).finish()), 0).unwrap();
        assert_eq!(empty.len_bytes(), 8);
        assert!(!empty.may_contain(b"anything"));
    }

    #[test]
    fn malformed_filters_are_corruption() {
        assert!(BloomFilter::parse(Bytes::new(), 5)
            .unwrap_err()
            .is_corruption());
        assert!(BloomFilter::parse(Bytes::from_static(&[0, 31]), 5).is_err());
        assert!(BloomFilter::parse(Bytes::from_static(&[3]), 5).is_err());
        assert!(BloomFilter::parse(Bytes::from_static(&[0]), 5)
            .unwrap()
            .may_contain(b"x"));
    }
}
