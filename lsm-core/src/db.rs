//! The database handle.

use std::ops::RangeBounds;
use std::path::Path;

use bytes::Bytes;

use crate::batch::WriteBatch;
use crate::error::Result;
use crate::fs::FsRef;
use crate::options::Options;
use crate::scan::Scan;
use crate::snapshot::Snapshot;
use crate::stats::Stats;

/// An open database. `Send + Sync`: share it between threads by reference or `Arc`.
/// Dropping it shuts background work down cleanly (as [`Db::close`], ignoring errors).
pub struct Db {
    _private: (),
}

impl Db {
    /// Opens (creating if missing, unless `create_if_missing` is false) the database in
    /// directory `path`, recovering from the manifest and write-ahead logs.
    ///
    /// # Errors
    /// `InvalidOptions`, `Locked` when another instance has it open, `Corruption`
    /// when a file is damaged beyond a torn log tail, `Io`.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let _ = (path, options);
        todo!()
    }

    /// Like [`Db::open`], doing all file I/O through `fs` (tests use a simulated or
    /// fault-injecting file system).
    pub fn open_with_fs(path: impl AsRef<Path>, options: Options, fs: FsRef) -> Result<Db> {
        let _ = (path, options, fs);
        todo!()
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let _ = (key, value);
        todo!()
    }

    /// The newest value of `key`, or `None` if absent or deleted.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let _ = key;
        todo!()
    }

    /// Deletes `key` (writes a tombstone).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let _ = key;
        todo!()
    }

    /// Applies every operation of `batch` atomically.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        let _ = batch;
        todo!()
    }

    /// Live keys in `range`, in key order (`.rev()` for descending).
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        let _ = range;
        todo!()
    }

    /// Live keys starting with `prefix`, in key order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        let _ = prefix;
        todo!()
    }

    /// A consistent read view as of now.
    pub fn snapshot(&self) -> Snapshot {
        todo!()
    }

    /// Makes every write acknowledged so far durable.
    pub fn sync(&self) -> Result<()> {
        todo!()
    }

    /// Writes the memtable out as segments and records them in the manifest.
    pub fn flush(&self) -> Result<()> {
        todo!()
    }

    /// Full manual compaction down to the last level.
    pub fn compact(&self) -> Result<()> {
        todo!()
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        todo!()
    }

    /// Shuts down background work, flushes the memtable, and reports errors.
    pub fn close(self) -> Result<()> {
        todo!()
    }
}
