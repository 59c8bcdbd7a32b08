//! Counters a user can act on, returned by [`crate::Db::stats`].

/// Per-level figures, one entry of [`Stats::levels`].
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
/// db.put("k", "v")?;
/// db.compact()?; // into the last level, 6 (dynamic level sizing)
/// let level = &db.stats().levels[6];
/// assert_eq!((level.level, level.segments), (6, 1));
/// assert!(level.bytes > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LevelStats {
    /// Level number (0 is the newest).
    pub level: usize,
    /// Live segment files in the level.
    pub segments: usize,
    /// Bytes of those files.
    pub bytes: u64,
}

/// A snapshot of the engine's counters. Write amplification is
/// `(wal_bytes_written + bytes_flushed + bytes_compacted_written) / user_bytes_written`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Key and value bytes passed to put/delete/write.
    pub user_bytes_written: u64,
    /// Bytes appended to write-ahead logs.
    pub wal_bytes_written: u64,
    /// WAL fsyncs.
    pub wal_syncs: u64,
    /// Segment bytes written by flushes.
    pub bytes_flushed: u64,
    /// Number of flushes.
    pub flushes: u64,
    /// Segment bytes read by compactions.
    pub bytes_compacted_read: u64,
    /// Segment bytes written by compactions.
    pub bytes_compacted_written: u64,
    /// Number of compactions.
    pub compactions: u64,
    /// Key ranges merged side by side by compactions split into several
    /// ([`Options::max_subcompactions`](crate::Options::max_subcompactions)): a
    /// compaction split into 3 ranges adds 3, one run as a single merge adds 0.
    pub subcompactions: u64,
    /// Wall time compactions took, moves and failed ones left out, in
    /// microseconds.
    pub compaction_micros: u64,
    /// Live segments and bytes per level of the default keyspace, every level up
    /// to the deepest non-empty one
    /// ([`Keyspace::level_stats`](crate::Keyspace::level_stats) for another).
    /// The counters above and the memtable figures below are over every keyspace.
    pub levels: Vec<LevelStats>,
    /// Bytes in the active and immutable memtables of every keyspace.
    pub memtable_bytes: u64,
    /// Immutable memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Block cache hits.
    pub block_cache_hits: u64,
    /// Block cache misses.
    pub block_cache_misses: u64,
    /// Bytes of the open segments whose data blocks are read through their memory
    /// mapping, at most [`Options::mmap_read_budget`](crate::Options::mmap_read_budget);
    /// the others' are read with positional reads.
    pub mmap_read_bytes: u64,
    /// Segment lookups a Bloom filter answered "absent" (a read saved).
    pub bloom_useful: u64,
    /// Segment lookups a Bloom filter let through but the key was absent.
    pub bloom_false_positives: u64,
    /// Times writers were slowed or stopped.
    pub write_stalls: u64,
    /// Total time writers spent stalled, in microseconds.
    pub write_stall_micros: u64,
    /// Of [`write_stalls`](Self::write_stalls), those whose first cause was level 0
    /// holding [`Options::level0_stop_writes`](crate::Options::level0_stop_writes)
    /// files in some keyspace (writers wait for a compaction).
    pub write_stalls_level0_stop: u64,
    /// Those whose first cause was level 0 at the slowdown threshold (the larger of
    /// the compaction trigger and half the stop threshold): a 1 ms pause.
    pub write_stalls_level0_slowdown: u64,
    /// Those whose first cause was the memtable budget full with the most frozen
    /// memtables already waiting for a flush (writers wait for the flush).
    pub write_stalls_memtables: u64,
    /// The longest single stall, in microseconds.
    pub longest_write_stall_micros: u64,
    /// WAL files finished at memtable switches: each one trimmed and fsynced, and
    /// its successor created, while writers wait (not counted as stalls).
    pub wal_rotations: u64,
    /// Total time those took, in microseconds. The fsync waits for every WAL byte
    /// not yet on the device; [`Options::wal_bytes_per_sync`](crate::Options::wal_bytes_per_sync)
    /// leaves it less.
    pub wal_rotation_micros: u64,
    /// The longest single one, in microseconds.
    pub longest_wal_rotation_micros: u64,
    /// Last sequence number visible to readers.
    pub last_sequence: u64,
    /// Values written with a TTL that a flush or compaction found expired (for
    /// every reader, including the oldest live snapshot) and turned into
    /// tombstones, or dropped outright where no older version of the key remained
    /// below.
    pub expired_versions: u64,
    /// Values the [compaction filter](crate::CompactionFilter) removed
    /// ([`FilterDecision::Remove`](crate::FilterDecision::Remove)).
    pub filter_removed: u64,
    /// Values the [compaction filter](crate::CompactionFilter) replaced
    /// ([`FilterDecision::ChangeValue`](crate::FilterDecision::ChangeValue)).
    pub filter_changed: u64,
    /// Versions flushes and compactions dropped because a range delete
    /// ([`Db::delete_range`](crate::Db::delete_range)) covers them.
    pub dropped_by_range: u64,
    /// Range tombstones written into segments by flushes and compactions (one
    /// range delete may be counted again by each compaction that rewrites it, and
    /// once per piece where newer ones overlap it).
    pub range_tombstones_written: u64,
    /// Range tombstones compactions dropped: shadowed by a newer one, or with
    /// nothing left below them to hide.
    pub range_tombstones_dropped: u64,
    /// Bytes compactions gave back: per compaction, the input segments' bytes
    /// minus the output's, when the output is smaller (what dropped versions,
    /// tombstones, expired and filtered values took).
    pub bytes_reclaimed: u64,
    /// Live blob files, over every keyspace (key-value separation,
    /// [`Options::blob_threshold`](crate::Options::blob_threshold)).
    pub blob_files: usize,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Values compactions wrote anew because the blob file holding them was
    /// mostly garbage ([`Options::blob_gc_ratio`](crate::Options::blob_gc_ratio)),
    /// or for the compaction filter to see them.
    pub blob_values_relocated: u64,
}

impl Stats {
    /// Bytes written to disk per user byte written, or 0 before any write.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// assert_eq!(db.stats().write_amplification(), 0.0);
    /// db.put("key", "value")?;
    /// db.flush()?;
    /// // The WAL record and the segment each hold the pair, plus framing.
    /// assert!(db.stats().write_amplification() > 2.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.wal_bytes_written + self.bytes_flushed + self.bytes_compacted_written) as f64
            / self.user_bytes_written as f64
    }

    /// Total bytes of live segments.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("key", "value")?;
    /// assert_eq!(db.stats().total_segment_bytes(), 0); // in the memtable only
    /// db.flush()?;
    /// assert!(db.stats().total_segment_bytes() > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn total_segment_bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.bytes).sum()
    }
}
