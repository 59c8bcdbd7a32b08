//! Restoring a backup into a new database directory.
//!
//! Steps, and why:
//! 1. refuse a destination that exists (a restore never mixes with other files);
//! 2. under the backup directory's lock (no delete runs meanwhile), read the
//!    catalog and check it: its checksum, its manifest against its file list;
//! 3. check every shared file's size and checksum before writing anything, so a
//!    damaged backup is refused with `Corruption` and no destination at all;
//! 4. create a staging directory beside the destination (`.NAME.staging-PID-N`,
//!    see `fs/staging.rs`), copy each file to `NNNNNN.seg` (a segment) or
//!    `NNNNNN.blob` (a blob file) in it (a copy:
//!    compacting the restored database must not touch the backup), checking the
//!    checksum again, and fsync each; fsync the staging directory;
//! 5. write its manifest last (temporary file, fsync, rename, directory fsync), as a
//!    checkpoint does;
//! 6. rename the staging directory to the destination (never replacing one that
//!    appeared meanwhile), then fsync the parent directory.
//!
//! A crash before step 6 completes leaves no destination (at most a staging
//! directory); after it, a complete one. On an error the staging directory is
//! removed again.

use std::path::Path;
use std::sync::Arc;

use super::dir::BackupDir;
use super::{copy, BackupInfo};
use crate::error::{Error, Result};
use crate::fs::staging::{self, Staging};
use crate::fs::{FsRef, RealFs};
use crate::version::manifest::ManifestWriter;

/// Restores backup `id` of `backup_dir` into `dest`, a new directory, and returns
/// what it holds. [`Db::open`](crate::Db::open) then opens `dest` to exactly the
/// state the backup was taken at. Every file is copied (never linked) and checked
/// against its checksum, and everything is fsynced before the call returns.
///
/// The copy is built in a staging directory beside `dest`, named
/// `.NAME.staging-PID-N` (NAME: `dest`'s name), and renamed to `dest` when
/// complete: an error, a kill or a power loss at any moment leaves either no `dest`
/// or a complete one. On an error the staging directory is removed; one left by a
/// crash is removed by a later restore to the same `dest` in the same process, and
/// otherwise by hand (delete `.NAME.staging-*` while no restore is running).
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
///   cases), of kind `AlreadyExists` too when `dest` appears before the copy is
///   renamed into place (it is never replaced), of kind `InvalidInput` when `dest`
///   has no UTF-8 name, and from copying, syncing or renaming: `dest` is then not
///   created, except after a failed fsync of the parent directory at the very
///   end, when `dest` is complete but its name may not survive a power loss;
/// - [`Error::Corruption`] naming the damaged catalog or shared file; `dest` is not
///   created.
pub fn restore(
    backup_dir: impl AsRef<Path>,
    id: u64,
    dest: impl AsRef<Path>,
) -> Result<BackupInfo> {
    let fs: FsRef = Arc::new(RealFs);
    restore_into(&fs, backup_dir.as_ref(), id, dest.as_ref())
}

/// Like [`restore`], doing all file I/O through `fs`, which must implement
/// [`FileSystem::rename_dir`](crate::fs::FileSystem::rename_dir) and
/// [`FileSystem::remove_dir`](crate::fs::FileSystem::remove_dir).
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
    restore_into(&fs, backup_dir.as_ref(), id, dest.as_ref())
}

fn restore_into(fs: &FsRef, backup_dir: &Path, id: u64, dest: &Path) -> Result<BackupInfo> {
    staging::refuse_existing(fs, dest, "restore")?;
    let dir = BackupDir::new(fs, backup_dir);
    dir.require()?;
    let _lock = dir.lock()?;
    let catalog = dir.catalog(id)?;
    let edit = catalog.edit(&dir.catalog_path(id))?;
    let shared = dir.shared();
    for file in &catalog.files {
        copy::verify_file(fs, &shared.join(file.shared_name()), file)?;
    }

    let staging = Staging::begin(fs, dest, "restore")?;
    let dir = staging.path();
    for file in &catalog.files {
        let to = file.path_in(dir);
        copy::copy_checked(fs, &shared.join(file.shared_name()), &to, file)?;
    }
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    ManifestWriter::create(fs, dir, &edit)?;
    staging.commit()?;
    log::info!(
        "backup {id} of {} restored to {}",
        backup_dir.display(),
        dest.display()
    );
    Ok(super::BackupInfo::of(&catalog))
}
