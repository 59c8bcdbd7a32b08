//! A simulated in-memory disk that can lose power, for crash-consistency tests.
//!
//! [`SimFs`] keeps, for every file, the bytes a reader sees now and the bytes the
//! last sync made durable, and for every directory the names it holds now and the
//! names the last `sync_dir` made durable (see `state.rs`). [`SimFs::crash`] builds
//! the disk a power loss would leave behind (see `crash.rs` and [`CrashMode`]), so a
//! test can run the engine, crash, reopen and check that every acknowledged write
//! survived, for many seeds and modes.
//!
//! A `SimFs` is a cheap handle: clones share one disk. A test keeps one clone while
//! the engine holds another as its [`FsRef`].

mod crash;
mod handles;
mod state;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use self::handles::{SimFile, SimLock};
use self::state::{normalize, not_found, split, DirChange, Ino, Inode, State};
use super::{FileLock, FileSystem, FsRef, MappedFile, ReadAt, WritableFile};

/// Positional reads of a mapped file's bytes, as the real file system's `pread`.
struct MemoryReadAt(Bytes);

impl ReadAt for MemoryReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.0.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

pub use self::crash::{CrashMode, PAGE_SIZE};

/// A simulated disk. Clones share the same disk.
///
/// Reads (and [`FileSystem::map`], which returns a copy) see every write at once;
/// only [`SimFs::crash`] distinguishes durable from written data. Directories are
/// durable as soon as they are created; files and their names are not, nor are
/// directory renames and removals before a sync of the parent.
#[derive(Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("SimFs")
            .field("dirs", &state.dirs.len())
            .field("inodes", &state.inodes.len())
            .field("ops", &state.ops)
            .finish()
    }
}

impl SimFs {
    /// An empty disk.
    pub fn new() -> SimFs {
        SimFs::default()
    }

    /// A shared handle to this disk, to give to the engine.
    pub fn fs_ref(&self) -> FsRef {
        Arc::new(self.clone())
    }

    /// The disk after a power loss in `mode`: a new, independent disk with no locks
    /// held and a zero operation count. Deterministic given `seed`; `self` is not
    /// changed, so the same moment can be crashed in many ways, and an engine still
    /// running on `self` cannot disturb the crashed copy.
    pub fn crash(&self, mode: CrashMode, seed: u64) -> SimFs {
        let crashed = self.state.lock().crashed(mode, seed);
        SimFs {
            state: Arc::new(Mutex::new(crashed)),
        }
    }

    /// Number of mutating operations so far (create, open for append, write, sync,
    /// rename, remove, directory create, sync, rename and removal, lock), including
    /// failed ones.
    pub fn op_count(&self) -> u64 {
        self.state.lock().ops
    }

    /// Cuts the power after `ops` more mutating operations: from then on every
    /// mutating operation fails and changes nothing, until [`SimFs::crash`] gives
    /// a fresh disk. Reads keep working. With a loop over `ops`, a test can crash an
    /// engine at every step of a workload.
    pub fn power_off_after(&self, ops: u64) {
        let mut state = self.state.lock();
        state.op_limit = Some(state.ops.saturating_add(ops));
    }

    /// True once [`SimFs::power_off_after`]'s budget is used up.
    pub fn is_powered_off(&self) -> bool {
        let state = self.state.lock();
        state.op_limit.is_some_and(|limit| state.ops >= limit)
    }

    /// The current contents of a file.
    ///
    /// # Errors
    /// `NotFound` if there is no such file.
    pub fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read(path)
    }

    /// Replaces a file's contents with `data`, durably, creating it (with a durable
    /// name) if missing. Not counted as an operation: tests use it to corrupt files
    /// between a crash and a reopen.
    ///
    /// # Errors
    /// `NotFound` if the directory does not exist.
    pub fn write_file_raw(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.state.lock();
        let ino = state.create_file(&path)?;
        let inode = state.inode_mut(ino)?;
        let handles = inode.handles;
        *inode = Inode::durable(data.to_vec());
        inode.handles = handles;
        let (dir, name) = split(&path)?;
        state.dir_mut(&dir)?.durable.insert(name, ino);
        Ok(())
    }

    /// Sorted names of the files (not subdirectories) in `dir`; empty if `dir` does
    /// not exist.
    pub fn file_names(&self, dir: &Path) -> Vec<String> {
        let state = self.state.lock();
        state
            .dir(&normalize(dir))
            .map(|d| d.entries.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Opens `path` for appending after `prepare` (which creates or truncates it).
    fn open_with(
        &self,
        path: &Path,
        prepare: impl FnOnce(&mut State, &Path) -> io::Result<Ino>,
    ) -> io::Result<Box<dyn WritableFile>> {
        let path = normalize(path);
        let mut state = self.state.lock();
        state.begin_op()?;
        let ino = prepare(&mut state, &path)?;
        let inode = state.inode_mut(ino)?;
        inode.handles += 1;
        let pos = inode.len();
        Ok(Box::new(SimFile {
            state: Arc::clone(&self.state),
            ino,
            pos,
        }))
    }
}

impl FileSystem for SimFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.state.lock();
        state.begin_op()?;
        for dir in path.ancestors() {
            if state.lookup(dir).is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: a file is in the way", dir.display()),
                ));
            }
            state.dirs.entry(dir.to_path_buf()).or_default();
        }
        Ok(())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.open_with(path, |state, path| {
            let ino = state.create_file(path)?;
            state.inode_mut(ino)?.truncate();
            Ok(ino)
        })
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.open_with(path, |state, path| {
            state.lookup(path).ok_or_else(|| not_found(path))
        })
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let path = normalize(path);
        let state = self.state.lock();
        let ino = state.lookup(&path).ok_or_else(|| not_found(&path))?;
        Ok(state
            .inodes
            .get(&ino)
            .map(|i| i.contents())
            .unwrap_or_default())
    }

    fn map(&self, path: &Path) -> io::Result<MappedFile> {
        let bytes = Bytes::from(self.read(path)?);
        Ok(MappedFile::in_memory(bytes.clone()).with_read_at(Arc::new(MemoryReadAt(bytes))))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        let mut state = self.state.lock();
        state.begin_op()?;
        let ino = state.lookup(&from).ok_or_else(|| not_found(&from))?;
        let (to_dir, to_name) = split(&to)?;
        state.dir_mut(&to_dir)?.entries.insert(to_name, ino);
        let (from_dir, from_name) = split(&from)?;
        if from != to {
            state.dir_mut(&from_dir)?.entries.remove(&from_name);
        }
        state.collect_garbage();
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.state.lock();
        state.begin_op()?;
        let (dir, name) = split(&path)?;
        state
            .dir_mut(&dir)?
            .entries
            .remove(&name)
            .ok_or_else(|| not_found(&path))?;
        state.collect_garbage();
        Ok(())
    }

    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        let mut state = self.state.lock();
        state.begin_op()?;
        if from.parent().is_none() || !state.dirs.contains_key(&from) {
            return Err(match state.lookup(&from) {
                Some(_) => io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: not a directory", from.display()),
                ),
                None => not_found(&from),
            });
        }
        if state.dirs.contains_key(&to) || state.lookup(&to).is_some() || to.parent().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists", to.display()),
            ));
        }
        let to_parent = to.parent().unwrap_or(Path::new(""));
        if to_parent.parent().is_some() && !state.dirs.contains_key(to_parent) {
            return Err(not_found(to_parent));
        }
        if to.starts_with(&from) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is inside {}", to.display(), from.display()),
            ));
        }
        if state.pending_below(&from) || state.pending_below(&to) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{}: holds a directory change not yet synced (not simulated)",
                    from.display()
                ),
            ));
        }
        state.move_tree(&from, &to);
        state.pending.push(DirChange::Renamed {
            from,
            to,
            synced: [false; 2],
        });
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.state.lock();
        state.begin_op()?;
        let dir = state.dir(&path).ok_or_else(|| not_found(&path))?;
        let has_subdirs = state
            .dirs
            .keys()
            .any(|d| d.parent() == Some(path.as_path()));
        if !dir.entries.is_empty() || has_subdirs || path.parent().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::DirectoryNotEmpty,
                format!("{}: directory not empty", path.display()),
            ));
        }
        if state.pending_below(&path) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{}: holds a directory change not yet synced (not simulated)",
                    path.display()
                ),
            ));
        }
        if let Some(dir) = state.dirs.remove(&path) {
            state.pending.push(DirChange::Removed { path, dir });
        }
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.state.lock();
        state.begin_op()?;
        let dir = state.dir_mut(&path)?;
        dir.durable = dir.entries.clone();
        state.settle_pending(&path);
        state.collect_garbage();
        Ok(())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let path = normalize(path);
        let state = self.state.lock();
        let dir = state.dir(&path).ok_or_else(|| not_found(&path))?;
        let subdirs = state
            .dirs
            .keys()
            .filter(|d| d.parent() == Some(path.as_path()))
            .filter_map(|d| d.file_name()?.to_str().map(str::to_string));
        let mut names: Vec<String> = dir.entries.keys().cloned().chain(subdirs).collect();
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        let path = normalize(path);
        let state = self.state.lock();
        state.dirs.contains_key(&path) || state.lookup(&path).is_some()
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        let path = normalize(path);
        let state = self.state.lock();
        let ino = state.lookup(&path).ok_or_else(|| not_found(&path))?;
        Ok(state.inodes.get(&ino).map_or(0, |i| i.len() as u64))
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let path = normalize(path);
        let mut state = self.state.lock();
        state.begin_op()?;
        if state.locks.contains(&path) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another holder", path.display()),
            ));
        }
        // Like the real file system, locking creates the (empty) lock file.
        state.create_file(&path)?;
        state.locks.insert(path.clone());
        Ok(Box::new(SimLock {
            state: Arc::clone(&self.state),
            path,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(fs: &SimFs, path: &str, data: &[u8], sync: bool) {
        let mut f = fs.create(Path::new(path)).unwrap();
        f.write_all(data).unwrap();
        if sync {
            f.sync().unwrap();
        }
    }

    #[test]
    fn reads_see_unsynced_writes() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/db")).unwrap();
        write(&fs, "/db/a", b"abc", false);
        assert_eq!(fs.read_file(Path::new("/db/a")).unwrap(), b"abc");
        assert_eq!(&fs.map(Path::new("/db/./a")).unwrap().bytes[..], b"abc");
        assert_eq!(fs.size(Path::new("/db/a")).unwrap(), 3);
        assert_eq!(fs.list(Path::new("/")).unwrap(), vec!["db".to_string()]);
        assert_eq!(fs.file_names(Path::new("/db")), vec!["a".to_string()]);
    }

    #[test]
    fn missing_directory_is_not_found() {
        let fs = SimFs::new();
        let err = fs.create(Path::new("/nope/a")).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(fs.list(Path::new("/nope")).is_err());
    }

    #[test]
    fn removed_open_file_stays_writable() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let mut f = fs.create(Path::new("/d/a")).unwrap();
        fs.remove(Path::new("/d/a")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.write_all(b"still here").unwrap();
        f.sync().unwrap();
        assert_eq!(f.len(), 10);
        assert!(!fs.exists(Path::new("/d/a")));
        drop(f);
        assert!(fs.state.lock().inodes.is_empty(), "inode was not collected");
    }

    #[test]
    fn power_off_fails_mutations_but_not_reads() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        write(&fs, "/d/a", b"x", true);
        fs.power_off_after(1);
        assert!(!fs.is_powered_off());
        let mut f = fs.open_append(Path::new("/d/a")).unwrap();
        assert!(fs.is_powered_off());
        assert!(f.write_all(b"y").is_err());
        assert_eq!(fs.read_file(Path::new("/d/a")).unwrap(), b"x");
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert!(!after.is_powered_off());
        assert_eq!(after.op_count(), 0);
    }

    #[test]
    fn write_file_raw_is_durable() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        fs.write_file_raw(Path::new("/d/x"), b"raw").unwrap();
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.read_file(Path::new("/d/x")).unwrap(), b"raw");
    }

    #[test]
    fn lock_conflicts_until_dropped_or_crashed() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let guard = fs.lock(Path::new("/d/LOCK")).unwrap();
        let err = fs.lock(Path::new("/d/LOCK")).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        // The lock file was never dir-synced, but the crashed disk is unlocked anyway.
        drop(after.lock(Path::new("/d/LOCK")).unwrap());
        drop(guard);
        drop(fs.lock(Path::new("/d/LOCK")).unwrap());
    }

    fn tree(fs: &SimFs) {
        fs.create_dir_all(Path::new("/p/stage/sub")).unwrap();
        write(fs, "/p/stage/a", b"abc", true);
        fs.sync_dir(Path::new("/p/stage")).unwrap();
    }

    #[test]
    fn a_directory_rename_is_atomic_and_durable_after_the_parent_sync() {
        let fs = SimFs::new();
        tree(&fs);
        fs.rename_dir(Path::new("/p/stage"), Path::new("/p/dest"))
            .unwrap();
        assert!(!fs.exists(Path::new("/p/stage")));
        assert_eq!(fs.read_file(Path::new("/p/dest/a")).unwrap(), b"abc");
        assert!(fs.exists(Path::new("/p/dest/sub")));
        assert_eq!(fs.list(Path::new("/p")).unwrap(), vec!["dest".to_string()]);
        // Before the parent's sync, every crash brings the old name back, whole.
        for mode in CrashMode::ALL {
            let after = fs.crash(mode, 3);
            assert!(!after.exists(Path::new("/p/dest")), "{mode:?}");
            assert_eq!(after.read_file(Path::new("/p/stage/a")).unwrap(), b"abc");
            assert!(after.exists(Path::new("/p/stage/sub")));
        }
        // Syncing another directory changes nothing; the parent's sync settles it.
        fs.sync_dir(Path::new("/p/dest")).unwrap();
        assert!(fs
            .crash(CrashMode::DropUnsynced, 0)
            .exists(Path::new("/p/stage")));
        fs.sync_dir(Path::new("/p")).unwrap();
        for mode in CrashMode::ALL {
            let after = fs.crash(mode, 3);
            assert!(!after.exists(Path::new("/p/stage")), "{mode:?}");
            assert_eq!(after.read_file(Path::new("/p/dest/a")).unwrap(), b"abc");
            assert!(after.exists(Path::new("/p/dest/sub")));
        }
    }

    #[test]
    fn a_rename_between_directories_needs_both_parents_synced() {
        let fs = SimFs::new();
        tree(&fs);
        fs.create_dir_all(Path::new("/q")).unwrap();
        fs.rename_dir(Path::new("/p/stage"), Path::new("/q/dest"))
            .unwrap();
        fs.sync_dir(Path::new("/q")).unwrap();
        assert!(fs
            .crash(CrashMode::DropUnsynced, 0)
            .exists(Path::new("/p/stage")));
        fs.sync_dir(Path::new("/p")).unwrap();
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert!(after.exists(Path::new("/q/dest/a")) && !after.exists(Path::new("/p/stage")));
    }

    #[test]
    fn a_directory_rename_never_replaces_and_counts_as_an_operation() {
        let fs = SimFs::new();
        tree(&fs);
        fs.create_dir_all(Path::new("/p/empty")).unwrap();
        write(&fs, "/p/file", b"", true);
        for target in ["/p/empty", "/p/file", "/p/stage/sub"] {
            let before = fs.op_count();
            let err = fs
                .rename_dir(Path::new("/p/stage"), Path::new(target))
                .unwrap_err();
            assert_eq!(fs.op_count(), before + 1);
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{target}");
        }
        let err = fs
            .rename_dir(Path::new("/p/stage"), Path::new("/p/stage/sub/x"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = fs
            .rename_dir(Path::new("/p/file"), Path::new("/p/x"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = fs
            .rename_dir(Path::new("/p/none"), Path::new("/p/x"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(fs.read_file(Path::new("/p/stage/a")).unwrap(), b"abc");
        assert!(fs.exists(Path::new("/p/empty")));
        fs.power_off_after(0);
        assert!(fs
            .rename_dir(Path::new("/p/stage"), Path::new("/p/x"))
            .is_err());
        assert!(fs.exists(Path::new("/p/stage")));
    }

    #[test]
    fn an_empty_directory_is_removed_durably_after_the_parent_sync() {
        let fs = SimFs::new();
        tree(&fs);
        assert_eq!(
            fs.remove_dir(Path::new("/p/stage")).unwrap_err().kind(),
            io::ErrorKind::DirectoryNotEmpty
        );
        fs.remove_dir(Path::new("/p/stage/sub")).unwrap();
        fs.sync_dir(Path::new("/p/stage")).unwrap();
        // The file's removal is not synced: a crash brings back the directory and
        // the file in it, so the file's inode must outlive the removal.
        fs.remove(Path::new("/p/stage/a")).unwrap();
        fs.remove_dir(Path::new("/p/stage")).unwrap();
        assert!(!fs.exists(Path::new("/p/stage")));
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.read_file(Path::new("/p/stage/a")).unwrap(), b"abc");
        assert!(!after.exists(Path::new("/p/stage/sub")));
        fs.sync_dir(Path::new("/p")).unwrap();
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert!(!after.exists(Path::new("/p/stage")));
        assert!(fs.state.lock().inodes.is_empty(), "inode was not collected");
    }
}
