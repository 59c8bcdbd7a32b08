//! Building the next [`Version`] from the current one and a manifest edit.
//!
//! The edit's own bytes are applied to the manifest's mirror state by
//! [`super::set::VersionSet`]; here the same change is applied to the open files:
//! deletions first, then additions (a file may be deleted from one level and added
//! to another: a trivial move), then each level is put back in its order.

use std::sync::Arc;

use super::Version;
use crate::segment_file::SegmentFile;

impl Version {
    /// A new version: `self` without `deleted` `(level, file number)` pairs, plus
    /// `added` files.
    pub fn apply(&self, deleted: &[(u32, u64)], added: &[(u32, Arc<SegmentFile>)]) -> Version {
        let mut next = self.clone();
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
                    files.windows(2).all(|w| w[0].largest() < w[1].smallest()),
                    "overlapping files in level {level}"
                );
            }
        }
        next
    }
}
