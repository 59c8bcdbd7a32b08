//! Running a compaction task.
//!
//! The inputs are merged in internal order through the same cursors reads use
//! (a large task in several key ranges side by side, `super::split` and
//! `super::range_merge`); the
//! [`Retention`] filter drops shadowed versions and dead tombstones, turns expired
//! values into tombstones and asks the compaction filter; outputs roll at
//! `segment_size`, only between user keys (`segment_builder`), so the output level
//! keeps its files disjoint by user key. Then one manifest edit deletes the inputs and
//! adds the outputs; once it is durable the new version is installed and the inputs
//! are marked obsolete: each file is deleted when its last reader lets go.
//!
//! Only one compaction runs at a time (one background thread, which may borrow
//! helper threads for the key ranges of its task), and flushes only add level-0
//! files, so the levels a task reads and writes cannot change under it.

use lsm_format::keyspace::DEFAULT_KEYSPACE;
use std::sync::Arc;
use std::time::Instant;

use lsm_format::manifest::{DeletedSegment, VersionEdit};
use lsm_format::range_del::Fragments;

use super::picker::Task;
use super::range_merge::{DeeperLevels, MergePlan};
use super::retention::{Retention, RetentionCounts};
use super::split;
use crate::engine::{Coordination, Env};
use crate::error::{Error, Result};
use crate::metrics::bump;
use crate::read_path::ReadPath;
use crate::segment::builder::{open_built_files, output_compression, BuiltFiles, OutputDepth};
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
        let deeper_files: Vec<Vec<Arc<SegmentFile>>> = version
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
            .collect();
        let depth = if deeper_files.iter().all(Vec::is_empty) {
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

        let tombstones = Fragments::merge(
            task.inputs
                .iter()
                .flat_map(|(_, files)| files.iter().map(|f| f.reader.range_tombstones())),
        );
        let range_tombstones_in = tombstones.tombstone_count();
        let now_ms = crate::clock::now_ms(&*env.opts.clock);
        let (snapshots, expiry_cutoff_ms) = env.snapshots.retention_view(now_ms);
        let deeper = DeeperLevels::new(&deeper_files);
        let kept_tombstones = Retention::for_compaction(snapshots.clone(), task.output_level)
            .with_range_tombstones(tombstones.clone())
            .kept_range_tombstones(|start, end| deeper.is_bottommost_range(start, end));
        let range_tombstones_out = kept_tombstones.tombstone_count();
        let count = split::range_count(
            input_bytes,
            opts.segment_size as u64,
            env.opts.max_subcompactions,
        );
        let ranges = split::split_inputs(task.inputs.iter().flat_map(|(_, f)| f), count);
        let plan = MergePlan {
            env,
            task,
            keyspace,
            version: &version,
            opts: &opts,
            depth,
            deeper: &deeper_files,
            tombstones: &tombstones,
            kept_tombstones: &kept_tombstones,
            snapshots: &snapshots,
            expiry_cutoff_ms,
            now_ms,
            collect: &super::blob_gc::collectable(&version, opts.blob_gc_ratio),
            file_numbers: self.versions.file_numbers(),
        };
        let merged = plan.merge_all(&ranges)?;
        let mut built = BuiltFiles::default();
        let (mut entries, mut relocated) = (0u64, 0u64);
        let mut done = RetentionCounts::default();
        for range in merged {
            // Ranges in key order: their segments are too.
            built.segments.extend(range.built.segments);
            built.blobs.extend(range.built.blobs);
            entries += range.entries;
            relocated += range.relocated;
            done.add(&range.retention.counts);
        }
        let outputs = open_built_files(&env.fs, &env.dir, &env.segments, built)?;
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
        bump(
            &env.metrics.compaction_micros,
            u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
        );
        if ranges.len() > 1 {
            bump(&env.metrics.subcompactions, ranges.len() as u64);
        }
        done.count(&env.metrics);
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
             {range_tombstones_out} out; {} key range(s)) in {:?}",
            task.input_count(),
            task.inputs
                .iter()
                .filter(|(_, f)| !f.is_empty())
                .map(|(l, _)| *l)
                .collect::<Vec<_>>(),
            outputs.segments.len(),
            done.dropped,
            done.zeroed,
            done.dropped_by_range,
            done.expired,
            done.filter_removed,
            done.filter_changed,
            ranges.len(),
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
