//! The engine's shared state, owned by the [`crate::Db`] handle and its background
//! threads through an `Arc`.
//!
//! Locks, in the only order they are ever nested:
//! `versions` -> `state` -> `sv` (write) ; `wal` is taken alone or inside `state`
//! (memtable switch). Readers take only the `sv` read lock, briefly.
//!
//! - `sv`: the current [`SuperVersion`] for readers.
//! - `state`: the same parts as owned data plus background coordination; its three
//!   condition variables wake the flush thread, the compaction thread, and callers
//!   waiting for background progress (stalled writers, `flush`).
//! - `versions`: the version set and manifest; held while an edit is logged and
//!   installed, so versions are installed in the order they were logged.
//! - `wal`: the current WAL file; held by the commit leader while appending and by
//!   `sync`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::block_cache::LruBlockCache;
use crate::error::Result;
use crate::fs::{FileLock, FsRef};
use crate::memtable::MemTable;
use crate::metrics::{read, Metrics};
use crate::options::Options;
use crate::poison::Poison;
use crate::segment_file::SegmentContext;
use crate::snapshot_list::SnapshotList;
use crate::stats::{LevelStats, Stats};
use crate::super_version::SuperVersion;
use crate::version::{Version, VersionSet};
use crate::wal::{WalWriter, WriteQueue};

/// Owned parts of the current super version plus background coordination.
pub(crate) struct State {
    pub mem: Arc<MemTable>,
    /// Oldest first.
    pub imm: Vec<Arc<MemTable>>,
    pub version: Arc<Version>,
    /// Callers of `Db::compact` waiting for a full compaction.
    /// Manual full compactions waiting: target level (`None`: the deepest that
    /// holds data, at least 1) and where to send the result.
    pub manual: Vec<(Option<usize>, Sender<Result<()>>)>,
    pub shutdown: bool,
}

pub(crate) struct DbInner {
    pub dir: PathBuf,
    pub fs: FsRef,
    pub opts: Options,
    pub cache: Option<Arc<LruBlockCache>>,
    /// The cache (again) and the mapped-read budget, as segments are opened with.
    pub segments: SegmentContext,
    pub sv: RwLock<Arc<SuperVersion>>,
    pub state: Mutex<State>,
    pub flush_cv: Condvar,
    pub compact_cv: Condvar,
    pub done_cv: Condvar,
    /// Wakes the `flush_interval` timer (at shutdown).
    pub timer_cv: Condvar,
    pub versions: Mutex<VersionSet>,
    pub wal: Mutex<WalWriter>,
    pub queue: WriteQueue,
    /// Last sequence number given to a write (commit leader only).
    pub last_seq: AtomicU64,
    /// Last sequence number whose write is fully in a memtable: readers read at it.
    pub visible_seq: AtomicU64,
    /// Next file number to allocate (WALs and segments).
    pub next_file: AtomicU64,
    pub snapshots: Arc<SnapshotList>,
    pub metrics: Arc<Metrics>,
    pub poison: Poison,
    /// Set when shutdown begins: long compactions give up early.
    pub stopping: AtomicBool,
    pub lock: Mutex<Option<Box<dyn FileLock>>>,
}

impl DbInner {
    /// Installs the super version made of `st`'s parts. Callers hold `state`.
    pub fn publish(&self, st: &State) {
        let sv = Arc::new(SuperVersion {
            mem: st.mem.clone(),
            imm: st.imm.clone(),
            version: st.version.clone(),
        });
        let old = std::mem::replace(&mut *self.sv.write(), sv);
        // Dropping the last reference to a memtable frees all its entries: never
        // while readers wait for the lock.
        drop(old);
    }

    /// A consistent read view: the super version and the sequence number to read at.
    ///
    /// Both are taken under the read lock: no memtable switch or flush can be
    /// installed in between, so every write up to the sequence number is in the
    /// view's memtables or segments.
    pub fn view(&self) -> (Arc<SuperVersion>, u64) {
        let guard = self.sv.read();
        let sv = guard.clone();
        let seq = self.visible_seq.load(Ordering::Acquire);
        (sv, seq)
    }

    pub fn stats(&self) -> Stats {
        let (sv, seq) = self.view();
        let m = &self.metrics;
        let deepest = sv.version.deepest_non_empty();
        let levels = match deepest {
            Some(d) => (0..=d)
                .map(|level| LevelStats {
                    level,
                    segments: sv.version.level(level).len(),
                    bytes: sv.version.level_bytes(level),
                })
                .collect(),
            None => Vec::new(),
        };
        let memtable_bytes = std::iter::once(&sv.mem)
            .chain(sv.imm.iter())
            .map(|m| m.size() as u64)
            .sum();
        Stats {
            user_bytes_written: read(&m.user_bytes_written),
            wal_bytes_written: read(&m.wal_bytes_written),
            wal_syncs: read(&m.wal_syncs),
            bytes_flushed: read(&m.bytes_flushed),
            flushes: read(&m.flushes),
            bytes_compacted_read: read(&m.bytes_compacted_read),
            bytes_compacted_written: read(&m.bytes_compacted_written),
            compactions: read(&m.compactions),
            levels,
            memtable_bytes,
            immutable_memtables: sv.imm.len(),
            block_cache_hits: self.cache.as_ref().map_or(0, |c| c.hits()),
            block_cache_misses: self.cache.as_ref().map_or(0, |c| c.misses()),
            mmap_read_bytes: self.segments.mapped_reads.used(),
            bloom_useful: read(&m.bloom_useful),
            bloom_false_positives: read(&m.bloom_false_positives),
            write_stalls: read(&m.write_stalls),
            write_stall_micros: read(&m.write_stall_micros),
            last_sequence: seq,
        }
    }

    /// Wakes every background thread and waiter (after a state change they may act
    /// on, or shutdown).
    pub fn wake_all(&self) {
        self.flush_cv.notify_all();
        self.compact_cv.notify_all();
        self.done_cv.notify_all();
        self.timer_cv.notify_all();
    }
}
