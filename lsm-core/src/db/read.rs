//! Reading: point lookups, ordered scans, snapshots, and the lookup trace. Each
//! read (or scan) judges values written with a TTL at the clock's time when it
//! starts.

use std::ops::RangeBounds;

use bytes::Bytes;

use super::Db;
use crate::error::Result;

use crate::scan::{bounds, prefix_bounds, Scan};
use crate::snapshot::Snapshot;

impl Db {
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
    /// [`Error::Corruption`](crate::Error::Corruption) when a file read on the way is
    /// damaged (never a wrong
    /// value); [`Error::Io`](crate::Error::Io).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        let (sv, seq) = self.engine.view();
        sv.get(key, seq, || self.now_ms(), &self.engine.env.metrics)
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
        Scan::new(sv, seq, self.now_ms(), bounds(&range))
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
        Scan::new(sv, seq, self.now_ms(), prefix_bounds(prefix.as_ref()))
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
    /// [`Error::Corruption`](crate::Error::Corruption) when a file read on the way is
    /// damaged; [`Error::Io`](crate::Error::Io).
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
        self.snapshot_of(|| self.engine.view())
    }

    /// A snapshot of the view `view` takes, recorded as live in the same step
    /// (tests pass a `view` that lets other threads work while it is taken).
    pub(crate) fn snapshot_of(
        &self,
        view: impl FnOnce() -> (std::sync::Arc<crate::read_path::SuperVersion>, u64),
    ) -> Snapshot {
        Snapshot::of_view(
            view,
            self.now_ms(),
            self.engine.env.snapshots.clone(),
            self.engine.env.metrics.clone(),
        )
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
    /// assert!(matches!(trace.steps[0], lsm_core::LookupStep::Memtable { found: Some(_), ..
    /// }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corruption`](crate::Error::Corruption) when a file read on the way is
    /// damaged; [`Error::Io`](crate::Error::Io).
    pub fn explain(&self, key: impl AsRef<[u8]>) -> Result<crate::LookupTrace> {
        let (sv, seq) = self.engine.view();
        crate::explain::trace(&sv, key.as_ref(), seq, self.now_ms())
    }

    /// The clock, in Unix ms: the time a read starting now judges expiry at.
    fn now_ms(&self) -> u64 {
        crate::clock::now_ms(&*self.engine.env.opts.clock)
    }
}
