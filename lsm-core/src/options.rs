//! Options of a database, with their defaults and validation.

use std::time::Duration;

use crate::error::{Error, Result};

pub use lsm_format::Compression;

/// How a database behaves. A plain struct: set fields, take the rest from
/// [`Default`]. [`crate::Db::open`] refuses invalid values with
/// [`Error::InvalidOptions`] naming the field.
///
/// ```
/// use lsm_core::{Db, Options};
///
/// let options = Options {
///     memtable_size: 16 << 20,
///     sync_writes: true,
///     ..Options::default()
/// };
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// Bytes of writes a memtable takes before it is frozen and flushed to segments,
    /// counted as the memory the entries occupy: key and value plus about 30 bytes
    /// per entry. Default 64 MiB. Minimum 4 KiB.
    pub memtable_size: usize,
    /// Target size of a segment file in bytes: flush and compaction outputs roll to a
    /// new file when one reaches it. Default 64 MiB (large files mean fewer files to
    /// consult and cheaper metadata; 4 KiB works). Minimum 1 KiB.
    pub segment_size: usize,
    /// Target uncompressed size of a data block in bytes. Default 4 KiB. 256 B ..= 1 MiB.
    pub block_size: usize,
    /// Bloom filter bits per key of segments below level 0; 0 disables their
    /// filters. Default 14 (about 0.19 % false positives; each false positive costs a
    /// data-block read). At most 32.
    pub bloom_bits_per_key: u8,
    /// Bloom filter bits per key of level-0 segments (flush outputs); 0 disables
    /// their filters. Default 24 (about 0.008 % false positives). At most 32.
    ///
    /// A lookup probes every level-0 file whose key range holds the key, but only one
    /// file per deeper level, so level 0 gets more bits, as in fjall's defaults; its
    /// files are few and short-lived, so this costs little space (3 bytes per key).
    /// `docs/perf-log.md` has the measurements behind the default.
    pub level0_bloom_bits_per_key: u8,
    /// Bytes of decompressed blocks kept in the LRU block cache; 0 disables it.
    /// Default 128 MiB. Only reads fill it (compaction's one-pass reads do not).
    pub block_cache_size: usize,
    /// Segment bytes whose data blocks are read through the memory mapping instead
    /// of one positional read (`pread`) per block-cache miss. Default 0: every data
    /// block goes through the block cache; `u64::MAX` maps every segment.
    ///
    /// A read through the mapping costs no system call, but the pages it touches
    /// (on Linux, whole page-cache folios of up to 2 MiB) stay in the process's
    /// resident memory while the segment is open, besides the decompressed copy the
    /// cache keeps; the same memory given to the cache spares decompressions
    /// (`docs/perf-log.md` measures the trade). A segment takes its share of the
    /// budget at the first block read that finds room, and gives it back when it is
    /// deleted. Index, filter and properties blocks are always read through the
    /// mapping.
    pub mmap_read_budget: u64,
    /// Fsync the write-ahead log before acknowledging every write. Default false: a
    /// write reaches the operating system before it is acknowledged (so it survives a
    /// process crash) and [`crate::Db::sync`] makes it survive power loss.
    pub sync_writes: bool,
    /// A memtable older than this is flushed even if not full: the periodic dump.
    /// Default `None` (flush only when full).
    pub flush_interval: Option<Duration>,
    /// Number of level-0 segments that triggers a compaction into level 1. Default 4.
    /// At least 1.
    pub level0_compaction_trigger: usize,
    /// Writers slow down at `level0_stop_writes / 2` level-0 segments (never below
    /// the trigger) and wait at this many until compaction catches up. Default 20.
    /// Must exceed `level0_compaction_trigger`.
    pub level0_stop_writes: usize,
    /// Each level is this many times larger than the one above. Default 10. 2 ..= 100.
    pub level_size_multiplier: usize,
    /// Target size of level 1 in bytes. Default 256 MiB.
    pub level1_size: u64,
    /// Compression of data blocks. Default [`Compression::Lz4`].
    pub compression: Compression,
    /// Create the directory and an empty database when missing. Default true.
    pub create_if_missing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_size: 64 << 20,
            segment_size: 64 << 20,
            block_size: 4 << 10,
            bloom_bits_per_key: 14,
            level0_bloom_bits_per_key: 24,
            block_cache_size: 128 << 20,
            mmap_read_budget: 0,
            sync_writes: false,
            flush_interval: None,
            level0_compaction_trigger: 4,
            level0_stop_writes: 20,
            level_size_multiplier: 10,
            level1_size: 256 << 20,
            compression: Compression::Lz4,
            create_if_missing: true,
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidOptions {
        field,
        reason: reason.into(),
    }
}

impl Options {
    /// Checks every field; [`crate::Db::open`] calls this.
    ///
    /// ```
    /// use lsm_core::{Error, Options};
    ///
    /// assert!(Options::default().validate().is_ok());
    /// let tiny = Options { block_size: 16, ..Options::default() };
    /// assert!(matches!(
    ///     tiny.validate(),
    ///     Err(Error::InvalidOptions { field: "block_size", .. })
    /// ));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        if self.memtable_size < 4 << 10 {
            return Err(invalid("memtable_size", "must be at least 4096 bytes"));
        }
        if self.memtable_size > 4 << 30 {
            return Err(invalid("memtable_size", "must be at most 4 GiB"));
        }
        if self.segment_size < 1 << 10 {
            return Err(invalid("segment_size", "must be at least 1024 bytes"));
        }
        if !(256..=1 << 20).contains(&self.block_size) {
            return Err(invalid("block_size", "must be between 256 bytes and 1 MiB"));
        }
        if self.bloom_bits_per_key > 32 {
            return Err(invalid("bloom_bits_per_key", "must be at most 32"));
        }
        if self.level0_bloom_bits_per_key > 32 {
            return Err(invalid("level0_bloom_bits_per_key", "must be at most 32"));
        }
        if self.level0_compaction_trigger == 0 {
            return Err(invalid("level0_compaction_trigger", "must be at least 1"));
        }
        if self.level0_stop_writes <= self.level0_compaction_trigger {
            return Err(invalid(
                "level0_stop_writes",
                "must be greater than level0_compaction_trigger",
            ));
        }
        if !(2..=100).contains(&self.level_size_multiplier) {
            return Err(invalid(
                "level_size_multiplier",
                "must be between 2 and 100",
            ));
        }
        if self.level1_size < 1 << 10 {
            return Err(invalid("level1_size", "must be at least 1024 bytes"));
        }
        if let Some(d) = self.flush_interval {
            if d.is_zero() {
                return Err(invalid("flush_interval", "must be greater than zero"));
            }
        }
        Ok(())
    }
}

/// Options of one write, for [`crate::Db::write_opt`]. Build it from [`Default`]
/// and its `with_*` setters:
///
/// ```
/// let synced = lsm_core::WriteOptions::default().with_sync(true);
/// assert!(synced.sync);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Fsync the write-ahead log before the write is acknowledged, so that it (and
    /// every write acknowledged before it) survives power loss, even in a database
    /// opened without [`Options::sync_writes`]. Default false: the database's
    /// `sync_writes` decides.
    pub sync: bool,
}

impl WriteOptions {
    /// The defaults: no fsync beyond what [`Options::sync_writes`] asks for.
    ///
    /// ```
    /// assert_eq!(lsm_core::WriteOptions::new(), lsm_core::WriteOptions::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`sync`](Self::sync): whether this write is fsynced before it returns.
    ///
    /// ```
    /// use lsm_core::{Db, Options, WriteBatch, WriteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?; // sync_writes: false
    /// let mut batch = WriteBatch::new();
    /// batch.put("order:17", "paid");
    /// db.write_opt(batch, &WriteOptions::new().with_sync(true))?; // durable on return
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        Options::default().validate().unwrap();
        let bad = Options {
            memtable_size: 10,
            ..Options::default()
        };
        match bad.validate() {
            Err(Error::InvalidOptions { field, .. }) => assert_eq!(field, "memtable_size"),
            other => panic!("{other:?}"),
        }
        let bad = Options {
            level0_stop_writes: 2,
            ..Options::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidOptions {
                field: "level0_stop_writes",
                ..
            })
        ));
    }
}
