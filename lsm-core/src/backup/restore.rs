//! Restoring a backup into a new database directory.
//!
//! Steps, and why:
//! 1. refuse a destination that exists (a restore never mixes with other files);
//! 2. under the backup directory's lock (no delete runs meanwhile), read the
//!    catalog and check it: its checksum, its manifest against its file list;
//! 3. check every shared file's size and checksum before writing anything, so a
//!    damaged backup is refused with `Corruption` and no destination at all;
//! 4. copy each file to `dest/NNNNNN.seg` (a copy: compacting the restored database
//!    must not touch the backup), checking the checksum again, and fsync each; fsync
//!    `dest`;
//! 5. write `dest`'s manifest last (temporary file, fsync, rename, directory fsync),
//!    as a checkpoint does, then fsync the parent directory.
//!
//! A crash before step 5 completes leaves a destination without a manifest: one
//! holding segments, which `Db::open` refuses (segments but no manifest), or an empty
//! one (nothing was restored). Delete it and restore again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dir::BackupDir;
use super::{copy, BackupInfo};
use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::{FsRef, RealFs};
use crate::version::manifest::ManifestWriter;

/// Restores backup `id` of `backup_dir` into `dest`, a new directory, and returns
/// what it holds. [`Db::open`](crate::Db::open) then opens `dest` to exactly the
/// state the backup was taken at. Every file is copied (never linked) and checked
/// against its checksum, and everything is fsynced before the call returns. On an
/// error after `dest` was created, the files written and the directory are removed
/// again.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put("k", "v")?;
/// let id = db.backup(dir.path().join("backups"))?.info.id;
/// lsm_core::restore(dir.path().join("backups"), id, dir.path().join("restored"))?;
/// let restored = Db::open(dir.path().join("restored"), Options::default())?;
/// assert_eq!(restored.get("k")?.as_deref(), Some(&b"v"[..]));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// - [`Error::Io`] of kind `AlreadyExists` when `dest` exists, of kind `NotFound`
///   when `backup_dir` is not a backup directory or has no backup `id`, of kind
///   `WouldBlock` when a backup or delete holds it (nothing is written in these
///   cases), and from copying or syncing;
/// - [`Error::Corruption`] naming the damaged catalog or shared file; `dest` is not
///   created.
pub fn restore(
    backup_dir: impl AsRef<Path>,
    id: u64,
    dest: impl AsRef<Path>,
) -> Result<BackupInfo> {
    let dest = dest.as_ref();
    let mut written = Vec::new();
    let fs: FsRef = Arc::new(RealFs);
    let result = restore_into(&fs, backup_dir.as_ref(), id, dest, &mut written);
    if result.is_err() && !written.is_empty() {
        // Only what this call wrote, then the directory it created (if now empty).
        for file in written.iter().skip(1) {
            let _ = std::fs::remove_file(file);
        }
        let _ = std::fs::remove_dir(dest);
    }
    result
}

/// Like [`restore`], doing all file I/O through `fs`. On an error after `dest` was
/// created, `dest` is left as it is (the [`FileSystem`](crate::fs::FileSystem) trait
/// cannot remove a directory): it holds no manifest, so `Db::open` refuses it when it
/// holds segments; delete it before restoring again.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let fs = lsm_core::fs::SimFs::new();
/// let db = Db::open_with_fs("/db", Options::default(), fs.fs_ref())?;
/// db.put("k", "v")?;
/// db.backup("/backups")?;
/// lsm_core::restore_with_fs("/backups", 1, "/restored", fs.fs_ref())?;
/// let restored = Db::open_with_fs("/restored", Options::default(), fs.fs_ref())?;
/// assert_eq!(restored.get("k")?.as_deref(), Some(&b"v"[..]));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`restore`].
pub fn restore_with_fs(
    backup_dir: impl AsRef<Path>,
    id: u64,
    dest: impl AsRef<Path>,
    fs: FsRef,
) -> Result<BackupInfo> {
    restore_into(&fs, backup_dir.as_ref(), id, dest.as_ref(), &mut Vec::new())
}

/// The restore; `written` collects `dest` (first) and every file created in it.
fn restore_into(
    fs: &FsRef,
    backup_dir: &Path,
    id: u64,
    dest: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<BackupInfo> {
    if fs.exists(dest) {
        return Err(Error::io(
            dest,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a restore needs a new directory",
            ),
        ));
    }
    let dir = BackupDir::new(fs, backup_dir);
    dir.require()?;
    let _lock = dir.lock()?;
    let catalog = dir.catalog(id)?;
    let edit = catalog.edit(&dir.catalog_path(id))?;
    let shared = dir.shared();
    for file in &catalog.files {
        copy::verify_file(fs, &shared.join(file.shared_name()), file)?;
    }

    fs.create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    written.push(dest.to_path_buf());
    for file in &catalog.files {
        let to = filenames::segment_path(dest, file.number);
        written.push(to.clone());
        copy::copy_checked(fs, &shared.join(file.shared_name()), &to, file)?;
    }
    fs.sync_dir(dest).map_err(|e| Error::io(dest, e))?;
    written.push(dest.join(filenames::MANIFEST_TMP));
    written.push(dest.join(filenames::MANIFEST));
    ManifestWriter::create(fs, dest, &edit)?;
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
    }
    log::info!(
        "backup {id} of {} restored to {}",
        backup_dir.display(),
        dest.display()
    );
    Ok(super::BackupInfo::of(&catalog))
}
