//! One keyspace of a read-only open ([`ReadOnlyDb::keyspace`]): the same reads as
//! [`ReadOnlyDb`]'s own (which read the keyspace `"default"`), on that keyspace's
//! view of the state found at the open or last refresh.

use std::ops::RangeBounds;
use std::sync::Arc;

use bytes::Bytes;

use crate::clock::Clock;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::read_path::SuperVersion;
use crate::scan::{bounds, prefix_bounds, Scan};
#[cfg(doc)]
use crate::ReadOnlyDb;

/// A keyspace of a [`ReadOnlyDb`], from [`ReadOnlyDb::keyspace`]: reads only, of
/// the keyspace as the view found it. The handle keeps that view: after
/// [`ReadOnlyDb::refresh`] it still reads the state it was taken from (take it
/// again for the new one). `Clone + Send + Sync`.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.keyspace("users")?.put("ada", "lovelace")?;
/// let reader = Db::open_read_only(dir.path(), Options::default())?;
/// let users = reader.keyspace("users")?;
/// assert_eq!(users.get("ada")?.as_deref(), Some(&b"lovelace"[..]));
/// assert_eq!(reader.get("ada")?, None); // the default keyspace
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ReadOnlyKeyspace {
    name: String,
    sv: Arc<SuperVersion>,
    seq: u64,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl ReadOnlyKeyspace {
    pub(crate) fn new(
        name: &str,
        sv: Arc<SuperVersion>,
        seq: u64,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> ReadOnlyKeyspace {
        ReadOnlyKeyspace {
            name: name.to_string(),
            sv,
            seq,
            clock,
            metrics,
        }
    }

    /// The steps a `get` of `key` takes in this keyspace's view, as
    /// [`ReadOnlyDb::explain`] reports them for the default keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # lsm_core::Db::open(dir.path(), lsm_core::Options::default())?.keyspace("ks")?.put("k", "v")?;
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// let trace = reader.keyspace("ks")?.explain("k")?;
    /// assert_eq!(trace.value().map(|v| &v[..]), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ReadOnlyDb::explain`].
    pub fn explain(&self, key: impl AsRef<[u8]>) -> Result<crate::LookupTrace> {
        crate::explain::trace(&self.sv, key.as_ref(), self.seq, self.now_ms())
    }

    /// The keyspace's name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # lsm_core::Db::open(dir.path(), lsm_core::Options::default())?.keyspace("logs")?;
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// assert_eq!(reader.keyspace("logs")?.name(), "logs");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of `key` in the keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # lsm_core::Db::open(dir.path(), lsm_core::Options::default())?.keyspace("ks")?.put("k", "v")?;
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// let ks = reader.keyspace("ks")?;
    /// assert_eq!(ks.get("k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(ks.get("absent")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ReadOnlyDb::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        self.sv.get(key, self.seq, || self.now_ms(), &self.metrics)
    }

    /// True when `key` has a live value in the keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # lsm_core::Db::open(dir.path(), lsm_core::Options::default())?.keyspace("ks")?.put("k", "")?;
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// assert!(reader.keyspace("ks")?.contains_key("k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ReadOnlyDb::get`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Live pairs of the keyspace with keys in `range`, in key order (reversible
    /// with `.rev()`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// # let ks = db.keyspace("ks")?;
    /// # for k in ["a", "b", "c"] { ks.put(k, "v")?; }
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// let keys: Vec<_> = reader.keyspace("ks")?.scan("b"..).map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["b", "c"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        Scan::new(self.sv.clone(), self.seq, self.now_ms(), bounds(&range))
    }

    /// Every live pair of the keyspace, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # lsm_core::Db::open(dir.path(), lsm_core::Options::default())?.keyspace("ks")?.put("k", "v")?;
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// assert_eq!(reader.keyspace("ks")?.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Scan {
        self.scan::<&[u8], _>(..)
    }

    /// Live pairs of the keyspace whose keys start with `prefix`, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// # let ks = db.keyspace("ks")?;
    /// # ks.put("user:1", "ada")?; ks.put("users", "x")?;
    /// let reader = lsm_core::Db::open_read_only(dir.path(), lsm_core::Options::default())?;
    /// assert_eq!(reader.keyspace("ks")?.prefix("user:").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        Scan::new(
            self.sv.clone(),
            self.seq,
            self.now_ms(),
            prefix_bounds(prefix.as_ref()),
        )
    }

    /// The clock, in Unix ms: the time a read starting now judges expiry at.
    fn now_ms(&self) -> u64 {
        crate::clock::now_ms(&*self.clock)
    }
}

impl std::fmt::Debug for ReadOnlyKeyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyKeyspace")
            .field("name", &self.name)
            .field("sequence", &self.seq)
            .finish()
    }
}
