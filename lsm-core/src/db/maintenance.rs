//! Maintenance: manual compaction and statistics.

use super::Db;
use crate::compaction::manual::Manual;
use lsm_format::keyspace::DEFAULT_KEYSPACE;

use crate::error::{Error, InvalidArgumentKind, Result};

use crate::stats::Stats;

impl Db {
    /// Full manual compaction of every keyspace, one after the other: flushes,
    /// then merges every segment of the keyspace into one level, the bottom: the
    /// last level (6, or the deepest that holds data if deeper) under dynamic
    /// level sizing ([`Options::dynamic_level_bytes`](crate::Options::dynamic_level_bytes)),
    /// else the deepest level that holds data (at least 1). With no live snapshot,
    /// no tombstone and no overwritten version remains afterwards.
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
    /// assert_eq!((levels[0].segments, levels[6].segments), (0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Corruption`] met while merging (the database is then
    /// poisoned), [`Error::Poisoned`], [`Error::Closed`].
    pub fn compact(&self) -> Result<()> {
        for (id, _) in self.engine.versions.keyspaces() {
            match self.engine.compact(id, Manual::Full(None)) {
                // Dropped meanwhile: nothing of it to compact.
                Err(Error::KeyspaceDropped { .. }) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Like [`Db::compact`] on the default keyspace alone, but merges every
    /// segment into `level` (1 ..= 15),
    /// whichever levels held data before. Used by `lsm-compact --level`. Under
    /// dynamic level sizing (the default), a level above where the data belongs
    /// does not keep it: background compaction drains it back down.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let options = lsm_core::Options::default().with_dynamic_level_bytes(false);
    /// let db = lsm_core::Db::open(dir.path(), options)?;
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
        self.compact_request(Manual::Full(Some(level)))
    }

    /// Compacts the part of the default keyspace's tree that holds keys of
    /// `[start, end)` ([`Keyspace::compact_range`](crate::Keyspace::compact_range)
    /// for another keyspace): flushes,
    /// then merges every segment that may hold such a key (and every segment the
    /// merge must take along so the levels stay ordered) into the deepest level
    /// among them, dropping what deletes and overwrites hide. What a snapshot
    /// still reads stays. The way to give back the space of a range deleted with
    /// [`Db::delete_range`] now rather than when compaction gets there.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// for i in 0..1000u32 {
    ///     db.put(format!("old/{i:04}"), [0u8; 100])?;
    /// }
    /// db.flush()?;
    /// db.delete_prefix("old/")?;
    /// db.compact_range("old/", "old0")?; // '0' is the byte after '/'
    /// assert_eq!(db.stats().levels.iter().map(|l| l.bytes).sum::<u64>(), 0);
    /// assert!(db.compact_range("b", "a").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (kind `InvalidRange`) when `start > end`;
    /// otherwise as [`Db::compact`].
    pub fn compact_range(&self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> Result<()> {
        let (start, end) = (start.as_ref(), end.as_ref());
        if start > end {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::InvalidRange,
                message: "compaction range start is after its end".to_string(),
            });
        }
        self.compact_request(Manual::Range(start.to_vec(), end.to_vec()))
    }

    fn compact_request(&self, request: Manual) -> Result<()> {
        self.engine.compact(DEFAULT_KEYSPACE, request)
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
}
