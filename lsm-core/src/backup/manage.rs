//! Listing, verifying and deleting backups.

use std::path::Path;
use std::sync::Arc;

use super::copy;
use super::dir::BackupDir;
use super::BackupInfo;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::fs::{FsRef, RealFs};
#[cfg(doc)]
use crate::Db;

/// The backups in `backup_dir`, oldest first. Reads only, and takes no lock: a
/// backup being written appears once it is complete.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put("k", "v")?;
/// db.backup(dir.path().join("backups"))?;
/// db.backup(dir.path().join("backups"))?;
/// let ids: Vec<u64> = lsm_core::backups(dir.path().join("backups"))?
///     .iter()
///     .map(|b| b.id)
///     .collect();
/// assert_eq!(ids, [1, 2]);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::Io`] of kind `NotFound` when `backup_dir` is not a backup directory;
/// [`Error::Corruption`] naming a damaged catalog.
pub fn backups(backup_dir: impl AsRef<Path>) -> Result<Vec<BackupInfo>> {
    backups_with_fs(backup_dir, Arc::new(RealFs))
}

/// Like [`backups`], reading through `fs`.
///
/// ```
/// use lsm_core::fs::{FileSystem, SimFs};
///
/// let fs = SimFs::new();
/// fs.create_dir_all("/backups/meta".as_ref())?;
/// assert!(lsm_core::backups_with_fs("/backups", fs.fs_ref())?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`backups`].
pub fn backups_with_fs(backup_dir: impl AsRef<Path>, fs: FsRef) -> Result<Vec<BackupInfo>> {
    let dir = BackupDir::new(&fs, backup_dir.as_ref());
    dir.require()?;
    Ok(dir.catalogs()?.values().map(BackupInfo::of).collect())
}

/// Checks backup `id` in `backup_dir` without restoring it: its catalog's checksum,
/// its manifest against its file list, and every one of its shared files' size and
/// checksum. Reads only, and takes no lock.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put("k", "v")?;
/// let id = db.backup(dir.path().join("backups"))?.info.id;
/// let info = lsm_core::verify_backup(dir.path().join("backups"), id)?;
/// assert_eq!(info.files.len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::Corruption`] naming the first damaged file (catalog, segment or blob
/// file);
/// [`Error::Io`] of kind `NotFound` when there is no such backup or one of its
/// files is missing.
pub fn verify_backup(backup_dir: impl AsRef<Path>, id: u64) -> Result<BackupInfo> {
    verify_backup_with_fs(backup_dir, id, Arc::new(RealFs))
}

/// Like [`verify_backup`], reading through `fs`.
///
/// ```
/// use lsm_core::fs::{FileSystem, SimFs};
///
/// let fs = SimFs::new();
/// fs.create_dir_all("/backups/meta".as_ref())?;
/// let err = lsm_core::verify_backup_with_fs("/backups", 1, fs.fs_ref()).unwrap_err();
/// assert!(err.to_string().contains("no backup 1"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`verify_backup`].
pub fn verify_backup_with_fs(
    backup_dir: impl AsRef<Path>,
    id: u64,
    fs: FsRef,
) -> Result<BackupInfo> {
    let dir = BackupDir::new(&fs, backup_dir.as_ref());
    dir.require()?;
    let catalog = dir.catalog(id)?;
    let shared = dir.shared();
    for file in &catalog.files {
        copy::verify_file(&fs, &shared.join(file.shared_name()), file)?;
    }
    Ok(BackupInfo::of(&catalog))
}

/// Deletes backup `id` from `backup_dir`, and the shared files no remaining backup
/// references. Other backups stay restorable. The catalog goes first (renamed, so
/// it still names the files to remove if a crash interrupts the delete; the next
/// backup or delete finishes the job); only files it names are removed.
///
/// A backup whose catalog is damaged (which makes [`backups`] and [`Db::backup`]
/// fail) is deleted by setting its catalog aside as `meta/ID.damaged`; the shared
/// files only it used stay, since nothing readable proves which they are.
///
/// Returns the number of shared files removed.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let backups = dir.path().join("backups");
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put("a", "1")?;
/// db.backup(&backups)?;
/// db.put("b", "2")?;
/// db.backup(&backups)?;
/// // Backup 1's segment is also in backup 2: nothing to remove but the catalog.
/// assert_eq!(lsm_core::delete_backup(&backups, 1)?, 0);
/// assert_eq!(lsm_core::backups(&backups)?.len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::Io`] of kind `NotFound` when there is no such backup, of kind
/// `WouldBlock` when another backup, restore or delete holds the directory, and from
/// removing or syncing; [`Error::Corruption`] when the catalog of another backup is
/// damaged (nothing is deleted then: it might reference any file).
pub fn delete_backup(backup_dir: impl AsRef<Path>, id: u64) -> Result<usize> {
    delete_backup_with_fs(backup_dir, id, Arc::new(RealFs))
}

/// Like [`delete_backup`], doing all file I/O through `fs`.
///
/// ```
/// use lsm_core::fs::{FileSystem, SimFs};
///
/// let fs = SimFs::new();
/// fs.create_dir_all("/backups/meta".as_ref())?;
/// assert!(lsm_core::delete_backup_with_fs("/backups", 1, fs.fs_ref()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`delete_backup`].
pub fn delete_backup_with_fs(backup_dir: impl AsRef<Path>, id: u64, fs: FsRef) -> Result<usize> {
    let dir = BackupDir::new(&fs, backup_dir.as_ref());
    dir.require()?;
    let _lock = dir.lock()?;
    if let Err(e) = dir.catalog(id) {
        if !e.is_corruption() {
            return Err(e);
        }
        // A damaged catalog: set aside, as long as every other one is readable (a
        // damaged one among them is reported first, as `catalogs` reports it).
        let mut others = std::collections::BTreeMap::new();
        for other in dir.catalog_ids()?.into_iter().filter(|&n| n != id) {
            others.insert(other, dir.catalog(other)?);
        }
        dir.clean(&others)?;
        dir.set_aside(id)?;
        log::warn!("backup {id}: damaged catalog set aside ({e}); its own files are kept");
        return Ok(0);
    }
    let mut committed = dir.catalogs()?;
    dir.clean(&committed)?;
    committed.remove(&id);
    dir.retire(id)?;
    Ok(dir.clean(&committed)?.len())
}

/// Deletes the oldest backups of `backup_dir` until at most `keep` remain (as
/// [`delete_backup`] each), and returns the ids deleted.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let backups = dir.path().join("backups");
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// for i in 0..3 {
///     db.put("k", format!("v{i}"))?;
///     db.backup(&backups)?;
/// }
/// assert_eq!(lsm_core::purge_old_backups(&backups, 1)?, [1, 2]);
/// assert_eq!(lsm_core::backups(&backups)?[0].id, 3);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`delete_backup`]; the backups deleted before a failure stay deleted.
pub fn purge_old_backups(backup_dir: impl AsRef<Path>, keep: usize) -> Result<Vec<u64>> {
    purge_old_backups_with_fs(backup_dir, keep, Arc::new(RealFs))
}

/// Like [`purge_old_backups`], doing all file I/O through `fs`.
///
/// ```
/// use lsm_core::fs::{FileSystem, SimFs};
///
/// let fs = SimFs::new();
/// fs.create_dir_all("/backups/meta".as_ref())?;
/// assert!(lsm_core::purge_old_backups_with_fs("/backups", 0, fs.fs_ref())?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`purge_old_backups`].
pub fn purge_old_backups_with_fs(
    backup_dir: impl AsRef<Path>,
    keep: usize,
    fs: FsRef,
) -> Result<Vec<u64>> {
    let dir = BackupDir::new(&fs, backup_dir.as_ref());
    dir.require()?;
    let _lock = dir.lock()?;
    let mut committed = dir.catalogs()?;
    dir.clean(&committed)?;
    let mut deleted = Vec::new();
    while committed.len() > keep {
        let Some((id, _)) = committed.pop_first() else {
            break;
        };
        dir.retire(id)?;
        dir.clean(&committed)?;
        deleted.push(id);
    }
    Ok(deleted)
}
