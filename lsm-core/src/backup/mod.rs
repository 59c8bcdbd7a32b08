//! Incremental backups: numbered checkpoints sharing their immutable segment files.
//!
//! [`Db::backup`] adds a backup to a backup directory; [`backups`] lists them,
//! [`verify_backup`] re-reads one, [`restore`] makes a new database of one,
//! [`delete_backup`] and [`purge_old_backups`] remove them. The design is RocksDB's
//! `BackupEngine`: each segment is stored once in `shared/`, under a name made of its
//! number, size and checksum (so two different files with one number never
//! collide), and each backup is a catalog in `meta/` naming its files with their
//! sizes and checksums, plus the manifest a restore writes (`dir.rs` has the layout,
//! `catalog.rs` the grammar).
//!
//! Steps of a backup, and why:
//! 1. take the backup directory's lock, and clean what an interrupted backup or
//!    delete left (only files a record proves theirs);
//! 2. flush and take the current version with its manifest state, as a checkpoint
//!    does (`checkpoint.rs`): the backup holds everything acknowledged before the
//!    call, a prefix of the history; the held version keeps its files on disk;
//! 3. checksum every segment of it; the ones whose shared name exists are already
//!    in the backup directory and are not copied again;
//! 4. write the pending record naming the new shared files (temporary file, fsync,
//!    rename, directory fsync), so a crash from here on leaves proof of what is to
//!    be cleaned;
//! 5. copy each new segment to `shared/NAME.tmp` (a copy, never a hard link, so
//!    nothing done to the database can reach a backup file), checking its checksum
//!    on the way, fsync, rename to `NAME`; then fsync `shared/`;
//! 6. write the catalog, checked against its manifest, as `meta/ID` (temporary file,
//!    fsync, rename, directory fsync): the backup exists from this rename on;
//! 7. remove the pending record.
//!
//! A crash before step 6 leaves every earlier backup as it was and no new one; the
//! next backup or delete removes the files the pending record names that no catalog
//! references.

mod catalog;
mod copy;
mod dir;
mod restore;

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use catalog::BackupFile;
use catalog::{encode_pending, Catalog};
use dir::BackupDir;
pub use restore::{restore, restore_with_fs};

use crate::error::{Error, Result};
use crate::fs::{FsRef, RealFs};
use crate::Db;

/// What a backup holds, as its catalog records it.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put("k", "v")?;
/// let info = db.backup(dir.path().join("backups"))?.info;
/// assert_eq!(info.id, 1);
/// assert_eq!(info.files.len(), 1);
/// assert_eq!(info.size(), info.files[0].size);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupInfo {
    /// The backup's number: 1 for the first in a directory, increasing.
    pub id: u64,
    /// When it was taken, in seconds since the Unix epoch.
    pub created_unix_secs: u64,
    /// The last sequence number it holds.
    pub sequence: u64,
    /// Its segment files.
    pub files: Vec<BackupFile>,
}

impl BackupInfo {
    /// The bytes of its segment files, shared with other backups or not.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn of(catalog: &Catalog) -> BackupInfo {
        BackupInfo {
            id: catalog.id,
            created_unix_secs: catalog.created,
            sequence: catalog.sequence,
            files: catalog.files.clone(),
        }
    }
}

/// What [`Db::backup`] did: the new backup, and what it had to copy (segments
/// already in the backup directory are not copied again).
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.put("k", "v")?;
/// let first = db.backup(dir.path().join("backups"))?;
/// assert_eq!(first.copied_files, 1);
/// let second = db.backup(dir.path().join("backups"))?; // nothing new
/// assert_eq!((second.info.id, second.copied_files, second.copied_bytes), (2, 0, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewBackup {
    /// The backup written.
    pub info: BackupInfo,
    /// Segment files copied into `shared/` by this backup.
    pub copied_files: usize,
    /// Their bytes.
    pub copied_bytes: u64,
    /// Files an earlier, interrupted backup or delete had left, removed first.
    pub cleaned_files: usize,
}

impl Db {
    /// Adds a backup of the database to `backup_dir` (created if missing; it must
    /// otherwise be empty or a backup directory) and returns it. The backup holds
    /// everything acknowledged before the call, as [`Db::checkpoint`] does, while
    /// readers, writers, flushes and compactions go on. It is incremental: a segment
    /// already in `backup_dir` (from an earlier backup) is not copied again. Every
    /// segment is read once to checksum it; new ones are copied, never hard-linked,
    /// and checked as they are copied. The backup exists once its catalog is
    /// durably written; a crash before leaves earlier backups intact.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let backups = dir.path().join("backups");
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// db.put("k", "v1")?;
    /// let first = db.backup(&backups)?;
    /// db.put("k", "v2")?;
    /// let second = db.backup(&backups)?;
    /// assert_eq!((first.info.id, second.info.id), (1, 2));
    ///
    /// lsm_core::restore(&backups, 1, dir.path().join("restored"))?;
    /// let restored = Db::open(dir.path().join("restored"), Options::default())?;
    /// assert_eq!(restored.get("k")?.as_deref(), Some(&b"v1"[..]));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// - [`Error::Io`] with kind `AlreadyExists` when `backup_dir` holds other files
    ///   and is not a backup directory, with kind `InvalidInput` when it is inside
    ///   the database directory (nothing is written in either case), with kind
    ///   `WouldBlock`
    ///   when another backup, restore or delete holds it, and from any read, write
    ///   or sync (the backup is then not added; earlier ones are intact);
    /// - [`Error::Corruption`] when a catalog in `backup_dir` is damaged, or a
    ///   segment changed while it was copied;
    /// - the errors of [`Db::flush`].
    pub fn backup(&self, backup_dir: impl AsRef<Path>) -> Result<NewBackup> {
        let fs = &self.engine.env.fs;
        let dir = BackupDir::new(fs, backup_dir.as_ref());
        if dir.path.starts_with(&self.engine.env.dir) {
            // It would be a foreign entry of the database directory.
            return Err(Error::io(
                dir.path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a backup directory cannot be inside the database directory",
                ),
            ));
        }
        dir.create()?;
        let _lock = dir.lock()?;
        let committed = dir.catalogs()?;
        let cleaned = dir.clean(&committed)?;
        let id = dir.next_id()?;
        let (state, version) = self.frozen_view()?;

        let shared = dir.shared();
        let present = fs.list(&shared).map_err(|e| Error::io(&shared, e))?;
        let mut files = Vec::new();
        let mut new = Vec::new();
        for segment in version.levels().iter().flatten() {
            let (size, sum) = copy::checksum_file(fs, &segment.path)?;
            let file = BackupFile::new(segment.number(), size, sum);
            if present.binary_search(&file.shared_name()).is_err() {
                new.push((Arc::clone(segment), file.clone()));
            }
            files.push(file);
        }
        if !new.is_empty() {
            let names: Vec<String> = new.iter().map(|(_, f)| f.shared_name()).collect();
            dir.write_record(&dir.pending_path(id), &encode_pending(id, &names))?;
        }
        let mut copied_bytes = 0;
        for (segment, file) in &new {
            let name = shared.join(file.shared_name());
            let tmp = shared.join(format!("{}.tmp", file.shared_name()));
            copy::copy_checked(fs, &segment.path, &tmp, file)?;
            fs.rename(&tmp, &name).map_err(|e| Error::io(&name, e))?;
            copied_bytes += file.size;
        }
        if !new.is_empty() {
            fs.sync_dir(&shared).map_err(|e| Error::io(&shared, e))?;
        }

        let mut manifest = Vec::new();
        state.snapshot_edit().encode(&mut manifest);
        let catalog = Catalog {
            id,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            sequence: state.last_sequence,
            manifest,
            files,
        };
        let path = dir.catalog_path(id);
        catalog.edit(&path)?;
        dir.write_record(&path, &catalog.encode())?;
        if !new.is_empty() {
            // The backup is committed; a record left here is removed by the next
            // clean, which sees the catalog.
            if let Err(e) = fs.remove(&dir.pending_path(id)) {
                log::warn!("backup {id}: pending record left: {e}");
            }
        }
        drop(version);
        log::info!(
            "backup {id} of {} written to {}: {} files, {} copied ({copied_bytes} bytes)",
            self.engine.env.dir.display(),
            dir.path.display(),
            catalog.files.len(),
            new.len()
        );
        Ok(NewBackup {
            info: BackupInfo::of(&catalog),
            copied_files: new.len(),
            copied_bytes,
            cleaned_files: cleaned.len(),
        })
    }
}

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
/// [`Error::Corruption`] naming the first damaged file (catalog or segment);
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
