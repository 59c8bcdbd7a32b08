//! The range tombstones of one memtable.
//!
//! Range deletes are rare next to puts, so they live beside the skip list, not in
//! it: a list the commit leader appends to, and its fragmented form
//! ([`Fragments`]), rebuilt on the first read after a change and shared with every
//! reader until the next one. A reader filters by its read sequence number, so it
//! may see tombstones newer than it reads at without harm.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::range_del::{Fragments, RangeTombstone};
use parking_lot::Mutex;

#[derive(Default)]
pub(crate) struct MemRangeDels {
    /// Tombstones in insertion order; `fragments` is built from them.
    inner: Mutex<Inner>,
    /// Number of tombstones: lets readers of a memtable without any skip the lock.
    count: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    tombstones: Vec<RangeTombstone>,
    /// The fragmented form of `tombstones`, or `None` when it is out of date.
    fragments: Option<Arc<Fragments>>,
}

impl MemRangeDels {
    /// Adds `[start, end) @ seq`.
    pub fn insert(&self, start: &[u8], end: &[u8], seq: u64) {
        let mut inner = self.inner.lock();
        inner.tombstones.push(RangeTombstone::new(
            Bytes::copy_from_slice(start),
            Bytes::copy_from_slice(end),
            seq,
        ));
        inner.fragments = None;
        self.count.fetch_add(1, Ordering::Release);
    }

    /// Number of range tombstones inserted.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Bytes the tombstones hold (for the memtable's size).
    pub fn charge(start: &[u8], end: &[u8]) -> usize {
        start.len() + end.len() + 48
    }

    /// Every tombstone, fragmented; `None` when there is none.
    pub fn fragments(&self) -> Option<Arc<Fragments>> {
        if self.len() == 0 {
            return None;
        }
        let mut inner = self.inner.lock();
        if let Some(f) = &inner.fragments {
            return Some(f.clone());
        }
        let built = Arc::new(Fragments::from_tombstones(inner.tombstones.iter().cloned()));
        inner.fragments = Some(built.clone());
        Some(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_follow_inserts() {
        let r = MemRangeDels::default();
        assert!(r.fragments().is_none());
        r.insert(b"a", b"m", 5);
        assert_eq!(r.fragments().unwrap().covering_seq(b"c", 10), Some(5));
        r.insert(b"b", b"d", 7);
        let f = r.fragments().unwrap();
        assert_eq!(f.covering_seq(b"c", 10), Some(7));
        assert_eq!(f.covering_seq(b"c", 6), Some(5));
        assert_eq!(r.len(), 2);
    }
}
