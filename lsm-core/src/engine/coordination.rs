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
use crate::read_path::{ReadPath, SuperVersion};
use crate::version::Version;

/// The parts of the current super version, as owned data, plus background
/// coordination.
pub(crate) struct State {
    pub mem: Arc<MemTable>,
    /// Oldest first.
    pub imm: Vec<Arc<MemTable>>,
    pub version: Arc<Version>,
    /// Manual compactions waiting, and where to send each result.
    pub manual: Vec<(Manual, Sender<Result<()>>)>,
    pub shutdown: bool,
}

impl State {
    /// A fresh state around the active memtable and the current version.
    pub fn new(mem: Arc<MemTable>, version: Arc<Version>) -> State {
        State {
            mem,
            imm: Vec::new(),
            version,
            manual: Vec::new(),
            shutdown: false,
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

    /// Installs `version` as current, lets `after` adjust the state in the same step
    /// and publishes the resulting super version to readers. Callers hold the
    /// version-set lock, so versions are installed in the order they were logged.
    pub fn install_version(
        &self,
        reads: &ReadPath,
        version: Arc<Version>,
        after: impl FnOnce(&mut State),
    ) {
        let mut st = self.state.lock();
        st.version = version;
        after(&mut st);
        reads.publish(st.super_version());
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
