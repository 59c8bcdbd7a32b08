//! The database handle: a thin shell over the engine (`engine::Engine`) and its
//! background threads. Opening and closing are here; the methods are grouped by what
//! they do: `write.rs` (put, delete, batches, sync, flush), `read.rs` (get, scans,
//! snapshots, explain), `maintenance.rs` (compaction, stats), `transaction.rs`
//! (optimistic transactions).

mod keyspaces;
mod maintenance;
mod read;
mod transaction;
mod write;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::error::{Error, PoisonedBy, Result};
use crate::fs::{FsRef, RealFs};
use crate::options::Options;

/// An open database. `Send + Sync`: share it between threads by reference or `Arc`.
/// Dropping it shuts background work down cleanly (as [`Db::close`], ignoring errors).
///
/// Reads ([`get`](Db::get), [`scan`](Db::scan), [`snapshot`](Db::snapshot)) take no
/// lock that writers or background work hold during I/O. Writes from many threads are
/// committed in groups: one WAL write (and at most one fsync) per group.
pub struct Db {
    pub(crate) engine: Arc<Engine>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Db {
    /// Opens (creating if missing, unless `create_if_missing` is false) the database in
    /// directory `path`, recovering from the manifest and write-ahead logs.
    ///
    /// ```
    /// use lsm_core::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db");
    /// let db = Db::open(&path, Options::default())?;
    /// // One open instance per directory, in this process or any other.
    /// assert!(matches!(Db::open(&path, Options::default()), Err(Error::Locked { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOptions`]; [`Error::Locked`] when another instance has it
    /// open; [`Error::Corruption`] when a file is damaged beyond a torn log tail;
    /// [`Error::Io`].
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        Db::open_with_fs(path, options, Arc::new(RealFs))
    }

    /// Like [`Db::open`], doing all file I/O through `fs` (tests use a simulated or
    /// fault-injecting file system).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lsm_core::{fs::RealFs, Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open_with_fs(dir.path(), Options::default(), Arc::new(RealFs))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::open`].
    pub fn open_with_fs(path: impl AsRef<Path>, options: Options, fs: FsRef) -> Result<Db> {
        let engine = crate::recovery::open(path.as_ref(), options, fs)?;
        let threads = match crate::engine::background::spawn(&engine) {
            Ok(t) => t,
            Err(e) => {
                engine.coord.lock().shutdown = true;
                engine.coord.wake_all();
                return Err(e);
            }
        };
        Ok(Db {
            engine,
            threads: Mutex::new(threads),
        })
    }

    /// Shuts down background work, flushes the memtable (so nothing needs replay at
    /// the next open), syncs, releases the directory lock, and reports errors.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put("k", "v")?;
    /// db.close()?;
    /// let db = Db::open(dir.path(), Options::default())?; // the lock was released
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The first error met while flushing or syncing, or [`Error::Poisoned`] when an
    /// earlier failure poisoned the database.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        let mut threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() && self.engine.coord.lock().shutdown {
            return Ok(());
        }
        let mut result = self.engine.env.poison.check();
        if result.is_ok() {
            result = self.engine.flush(crate::write_path::Freeze::All);
        }
        self.engine.env.stopping.store(true, Ordering::SeqCst);
        self.engine.coord.lock().shutdown = true;
        self.engine.coord.wake_all();
        for t in threads.drain(..) {
            if t.join().is_err() && result.is_ok() {
                result = Err(Error::Poisoned {
                    operation: PoisonedBy::Panic,
                    message: "a background thread panicked".to_string(),
                });
            }
        }
        if result.is_ok() {
            result = self.engine.sync_wal(true);
        }
        if result.is_ok() {
            result = self.engine.env.poison.check();
        }
        self.engine.release_lock();
        if let Err(e) = &result {
            log::warn!("closing {}: {e}", self.engine.env.dir.display());
        } else {
            log::info!("closed {}", self.engine.env.dir.display());
        }
        result
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.engine.env.dir)
            .finish_non_exhaustive()
    }
}
