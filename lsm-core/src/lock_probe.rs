//! Whether a database directory's `LOCK` is held: how a reading tool tells a
//! database with a live writer (whose newest WAL is still being appended to) from
//! one nobody has open.
//!
//! The probe goes to the real file system directly: the [`FileSystem`] trait's
//! `lock` creates the lock file and takes it exclusively, and a probe must do
//! neither.
//!
//! [`FileSystem`]: crate::fs::FileSystem

use std::fs::{File, TryLockError};
use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::filenames::LOCK;

/// True when the database in `path` is held open by a writer: a [`Db`](crate::Db)
/// in another process, or in this one. Read-only opens
/// ([`Db::open_read_only`](crate::Db::open_read_only)) take no lock and do not count.
///
/// It creates nothing: a directory without a `LOCK` file is not locked. When the
/// lock is free, the probe holds a shared lock on `LOCK` for an instant (the only
/// way to ask), so a writer opening at that very instant may be refused with
/// [`Error::Locked`] and can simply try again. The answer may be out of date by the
/// time it returns.
///
/// # Errors
/// [`Error::Io`] when the lock file exists but cannot be opened or probed.
///
/// # Examples
///
/// ```
/// use lsm_core::{is_locked, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// assert!(!is_locked(dir.path())?); // no database, no LOCK file: nothing created
/// let db = Db::open(dir.path(), Options::default())?;
/// assert!(is_locked(dir.path())?);
/// db.close()?;
/// assert!(!is_locked(dir.path())?);
/// # Ok(())
/// # }
/// ```
pub fn is_locked(path: impl AsRef<Path>) -> Result<bool> {
    let lock = path.as_ref().join(LOCK);
    let file = match File::open(&lock) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(&lock, e)),
    };
    // `flock`-style locks belong to the open file description: this shared lock
    // conflicts with a writer's exclusive one, in this process too. Dropping `file`
    // releases it.
    match file.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(Error::io(&lock, e)),
    }
}
