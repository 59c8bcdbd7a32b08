//! The file-system layer: every file operation of the engine goes through
//! [`FileSystem`], so tests can swap in a simulated disk that loses unsynced data
//! (`sim::SimFs`) or one that fails chosen operations (`fault::FaultFs`). Both
//! modules exist only with the `testing` feature (see the crate documentation).
//!
//! Contract, relied on by the engine's crash-consistency rules
//! (`docs/architecture.md`):
//! - data written with [`WritableFile::write_all`] is visible to later reads at once
//!   (it reached the operating system) but survives power loss only after
//!   [`WritableFile::sync`] returned `Ok`;
//! - a created, renamed or removed directory entry survives power loss only after
//!   [`FileSystem::sync_dir`] on its directory returned `Ok`;
//! - [`FileSystem::rename`] atomically replaces the target;
//! - [`FileSystem::rename_dir`] atomically moves a whole directory and never
//!   replaces anything: it fails with `AlreadyExists` when the target exists; the
//!   move survives power loss only after [`FileSystem::sync_dir`] on the parent
//!   (both parents, when they differ) returned `Ok`, and until then a power loss
//!   leaves the directory under its old name;
//! - [`FileSystem::remove_dir`] removes only an empty directory;
//! - [`FileSystem::map`] is only called on files that are complete and never written
//!   again (finished segments); the positional reads a [`MappedFile`] may offer read
//!   the same bytes as the mapping;
//! - space added by [`WritableFile::preallocate`] reads as zeros and may survive a
//!   power loss (as zeros) whether or not it was synced; [`WritableFile::trim`]
//!   followed by a sync makes the file exactly its written bytes again.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
pub use lsm_format::ReadAt;

#[cfg(any(test, feature = "testing"))]
pub mod fault;
mod real;
#[cfg(any(test, feature = "testing"))]
pub mod sim;
pub(crate) mod staging;
mod writeback;

#[cfg(any(test, feature = "testing"))]
pub use fault::{FaultFs, FaultKind, FaultMode, InjectedFault};
pub use real::RealFs;
#[cfg(any(test, feature = "testing"))]
pub use sim::{CrashMode, SimFs};

/// A file opened for appending.
pub trait WritableFile: Send + Sync {
    /// Appends all of `buf` after the bytes written so far (over preallocated
    /// zeros, if any).
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Bytes written so far (preallocated space not included).
    fn len(&self) -> u64;
    /// Extends the file with zeros to at least `size` bytes without moving the write
    /// position. The WAL uses it so that a sync after a small append does not also
    /// have to commit a new file size (one disk flush instead of two).
    fn preallocate(&mut self, size: u64) -> io::Result<()>;
    /// Cuts the file back to [`len`](Self::len) bytes, dropping preallocated space.
    fn trim(&mut self) -> io::Result<()>;
    /// Asks the operating system to start writing `range` of the written bytes to
    /// the device now, without waiting for it (`sync_file_range` on Linux). A hint
    /// that promises nothing: only [`sync`](Self::sync) makes bytes durable. It lets
    /// a later `sync` of a large file wait for its last few pages rather than all of
    /// them. The default does nothing.
    fn start_writeback(&mut self, range: Range<u64>) {
        let _ = range;
    }
    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// [`ResidentPages::release`] of the real file system works in units of this many
/// bytes, aligned inward: a multiple of every common page size (4, 16 and 64 KiB),
/// so that `madvise` never sees an unaligned start.
pub const RELEASE_ALIGN: usize = 64 << 10;

/// Gives the pages of a mapped file back to the operating system.
pub trait ResidentPages: Send + Sync {
    /// The pages wholly inside `range` leave this process's resident set for now;
    /// their contents do not change, and a later read maps them in again. Advisory:
    /// it may do nothing.
    fn release(&self, range: Range<usize>);
}

/// A file as [`FileSystem::map`] returns it: its bytes; when they are a real memory
/// mapping, a way to release pages a one-pass reader is done with (mapped pages
/// count in the process's RSS until released or unmapped); and, optionally,
/// positional reads of the same bytes, which leave no pages mapped.
#[derive(Clone)]
pub struct MappedFile {
    /// The file's contents.
    pub bytes: Bytes,
    pages: Option<Arc<dyn ResidentPages>>,
    read_at: Option<Arc<dyn ReadAt>>,
}

impl MappedFile {
    /// Contents held in memory: nothing to release.
    pub fn in_memory(bytes: Bytes) -> Self {
        MappedFile {
            bytes,
            pages: None,
            read_at: None,
        }
    }

    /// A mapping whose pages `pages` can release.
    pub fn mapped(bytes: Bytes, pages: Arc<dyn ResidentPages>) -> Self {
        MappedFile {
            bytes,
            pages: Some(pages),
            read_at: None,
        }
    }

    /// The same file, also offering positional reads of its bytes with `read_at`.
    pub fn with_read_at(mut self, read_at: Arc<dyn ReadAt>) -> Self {
        self.read_at = Some(read_at);
        self
    }

    /// Positional reads of the file's bytes, when the file system offers them.
    pub fn read_at(&self) -> Option<&Arc<dyn ReadAt>> {
        self.read_at.as_ref()
    }

    /// See [`ResidentPages::release`]; nothing for contents held in memory.
    pub fn release(&self, range: Range<usize>) {
        if let Some(pages) = &self.pages {
            pages.release(range);
        }
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("len", &self.bytes.len())
            .field("mapped", &self.pages.is_some())
            .field("read_at", &self.read_at.is_some())
            .finish()
    }
}

/// A held directory lock; released when dropped.
pub trait FileLock: Send + Sync {}

/// Every file operation the engine performs.
pub trait FileSystem: Send + Sync + 'static {
    /// Creates a directory and its parents if missing.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates (or truncates) a file for appending.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Maps a complete, immutable file read-only (the real file system uses mmap).
    fn map(&self, path: &Path) -> io::Result<MappedFile>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames the directory `from` (with everything in it) to `to`,
    /// which must not exist: fails with `io::ErrorKind::AlreadyExists`, changing
    /// nothing, when `to` exists, even as an empty directory. The new name is durable
    /// once the parent directories of both names are synced.
    ///
    /// The default fails with `io::ErrorKind::Unsupported`; every file system of this
    /// crate implements it, and a wrapper around another file system must forward it.
    fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
        let _ = (from, to);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system cannot rename directories",
        ))
    }
    /// Removes the empty directory `path`; fails when it holds anything. The removal
    /// is durable once its parent directory is synced.
    ///
    /// The default fails with `io::ErrorKind::Unsupported`, as for
    /// [`rename_dir`](Self::rename_dir).
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system cannot remove directories",
        ))
    }
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Names (not paths) of the entries of a directory, sorted.
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    /// True if the path exists.
    fn exists(&self, path: &Path) -> bool;
    /// Size of a file in bytes.
    fn size(&self, path: &Path) -> io::Result<u64>;
    /// Makes `to` (which must not exist) hold the same bytes as the complete,
    /// immutable file `from`: a hard link where the file system allows, a copy
    /// otherwise. The copy is fsynced; the new name is durable once `to`'s directory
    /// is synced. The default copies through [`read`](Self::read) and
    /// [`create`](Self::create).
    fn link_or_copy(&self, from: &Path, to: &Path) -> io::Result<()> {
        let data = self.read(from)?;
        let mut file = self.create(to)?;
        file.write_all(&data)?;
        file.sync()
    }
    /// Takes an exclusive lock on `path` (created if missing). Fails with
    /// `io::ErrorKind::WouldBlock` when another holder, in this process or another,
    /// has it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
}

/// A shared handle to a file system.
pub type FsRef = Arc<dyn FileSystem>;

/// `dir/name`.
pub fn join(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
