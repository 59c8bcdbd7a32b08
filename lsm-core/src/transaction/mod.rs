//! Optimistic transactions with serializable snapshot isolation.
//!
//! A [`Transaction`] reads a snapshot taken when it began ([`crate::Db::begin`])
//! with its own buffered writes applied on top (`write_set`), and records what it
//! read from the snapshot (`read_set`): the keys it looked up and the ranges it
//! scanned. Its writes reach the database only at [`Transaction::commit`], as one
//! atomic batch through the normal write path (group commit, WAL, sync options).
//! The commit leader first checks that nothing the transaction read was written
//! by a commit numbered after its snapshot (`validate`); if something was, the
//! transaction fails with [`Error::Conflict`] and writes nothing. So every
//! committed transaction read exactly what it would have read running alone at
//! its commit point: the history is serializable, in commit order.
//!
//! Nothing is recorded for plain writes: validation reads the current state, and
//! a transaction costs memory only while it is open.

mod ranges;
mod read_set;
mod scan;
pub(crate) mod validate;
mod write_set;

use std::ops::{Bound, RangeBounds};

use bytes::Bytes;

use lsm_format::EntryKind;

use std::collections::BTreeMap;

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};

use crate::batch::{prefix_end, WriteBatch};
use crate::db::Db;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::keyspace::Keyspace;
use crate::options::WriteOptions;
use crate::scan::{bounds, prefix_bounds};
use crate::snapshot::Snapshot;
use crate::write_path::validate_op;

pub(crate) use ranges::KeyRange;
#[cfg(test)]
pub(crate) use read_set::ReadSet;
pub(crate) use read_set::ReadSets;
pub use scan::TransactionScan;
use write_set::{Own, WriteSet};

/// An optimistic, serializable transaction over a [`Db`], from [`Db::begin`].
///
/// Reads see the database as of the moment the transaction began, plus the
/// transaction's own writes (its puts are visible, its deletes and range deletes
/// hide keys). Writes are buffered until [`commit`](Transaction::commit), which
/// applies them atomically, or fails with [`Error::Conflict`] (writing nothing)
/// when something the transaction read from the database (a key, found or not,
/// or any key of a range it scanned, however far the scan went) was written by
/// another commit since the transaction began: another transaction's, or a plain
/// [`Db::put`], [`Db::delete`], [`Db::write`] and the like. Dropping a transaction
/// without committing it, or [`rollback`](Transaction::rollback), discards its
/// writes. [`Db::transaction`] runs a closure in a transaction and retries it on
/// conflict.
///
/// A transaction that wrote nothing commits without any check: it read one
/// consistent snapshot, which is a serializable history on its own.
///
/// While open, a transaction holds a snapshot (see [`Snapshot`]: compaction keeps
/// the versions it may read), and memory for what it read and wrote.
///
/// ```
/// use lsm_core::{Db, Error, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put("alice", "10")?;
///
/// let mut txn = db.begin();
/// let balance = txn.get("alice")?.unwrap();
/// assert_eq!(balance, "10");
/// txn.put("alice", "7")?;
/// txn.put("bob", "3")?;
/// assert_eq!(db.get("bob")?, None); // not visible before commit
/// txn.commit()?;
/// assert_eq!(db.get("bob")?.as_deref(), Some(&b"3"[..]));
///
/// // A transaction that read "alice" cannot commit once someone else wrote it.
/// let mut txn = db.begin();
/// txn.get("alice")?;
/// txn.put("alice", "0")?;
/// db.put("alice", "100")?;
/// assert!(matches!(txn.commit(), Err(Error::Conflict { .. })));
/// assert_eq!(db.get("alice")?.as_deref(), Some(&b"100"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Transaction<'db> {
    db: &'db Db,
    snapshot: Snapshot,
    /// What it read, per keyspace.
    reads: ReadSets,
    /// What it wrote, per keyspace.
    writes: BTreeMap<KeyspaceId, WriteSet>,
}

impl<'db> Transaction<'db> {
    pub(crate) fn new(db: &'db Db, snapshot: Snapshot) -> Self {
        Transaction {
            db,
            snapshot,
            reads: ReadSets::new(),
            writes: BTreeMap::new(),
        }
    }

    /// The value of `key` as the transaction sees it: its own newest write of the
    /// key, else the snapshot's value. A key read from the snapshot (found or
    /// not) joins what commit checks.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "old")?;
    /// let mut txn = db.begin();
    /// db.put("k", "newer")?; // after the transaction began: invisible to it
    /// assert_eq!(txn.get("k")?.as_deref(), Some(&b"old"[..]));
    /// txn.put("k", "mine")?;
    /// assert_eq!(txn.get("k")?.as_deref(), Some(&b"mine"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::get`].
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.own(DEFAULT_KEYSPACE, key) {
            Some(answer) => Ok(answer),
            None => self.snapshot.get(key),
        }
    }

    /// [`Transaction::get`] in `keyspace`: the transaction's own newest write of
    /// the key there, else the snapshot's value; a key read from the snapshot
    /// joins what commit checks, in that keyspace only.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let (a, b) = (db.keyspace("a")?, db.keyspace("b")?);
    /// let mut txn = db.begin();
    /// assert_eq!(txn.get_in(&a, "k")?, None);
    /// txn.put_in(&a, "k", "mine")?;
    /// b.put("k", "theirs")?; // the same key in another keyspace: no conflict
    /// txn.commit()?;
    /// assert_eq!(a.get("k")?.as_deref(), Some(&b"mine"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`] once the keyspace is dropped; otherwise as
    /// [`Db::get`].
    pub fn get_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        keyspace.check_live()?;
        let key = key.as_ref();
        match self.own(keyspace.id(), key) {
            Some(answer) => Ok(answer),
            None => self.snapshot.get_in(keyspace, key),
        }
    }

    /// The answer of the transaction's own writes to a read of `key` in
    /// `keyspace`; `None` when the snapshot decides (the key then joins the read
    /// set).
    fn own(&mut self, keyspace: KeyspaceId, key: &[u8]) -> Option<Option<Bytes>> {
        let own = self
            .writes
            .get(&keyspace)
            .map_or(Own::Untouched, |w| w.lookup(key));
        match own {
            Own::Put(value) => Some(Some(value)),
            Own::Deleted => Some(None),
            Own::Untouched => {
                // A key over the limit can never be written: nothing to record.
                if key.len() <= lsm_format::MAX_KEY_LEN {
                    self.reads.entry(keyspace).or_default().add_key(key);
                }
                None
            }
        }
    }

    /// Live keys in `range` as the transaction sees them, in key order (`.rev()`
    /// for descending). The whole range joins what commit checks, however far
    /// the scan is iterated: a key another commit adds to it (a phantom) is a
    /// conflict too.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// let mut txn = db.begin();
    /// txn.delete("a")?;
    /// txn.put("c", "3")?;
    /// let keys: Vec<_> = txn.scan("a"..="c").rev().map(|kv| kv.map(|(k, _)| k)).collect::<lsm_core::Result<_>>()?;
    /// assert_eq!(keys, ["c", "b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, range: R) -> TransactionScan {
        self.scan_bounds(None, bounds(&range))
    }

    /// Live keys starting with `prefix` as the transaction sees them, in key
    /// order; the prefix's whole range joins what commit checks.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// let mut txn = db.begin();
    /// txn.put("user:2", "grace")?;
    /// assert_eq!(txn.prefix("user:").count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&mut self, prefix: impl AsRef<[u8]>) -> TransactionScan {
        self.scan_bounds(None, prefix_bounds(prefix.as_ref()))
    }

    /// [`Transaction::scan`] in `keyspace`; the range joins what commit checks in
    /// that keyspace only. On a dropped keyspace the scan yields
    /// [`Error::KeyspaceDropped`] once.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let logs = db.keyspace("logs")?;
    /// logs.put("1", "a")?;
    /// let mut txn = db.begin();
    /// txn.put_in(&logs, "2", "b")?;
    /// assert_eq!(txn.scan_in(&logs, "0"..).count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: &Keyspace,
        range: R,
    ) -> TransactionScan {
        self.scan_bounds(Some(keyspace), bounds(&range))
    }

    /// [`Transaction::prefix`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// let mut txn = db.begin();
    /// txn.put_in(&users, "user:1", "ada")?;
    /// assert_eq!(txn.prefix_in(&users, "user:").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix_in(&mut self, keyspace: &Keyspace, prefix: impl AsRef<[u8]>) -> TransactionScan {
        self.scan_bounds(Some(keyspace), prefix_bounds(prefix.as_ref()))
    }

    fn scan_bounds(
        &mut self,
        keyspace: Option<&Keyspace>,
        (lower, upper): (Bound<Bytes>, Bound<Bytes>),
    ) -> TransactionScan {
        let id = keyspace.map_or(DEFAULT_KEYSPACE, Keyspace::id);
        let range = KeyRange::from_bounds(as_slice(&lower), as_slice(&upper));
        if let Some(r) = &range {
            self.reads.entry(id).or_default().add_range(r.clone());
        }
        let overlay = self
            .writes
            .entry(id)
            .or_insert_with(|| WriteSet::new(id))
            .overlay(range.as_ref());
        let snapshot = match keyspace {
            Some(ks) => self.snapshot.scan_in(ks, (lower, upper)),
            None => self.snapshot.scan((lower, upper)),
        };
        TransactionScan::new(snapshot, overlay)
    }

    /// The write set of keyspace `id`.
    fn writes_of(&mut self, id: KeyspaceId) -> &mut WriteSet {
        self.writes.entry(id).or_insert_with(|| WriteSet::new(id))
    }

    /// Sets `key` to `value` when the transaction commits.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let mut txn = db.begin();
    /// txn.put("k", "v")?;
    /// txn.commit()?;
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a key over 65535 bytes or a value over
    /// 256 MiB, as [`Db::put`]; nothing is buffered then.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        validate_op(EntryKind::Put, key, value)?;
        self.writes_of(DEFAULT_KEYSPACE).put(key, value);
        Ok(())
    }

    /// [`Transaction::put`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// let mut txn = db.begin();
    /// txn.put_in(&users, "ada", "1")?;
    /// txn.put("count", "1")?;
    /// txn.commit()?; // both or neither
    /// assert!(users.contains_key("ada")? && db.contains_key("count")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Transaction::put`].
    pub fn put_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<()> {
        keyspace.check_live()?;
        let (key, value) = (key.as_ref(), value.as_ref());
        validate_op(EntryKind::Put, key, value)?;
        self.writes_of(keyspace.id()).put(key, value);
        Ok(())
    }

    /// [`Transaction::delete`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// users.put("ada", "1")?;
    /// let mut txn = db.begin();
    /// txn.delete_in(&users, "ada")?;
    /// assert_eq!(txn.get_in(&users, "ada")?, None);
    /// txn.commit()?;
    /// assert_eq!(users.get("ada")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Transaction::delete`].
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<()> {
        keyspace.check_live()?;
        let key = key.as_ref();
        validate_op(EntryKind::Tombstone, key, &[])?;
        self.writes_of(keyspace.id()).delete(key);
        Ok(())
    }

    /// [`Transaction::delete_range`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let logs = db.keyspace("logs")?;
    /// logs.put("b", "")?;
    /// let mut txn = db.begin();
    /// txn.delete_range_in(&logs, "a", "c")?;
    /// txn.commit()?;
    /// assert_eq!(logs.iter().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyspaceDropped`]; otherwise as [`Transaction::delete_range`].
    pub fn delete_range_in(
        &mut self,
        keyspace: &Keyspace,
        start: impl AsRef<[u8]>,
        end: impl AsRef<[u8]>,
    ) -> Result<()> {
        keyspace.check_live()?;
        let (start, end) = (start.as_ref(), end.as_ref());
        validate_op(EntryKind::RangeDelete, start, end)?;
        self.writes_of(keyspace.id()).delete_range(start, end);
        Ok(())
    }

    /// Deletes `key` when the transaction commits.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// let mut txn = db.begin();
    /// txn.delete("k")?;
    /// assert_eq!(txn.get("k")?, None);
    /// assert!(db.get("k")?.is_some()); // until commit
    /// txn.commit()?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::delete`].
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        validate_op(EntryKind::Tombstone, key, &[])?;
        self.writes_of(DEFAULT_KEYSPACE).delete(key);
        Ok(())
    }

    /// Deletes every key `k` with `start <= k < end` when the transaction commits,
    /// as [`Db::delete_range`]; the transaction's reads stop seeing them at once
    /// (its writes after this call are visible again).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("log/1", "a")?;
    /// db.put("log/2", "b")?;
    /// let mut txn = db.begin();
    /// txn.delete_range("log/1", "log/9")?;
    /// txn.put("log/5", "kept")?;
    /// assert_eq!(txn.scan("log/".."log/z").count(), 1);
    /// assert!(txn.delete_range("b", "a").is_err());
    /// txn.commit()?;
    /// assert_eq!(db.get("log/5")?.as_deref(), Some(&b"kept"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::delete_range`]: [`Error::InvalidArgument`] when `start > end` or
    /// a bound is over 65535 bytes; nothing is buffered then.
    pub fn delete_range(&mut self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> Result<()> {
        let (start, end) = (start.as_ref(), end.as_ref());
        validate_op(EntryKind::RangeDelete, start, end)?;
        self.writes_of(DEFAULT_KEYSPACE).delete_range(start, end);
        Ok(())
    }

    /// Deletes every key starting with `prefix` when the transaction commits, as
    /// [`Db::delete_prefix`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("session/a", "1")?;
    /// let mut txn = db.begin();
    /// txn.delete_prefix("session/")?;
    /// assert_eq!(txn.get("session/a")?, None);
    /// txn.commit()?;
    /// assert_eq!(db.prefix("session/").count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::delete_prefix`].
    pub fn delete_prefix(&mut self, prefix: impl AsRef<[u8]>) -> Result<()> {
        let prefix = prefix.as_ref();
        validate_op(EntryKind::RangeDelete, prefix, &prefix_end(prefix))?;
        self.writes_of(DEFAULT_KEYSPACE).delete_prefix(prefix);
        Ok(())
    }

    /// Applies the transaction's writes atomically, unless something it read
    /// from the database was written by a commit after it began. Goes through
    /// the database's write path with its default write options (an fsync when
    /// [`Options::sync_writes`](crate::Options::sync_writes) is set). A
    /// transaction that wrote nothing succeeds without any check.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let mut txn = db.begin();
    /// txn.put("a", "1")?;
    /// txn.put("b", "2")?;
    /// txn.commit()?; // both, or (on error) neither
    /// assert_eq!(db.iter().count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when a key or range it read was written since it
    /// began (nothing is written; run the transaction again); otherwise as
    /// [`Db::write`].
    pub fn commit(self) -> Result<()> {
        self.commit_with(&WriteOptions::default())
    }

    /// Like [`commit`](Transaction::commit), with per-write `options` (as
    /// [`Db::write_opt`]): with [`WriteOptions::sync`] the WAL is fsynced before
    /// this returns.
    ///
    /// ```
    /// use lsm_core::WriteOptions;
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let mut txn = db.begin();
    /// txn.put("order:7", "paid")?;
    /// txn.commit_with(&WriteOptions::default().with_sync(true))?; // durable on return
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`commit`](Transaction::commit).
    pub fn commit_with(self, options: &WriteOptions) -> Result<()> {
        let Transaction {
            db,
            snapshot,
            reads,
            writes,
        } = self;
        if writes.values().all(WriteSet::is_empty) {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        for w in writes.into_values() {
            batch.append(&w.into_batch());
        }
        // The snapshot stays registered until the commit is done: compaction must
        // keep the versions validation looks for.
        let r = db
            .engine
            .commit_transaction(batch, reads, snapshot.sequence(), options);
        drop(snapshot);
        r
    }

    /// Discards the transaction's writes (as dropping it does).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let mut txn = db.begin();
    /// txn.put("k", "v")?;
    /// txn.rollback();
    /// assert_eq!(db.get("k")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rollback(self) {}

    /// The sequence number of the snapshot the transaction reads (see
    /// [`Snapshot::sequence`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// assert_eq!(db.begin().sequence(), db.snapshot().sequence());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sequence(&self) -> u64 {
        self.snapshot.sequence()
    }
}

fn as_slice(b: &Bound<Bytes>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(&k[..]),
        Bound::Excluded(k) => Bound::Excluded(&k[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("sequence", &self.snapshot.sequence())
            .field("writes", &self.writes.values().any(|w| !w.is_empty()))
            .finish_non_exhaustive()
    }
}
