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
pub(crate) mod read_only_keyspace;
pub mod scan;
pub mod snapshot;
pub(crate) mod snapshot_list;
pub(crate) mod super_version;
pub(crate) mod versions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};

pub(crate) use super_version::{ReadView, SuperVersion};

/// The super version of every live keyspace, by id.
pub(crate) type SuperVersions = std::collections::BTreeMap<KeyspaceId, Arc<SuperVersion>>;

/// The current super versions and the sequence number reads see.
pub(crate) struct ReadPath {
    current: RwLock<Arc<SuperVersions>>,
    /// Last sequence number whose write is fully in a memtable: readers read at it.
    visible_seq: AtomicU64,
}

impl ReadPath {
    pub fn new(svs: SuperVersions, visible_seq: u64) -> ReadPath {
        debug_assert!(svs.contains_key(&DEFAULT_KEYSPACE));
        ReadPath {
            current: RwLock::new(Arc::new(svs)),
            visible_seq: AtomicU64::new(visible_seq),
        }
    }

    /// A consistent read view of the default keyspace (always live): its super
    /// version and the sequence number to read at.
    pub fn view(&self) -> (Arc<SuperVersion>, u64) {
        let guard = self.current.read();
        let seq = self.visible_seq.load(Ordering::Acquire);
        match guard.get(&DEFAULT_KEYSPACE) {
            Some(sv) => (sv.clone(), seq),
            None => unreachable_default(),
        }
    }

    /// A consistent read view of keyspace `id`: its super version and the sequence
    /// number to read at; `None` when the keyspace is not live.
    ///
    /// Both are taken under the read lock: no memtable switch or flush can be
    /// installed in between, so every write up to the sequence number is in the
    /// view's memtables or segments.
    pub fn view_of(&self, id: KeyspaceId) -> Option<(Arc<SuperVersion>, u64)> {
        let guard = self.current.read();
        let sv = guard.get(&id)?.clone();
        let seq = self.visible_seq.load(Ordering::Acquire);
        Some((sv, seq))
    }

    /// Every keyspace's super version, and the sequence number to read at.
    pub fn views(&self) -> (Arc<SuperVersions>, u64) {
        let guard = self.current.read();
        let svs = guard.clone();
        let seq = self.visible_seq.load(Ordering::Acquire);
        (svs, seq)
    }

    /// Makes `svs` the current super versions. Callers hold the coordination lock,
    /// so super versions are published in the order their parts changed.
    pub fn publish(&self, svs: SuperVersions) {
        let old = std::mem::replace(&mut *self.current.write(), Arc::new(svs));
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

/// Keyspace 0 is created with the database and can never be dropped, so every
/// published set of super versions holds it.
#[cold]
fn unreachable_default() -> ! {
    panic!("the default keyspace has no super version")
}
