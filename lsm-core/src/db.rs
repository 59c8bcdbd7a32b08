//! The database handle: a thin shell over the engine's shared state
//! (`inner::DbInner`) and its background threads.

use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::fs::{FsRef, RealFs};
use crate::inner::DbInner;
use crate::options::Options;
use crate::scan::{bounds, prefix_bounds, Scan};
use crate::snapshot::Snapshot;
use crate::stats::Stats;

/// An open database. `Send + Sync`: share it between threads by reference or `Arc`.
/// Dropping it shuts background work down cleanly (as [`Db::close`], ignoring errors).
///
/// Reads ([`get`](Db::get), [`scan`](Db::scan), [`snapshot`](Db::snapshot)) take no
/// lock that writers or background work hold during I/O. Writes from many threads are
/// committed in groups: one WAL write (and at most one fsync) per group.
pub struct Db {
    inner: Arc<DbInner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Db {
    /// Opens (creating if missing, unless `create_if_missing` is false) the database in
    /// directory `path`, recovering from the manifest and write-ahead logs.
    ///
    /// # Errors
    /// `InvalidOptions`, `Locked` when another instance has it open, `Corruption`
    /// when a file is damaged beyond a torn log tail, `Io`.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        Db::open_with_fs(path, options, Arc::new(RealFs))
    }

    /// Like [`Db::open`], doing all file I/O through `fs` (tests use a simulated or
    /// fault-injecting file system).
    ///
    /// # Errors
    /// As [`Db::open`].
    pub fn open_with_fs(path: impl AsRef<Path>, options: Options, fs: FsRef) -> Result<Db> {
        let inner = crate::recovery::open(path.as_ref(), options, fs)?;
        let threads = match crate::background::spawn(&inner) {
            Ok(t) => t,
            Err(e) => {
                inner.state.lock().shutdown = true;
                inner.wake_all();
                return Err(e);
            }
        };
        Ok(Db {
            inner,
            threads: Mutex::new(threads),
        })
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    /// `InvalidArgument` for a key over 65535 bytes or a value over 256 MiB (nothing
    /// is written); `Poisoned` after an earlier write failure; `Io`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len());
        batch.put(key, value);
        self.inner.write(batch, false)
    }

    /// The newest value of `key`, or `None` if absent or deleted. The value shares
    /// the memtable's or the file's bytes (no copy).
    ///
    /// # Errors
    /// `Corruption` when a file read on the way is damaged (never a wrong value);
    /// `Io`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        let (sv, seq) = self.inner.view();
        sv.get(key, seq, &self.inner.metrics)
    }

    /// Deletes `key` (writes a tombstone).
    ///
    /// # Errors
    /// As [`Db::put`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        let mut batch = WriteBatch::with_capacity(1, key.len());
        batch.delete(key);
        self.inner.write(batch, false)
    }

    /// Applies every operation of `batch` atomically: readers and recovery see all
    /// of it or none.
    ///
    /// # Errors
    /// As [`Db::put`]; an invalid operation refuses the whole batch.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.inner.write(batch, false)
    }

    /// Live keys in `range`, in key order (`.rev()` for descending), as of now.
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        let (sv, seq) = self.inner.view();
        Scan::new(sv, seq, bounds(&range))
    }

    /// Live keys starting with `prefix`, in key order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        let (sv, seq) = self.inner.view();
        Scan::new(sv, seq, prefix_bounds(prefix.as_ref()))
    }

    /// A consistent read view as of now.
    pub fn snapshot(&self) -> Snapshot {
        let (sv, seq) = self.inner.view();
        Snapshot::new(
            sv,
            seq,
            self.inner.snapshots.clone(),
            self.inner.metrics.clone(),
        )
    }

    /// Makes every write acknowledged so far durable (one fsync of the current WAL;
    /// earlier WALs were fsynced when they were rotated out).
    ///
    /// # Errors
    /// `Io` (the database is then poisoned: a failed fsync is never retried);
    /// `Poisoned`.
    pub fn sync(&self) -> Result<()> {
        self.inner.sync_wal(false)
    }

    /// Writes the memtable out as segments and records them in the manifest; returns
    /// when every write acknowledged before the call is in a segment.
    ///
    /// # Errors
    /// `Io`, `Poisoned`, `Closed`.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// Full manual compaction: flushes, then merges every segment into one level
    /// (the deepest that holds data, at least 1). With no live snapshot, no tombstone
    /// and no overwritten version remains afterwards.
    ///
    /// # Errors
    /// `Io`, `Corruption` met while merging (the database is then poisoned),
    /// `Poisoned`, `Closed`.
    pub fn compact(&self) -> Result<()> {
        self.compact_request(None)
    }

    /// Like [`Db::compact`], but merges every segment into `level` (1 ..= 15),
    /// whichever levels held data before. Used by `lsm-compact --level`.
    ///
    /// # Errors
    /// `InvalidArgument` for a level outside 1 ..= 15; otherwise as [`Db::compact`].
    pub fn compact_into(&self, level: usize) -> Result<()> {
        if !(1..lsm_format::manifest::MAX_LEVELS).contains(&level) {
            return Err(Error::InvalidArgument(format!(
                "compaction target level {level} is outside 1..={}",
                lsm_format::manifest::MAX_LEVELS - 1
            )));
        }
        self.compact_request(Some(level))
    }

    fn compact_request(&self, target: Option<usize>) -> Result<()> {
        self.inner.flush()?;
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let mut st = self.inner.state.lock();
            if st.shutdown {
                return Err(Error::Closed);
            }
            st.manual.push((target, tx));
        }
        self.inner.compact_cv.notify_all();
        rx.recv().unwrap_or(Err(Error::Closed))
    }

    /// Every stored version of `key` in every memtable and segment, with the read
    /// sequence number: a diagnostic for tests and tools, not a stable format.
    #[doc(hidden)]
    pub fn describe_key(&self, key: impl AsRef<[u8]>) -> String {
        let (sv, seq) = self.inner.view();
        format!("read seq {seq}: {}", sv.describe_key(key.as_ref()))
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Shuts down background work, flushes the memtable (so nothing needs replay at
    /// the next open), syncs, releases the directory lock, and reports errors.
    ///
    /// # Errors
    /// The first error met while flushing or syncing, or `Poisoned` when an earlier
    /// failure poisoned the database.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        let mut threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() && self.inner.state.lock().shutdown {
            return Ok(());
        }
        let mut result = self.inner.poison.check();
        if result.is_ok() {
            result = self.inner.flush();
        }
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.state.lock().shutdown = true;
        self.inner.wake_all();
        for t in threads.drain(..) {
            if t.join().is_err() && result.is_ok() {
                result = Err(Error::Poisoned("a background thread panicked".to_string()));
            }
        }
        if result.is_ok() {
            result = self.inner.sync_wal(true);
        }
        if result.is_ok() {
            result = self.inner.poison.check();
        }
        drop(self.inner.lock.lock().take());
        if let Err(e) = &result {
            log::warn!("closing {}: {e}", self.inner.dir.display());
        } else {
            log::info!("closed {}", self.inner.dir.display());
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
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}
