//! Running a compaction task.
//!
//! The inputs are merged in internal order through the same cursors reads use; the
//! [`Retention`] filter drops shadowed versions and dead tombstones, turns expired
//! values into tombstones and asks the compaction filter; outputs roll at
//! `segment_size`, only between user keys (`segment_builder`), so the output level
//! keeps its files disjoint by user key. Then one manifest edit deletes the inputs and
//! adds the outputs; once it is durable the new version is installed and the inputs
//! are marked obsolete: each file is deleted when its last reader lets go.
//!
//! Only one compaction runs at a time (one thread), and flushes only add level-0
//! files, so the levels a task reads and writes cannot change under it.

use lsm_format::keyspace::DEFAULT_KEYSPACE;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use lsm_format::manifest::{DeletedSegment, VersionEdit};
use lsm_format::range_del::Fragments;
use lsm_format::EntryKind;

use super::picker::Task;
use super::retention::Retention;
use crate::engine::{Coordination, Env};
use crate::error::{Error, Result};
use crate::metrics::bump;
use crate::read_path::iter::{Cursor, LevelCursor, MergeCursor, SegmentCursor};
use crate::read_path::ReadPath;
use crate::segment::builder::{open_built_files, output_compression, OutputDepth, SegmentBuilder};
use crate::segment::file::SegmentFile;
use crate::version::VersionControl;

/// The subsystems a compaction touches.
pub(crate) struct CompactionJob<'a> {
    pub env: &'a Env,
    /// The current version (levels below the output).
    pub coord: &'a Coordination,
    /// Where the new version is published.
    pub reads: &'a ReadPath,
    /// The manifest edit, file numbers.
    pub versions: &'a VersionControl,
}

/// Answers "does any level below the output hold this key?" for keys asked in
/// ascending order, with one forward-moving position per level.
struct DeeperLevels {
    levels: Vec<Vec<Arc<SegmentFile>>>,
    positions: Vec<usize>,
}

impl DeeperLevels {
    fn new(levels: Vec<Vec<Arc<SegmentFile>>>) -> Self {
        let positions = vec![0; levels.len()];
        DeeperLevels { levels, positions }
    }

    /// True when no deeper level holds a file that may hold a key of
    /// `[start, end)`.
    fn is_bottommost_range(&self, start: &[u8], end: &[u8]) -> bool {
        self.levels.iter().all(|files| {
            let i = files.partition_point(|f| f.largest() < start);
            files.get(i).is_none_or(|f| f.smallest() >= end)
        })
    }

    fn is_bottommost(&mut self, key: &[u8]) -> bool {
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

/// Entries between checks for shutdown.
const CANCEL_CHECK_EVERY: u64 = 4096;

impl CompactionJob<'_> {
    /// Runs `task` to completion: outputs written, edit durable, version installed.
    ///
    /// # Errors
    /// `Io` / `Corruption` from reading or writing (the caller poisons the
    /// database), `Closed` when shutdown interrupted it (nothing changed).
    pub fn run(&self, task: &Task<Arc<SegmentFile>>) -> Result<()> {
        let env = self.env;
        let start = Instant::now();
        let out_level = task.output_level as u32;
        // Every input is of one keyspace: the picker works on one tree.
        let keyspace = task
            .inputs
            .iter()
            .flat_map(|(_, files)| files.first())
            .map(|f| f.meta.keyspace)
            .next()
            .unwrap_or(DEFAULT_KEYSPACE);
        let deleted: Vec<DeletedSegment> = task
            .inputs
            .iter()
            .flat_map(|(level, files)| {
                files.iter().map(move |f| DeletedSegment {
                    keyspace: f.meta.keyspace,
                    level: *level as u32,
                    file_number: f.number(),
                })
            })
            .collect();
        let input_bytes = task.input_bytes();
        let tree = self
            .coord
            .lock()
            .tree(keyspace)
            .map(|t| (t.version.clone(), t.opts.clone()));
        let Some((version, opts)) = tree else {
            // The keyspace was dropped meanwhile, its files with it.
            return Err(Error::KeyspaceDropped {
                name: format!("#{keyspace}"),
            });
        };
        // Files below the output level that are not themselves inputs (a manual
        // compaction into a shallower level takes the deeper levels as inputs).
        let input_numbers: std::collections::HashSet<u64> = task
            .inputs
            .iter()
            .flat_map(|(_, files)| files.iter().map(|f| f.number()))
            .collect();
        let mut deeper = DeeperLevels::new(
            version
                .levels()
                .iter()
                .skip(task.output_level + 1)
                .map(|files| {
                    files
                        .iter()
                        .filter(|f| !input_numbers.contains(&f.number()))
                        .cloned()
                        .collect()
                })
                .collect(),
        );
        let depth = if deeper.levels.iter().all(Vec::is_empty) {
            OutputDepth::Bottom
        } else {
            OutputDepth::AboveDeeperFiles
        };
        // A move keeps the file's bytes: only when they are already compressed as
        // the output level wants (RocksDB's rule too), so that the bottom level takes
        // `bottommost_compression` although its first files arrive by moves.
        let compression = output_compression(&opts, depth) as u8;
        let same_compression = task
            .inputs
            .iter()
            .flat_map(|(_, files)| files.iter())
            .all(|f| f.reader.properties().compression == compression);
        if task.trivial_move && same_compression {
            let added: Vec<(u32, Arc<SegmentFile>)> = task
                .inputs
                .iter()
                .flat_map(|(_, files)| files.iter().map(|f| (out_level, f.clone())))
                .collect();
            let edit = VersionEdit {
                deleted_segments: deleted,
                added_segments: added.iter().map(|(l, f)| (*l, f.meta.clone())).collect(),
                ..VersionEdit::default()
            };
            self.install(edit, &added, &[])?;
            log::info!(
                "moved {} segment(s) ({input_bytes} bytes) to level {out_level}",
                added.len()
            );
            return Ok(());
        }

        // The inputs are read once, start to end: their blocks stay out of the
        // block cache, where they would evict the blocks reads keep hitting, and
        // their mapped pages leave the resident set behind the cursors.
        let mut children: Vec<Box<dyn Cursor>> = Vec::new();
        for (level, files) in &task.inputs {
            if *level == 0 {
                // Newest first, as the version keeps them.
                for f in files {
                    children.push(Box::new(SegmentCursor::for_compaction(f.clone())));
                }
            } else if !files.is_empty() {
                children.push(Box::new(LevelCursor::for_compaction(files.clone())));
            }
        }
        let mut input = MergeCursor::new(children);
        input.seek_to_first()?;

        let tombstones = Fragments::merge(
            task.inputs
                .iter()
                .flat_map(|(_, files)| files.iter().map(|f| f.reader.range_tombstones())),
        );
        let range_tombstones_in = tombstones.tombstone_count();
        let now_ms = crate::clock::now_ms(&*env.opts.clock);
        let (snapshots, expiry_cutoff) = env.snapshots.retention_view(now_ms);
        let mut retention = Retention::for_compaction(snapshots, task.output_level)
            .with_range_tombstones(tombstones)
            .with_expiry_cutoff(expiry_cutoff)
            .with_filter(opts.compaction_filter.clone(), task.output_level, now_ms);
        let kept_tombstones =
            retention.kept_range_tombstones(|start, end| deeper.is_bottommost_range(start, end));
        let range_tombstones_out = kept_tombstones.tombstone_count();
        let mut builder = SegmentBuilder::new(
            &env.fs,
            &env.dir,
            &opts,
            task.output_level,
            self.versions.file_numbers(),
        );
        builder.set_keyspace(keyspace);
        builder.set_output_depth(&opts, depth);
        builder.set_blob_threshold(opts.blob_threshold);
        builder.set_range_tombstones(kept_tombstones);
        // Blob files whose live values this compaction writes anew (garbage
        // collection), and whether the filter must see values behind pointers.
        let collect = super::blob_gc::collectable(&version, env.opts.blob_gc_ratio);
        let filtered = opts.compaction_filter.is_some();
        let mut relocated = 0u64;
        let mut entries = 0u64;
        while input.valid() {
            let (key, seq, mut kind) = (input.key(), input.seq(), input.kind());
            let mut value = input.value();
            if kind == EntryKind::BlobPointer {
                let into = crate::blob::file::decode_pointer(key, &value)?.file_number;
                if filtered || collect.contains(&into) {
                    // The value itself goes on: the builder writes it to a new
                    // blob file (or inline, under a threshold turned off).
                    value = version.resolve_blob_once(key, &value)?;
                    kind = EntryKind::Put;
                    relocated += 1;
                }
            }
            if let Some(kept) = retention.keep(key, seq, kind, &value, |k| deeper.is_bottommost(k))
            {
                let value = kept.value.as_deref().unwrap_or(&value);
                builder.add(key, kept.seq, kept.kind, value)?;
            }
            input.next()?;
            entries += 1;
            if entries.is_multiple_of(CANCEL_CHECK_EVERY) && env.stopping.load(Ordering::Relaxed) {
                return Err(Error::Closed);
            }
        }
        let outputs = open_built_files(
            &env.fs,
            &env.dir,
            &env.segments,
            builder.finish_with_blobs()?,
        )?;
        let output_bytes = outputs.bytes();
        let added: Vec<(u32, Arc<SegmentFile>)> = outputs
            .segments
            .iter()
            .map(|f| (out_level, f.clone()))
            .collect();
        let edit = VersionEdit {
            deleted_segments: deleted,
            added_segments: added.iter().map(|(l, f)| (*l, f.meta.clone())).collect(),
            added_blob_files: outputs.blob_metas(),
            ..VersionEdit::default()
        };
        if let Err(e) = self.install(edit, &added, &outputs.blobs) {
            if matches!(e, Error::KeyspaceDropped { .. }) {
                // Never recorded: the outputs of a keyspace dropped meanwhile.
                outputs.mark_obsolete();
            }
            return Err(e);
        }
        bump(&env.metrics.blob_values_relocated, relocated);
        for (_, files) in &task.inputs {
            for f in files {
                f.mark_obsolete();
            }
        }
        bump(&env.metrics.compactions, 1);
        retention.count(&env.metrics);
        bump(&env.metrics.range_tombstones_written, range_tombstones_out);
        bump(
            &env.metrics.range_tombstones_dropped,
            range_tombstones_in.saturating_sub(range_tombstones_out),
        );
        bump(
            &env.metrics.bytes_reclaimed,
            input_bytes.saturating_sub(output_bytes),
        );
        bump(&env.metrics.bytes_compacted_read, input_bytes);
        bump(&env.metrics.bytes_compacted_written, output_bytes);
        log::info!(
            "compacted {} segment(s) ({input_bytes} bytes, levels {:?}) into {} segment(s) at \
             level {out_level} ({output_bytes} bytes, {} of {entries} entries dropped, {} \
             renumbered to sequence 0, {} under range tombstones, {} expired, {} removed and {} \
             changed by the compaction filter; {range_tombstones_in} range tombstone(s) in, \
             {range_tombstones_out} out) in {:?}",
            task.input_count(),
            task.inputs
                .iter()
                .filter(|(_, f)| !f.is_empty())
                .map(|(l, _)| *l)
                .collect::<Vec<_>>(),
            outputs.segments.len(),
            retention.dropped,
            retention.zeroed,
            retention.dropped_by_range,
            retention.expired,
            retention.filter_removed,
            retention.filter_changed,
            start.elapsed()
        );
        Ok(())
    }

    /// Logs `edit` and installs the version it makes.
    fn install(
        &self,
        edit: VersionEdit,
        added: &[(u32, Arc<SegmentFile>)],
        added_blobs: &[Arc<crate::blob::BlobFile>],
    ) -> Result<()> {
        self.versions.log_and_install(
            &self.env.poison,
            edit,
            added,
            added_blobs,
            self.reads.visible_seq(),
            |versions| self.coord.install_version(self.reads, versions, |_| {}),
        )
    }
}
