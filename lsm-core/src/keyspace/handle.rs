//! A keyspace's data methods: those of [`Db`](crate::Db), on this keyspace.

use std::ops::RangeBounds;

use bytes::Bytes;
use lsm_format::EntryKind;

use super::Keyspace;
use crate::batch::WriteBatch;
use crate::compaction::manual::Manual;
use crate::error::{Error, InvalidArgumentKind, Result};
use crate::scan::{bounds, prefix_bounds, Scan};
use crate::write_path::Freeze;

impl Keyspace {
    /// The newest value of `key` in this keyspace, or `None` if absent or deleted.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// users.put("ada", "1")?;
    /// assert_eq!(users.get("ada")?.as_deref(), Some(&b"1"[..]));
    /// assert_eq!(db.get("ada")?, None); // another keyspace
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Db::get`](crate::Db::get).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let (sv, seq) = self.view()?;
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        sv.get(key, seq, || self.now_ms(), &self.engine.env.metrics)
    }

    /// True when `key` has a live value in this keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// users.put("ada", "")?;
    /// assert!(users.contains_key("ada")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Keyspace::get`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.get(key).map(|v| v.is_some())
    }

    /// Live keys of this keyspace in `range`, in key order, as of now. On a
    /// dropped keyspace the scan yields [`Error::KeyspaceDropped`] once.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("letters")?;
    /// for k in ["a", "b", "c"] {
    ///     ks.put(k, "")?;
    /// }
    /// assert_eq!(ks.scan("b"..).count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        match self.view() {
            Ok((sv, seq)) => Scan::new(sv, seq, self.now_ms(), bounds(&range)),
            Err(e) => Scan::failed(e),
        }
    }

    /// Every live key of this keyspace, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("letters")?;
    /// ks.put("a", "1")?;
    /// db.put("b", "2")?;
    /// assert_eq!(ks.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Scan {
        self.scan::<&[u8], _>(..)
    }

    /// Live keys of this keyspace starting with `prefix`, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("users")?;
    /// ks.put("user:1", "ada")?;
    /// ks.put("other", "x")?;
    /// assert_eq!(ks.prefix("user:").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        match self.view() {
            Ok((sv, seq)) => Scan::new(sv, seq, self.now_ms(), prefix_bounds(prefix.as_ref())),
            Err(e) => Scan::failed(e),
        }
    }

    /// Sets `key` to `value` in this keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("colours")?;
    /// ks.put("sky", "blue")?;
    /// assert_eq!(ks.get("sky")?.as_deref(), Some(&b"blue"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Db::put`](crate::Db::put).
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len());
        batch.push_in(self.id, EntryKind::Put, key, value);
        self.write(batch)
    }

    /// Sets `key` to `value` in this keyspace until `ttl` has passed, as
    /// [`Db::put_with_ttl`](crate::Db::put_with_ttl).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let sessions = db.keyspace("sessions")?;
    /// sessions.put_with_ttl("s1", "token", std::time::Duration::from_secs(60))?;
    /// assert!(sessions.contains_key("s1")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Keyspace::put`].
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len() + 8);
        batch.put_with_ttl_in(self, key, value, ttl);
        self.write(batch)
    }

    /// Deletes `key` from this keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("colours")?;
    /// ks.put("sky", "blue")?;
    /// ks.delete("sky")?;
    /// assert_eq!(ks.get("sky")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Keyspace::put`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        let mut batch = WriteBatch::with_capacity(1, key.len());
        batch.push_in(self.id, EntryKind::Tombstone, key, &[]);
        self.write(batch)
    }

    /// Deletes every key of `[start, end)` in this keyspace, as
    /// [`Db::delete_range`](crate::Db::delete_range).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("logs")?;
    /// ks.put("2023", "")?;
    /// ks.put("2024", "")?;
    /// ks.delete_range("2000", "2024")?;
    /// assert_eq!(ks.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Keyspace::put`].
    pub fn delete_range(&self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> Result<()> {
        let (start, end) = (start.as_ref(), end.as_ref());
        let mut batch = WriteBatch::with_capacity(1, start.len() + end.len());
        batch.delete_range_in(self, start, end);
        self.write(batch)
    }

    /// Deletes every key of this keyspace starting with `prefix`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("logs")?;
    /// ks.put("tmp/1", "")?;
    /// ks.delete_prefix("tmp/")?;
    /// assert_eq!(ks.iter().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Keyspace::put`].
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        let prefix = prefix.as_ref();
        let mut batch = WriteBatch::with_capacity(1, prefix.len() * 2);
        batch.delete_prefix_in(self, prefix);
        self.write(batch)
    }

    /// Freezes this keyspace's active memtable and waits until it (and any frozen
    /// before) is flushed to segments. Other keyspaces' memtables stay.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("logs")?;
    /// ks.put("k", "v")?;
    /// ks.flush()?;
    /// assert_eq!(ks.level_stats()?[0].segments, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Db::flush`](crate::Db::flush).
    pub fn flush(&self) -> Result<()> {
        self.check_live()?;
        self.engine.flush(Freeze::One(self.id))
    }

    /// Compacts the part of this keyspace's tree that holds keys of
    /// `[start, end)`, as [`Db::compact_range`](crate::Db::compact_range).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("logs")?;
    /// ks.put("a", "1")?;
    /// ks.compact_range("a", "b")?;
    /// assert_eq!(ks.level_stats()?[6].segments, 1); // an empty tree's base level
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as
    /// [`Db::compact_range`](crate::Db::compact_range).
    pub fn compact_range(&self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> Result<()> {
        let (start, end) = (start.as_ref(), end.as_ref());
        if start > end {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::InvalidRange,
                message: "compaction range start is after its end".to_string(),
            });
        }
        self.check_live()?;
        self.engine
            .compact(self.id, Manual::Range(start.to_vec(), end.to_vec()))
    }

    /// The segments and bytes of each level of this keyspace, down to its deepest
    /// non-empty level ([`Stats::levels`](crate::Stats::levels) for this keyspace).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let ks = db.keyspace("logs")?;
    /// assert!(ks.level_stats()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`].
    pub fn level_stats(&self) -> Result<Vec<crate::LevelStats>> {
        let (sv, _) = self.view()?;
        Ok(crate::engine::level_stats(&sv.version))
    }

    /// Commits a batch of this handle's own making (fixing its expiries).
    fn write(&self, mut batch: WriteBatch) -> Result<()> {
        self.check_live()?;
        if batch.has_ttl() {
            batch.fix_expiries(self.now_ms());
        }
        self.engine.write(batch)
    }

    /// The clock, in Unix ms.
    /// The steps a `get` of `key` in this keyspace takes now, as
    /// [`Db::explain`](crate::Db::explain) reports them for the default keyspace:
    /// the keyspace's memtables and segments, the checks, the block read, and the
    /// version the lookup stops at.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// users.put("ada", "on disk")?;
    /// users.flush()?;
    /// let trace = users.explain("ada")?;
    /// assert_eq!(trace.value().map(|v| &v[..]), Some(&b"on disk"[..]));
    /// assert!(db.explain("ada")?.value().is_none()); // another keyspace
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Db::explain`](crate::Db::explain).
    pub fn explain(&self, key: impl AsRef<[u8]>) -> Result<crate::LookupTrace> {
        let (sv, seq) = self.view()?;
        crate::explain::trace(&sv, key.as_ref(), seq, self.now_ms())
    }

    pub(crate) fn now_ms(&self) -> u64 {
        crate::clock::now_ms(&*self.engine.env.opts.clock)
    }
}
