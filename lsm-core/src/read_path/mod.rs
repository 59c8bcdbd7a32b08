//! The read path: what a read looks at and the sequence number it reads at, the
//! cursors that merge memtables and segments (`iter/`), and the read surfaces built
//! on them: scans, snapshots, `explain`'s lookup trace, the versions of a key, and
//! read-only opens.
//!
//! [`ReadPath`] holds the current [`SuperVersion`] and the visible sequence number.
//! The write path advances the sequence number after a group is fully in a
//! memtable; flush and compaction publish a new super version when the parts
//! change. Readers take a consistent [`ReadPath::view`] and never block writers for
//! longer than two atomic operations.

pub mod explain;
pub(crate) mod iter;
pub(crate) mod read_only;
pub mod scan;
pub mod snapshot;
pub(crate) mod snapshot_list;
pub(crate) mod super_version;
pub(crate) mod versions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub(crate) use super_version::{ReadView, SuperVersion};

/// The current super version and the sequence number reads see.
pub(crate) struct ReadPath {
    current: RwLock<Arc<SuperVersion>>,
    /// Last sequence number whose write is fully in a memtable: readers read at it.
    visible_seq: AtomicU64,
}

impl ReadPath {
    pub fn new(sv: SuperVersion, visible_seq: u64) -> ReadPath {
        ReadPath {
            current: RwLock::new(Arc::new(sv)),
            visible_seq: AtomicU64::new(visible_seq),
        }
    }

    /// A consistent read view: the super version and the sequence number to read at.
    ///
    /// Both are taken under the read lock: no memtable switch or flush can be
    /// installed in between, so every write up to the sequence number is in the
    /// view's memtables or segments.
    pub fn view(&self) -> (Arc<SuperVersion>, u64) {
        let guard = self.current.read();
        let sv = guard.clone();
        let seq = self.visible_seq.load(Ordering::Acquire);
        (sv, seq)
    }

    /// Makes `sv` the current super version. Callers hold the coordination lock, so
    /// super versions are published in the order their parts changed.
    pub fn publish(&self, sv: SuperVersion) {
        let old = std::mem::replace(&mut *self.current.write(), Arc::new(sv));
        // Dropping the last reference to a memtable frees all its entries: never
        // while readers wait for the lock.
        drop(old);
    }

    /// The last sequence number readers see.
    pub fn visible_seq(&self) -> u64 {
        self.visible_seq.load(Ordering::Acquire)
    }

    /// Makes every write up to `seq` visible; the write path calls it once a group
    /// is fully in the memtable.
    pub fn make_visible(&self, seq: u64) {
        self.visible_seq.store(seq, Ordering::Release);
    }
}
