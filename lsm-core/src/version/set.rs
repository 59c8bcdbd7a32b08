//! The version set: the current [`Version`], the manifest that records it, and the
//! manifest's state mirrored in memory (to write a snapshot when the manifest is
//! replaced).
//!
//! One mutex guards it ([`VersionControl`](super::VersionControl)); every change goes through
//! [`VersionSet::log_and_apply`], which makes the edit durable before it returns the
//! new version. Callers install that version for readers while still holding the
//! mutex, so versions are installed in the order their edits were logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsm_format::keyspace::KeyspaceId;
use lsm_format::manifest::{ManifestState, VersionEdit};

use super::manifest::ManifestWriter;
use super::{Version, Versions};
use crate::blob::BlobFile;
use crate::error::{Error, Result};
use crate::filenames::MANIFEST;
use crate::fs::FsRef;
use crate::segment::file::SegmentFile;

/// The manifest is replaced by a fresh snapshot once it grows past this.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// The set of segments recorded dead is pruned of files seen gone once it holds
/// more than this many numbers (and more than twice what the last pruning kept), so
/// that cloning the state for each edit stays cheap.
const OBSOLETE_PRUNE_AT: usize = 1024;

pub(crate) struct VersionSet {
    dir: PathBuf,
    manifest: ManifestWriter,
    state: ManifestState,
    /// The current version of every live keyspace.
    current: Versions,
    /// Size of the obsolete set after the last pruning.
    obsolete_kept: usize,
}

impl VersionSet {
    /// Starts a version set from a replayed (or new) state: writes a new manifest
    /// holding just its snapshot (replacing the old one atomically).
    ///
    /// # Errors
    /// `Io` while writing the manifest.
    pub fn create(
        fs: &FsRef,
        dir: &Path,
        mut state: ManifestState,
        current: Versions,
    ) -> Result<Self> {
        forget_removed(fs, dir, &mut state);
        let manifest = ManifestWriter::create(fs, dir, &state.snapshot_edit())?;
        // The new manifest is of the current format, whatever the replayed one was,
        // so every record the current format has may follow.
        state.format_version = lsm_format::FORMAT_VERSION;
        Ok(VersionSet {
            dir: dir.to_path_buf(),
            obsolete_kept: state.obsolete.len(),
            manifest,
            state,
            current,
        })
    }

    pub fn current(&self) -> &Versions {
        &self.current
    }

    /// The manifest's state, matching [`current`](Self::current).
    pub fn state(&self) -> &ManifestState {
        &self.state
    }

    /// Records `edit` durably and returns the versions it makes current (keyspaces
    /// it creates start empty; keyspaces it drops are gone).
    ///
    /// `added` are the opened files of `edit.added_segments`, in the same order,
    /// and `added_blobs` those of `edit.added_blob_files`. `next_file_number` and
    /// `last_sequence` are stamped on the edit (never moving backwards). The blob
    /// files the edit leaves no live segment pointing into are deleted by it too,
    /// and marked obsolete once it is durable: each goes when its last reader
    /// lets go.
    ///
    /// # Errors
    /// `Io` from the manifest (the caller poisons the database: after a failed
    /// fsync nothing is known about what reached the disk), or `Corruption` if the
    /// edit does not fit the live set (a bug).
    pub fn log_and_apply(
        &mut self,
        mut edit: VersionEdit,
        added: &[(u32, Arc<SegmentFile>)],
        added_blobs: &[Arc<BlobFile>],
        next_file_number: u64,
        last_sequence: u64,
    ) -> Result<Versions> {
        debug_assert_eq!(edit.added_segments.len(), added.len());
        debug_assert_eq!(edit.added_blob_files.len(), added_blobs.len());
        let freed = self.state.blob_files_freed_by(&edit);
        edit.deleted_blob_files.extend(freed);
        edit.next_file_number = Some(next_file_number.max(self.state.next_file_number));
        edit.last_sequence = Some(last_sequence.max(self.state.last_sequence));
        let manifest_path = self.dir.join(MANIFEST);
        let mut next_state = self.state.clone();
        next_state
            .apply(&edit, self.manifest.len())
            .map_err(|e| Error::from_format(&manifest_path, e))?;
        let fs = self.manifest.fs().clone();
        let rewrite = self.manifest.len() >= MAX_MANIFEST_BYTES;
        if rewrite || next_state.obsolete.len() > OBSOLETE_PRUNE_AT.max(2 * self.obsolete_kept) {
            forget_removed(&fs, &self.dir, &mut next_state);
            self.obsolete_kept = next_state.obsolete.len();
        }
        if rewrite {
            self.manifest = ManifestWriter::create(&fs, &self.dir, &next_state.snapshot_edit())?;
            log::info!(
                "manifest rewritten ({} live segments)",
                next_state.live_count()
            );
        } else {
            self.manifest.append(&edit)?;
        }
        self.state = next_state;
        // The blob files the edit deleted: by keyspace (from the versions that
        // held them), marked obsolete now that the edit is durable.
        let mut deleted_blobs: std::collections::BTreeMap<KeyspaceId, Vec<u64>> =
            Default::default();
        for &n in &edit.deleted_blob_files {
            let held = self
                .current
                .iter()
                .find_map(|(id, v)| v.blobs().get(&n).map(|b| (*id, b)));
            if let Some((id, b)) = held {
                b.mark_obsolete();
                deleted_blobs.entry(id).or_default().push(n);
            }
        }
        for id in &edit.dropped_keyspaces {
            self.current.remove(id);
        }
        for (id, _) in &edit.added_keyspaces {
            self.current.insert(*id, Arc::new(Version::default()));
        }
        let touched: std::collections::BTreeSet<KeyspaceId> = edit
            .deleted_segments
            .iter()
            .map(|d| d.keyspace)
            .chain(added.iter().map(|(_, f)| f.meta.keyspace))
            .chain(added_blobs.iter().map(|b| b.meta.keyspace))
            .chain(deleted_blobs.keys().copied())
            .collect();
        for id in touched {
            let deleted: Vec<(u32, u64)> = edit
                .deleted_segments
                .iter()
                .filter(|d| d.keyspace == id)
                .map(|d| (d.level, d.file_number))
                .collect();
            let added: Vec<(u32, Arc<SegmentFile>)> = added
                .iter()
                .filter(|(_, f)| f.meta.keyspace == id)
                .cloned()
                .collect();
            let added_blobs: Vec<Arc<BlobFile>> = added_blobs
                .iter()
                .filter(|b| b.meta.keyspace == id)
                .cloned()
                .collect();
            let deleted_blobs = deleted_blobs.get(&id).map_or(&[][..], |v| v.as_slice());
            // The manifest state accepted the edit, so the keyspace is live.
            if let Some(v) = self.current.get_mut(&id) {
                *v = Arc::new(v.apply(&deleted, &added, deleted_blobs, &added_blobs));
            }
        }
        Ok(self.current.clone())
    }
}

/// Forgets the dead segments whose files are gone: a number recorded dead stays in
/// every rewritten manifest until its file is seen removed (`docs/format.md`
/// section 6, tag 7), so open never meets a dead file the manifest does not explain.
fn forget_removed(fs: &FsRef, dir: &Path, state: &mut ManifestState) {
    state.forget_obsolete(|n| {
        !fs.exists(&crate::filenames::segment_path(dir, n))
            && !fs.exists(&crate::blob::output::blob_path(dir, n))
    });
}
