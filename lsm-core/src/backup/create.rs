//! Taking a backup: [`Db::backup`], steps 1 to 7 of the module documentation.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::catalog::{encode_pending, BackupFile, BackupFileKind, Catalog};
use super::copy;
use super::dir::BackupDir;
use super::{BackupInfo, NewBackup};
use crate::error::{Error, Result};
use crate::Db;

impl Db {
    /// Adds a backup of the database to `backup_dir` (created if missing; it must
    /// otherwise be empty or a backup directory) and returns it. The backup holds
    /// everything acknowledged before the call, as [`Db::checkpoint`] does, while
    /// readers, writers, flushes and compactions go on. It holds every segment and
    /// every blob file (values kept out of the segments) of the database. It is
    /// incremental: a file already in `backup_dir` (from an earlier backup) is not
    /// copied again. Every file is read once to checksum it; new ones are copied, never hard-linked,
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
    ///   segment or blob file changed while it was copied;
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
        let (state, versions) = self.frozen_view()?;

        let shared = dir.shared();
        let present = fs.list(&shared).map_err(|e| Error::io(&shared, e))?;
        let mut files = Vec::new();
        let mut new = Vec::new();
        // Segments first, then blob files: the catalog's order. The held versions
        // keep every one of these paths on disk.
        let segments = (versions.values())
            .flat_map(|v| v.levels().iter().flatten())
            .map(|s| (BackupFileKind::Segment, s.number(), s.path.clone()));
        let blobs = (versions.values())
            .flat_map(|v| v.blobs().values())
            .map(|b| (BackupFileKind::Blob, b.number(), b.path().to_path_buf()));
        for (kind, number, path) in segments.chain(blobs) {
            let (size, sum) = copy::checksum_file(fs, &path)?;
            let file = BackupFile::new(kind, number, size, sum);
            if present.binary_search(&file.shared_name()).is_err() {
                new.push((path, file.clone()));
            }
            files.push(file);
        }
        if !new.is_empty() {
            let names: Vec<String> = new.iter().map(|(_, f)| f.shared_name()).collect();
            dir.write_record(&dir.pending_path(id), &encode_pending(id, &names))?;
        }
        let mut copied_bytes = 0;
        for (path, file) in &new {
            let name = shared.join(file.shared_name());
            let tmp = shared.join(format!("{}.tmp", file.shared_name()));
            copy::copy_checked(fs, path, &tmp, file)?;
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
        drop(versions);
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
