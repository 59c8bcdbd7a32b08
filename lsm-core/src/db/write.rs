//! Writing: put, delete, atomic batches, sync and flush.

use super::Db;
use crate::batch::WriteBatch;
use crate::error::Result;
use crate::options::WriteOptions;

impl Db {
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
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a key over 65535 bytes
    /// or a value over 256 MiB
    /// (nothing is written); [`Error::Poisoned`](crate::Error::Poisoned) after an earlier
    /// write failure;
    /// [`Error::Io`](crate::Error::Io).
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len());
        batch.put(key, value);
        self.engine.write(batch)
    }

    /// Sets `key` to `value` until `ttl` has passed, then the key reads as deleted
    /// (in [`Db::get`], scans, snapshots taken after that moment, everywhere), as
    /// if a delete had been written in place of this put: an older value of the key
    /// does not come back. The expiry is the database's
    /// [`clock`](crate::Options::clock) when the write is committed plus `ttl`
    /// (rounded up to whole milliseconds, saturating), stored with the value and
    /// kept through flushes, compactions and reopening. Flushes and compactions
    /// turn expired values into tombstones and reclaim their space. A
    /// [`Snapshot`](crate::Snapshot) judges expiry at the time it was taken, so it
    /// keeps reading a value that expires after it. A later put of the key
    /// replaces the value and its expiry.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use lsm_core::{Db, ManualClock, Options};
    ///
    /// let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default().with_clock(clock.clone()))?;
    /// db.put("k", "old")?;
    /// db.put_with_ttl("k", "new", Duration::from_secs(10))?;
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"new"[..]));
    /// let snapshot = db.snapshot();
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(db.get("k")?, None); // expired; "old" stays hidden
    /// assert_eq!(snapshot.get("k")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::put`] (the value's limit is 8 bytes lower: the expiry is stored
    /// with it).
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len() + 8);
        batch.put_with_ttl(key, value, ttl);
        self.write(batch)
    }

    /// Fixes the expiry of `batch`'s TTL puts: the clock is read once per batch,
    /// before it is encoded.
    /// Refuses a batch that writes to a keyspace dropped before the call (one
    /// dropped while the batch commits loses its writes with the rest of it).
    fn check_keyspaces(&self, batch: &WriteBatch) -> Result<()> {
        for id in batch.keyspaces() {
            if self.engine.reads.view_of(id).is_none() {
                return Err(crate::Error::KeyspaceDropped {
                    name: format!("#{id}"),
                });
            }
        }
        Ok(())
    }

    fn fix_expiries(&self, batch: &mut WriteBatch) {
        if batch.has_ttl() {
            batch.fix_expiries(crate::clock::now_ms(&*self.engine.env.opts.clock));
        }
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

    /// Deletes every key `k` with `start <= k < end` in one write (half-open, as
    /// RocksDB's `DeleteRange`), however many keys the range holds: a range
    /// tombstone hides the older versions, reads skip what it covers, and
    /// compaction reclaims their space. A snapshot taken before it still sees the
    /// range; writes after it are visible. `start == end` deletes nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// for i in 0..100u32 {
    ///     db.put(format!("log/{i:03}"), "entry")?;
    /// }
    /// db.delete_range("log/000", "log/090")?;
    /// assert_eq!(db.iter().count(), 10);
    /// assert!(db.delete_range("b", "a").is_err()); // start after end
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when `start > end`
    /// (kind `InvalidRange`) or a bound is over 65535 bytes; otherwise as
    /// [`Db::put`].
    pub fn delete_range(&self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> Result<()> {
        let (start, end) = (start.as_ref(), end.as_ref());
        let mut batch = WriteBatch::with_capacity(1, start.len() + end.len());
        batch.delete_range(start, end);
        self.engine.write(batch)
    }

    /// Deletes every key that starts with `prefix` in one write (the empty prefix
    /// deletes every key), as [`Db::delete_range`] does for a range.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("session/a", "1")?;
    /// db.put("session/b", "2")?;
    /// db.put("settings", "3")?;
    /// db.delete_prefix("session/")?;
    /// assert_eq!(db.prefix("session/").count(), 0);
    /// assert_eq!(db.get("settings")?.as_deref(), Some(&b"3"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Db::delete_range`].
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        let prefix = prefix.as_ref();
        let mut batch = WriteBatch::with_capacity(1, prefix.len() * 2);
        batch.delete_prefix(prefix);
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
    pub fn write(&self, mut batch: WriteBatch) -> Result<()> {
        self.check_keyspaces(&batch)?;
        self.fix_expiries(&mut batch);
        self.engine.write(batch)
    }

    /// Like [`Db::write`], with per-write `options`. With
    /// [`WriteOptions::sync`], the write-ahead log is fsynced before this returns,
    /// so the batch, and every write acknowledged before it, survives power loss
    /// even when the database does not sync every write
    /// ([`Options::sync_writes`](crate::Options::sync_writes) false). Concurrent writers
    /// share that fsync (group
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
    /// As [`Db::write`]; a failed fsync is [`Error::Io`](crate::Error::Io) and poisons the
    /// database
    /// (a failed fsync is never retried).
    pub fn write_opt(&self, mut batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        self.check_keyspaces(&batch)?;
        self.fix_expiries(&mut batch);
        self.engine.write_opt(batch, options)
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
    /// [`Error::Io`](crate::Error::Io) (the database is then poisoned: a failed fsync is
    /// never
    /// retried); [`Error::Poisoned`](crate::Error::Poisoned).
    pub fn sync(&self) -> Result<()> {
        self.engine.sync_wal(false)
    }

    /// Writes the default keyspace's memtable out as segments and records them in
    /// the manifest; returns when every write to it acknowledged before the call is
    /// in a segment. Other keyspaces' memtables stay ([`Keyspace::flush`](crate::Keyspace::flush)
    /// flushes one; [`Db::close`](crate::Db::close) flushes them all).
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
    /// [`Error::Io`](crate::Error::Io), [`Error::Poisoned`](crate::Error::Poisoned),
    /// [`Error::Closed`](crate::Error::Closed).
    pub fn flush(&self) -> Result<()> {
        self.engine.flush(crate::write_path::Freeze::One(
            lsm_format::keyspace::DEFAULT_KEYSPACE,
        ))
    }
}
