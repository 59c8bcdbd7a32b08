//! The database handle: a thin shell over the engine (`engine::Engine`) and its
//! background threads.

use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::batch::WriteBatch;
use crate::engine::Engine;
use crate::error::{Error, InvalidArgumentKind, PoisonedBy, Result};
use crate::fs::{FsRef, RealFs};
use crate::options::{Options, WriteOptions};
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

    /// Sets `key` to `value`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("colour", "red")?;
    /// db.put("colour", "blue")?; // the newest value wins
    /// assert_eq!(db.get("colour")?.as_deref(), Some(&b"blue"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a key over 65535 bytes or a value over 256 MiB
    /// (nothing is written); [`Error::Poisoned`] after an earlier write failure;
    /// [`Error::Io`].
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len());
        batch.put(key, value);
        self.engine.write(batch)
    }

    /// The newest value of `key`, or `None` if absent or deleted. The value shares
    /// the memtable's or the file's bytes (no copy).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put(b"k", b"v")?;
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(db.get(b"missing")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corruption`] when a file read on the way is damaged (never a wrong
    /// value); [`Error::Io`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        let (sv, seq) = self.engine.view();
        sv.get(key, seq, &self.engine.env.metrics)
    }

    /// True when `key` has a live value: [`Db::get`] without handing the value out.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "")?; // an empty value is still a value
    /// assert!(db.contains_key("k")?);
    /// db.delete("k")?;
    /// assert!(!db.contains_key("k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::get`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.get(key).map(|value| value.is_some())
    }

    /// Deletes `key` (writes a tombstone). Deleting an absent key is not an error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// db.delete("k")?;
    /// assert_eq!(db.get("k")?, None);
    /// db.delete("never written")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::put`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        let mut batch = WriteBatch::with_capacity(1, key.len());
        batch.delete(key);
        self.engine.write(batch)
    }

    /// Applies every operation of `batch` atomically: readers and recovery see all
    /// of it or none. Later operations on a key override earlier ones in the batch.
    ///
    /// ```
    /// use lsm_core::WriteBatch;
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("from", "10")?;
    /// let mut transfer = WriteBatch::new();
    /// transfer.put("from", "0").put("to", "10");
    /// db.write(transfer)?;
    /// assert_eq!(db.get("to")?.as_deref(), Some(&b"10"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::put`]; an invalid operation refuses the whole batch.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.engine.write(batch)
    }

    /// Like [`Db::write`], with per-write `options`. With
    /// [`WriteOptions::sync`], the write-ahead log is fsynced before this returns,
    /// so the batch, and every write acknowledged before it, survives power loss
    /// even when the database does not sync every write
    /// ([`Options::sync_writes`] false). Concurrent writers share that fsync (group
    /// commit). An empty batch writes and syncs nothing; [`Db::sync`] syncs without
    /// writing.
    ///
    /// ```
    /// use lsm_core::{WriteBatch, WriteOptions};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("cart:7", "3 items")?; // reaches the OS: survives a process crash
    /// let mut order = WriteBatch::new();
    /// order.put("order:7", "placed").delete("cart:7");
    /// let synced = WriteOptions::default().with_sync(true);
    /// db.write_opt(order, &synced)?; // on disk: survives power loss, with the put above
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::write`]; a failed fsync is [`Error::Io`] and poisons the database
    /// (a failed fsync is never retried).
    pub fn write_opt(&self, batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        self.engine.write_opt(batch, options)
    }

    /// Live keys in `range`, in key order (`.rev()` for descending), as of now.
    /// Any range of byte strings works: `..`, `"a".."c"`, `b"k".as_slice()..=b"z"`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// for k in ["a", "b", "c", "d"] {
    ///     db.put(k, "")?;
    /// }
    /// let keys = |scan: lsm_core::Scan| -> lsm_core::Result<Vec<_>> {
    ///     scan.map(|item| item.map(|(k, _)| k)).collect()
    /// };
    /// assert_eq!(keys(db.scan("b".."d"))?, ["b", "c"]);
    /// assert_eq!(keys(db.scan("b"..))?, ["b", "c", "d"]);
    /// let (k, _) = db.scan(..="b").next_back().transpose()?.unwrap();
    /// assert_eq!(k, "b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        let (sv, seq) = self.engine.view();
        Scan::new(sv, seq, bounds(&range))
    }

    /// Every live key, in key order (`.rev()` for descending), as of now: the scan
    /// of the whole key space.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("b", "2")?;
    /// db.put("a", "1")?;
    /// let pairs = db.iter().collect::<lsm_core::Result<Vec<_>>>()?;
    /// assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "2".into())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Scan {
        self.scan::<&[u8], _>(..)
    }

    /// Live keys starting with `prefix`, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// db.put("user:2", "grace")?;
    /// db.put("users", "not under the prefix `user:`")?;
    /// assert_eq!(db.prefix("user:").count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        let (sv, seq) = self.engine.view();
        Scan::new(sv, seq, prefix_bounds(prefix.as_ref()))
    }

    /// The live pair with the smallest key, or `None` when the database is empty.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// assert_eq!(db.first_key_value()?, None);
    /// db.put("m", "1")?;
    /// db.put("c", "2")?;
    /// assert_eq!(db.first_key_value()?, Some(("c".into(), "2".into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corruption`] when a file read on the way is damaged; [`Error::Io`].
    pub fn first_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
        self.iter().next().transpose()
    }

    /// The live pair with the largest key, or `None` when the database is empty.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("m", "1")?;
    /// db.put("x", "2")?;
    /// db.delete("x")?; // deleted keys are skipped
    /// assert_eq!(db.last_key_value()?, Some(("m".into(), "1".into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::first_key_value`].
    pub fn last_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
        self.iter().next_back().transpose()
    }

    /// A consistent read view as of now.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "old")?;
    /// let snapshot = db.snapshot();
    /// db.put("k", "new")?;
    /// assert_eq!(snapshot.get("k")?.as_deref(), Some(&b"old"[..]));
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let (sv, seq) = self.engine.view();
        Snapshot::new(
            sv,
            seq,
            self.engine.env.snapshots.clone(),
            self.engine.env.metrics.clone(),
        )
    }

    /// Makes every write acknowledged so far durable (one fsync of the current WAL;
    /// earlier WALs were fsynced when they were rotated out).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// for i in 0..100 {
    ///     db.put(format!("k{i}"), "v")?; // each reaches the OS, not the disk
    /// }
    /// db.sync()?; // now all 100 survive power loss
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] (the database is then poisoned: a failed fsync is never
    /// retried); [`Error::Poisoned`].
    pub fn sync(&self) -> Result<()> {
        self.engine.sync_wal(false)
    }

    /// Writes the memtable out as segments and records them in the manifest; returns
    /// when every write acknowledged before the call is in a segment.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// assert!(db.stats().total_segment_bytes() > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Poisoned`], [`Error::Closed`].
    pub fn flush(&self) -> Result<()> {
        self.engine.flush()
    }

    /// Full manual compaction: flushes, then merges every segment into one level
    /// (the deepest that holds data, at least 1). With no live snapshot, no tombstone
    /// and no overwritten version remains afterwards.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("a", "1")?;
    /// db.flush()?;
    /// db.put("b", "2")?;
    /// db.flush()?;
    /// assert_eq!(db.stats().levels[0].segments, 2); // one per flush
    /// db.compact()?;
    /// let levels = db.stats().levels;
    /// assert_eq!((levels[0].segments, levels[1].segments), (0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Corruption`] met while merging (the database is then
    /// poisoned), [`Error::Poisoned`], [`Error::Closed`].
    pub fn compact(&self) -> Result<()> {
        self.compact_request(None)
    }

    /// Like [`Db::compact`], but merges every segment into `level` (1 ..= 15),
    /// whichever levels held data before. Used by `lsm-compact --level`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// db.compact_into(3)?;
    /// assert_eq!(db.stats().levels[3].segments, 1);
    /// assert!(db.compact_into(16).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a level outside 1 ..= 15; otherwise as
    /// [`Db::compact`].
    pub fn compact_into(&self, level: usize) -> Result<()> {
        if !(1..lsm_format::manifest::MAX_LEVELS).contains(&level) {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::LevelOutOfRange,
                message: format!(
                    "compaction target level {level} is outside 1..={}",
                    lsm_format::manifest::MAX_LEVELS - 1
                ),
            });
        }
        self.compact_request(Some(level))
    }

    fn compact_request(&self, target: Option<usize>) -> Result<()> {
        self.engine.flush()?;
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let mut st = self.engine.coord.lock();
            if st.shutdown {
                return Err(Error::Closed);
            }
            st.manual.push((target, tx));
        }
        self.engine.coord.wake_all_compaction();
        rx.recv().unwrap_or(Err(Error::Closed))
    }

    /// Every stored version of `key` in every memtable and segment, with the read
    /// sequence number: a diagnostic for tests and tools, not a stable format.
    #[doc(hidden)]
    pub fn describe_key(&self, key: impl AsRef<[u8]>) -> String {
        let (sv, seq) = self.engine.view();
        format!("read seq {seq}: {}", sv.describe_key(key.as_ref()))
    }

    /// The steps a `get` of `key` takes now: the memtables and segments it consults,
    /// what each key-range check and Bloom filter says, the block it reads, and the
    /// version it stops at. A diagnostic (the `lsm` shell's `explain`); it reads the
    /// same view and files a `get` would.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "on disk")?;
    /// db.flush()?;
    /// db.put("k", "in memory")?;
    /// let trace = db.explain("k")?;
    /// assert_eq!(trace.value().map(|v| &v[..]), Some(&b"in memory"[..]));
    /// assert!(matches!(trace.steps[0], lsm_core::LookupStep::Memtable { found: Some(_), .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corruption`] when a file read on the way is damaged; [`Error::Io`].
    pub fn explain(&self, key: impl AsRef<[u8]>) -> Result<crate::LookupTrace> {
        let (sv, seq) = self.engine.view();
        crate::explain::trace(&sv, key.as_ref(), seq)
    }

    /// Current counters of this open instance (they start at zero at each open),
    /// and the live segments per level.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("key", "value")?;
    /// let stats = db.stats();
    /// assert_eq!(stats.user_bytes_written, 8);
    /// assert!(stats.wal_bytes_written > 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.engine.stats()
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
            result = self.engine.flush();
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
