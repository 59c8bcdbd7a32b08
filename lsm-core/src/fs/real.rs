//! The operating system's file system: `std::fs` for everything, `memmap2` for
//! [`FileSystem::map`].
//!
//! Nothing is buffered here: [`WritableFile::write_all`] hands the bytes to the kernel
//! at once, as the [`FileSystem`] contract requires (a later `read` must see them).
//! Callers batch their own writes. Durability comes only from [`WritableFile::sync`]
//! (`fdatasync`) and [`FileSystem::sync_dir`] (fsync of the directory).
//!
//! [`FileSystem::rename_dir`] must never replace its target, while `rename(2)`
//! replaces an empty directory. On Linux it uses `renameat2` with
//! `RENAME_NOREPLACE`, which checks and renames in one step; where that flag is
//! unsupported (other systems, or a Linux file system that refuses it) it checks
//! that the target is missing, then renames: a directory created by someone else
//! between the two steps is replaced only if it is empty, since renaming onto a
//! non-empty directory fails.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use memmap2::Mmap;
#[cfg(unix)]
use memmap2::UncheckedAdvice;

use super::{FileLock, FileSystem, MappedFile, ReadAt, ResidentPages, WritableFile, RELEASE_ALIGN};

/// A read-only mapping shared by the `Bytes` that reads it and the handle that
/// releases its pages.
#[derive(Clone)]
struct SharedMmap(Arc<Mmap>);

impl AsRef<[u8]> for SharedMmap {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl ResidentPages for SharedMmap {
    #[cfg(unix)]
    fn release(&self, range: Range<usize>) {
        let start = range.start.next_multiple_of(RELEASE_ALIGN);
        let end = range.end.min(self.0.len()) / RELEASE_ALIGN * RELEASE_ALIGN;
        if start >= end {
            return;
        }
        // SAFETY: `MADV_DONTNEED` on this mapping only drops the pages from the
        // process's page tables; it is unsafe in general because on a private or
        // anonymous mapping the next access would see zeros or the file's bytes
        // instead of what was there. This mapping is shared, read-only and
        // file-backed (`Mmap::map`), and the file never changes while mapped (see
        // `map`), so the next access faults in exactly the same bytes from the page
        // cache: no reference into the mapping can observe a difference.
        let advised = unsafe {
            self.0
                .unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start)
        };
        if let Err(e) = advised {
            log::debug!("madvise(DONTNEED) failed: {e}");
        }
    }

    #[cfg(not(unix))]
    fn release(&self, _range: Range<usize>) {}
}

/// The operating system's file system. Stateless: copy it freely.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

/// A read-only file read with `pread` (Unix) or `seek_read` (Windows).
struct PositionalFile(File);

impl PositionalFile {
    /// `None` on platforms without positional reads: the mapping serves every read.
    #[allow(clippy::unnecessary_wraps)]
    fn new(file: File) -> Option<Self> {
        if cfg!(any(unix, windows)) {
            Some(PositionalFile(file))
        } else {
            None
        }
    }
}

impl ReadAt for PositionalFile {
    #[cfg(unix)]
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }

    #[cfg(windows)]
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(&self.0, buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    #[cfg(not(any(unix, windows)))]
    fn read_exact_at(&self, _buf: &mut [u8], _offset: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// An append-only `std::fs::File` that remembers its length, so [`WritableFile::len`]
/// needs no system call.
#[derive(Debug)]
struct RealFile {
    /// Shared with the writeback worker while it starts writeback of a range.
    file: Arc<File>,
    /// Bytes written; the file's cursor is here.
    len: u64,
    /// The file's size on disk: `len`, or more after `preallocate`.
    size: u64,
}

impl WritableFile for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // Positioned writes: the kernel skips the file-position lock and update
        // that `write` takes on every call (this is the WAL's per-put system call).
        #[cfg(unix)]
        std::os::unix::fs::FileExt::write_all_at(&*self.file, buf, self.len)?;
        #[cfg(not(unix))]
        io::Write::write_all(&mut &*self.file, buf)?;
        self.len += buf.len() as u64;
        self.size = self.size.max(self.len);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        // Only data and the length matter to readers; other metadata (mtime) need
        // not be durable, so `fdatasync` suffices.
        self.file.sync_data()
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn preallocate(&mut self, size: u64) -> io::Result<()> {
        if size > self.size {
            // `set_len` leaves the cursor where it is; the new space is a hole that
            // reads as zeros.
            self.file.set_len(size)?;
            self.size = size;
        }
        Ok(())
    }

    fn trim(&mut self) -> io::Result<()> {
        if self.size > self.len {
            self.file.set_len(self.len)?;
            self.size = self.len;
        }
        Ok(())
    }

    fn start_writeback(&mut self, range: std::ops::Range<u64>) {
        let end = range.end.min(self.len);
        if range.start < end {
            super::writeback::start_writeback(Arc::clone(&self.file), range.start..end);
        }
    }
}

/// Holds the locked `LOCK` file open; dropping it releases the lock.
#[derive(Debug)]
struct RealLock {
    file: File,
}

impl FileLock for RealLock {}

impl Drop for RealLock {
    fn drop(&mut self) {
        // Unlock explicitly rather than only closing: the lock belongs to the open
        // file description, which a child process spawned meanwhile shares until it
        // calls `exec` (the descriptor is close-on-exec, but the fork copies it
        // first). Closing our descriptor alone would leave the lock held for that
        // moment, and a reopen right after `close` would find the database locked.
        let _ = self.file.unlock();
    }
}

impl FileSystem for RealFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // std refuses `append` together with `truncate`; a fresh file written
        // sequentially through one handle appends anyway.
        let file = File::create(path)?;
        Ok(Box::new(RealFile {
            file: Arc::new(file),
            len: 0,
            size: 0,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // Not `O_APPEND`: that would write after preallocated space. The cursor is
        // placed at the end once; this handle is the file's only writer.
        let mut file = OpenOptions::new().write(true).open(path)?;
        let len = file.seek(SeekFrom::End(0))?;
        Ok(Box::new(RealFile {
            file: Arc::new(file),
            len,
            size: len,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn map(&self, path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            // mmap of zero bytes fails with EINVAL; an empty file maps to nothing.
            return Ok(MappedFile::in_memory(Bytes::new()));
        }
        // SAFETY: a mapping is undefined behaviour only if the file changes under it.
        // `map` is only called on finished segment files, which the engine writes
        // under a temporary name, fsyncs, renames into place and never modifies or
        // truncates afterwards; it removes them only when no reader holds them (the
        // `Bytes` keeps the `Mmap` alive), and even then unlinking a mapped file on
        // Unix keeps the mapping valid. Nothing else may write to the database
        // directory while it is open (it holds the `LOCK` file).
        let mmap = SharedMmap(Arc::new(unsafe { Mmap::map(&file)? }));
        let mapped = MappedFile::mapped(Bytes::from_owner(mmap.clone()), Arc::new(mmap));
        Ok(match PositionalFile::new(file) {
            Some(read_at) => mapped.with_read_at(Arc::new(read_at)),
            None => mapped,
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
        if !fs::symlink_metadata(from)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a directory", from.display()),
            ));
        }
        rename_no_replace(from, to)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn link_or_copy(&self, from: &Path, to: &Path) -> io::Result<()> {
        match fs::hard_link(from, to) {
            Ok(()) => Ok(()),
            // Another file system, or one without hard links: copy, durably.
            Err(_) => {
                fs::copy(from, to)?;
                File::open(to)?.sync_all()
            }
        }
    }

    #[cfg(unix)]
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        // On Unix a directory's entries become durable by fsyncing the directory.
        File::open(path)?.sync_all()
    }

    #[cfg(not(unix))]
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        // Other platforms cannot open a directory as a file; their file systems
        // (NTFS) journal metadata, so checking that the directory exists is all we do.
        fs::metadata(path).map(|_| ())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path)? {
            // Names that are not UTF-8 cannot be engine files: skip them.
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        // `flock`-style locks belong to the open file description, so a second
        // `lock` in the same process conflicts too, as the contract requires.
        match file.try_lock() {
            Ok(()) => Ok(Box::new(RealLock { file })),
            Err(TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another holder", path.display()),
            )),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Renames `from` to `to` unless `to` exists, atomically where the kernel can.
#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let c_path = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: a path holds a NUL byte", p.display()),
            )
        })
    };
    let (c_from, c_to) = (c_path(from)?, c_path(to)?);
    // SAFETY: both arguments are NUL-terminated strings owned by this frame and alive
    // for the whole call; `renameat2` only reads them, and `AT_FDCWD` makes it
    // resolve relative paths as `rename` does.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c_from.as_ptr(),
            libc::AT_FDCWD,
            c_to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // No `renameat2` (old kernel) or no `RENAME_NOREPLACE` on this file system.
        Some(libc::ENOSYS) | Some(libc::EINVAL) => check_then_rename(from, to),
        _ => Err(err),
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    check_then_rename(from, to)
}

/// The portable fallback of [`rename_no_replace`]; see the module documentation
/// for its window.
fn check_then_rename(from: &Path, to: &Path) -> io::Result<()> {
    let exists = || {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}: already exists", to.display()),
        )
    };
    if fs::symlink_metadata(to).is_ok() {
        return Err(exists());
    }
    fs::rename(from, to).map_err(|e| match e.kind() {
        io::ErrorKind::DirectoryNotEmpty => exists(),
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_the_lock_unlocks_even_while_a_copy_of_the_descriptor_lives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("LOCK");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .unwrap();
        file.try_lock().unwrap();
        // What a child process forked at this moment holds until its `exec`.
        let copy = file.try_clone().unwrap();
        drop(RealLock { file });
        let again = RealFs.lock(&path);
        assert!(again.is_ok(), "still locked: {:?}", again.err());
        drop(copy);
    }

    #[test]
    fn create_write_read_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = RealFs.create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        f.sync().unwrap();
        assert_eq!(f.len(), 5);
        drop(f);
        let mut f = RealFs.open_append(&path).unwrap();
        assert_eq!(f.len(), 5);
        f.write_all(b" world").unwrap();
        assert_eq!(RealFs.read(&path).unwrap(), b"hello world");
        assert_eq!(RealFs.size(&path).unwrap(), 11);
        // `create` truncates an existing file.
        let f = RealFs.create(&path).unwrap();
        assert!(f.is_empty());
        assert_eq!(RealFs.read(&path).unwrap(), b"");
    }

    #[test]
    fn open_append_missing_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = RealFs.open_append(&dir.path().join("nope")).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn rename_remove_list_sync_dir() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        RealFs.create_dir_all(&sub).unwrap();
        RealFs.create(&sub.join("x.tmp")).unwrap();
        RealFs.create(&sub.join("y")).unwrap();
        RealFs.rename(&sub.join("x.tmp"), &sub.join("y")).unwrap();
        RealFs.sync_dir(&sub).unwrap();
        assert_eq!(RealFs.list(&sub).unwrap(), vec!["y".to_string()]);
        RealFs.remove(&sub.join("y")).unwrap();
        assert!(!RealFs.exists(&sub.join("y")));
        assert!(RealFs.list(&sub).unwrap().is_empty());
    }

    #[test]
    fn rename_dir_moves_a_tree_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        RealFs.create_dir_all(&from).unwrap();
        RealFs
            .create(&from.join("f"))
            .unwrap()
            .write_all(b"x")
            .unwrap();
        // An existing target, even an empty directory, is refused and kept.
        RealFs.create_dir_all(&to).unwrap();
        let err = RealFs.rename_dir(&from, &to).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(RealFs.exists(&from.join("f")) && RealFs.exists(&to));
        RealFs.remove_dir(&to).unwrap();
        RealFs.rename_dir(&from, &to).unwrap();
        assert_eq!(RealFs.read(&to.join("f")).unwrap(), b"x");
        assert!(!RealFs.exists(&from));
        // A file is not a directory to rename.
        let err = RealFs.rename_dir(&to.join("f"), &from).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // Only an empty directory is removed.
        assert!(RealFs.remove_dir(&to).is_err());
        RealFs.remove(&to.join("f")).unwrap();
        RealFs.remove_dir(&to).unwrap();
        assert!(!RealFs.exists(&to));
    }
}
