//! Building the next [`Version`] from the current one and a manifest edit.
//!
//! The edit's own bytes are applied to the manifest's mirror state by
//! [`super::set::VersionSet`]; here the same change is applied to the open files:
//! deletions first, then additions (a file may be deleted from one level and added
//! to another: a trivial move), then each level is put back in its order.

use std::sync::Arc;

use super::Version;
use crate::blob::BlobFile;
use crate::segment::file::SegmentFile;

impl Version {
    /// A new version: `self` without `deleted` `(level, file number)` pairs, plus
    /// `added` files, without blob files `deleted_blobs` and with `added_blobs`.
    pub fn apply(
        &self,
        deleted: &[(u32, u64)],
        added: &[(u32, Arc<SegmentFile>)],
        deleted_blobs: &[u64],
        added_blobs: &[Arc<BlobFile>],
    ) -> Version {
        let mut next = self.clone();
        if !deleted_blobs.is_empty() || !added_blobs.is_empty() {
            let mut blobs = (*next.blobs).clone();
            for n in deleted_blobs {
                blobs.remove(n);
            }
            for b in added_blobs {
                blobs.insert(b.number(), Arc::clone(b));
            }
            next.blobs = Arc::new(blobs);
        }
        for &(level, number) in deleted {
            if let Some(files) = next.levels.get_mut(level as usize) {
                let before = files.len();
                files.retain(|f| f.number() != number);
                debug_assert_eq!(
                    files.len() + 1,
                    before,
                    "deleted file {number} not in L{level}"
                );
            }
        }
        for (level, file) in added {
            if let Some(files) = next.levels.get_mut(*level as usize) {
                files.push(file.clone());
            }
        }
        for (level, files) in next.levels.iter_mut().enumerate() {
            if level == 0 {
                // Newest first. Flushes are sequential, so L0 files' sequence ranges
                // never interleave and the largest sequence number orders them.
                files.sort_by(|a, b| {
                    b.meta
                        .largest_seq
                        .cmp(&a.meta.largest_seq)
                        .then(b.number().cmp(&a.number()))
                });
            } else {
                files.sort_by(|a, b| a.smallest().cmp(b.smallest()));
                debug_assert!(
                    files.is_sorted_by(|a, b| a.largest() < b.smallest()),
                    "overlapping files in level {level}"
                );
            }
        }
        next.range_tombstone_files = next
            .levels
            .iter()
            .flatten()
            .filter(|f| !f.reader.range_tombstones().is_empty())
            .count();
        next
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use lsm_format::segment::bloom::key_hash;
    use lsm_format::EntryKind;

    use super::*;
    use crate::fs::{FsRef, RealFs};
    use crate::options::Options;
    use crate::segment::builder::SegmentBuilder;
    use crate::segment::file::SegmentContext;

    /// Writes and opens one segment holding `keys` at sequence numbers from `seq`.
    fn segment(
        fs: &FsRef,
        dir: &std::path::Path,
        next: &AtomicU64,
        keys: &[&str],
        seq: u64,
    ) -> Arc<SegmentFile> {
        let mut b = SegmentBuilder::new(fs, dir, &Options::default(), 1, next);
        for (i, k) in keys.iter().enumerate() {
            b.add(k.as_bytes(), seq + i as u64, EntryKind::Put, b"v")
                .unwrap();
        }
        let meta = b.finish().unwrap().pop().unwrap();
        SegmentFile::open(fs, dir, meta, &SegmentContext::unbounded()).unwrap()
    }

    fn numbers(files: &[Arc<SegmentFile>]) -> Vec<u64> {
        files.iter().map(|f| f.number()).collect()
    }

    #[test]
    fn edits_delete_then_add_and_keep_each_level_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let fs: FsRef = Arc::new(RealFs);
        let next = AtomicU64::new(1);
        let old = segment(&fs, dir.path(), &next, &["a", "m"], 1); // #1, seqs 1..=2
        let new = segment(&fs, dir.path(), &next, &["b", "c"], 10); // #2, seqs 10..=11
        let right = segment(&fs, dir.path(), &next, &["x", "y"], 5); // #3
        let left = segment(&fs, dir.path(), &next, &["d", "e"], 6); // #4

        // Level 0 is newest first whatever the order of addition.
        let v = Version::default().apply(&[], &[(0, old.clone()), (0, new.clone())], &[], &[]);
        assert_eq!(numbers(v.level(0)), vec![2, 1]);
        // Levels >= 1 are sorted by key.
        let v = v.apply(&[], &[(1, right.clone()), (1, left.clone())], &[], &[]);
        assert_eq!(numbers(v.level(1)), vec![4, 3]);
        assert_eq!(v.deepest_non_empty(), Some(1));
        assert_eq!(v.level_bytes(1), right.size() + left.size());

        // A move: deleted from level 0 and added to level 2 in one edit.
        let moved = v.apply(&[(0, 1)], &[(2, old.clone())], &[], &[]);
        assert_eq!(numbers(moved.level(0)), vec![2]);
        assert_eq!(numbers(moved.level(2)), vec![1]);
        assert_eq!(moved.deepest_non_empty(), Some(2));
        // The base version is untouched.
        assert_eq!(numbers(v.level(0)), vec![2, 1]);

        // Lookups follow the order: level 0 before level 1.
        let metrics = crate::metrics::Metrics::default();
        let found = moved
            .get(b"c", key_hash(b"c"), 100, None, &metrics)
            .unwrap()
            .unwrap();
        assert_eq!(found.seq, 11);
        assert!(moved
            .get(b"c", key_hash(b"c"), 9, None, &metrics)
            .unwrap()
            .is_none());
        assert_eq!(
            moved
                .get(b"x", key_hash(b"x"), 100, None, &metrics)
                .unwrap()
                .unwrap()
                .seq,
            5
        );
        assert!(moved
            .get(b"zz", key_hash(b"zz"), 100, None, &metrics)
            .unwrap()
            .is_none());
    }
}
