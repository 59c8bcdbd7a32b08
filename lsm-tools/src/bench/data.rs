//! Keys and values of the benchmark, as db_bench makes them.
//!
//! A key is its index in decimal, zero-padded to the key size, so keys sort in index
//! order and `fillseq` writes them in key order. Values are slices of a 1 MiB pool of
//! pseudo-random bytes built from pieces that each repeat a random prefix, so that a
//! compressor can shrink them to about the compression ratio (db_bench's
//! `CompressibleString`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The key of index `i`, zero-padded to `size` bytes (longer if the number needs it).
pub fn key(i: u64, size: usize, buf: &mut Vec<u8>) {
    use std::io::Write;
    buf.clear();
    let _ = write!(buf, "{i:0size$}");
}

/// Digits needed to print `n - 1` (the largest index of `n` keys).
pub fn digits(n: u64) -> usize {
    n.saturating_sub(1).max(1).ilog10() as usize + 1
}

/// Values drawn from a pool of compressible pseudo-random bytes.
#[derive(Debug, Clone)]
pub struct ValueGen {
    pool: Vec<u8>,
    pos: usize,
}

impl ValueGen {
    /// A generator whose values compress to about `ratio` of their size, seeded.
    pub fn new(seed: u64, ratio: f64, value_size: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let len = (1 << 20).max(value_size * 2);
        let mut pool = Vec::with_capacity(len + 100);
        let ratio = ratio.clamp(0.0, 1.0);
        while pool.len() < len {
            // 100-byte pieces: `ratio * 100` random bytes, repeated to fill the piece.
            let raw = ((100.0 * ratio) as usize).max(1);
            let fresh: Vec<u8> = (0..raw).map(|_| rng.gen_range(b' '..=b'~')).collect();
            pool.extend(fresh.iter().cycle().take(100));
        }
        pool.truncate(len);
        ValueGen { pool, pos: 0 }
    }

    /// The next value of `len` bytes.
    pub fn next(&mut self, len: usize) -> &[u8] {
        if self.pos + len > self.pool.len() {
            self.pos = 0;
        }
        let start = self.pos;
        self.pos += len;
        self.pool.get(start..start + len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_padded_and_ordered() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        key(42, 16, &mut a);
        assert_eq!(a, b"0000000000000042");
        key(100, 16, &mut b);
        assert!(a < b);
        assert_eq!(digits(1_000_000), 6);
        assert_eq!(digits(1_000_001), 7);
        assert_eq!(digits(1), 1);
    }

    #[test]
    fn values_have_the_size_and_are_deterministic() {
        let mut g = ValueGen::new(7, 0.5, 100);
        let mut h = ValueGen::new(7, 0.5, 100);
        for _ in 0..20_000 {
            let v = g.next(100).to_vec();
            assert_eq!(v.len(), 100);
            assert_eq!(v, h.next(100));
        }
    }
}
