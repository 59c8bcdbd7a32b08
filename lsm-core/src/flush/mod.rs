//! Flush: writing the oldest immutable memtable out as level-0 segments.
//!
//! Steps and why they are ordered so:
//! 1. write the segments (temp name, fsync, rename, directory fsync:
//!    `segment_builder`), keeping per key only what a live snapshot can read
//!    (`memtable_writer`);
//! 2. log a manifest edit adding them, with the keyspace's log number = the WAL of
//!    its next memtable (this memtable's WAL is no longer needed by it), every
//!    other keyspace's log number, and the global `log_number` = the least of them
//!    — durable before step 4;
//! 3. install the new version and drop the memtable from the super version in one
//!    step, so readers find its data in exactly one place;
//! 4. delete the WAL files below the new global `log_number` (a WAL is deleted
//!    once no keyspace needs it).
//!
//! Memtables are flushed oldest WAL first over every keyspace, so the global log
//! number moves as soon as it can.
//!
//! A crash before step 2 completes leaves orphan segments (proved dead and removed
//! at open) and the WAL (replayed at open); after it, the WAL is below `log_number`
//! and ignored.

mod memtable_writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lsm_format::keyspace::KeyspaceId;
use lsm_format::manifest::VersionEdit;

use crate::engine::{Coordination, Env};
use crate::error::{Error, Result};
use crate::filenames;
use crate::metrics::bump;
use crate::read_path::ReadPath;
use crate::segment::file::SegmentFile;
use crate::version::VersionControl;
use crate::write_path::Freeze;

pub(crate) use memtable_writer::write_memtable;

/// The subsystems a flush touches.
pub(crate) struct FlushJob<'a> {
    pub env: &'a Env,
    /// Where the frozen memtables wait, and who waits for them.
    pub coord: &'a Coordination,
    /// Where the new version is published.
    pub reads: &'a ReadPath,
    /// The manifest edit, file numbers.
    pub versions: &'a VersionControl,
}

impl FlushJob<'_> {
    /// Flushes the oldest immutable memtable of any keyspace (the one of the
    /// oldest WAL); `Ok(false)` when there is none.
    pub fn flush_oldest(&self) -> Result<bool> {
        let env = self.env;
        let (keyspace, mem, opts, log_numbers) = {
            let st = self.coord.lock();
            let Some((keyspace, tree)) = st
                .trees
                .iter()
                .filter(|(_, t)| !t.imm.is_empty())
                .min_by_key(|(_, t)| t.log_number())
            else {
                return Ok(false);
            };
            let Some(mem) = tree.imm.first().cloned() else {
                return Ok(false);
            };
            // Every keyspace's log number once this memtable is flushed. Another
            // keyspace's may only grow meanwhile (nothing else flushes), so these
            // are safe to record.
            let log_numbers: Vec<(KeyspaceId, u64)> = st
                .trees
                .iter()
                .map(|(id, t)| {
                    let from = if id == keyspace {
                        t.imm.get(1).unwrap_or(&t.mem).wal_number()
                    } else {
                        t.log_number()
                    };
                    (*id, from)
                })
                .collect();
            (*keyspace, mem, tree.opts.clone(), log_numbers)
        };
        let start = Instant::now();
        let (snapshots, expiry_cutoff) = env
            .snapshots
            .retention_view(crate::clock::now_ms(&*env.opts.clock));
        let files = write_memtable(
            &env.fs,
            &env.dir,
            &opts,
            self.versions.file_numbers(),
            &env.segments,
            &mem,
            keyspace,
            snapshots,
            expiry_cutoff,
            &env.metrics,
        )?;
        let bytes = files.bytes();
        let added: Vec<(u32, Arc<SegmentFile>)> =
            files.segments.iter().map(|f| (0, f.clone())).collect();
        let log_number = log_numbers.iter().map(|(_, n)| *n).min();
        let edit = VersionEdit {
            log_number,
            keyspace_log_numbers: log_numbers,
            added_segments: added.iter().map(|(l, f)| (*l, f.meta.clone())).collect(),
            added_blob_files: files.blob_metas(),
            ..VersionEdit::default()
        };
        let mut removed = None;
        let mut retired = Vec::new();
        let logged = self.versions.log_and_install(
            &env.poison,
            edit,
            &added,
            &files.blobs,
            self.reads.visible_seq(),
            |versions| {
                self.coord.install_version(self.reads, versions, |st| {
                    // The keyspace may have been dropped meanwhile (its data with it).
                    if let Some(tree) = st.trees.get_mut(&keyspace) {
                        debug_assert!(tree.imm.first().is_some_and(|m| Arc::ptr_eq(m, &mem)));
                        removed = Some(tree.imm.remove(0));
                    }
                    if let Some(below) = log_number {
                        retired = st.wals.range(..below).copied().collect();
                        st.wals.retain(|&n| n >= below);
                    }
                    // Counted in the same step that makes the flush visible, so
                    // `stats()` right after `flush()` returns includes it.
                    bump(&env.metrics.flushes, 1);
                    bump(&env.metrics.bytes_flushed, bytes);
                });
            },
        );
        if let Err(Error::KeyspaceDropped { .. }) = logged {
            // Dropped while it was flushed: its data went with it, and the
            // segments just written were never recorded.
            files.mark_obsolete();
            self.coord.notify_done();
            return Ok(true);
        }
        logged?;
        // Free the memtable (unless a reader still holds it) before waking waiters,
        // so that a caller of `flush` does not find this thread still tearing it
        // down while it goes on working.
        drop(removed);
        let (wal_number, entries) = (mem.wal_number(), mem.len());
        drop(mem);
        // The WALs go before waiters wake, so that when `Db::flush` returns the
        // directory holds no WAL it made obsolete.
        remove_wals(env, &retired);
        self.coord.notify_done();
        self.coord.wake_compaction();
        log::info!(
            "flushed memtable of keyspace {keyspace}, WAL {wal_number} ({entries} entries) to {} \
             segment(s) and {} blob file(s), {bytes} bytes, in {:?}",
            files.segments.len(),
            files.blobs.len(),
            start.elapsed()
        );
        Ok(true)
    }

    /// Waits until every memtable of the keyspaces `which` names that was frozen
    /// before the call (the ones whose WAL is below the active memtable's) is
    /// flushed.
    pub fn wait_for_frozen(&self, which: Freeze) -> Result<()> {
        let mut st = self.coord.lock();
        let targets: Vec<(KeyspaceId, u64)> = st
            .trees
            .iter()
            .filter(|(id, _)| which == Freeze::All || which == Freeze::One(**id))
            .map(|(id, t)| (*id, t.mem.wal_number()))
            .collect();
        loop {
            let done = targets.iter().all(|(id, target)| {
                st.tree(*id)
                    .is_none_or(|t| t.imm.iter().all(|m| m.wal_number() >= *target))
            });
            if done {
                return Ok(());
            }
            self.env.poison.check()?;
            if st.shutdown {
                return Err(Error::Closed);
            }
            self.coord.wake_flush();
            self.coord.wait_done(&mut st, Duration::from_millis(100));
        }
    }
}

/// Removes the WAL files `numbers` (below the global log number: no keyspace
/// needs them). A failure is only logged: the manifest records them obsolete,
/// and the next open removes them.
fn remove_wals(env: &Env, numbers: &[u64]) {
    for &n in numbers {
        let wal = filenames::wal_path(&env.dir, n);
        if let Err(e) = env.fs.remove(&wal) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("could not remove flushed WAL {}: {e}", wal.display());
            }
        }
    }
}
