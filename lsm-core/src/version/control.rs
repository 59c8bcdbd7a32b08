//! The version-set subsystem as the rest of the engine sees it: the one place that
//! logs a manifest edit and installs the version it makes, and the allocator of file
//! numbers (WALs and segments share one sequence).
//!
//! Lock order: the version-set mutex is taken first; the caller's install step (the
//! coordination state, then the super version) runs inside it, so versions are
//! installed in the order their edits were logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lsm_format::keyspace::{KeyspaceId, MAX_KEYSPACE_ID};
use lsm_format::manifest::{DeletedSegment, ManifestState, VersionEdit};
use parking_lot::Mutex;

use super::{VersionSet, Versions};
use crate::blob::BlobFile;
use crate::error::{Error, InvalidArgumentKind, PoisonedBy, Result};
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
    pub fn current_with_state(&self) -> (ManifestState, Versions) {
        let set = self.set.lock();
        (set.state().clone(), set.current().clone())
    }

    /// The live keyspaces: (id, name), by id.
    pub fn keyspaces(&self) -> Vec<(lsm_format::keyspace::KeyspaceId, String)> {
        self.set
            .lock()
            .state()
            .keyspaces
            .iter()
            .map(|(id, k)| (*id, k.name.clone()))
            .collect()
    }

    /// Logs `edit` (whose added segments are the opened files `added`, in order,
    /// and whose added blob files are `added_blobs`) durably, then calls `install` with the versions it makes current while still
    /// holding the version-set lock. `last_sequence` is stamped on the edit.
    ///
    /// On failure the database is poisoned and nothing is installed; the outputs
    /// stay on disk: the edit may have reached the manifest before the failure (a
    /// failed commit marker, or a failed fsync of bytes that were written), and then
    /// the next open replays it and needs them. If it did not, they are orphans the
    /// next open proves dead and removes.
    ///
    /// # Errors
    /// `KeyspaceDropped` (nothing logged) when the edit adds or deletes segments of
    /// a keyspace no longer live; `Poisoned` when the database already is (after a failed manifest append the
    /// file's tail is unknown, maybe a torn record: an edit appended behind it would
    /// be a valid record after damage, which open refuses as corruption); the
    /// manifest's `Io` error, which poisons the database.
    pub fn log_and_install(
        &self,
        poison: &Poison,
        edit: VersionEdit,
        added: &[(u32, Arc<SegmentFile>)],
        added_blobs: &[Arc<BlobFile>],
        last_sequence: u64,
        install: impl FnOnce(&Versions),
    ) -> Result<()> {
        let mut set = self.set.lock();
        poison.check()?;
        // A flush or compaction of a keyspace dropped while it ran: its outputs
        // are not to be recorded (the caller discards them), and a dropped
        // keyspace has no log number.
        let live = |id: KeyspaceId| set.state().keyspaces.contains_key(&id);
        let gone = edit
            .added_segments
            .iter()
            .map(|(_, m)| m.keyspace)
            .chain(edit.deleted_segments.iter().map(|d| d.keyspace))
            .chain(edit.added_blob_files.iter().map(|b| b.keyspace))
            .find(|&id| !live(id));
        if let Some(id) = gone {
            return Err(Error::KeyspaceDropped {
                name: format!("#{id}"),
            });
        }
        let mut edit = edit;
        edit.keyspace_log_numbers.retain(|&(id, _)| live(id));
        let next_file = self.next_file.load(Ordering::SeqCst);
        match set.log_and_apply(edit, added, added_blobs, next_file, last_sequence) {
            Ok(versions) => {
                install(&versions);
                Ok(())
            }
            Err(e) => Err(poison.poison(PoisonedBy::ManifestWrite, "manifest write failed", e)),
        }
    }
}

/// Creating and dropping keyspaces: one edit each, logged under the version-set
/// lock so that a name is looked up and changed in one step.
impl VersionControl {
    /// The id of the live keyspace `name`, creating it (one manifest edit, durable
    /// before this returns) when there is none; `install` runs with the versions the
    /// creation makes current, under the version-set lock. `Ok((id, created))`.
    ///
    /// # Errors
    /// `InvalidArgument` when every keyspace id is used; `Poisoned`, or the
    /// manifest's `Io` error (which poisons the database).
    pub fn find_or_create_keyspace(
        &self,
        poison: &Poison,
        name: &str,
        last_sequence: u64,
        install: impl FnOnce(&Versions, KeyspaceId),
    ) -> Result<(KeyspaceId, bool)> {
        let mut set = self.set.lock();
        if let Some(id) = set.state().keyspace_named(name) {
            return Ok((id, false));
        }
        poison.check()?;
        let id = set.state().next_keyspace_id;
        if id > MAX_KEYSPACE_ID {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::KeyspaceName,
                message: format!("every keyspace id up to {MAX_KEYSPACE_ID} is used"),
            });
        }
        let edit = VersionEdit {
            added_keyspaces: vec![(id, name.to_string())],
            next_keyspace_id: Some(id + 1),
            ..VersionEdit::default()
        };
        let next_file = self.next_file.load(Ordering::SeqCst);
        match set.log_and_apply(edit, &[], &[], next_file, last_sequence) {
            Ok(versions) => {
                install(&versions, id);
                Ok((id, true))
            }
            Err(e) => Err(poison.poison(PoisonedBy::ManifestWrite, "manifest write failed", e)),
        }
    }

    /// Drops the live keyspace `name` and deletes every segment and blob file of it, in one
    /// manifest edit (durable before this returns); `install` runs with the versions
    /// the drop makes current, under the version-set lock. Returns the dropped
    /// keyspace's last version (whose files the caller retires), `None` when no
    /// keyspace has that name.
    ///
    /// # Errors
    /// `Poisoned`, or the manifest's `Io` error (which poisons the database).
    pub fn drop_keyspace(
        &self,
        poison: &Poison,
        name: &str,
        last_sequence: u64,
        install: impl FnOnce(&Versions),
    ) -> Result<Option<Arc<super::Version>>> {
        let mut set = self.set.lock();
        let Some(id) = set.state().keyspace_named(name) else {
            return Ok(None);
        };
        poison.check()?;
        let old = set.current().get(&id).cloned();
        let deleted_segments = set
            .state()
            .levels
            .iter()
            .enumerate()
            .flat_map(|(level, metas)| {
                metas
                    .iter()
                    .filter(|m| m.keyspace == id)
                    .map(move |m| DeletedSegment {
                        keyspace: id,
                        level: level as u32,
                        file_number: m.file_number,
                    })
            })
            .collect();
        let deleted_blob_files = set
            .state()
            .blob_files_of(id)
            .map(|b| b.file_number)
            .collect();
        let edit = VersionEdit {
            deleted_segments,
            deleted_blob_files,
            dropped_keyspaces: vec![id],
            ..VersionEdit::default()
        };
        let next_file = self.next_file.load(Ordering::SeqCst);
        match set.log_and_apply(edit, &[], &[], next_file, last_sequence) {
            Ok(versions) => {
                install(&versions);
                Ok(old)
            }
            Err(e) => Err(poison.poison(PoisonedBy::ManifestWrite, "manifest write failed", e)),
        }
    }
}
