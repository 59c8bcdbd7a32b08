//! Maintenance: manual compaction and statistics.

use super::Db;
use crate::error::{Error, InvalidArgumentKind, Result};

use crate::stats::Stats;

impl Db {
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
