//! Blob file garbage collection when the tree needs no other compaction.
//!
//! Compactions rewrite the live values of a blob file that is at least
//! `Options::blob_gc_ratio` garbage whenever they meet pointers into it
//! (`executor.rs`). The pointers left in segments no compaction reaches (the
//! deepest level of a tree that stopped growing) would keep such a file, and its
//! garbage, for ever: when nothing else is to do, the background thread rewrites
//! in place one segment of a level >= 1 that points into such a file, the one with
//! the most bytes in collectable files. Each rewrite leaves the segment with no
//! pointer into a collectable file (the executor relocates them all), so the
//! picks end; the blob file is deleted with its last pointer.
//!
//! Level 0 is left alone: a rewritten level-0 file could take the place of a newer
//! one in level 0's newest-first order, and level 0 is compacted soon anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::picker::Task;
use crate::segment::file::SegmentFile;
use crate::version::Version;

/// The blob files of `version` at least `ratio` of whose value bytes no segment
/// of it points to.
pub(crate) fn collectable(version: &Version, ratio: f64) -> BTreeSet<u64> {
    if version.blobs().is_empty() {
        return BTreeSet::new();
    }
    let mut live: BTreeMap<u64, u64> = BTreeMap::new();
    for f in version.levels().iter().flatten() {
        for r in &f.meta.blob_refs {
            *live.entry(r.blob_file).or_default() += r.value_bytes;
        }
    }
    version
        .blobs()
        .values()
        .filter(|b| {
            let total = b.meta.value_bytes;
            let garbage = total.saturating_sub(live.get(&b.number()).copied().unwrap_or(0));
            total > 0 && garbage as f64 >= ratio * total as f64
        })
        .map(|b| b.number())
        .collect()
}

/// A rewrite in place of the segment (level >= 1) with the most value bytes in
/// collectable blob files, if one points into any.
pub(crate) fn pick_blob_gc(version: &Version, ratio: f64) -> Option<Task<Arc<SegmentFile>>> {
    let collect = collectable(version, ratio);
    if collect.is_empty() {
        return None;
    }
    let (level, file, _) = (1..)
        .zip(version.levels().iter().skip(1))
        .flat_map(|(level, files)| files.iter().map(move |f| (level, f)))
        .map(|(level, f)| {
            let bytes: u64 = (f.meta.blob_refs.iter())
                .filter(|r| collect.contains(&r.blob_file))
                .map(|r| r.value_bytes)
                .sum();
            (level, f, bytes)
        })
        .filter(|&(_, _, bytes)| bytes > 0)
        .max_by_key(|&(level, _, bytes)| (bytes, level))?;
    Some(Task {
        inputs: vec![(level, vec![Arc::clone(file)])],
        output_level: level,
        trivial_move: false,
        manual: false,
    })
}
