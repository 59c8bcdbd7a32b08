//! The write path: validation, group commit, the WAL, backpressure and memtable
//! switches, sync.
//!
//! A commit group is processed by its leader alone (`group_commit`), so everything
//! here that changes the active memtable or the WAL runs one group at a time:
//!
//! 1. check the group's transactions (`crate::transaction::validate`), leaving out
//!    the batch of any that read something written since it began;
//! 2. make room (`room`): wait while level 0 is at `level0_stop_writes` (sleep 1 ms
//!    once per group from the slowdown threshold on), freeze a full memtable (waiting
//!    while too many frozen ones are pending flush);
//! 3. assign consecutive sequence numbers and append the group to the WAL
//!    (`wal_writer`) with one write call, then fsync if any writer asked for it;
//! 4. insert into the memtable, then publish the group's last sequence number, so
//!    readers never see part of a group.
//!
//! A memtable freeze (`Db::flush`, the `flush_interval` timer) is a request of its
//! own in the same queue ([`Request::FreezeMemtable`]), so it runs between groups.

mod group_commit;
mod room;
mod validate;
pub(crate) mod wal_writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::batch::WriteBatch;
use crate::engine::{Coordination, Env};
use crate::error::{PoisonedBy, Result};
use crate::metrics::bump;
use crate::options::WriteOptions;
use crate::read_path::ReadPath;
use crate::transaction::{validate as txn, ReadSets};
use crate::version::VersionControl;

pub(crate) use group_commit::Freeze;
use group_commit::{CommitRequest, Request, Role, WriteQueue, Writer};
pub(crate) use validate::{validate, validate_op};
pub(crate) use wal_writer::WalWriter;

/// The write path's own state.
pub(crate) struct WritePath {
    queue: WriteQueue,
    /// The current WAL file; held by the commit leader while appending, by `sync`,
    /// and by a memtable switch (inside the coordination lock).
    wal: Mutex<WalWriter>,
    /// Last sequence number given to a write (commit leader only).
    last_seq: AtomicU64,
}

/// The other subsystems a commit group touches.
pub(crate) struct WriteContext<'a> {
    pub env: &'a Env,
    /// Backpressure, the active memtable, memtable switches.
    pub coord: &'a Coordination,
    /// Where a committed group becomes visible.
    pub reads: &'a ReadPath,
    /// File numbers for new WALs.
    pub versions: &'a VersionControl,
}

impl WritePath {
    /// A write path appending to `wal`, whose last used sequence number is
    /// `last_seq`.
    pub fn new(wal: WalWriter, last_seq: u64) -> WritePath {
        WritePath {
            queue: WriteQueue::default(),
            wal: Mutex::new(wal),
            last_seq: AtomicU64::new(last_seq),
        }
    }

    /// Commits `batch`, fsyncing the WAL first when `Options::sync_writes` asks.
    pub fn write(&self, cx: &WriteContext<'_>, batch: WriteBatch) -> Result<()> {
        let sync = cx.env.opts.sync_writes;
        self.submit(cx, Request::Write { batch, sync })
    }

    /// Commits `batch`, fsyncing the WAL before it returns when `options` or
    /// `Options::sync_writes` asks for it.
    pub fn write_opt(
        &self,
        cx: &WriteContext<'_>,
        batch: WriteBatch,
        options: &WriteOptions,
    ) -> Result<()> {
        let sync = cx.env.opts.sync_writes || options.sync;
        self.submit(cx, Request::Write { batch, sync })
    }

    /// Commits a transaction's `batch` unless something in `reads` was written
    /// after sequence number `begin` (then `Error::Conflict`, nothing written).
    /// Synced as [`WritePath::write_opt`].
    pub fn commit_transaction(
        &self,
        cx: &WriteContext<'_>,
        batch: WriteBatch,
        reads: ReadSets,
        begin: u64,
        options: &WriteOptions,
    ) -> Result<()> {
        let sync = cx.env.opts.sync_writes || options.sync;
        let request = CommitRequest::new(batch, sync, reads, begin);
        self.submit(cx, Request::Commit(request))
    }

    /// Freezes the active memtables `which` names (those that hold anything) after
    /// every write queued before this call, and wakes the flush thread.
    pub fn freeze_memtable(&self, cx: &WriteContext<'_>, which: Freeze) -> Result<()> {
        self.submit(cx, Request::FreezeMemtable(which))
    }

    /// Queues one request. A synced write's group is fsynced before any member
    /// returns; the WAL is one sequence and older WALs were fsynced when they were
    /// rotated out, so that also makes every earlier acknowledged write durable.
    fn submit(&self, cx: &WriteContext<'_>, request: Request) -> Result<()> {
        let batch = match &request {
            Request::Write { batch, .. } => Some(batch),
            Request::Commit(c) => Some(&c.batch),
            Request::FreezeMemtable(_) => None,
        };
        if let Some(batch) = batch {
            validate(batch)?;
            if batch.is_empty() {
                return Ok(());
            }
            cx.env.poison.check()?;
            bump(
                &cx.env.metrics.user_bytes_written,
                batch.size_bytes() as u64,
            );
        } else {
            cx.env.poison.check()?;
        }
        let w = Writer::new(request);
        match self.queue.join(&w) {
            Role::Done(r) => r,
            Role::Leader => {
                let group = self.queue.take_group(&w);
                let r = self.commit(cx, group.writers());
                group.finish(r)
            }
        }
    }

    fn commit(&self, cx: &WriteContext<'_>, group: &[Arc<Writer>]) -> Result<()> {
        let env = cx.env;
        env.poison.check()?;
        if group
            .iter()
            .any(|w| matches!(w.request, Request::Commit(_)))
        {
            self.validate_transactions(cx, group);
        }
        let batches = || group.iter().filter_map(|w| w.batch());
        if batches().next().is_some() {
            let mems = self.make_room(cx)?;
            let count: u64 = batches().map(|b| b.len() as u64).sum();
            let first = self.last_seq.load(Ordering::Relaxed) + 1;
            let need_sync = group.iter().any(|w| w.wants_sync());
            {
                let mut wal = self.wal.lock();
                let n = wal.append(first, batches()).map_err(|e| {
                    env.poison
                        .poison(PoisonedBy::WalWrite, "WAL write failed", e)
                })?;
                bump(&env.metrics.wal_bytes_written, n);
                if need_sync
                    && wal.sync().map_err(|e| {
                        env.poison
                            .poison(PoisonedBy::WalSync, "WAL fsync failed", e)
                    })?
                {
                    bump(&env.metrics.wal_syncs, 1);
                }
            }
            let mut seq = first;
            for batch in batches() {
                for (keyspace, kind, key, value) in batch.iter_in() {
                    // A keyspace dropped after the batch was built has no memtable:
                    // its ops are in the WAL, which replay skips.
                    if let Some((_, mem)) = mems.iter().find(|(id, _)| *id == keyspace) {
                        mem.insert(key, seq, kind, value);
                    }
                    seq += 1;
                }
            }
            let last = first + count - 1;
            self.last_seq.store(last, Ordering::Relaxed);
            cx.reads.make_visible(last);
        }
        let freezes: Vec<Freeze> = group.iter().filter_map(|w| w.freezes_memtable()).collect();
        if !freezes.is_empty() {
            let mut st = cx.coord.lock();
            let which: Vec<_> = st
                .trees
                .iter()
                .filter(|(id, t)| {
                    !t.mem.is_empty()
                        && freezes
                            .iter()
                            .any(|f| *f == Freeze::All || *f == Freeze::One(**id))
                })
                .map(|(id, _)| *id)
                .collect();
            if !which.is_empty() {
                self.switch_memtable(cx, &mut st, &which)?;
            }
        }
        Ok(())
    }

    /// Refuses each transaction of the group that read something written after
    /// it began: by a group committed before (the current view: every earlier
    /// group is in it, since groups are committed one at a time and published
    /// before the next leader runs) or by a batch ahead of it in this group.
    /// Runs before the group is numbered, so nothing else can commit in between.
    fn validate_transactions(&self, cx: &WriteContext<'_>, group: &[Arc<Writer>]) {
        let (svs, _) = cx.reads.views();
        debug_assert_eq!(
            cx.reads.visible_seq(),
            self.last_seq.load(Ordering::Relaxed),
            "an earlier group is still being inserted"
        );
        for (i, w) in group.iter().enumerate() {
            let Request::Commit(c) = &w.request else {
                continue;
            };
            if c.batch.is_empty() {
                continue;
            }
            // A keyspace written or read that was dropped since: refused whole.
            let dropped = c
                .batch
                .keyspaces()
                .chain(c.reads.keys().copied())
                .find(|k| !svs.contains_key(k));
            if let Some(keyspace) = dropped {
                c.refuse(crate::Error::KeyspaceDropped {
                    name: format!("#{keyspace}"),
                });
                continue;
            }
            let verdict = c.reads.iter().try_for_each(|(&keyspace, reads)| {
                let Some(sv) = svs.get(&keyspace) else {
                    return Err(crate::Error::KeyspaceDropped {
                        name: format!("#{keyspace}"),
                    });
                };
                txn::check_state(sv, c.begin, reads)?;
                group
                    .iter()
                    .take(i)
                    .filter_map(|earlier| earlier.batch())
                    .try_for_each(|b| txn::check_batch(b, keyspace, reads))
            });
            if let Err(e) = verdict {
                c.refuse(e);
            }
        }
    }

    /// Makes every acknowledged write durable: fsyncs the current WAL (older WALs
    /// were fsynced when they were rotated out). With `finish`, also trims its
    /// preallocated space (at close).
    pub fn sync_wal(&self, env: &Env, finish: bool) -> Result<()> {
        env.poison.check()?;
        let mut wal = self.wal.lock();
        let synced = if finish { wal.finish() } else { wal.sync() };
        if synced.map_err(|e| {
            env.poison
                .poison(PoisonedBy::WalSync, "WAL fsync failed", e)
        })? {
            bump(&env.metrics.wal_syncs, 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{KeyRange, ReadSet};

    fn put(key: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(key, "v");
        b
    }

    fn commit(batch: WriteBatch, reads: ReadSets, begin: u64) -> Arc<Writer> {
        Writer::new(Request::Commit(CommitRequest::new(
            batch, false, reads, begin,
        )))
    }

    /// A transaction is checked against the batches ahead of it in its own group
    /// (not yet in the memtable), and a refused one is left out without refusing
    /// the transactions behind it.
    #[test]
    fn validation_sees_the_batches_ahead_in_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::Db::open(dir.path(), crate::Options::default()).unwrap();
        let engine = &db.engine;
        let begin = engine.reads.visible_seq();
        let read = |key: &str| {
            let mut r = ReadSet::default();
            r.add_key(key.as_bytes());
            ReadSets::from([(0, r)])
        };
        let mut scanned = ReadSet::default();
        scanned.add_range(KeyRange::half_open(b"s", b"t"));
        let scanned = ReadSets::from([(0, scanned)]);
        let group = [
            Writer::new(Request::Write {
                batch: put("a"),
                sync: false,
            }),
            // Read "a", which the plain write ahead of it writes: refused.
            commit(put("b"), read("a"), begin),
            // Read "b", which only the refused transaction wrote: commits.
            commit(put("s1"), read("b"), begin),
            // Scanned a range the transaction ahead of it wrote into: refused.
            commit(put("c"), scanned, begin),
        ];
        engine
            .writes
            .commit(&engine.write_context(), &group)
            .unwrap();
        let refused: Vec<bool> = group.iter().map(|w| w.batch().is_none()).collect();
        assert_eq!(refused, [false, true, false, true]);
        assert!(db.get("a").unwrap().is_some() && db.get("s1").unwrap().is_some());
        assert!(db.get("b").unwrap().is_none() && db.get("c").unwrap().is_none());
        assert_eq!(engine.reads.visible_seq(), begin + 2);
    }
}
