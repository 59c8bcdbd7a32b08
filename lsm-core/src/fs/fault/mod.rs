//! A fault-injecting wrapper around any [`FileSystem`].
//!
//! Disks fail: a write runs out of space, an fsync reports EIO, a rename is refused.
//! The engine must turn each of these into an error (and, after a failed sync, refuse
//! further writes) instead of losing or corrupting data. [`FaultFs`] counts every
//! operation per [`FaultKind`] and fails a chosen one, so a test can walk a workload
//! failing its 1st, 2nd, ... write, sync or rename in turn. Wrapping a
//! [`SimFs`](super::SimFs) combines this with crash simulation.

mod plan;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use self::plan::{Faults, Verdict};
use super::{FileLock, FileSystem, FsRef, MappedFile, ReadAt, WritableFile};

pub use self::plan::{FaultKind, FaultMode, InjectedFault};

/// Wraps a file system and fails chosen operations. Clones share counters and
/// armed faults, so a test keeps one clone while the engine holds another.
#[derive(Clone)]
pub struct FaultFs {
    inner: FsRef,
    faults: Arc<Mutex<Faults>>,
}

impl fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultFs")
            .field("faults", &*self.faults.lock())
            .finish_non_exhaustive()
    }
}

impl FaultFs {
    /// Wraps `inner`, with no fault armed.
    pub fn new(inner: FsRef) -> FaultFs {
        FaultFs {
            inner,
            faults: Arc::default(),
        }
    }

    /// A shared handle to this file system, to give to the engine.
    pub fn fs_ref(&self) -> FsRef {
        Arc::new(self.clone())
    }

    /// Arms a fault: the `k`-th operation of `kind` from now on (`k = 1` is the next
    /// one) fails, and with [`FaultMode::Persistent`] every later one too. Replaces
    /// any fault armed for `kind`; faults of other kinds stay armed.
    ///
    /// # Panics
    /// If `k` is 0.
    pub fn fail(&self, kind: FaultKind, k: u64, mode: FaultMode) {
        assert!(k > 0, "operations are counted from 1");
        self.faults.lock().arm(kind, k, mode);
    }

    /// Disarms every fault. Counters keep counting.
    pub fn clear(&self) {
        self.faults.lock().disarm_all();
    }

    /// Operations of `kind` attempted so far, failed ones included.
    pub fn count(&self, kind: FaultKind) -> u64 {
        self.faults.lock().count(kind)
    }

    /// Failures injected so far.
    pub fn injected(&self) -> u64 {
        self.faults.lock().injected()
    }

    /// True if `err` is (or wraps) a failure injected by a `FaultFs`.
    pub fn is_injected(err: &io::Error) -> bool {
        err.get_ref().is_some_and(|e| e.is::<InjectedFault>())
    }

    fn gate(&self, kind: FaultKind) -> io::Result<()> {
        self.faults.lock().gate(kind)
    }
}

/// Positional reads of a file mapped through a [`FaultFs`]: each counts (and may
/// fail) as a [`FaultKind::Read`].
struct FaultReadAt {
    inner: Arc<dyn ReadAt>,
    faults: Arc<Mutex<Faults>>,
}

impl ReadAt for FaultReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.faults.lock().gate(FaultKind::Read)?;
        self.inner.read_exact_at(buf, offset)
    }
}

/// A file opened through a [`FaultFs`]: its writes and syncs are counted too.
struct FaultFile {
    inner: Box<dyn WritableFile>,
    faults: Arc<Mutex<Faults>>,
}

impl WritableFile for FaultFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let verdict = self.faults.lock().check(FaultKind::Write);
        match verdict {
            Verdict::Proceed => self.inner.write_all(buf),
            Verdict::Fail(err) => Err(err),
            Verdict::Partial(err) => {
                let half = buf.get(..buf.len() / 2).unwrap_or_default();
                self.inner.write_all(half)?;
                Err(err)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.faults.lock().gate(FaultKind::Sync)?;
        self.inner.sync()
    }

    fn preallocate(&mut self, size: u64) -> io::Result<()> {
        self.faults.lock().gate(FaultKind::SetLen)?;
        self.inner.preallocate(size)
    }

    fn trim(&mut self) -> io::Result<()> {
        self.faults.lock().gate(FaultKind::SetLen)?;
        self.inner.trim()
    }

    fn start_writeback(&mut self, range: std::ops::Range<u64>) {
        self.inner.start_writeback(range);
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl FaultFs {
    fn wrap(&self, inner: Box<dyn WritableFile>) -> Box<dyn WritableFile> {
        Box::new(FaultFile {
            inner,
            faults: Arc::clone(&self.faults),
        })
    }
}

impl FileSystem for FaultFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.gate(FaultKind::CreateDir)?;
        self.inner.create_dir_all(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.gate(FaultKind::Create)?;
        Ok(self.wrap(self.inner.create(path)?))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.gate(FaultKind::Open)?;
        Ok(self.wrap(self.inner.open_append(path)?))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.gate(FaultKind::Read)?;
        self.inner.read(path)
    }

    fn map(&self, path: &Path) -> io::Result<MappedFile> {
        self.gate(FaultKind::Read)?;
        let mapped = self.inner.map(path)?;
        Ok(match mapped.read_at().cloned() {
            Some(inner) => mapped.with_read_at(Arc::new(FaultReadAt {
                inner,
                faults: self.faults.clone(),
            })),
            None => mapped,
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.gate(FaultKind::Rename)?;
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.gate(FaultKind::Remove)?;
        self.inner.remove(path)
    }

    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.gate(FaultKind::RenameDir)?;
        self.inner.rename_dir(from, to)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.gate(FaultKind::RemoveDir)?;
        self.inner.remove_dir(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.gate(FaultKind::SyncDir)?;
        self.inner.sync_dir(path)
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        self.gate(FaultKind::List)?;
        self.inner.list(path)
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        self.inner.size(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.gate(FaultKind::Lock)?;
        self.inner.lock(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::SimFs;

    fn setup() -> (SimFs, FaultFs) {
        let sim = SimFs::new();
        sim.create_dir_all(Path::new("/d")).unwrap();
        let fault = FaultFs::new(sim.fs_ref());
        (sim, fault)
    }

    #[test]
    fn counts_every_kind() {
        let (_sim, fs) = setup();
        let mut f = fs.create(Path::new("/d/a")).unwrap();
        f.write_all(b"x").unwrap();
        f.write_all(b"y").unwrap();
        f.sync().unwrap();
        fs.rename(Path::new("/d/a"), Path::new("/d/b")).unwrap();
        fs.map(Path::new("/d/b")).unwrap();
        assert_eq!(fs.count(FaultKind::Create), 1);
        assert_eq!(fs.count(FaultKind::Write), 2);
        assert_eq!(fs.count(FaultKind::Sync), 1);
        assert_eq!(fs.count(FaultKind::Rename), 1);
        assert_eq!(fs.count(FaultKind::Read), 1);
        assert_eq!(fs.injected(), 0);
    }

    #[test]
    fn partial_write_writes_half_then_fails() {
        let (sim, fs) = setup();
        let mut f = fs.create(Path::new("/d/a")).unwrap();
        fs.fail(FaultKind::Write, 1, FaultMode::PartialOnce);
        let err = f.write_all(b"abcdef").unwrap_err();
        assert!(FaultFs::is_injected(&err));
        assert!(err.to_string().contains("injected"));
        assert_eq!(sim.read_file(Path::new("/d/a")).unwrap(), b"abc");
        f.write_all(b"g").unwrap();
        assert_eq!(sim.read_file(Path::new("/d/a")).unwrap(), b"abcg");
    }

    #[test]
    fn clear_disarms() {
        let (_sim, fs) = setup();
        fs.fail(FaultKind::SyncDir, 1, FaultMode::Persistent);
        assert!(fs.sync_dir(Path::new("/d")).is_err());
        fs.clear();
        fs.sync_dir(Path::new("/d")).unwrap();
        assert_eq!(fs.count(FaultKind::SyncDir), 2);
    }

    #[test]
    fn directory_renames_and_removals_are_counted_and_injectable() {
        let (sim, fs) = setup();
        fs.create_dir_all(Path::new("/d/s")).unwrap();
        fs.fail(FaultKind::RenameDir, 1, FaultMode::Once);
        let err = fs
            .rename_dir(Path::new("/d/s"), Path::new("/d/t"))
            .unwrap_err();
        assert!(FaultFs::is_injected(&err));
        assert!(sim.exists(Path::new("/d/s")) && !sim.exists(Path::new("/d/t")));
        fs.rename_dir(Path::new("/d/s"), Path::new("/d/t")).unwrap();
        assert!(sim.exists(Path::new("/d/t")));
        fs.fail(FaultKind::RemoveDir, 1, FaultMode::Once);
        assert!(FaultFs::is_injected(
            &fs.remove_dir(Path::new("/d/t")).unwrap_err()
        ));
        assert!(sim.exists(Path::new("/d/t")));
        fs.remove_dir(Path::new("/d/t")).unwrap();
        assert!(!sim.exists(Path::new("/d/t")));
        assert_eq!(fs.count(FaultKind::RenameDir), 2);
        assert_eq!(fs.count(FaultKind::RemoveDir), 2);
        assert_eq!(fs.count(FaultKind::Rename), 0);
        assert_eq!(fs.injected(), 2);
    }

    #[test]
    fn real_errors_are_not_injected() {
        let (_sim, fs) = setup();
        let err = fs.read(Path::new("/d/missing")).unwrap_err();
        assert!(!FaultFs::is_injected(&err));
    }
}
