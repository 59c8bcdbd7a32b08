//! The set of live key indexes, shared by the writer threads of a workload: it gives
//! the logical size of the data (live keys times key plus value size), to compare
//! with the bytes on disk.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which key indexes are live, shared between threads: the logical size of the data.
#[derive(Debug)]
pub struct LiveSet {
    bits: Vec<AtomicU64>,
    count: AtomicU64,
}

impl LiveSet {
    /// An empty set for indexes below `n`.
    pub fn new(n: u64) -> Self {
        LiveSet {
            bits: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }

    /// Marks `i` live or dead.
    pub fn set(&self, i: u64, live: bool) {
        let Some(word) = self.bits.get((i / 64) as usize) else {
            return;
        };
        let bit = 1u64 << (i % 64);
        let old = if live {
            word.fetch_or(bit, Ordering::Relaxed)
        } else {
            word.fetch_and(!bit, Ordering::Relaxed)
        };
        match (old & bit != 0, live) {
            (false, true) => {
                self.count.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Number of live indexes.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for w in &self.bits {
            w.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
    }
}
