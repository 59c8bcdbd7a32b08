//! Consistent read views.

use crate::keyspace::Keyspace;
use std::ops::RangeBounds;
use std::sync::Arc;

use bytes::Bytes;

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::read_path::snapshot_list::SnapshotList;
use crate::read_path::SuperVersion;
use crate::scan::{bounds, prefix_bounds, Scan};

/// A read view fixed at a sequence number: later writes are invisible to it, and
/// compaction keeps every version it can see until it is dropped. It also fixes the
/// time at which values written with a TTL are judged: the database's clock when
/// the snapshot was taken, so a value that expires later keeps reading the same
/// (repeatable reads) until the snapshot is dropped.
///
/// It holds the memtables and segment files that were current when it was taken
/// (so it stays valid through flushes and compactions, and even after the
/// [`crate::Db`] is closed), borrows nothing from the database, and is `Send + Sync`.
/// Holding one for long keeps those files on disk.
pub struct Snapshot {
    sv: Arc<SuperVersion>,
    seq: u64,
    /// The clock when it was taken (Unix ms): expiry is judged at this time.
    time_ms: u64,
    list: Arc<SnapshotList>,
    metrics: Arc<Metrics>,
}

impl Snapshot {
    /// A snapshot of the view `view` returns, recorded in `list` atomically with
    /// taking it ([`SnapshotList::register_view`]): for a database that flushes and
    /// compacts while the snapshot is taken.
    pub(crate) fn of_view(
        view: impl FnOnce() -> (Arc<SuperVersion>, u64),
        time_ms: u64,
        list: Arc<SnapshotList>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (sv, seq) = list.register_view(time_ms, view);
        Snapshot {
            sv,
            seq,
            time_ms,
            list,
            metrics,
        }
    }

    /// A snapshot of a fixed view: only for a database nothing compacts (read-only);
    /// elsewhere use [`Snapshot::of_view`].
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        seq: u64,
        time_ms: u64,
        list: Arc<SnapshotList>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self::of_view(|| (sv, seq), time_ms, list, metrics)
    }

    /// The value of `key` as of the snapshot.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "before")?;
    /// let snapshot = db.snapshot();
    /// db.put("k", "after")?;
    /// db.put("new", "x")?;
    /// assert_eq!(snapshot.get("k")?.as_deref(), Some(&b"before"[..]));
    /// assert_eq!(snapshot.get("new")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corruption`] when a file read on the way is damaged;
    /// [`Error::Io`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        self.sv.get(key, self.seq, || self.time_ms, &self.metrics)
    }

    /// The value of `key` in `keyspace` as of the snapshot: a snapshot reads every
    /// keyspace at its one sequence number (it pins what each keyspace's
    /// compactions keep, whichever keyspace the reads are of).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let (a, b) = (db.keyspace("a")?, db.keyspace("b")?);
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.put_in(&a, "k", "1").put_in(&b, "k", "1");
    /// db.write(batch)?;
    /// let snapshot = db.snapshot();
    /// a.put("k", "2")?;
    /// b.delete("k")?;
    /// assert_eq!(snapshot.get_in(&a, "k")?.as_deref(), Some(&b"1"[..]));
    /// assert_eq!(snapshot.get_in(&b, "k")?.as_deref(), Some(&b"1"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`](crate::Error::KeyspaceDropped) once the keyspace
    /// is dropped; otherwise as [`Snapshot::get`].
    pub fn get_in(&self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let (sv, _) = keyspace.view()?;
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        sv.get(key, self.seq, || self.time_ms, &self.metrics)
    }

    /// Live keys of `keyspace` in `range` as of the snapshot, in key order. On a
    /// dropped keyspace the scan yields
    /// [`Error::KeyspaceDropped`](crate::Error::KeyspaceDropped) once.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let logs = db.keyspace("logs")?;
    /// logs.put("1", "")?;
    /// let snapshot = db.snapshot();
    /// logs.put("2", "")?;
    /// assert_eq!(snapshot.scan_in(&logs, "0"..).count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        keyspace: &Keyspace,
        range: R,
    ) -> Scan {
        match keyspace.view() {
            Ok((sv, _)) => Scan::new(sv, self.seq, self.time_ms, bounds(&range)),
            Err(e) => Scan::failed(e),
        }
    }

    /// Live keys of `keyspace` starting with `prefix` as of the snapshot.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let logs = db.keyspace("logs")?;
    /// logs.put("a/1", "")?;
    /// let snapshot = db.snapshot();
    /// logs.put("a/2", "")?;
    /// assert_eq!(snapshot.prefix_in(&logs, "a/").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix_in(&self, keyspace: &Keyspace, prefix: impl AsRef<[u8]>) -> Scan {
        match keyspace.view() {
            Ok((sv, _)) => Scan::new(
                sv,
                self.seq,
                self.time_ms,
                crate::scan::prefix_bounds(prefix.as_ref()),
            ),
            Err(e) => Scan::failed(e),
        }
    }

    /// True when `key` had a live value as of the snapshot.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// let snapshot = db.snapshot();
    /// db.delete("k")?;
    /// assert!(snapshot.contains_key("k")?);
    /// assert!(!db.contains_key("k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Snapshot::get`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.get(key).map(|value| value.is_some())
    }

    /// Live keys in `range` as of the snapshot, in key order (`.rev()` for
    /// descending).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// let snapshot = db.snapshot();
    /// db.delete("a")?;
    /// assert_eq!(snapshot.scan("a"..="b").count(), 2);
    /// assert_eq!(db.scan("a"..="b").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        Scan::new(self.sv.clone(), self.seq, self.time_ms, bounds(&range))
    }

    /// Every live key as of the snapshot, in key order (`.rev()` for descending).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("a", "1")?;
    /// let snapshot = db.snapshot();
    /// db.put("b", "2")?;
    /// let keys = snapshot
    ///     .iter()
    ///     .map(|item| item.map(|(k, _)| k))
    ///     .collect::<lsm_core::Result<Vec<_>>>()?;
    /// assert_eq!(keys, ["a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Scan {
        self.scan::<&[u8], _>(..)
    }

    /// Live keys with `prefix` as of the snapshot, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("log:1", "start")?;
    /// let snapshot = db.snapshot();
    /// db.put("log:2", "stop")?;
    /// assert_eq!(snapshot.prefix("log:").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        Scan::new(
            self.sv.clone(),
            self.seq,
            self.time_ms,
            prefix_bounds(prefix.as_ref()),
        )
    }

    /// The live pair with the smallest key as of the snapshot, or `None` when
    /// there was none.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("m", "1")?;
    /// let snapshot = db.snapshot();
    /// db.put("a", "2")?;
    /// assert_eq!(snapshot.first_key_value()?, Some(("m".into(), "1".into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Snapshot::get`].
    pub fn first_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
        self.iter().next().transpose()
    }

    /// The live pair with the largest key as of the snapshot, or `None` when there
    /// was none.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let snapshot = db.snapshot();
    /// db.put("z", "1")?;
    /// assert_eq!(snapshot.last_key_value()?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Snapshot::get`].
    pub fn last_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
        self.iter().next_back().transpose()
    }

    /// The sequence number the snapshot reads at: the number of the last write it
    /// sees (each operation of a batch takes one).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let before = db.snapshot().sequence();
    /// db.put("k", "v")?;
    /// assert_eq!(db.snapshot().sequence(), before + 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The time the snapshot judges expiry at: the database's
    /// [`clock`](crate::Options::clock) when it was taken, to the millisecond.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use lsm_core::{Db, ManualClock, Options};
    /// let start = UNIX_EPOCH + Duration::from_secs(100);
    /// let clock = Arc::new(ManualClock::new(start));
    /// # let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default().with_clock(clock.clone()))?;
    /// let snapshot = db.snapshot();
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(snapshot.time(), start);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn time(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.time_ms)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.list.release(self.seq, self.time_ms);
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("sequence", &self.seq)
            .finish()
    }
}
