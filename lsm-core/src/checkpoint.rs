//! Online checkpoints: a copy of the database, taken while it runs, that opens on
//! its own.
//!
//! Steps, and why:
//! 1. refuse a destination that exists (a checkpoint never mixes with other files);
//! 2. flush: everything acknowledged before the call is then in segments, and the
//!    data in segments is always a prefix of the history (memtables are flushed in
//!    order);
//! 3. under the version-set lock, take the current version and the manifest state
//!    that describes it. Holding the version keeps its files on disk: a compaction
//!    that retires one meanwhile removes it only when the last holder lets go;
//! 4. create a staging directory beside the destination (`.NAME.staging-PID-N`,
//!    see `fs/staging.rs`) and hard-link each of the versions' segments and blob
//!    files (`NNNNNN.blob`, the values kept out of the segments) into it (both are
//!    immutable; where links are impossible, copy and fsync), then fsync it;
//! 5. write its manifest last (temporary file, fsync, rename, directory fsync), with
//!    no WAL to replay and no file recorded dead;
//! 6. rename the staging directory to the destination (never replacing one that
//!    appeared meanwhile) and fsync the parent directory, which makes the name
//!    durable.
//!
//! A crash before step 6 completes leaves no destination (at most a staging
//! directory); after it, a complete one. On an error the staging directory is
//! removed again.

use std::path::Path;

use lsm_format::manifest::ManifestState;

use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::staging::{self, Staging};
use crate::version::manifest::ManifestWriter;
use crate::version::Versions;
use crate::Db;

impl Db {
    /// Writes a consistent copy of the database to the new directory `dest`, while
    /// readers, writers, flushes and compactions go on. The copy holds everything
    /// acknowledged before the call and is a prefix of the history (no write without
    /// the writes before it); [`Db::open`] opens it as a database of its own. Segment
    /// and blob files are hard-linked where the file system allows (so a checkpoint
    /// costs little space until the source compacts them away) and copied otherwise.
    /// Everything in `dest` is fsynced before the call returns.
    ///
    /// The copy is built in a staging directory beside `dest`, named
    /// `.NAME.staging-PID-N` (NAME: `dest`'s name), and renamed to `dest` when
    /// complete, so an interrupted checkpoint leaves no `dest` at all: a power loss
    /// or kill at any moment leaves either no `dest` or a complete one. It may leave
    /// the staging directory; a later checkpoint to the same `dest` in the same
    /// process removes its own, and otherwise delete `.NAME.staging-*` by hand while
    /// no checkpoint is running.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path().join("live"), Options::default())?;
    /// db.put("k", "before")?;
    /// db.checkpoint(dir.path().join("backup"))?;
    /// db.put("k", "after")?;
    ///
    /// let backup = Db::open(dir.path().join("backup"), Options::default())?;
    /// assert_eq!(backup.get("k")?.as_deref(), Some(&b"before"[..]));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] with kind `AlreadyExists` when `dest` exists, or appears
    /// before the copy is renamed into place (it is never replaced); of kind
    /// `InvalidInput` when `dest` has no UTF-8 name; [`Error::Io`] from creating,
    /// linking, copying, syncing or renaming: `dest` is then not created (the
    /// staging directory is removed when possible), except after a failed fsync of
    /// the parent directory at the very end, when `dest` is complete but its name
    /// may not survive a power loss; the errors of [`Db::flush`].
    pub fn checkpoint(&self, dest: impl AsRef<Path>) -> Result<()> {
        let dest = dest.as_ref();
        let env = &self.engine.env;
        let fs = &env.fs;
        staging::refuse_existing(fs, dest, "checkpoint")?;
        let (state, versions) = self.frozen_view()?;
        let staging = Staging::begin(fs, dest, "checkpoint")?;
        let dir = staging.path();
        for file in versions.values().flat_map(|v| v.levels().iter().flatten()) {
            let to = filenames::segment_path(dir, file.number());
            fs.link_or_copy(&file.path, &to)
                .map_err(|e| Error::io(&to, e))?;
        }
        // The manifest lists every live blob file: a segment's pointers need them.
        for blob in versions.values().flat_map(|v| v.blobs().values()) {
            let to = crate::blob::output::blob_path(dir, blob.number());
            fs.link_or_copy(blob.path(), &to)
                .map_err(|e| Error::io(&to, e))?;
        }
        fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        ManifestWriter::create(fs, dir, &state.snapshot_edit())?;
        staging.commit()?;
        drop(versions);
        log::info!(
            "checkpoint of {} written to {}",
            env.dir.display(),
            dest.display()
        );
        Ok(())
    }
}

impl Db {
    /// Steps 2 and 3 of the module documentation, shared with backups: flushes
    /// every keyspace, then takes the current versions and the manifest state a
    /// copy of them needs (no WAL to replay: `log_number` is the next file number;
    /// no file recorded dead). Holding the returned versions keeps their segment
    /// and blob files on disk.
    pub(crate) fn frozen_view(&self) -> Result<(ManifestState, Versions)> {
        self.engine.flush(crate::write_path::Freeze::All)?;
        let (mut state, version) = self.engine.versions.current_with_state();
        state.log_number = state.next_file_number;
        state.forget_obsolete(|_| true);
        Ok((state, version))
    }
}
