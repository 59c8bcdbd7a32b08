//! Incremental backups: numbered checkpoints sharing their immutable segment and blob
//! files.
//!
//! [`Db::backup`] adds a backup to a backup directory; [`backups`] lists them,
//! [`verify_backup`] re-reads one, [`restore`] makes a new database of one,
//! [`delete_backup`] and [`purge_old_backups`] remove them. The design is RocksDB's
//! `BackupEngine`: each segment and each blob file (values kept out of the segments)
//! is stored once in `shared/`, under a name made of its number, size, checksum and
//! kind (so two different files with one number never
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
//! 3. checksum every segment and blob file of it; the ones whose shared name exists
//!    are already
//!    in the backup directory and are not copied again;
//! 4. write the pending record naming the new shared files (temporary file, fsync,
//!    rename, directory fsync), so a crash from here on leaves proof of what is to
//!    be cleaned;
//! 5. copy each new file to `shared/NAME.tmp` (a copy, never a hard link, so
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
mod create;
mod dir;
mod manage;
mod restore;

use catalog::Catalog;
pub use catalog::{BackupFile, BackupFileKind};
pub use manage::{
    backups, backups_with_fs, delete_backup, delete_backup_with_fs, purge_old_backups,
    purge_old_backups_with_fs, verify_backup, verify_backup_with_fs,
};
pub use restore::{restore, restore_with_fs};

#[cfg(doc)]
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
    /// Its segment files, then its blob files.
    pub files: Vec<BackupFile>,
}

impl BackupInfo {
    /// The bytes of its segment and blob files, shared with other backups or not.
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

/// What [`Db::backup`] did: the new backup, and what it had to copy (segments and
/// blob files already in the backup directory are not copied again).
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
    /// Segment and blob files copied into `shared/` by this backup.
    pub copied_files: usize,
    /// Their bytes.
    pub copied_bytes: u64,
    /// Files an earlier, interrupted backup or delete had left, removed first.
    pub cleaned_files: usize,
}
