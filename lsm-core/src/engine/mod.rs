//! The engine: the subsystems one open database is made of, owned together by the
//! [`crate::Db`] handle and its background threads through an `Arc<Engine>`.
//!
//! Each subsystem owns its state; the hub only holds them and hands each job the
//! subsystems it talks to:
//!
//! - [`Env`]: what every part may read: directory, file system, options, block
//!   cache, metrics, the poison flag, live snapshots;
//! - [`WritePath`]: group commit, the WAL, memtable switches;
//! - [`Coordination`]: the memtables and current version as owned data, manual
//!   compaction requests, shutdown, and the condition variables that wake each
//!   party;
//! - [`ReadPath`]: the super version readers look at and the visible sequence;
//! - [`VersionControl`]: the manifest, installs of edits, file numbers.
//!
//! Flush and compaction are jobs over those parts (`flush`, `compaction`), run by the
//! background threads (`background`). Lock order, the only one ever nested:
//! version set -> coordination -> super version; the WAL lock is taken alone or
//! inside coordination (memtable switch).

pub(crate) mod background;
mod coordination;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::compaction::CompactionJob;
use crate::flush::FlushJob;
use crate::fs::{FileLock, FsRef};
use crate::metrics::{read, Metrics};
use crate::options::Options;
use crate::poison::Poison;
use crate::read_path::snapshot_list::SnapshotList;
use crate::read_path::ReadPath;
use crate::segment::block_cache::LruBlockCache;
use crate::segment::file::SegmentContext;
use crate::stats::{LevelStats, Stats};
use crate::version::VersionControl;
use crate::write_path::{Freeze, WriteContext, WritePath};

pub(crate) use coordination::{Coordination, State, Tree};

/// What every subsystem may read: set at open, never replaced.
pub(crate) struct Env {
    pub dir: PathBuf,
    pub fs: FsRef,
    pub opts: Options,
    pub cache: Option<Arc<LruBlockCache>>,
    /// The cache (again) and the mapped-read budget, as segments are opened with.
    pub segments: SegmentContext,
    pub snapshots: Arc<SnapshotList>,
    pub metrics: Arc<Metrics>,
    pub poison: Poison,
    /// Set when shutdown begins: long compactions give up early.
    pub stopping: AtomicBool,
}

pub(crate) struct Engine {
    pub env: Env,
    pub writes: WritePath,
    pub coord: Coordination,
    pub reads: ReadPath,
    pub versions: VersionControl,
    lock: Mutex<Option<Box<dyn FileLock>>>,
}

impl Engine {
    pub fn new(
        env: Env,
        writes: WritePath,
        coord: Coordination,
        reads: ReadPath,
        versions: VersionControl,
        lock: Box<dyn FileLock>,
    ) -> Engine {
        Engine {
            env,
            writes,
            coord,
            reads,
            versions,
            lock: Mutex::new(Some(lock)),
        }
    }

    /// The parts a commit group touches.
    pub fn write_context(&self) -> WriteContext<'_> {
        WriteContext {
            env: &self.env,
            coord: &self.coord,
            reads: &self.reads,
            versions: &self.versions,
        }
    }

    /// The parts a flush touches.
    pub fn flush_job(&self) -> FlushJob<'_> {
        FlushJob {
            env: &self.env,
            coord: &self.coord,
            reads: &self.reads,
            versions: &self.versions,
        }
    }

    /// The parts a compaction touches.
    pub fn compaction_job(&self) -> CompactionJob<'_> {
        CompactionJob {
            env: &self.env,
            coord: &self.coord,
            reads: &self.reads,
            versions: &self.versions,
        }
    }

    /// Releases the directory lock (at close; dropping the engine releases it too).
    pub fn release_lock(&self) {
        drop(self.lock.lock().take());
    }

    /// Counters over the whole database; levels and memtables of the default
    /// keyspace, summed over every keyspace for the memtables.
    pub fn stats(&self) -> Stats {
        let (svs, seq) = self.reads.views();
        let m = &self.env.metrics;
        let (sv, _) = self.reads.view();
        let levels = level_stats(&sv.version);
        let memtable_bytes = svs
            .values()
            .flat_map(|sv| std::iter::once(&sv.mem).chain(sv.imm.iter()))
            .map(|m| m.size() as u64)
            .sum();
        let immutable_memtables = svs.values().map(|sv| sv.imm.len()).sum();
        let cache = self.env.cache.as_ref();
        Stats {
            user_bytes_written: read(&m.user_bytes_written),
            wal_bytes_written: read(&m.wal_bytes_written),
            wal_syncs: read(&m.wal_syncs),
            bytes_flushed: read(&m.bytes_flushed),
            flushes: read(&m.flushes),
            bytes_compacted_read: read(&m.bytes_compacted_read),
            bytes_compacted_written: read(&m.bytes_compacted_written),
            compactions: read(&m.compactions),
            subcompactions: read(&m.subcompactions),
            compaction_micros: read(&m.compaction_micros),
            levels,
            memtable_bytes,
            immutable_memtables,
            block_cache_hits: cache.map_or(0, |c| c.hits()),
            block_cache_misses: cache.map_or(0, |c| c.misses()),
            mmap_read_bytes: self.env.segments.mapped_reads.used(),
            bloom_useful: read(&m.bloom_useful),
            bloom_false_positives: read(&m.bloom_false_positives),
            write_stalls: read(&m.write_stalls),
            write_stall_micros: read(&m.write_stall_micros),
            write_stalls_level0_stop: read(&m.write_stalls_level0_stop),
            write_stalls_level0_slowdown: read(&m.write_stalls_level0_slowdown),
            write_stalls_memtables: read(&m.write_stalls_memtables),
            longest_write_stall_micros: read(&m.longest_write_stall_micros),
            wal_rotations: read(&m.wal_rotations),
            wal_rotation_micros: read(&m.wal_rotation_micros),
            longest_wal_rotation_micros: read(&m.longest_wal_rotation_micros),
            last_sequence: seq,
            expired_versions: read(&m.expired_versions),
            filter_removed: read(&m.filter_removed),
            filter_changed: read(&m.filter_changed),
            dropped_by_range: read(&m.dropped_by_range),
            range_tombstones_written: read(&m.range_tombstones_written),
            range_tombstones_dropped: read(&m.range_tombstones_dropped),
            bytes_reclaimed: read(&m.bytes_reclaimed),
            blob_files: svs.values().map(|sv| sv.version.blobs().len()).sum(),
            blob_bytes: svs
                .values()
                .flat_map(|sv| sv.version.blobs().values())
                .map(|b| b.meta.file_size)
                .sum(),
            blob_values_relocated: read(&m.blob_values_relocated),
        }
    }
}

/// The files and bytes of each level of `version`, down to its deepest non-empty
/// level.
pub(crate) fn level_stats(version: &crate::version::Version) -> Vec<LevelStats> {
    match version.deepest_non_empty() {
        Some(d) => (0..=d)
            .map(|level| LevelStats {
                level,
                segments: version.level(level).len(),
                bytes: version.level_bytes(level),
            })
            .collect(),
        None => Vec::new(),
    }
}

/// The data-path operations that span subsystems.
impl Engine {
    /// Commits `batch` (fsynced first when `Options::sync_writes` asks).
    pub fn write(&self, batch: crate::WriteBatch) -> crate::Result<()> {
        self.writes.write(&self.write_context(), batch)
    }

    /// Commits `batch` with per-write options.
    pub fn write_opt(
        &self,
        batch: crate::WriteBatch,
        options: &crate::WriteOptions,
    ) -> crate::Result<()> {
        self.writes.write_opt(&self.write_context(), batch, options)
    }

    /// Commits a transaction's writes unless something it read changed after
    /// sequence number `begin`.
    pub fn commit_transaction(
        &self,
        batch: crate::WriteBatch,
        reads: crate::transaction::ReadSets,
        begin: u64,
        options: &crate::WriteOptions,
    ) -> crate::Result<()> {
        self.writes
            .commit_transaction(&self.write_context(), batch, reads, begin, options)
    }

    /// Freezes the active memtables `which` names (those that hold anything) and
    /// waits until every memtable of them frozen so far is flushed.
    pub fn flush(&self, which: Freeze) -> crate::Result<()> {
        self.writes.freeze_memtable(&self.write_context(), which)?;
        self.flush_job().wait_for_frozen(which)
    }

    /// Flushes keyspace `keyspace`, then runs the manual compaction `request` on
    /// its tree and waits for it.
    pub fn compact(
        &self,
        keyspace: lsm_format::keyspace::KeyspaceId,
        request: crate::compaction::manual::Manual,
    ) -> crate::Result<()> {
        self.flush(Freeze::One(keyspace))?;
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let mut st = self.coord.lock();
            if st.shutdown {
                return Err(crate::Error::Closed);
            }
            st.manual.push(((keyspace, request), tx));
        }
        self.coord.wake_all_compaction();
        rx.recv().unwrap_or(Err(crate::Error::Closed))
    }

    /// Makes every acknowledged write durable; with `finish`, also trims the WAL's
    /// preallocated space (at close).
    pub fn sync_wal(&self, finish: bool) -> crate::Result<()> {
        self.writes.sync_wal(&self.env, finish)
    }

    /// A consistent read view: the super version and the sequence to read at.
    pub fn view(&self) -> (Arc<crate::read_path::SuperVersion>, u64) {
        self.reads.view()
    }
}
