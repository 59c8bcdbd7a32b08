//! Destroying a database: the one place that decides whether a directory is a
//! database whose files may be deleted.
//!
//! Deleting is the one operation no test can undo, so the rule is strict: the
//! directory's `LOCK` is taken first (a database some process has open is refused
//! with [`Error::Locked`]), and a directory holding any entry whose name is not one
//! of ours (`MANIFEST`, `LOCK`, `NNNNNN.seg`, `NNNNNN.wal`, `NNNNNN.blob`, `*.tmp`; see
//! `docs/format.md` section 2) is refused whole, before anything is deleted: it is
//! someone else's directory, or a database with a stranger's files in it, and
//! either way not ours to empty.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, InvalidArgumentKind, Result};
use crate::filenames::{classify, FileKind, LOCK, MANIFEST};
use crate::fs::{FsRef, RealFs};

/// Deletes the database in `path`: every database file, then the directory itself
/// when nothing else is left in it. A `path` that does not exist is not an error
/// (there is nothing to destroy).
///
/// The `MANIFEST` goes first, so a destroy cut short by a crash leaves a directory
/// that [`Db::open`](crate::Db::open) refuses (segment or WAL files without a
/// manifest) rather than a database with some of its files missing; running
/// `destroy` again finishes the job.
///
/// # Errors
/// - [`Error::Locked`] when a [`Db`](crate::Db), in this process or another, has the
///   database open; nothing is deleted.
/// - [`Error::InvalidArgument`] of kind [`InvalidArgumentKind::ForeignFiles`] when
///   the directory holds an entry that is not a database file (a file or subdirectory of another name); nothing is deleted.
/// - [`Error::Io`] when `path` is not a directory or a file cannot be removed; the
///   files removed before the failure stay removed.
///
/// # Examples
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = std::env::temp_dir().join(format!("lsm-destroy-doctest-{}", std::process::id()));
/// let db = Db::open(&dir, Options::default())?;
/// db.put(b"k", b"v")?;
///
/// // An open database is refused: its lock is held.
/// assert!(matches!(lsm_core::destroy(&dir), Err(lsm_core::Error::Locked { .. })));
///
/// db.close()?;
/// lsm_core::destroy(&dir)?;
/// assert!(!dir.exists());
/// # Ok(())
/// # }
/// ```
pub fn destroy(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if !path.exists() {
        return Ok(());
    }
    refuse_non_utf8_names(path)?;
    destroy_with_fs(path, Arc::new(RealFs))?;
    // `FileSystem` has no directory removal (the engine never removes one), so the
    // now empty directory goes here. A database created in it after the lock was
    // released (it is not empty any more) is another process's and stays.
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Like [`destroy`], doing all file I/O through `fs`, and leaving the emptied
/// directory in place ([`FileSystem`](crate::fs::FileSystem) has no way to remove one).
///
/// ```
/// use std::sync::Arc;
/// use lsm_core::{fs::RealFs, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("db");
/// Db::open(&path, Options::default())?.close()?;
/// lsm_core::destroy_with_fs(&path, Arc::new(RealFs))?;
/// assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0); // emptied, still there
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`destroy`].
pub fn destroy_with_fs(path: impl AsRef<Path>, fs: FsRef) -> Result<()> {
    let (path, fs) = (path.as_ref(), &fs);
    if !fs.exists(path) {
        return Ok(());
    }
    // Before locking: taking the lock creates `LOCK`, which must not appear in a
    // directory that is not a database.
    refuse_foreign(path, &list(fs, path)?)?;
    let lock = fs.lock(&path.join(LOCK)).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            Error::Locked {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path.join(LOCK), e)
        }
    })?;
    // Again under the lock: the first listing may predate a writer that just closed.
    let mut names = list(fs, path)?;
    refuse_foreign(path, &names)?;
    // The manifest first (see `destroy`), the lock we hold last.
    names.sort_by_key(|n| match n.as_str() {
        MANIFEST => 0,
        LOCK => 2,
        _ => 1,
    });
    for name in &names {
        let file = path.join(name);
        match fs.remove(&file) {
            Ok(()) => {}
            // Gone already (a temporary file its writer removed): nothing to do.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(file, e)),
        }
    }
    fs.sync_dir(path).map_err(|e| Error::io(path, e))?;
    drop(lock);
    Ok(())
}

fn list(fs: &FsRef, path: &Path) -> Result<Vec<String>> {
    fs.list(path).map_err(|e| Error::io(path, e))
}

fn refuse_foreign(path: &Path, names: &[String]) -> Result<()> {
    match names.iter().find(|n| classify(n) == FileKind::Other) {
        Some(name) => Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::ForeignFiles,
            message: format!(
                "{} holds {name}, which is not a database file: refusing to destroy it",
                path.display()
            ),
        }),
        None => Ok(()),
    }
}

/// The real file system's listing skips names that are not UTF-8 (they cannot be
/// engine files); to the rule that a directory with foreign entries is never
/// emptied, they are foreign.
fn refuse_non_utf8_names(path: &Path) -> Result<()> {
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        if entry.file_name().to_str().is_none() {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::ForeignFiles,
                message: format!(
                    "{} holds {}, which is not a database file: refusing to destroy it",
                    path.display(),
                    entry.file_name().to_string_lossy()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::SimFs;

    fn sim_with(names: &[&str]) -> (FsRef, &'static Path) {
        let fs: FsRef = Arc::new(SimFs::new());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        for name in names {
            drop(fs.create(&dir.join(name)).unwrap());
        }
        (fs, dir)
    }

    #[test]
    fn removes_every_database_file() {
        let names = [
            "MANIFEST",
            "MANIFEST.tmp",
            "000003.seg",
            "000004.seg.tmp",
            "000005.wal",
            "LOCK",
        ];
        let (fs, dir) = sim_with(&names);
        destroy_with_fs(dir, fs.clone()).unwrap();
        assert_eq!(fs.list(dir).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_foreign_file_stops_everything() {
        let (fs, dir) = sim_with(&["MANIFEST", "000003.seg", "notes.txt"]);
        let err = destroy_with_fs(dir, fs.clone()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidArgument {
                    kind: InvalidArgumentKind::ForeignFiles,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("notes.txt"), "{err}");
        // Nothing deleted, and no LOCK created in a directory that is not ours.
        assert_eq!(
            fs.list(dir).unwrap(),
            ["000003.seg", "MANIFEST", "notes.txt"]
        );
    }

    #[test]
    fn a_subdirectory_is_foreign() {
        let (fs, dir) = sim_with(&["MANIFEST"]);
        fs.create_dir_all(&dir.join("keep")).unwrap();
        assert!(destroy_with_fs(dir, fs.clone()).is_err());
        assert!(fs.exists(&dir.join("MANIFEST")));
    }

    #[test]
    fn a_held_lock_is_refused() {
        let (fs, dir) = sim_with(&["MANIFEST", "000003.seg"]);
        let held = fs.lock(&dir.join(LOCK)).unwrap();
        let err = destroy_with_fs(dir, fs.clone()).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert!(fs.exists(&dir.join("000003.seg")));
        drop(held);
        destroy_with_fs(dir, fs.clone()).unwrap();
        assert!(!fs.exists(&dir.join("000003.seg")));
    }

    #[test]
    fn a_missing_directory_is_nothing_to_do() {
        let fs: FsRef = Arc::new(SimFs::new());
        destroy_with_fs("/nowhere", fs).unwrap();
        destroy(std::env::temp_dir().join("lsm-destroy-surely-missing/x")).unwrap();
    }
}
