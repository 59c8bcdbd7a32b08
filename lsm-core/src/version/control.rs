//! The version-set subsystem as the rest of the engine sees it: the one place that
//! logs a manifest edit and installs the version it makes, and the allocator of file
//! numbers (WALs and segments share one sequence).
//!
//! Lock order: the version-set mutex is taken first; the caller's install step (the
//! coordination state, then the super version) runs inside it, so versions are
//! installed in the order their edits were logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lsm_format::manifest::{ManifestState, VersionEdit};
use parking_lot::Mutex;

use super::{Version, VersionSet};
use crate::error::{PoisonedBy, Result};
use crate::poison::Poison;
use crate::segment::file::SegmentFile;

pub(crate) struct VersionControl {
    set: Mutex<VersionSet>,
    /// Next file number to allocate (WALs and segments).
    next_file: AtomicU64,
}

impl VersionControl {
    pub fn new(set: VersionSet, next_file: AtomicU64) -> VersionControl {
        VersionControl {
            set: Mutex::new(set),
            next_file,
        }
    }

    /// Takes a new file number.
    pub fn allocate_file_number(&self) -> u64 {
        self.next_file.fetch_add(1, Ordering::SeqCst)
    }

    /// The allocator itself, for builders that take numbers as they roll files.
    pub fn file_numbers(&self) -> &AtomicU64 {
        &self.next_file
    }

    /// The current version and the manifest state that describes it, taken
    /// together (a checkpoint writes that state for those files).
    pub fn current_with_state(&self) -> (ManifestState, Arc<Version>) {
        let set = self.set.lock();
        (set.state().clone(), set.current())
    }

    /// Logs `edit` (whose added segments are the opened files `added`, in order)
    /// durably, then calls `install` with the version it makes current while still
    /// holding the version-set lock. `last_sequence` is stamped on the edit.
    ///
    /// On failure the database is poisoned and nothing is installed; the outputs
    /// stay on disk: the edit may have reached the manifest before the failure (a
    /// failed commit marker, or a failed fsync of bytes that were written), and then
    /// the next open replays it and needs them. If it did not, they are orphans the
    /// next open proves dead and removes.
    ///
    /// # Errors
    /// `Poisoned` when the database already is (after a failed manifest append the
    /// file's tail is unknown, maybe a torn record: an edit appended behind it would
    /// be a valid record after damage, which open refuses as corruption); the
    /// manifest's `Io` error, which poisons the database.
    pub fn log_and_install(
        &self,
        poison: &Poison,
        edit: VersionEdit,
        added: &[(u32, Arc<SegmentFile>)],
        last_sequence: u64,
        install: impl FnOnce(Arc<Version>),
    ) -> Result<()> {
        let mut set = self.set.lock();
        poison.check()?;
        let next_file = self.next_file.load(Ordering::SeqCst);
        match set.log_and_apply(edit, added, next_file, last_sequence) {
            Ok(version) => {
                install(version);
                Ok(())
            }
            Err(e) => Err(poison.poison(PoisonedBy::ManifestWrite, "manifest write failed", e)),
        }
    }
}
