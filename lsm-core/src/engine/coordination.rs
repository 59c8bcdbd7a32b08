//! What the write path, flush and compaction coordinate through: the memtables, the
//! current version, manual compaction requests and shutdown, under one mutex, and the
//! condition variables that wake each party.
//!
//! The mutex is the middle of the lock order (`version set` -> `coordination` ->
//! `super version`), and nothing does I/O while holding it except a memtable
//! switch, which creates the next WAL.

use std::sync::mpsc::Sender;

use crate::compaction::manual::Manual;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::Result;
use crate::memtable::MemTable;
use crate::options::Options;
use std::collections::{BTreeMap, BTreeSet};

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};

use crate::read_path::{ReadPath, SuperVersion, SuperVersions};
use crate::version::{Version, Versions};

/// One keyspace's tree: its memtables and its current version.
pub(crate) struct Tree {
    pub mem: Arc<MemTable>,
    /// Oldest first.
    pub imm: Vec<Arc<MemTable>>,
    pub version: Arc<Version>,
    /// The database's options with the keyspace's own over them: what its flushes
    /// and compactions write with.
    pub opts: Arc<Options>,
}

impl Tree {
    /// A tree with an empty active memtable and `version`, written with `opts`.
    pub fn new(mem: Arc<MemTable>, version: Arc<Version>, opts: Arc<Options>) -> Tree {
        Tree {
            mem,
            imm: Vec::new(),
            version,
            opts,
        }
    }

    /// The super version made of these parts.
    pub fn super_version(&self) -> SuperVersion {
        SuperVersion {
            mem: self.mem.clone(),
            imm: self.imm.clone(),
            version: self.version.clone(),
        }
    }

    /// The oldest WAL that may hold data of this tree not in its segments.
    pub fn log_number(&self) -> u64 {
        self.imm.first().unwrap_or(&self.mem).wal_number()
    }

    /// Whether no memtable of the tree holds anything.
    pub fn memtables_empty(&self) -> bool {
        self.mem.is_empty() && self.imm.is_empty()
    }
}

/// A manual compaction waiting: what to compact in which keyspace, and where to
/// send the result.
pub(crate) type ManualRequest = ((KeyspaceId, Manual), Sender<Result<()>>);

/// The trees of every live keyspace, as owned data, plus background coordination.
pub(crate) struct State {
    /// By keyspace id; keyspace 0 always.
    pub trees: BTreeMap<KeyspaceId, Tree>,
    /// The WAL files that may still be needed (the current one and every older
    /// one not yet retired), by number: a flush retires those below the new
    /// global log number.
    pub wals: BTreeSet<u64>,
    /// Manual compactions waiting (with the keyspace each is of), and where to
    /// send each result.
    pub manual: Vec<ManualRequest>,
    pub shutdown: bool,
}

impl State {
    /// A fresh state around the trees of every keyspace.
    pub fn new(trees: BTreeMap<KeyspaceId, Tree>, wal: u64) -> State {
        debug_assert!(trees.contains_key(&DEFAULT_KEYSPACE));
        State {
            trees,
            wals: BTreeSet::from([wal]),
            manual: Vec::new(),
            shutdown: false,
        }
    }

    /// The super versions made of these parts, for readers.
    pub fn super_versions(&self) -> SuperVersions {
        self.trees
            .iter()
            .map(|(id, t)| (*id, Arc::new(t.super_version())))
            .collect()
    }

    /// The tree of keyspace `id`, if it is live.
    pub fn tree(&self, id: KeyspaceId) -> Option<&Tree> {
        self.trees.get(&id)
    }

    /// The most level-0 files any keyspace has (backpressure).
    pub fn max_level0(&self) -> usize {
        self.trees
            .values()
            .map(|t| t.version.level(0).len())
            .max()
            .unwrap_or(0)
    }

    /// Frozen memtables waiting for flush, over every keyspace.
    pub fn immutable_count(&self) -> usize {
        self.trees.values().map(|t| t.imm.len()).sum()
    }
}

/// The shared state and its wake-ups.
pub(crate) struct Coordination {
    state: Mutex<State>,
    /// Wakes the flush thread (a memtable was frozen).
    flush_cv: Condvar,
    /// Wakes the compaction thread (level 0 grew, a manual compaction was asked).
    compact_cv: Condvar,
    /// Wakes callers waiting for background progress (stalled writers, `flush`,
    /// `compact`).
    done_cv: Condvar,
    /// Wakes the `flush_interval` timer (at shutdown).
    timer_cv: Condvar,
}

impl Coordination {
    pub fn new(state: State) -> Coordination {
        Coordination {
            state: Mutex::new(state),
            flush_cv: Condvar::new(),
            compact_cv: Condvar::new(),
            done_cv: Condvar::new(),
            timer_cv: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Installs `versions` as current (the tree of a keyspace they lack is
    /// dropped), lets `after` adjust the state in the same step (a keyspace just
    /// created gets its tree there) and publishes the resulting super versions to
    /// readers. Callers hold the version-set lock, so versions are installed in the
    /// order they were logged.
    pub fn install_version(
        &self,
        reads: &ReadPath,
        versions: &Versions,
        after: impl FnOnce(&mut State),
    ) {
        let mut st = self.state.lock();
        st.trees.retain(|id, _| versions.contains_key(id));
        for (id, tree) in st.trees.iter_mut() {
            if let Some(v) = versions.get(id) {
                tree.version = v.clone();
            }
        }
        after(&mut st);
        reads.publish(st.super_versions());
    }

    pub fn wake_flush(&self) {
        self.flush_cv.notify_one();
    }

    pub fn wake_compaction(&self) {
        self.compact_cv.notify_one();
    }

    pub fn wake_all_compaction(&self) {
        self.compact_cv.notify_all();
    }

    pub fn notify_done(&self) {
        self.done_cv.notify_all();
    }

    /// Waits (at most `step`) for background progress.
    pub fn wait_done(&self, st: &mut MutexGuard<'_, State>, step: Duration) {
        self.done_cv.wait_for(st, step);
    }

    /// The flush thread's wait for a frozen memtable.
    pub fn wait_flush(&self, st: &mut MutexGuard<'_, State>, step: Duration) {
        self.flush_cv.wait_for(st, step);
    }

    /// The compaction thread's wait for work.
    pub fn wait_compaction(&self, st: &mut MutexGuard<'_, State>, step: Duration) {
        self.compact_cv.wait_for(st, step);
    }

    /// The timer thread's wait for its next tick.
    pub fn wait_timer(&self, st: &mut MutexGuard<'_, State>, step: Duration) {
        self.timer_cv.wait_for(st, step);
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
