//! The engine's running counters: relaxed atomics bumped on the hot paths and read
//! together by [`crate::Db::stats`].

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub user_bytes_written: AtomicU64,
    pub wal_bytes_written: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub bytes_flushed: AtomicU64,
    pub flushes: AtomicU64,
    pub bytes_compacted_read: AtomicU64,
    pub bytes_compacted_written: AtomicU64,
    pub compactions: AtomicU64,
    pub subcompactions: AtomicU64,
    pub compaction_micros: AtomicU64,
    pub bloom_useful: AtomicU64,
    pub bloom_false_positives: AtomicU64,
    pub write_stalls: AtomicU64,
    pub write_stall_micros: AtomicU64,
    pub write_stalls_level0_stop: AtomicU64,
    pub write_stalls_level0_slowdown: AtomicU64,
    pub write_stalls_memtables: AtomicU64,
    pub longest_write_stall_micros: AtomicU64,
    pub wal_rotations: AtomicU64,
    pub wal_rotation_micros: AtomicU64,
    pub longest_wal_rotation_micros: AtomicU64,
    pub expired_versions: AtomicU64,
    pub filter_removed: AtomicU64,
    pub filter_changed: AtomicU64,
    pub dropped_by_range: AtomicU64,
    pub range_tombstones_written: AtomicU64,
    pub range_tombstones_dropped: AtomicU64,
    pub bytes_reclaimed: AtomicU64,
    pub blob_values_relocated: AtomicU64,
}

/// Adds `n` to a counter.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Reads a counter.
#[inline]
pub(crate) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
