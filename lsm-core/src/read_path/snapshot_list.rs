//! The sequence numbers of live snapshots, which compaction must keep readable.

use std::collections::BTreeMap;

use parking_lot::Mutex;

#[derive(Debug, Default)]
pub(crate) struct SnapshotList {
    /// Sequence number -> number of live snapshots at it.
    live: Mutex<BTreeMap<u64, usize>>,
}

impl SnapshotList {
    pub fn register(&self, seq: u64) {
        *self.live.lock().entry(seq).or_insert(0) += 1;
    }

    pub fn release(&self, seq: u64) {
        let mut live = self.live.lock();
        if let Some(n) = live.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                live.remove(&seq);
            }
        }
    }

    /// The distinct live snapshot sequence numbers, ascending.
    pub fn sequences(&self) -> Vec<u64> {
        self.live.lock().keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_duplicates() {
        let l = SnapshotList::default();
        l.register(5);
        l.register(3);
        l.register(5);
        assert_eq!(l.sequences(), vec![3, 5]);
        l.release(5);
        assert_eq!(l.sequences(), vec![3, 5]);
        l.release(5);
        l.release(9);
        assert_eq!(l.sequences(), vec![3]);
    }
}
