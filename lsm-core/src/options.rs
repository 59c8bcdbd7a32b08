//! Options of a database, with their defaults and validation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::compaction::filter::CompactionFilter;
use crate::error::{Error, Result};
use crate::keyspace::KeyspaceOptions;

pub use lsm_format::Compression;

/// How a database behaves. Start from [`Default`] and change what you need with the
/// `with_*` setters; each states its default. The fields stay readable.
/// [`crate::Db::open`] refuses invalid values with [`Error::InvalidOptions`] naming
/// the field.
///
/// ```
/// use lsm_core::{Compression, Db, Options};
///
/// let options = Options::default()
///     .with_memtable_size(16 << 20)
///     .with_sync_writes(true)
///     .with_compression(Compression::Lz4);
/// assert_eq!(options.memtable_size, 16 << 20);
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// filters. Default 14; each false positive costs a data-block read. At most 32.
    pub bloom_bits_per_key: u8,
    /// Bloom filter bits per key of level-0 segments (flush outputs); 0 disables
    /// their filters. Default 24. At most 32.
    ///
    /// A lookup probes every level-0 file whose key range holds the key, but only one
    /// file per deeper level, so level 0 gets more bits, as in fjall's defaults; its
    /// files are few and short-lived, so this costs little space (3 bytes per key).
    /// `docs/perf-log.md` has the measurements behind this default and
    /// [`bloom_bits_per_key`](Self::bloom_bits_per_key)'s.
    pub level0_bloom_bits_per_key: u8,
    /// Bytes of decompressed blocks kept in the LRU block cache; 0 disables it.
    /// Default 128 MiB. Only reads fill it (compaction's one-pass reads do not).
    pub block_cache_size: usize,
    /// Segment bytes whose data blocks are read through the memory mapping instead
    /// of one positional read (`pread`) per block-cache miss. Default 0: every data
    /// block goes through the block cache; `u64::MAX` maps every segment.
    ///
    /// A read through the mapping costs no system call, but the pages it touches
    /// stay in the process's resident memory while the segment is open, besides the
    /// decompressed copy the cache keeps; the same memory given to the cache spares
    /// decompressions (`docs/perf-log.md` measures the trade). A segment takes its
    /// share of the budget at the first block read that finds room, and gives it back
    /// when it is deleted. Index, filter and properties blocks are always read
    /// through the mapping.
    pub mmap_read_budget: u64,
    /// Fsync the write-ahead log before acknowledging every write. Default false: a
    /// write reaches the operating system before it is acknowledged (so it survives a
    /// process crash) and [`crate::Db::sync`] makes it survive power loss.
    pub sync_writes: bool,
    /// Once this many bytes written to the write-ahead log are neither synced nor
    /// being written back, ask the operating system to start writing them to the
    /// device (`sync_file_range` on Linux, from a background thread; elsewhere
    /// nothing), as RocksDB's option of the same name. Default 0: off. A hint that
    /// changes no promise: only a sync makes a write durable.
    ///
    /// Without it, the fsync that finishes a full WAL when its memtable is frozen
    /// waits for the whole WAL to reach the device, and writers wait for it. With
    /// 1 MiB, fills and overwrites of 4 KiB values ran about 1.1x faster, with a
    /// p99.9 write latency several times higher and writers then waiting for
    /// flushes (`docs/benchmarks.md`, "Large values").
    pub wal_bytes_per_sync: u64,
    /// A memtable older than this is flushed even if not full: the periodic dump.
    /// Default `None` (flush only when full).
    pub flush_interval: Option<Duration>,
    /// Number of level-0 segments that triggers a compaction into the base level
    /// (level 1 under static sizing, see
    /// [`dynamic_level_bytes`](Self::dynamic_level_bytes)). Default 4.
    /// At least 1.
    pub level0_compaction_trigger: usize,
    /// Writers slow down at `level0_stop_writes / 2` level-0 segments (never below
    /// the trigger) and wait at this many until compaction catches up. Default 20.
    /// Must exceed `level0_compaction_trigger`.
    pub level0_stop_writes: usize,
    /// Each level is this many times larger than the one above. Default 10. 2 ..= 100.
    pub level_size_multiplier: usize,
    /// Target size of level 1 in bytes under static sizing; under dynamic sizing
    /// ([`dynamic_level_bytes`](Self::dynamic_level_bytes)), the most the level
    /// that level 0 compacts into may aim for. Default 256 MiB.
    pub level1_size: u64,
    /// Level sizes derived from the bottom, as RocksDB's
    /// `level_compaction_dynamic_level_bytes`. Default true.
    ///
    /// When true, the last level is level 6 (or the deepest level holding data, for
    /// a database written with more levels): its size is whatever the data needs,
    /// each level above it aims for a `level_size_multiplier`-th of the one below,
    /// and level 0 compacts into the shallowest level whose share is still more
    /// than `level1_size / level_size_multiplier` (the levels above it stay
    /// empty). The last level thus holds about `(multiplier - 1) / multiplier` of
    /// the data at any size, which bounds the space taken by overwritten and
    /// deleted versions; `docs/architecture.md` gives the exact rule. As the data
    /// grows, a new level appears above the others; when it shrinks, or when a
    /// database written with static sizing is opened, the levels it no longer
    /// needs are drained downwards before other compactions.
    ///
    /// When false (static sizing), level `n >= 1` aims for `level1_size *
    /// level_size_multiplier^(n-1)` bytes and level 0 compacts into level 1: the
    /// deepest level may be a small part of the data while those above it are
    /// full. A database written with either setting opens with the other; its
    /// levels then move to the new shape through ordinary compactions.
    pub dynamic_level_bytes: bool,
    /// Compression of data blocks. Default [`Compression::Lz4`]. [`Compression::Zstd`]
    /// gives smaller files at a slower decode (`docs/benchmarks.md`, "Compression per
    /// level"); blob files compress with LZ4 whenever this is not
    /// [`Compression::None`].
    pub compression: Compression,
    /// Compression of data blocks of compaction outputs written to the bottom of the
    /// tree: to a level at or below the deepest level holding files (no deeper level
    /// holds any), where most of the data sits. `None`: as
    /// [`compression`](Self::compression). Default `None`. Flushes to level 0 and
    /// compactions into a level above the bottom use `compression`.
    pub bottommost_compression: Option<Compression>,
    /// Create the directory and an empty database when missing. Default true.
    pub create_if_missing: bool,
    /// The clock values written with a TTL ([`crate::Db::put_with_ttl`]) expire
    /// against. Default [`SystemClock`].
    pub clock: Arc<dyn Clock>,
    /// Application logic compactions run over live values
    /// ([`CompactionFilter`]). Default `None`.
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// Options of named keyspaces, by name, in force from the open on: for their
    /// flushes and compactions (the first ones may start before the application asks
    /// for the keyspace), for [`crate::Db::keyspace`] creating one, and for the
    /// check of files a crash left behind, which asks a keyspace's compaction
    /// filter. [`crate::Db::keyspace_with`] replaces them for the rest of the
    /// process. Default empty: every keyspace uses the options above.
    pub keyspace_options: BTreeMap<String, KeyspaceOptions>,
    /// Key-value separation: a put whose value is at least this many bytes is
    /// written, when a flush or compaction writes its entry, to a blob file, and the
    /// segment keeps a small pointer to it (`docs/format.md` section 8). The
    /// write-ahead log always keeps whole values. Default `Some(1024)` (chosen by
    /// measurement, `docs/benchmarks.md`); `None` keeps every value in its
    /// segment. At least 1 when set.
    pub blob_threshold: Option<usize>,
    /// Blob file garbage collection: once this share of a blob file's value bytes
    /// is garbage (no live segment points to it any more), the compactions that
    /// meet pointers into the file write their values anew, and the background
    /// thread compacts the segments that point into it when it has nothing else
    /// to do; the file is deleted once no live segment, snapshot or reader needs
    /// it. A file with no live pointer at all is deleted by the edit that drops
    /// the last one, whatever this ratio. Default 0.5; between 0.0 (exclusive)
    /// and 1.0 (inclusive).
    pub blob_gc_ratio: f64,
    /// Subcompactions: the most key ranges one compaction is split into, each
    /// merged on a thread of its own. A compaction of at least two segments'
    /// worth of input (`segment_size`) is cut, at user keys chosen from its input
    /// files' indexes, into ranges of about equal input bytes, at most one per
    /// segment of input; its outputs are installed together by one manifest
    /// edit, exactly as one merge would (the same entries and tombstones survive;
    /// only the files are also cut at the range limits). The level-0 compactions
    /// writers wait for then take about `1 / n` of the time on `n` idle cores.
    /// Default 2 (chosen by measurement, `docs/benchmarks.md`); 1 merges every
    /// compaction on the compaction thread alone. At least 1.
    pub max_subcompactions: usize,
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
            wal_bytes_per_sync: 0,
            flush_interval: None,
            level0_compaction_trigger: 4,
            level0_stop_writes: 20,
            level_size_multiplier: 10,
            level1_size: 256 << 20,
            dynamic_level_bytes: true,
            compression: Compression::Lz4,
            bottommost_compression: None,
            create_if_missing: true,
            clock: Arc::new(SystemClock),
            compaction_filter: None,
            keyspace_options: BTreeMap::new(),
            blob_threshold: Some(1024),
            blob_gc_ratio: 0.5,
            max_subcompactions: 2,
        }
    }
}

impl Options {
    /// Sets [`memtable_size`](Self::memtable_size): the bytes of writes (about 30 bytes
    /// per entry on top of key and value) a memtable takes before it is frozen and
    /// flushed to a segment. Default 64 MiB; at least 4 KiB.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_memtable_size(16 << 20);
    /// assert_eq!(options.memtable_size, 16 << 20);
    /// ```
    #[must_use]
    pub fn with_memtable_size(mut self, bytes: usize) -> Self {
        self.memtable_size = bytes;
        self
    }

    /// Sets [`segment_size`](Self::segment_size): the size at which flush and compaction
    /// outputs roll to a new segment file. Default 64 MiB; at least 1 KiB.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_segment_size(8 << 20);
    /// assert_eq!(options.segment_size, 8 << 20);
    /// ```
    #[must_use]
    pub fn with_segment_size(mut self, bytes: usize) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Sets [`block_size`](Self::block_size): the target uncompressed size of a data
    /// block, the unit of reads and of the block cache. Default 4 KiB; 256 B ..= 1 MiB.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_block_size(16 << 10);
    /// assert_eq!(options.block_size, 16 << 10);
    /// ```
    #[must_use]
    pub fn with_block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes;
        self
    }

    /// Sets [`bloom_bits_per_key`](Self::bloom_bits_per_key): the Bloom filter bits per
    /// key of segments below level 0, which spare reads of keys a segment lacks (0 disables
    /// their filters). Default 14; at most 32.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_bloom_bits_per_key(10);
    /// assert_eq!(options.bloom_bits_per_key, 10);
    /// ```
    #[must_use]
    pub fn with_bloom_bits_per_key(mut self, bits: u8) -> Self {
        self.bloom_bits_per_key = bits;
        self
    }

    /// Sets [`level0_bloom_bits_per_key`](Self::level0_bloom_bits_per_key): the Bloom
    /// filter bits per key of level-0 segments, which every lookup may probe (0 disables
    /// their filters). Default 24; at most 32.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_level0_bloom_bits_per_key(16);
    /// assert_eq!(options.level0_bloom_bits_per_key, 16);
    /// ```
    #[must_use]
    pub fn with_level0_bloom_bits_per_key(mut self, bits: u8) -> Self {
        self.level0_bloom_bits_per_key = bits;
        self
    }

    /// Sets [`block_cache_size`](Self::block_cache_size): the bytes of decompressed
    /// blocks the LRU block cache keeps for reads (0 disables it). Default 128 MiB.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_block_cache_size(32 << 20);
    /// assert_eq!(options.block_cache_size, 32 << 20);
    /// ```
    #[must_use]
    pub fn with_block_cache_size(mut self, bytes: usize) -> Self {
        self.block_cache_size = bytes;
        self
    }

    /// Sets [`mmap_read_budget`](Self::mmap_read_budget): the segment bytes whose data
    /// blocks are read through the memory mapping rather than with a positional read per
    /// block-cache miss (`u64::MAX` maps every segment). Default 0: every data block goes
    /// through the block cache.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_mmap_read_budget(u64::MAX);
    /// assert_eq!(options.mmap_read_budget, u64::MAX);
    /// ```
    #[must_use]
    pub fn with_mmap_read_budget(mut self, bytes: u64) -> Self {
        self.mmap_read_budget = bytes;
        self
    }

    /// Sets [`wal_bytes_per_sync`](Self::wal_bytes_per_sync): how many written WAL
    /// bytes, neither synced nor being written back, make the engine ask the
    /// operating system to start writing them to the device. Default 0: off.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_wal_bytes_per_sync(1 << 20);
    /// assert_eq!(options.wal_bytes_per_sync, 1 << 20);
    /// ```
    #[must_use]
    pub fn with_wal_bytes_per_sync(mut self, bytes: u64) -> Self {
        self.wal_bytes_per_sync = bytes;
        self
    }

    /// Sets [`sync_writes`](Self::sync_writes): whether every write fsyncs the
    /// write-ahead log before it is acknowledged, so it survives power loss. Default
    /// false: writes survive a process crash, and [`crate::Db::sync`] or
    /// [`WriteOptions::with_sync`] make them durable.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_sync_writes(true);
    /// assert!(options.sync_writes);
    /// ```
    #[must_use]
    pub fn with_sync_writes(mut self, sync: bool) -> Self {
        self.sync_writes = sync;
        self
    }

    /// Sets [`flush_interval`](Self::flush_interval): the age at which a memtable is
    /// flushed even if it is not full. Default `None`: memtables are flushed only when
    /// full.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_flush_interval(Some(std::time::Duration::from_secs(60)));
    /// assert_eq!(options.flush_interval, Some(std::time::Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Option<Duration>) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Sets [`level0_compaction_trigger`](Self::level0_compaction_trigger): the number
    /// of level-0 segments that starts a compaction into the base level (level 1
    /// under static sizing). Default 4; at least 1.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_level0_compaction_trigger(8);
    /// assert_eq!(options.level0_compaction_trigger, 8);
    /// ```
    #[must_use]
    pub fn with_level0_compaction_trigger(mut self, segments: usize) -> Self {
        self.level0_compaction_trigger = segments;
        self
    }

    /// Sets [`level0_stop_writes`](Self::level0_stop_writes): the number of level-0
    /// segments at which writers wait for compaction (they slow down from half of it).
    /// Default 20; must exceed the compaction trigger.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_level0_stop_writes(40);
    /// assert_eq!(options.level0_stop_writes, 40);
    /// ```
    #[must_use]
    pub fn with_level0_stop_writes(mut self, segments: usize) -> Self {
        self.level0_stop_writes = segments;
        self
    }

    /// Sets [`level_size_multiplier`](Self::level_size_multiplier): how many times
    /// larger each level is than the one above it. Default 10; 2 ..= 100.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_level_size_multiplier(8);
    /// assert_eq!(options.level_size_multiplier, 8);
    /// ```
    #[must_use]
    pub fn with_level_size_multiplier(mut self, multiplier: usize) -> Self {
        self.level_size_multiplier = multiplier;
        self
    }

    /// Sets [`level1_size`](Self::level1_size): the target size of level 1, from which
    /// deeper levels grow by the multiplier (static sizing), or the most the base
    /// level aims for (dynamic sizing). Default 256 MiB; at least 1 KiB.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_level1_size(64 << 20);
    /// assert_eq!(options.level1_size, 64 << 20);
    /// ```
    #[must_use]
    pub fn with_level1_size(mut self, bytes: u64) -> Self {
        self.level1_size = bytes;
        self
    }

    /// Sets [`dynamic_level_bytes`](Self::dynamic_level_bytes): level sizes derived
    /// from the bottom level (true), or growing from `level1_size` (false).
    /// Default true.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options::default().with_dynamic_level_bytes(true);
    /// assert!(options.dynamic_level_bytes);
    /// let db = Db::open(dir.path(), options)?;
    /// db.put("k", "v")?;
    /// db.compact()?;
    /// // Everything in the last level, level 6; nothing above it.
    /// let levels = db.stats().levels;
    /// assert_eq!(levels[6].segments, 1);
    /// assert!(levels[..6].iter().all(|l| l.segments == 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_dynamic_level_bytes(mut self, dynamic: bool) -> Self {
        self.dynamic_level_bytes = dynamic;
        self
    }

    /// Sets [`compression`](Self::compression): how data blocks are compressed on disk.
    /// Default [`Compression::Lz4`].
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_compression(lsm_core::Compression::None);
    /// assert_eq!(options.compression, lsm_core::Compression::None);
    /// ```
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`bottommost_compression`](Self::bottommost_compression): how data blocks
    /// of compaction outputs at the bottom of the tree are compressed; `None` as
    /// [`compression`](Self::compression). Default `None`.
    ///
    /// ```
    /// use lsm_core::{Compression, Options};
    /// // LZ4 above, zstd at the bottom level (as RocksDB's bottommost_compression).
    /// let options = Options::default()
    ///     .with_compression(Compression::Lz4)
    ///     .with_bottommost_compression(Some(Compression::Zstd));
    /// assert_eq!(options.bottommost_compression, Some(Compression::Zstd));
    /// ```
    #[must_use]
    pub fn with_bottommost_compression(mut self, compression: Option<Compression>) -> Self {
        self.bottommost_compression = compression;
        self
    }

    /// Sets [`create_if_missing`](Self::create_if_missing): whether
    /// [`crate::Db::open`] creates the directory and an empty database when there is
    /// none. Default true.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_create_if_missing(false);
    /// assert!(!options.create_if_missing);
    /// ```
    #[must_use]
    pub fn with_create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Sets [`clock`](Self::clock): the time source values written with a TTL
    /// expire against, read once per write batch, per read or scan, per snapshot
    /// and per flush or compaction. Default [`SystemClock`]; tests use a
    /// [`ManualClock`](crate::ManualClock).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::UNIX_EPOCH;
    /// use lsm_core::{Clock, ManualClock, Options};
    /// let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
    /// let options = Options::default().with_clock(clock.clone());
    /// assert_eq!(options.clock.now(), UNIX_EPOCH);
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets [`compaction_filter`](Self::compaction_filter): application logic that
    /// compactions run over the newest live values, to remove or rewrite them
    /// (see [`CompactionFilter`] for which values it is offered). Default none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lsm_core::{CompactionFilter, FilterDecision, Options};
    /// struct DropEmpty;
    /// impl CompactionFilter for DropEmpty {
    ///     fn filter(&self, _: usize, _: &[u8], value: &[u8], _: bool) -> FilterDecision {
    ///         if value.is_empty() { FilterDecision::Remove } else { FilterDecision::Keep }
    ///     }
    /// }
    /// let options = Options::default().with_compaction_filter(Arc::new(DropEmpty));
    /// assert!(options.compaction_filter.is_some());
    /// ```
    #[must_use]
    pub fn with_compaction_filter(mut self, filter: Arc<dyn CompactionFilter>) -> Self {
        self.compaction_filter = Some(filter);
        self
    }

    /// Adds [`keyspace_options`](Self::keyspace_options) for keyspace `name`, as
    /// RocksDB takes column family options at open: give them at every open of a
    /// database whose keyspace needs them (a compaction filter above all, so that
    /// no compaction of the keyspace runs without it).
    ///
    /// ```
    /// use lsm_core::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = Options::default()
    ///     .with_keyspace_options("index", KeyspaceOptions::default().with_bloom_bits_per_key(20));
    /// let db = Db::open(dir.path(), options)?;
    /// let index = db.keyspace("index")?; // created with 20 Bloom bits per key
    /// index.put("term", "doc1")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_keyspace_options(mut self, name: &str, options: KeyspaceOptions) -> Self {
        self.keyspace_options.insert(name.to_string(), options);
        self
    }

    /// Sets [`blob_threshold`](Self::blob_threshold): the value size from which
    /// flushes and compactions move a put's value to a blob file. Default 1 KiB;
    /// `None` turns it off; at least 1 when set. It applies to the entries written from then on:
    /// values already in segments or blob files stay where they are until a
    /// compaction rewrites them.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_blob_threshold(Some(4 << 10));
    /// assert_eq!(options.blob_threshold, Some(4096));
    /// ```
    #[must_use]
    pub fn with_blob_threshold(mut self, bytes: Option<usize>) -> Self {
        self.blob_threshold = bytes;
        self
    }

    /// Sets [`blob_gc_ratio`](Self::blob_gc_ratio): the share of a blob file's
    /// value bytes that must be garbage before compactions rewrite its live
    /// values.
    ///
    /// ```
    /// let options = lsm_core::Options::default().with_blob_gc_ratio(0.25);
    /// assert_eq!(options.blob_gc_ratio, 0.25);
    /// ```
    #[must_use]
    pub fn with_blob_gc_ratio(mut self, ratio: f64) -> Self {
        self.blob_gc_ratio = ratio;
        self
    }

    /// Sets [`max_subcompactions`](Self::max_subcompactions): the most key ranges
    /// (and threads) one compaction is split into. Default 2; at least 1.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let options = lsm_core::Options::default()
    ///     .with_segment_size(4 << 10)
    ///     .with_max_subcompactions(4);
    /// assert_eq!(options.max_subcompactions, 4);
    /// let db = lsm_core::Db::open(dir.path(), options)?;
    /// for i in 0..20_000u32 {
    ///     db.put(format!("key{i:06}"), [7u8; 20])?;
    /// }
    /// db.compact()?;
    /// // About 300 KB of input in 4 KiB segments: split four ways.
    /// assert!(db.stats().subcompactions >= 4);
    /// assert!(lsm_core::Options::default().with_max_subcompactions(0).validate().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_max_subcompactions(mut self, ranges: usize) -> Self {
        self.max_subcompactions = ranges;
        self
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
    /// let tiny = Options::default().with_block_size(16);
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
        if self.blob_threshold == Some(0) {
            return Err(invalid(
                "blob_threshold",
                "must be at least 1 byte when set",
            ));
        }
        if !(self.blob_gc_ratio > 0.0 && self.blob_gc_ratio <= 1.0) {
            return Err(invalid(
                "blob_gc_ratio",
                "must be above 0.0 and at most 1.0",
            ));
        }
        if self.max_subcompactions == 0 {
            return Err(invalid("max_subcompactions", "must be at least 1"));
        }
        for name in self.keyspace_options.keys() {
            self.tree_options(name)?;
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
        let bad = Options::default().with_memtable_size(10);
        match bad.validate() {
            Err(Error::InvalidOptions { field, .. }) => assert_eq!(field, "memtable_size"),
            other => panic!("{other:?}"),
        }
        let bad = Options::default().with_level0_stop_writes(2);
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidOptions {
                field: "level0_stop_writes",
                ..
            })
        ));
        Options::default()
            .with_blob_threshold(Some(1))
            .validate()
            .unwrap();
        let bad = Options::default().with_blob_threshold(Some(0));
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidOptions {
                field: "blob_threshold",
                ..
            })
        ));
    }
}
