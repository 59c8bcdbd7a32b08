//! Consistent read views.

use std::ops::RangeBounds;

use bytes::Bytes;

use crate::error::Result;
use crate::scan::Scan;

/// A read view fixed at a sequence number: later writes are invisible to it, and
/// compaction keeps every version it can see until it is dropped.
pub struct Snapshot {
    _private: (),
}

impl Snapshot {
    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let _ = key;
        todo!()
    }

    /// Live keys in `range` as of the snapshot.
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        let _ = range;
        todo!()
    }

    /// Live keys with `prefix` as of the snapshot.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        let _ = prefix;
        todo!()
    }

    /// The sequence number the snapshot reads at.
    pub fn sequence(&self) -> u64 {
        todo!()
    }
}
