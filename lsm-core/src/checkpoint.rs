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
//! 4. hard-link each of its segments into the destination (segments are immutable;
//!    where links are impossible, copy and fsync), then fsync the destination;
//! 5. write the destination's manifest last (temporary file, fsync, rename, directory
//!    fsync), with no WAL to replay and no file recorded dead, and fsync the parent
//!    directory so the destination's own name is durable.
//!
//! A crash before step 5 completes leaves no destination, an empty one (between
//! creating it and linking the first segment) or one with segments but no manifest.
//! `Db::open` refuses the last as corruption, and the empty one with `NotFound` when
//! `create_if_missing` is false (with the default it would create a new, empty
//! database there): delete it and take the checkpoint again.

use std::io;
use std::path::Path;
use std::sync::Arc;

use lsm_format::manifest::ManifestState;

use crate::error::{Error, Result};
use crate::filenames;
use crate::version::manifest::ManifestWriter;
use crate::version::Version;
use crate::Db;

impl Db {
    /// Writes a consistent copy of the database to the new directory `dest`, while
    /// readers, writers, flushes and compactions go on. The copy holds everything
    /// acknowledged before the call and is a prefix of the history (no write without
    /// the writes before it); [`Db::open`] opens it as a database of its own. Segment
    /// files are hard-linked where the file system allows (so a checkpoint costs
    /// little space until the source compacts them away) and copied otherwise.
    /// Everything in `dest` is fsynced before the call returns.
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
    /// [`Error::Io`] with kind `AlreadyExists` when `dest` exists (nothing is
    /// written); [`Error::Io`] from creating, linking, copying or syncing (a partial
    /// `dest` may be left: empty, which `Db::open` refuses only with
    /// `create_if_missing(false)`, or with segments and no manifest, which it refuses
    /// as corruption; delete it); the errors of [`Db::flush`].
    pub fn checkpoint(&self, dest: impl AsRef<Path>) -> Result<()> {
        let dest = dest.as_ref();
        let env = &self.engine.env;
        let fs = &env.fs;
        if fs.exists(dest) {
            return Err(Error::io(
                dest,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a checkpoint needs a new directory",
                ),
            ));
        }
        let (state, version) = self.frozen_view()?;
        fs.create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
        for file in version.levels().iter().flatten() {
            let to = filenames::segment_path(dest, file.number());
            fs.link_or_copy(&file.path, &to)
                .map_err(|e| Error::io(&to, e))?;
        }
        fs.sync_dir(dest).map_err(|e| Error::io(dest, e))?;
        ManifestWriter::create(fs, dest, &state.snapshot_edit())?;
        // A bare relative name's parent is the current directory (`parent()` is
        // empty then); the root has none and is never a destination (it exists).
        if let Some(parent) = dest.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
        drop(version);
        log::info!(
            "checkpoint of {} written to {}",
            env.dir.display(),
            dest.display()
        );
        Ok(())
    }
}

impl Db {
    /// Steps 2 and 3 of the module documentation, shared with backups: flushes, then
    /// takes the current version and the manifest state a copy of it needs (no WAL
    /// to replay: `log_number` is the next file number; no file recorded dead).
    /// Holding the returned version keeps its segment files on disk.
    pub(crate) fn frozen_view(&self) -> Result<(ManifestState, Arc<Version>)> {
        self.flush()?;
        let (mut state, version) = self.engine.versions.current_with_state();
        state.log_number = state.next_file_number;
        state.forget_obsolete(|_| true);
        Ok((state, version))
    }
}
