//! Making room for a commit group: backpressure while flush and compaction catch
//! up, and memtable switches (freeze the active memtable, start a new WAL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};
use parking_lot::MutexGuard;

use super::{WalWriter, WriteContext, WritePath};
use crate::engine::State;
use crate::error::{Error, PoisonedBy, Result};
use crate::memtable::MemTable;
use crate::metrics::bump;

/// The active memtable of every live keyspace.
fn active(st: &State) -> Vec<(KeyspaceId, Arc<MemTable>)> {
    st.trees
        .iter()
        .map(|(id, t)| (*id, t.mem.clone()))
        .collect()
}

/// Live WAL files beyond which a memtable switch also freezes the keyspaces whose
/// active memtable holds the oldest of them (see [`holding_old_wals`]).
pub(crate) const MAX_LIVE_WALS: usize = 4;

/// The keyspaces to freeze besides the largest at a switch because their active
/// memtable holds the oldest live WAL while more than [`MAX_LIVE_WALS`] are live.
///
/// A WAL is deleted only once every keyspace has flushed past it, and a memtable
/// is frozen when it is the largest: a keyspace written once and then left alone
/// would otherwise keep every WAL the busy ones write after it, without bound (on
/// disk, and in the replay at the next open). RocksDB's `max_total_wal_size`
/// flushes the column families holding the oldest WAL for the same reason.
fn holding_old_wals(st: &State) -> Vec<KeyspaceId> {
    if st.wals.len() < MAX_LIVE_WALS {
        return Vec::new();
    }
    let Some(&oldest) = st.wals.first() else {
        return Vec::new();
    };
    st.trees
        .iter()
        .filter(|(_, t)| !t.mem.is_empty() && t.mem.wal_number() <= oldest)
        .map(|(id, _)| *id)
        .collect()
}

/// Why a writer stalled (the first cause it met; counted in `Stats`).
#[derive(Debug, Clone, Copy)]
enum StallCause {
    /// Level 0 of some keyspace at `level0_stop_writes`.
    Level0Stop,
    /// Level 0 of some keyspace at the slowdown threshold.
    Level0Slowdown,
    /// The memtable budget full and `MAX_IMMUTABLE` memtables waiting for flush.
    Memtables,
}

impl StallCause {
    fn counter(self, m: &crate::metrics::Metrics) -> &std::sync::atomic::AtomicU64 {
        match self {
            StallCause::Level0Stop => &m.write_stalls_level0_stop,
            StallCause::Level0Slowdown => &m.write_stalls_level0_slowdown,
            StallCause::Memtables => &m.write_stalls_memtables,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            StallCause::Level0Stop => "level 0 at level0_stop_writes",
            StallCause::Level0Slowdown => "level 0 at the slowdown threshold",
            StallCause::Memtables => "memtables waiting for flush",
        }
    }
}

/// Frozen memtables allowed to wait for flush before writers wait.
pub(crate) const MAX_IMMUTABLE: usize = 2;
/// How long a stalled writer sleeps per step at the slowdown threshold.
const SLOWDOWN_SLEEP: Duration = Duration::from_millis(1);
/// Re-check interval of waits (they are woken explicitly; this bounds surprises).
const WAIT_STEP: Duration = Duration::from_millis(100);

impl WritePath {
    /// Backpressure and memtable rotation before a group with data is written;
    /// returns the active memtable of every live keyspace, which the group goes into.
    ///
    /// The memtable budget, `memtable_size`, is over every keyspace's active
    /// memtable together: when the total reaches it, the largest is frozen (with
    /// one keyspace, that is its memtable reaching the size).
    pub(super) fn make_room(
        &self,
        cx: &WriteContext<'_>,
    ) -> Result<Vec<(KeyspaceId, Arc<MemTable>)>> {
        let opts = &cx.env.opts;
        let slowdown_at = opts
            .level0_compaction_trigger
            .max(opts.level0_stop_writes / 2);
        let mut slowed = false;
        let mut stalled_since: Option<(Instant, StallCause)> = None;
        let mut st = cx.coord.lock();
        let result = loop {
            if let Err(e) = cx.env.poison.check() {
                break Err(e);
            }
            if st.shutdown {
                break Err(Error::Closed);
            }
            let level0 = st.max_level0();
            if level0 >= opts.level0_stop_writes {
                stalled_since.get_or_insert((Instant::now(), StallCause::Level0Stop));
                cx.coord.wake_compaction();
                cx.coord.wait_done(&mut st, WAIT_STEP);
                continue;
            }
            if level0 >= slowdown_at && !slowed {
                slowed = true;
                stalled_since.get_or_insert((Instant::now(), StallCause::Level0Slowdown));
                drop(st);
                std::thread::sleep(SLOWDOWN_SLEEP);
                st = cx.coord.lock();
                continue;
            }
            let total: usize = st.trees.values().map(|t| t.mem.size()).sum();
            if total < opts.memtable_size {
                break Ok(active(&st));
            }
            if st.immutable_count() >= MAX_IMMUTABLE {
                stalled_since.get_or_insert((Instant::now(), StallCause::Memtables));
                cx.coord.wake_flush();
                cx.coord.wait_done(&mut st, WAIT_STEP);
                continue;
            }
            let largest = st
                .trees
                .iter()
                .max_by_key(|(_, t)| t.mem.size())
                .map(|(id, _)| *id)
                .unwrap_or(DEFAULT_KEYSPACE);
            let mut which = vec![largest];
            which.extend(holding_old_wals(&st));
            break self
                .switch_memtable(cx, &mut st, &which)
                .map(|()| active(&st));
        };
        drop(st);
        if let Some((since, cause)) = stalled_since {
            let micros = since.elapsed().as_micros() as u64;
            let m = &cx.env.metrics;
            bump(&m.write_stalls, 1);
            bump(&m.write_stall_micros, micros);
            bump(cause.counter(m), 1);
            m.longest_write_stall_micros
                .fetch_max(micros, std::sync::atomic::Ordering::Relaxed);
            let cause = cause.describe();
            if micros >= 1000 {
                log::warn!("write stalled {micros} us: {cause}");
            } else {
                log::debug!("write stalled {micros} us: {cause}");
            }
        }
        result
    }

    /// Freezes the active memtables of keyspaces `which` and starts a new WAL for
    /// their successors. The active memtable of any other keyspace that holds
    /// nothing (and has nothing frozen) is replaced by an empty one of the new WAL,
    /// so that its log number moves past the WALs it never needed.
    ///
    /// Order (crash consistency): trim and fsync the old WAL first, so that every WAL
    /// but the newest is complete on disk and ends at its last record (replay treats
    /// damage, zeros included, in an older one as corruption); then create the new
    /// WAL and fsync the directory, so the new file exists before anything is
    /// acknowledged from it.
    pub(super) fn switch_memtable(
        &self,
        cx: &WriteContext<'_>,
        st: &mut MutexGuard<'_, State>,
        which: &[KeyspaceId],
    ) -> Result<()> {
        let env = cx.env;
        let number = cx.versions.allocate_file_number();
        let started = Instant::now();
        {
            let mut wal = self.wal.lock();
            if wal.finish().map_err(|e| {
                env.poison
                    .poison(PoisonedBy::WalSync, "WAL fsync at rotation failed", e)
            })? {
                bump(&env.metrics.wal_syncs, 1);
            }
            let next = WalWriter::create(&env.fs, &env.dir, number, env.opts.wal_bytes_per_sync)
                .map_err(|e| {
                    env.poison
                        .poison(PoisonedBy::WalCreate, "creating a WAL failed", e)
                })?;
            bump(&env.metrics.wal_bytes_written, next.written());
            env.fs.sync_dir(&env.dir).map_err(|e| {
                env.poison.poison(
                    PoisonedBy::DirectorySync,
                    "directory fsync failed",
                    Error::io(&env.dir, e),
                )
            })?;
            *wal = next;
        }
        let micros = started.elapsed().as_micros() as u64;
        bump(&env.metrics.wal_rotations, 1);
        bump(&env.metrics.wal_rotation_micros, micros);
        env.metrics
            .longest_wal_rotation_micros
            .fetch_max(micros, std::sync::atomic::Ordering::Relaxed);
        st.wals.insert(number);
        for (id, tree) in st.trees.iter_mut() {
            let freeze = which.contains(id);
            if !freeze && !tree.memtables_empty() {
                continue;
            }
            let old = std::mem::replace(
                &mut tree.mem,
                Arc::new(MemTable::with_filter(number, env.opts.memtable_size)),
            );
            if freeze {
                log::debug!(
                    "memtable of keyspace {id}, WAL {}, frozen ({} entries, {} bytes); new WAL \
                     {number}",
                    old.wal_number(),
                    old.len(),
                    old.size()
                );
                tree.imm.push(old);
            }
        }
        cx.reads.publish(st.super_versions());
        cx.coord.wake_flush();
        Ok(())
    }
}
