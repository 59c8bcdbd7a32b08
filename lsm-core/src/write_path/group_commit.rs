//! Group commit: concurrent writers queue up; the writer at the front becomes the
//! leader, takes every batch waiting behind it (up to a size limit), commits them with
//! one WAL write (and at most one fsync), inserts them into the memtable, and wakes
//! the others with the shared result. Then the next writer in line leads.
//!
//! Invariants: at most one leader exists at a time (`leader_active`); whenever the
//! queue is non-empty a leader exists or is being woken; a writer's batch is taken by
//! exactly one leader. If a leader unwinds, its [`LeaderGuard`] still fails its
//! followers and hands leadership on, so no writer waits forever.

use lsm_format::keyspace::KeyspaceId;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};

use crate::batch::WriteBatch;
use crate::error::{Error, PoisonedBy, Result};
use crate::transaction::ReadSets;

/// A group never grows past this many bytes of keys and values...
const MAX_GROUP_BYTES: usize = 1 << 20;
/// ...and a small leading batch takes at most this much more, so a lone small write
/// is not delayed behind a large group.
const SMALL_GROUP_EXTRA: usize = 128 << 10;

enum Slot {
    Waiting,
    Lead,
    Done(Result<()>),
}

/// What a writer in the queue asks for.
pub(crate) enum Request {
    /// Commit a batch; with `sync`, its group's WAL append is fsynced before any
    /// member of the group returns.
    Write { batch: WriteBatch, sync: bool },
    /// Commit a transaction's batch, as `Write`, unless the leader finds that
    /// something it read changed since it began (`crate::transaction::validate`).
    Commit(Box<CommitRequest>),
    /// Freeze active memtables once the writes queued before this request are in
    /// them (`Db::flush`, `Keyspace::flush`, the `flush_interval` timer). Queued
    /// like a write so that it runs between commit groups, never inside one.
    FreezeMemtable(Freeze),
}

/// Which active memtables a freeze request freezes (those that hold anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freeze {
    /// Every keyspace's.
    All,
    /// One keyspace's.
    One(KeyspaceId),
}

/// A transaction's commit: its writes, what it read, and its snapshot's sequence
/// number.
pub(crate) struct CommitRequest {
    pub batch: WriteBatch,
    pub sync: bool,
    pub reads: ReadSets,
    pub begin: u64,
    /// Set by the leader when validation refuses the commit: the batch is then
    /// left out of the group and the writer gets this error.
    refusal: OnceLock<Error>,
}

impl CommitRequest {
    pub fn new(batch: WriteBatch, sync: bool, reads: ReadSets, begin: u64) -> Box<Self> {
        Box::new(CommitRequest {
            batch,
            sync,
            reads,
            begin,
            refusal: OnceLock::new(),
        })
    }

    /// Leaves the batch out of its group; the writer gets `err`.
    pub fn refuse(&self, err: Error) {
        let _ = self.refusal.set(err);
    }
}

/// One queued request: a caller of `Db::write`, a transaction's commit, or a
/// memtable freeze.
pub(crate) struct Writer {
    pub request: Request,
    slot: Mutex<Slot>,
    cv: Condvar,
}

impl Writer {
    pub fn new(request: Request) -> Arc<Self> {
        Arc::new(Writer {
            request,
            slot: Mutex::new(Slot::Waiting),
            cv: Condvar::new(),
        })
    }

    /// The batch to commit, if this is a write with data (and, for a
    /// transaction, not refused).
    pub fn batch(&self) -> Option<&WriteBatch> {
        match &self.request {
            Request::Write { batch, .. } if !batch.is_empty() => Some(batch),
            Request::Commit(c) if !c.batch.is_empty() && c.refusal.get().is_none() => {
                Some(&c.batch)
            }
            _ => None,
        }
    }

    /// Whether this is a write that asked for an fsync.
    pub fn wants_sync(&self) -> bool {
        match &self.request {
            Request::Write { sync, .. } => *sync && self.batch().is_some(),
            Request::Commit(c) => c.sync && self.batch().is_some(),
            Request::FreezeMemtable(_) => false,
        }
    }

    /// This writer's outcome when its group's is `group`: a refused
    /// transaction's own error, else the group's.
    fn outcome(&self, group: &Result<()>) -> Result<()> {
        match &self.request {
            Request::Commit(c) => match c.refusal.get() {
                Some(e) => Err(e.duplicate()),
                None => dup(group),
            },
            _ => dup(group),
        }
    }

    /// The memtables this asks to freeze, if it is a freeze request.
    pub fn freezes_memtable(&self) -> Option<Freeze> {
        match self.request {
            Request::FreezeMemtable(which) => Some(which),
            _ => None,
        }
    }

    /// Bytes of keys and values this request adds to a group.
    fn size_bytes(&self) -> usize {
        self.batch().map_or(0, WriteBatch::size_bytes)
    }

    fn wake(&self, slot: Slot) {
        *self.slot.lock() = slot;
        self.cv.notify_one();
    }
}

/// What a writer does after joining the queue.
pub(crate) enum Role {
    /// Commit a group, then call [`LeaderGuard::finish`].
    Leader,
    /// A leader committed this writer's batch, with this result.
    Done(Result<()>),
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<Arc<Writer>>,
    leader_active: bool,
    /// The last group's vector, empty, kept for the next leader: one allocation
    /// less per commit.
    spare: Vec<Arc<Writer>>,
}

#[derive(Default)]
pub(crate) struct WriteQueue {
    state: Mutex<QueueState>,
}

impl WriteQueue {
    /// Queues `w` and blocks until it leads or a leader committed it.
    pub fn join(&self, w: &Arc<Writer>) -> Role {
        {
            let mut q = self.state.lock();
            q.waiting.push_back(w.clone());
            if !q.leader_active {
                q.leader_active = true;
                return Role::Leader;
            }
        }
        let mut slot = w.slot.lock();
        loop {
            match std::mem::replace(&mut *slot, Slot::Waiting) {
                Slot::Waiting => w.cv.wait(&mut slot),
                Slot::Lead => return Role::Leader,
                Slot::Done(r) => return Role::Done(r),
            }
        }
    }

    /// Called by the leader `w` (at the front of the queue): removes it and the
    /// writers behind it that fit in one group.
    pub fn take_group<'a>(&'a self, leader: &Arc<Writer>) -> LeaderGuard<'a> {
        let mut q = self.state.lock();
        debug_assert!(q.waiting.front().is_some_and(|f| Arc::ptr_eq(f, leader)));
        let first = leader.size_bytes();
        let limit = if first <= SMALL_GROUP_EXTRA {
            first + SMALL_GROUP_EXTRA
        } else {
            MAX_GROUP_BYTES.max(first)
        };
        let mut group = std::mem::take(&mut q.spare);
        let mut bytes = 0;
        while let Some(w) = q.waiting.front() {
            let size = w.size_bytes();
            if !group.is_empty() && bytes + size > limit {
                break;
            }
            bytes += size;
            group.extend(q.waiting.pop_front());
        }
        LeaderGuard {
            queue: self,
            group,
            finished: false,
        }
    }

    /// Hands leadership to the next writer in line, or clears it; keeps the
    /// finished group's vector for the next leader.
    fn pass_on(&self, mut group: Vec<Arc<Writer>>) {
        group.clear();
        let mut q = self.state.lock();
        q.spare = group;
        match q.waiting.front() {
            Some(next) => next.wake(Slot::Lead),
            None => q.leader_active = false,
        }
    }
}

fn dup(result: &Result<()>) -> Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(e.duplicate()),
    }
}

/// The group a leader commits. Dropping it without [`finish`](Self::finish) (a
/// panic) fails the followers and passes leadership on.
pub(crate) struct LeaderGuard<'a> {
    queue: &'a WriteQueue,
    group: Vec<Arc<Writer>>,
    finished: bool,
}

impl LeaderGuard<'_> {
    /// Every writer of the group, the leader first.
    pub fn writers(&self) -> &[Arc<Writer>] {
        &self.group
    }

    /// Gives the followers `result`, passes leadership on, and returns `result`
    /// for the leader.
    pub fn finish(mut self, result: Result<()>) -> Result<()> {
        self.finished = true;
        for w in self.group.iter().skip(1) {
            w.wake(Slot::Done(w.outcome(&result)));
        }
        let mine = match self.group.first() {
            Some(leader) if matches!(leader.request, Request::Commit(_)) => leader.outcome(&result),
            _ => result,
        };
        self.queue.pass_on(std::mem::take(&mut self.group));
        mine
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            for w in self.group.iter().skip(1) {
                w.wake(Slot::Done(Err(Error::Poisoned {
                    operation: PoisonedBy::Panic,
                    message: "the commit leader panicked".to_string(),
                })));
            }
            self.queue.pass_on(std::mem::take(&mut self.group));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_writer_is_committed_exactly_once_and_groups_form() {
        let queue = Arc::new(WriteQueue::default());
        let committed = Arc::new(AtomicUsize::new(0));
        let groups = Arc::new(AtomicUsize::new(0));
        let leaders_now = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (queue, committed, groups, leaders_now) = (
                    queue.clone(),
                    committed.clone(),
                    groups.clone(),
                    leaders_now.clone(),
                );
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let mut b = WriteBatch::new();
                        b.put(format!("k{i}"), "v");
                        let w = Writer::new(Request::Write {
                            batch: b,
                            sync: false,
                        });
                        match queue.join(&w) {
                            Role::Done(r) => r.unwrap(),
                            Role::Leader => {
                                assert_eq!(leaders_now.fetch_add(1, Ordering::SeqCst), 0);
                                let guard = queue.take_group(&w);
                                committed.fetch_add(guard.writers().len(), Ordering::SeqCst);
                                groups.fetch_add(1, Ordering::SeqCst);
                                std::thread::yield_now();
                                leaders_now.fetch_sub(1, Ordering::SeqCst);
                                guard.finish(Ok(())).unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(committed.load(Ordering::SeqCst), 1600);
        assert!(groups.load(Ordering::SeqCst) <= 1600);
    }

    #[test]
    fn a_failed_group_fails_every_member() {
        let queue = WriteQueue::default();
        let w = Writer::new(Request::FreezeMemtable(Freeze::All));
        assert!(matches!(queue.join(&w), Role::Leader));
        let guard = queue.take_group(&w);
        let r = guard.finish(Err(Error::Poisoned {
            operation: PoisonedBy::WalSync,
            message: "disk on fire".into(),
        }));
        assert!(matches!(r, Err(Error::Poisoned { .. })));
        // Leadership was released: the next writer leads at once.
        let w2 = Writer::new(Request::FreezeMemtable(Freeze::All));
        assert!(matches!(queue.join(&w2), Role::Leader));
        drop(queue.take_group(&w2));
        let w3 = Writer::new(Request::FreezeMemtable(Freeze::All));
        assert!(matches!(queue.join(&w3), Role::Leader));
    }
}
