//! The write path: validation, group commit, backpressure, memtable switches, sync.
//!
//! A commit group is processed by its leader alone (see `wal::group_commit`), so
//! everything here that changes the active memtable or the WAL runs one group at a
//! time:
//!
//! 1. make room: wait while level 0 is at `level0_stop_writes` (sleep 1 ms once per
//!    group from the slowdown threshold on), freeze a full memtable (waiting while too
//!    many frozen ones are pending flush);
//! 2. assign consecutive sequence numbers and append the group to the WAL with one
//!    write call, then fsync if any writer asked for it;
//! 3. insert into the memtable, then publish the group's last sequence number, so
//!    readers never see part of a group.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lsm_format::{MAX_KEY_LEN, MAX_VALUE_LEN};

use crate::batch::WriteBatch;
use crate::error::{Error, InvalidArgumentKind, PoisonedBy, Result};
use crate::inner::{DbInner, State};
use crate::memtable::MemTable;
use crate::metrics::bump;
use crate::options::WriteOptions;
use crate::wal::{Role, WalWriter, Writer};

/// Frozen memtables allowed to wait for flush before writers wait.
pub(crate) const MAX_IMMUTABLE: usize = 2;
/// How long a stalled writer sleeps per step at the slowdown threshold.
const SLOWDOWN_SLEEP: Duration = Duration::from_millis(1);
/// Re-check interval of waits (they are woken explicitly; this bounds surprises).
const WAIT_STEP: Duration = Duration::from_millis(100);
/// Bytes of a WAL record an encoded batch may take (the log limit minus headroom).
const MAX_BATCH_ENCODED: usize = lsm_format::log::MAX_LOG_RECORD_LEN - 1024;

/// Refuses what the format cannot store, before anything is written.
pub(crate) fn validate(batch: &WriteBatch) -> Result<()> {
    let mut encoded = 0usize;
    for (_, key, value) in batch.iter() {
        if key.len() > MAX_KEY_LEN {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::KeyTooLong,
                message: format!(
                    "key of {} bytes exceeds the limit of {MAX_KEY_LEN}",
                    key.len()
                ),
            });
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::ValueTooLong,
                message: format!(
                    "value of {} bytes exceeds the limit of {MAX_VALUE_LEN}",
                    value.len()
                ),
            });
        }
        // kind + two length varints of at most 5 bytes + the bytes.
        encoded += 11 + key.len() + value.len();
    }
    if encoded > MAX_BATCH_ENCODED {
        return Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::BatchTooLarge,
            message: format!(
                "batch of about {encoded} encoded bytes exceeds the {MAX_BATCH_ENCODED}-byte limit"
            ),
        });
    }
    Ok(())
}

impl DbInner {
    /// Commits `batch` (and, with `switch_memtable`, freezes the memtable after it),
    /// fsyncing the WAL first when `Options::sync_writes` asks for it.
    pub fn write(&self, batch: WriteBatch, switch_memtable: bool) -> Result<()> {
        self.submit(batch, self.opts.sync_writes, switch_memtable)
    }

    /// Commits `batch`, fsyncing the WAL before it returns when `options` or
    /// `Options::sync_writes` asks for it.
    pub fn write_opt(&self, batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        self.submit(batch, self.opts.sync_writes || options.sync, false)
    }

    /// Queues one writer. With `sync`, its group's WAL append is fsynced before any
    /// member returns; the WAL is one sequence and older WALs were fsynced when they
    /// were rotated out, so that also makes every earlier acknowledged write durable.
    fn submit(&self, batch: WriteBatch, sync: bool, switch_memtable: bool) -> Result<()> {
        validate(&batch)?;
        if batch.is_empty() && !switch_memtable {
            return Ok(());
        }
        self.poison.check()?;
        bump(&self.metrics.user_bytes_written, batch.size_bytes() as u64);
        let w = Writer::new(batch, sync, switch_memtable);
        match self.queue.join(&w) {
            Role::Done(r) => r,
            Role::Leader => {
                let group = self.queue.take_group(&w);
                let r = self.commit(group.writers());
                group.finish(r)
            }
        }
    }

    fn commit(&self, group: &[Arc<Writer>]) -> Result<()> {
        self.poison.check()?;
        let batches = || group.iter().map(|w| &w.batch).filter(|b| !b.is_empty());
        if batches().next().is_some() {
            let mem = self.make_room()?;
            let count: u64 = batches().map(|b| b.len() as u64).sum();
            let first = self.last_seq.load(Ordering::Relaxed) + 1;
            let need_sync = group.iter().any(|w| w.sync && !w.batch.is_empty());
            {
                let mut wal = self.wal.lock();
                let n = wal.append(first, batches()).map_err(|e| {
                    self.poison
                        .poison(PoisonedBy::WalWrite, "WAL write failed", e)
                })?;
                bump(&self.metrics.wal_bytes_written, n);
                if need_sync
                    && wal.sync().map_err(|e| {
                        self.poison
                            .poison(PoisonedBy::WalSync, "WAL fsync failed", e)
                    })?
                {
                    bump(&self.metrics.wal_syncs, 1);
                }
            }
            let mut seq = first;
            for batch in batches() {
                for (kind, key, value) in batch.iter() {
                    mem.insert(key, seq, kind, value);
                    seq += 1;
                }
            }
            let last = first + count - 1;
            self.last_seq.store(last, Ordering::Relaxed);
            self.visible_seq.store(last, Ordering::Release);
        }
        if group.iter().any(|w| w.switch_memtable) {
            let mut st = self.state.lock();
            if !st.mem.is_empty() {
                self.switch_memtable(&mut st)?;
            }
        }
        Ok(())
    }

    /// Backpressure and memtable rotation before a group with data is written;
    /// returns the memtable the group goes into.
    fn make_room(&self) -> Result<Arc<MemTable>> {
        let slowdown_at = self
            .opts
            .level0_compaction_trigger
            .max(self.opts.level0_stop_writes / 2);
        let mut slowed = false;
        let mut stalled_since: Option<(Instant, &'static str)> = None;
        let mut st = self.state.lock();
        let result = loop {
            if let Err(e) = self.poison.check() {
                break Err(e);
            }
            if st.shutdown {
                break Err(Error::Closed);
            }
            let level0 = st.version.level(0).len();
            if level0 >= self.opts.level0_stop_writes {
                stalled_since.get_or_insert((Instant::now(), "level 0 at level0_stop_writes"));
                self.compact_cv.notify_one();
                self.done_cv.wait_for(&mut st, WAIT_STEP);
                continue;
            }
            if level0 >= slowdown_at && !slowed {
                slowed = true;
                stalled_since.get_or_insert((Instant::now(), "level 0 at the slowdown threshold"));
                drop(st);
                std::thread::sleep(SLOWDOWN_SLEEP);
                st = self.state.lock();
                continue;
            }
            if st.mem.size() < self.opts.memtable_size {
                break Ok(st.mem.clone());
            }
            if st.imm.len() >= MAX_IMMUTABLE {
                stalled_since.get_or_insert((Instant::now(), "memtables waiting for flush"));
                self.flush_cv.notify_one();
                self.done_cv.wait_for(&mut st, WAIT_STEP);
                continue;
            }
            break self.switch_memtable(&mut st).map(|()| st.mem.clone());
        };
        drop(st);
        if let Some((since, cause)) = stalled_since {
            let micros = since.elapsed().as_micros() as u64;
            bump(&self.metrics.write_stalls, 1);
            bump(&self.metrics.write_stall_micros, micros);
            if micros >= 1000 {
                log::warn!("write stalled {micros} us: {cause}");
            } else {
                log::debug!("write stalled {micros} us: {cause}");
            }
        }
        result
    }

    /// Freezes the active memtable and starts a new WAL for its successor.
    ///
    /// Order (crash consistency): trim and fsync the old WAL first, so that every WAL
    /// but the newest is complete on disk and ends at its last record (replay treats
    /// damage, zeros included, in an older one as corruption); then create the new
    /// WAL and fsync the directory, so the new file exists before anything is
    /// acknowledged from it.
    pub(crate) fn switch_memtable(&self, st: &mut State) -> Result<()> {
        let number = self.next_file.fetch_add(1, Ordering::SeqCst);
        {
            let mut wal = self.wal.lock();
            if wal.finish().map_err(|e| {
                self.poison
                    .poison(PoisonedBy::WalSync, "WAL fsync at rotation failed", e)
            })? {
                bump(&self.metrics.wal_syncs, 1);
            }
            let next = WalWriter::create(&self.fs, &self.dir, number).map_err(|e| {
                self.poison
                    .poison(PoisonedBy::WalCreate, "creating a WAL failed", e)
            })?;
            bump(&self.metrics.wal_bytes_written, next.written());
            self.fs.sync_dir(&self.dir).map_err(|e| {
                self.poison.poison(
                    PoisonedBy::DirectorySync,
                    "directory fsync failed",
                    Error::io(&self.dir, e),
                )
            })?;
            *wal = next;
        }
        let old = std::mem::replace(
            &mut st.mem,
            Arc::new(MemTable::with_filter(number, self.opts.memtable_size)),
        );
        log::debug!(
            "memtable of WAL {} frozen ({} entries, {} bytes); new WAL {number}",
            old.wal_number(),
            old.len(),
            old.size()
        );
        st.imm.push(old);
        self.publish(st);
        self.flush_cv.notify_one();
        Ok(())
    }

    /// Makes every acknowledged write durable: fsyncs the current WAL (older WALs
    /// were fsynced when they were rotated out). With `finish`, also trims its
    /// preallocated space (at close).
    pub fn sync_wal(&self, finish: bool) -> Result<()> {
        self.poison.check()?;
        let mut wal = self.wal.lock();
        let synced = if finish { wal.finish() } else { wal.sync() };
        if synced.map_err(|e| {
            self.poison
                .poison(PoisonedBy::WalSync, "WAL fsync failed", e)
        })? {
            bump(&self.metrics.wal_syncs, 1);
        }
        Ok(())
    }
}
