//! Flush: writing the oldest immutable memtable out as level-0 segments.
//!
//! Steps and why they are ordered so:
//! 1. write the segments (temp name, fsync, rename, directory fsync:
//!    `segment_builder`), keeping per key only what a live snapshot can read
//!    (`memtable_writer`);
//! 2. log a manifest edit adding them, with `log_number` = the WAL of the next
//!    memtable (this memtable's WAL is no longer needed) — durable before step 4;
//! 3. install the new version and drop the memtable from the super version in one
//!    step, so readers find its data in exactly one place;
//! 4. delete the memtable's WAL file.
//!
//! A crash before step 2 completes leaves orphan segments (proved dead and removed
//! at open) and the WAL (replayed at open); after it, the WAL is below `log_number`
//! and ignored.

mod memtable_writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lsm_format::manifest::VersionEdit;

use crate::engine::{Coordination, Env};
use crate::error::{Error, Result};
use crate::filenames;
use crate::metrics::bump;
use crate::read_path::ReadPath;
use crate::segment::file::SegmentFile;
use crate::version::VersionControl;

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
    /// Flushes the oldest immutable memtable; `Ok(false)` when there is none.
    pub fn flush_oldest(&self) -> Result<bool> {
        let env = self.env;
        let (mem, next_log) = {
            let st = self.coord.lock();
            let Some(mem) = st.imm.first().cloned() else {
                return Ok(false);
            };
            let next = st.imm.get(1).unwrap_or(&st.mem).wal_number();
            (mem, next)
        };
        let start = Instant::now();
        let (snapshots, expiry_cutoff) = env
            .snapshots
            .retention_view(crate::clock::now_ms(&*env.opts.clock));
        let files = write_memtable(
            &env.fs,
            &env.dir,
            &env.opts,
            self.versions.file_numbers(),
            &env.segments,
            &mem,
            snapshots,
            expiry_cutoff,
            &env.metrics,
        )?;
        let bytes: u64 = files.iter().map(|f| f.size()).sum();
        let added: Vec<(u32, Arc<SegmentFile>)> = files.iter().map(|f| (0, f.clone())).collect();
        let edit = VersionEdit {
            log_number: Some(next_log),
            added_segments: added.iter().map(|(l, f)| (*l, f.meta.clone())).collect(),
            ..VersionEdit::default()
        };
        let mut removed = None;
        self.versions.log_and_install(
            &env.poison,
            edit,
            &added,
            self.reads.visible_seq(),
            |version| {
                self.coord.install_version(self.reads, version, |st| {
                    debug_assert!(st.imm.first().is_some_and(|m| Arc::ptr_eq(m, &mem)));
                    removed = Some(st.imm.remove(0));
                    // Counted in the same step that makes the flush visible, so
                    // `stats()` right after `flush()` returns includes it.
                    bump(&env.metrics.flushes, 1);
                    bump(&env.metrics.bytes_flushed, bytes);
                });
            },
        )?;
        // Free the memtable (unless a reader still holds it) before waking waiters,
        // so that a caller of `flush` does not find this thread still tearing it
        // down while it goes on working.
        drop(removed);
        let (wal_number, entries) = (mem.wal_number(), mem.len());
        drop(mem);
        // The WAL goes before waiters wake, so that when `Db::flush` returns the
        // directory holds no WAL it made obsolete.
        let wal = filenames::wal_path(&env.dir, wal_number);
        if let Err(e) = env.fs.remove(&wal) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("could not remove flushed WAL {}: {e}", wal.display());
            }
        }
        self.coord.notify_done();
        self.coord.wake_compaction();
        log::info!(
            "flushed memtable of WAL {wal_number} ({entries} entries) to {} segment(s), {bytes} \
             bytes, in {:?}",
            files.len(),
            start.elapsed()
        );
        Ok(true)
    }

    /// Waits until every memtable frozen before the call (the one whose WAL is
    /// below the active memtable's) is flushed.
    pub fn wait_for_frozen(&self) -> Result<()> {
        let mut st = self.coord.lock();
        let target = st.mem.wal_number();
        loop {
            if st.imm.iter().all(|m| m.wal_number() >= target) {
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
