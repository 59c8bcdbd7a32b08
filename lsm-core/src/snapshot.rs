//! Consistent read views.

use std::ops::RangeBounds;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;
use crate::metrics::Metrics;
use crate::scan::{bounds, prefix_bounds, Scan};
use crate::snapshot_list::SnapshotList;
use crate::super_version::SuperVersion;

/// A read view fixed at a sequence number: later writes are invisible to it, and
/// compaction keeps every version it can see until it is dropped.
///
/// It holds the memtables and segment files that were current when it was taken
/// (so it stays valid through flushes and compactions, and even after the
/// [`crate::Db`] is closed), borrows nothing from the database, and is `Send + Sync`.
/// Holding one for long keeps those files on disk.
pub struct Snapshot {
    sv: Arc<SuperVersion>,
    seq: u64,
    list: Arc<SnapshotList>,
    metrics: Arc<Metrics>,
}

impl Snapshot {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        seq: u64,
        list: Arc<SnapshotList>,
        metrics: Arc<Metrics>,
    ) -> Self {
        list.register(seq);
        Snapshot {
            sv,
            seq,
            list,
            metrics,
        }
    }

    /// The value of `key` as of the snapshot.
    ///
    /// # Errors
    /// `Corruption` when a file read on the way is damaged; `Io`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        self.sv.get(key, self.seq, &self.metrics)
    }

    /// Live keys in `range` as of the snapshot.
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        Scan::new(self.sv.clone(), self.seq, bounds(&range))
    }

    /// Live keys with `prefix` as of the snapshot.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        Scan::new(self.sv.clone(), self.seq, prefix_bounds(prefix.as_ref()))
    }

    /// The sequence number the snapshot reads at.
    pub fn sequence(&self) -> u64 {
        self.seq
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.list.release(self.seq);
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("sequence", &self.seq)
            .finish()
    }
}
