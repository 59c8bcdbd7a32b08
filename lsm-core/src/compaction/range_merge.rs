//! The merge of one key range of a compaction, and the ranges of one compaction
//! merged side by side on their own threads (subcompactions, `super::split`).
//!
//! A range reads its inputs through its own cursors, positioned at its start and
//! stopped at its end; it has its own [`Retention`] (whose state is per user key,
//! and a range never splits a key), its own view of the deeper levels, and its own
//! [`SegmentBuilder`] with its own blob files, given the part of the compaction's
//! kept range tombstones inside the range. So a range writes exactly the entries
//! and tombstones the whole compaction would write for its keys; only the files are
//! cut differently, at the range limits too.
//!
//! Failure: a range that fails (or sees shutdown) raises a flag the others check
//! with shutdown, so they stop early; the job then fails as a whole. A failing
//! range's builder removes its own files as it is dropped, and the files the other
//! ranges finished are removed here: nothing of a failed job stays on disk (a
//! crash meanwhile leaves files no manifest lists, which open removes).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use lsm_format::keyspace::KeyspaceId;
use lsm_format::range_del::Fragments;
use lsm_format::{EntryKind, MAX_SEQUENCE};

use super::picker::Task;
use super::retention::Retention;
use super::split::KeyRange;
use crate::engine::Env;
use crate::error::{Error, Result};
use crate::filenames;
use crate::options::Options;
use crate::read_path::iter::{Cursor, LevelCursor, MergeCursor, SegmentCursor};
use crate::segment::builder::{BuiltFiles, OutputDepth, SegmentBuilder};
use crate::segment::file::SegmentFile;
use crate::version::Version;

/// Entries between checks for shutdown (and for another range's failure).
const CANCEL_CHECK_EVERY: u64 = 4096;

/// Answers "does any level below the output hold this key?" for keys asked in
/// ascending order, with one forward-moving position per level.
pub(crate) struct DeeperLevels<'a> {
    levels: &'a [Vec<Arc<SegmentFile>>],
    positions: Vec<usize>,
}

impl<'a> DeeperLevels<'a> {
    pub fn new(levels: &'a [Vec<Arc<SegmentFile>>]) -> Self {
        let positions = vec![0; levels.len()];
        DeeperLevels { levels, positions }
    }

    /// True when no deeper level holds a file that may hold a key of
    /// `[start, end)`.
    pub fn is_bottommost_range(&self, start: &[u8], end: &[u8]) -> bool {
        self.levels.iter().all(|files| {
            let i = files.partition_point(|f| f.largest() < start);
            files.get(i).is_none_or(|f| f.smallest() >= end)
        })
    }

    pub fn is_bottommost(&mut self, key: &[u8]) -> bool {
        for (files, pos) in self.levels.iter().zip(self.positions.iter_mut()) {
            while files.get(*pos).is_some_and(|f| f.largest() < key) {
                *pos += 1;
            }
            if files.get(*pos).is_some_and(|f| f.smallest() <= key) {
                return false;
            }
        }
        true
    }
}

/// What every range of one compaction shares.
pub(crate) struct MergePlan<'a> {
    pub env: &'a Env,
    pub task: &'a Task<Arc<SegmentFile>>,
    pub keyspace: KeyspaceId,
    /// The version the task was picked from (blob files to resolve).
    pub version: &'a Version,
    /// The keyspace's options (the outputs' settings, the compaction filter).
    pub opts: &'a Options,
    /// Whether the outputs are the bottom of the tree (their compression).
    pub depth: OutputDepth,
    /// The files of each level below the output that are not inputs.
    pub deeper: &'a [Vec<Arc<SegmentFile>>],
    /// Every range tombstone of the inputs.
    pub tombstones: &'a Fragments,
    /// The range tombstones the outputs get.
    pub kept_tombstones: &'a Fragments,
    pub snapshots: &'a [u64],
    pub expiry_cutoff_ms: u64,
    pub now_ms: u64,
    /// Blob files whose live values are written anew.
    pub collect: &'a BTreeSet<u64>,
    /// The database's file number allocator.
    pub file_numbers: &'a AtomicU64,
}

/// What one range wrote and did.
pub(crate) struct RangeOutput {
    pub built: BuiltFiles,
    /// Its filter, with the counts of what it dropped and changed.
    pub retention: Retention,
    /// Entries read.
    pub entries: u64,
    /// Values moved out of collected blob files.
    pub relocated: u64,
}

impl MergePlan<'_> {
    /// Merges every range, each but the first on a thread of its own (a range
    /// whose thread cannot be started runs on this one); the outputs in range
    /// order, which is key order.
    ///
    /// # Errors
    /// The first failure of a range, other than the stop it caused in the others
    /// (`Closed` when shutdown interrupted them); nothing written stays then.
    pub fn merge_all(&self, ranges: &[KeyRange]) -> Result<Vec<RangeOutput>> {
        let failed = AtomicBool::new(false);
        let run = |range: &KeyRange| {
            let r = self.merge_range(range, &failed);
            if r.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            r
        };
        let results: Vec<Result<RangeOutput>> = std::thread::scope(|s| {
            let mut spawned = Vec::with_capacity(ranges.len());
            for range in ranges.iter().skip(1) {
                let thread = std::thread::Builder::new()
                    .name("lsm-subcompaction".into())
                    .spawn_scoped(s, || run(range));
                if let Err(e) = &thread {
                    log::warn!("cannot start a subcompaction thread ({e}): merging inline");
                }
                spawned.push((range, thread.ok()));
            }
            let mut results = Vec::with_capacity(ranges.len());
            if let Some(first) = ranges.first() {
                results.push(run(first));
            }
            for (range, thread) in spawned {
                results.push(match thread {
                    Some(t) => t
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    None => run(range),
                });
            }
            results
        });
        // The error to report: a range's own, not the stop it caused in others.
        let mut outputs = Vec::with_capacity(results.len());
        let mut error: Option<Error> = None;
        for r in results {
            match r {
                Ok(out) => outputs.push(out),
                Err(e) => {
                    let stop_only = matches!(error, Some(Error::Closed));
                    if error.is_none() || (stop_only && !matches!(e, Error::Closed)) {
                        error = Some(e);
                    }
                }
            }
        }
        match error {
            None => Ok(outputs),
            Some(e) => {
                for out in &outputs {
                    self.remove(&out.built);
                }
                Err(e)
            }
        }
    }

    /// Removes the durable files of a range whose job failed: no manifest lists
    /// them.
    fn remove(&self, built: &BuiltFiles) {
        let (fs, dir) = (&self.env.fs, &self.env.dir);
        for m in &built.segments {
            let _ = fs.remove(&filenames::segment_path(dir, m.file_number));
        }
        for m in &built.blobs {
            let _ = fs.remove(&crate::blob::output::blob_path(dir, m.file_number));
        }
    }

    /// The input cursors of `range`, positioned at its first entry.
    fn cursor(&self, range: &KeyRange) -> Result<MergeCursor> {
        // The inputs are read once, start to end: their blocks stay out of the
        // block cache, where they would evict the blocks reads keep hitting, and
        // their mapped pages leave the resident set behind the cursors.
        let mut children: Vec<Box<dyn Cursor>> = Vec::new();
        for (level, files) in &self.task.inputs {
            let files = files
                .iter()
                .filter(|f| range.meets(f.smallest(), f.largest()));
            if *level == 0 {
                // Newest first, as the version keeps them.
                for f in files {
                    children.push(Box::new(SegmentCursor::for_compaction(f.clone())));
                }
            } else {
                let files: Vec<_> = files.cloned().collect();
                if !files.is_empty() {
                    children.push(Box::new(LevelCursor::for_compaction(files)));
                }
            }
        }
        let mut input = MergeCursor::new(children);
        match &range.lo {
            Some(lo) => input.seek(lo, MAX_SEQUENCE)?,
            None => input.seek_to_first()?,
        }
        Ok(input)
    }

    /// Merges the inputs' entries of `range` into new files. Gives up with
    /// `Closed` at shutdown or when `failed` says another range failed.
    fn merge_range(&self, range: &KeyRange, failed: &AtomicBool) -> Result<RangeOutput> {
        let (env, opts, task) = (self.env, self.opts, self.task);
        let mut input = self.cursor(range)?;
        let (lo, hi) = (range.lo.as_deref(), range.hi.as_deref());
        let mut retention = Retention::for_compaction(self.snapshots.to_vec(), task.output_level)
            .with_range_tombstones(self.tombstones.clipped(lo, hi))
            .with_expiry_cutoff(self.expiry_cutoff_ms)
            .with_filter(
                opts.compaction_filter.clone(),
                task.output_level,
                self.now_ms,
            );
        let mut deeper = DeeperLevels::new(self.deeper);
        let mut builder = SegmentBuilder::new(
            &env.fs,
            &env.dir,
            opts,
            task.output_level,
            self.file_numbers,
        );
        builder.set_keyspace(self.keyspace);
        builder.set_output_depth(opts, self.depth);
        builder.set_blob_threshold(opts.blob_threshold);
        builder.set_range_tombstones(self.kept_tombstones.clipped(lo, hi));
        // Whether the filter must see values behind pointers.
        let filtered = opts.compaction_filter.is_some();
        let mut relocated = 0u64;
        let mut entries = 0u64;
        while input.valid() && !range.is_past(input.key()) {
            let (key, seq, mut kind) = (input.key(), input.seq(), input.kind());
            let mut value = input.value();
            // The pointer of a value read only to show it to the filter.
            let mut shown_pointer = None;
            if kind == EntryKind::BlobPointer {
                let into = crate::blob::file::decode_pointer(key, &value)?.file_number;
                let collected = self.collect.contains(&into);
                if filtered || collected {
                    let resolved = self.version.resolve_blob_once(key, &value)?;
                    let pointer = std::mem::replace(&mut value, resolved);
                    kind = EntryKind::Put;
                    if collected {
                        // The value itself goes on: the builder writes it to a
                        // new blob file (or inline, under a threshold turned off).
                        relocated += 1;
                    } else {
                        shown_pointer = Some(pointer);
                    }
                }
            }
            if let Some(kept) = retention.keep(key, seq, kind, &value, |k| deeper.is_bottommost(k))
            {
                match (&shown_pointer, &kept.value, kept.kind) {
                    // The filter kept the value as it is: so does its blob file.
                    (Some(pointer), None, EntryKind::Put) => {
                        builder.add(key, kept.seq, EntryKind::BlobPointer, pointer)?;
                    }
                    _ => {
                        let value = kept.value.as_deref().unwrap_or(&value);
                        builder.add(key, kept.seq, kept.kind, value)?;
                    }
                }
            }
            input.next()?;
            entries += 1;
            if entries.is_multiple_of(CANCEL_CHECK_EVERY)
                && (env.stopping.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed))
            {
                return Err(Error::Closed);
            }
        }
        Ok(RangeOutput {
            built: builder.finish_with_blobs()?,
            retention,
            entries,
            relocated,
        })
    }
}
