//! The backup directory: its layout, its lock, its records, and the cleaning of what
//! an interrupted backup or delete left.
//!
//! ```text
//! BACKUP_DIR/
//!   LOCK                      held by a backup, a restore or a delete
//!   shared/NNNNNN-SIZE-CHECKSUM.seg    each segment once, never modified
//!   shared/NNNNNN-SIZE-CHECKSUM.blob   each blob file once, never modified
//!   shared/NAME.tmp           a copy in progress
//!   meta/ID                   the catalog of backup ID (catalog.rs)
//!   meta/ID.tmp               a catalog being written
//!   meta/ID.pending           the shared files backup ID is adding
//!   meta/ID.deleting          the catalog of backup ID, being deleted
//!   meta/ID.damaged           a damaged catalog set aside by a delete
//! ```
//!
//! Deleting needs proof. A shared file is removed only when a record names it (the
//! catalog of a backup being deleted, or the pending record of a backup that never
//! committed) and no committed catalog names it; a temporary file only when its
//! name is ours (`meta/*.tmp`) or a pending record names it. Anything else in the
//! directory is left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use super::catalog::{decode_pending, Catalog};
use crate::error::{Error, Result};
use crate::fs::{FileLock, FsRef};

pub(crate) const SHARED: &str = "shared";
pub(crate) const META: &str = "meta";
const LOCK: &str = "LOCK";
const TMP: &str = ".tmp";
const PENDING: &str = ".pending";
const DELETING: &str = ".deleting";
const DAMAGED: &str = ".damaged";

/// A backup directory, by path, on a file system.
pub(crate) struct BackupDir<'a> {
    pub fs: &'a FsRef,
    pub path: &'a Path,
}

/// What a name in `meta/` is.
#[derive(Debug, PartialEq, Eq)]
enum MetaName {
    Catalog(u64),
    Pending(u64),
    Deleting(u64),
    Damaged(u64),
    Temp,
    Other,
}

fn classify(name: &str) -> MetaName {
    let id = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(n) = id(name) {
        return MetaName::Catalog(n);
    }
    if let Some(stem) = name.strip_suffix(TMP) {
        let stem = stem
            .strip_suffix(PENDING)
            .or_else(|| stem.strip_suffix(DELETING))
            .unwrap_or(stem);
        return if id(stem).is_some() {
            MetaName::Temp
        } else {
            MetaName::Other
        };
    }
    if let Some(n) = name.strip_suffix(PENDING).and_then(id) {
        return MetaName::Pending(n);
    }
    if let Some(n) = name.strip_suffix(DELETING).and_then(id) {
        return MetaName::Deleting(n);
    }
    if let Some(n) = name.strip_suffix(DAMAGED).and_then(id) {
        return MetaName::Damaged(n);
    }
    MetaName::Other
}

impl<'a> BackupDir<'a> {
    pub fn new(fs: &'a FsRef, path: &'a Path) -> Self {
        BackupDir { fs, path }
    }

    pub fn shared(&self) -> PathBuf {
        self.path.join(SHARED)
    }

    pub fn meta(&self) -> PathBuf {
        self.path.join(META)
    }

    pub fn catalog_path(&self, id: u64) -> PathBuf {
        self.meta().join(id.to_string())
    }

    pub fn pending_path(&self, id: u64) -> PathBuf {
        self.meta().join(format!("{id}{PENDING}"))
    }

    fn deleting_path(&self, id: u64) -> PathBuf {
        self.meta().join(format!("{id}{DELETING}"))
    }

    /// Refuses a path that is not a backup directory (no `meta/`), with `NotFound`.
    pub fn require(&self) -> Result<()> {
        if self.fs.exists(&self.meta()) {
            return Ok(());
        }
        Err(Error::io(
            self.path,
            io::Error::new(io::ErrorKind::NotFound, "not a backup directory (no meta/)"),
        ))
    }

    /// Makes `path` a backup directory if it is missing or empty; accepts one that is
    /// already a backup directory; refuses anything else (someone else's directory).
    pub fn create(&self) -> Result<()> {
        let (fs, path) = (self.fs, self.path);
        if fs.exists(path) && !fs.exists(&self.meta()) {
            // Empty, or holding only what an interrupted creation made.
            let names = fs.list(path).map_err(|e| Error::io(path, e))?;
            if names.iter().any(|n| n != SHARED && n != LOCK) {
                return Err(Error::io(
                    path,
                    io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "not a backup directory and not empty (it holds {}): refusing to \
                             write backups into it",
                            names.join(", ")
                        ),
                    ),
                ));
            }
        }
        for dir in [self.shared(), self.meta()] {
            if !fs.exists(&dir) {
                fs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                fs.sync_dir(path).map_err(|e| Error::io(path, e))?;
            }
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
        Ok(())
    }

    /// Takes the directory's lock: one backup, restore or delete at a time.
    pub fn lock(&self) -> Result<Box<dyn FileLock>> {
        let path = self.path.join(LOCK);
        self.fs.lock(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                Error::io(
                    self.path,
                    io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "the backup directory is in use by another backup, restore or delete",
                    ),
                )
            } else {
                Error::io(&path, e)
            }
        })
    }

    fn meta_names(&self) -> Result<Vec<String>> {
        let meta = self.meta();
        self.fs.list(&meta).map_err(|e| Error::io(&meta, e))
    }

    /// The ids of the committed catalogs, in order.
    pub fn catalog_ids(&self) -> Result<Vec<u64>> {
        let mut ids: Vec<u64> = self
            .meta_names()?
            .iter()
            .filter_map(|n| match classify(n) {
                MetaName::Catalog(id) => Some(id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Every committed catalog, by id.
    ///
    /// # Errors
    /// `Corruption` when a catalog is damaged (naming it); `Io`.
    pub fn catalogs(&self) -> Result<BTreeMap<u64, Catalog>> {
        let mut out = BTreeMap::new();
        for id in self.catalog_ids()? {
            match self.catalog(id) {
                Ok(catalog) => {
                    out.insert(id, catalog);
                }
                // Deleted since the listing (a reader takes no lock): not a backup
                // any more.
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The committed catalog of backup `id`.
    ///
    /// # Errors
    /// `Io` of kind `NotFound` when there is no such backup; `Corruption` when its
    /// catalog is damaged or is another backup's.
    pub fn catalog(&self, id: u64) -> Result<Catalog> {
        let path = self.catalog_path(id);
        let data = self.fs.read(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::io(
                    &path,
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no backup {id} in {}", self.path.display()),
                    ),
                )
            } else {
                Error::io(&path, e)
            }
        })?;
        let catalog = Catalog::decode(&path, &data)?;
        if catalog.id != id {
            return Err(Error::Corruption {
                file: path,
                offset: 0,
                reason: format!("backup record: holds backup {}", catalog.id),
            });
        }
        Ok(catalog)
    }

    /// The id the next backup gets: above every id any record in `meta/` uses.
    pub fn next_id(&self) -> Result<u64> {
        let mut max = 0;
        for name in self.meta_names()? {
            if let MetaName::Catalog(n)
            | MetaName::Pending(n)
            | MetaName::Deleting(n)
            | MetaName::Damaged(n) = classify(&name)
            {
                max = max.max(n);
            }
        }
        Ok(max.saturating_add(1))
    }

    /// Writes `data` as `dir/name` durably and atomically: temporary file, fsync,
    /// rename, directory fsync.
    pub fn write_record(&self, path: &Path, data: &[u8]) -> Result<()> {
        let fs = self.fs;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(TMP);
        let tmp = PathBuf::from(tmp);
        {
            let mut file = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            file.write_all(data).map_err(|e| Error::io(&tmp, e))?;
            file.sync().map_err(|e| Error::io(&tmp, e))?;
        }
        fs.rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        let meta = self.meta();
        fs.sync_dir(&meta).map_err(|e| Error::io(&meta, e))
    }

    /// Marks backup `id` deleted: its catalog is renamed to `ID.deleting`, so it
    /// leaves every listing at once while still naming its files for
    /// [`clean`](Self::clean).
    pub fn retire(&self, id: u64) -> Result<()> {
        let (from, to) = (self.catalog_path(id), self.deleting_path(id));
        self.fs
            .rename(&from, &to)
            .map_err(|e| Error::io(&from, e))?;
        let meta = self.meta();
        self.fs.sync_dir(&meta).map_err(|e| Error::io(&meta, e))
    }

    /// Sets the damaged catalog of backup `id` aside as `ID.damaged`: it leaves the
    /// listings, and the files only it used stay in `shared/` (without a readable
    /// catalog nothing proves which they are).
    pub fn set_aside(&self, id: u64) -> Result<()> {
        let from = self.catalog_path(id);
        let to = self.meta().join(format!("{id}{DAMAGED}"));
        self.fs
            .rename(&from, &to)
            .map_err(|e| Error::io(&from, e))?;
        let meta = self.meta();
        self.fs.sync_dir(&meta).map_err(|e| Error::io(&meta, e))
    }

    /// Removes what interrupted backups and deletes left, as far as their records
    /// prove it theirs (see the module documentation), given the committed
    /// catalogs. Call with the lock held. Returns the shared files removed.
    ///
    /// A record that cannot be read is logged and left, with the files it names:
    /// without it there is no proof.
    pub fn clean(&self, committed: &BTreeMap<u64, Catalog>) -> Result<Vec<String>> {
        let fs = self.fs;
        let (meta, shared) = (self.meta(), self.shared());
        let referenced: BTreeSet<String> = committed
            .values()
            .flat_map(|c| c.files.iter().map(|f| f.shared_name()))
            .collect();
        let mut removed = Vec::new();
        let mut records = Vec::new();
        for name in self.meta_names()? {
            let path = meta.join(&name);
            let names = match classify(&name) {
                MetaName::Temp => {
                    remove(fs, &path)?;
                    continue;
                }
                MetaName::Pending(id) if committed.contains_key(&id) => Ok(Vec::new()),
                MetaName::Pending(_) => fs
                    .read(&path)
                    .map_err(|e| Error::io(&path, e))
                    .and_then(|data| decode_pending(&path, &data)),
                MetaName::Deleting(id) => fs
                    .read(&path)
                    .map_err(|e| Error::io(&path, e))
                    .and_then(|data| Catalog::decode(&path, &data))
                    .and_then(|c| {
                        if c.id == id {
                            Ok(c.files.iter().map(|f| f.shared_name()).collect())
                        } else {
                            Err(Error::Corruption {
                                file: path.clone(),
                                offset: 0,
                                reason: format!("backup record: holds backup {}", c.id),
                            })
                        }
                    }),
                MetaName::Catalog(_) | MetaName::Damaged(_) | MetaName::Other => continue,
            };
            match names {
                Ok(names) => {
                    for file in names.into_iter().filter(|n| !referenced.contains(n)) {
                        let tmp = shared.join(format!("{file}{TMP}"));
                        remove(fs, &tmp)?;
                        if remove(fs, &shared.join(&file))? {
                            removed.push(file);
                        }
                    }
                    records.push(path);
                }
                Err(e) => log::warn!("backup: leaving {}: {e}", path.display()),
            }
        }
        if records.is_empty() {
            return Ok(removed);
        }
        // The files first, durably; then the records that named them.
        fs.sync_dir(&shared).map_err(|e| Error::io(&shared, e))?;
        for record in &records {
            remove(fs, record)?;
        }
        fs.sync_dir(&meta).map_err(|e| Error::io(&meta, e))?;
        Ok(removed)
    }
}

/// Removes `path`; a file already gone is fine. True if it was there.
fn remove(fs: &FsRef, path: &Path) -> Result<bool> {
    match fs.remove(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_meta() {
        assert_eq!(classify("12"), MetaName::Catalog(12));
        assert_eq!(classify("12.pending"), MetaName::Pending(12));
        assert_eq!(classify("12.deleting"), MetaName::Deleting(12));
        assert_eq!(classify("12.damaged"), MetaName::Damaged(12));
        assert_eq!(classify("12.tmp"), MetaName::Temp);
        assert_eq!(classify("12.pending.tmp"), MetaName::Temp);
        assert_eq!(classify("notes.tmp"), MetaName::Other);
        assert_eq!(classify("x12"), MetaName::Other);
        assert_eq!(classify(""), MetaName::Other);
        assert_eq!(classify(".pending"), MetaName::Other);
    }
}
