//! New database directories built under a temporary name and renamed into place, so
//! that a checkpoint or a restore leaves either no destination or a complete one.
//!
//! A copy into `DIR/NAME` is written into the staging directory
//! `DIR/.NAME.staging-PID-N` (PID: this process's id; N: a counter of this
//! process), everything in it fsynced and its manifest written last; then the
//! staging directory is renamed to `DIR/NAME` ([`FileSystem::rename_dir`], which
//! never replaces an existing `NAME`) and `DIR` is fsynced. A crash before that
//! fsync leaves no `NAME`, at most a staging directory; after it, `NAME` is whole.
//!
//! On an error the staging directory is removed again (its files, then the empty
//! directory). What a crash or a failed removal leaves behind is removed by a later
//! copy to the same `NAME` only when it can prove the leftover is dead and its own:
//! the name carries this process's id (no other live process has it) with a
//! counter no running copy of this process holds, and it holds only files the
//! engine writes (segments, a manifest, temporary files). Any other staging
//! directory is left alone; when no checkpoint or restore is running, the user
//! deletes `DIR/.NAME.staging-*` by hand.
//!
//! [`FileSystem::rename_dir`]: super::FileSystem::rename_dir

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::FsRef;
use crate::error::{Error, Result};
use crate::filenames::{classify, FileKind};

/// The next counter value of a staging directory of this process.
static NEXT: AtomicU64 = AtomicU64::new(0);
/// Counters of the staging directories this process is building now.
static IN_USE: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

/// A staging directory being built; removed again when dropped uncommitted.
pub(crate) struct Staging {
    fs: FsRef,
    dir: PathBuf,
    dest: PathBuf,
    n: u64,
    committed: bool,
}

/// Refuses an existing `dest`: a checkpoint or restore never mixes with other files.
///
/// # Errors
/// `Io` of kind `AlreadyExists`.
pub(crate) fn refuse_existing(fs: &FsRef, dest: &Path, what: &str) -> Result<()> {
    if fs.exists(dest) {
        return Err(Error::io(
            dest,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("a {what} needs a new directory"),
            ),
        ));
    }
    Ok(())
}

/// `dest`'s name, which must be UTF-8 (the staging name is built from it).
fn dest_name(dest: &Path) -> Result<&str> {
    dest.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::io(
            dest,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the destination needs a UTF-8 directory name",
            ),
        )
    })
}

/// The directory holding `dest` (`.` for a bare relative name).
fn parent_of(dest: &Path) -> &Path {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The prefix of the staging names of this process for `name`.
fn own_prefix(name: &str) -> String {
    format!(".{name}.staging-{}-", std::process::id())
}

impl Staging {
    /// Refuses an existing `dest`, removes this process's provably dead leftovers
    /// for `dest`, and creates a new, empty staging directory beside it.
    ///
    /// # Errors
    /// `Io`: `AlreadyExists` for an existing `dest`, `InvalidInput` for a
    /// destination without a UTF-8 name, and from listing `dest`'s parent or
    /// creating the directory.
    pub(crate) fn begin(fs: &FsRef, dest: &Path, what: &str) -> Result<Staging> {
        refuse_existing(fs, dest, what)?;
        let prefix = own_prefix(dest_name(dest)?);
        remove_own_leftovers(fs, parent_of(dest), &prefix)?;
        let (n, dir) = loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = dest.with_file_name(format!("{prefix}{n}"));
            // A leftover of an earlier process with the same id that could not be
            // removed keeps its name; never build inside it.
            if !fs.exists(&dir) {
                IN_USE.lock().insert(n);
                break (n, dir);
            }
        };
        let staging = Staging {
            fs: fs.clone(),
            dir,
            dest: dest.to_path_buf(),
            n,
            committed: false,
        };
        fs.create_dir_all(&staging.dir)
            .map_err(|e| Error::io(&staging.dir, e))?;
        Ok(staging)
    }

    /// The staging directory, where the caller writes the copy.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Renames the finished staging directory to `dest` and makes the new name
    /// durable. The caller has fsynced every file and the staging directory.
    ///
    /// # Errors
    /// `Io` from the rename (`AlreadyExists` when `dest` appeared meanwhile: it is
    /// kept, and the staging directory removed) or from the parent's fsync (then
    /// `dest` is complete, but its name may not survive a power loss).
    pub(crate) fn commit(mut self) -> Result<()> {
        self.fs
            .rename_dir(&self.dir, &self.dest)
            .map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        let parent = parent_of(&self.dest);
        self.fs.sync_dir(parent).map_err(|e| Error::io(parent, e))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            if let Err(e) = remove_staging(&self.fs, &self.dir) {
                log::warn!(
                    "could not remove the staging directory {}: {e}; delete it when no \
                     checkpoint or restore is running",
                    self.dir.display()
                );
            }
        }
        IN_USE.lock().remove(&self.n);
    }
}

/// Removes the staging directories of this process in `parent` that no running
/// copy holds (names starting with `prefix` followed by a counter not in use). A
/// leftover that cannot be removed stays (and is logged).
///
/// # Errors
/// `Io` when `parent` cannot be listed (a missing `parent` is fine: it has no
/// leftovers, and creating the staging directory creates it).
fn remove_own_leftovers(fs: &FsRef, parent: &Path, prefix: &str) -> Result<()> {
    let names = match fs.list(parent) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(parent, e)),
    };
    for name in names {
        let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if IN_USE.lock().contains(&n) {
            continue;
        }
        let dir = parent.join(&name);
        match remove_staging(fs, &dir) {
            Ok(()) => log::info!("removed the leftover staging directory {}", dir.display()),
            Err(e) => log::warn!("left the staging directory {}: {e}", dir.display()),
        }
    }
    Ok(())
}

/// Removes a staging directory: its files, when all are files the engine writes
/// into one, then the directory itself.
fn remove_staging(fs: &FsRef, dir: &Path) -> io::Result<()> {
    let names = fs.list(dir)?;
    if let Some(foreign) = names.iter().find(|name| {
        !matches!(
            classify(name),
            FileKind::Segment(_) | FileKind::Manifest | FileKind::Temp
        )
    }) {
        return Err(io::Error::other(format!(
            "{foreign} is not a file a checkpoint or restore writes"
        )));
    }
    for name in &names {
        fs.remove(&dir.join(name))?;
    }
    fs.remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, SimFs};

    fn setup() -> (SimFs, FsRef) {
        let sim = SimFs::new();
        sim.create_dir_all(Path::new("/p")).unwrap();
        let fs = sim.fs_ref();
        (sim, fs)
    }

    #[test]
    fn a_dropped_staging_directory_is_removed_and_a_committed_one_is_renamed() {
        let (sim, fs) = setup();
        let dest = Path::new("/p/dest");
        let staging = Staging::begin(&fs, dest, "test").unwrap();
        let dir = staging.path().to_path_buf();
        assert!(dir
            .to_str()
            .unwrap()
            .starts_with(&format!("/p/.dest.staging-{}-", std::process::id())));
        sim.write_file_raw(&dir.join("000001.seg"), b"x").unwrap();
        drop(staging);
        assert!(!sim.exists(&dir));

        let staging = Staging::begin(&fs, dest, "test").unwrap();
        sim.write_file_raw(&staging.path().join("MANIFEST"), b"m")
            .unwrap();
        staging.commit().unwrap();
        assert_eq!(sim.list(Path::new("/p")).unwrap(), vec!["dest".to_string()]);
        assert_eq!(sim.read_file(&dest.join("MANIFEST")).unwrap(), b"m");
        let err = Staging::begin(&fs, dest, "test").err().unwrap();
        assert!(err.to_string().contains("needs a new directory"), "{err}");
    }

    #[test]
    fn only_own_dead_leftovers_with_engine_files_are_removed() {
        let (sim, fs) = setup();
        let prefix = own_prefix("dest");
        let own = PathBuf::from(format!("/p/{prefix}999999"));
        let foreign_files = PathBuf::from(format!("/p/{prefix}999998"));
        let other_process = PathBuf::from("/p/.dest.staging-0-1");
        for dir in [&own, &foreign_files, &other_process] {
            sim.create_dir_all(dir).unwrap();
            sim.write_file_raw(&dir.join("000002.seg"), b"s").unwrap();
        }
        sim.write_file_raw(&foreign_files.join("notes.txt"), b"mine")
            .unwrap();
        // A staging directory in use by this process is never swept.
        let running = Staging::begin(&fs, Path::new("/p/dest"), "test").unwrap();
        let second = Staging::begin(&fs, Path::new("/p/dest"), "test").unwrap();
        assert!(sim.exists(running.path()) && sim.exists(second.path()));
        assert!(!sim.exists(&own));
        assert!(sim.exists(&foreign_files.join("notes.txt")));
        assert!(sim.exists(&foreign_files.join("000002.seg")));
        assert!(sim.exists(&other_process.join("000002.seg")));
    }

    #[test]
    fn a_destination_that_appears_before_the_rename_is_kept() {
        let (sim, fs) = setup();
        let dest = Path::new("/p/dest");
        let staging = Staging::begin(&fs, dest, "test").unwrap();
        let dir = staging.path().to_path_buf();
        sim.write_file_raw(&dir.join("000001.seg"), b"x").unwrap();
        sim.create_dir_all(dest).unwrap();
        let err = staging.commit().unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists),
            "{err}"
        );
        assert!(sim.exists(dest) && sim.list(dest).unwrap().is_empty());
        assert!(!sim.exists(&dir));
    }
}
