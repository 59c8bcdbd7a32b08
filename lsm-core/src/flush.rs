//! Flush: writing the oldest immutable memtable out as level-0 segments.
//!
//! Steps and why they are ordered so:
//! 1. write the segments (temp name, fsync, rename, directory fsync:
//!    `segment_builder`), keeping per key only what a live snapshot can read;
//! 2. log a manifest edit adding them, with `log_number` = the WAL of the next
//!    memtable (this memtable's WAL is no longer needed) — durable before step 4;
//! 3. install the new version and drop the memtable from the super version in one
//!    step, so readers find its data in exactly one place;
//! 4. delete the memtable's WAL file.
//!
//! A crash before step 2 completes leaves orphan segments (deleted at open) and the
//! WAL (replayed at open); after it, the WAL is below `log_number` and ignored.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lsm_format::manifest::VersionEdit;

use crate::compaction::retention::Retention;
use crate::error::{Error, PoisonedBy, Result};
use crate::filenames;
use crate::inner::DbInner;
use crate::memtable::MemTable;
use crate::metrics::bump;
use crate::segment_builder::SegmentBuilder;
use crate::segment_file::{SegmentContext, SegmentFile};
use crate::version::VersionSet;

/// Writes `mem` as level-0 segments (no tombstone is dropped: older data may lie
/// below) and opens them. `snapshots` are the live snapshot sequence numbers.
pub(crate) fn write_memtable(
    inner_fs: &crate::fs::FsRef,
    dir: &std::path::Path,
    opts: &crate::options::Options,
    next_file: &std::sync::atomic::AtomicU64,
    ctx: &SegmentContext,
    mem: &MemTable,
    snapshots: Vec<u64>,
) -> Result<Vec<Arc<SegmentFile>>> {
    let mut retention = Retention::new(snapshots);
    let mut builder = SegmentBuilder::new(inner_fs, dir, opts, 0, next_file);
    for e in mem.iter() {
        if let Some(seq) = retention.keep(e.key, e.seq, e.kind, |_| false) {
            builder.add(e.key, seq, e.kind, e.value)?;
        }
    }
    let metas = builder.finish()?;
    open_outputs(inner_fs, dir, ctx, metas)
}

/// Opens freshly written segments; on failure removes them all (none is referenced).
pub(crate) fn open_outputs(
    fs: &crate::fs::FsRef,
    dir: &std::path::Path,
    ctx: &SegmentContext,
    metas: Vec<lsm_format::manifest::SegmentMeta>,
) -> Result<Vec<Arc<SegmentFile>>> {
    let numbers: Vec<u64> = metas.iter().map(|m| m.file_number).collect();
    let mut files = Vec::with_capacity(metas.len());
    for meta in metas {
        match SegmentFile::open(fs, dir, meta, ctx) {
            Ok(f) => files.push(f),
            Err(e) => {
                for n in numbers {
                    let _ = fs.remove(&filenames::segment_path(dir, n));
                }
                return Err(e);
            }
        }
    }
    Ok(files)
}

impl DbInner {
    /// Logs `edit` (whose added segments are `added`, all at `level`) and installs
    /// the resulting version; `after` adjusts the state in the same step. On failure
    /// the database is poisoned and the outputs are left on disk (the next open
    /// either finds them in the manifest or removes them as orphans).
    pub(crate) fn log_and_install(
        &self,
        edit: VersionEdit,
        added: &[(u32, Arc<SegmentFile>)],
        after: impl FnOnce(&mut crate::inner::State),
    ) -> Result<()> {
        let mut versions = self.versions.lock();
        // After a failed manifest append (which poisons under this lock) the file's
        // tail is unknown, maybe a torn record: an edit appended behind it would be
        // a valid record after damage, which open refuses as corruption.
        self.poison.check()?;
        let logged = VersionSet::log_and_apply(
            &mut versions,
            edit,
            added,
            self.next_file.load(Ordering::SeqCst),
            self.visible_seq.load(Ordering::Acquire),
        );
        let version = match logged {
            Ok(v) => v,
            Err(e) => {
                // The outputs stay on disk: the edit may have reached the manifest
                // before the failure (a failed commit marker, or a failed fsync of
                // bytes that were written), and then the next open replays it and
                // needs them. If it did not, they are orphans that open removes.
                return Err(self.poison.poison(
                    PoisonedBy::ManifestWrite,
                    "manifest write failed",
                    e,
                ));
            }
        };
        let mut st = self.state.lock();
        st.version = version;
        after(&mut st);
        self.publish(&st);
        Ok(())
    }

    /// Flushes the oldest immutable memtable; `Ok(false)` when there is none.
    pub fn flush_oldest(&self) -> Result<bool> {
        let (mem, next_log) = {
            let st = self.state.lock();
            let Some(mem) = st.imm.first().cloned() else {
                return Ok(false);
            };
            let next = st.imm.get(1).unwrap_or(&st.mem).wal_number();
            (mem, next)
        };
        let start = Instant::now();
        let files = write_memtable(
            &self.fs,
            &self.dir,
            &self.opts,
            &self.next_file,
            &self.segments,
            &mem,
            self.snapshots.sequences(),
        )?;
        let bytes: u64 = files.iter().map(|f| f.size()).sum();
        let added: Vec<(u32, Arc<SegmentFile>)> = files.iter().map(|f| (0, f.clone())).collect();
        let edit = VersionEdit {
            log_number: Some(next_log),
            added_segments: added.iter().map(|(l, f)| (*l, f.meta.clone())).collect(),
            ..VersionEdit::default()
        };
        let mut removed = None;
        self.log_and_install(edit, &added, |st| {
            debug_assert!(st.imm.first().is_some_and(|m| Arc::ptr_eq(m, &mem)));
            removed = Some(st.imm.remove(0));
            // Counted in the same step that makes the flush visible, so `stats()`
            // right after `flush()` returns includes it.
            bump(&self.metrics.flushes, 1);
            bump(&self.metrics.bytes_flushed, bytes);
        })?;
        // Free the memtable (unless a reader still holds it) before waking waiters,
        // so that a caller of `flush` does not find this thread still tearing it
        // down while it goes on working.
        drop(removed);
        let (wal_number, entries) = (mem.wal_number(), mem.len());
        drop(mem);
        // The WAL goes before waiters wake, so that when `Db::flush` returns the
        // directory holds no WAL it made obsolete.
        let wal = filenames::wal_path(&self.dir, wal_number);
        if let Err(e) = self.fs.remove(&wal) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("could not remove flushed WAL {}: {e}", wal.display());
            }
        }
        self.done_cv.notify_all();
        self.compact_cv.notify_one();
        log::info!(
            "flushed memtable of WAL {wal_number} ({entries} entries) to {} segment(s), {bytes} \
             bytes, in {:?}",
            files.len(),
            start.elapsed()
        );
        Ok(true)
    }

    /// Freezes the active memtable (if it holds anything) and waits until every
    /// memtable frozen so far is flushed.
    pub fn flush(&self) -> Result<()> {
        self.write(crate::WriteBatch::new(), true)?;
        let mut st = self.state.lock();
        let target = st.mem.wal_number();
        loop {
            if st.imm.iter().all(|m| m.wal_number() >= target) {
                return Ok(());
            }
            self.poison.check()?;
            if st.shutdown {
                return Err(Error::Closed);
            }
            self.flush_cv.notify_one();
            self.done_cv.wait_for(&mut st, Duration::from_millis(100));
        }
    }
}
