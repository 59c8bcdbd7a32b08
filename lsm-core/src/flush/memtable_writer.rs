//! Writing one memtable as level-0 segments: the flush job's output step, also used
//! by open to write out what it replayed from the WALs.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use crate::compaction::retention::Retention;
use crate::error::Result;
use crate::fs::FsRef;
use crate::memtable::MemTable;
use crate::metrics::{bump, Metrics};
use crate::options::Options;
use crate::segment::builder::{open_built_files, OpenedFiles, SegmentBuilder};
use crate::segment::file::SegmentContext;

/// Writes `mem` as level-0 segments, the values of puts at or above `opts`'s blob
/// threshold in blob files beside them (no tombstone is dropped: older data may lie
/// below; versions a range tombstone of `mem` covers may be) and opens them.
/// `snapshots` are the live snapshot sequence numbers: per key only what one of
/// them (or the newest read) can see is kept. Expiring puts expired at
/// `expiry_cutoff_ms` are written as tombstones. What was dropped or expired is
/// counted in `metrics`.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of the engine a flush writes with, each needed once"
)]
pub(crate) fn write_memtable(
    fs: &FsRef,
    dir: &Path,
    opts: &Options,
    next_file: &AtomicU64,
    ctx: &SegmentContext,
    mem: &MemTable,
    keyspace: lsm_format::keyspace::KeyspaceId,
    snapshots: Vec<u64>,
    expiry_cutoff_ms: u64,
    metrics: &Metrics,
) -> Result<OpenedFiles> {
    let tombstones = mem
        .range_tombstones()
        .map(|t| (*t).clone())
        .unwrap_or_default();
    let mut retention = Retention::new(snapshots)
        .with_range_tombstones(tombstones)
        .with_expiry_cutoff(expiry_cutoff_ms);
    let mut builder = SegmentBuilder::new(fs, dir, opts, 0, next_file);
    builder.set_keyspace(keyspace);
    builder.set_blob_threshold(opts.blob_threshold);
    // Level 0: deeper levels may hold what a tombstone covers, so every one stays.
    let kept_tombstones = retention.kept_range_tombstones(|_, _| false);
    let range_tombstones = kept_tombstones.tombstone_count();
    builder.set_range_tombstones(kept_tombstones);
    for e in mem.iter() {
        if let Some(kept) = retention.keep(e.key, e.seq, e.kind, e.value, |_| false) {
            let value = kept.value.as_deref().unwrap_or(e.value);
            builder.add(e.key, kept.seq, kept.kind, value)?;
        }
    }
    let files = open_built_files(fs, dir, ctx, builder.finish_with_blobs()?)?;
    retention.count(metrics);
    bump(&metrics.range_tombstones_written, range_tombstones);
    Ok(files)
}
