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

use crate::batch::prefix_end;
use crate::db::Db;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::options::WriteOptions;
use crate::scan::{bounds, prefix_bounds};
use crate::snapshot::Snapshot;
use crate::write_path::validate_op;

pub(crate) use ranges::KeyRange;
pub(crate) use read_set::ReadSet;
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
    reads: ReadSet,
    writes: WriteSet,
}

impl<'db> Transaction<'db> {
    pub(crate) fn new(db: &'db Db, snapshot: Snapshot) -> Self {
        Transaction {
            db,
            snapshot,
            reads: ReadSet::default(),
            writes: WriteSet::default(),
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
        match self.writes.lookup(key) {
            Own::Put(value) => Ok(Some(value)),
            Own::Deleted => Ok(None),
            Own::Untouched => {
                // A key over the limit can never be written: nothing to record.
                if key.len() <= lsm_format::MAX_KEY_LEN {
                    self.reads.add_key(key);
                }
                self.snapshot.get(key)
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
        self.scan_bounds(bounds(&range))
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
        self.scan_bounds(prefix_bounds(prefix.as_ref()))
    }

    fn scan_bounds(&mut self, (lower, upper): (Bound<Bytes>, Bound<Bytes>)) -> TransactionScan {
        let range = KeyRange::from_bounds(as_slice(&lower), as_slice(&upper));
        if let Some(r) = &range {
            self.reads.add_range(r.clone());
        }
        let overlay = self.writes.overlay(range.as_ref());
        TransactionScan::new(self.snapshot.scan((lower, upper)), overlay)
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
        self.writes.put(key, value);
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
        self.writes.delete(key);
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
        self.writes.delete_range(start, end);
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
        self.writes.delete_prefix(prefix);
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
        if writes.is_empty() {
            return Ok(());
        }
        // The snapshot stays registered until the commit is done: compaction must
        // keep the versions validation looks for.
        let r =
            db.engine
                .commit_transaction(writes.into_batch(), reads, snapshot.sequence(), options);
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
            .field("writes", &!self.writes.is_empty())
            .finish_non_exhaustive()
    }
}
