//! Per-keyspace options: what is naturally a property of one tree.

use std::sync::Arc;

use crate::compaction::filter::CompactionFilter;
use crate::error::Result;
use crate::options::{Compression, Options};

/// Options of one keyspace's tree, given to
/// [`Db::keyspace_with`](crate::Db::keyspace_with). Each field left unset takes
/// the database's value from [`Options`]. They are not stored in the database:
/// give them at each open, as RocksDB's column family options, best with
/// [`Options::with_keyspace_options`], which is in force from the open on (the
/// keyspace's first compactions may run before the application asks for it);
/// [`Db::keyspace_with`](crate::Db::keyspace_with) replaces them for the rest of
/// the process. A keyspace given no options either way uses the database's. Files
/// already written keep the settings they were written with; the options apply to
/// the segments written from then on.
///
/// ```
/// use lsm_core::{Compression, Db, KeyspaceOptions, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let blobs = db.keyspace_with(
///     "blobs",
///     KeyspaceOptions::default()
///         .with_block_size(64 << 10)
///         .with_compression(Compression::None),
/// )?;
/// blobs.put("b1", vec![0u8; 10_000])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct KeyspaceOptions {
    /// As [`Options::segment_size`]. Default: the database's.
    pub segment_size: Option<usize>,
    /// As [`Options::block_size`]. Default: the database's.
    pub block_size: Option<usize>,
    /// As [`Options::bloom_bits_per_key`]. Default: the database's.
    pub bloom_bits_per_key: Option<u8>,
    /// As [`Options::level0_bloom_bits_per_key`]. Default: the database's.
    pub level0_bloom_bits_per_key: Option<u8>,
    /// As [`Options::compression`]. Default: the database's.
    pub compression: Option<Compression>,
    /// As [`Options::bottommost_compression`]: `Some(None)` makes this keyspace's
    /// bottom level use its [`compression`](Self::compression), `Some(Some(c))` sets
    /// it. Default (`None`): the database's.
    pub bottommost_compression: Option<Option<Compression>>,
    /// As [`Options::compaction_filter`], for this keyspace's compactions only.
    /// Default: the database's.
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// As [`Options::blob_threshold`]: `Some(None)` turns key-value separation off
    /// for this keyspace, `Some(Some(n))` sets its threshold. Default (`None`): the
    /// database's.
    pub blob_threshold: Option<Option<usize>>,
    /// As [`Options::blob_gc_ratio`], for this keyspace's blob files. Default: the
    /// database's.
    pub blob_gc_ratio: Option<f64>,
}

impl KeyspaceOptions {
    /// Sets [`segment_size`](Self::segment_size).
    ///
    /// ```
    /// let o = lsm_core::KeyspaceOptions::default().with_segment_size(8 << 20);
    /// assert_eq!(o.segment_size, Some(8 << 20));
    /// ```
    #[must_use]
    pub fn with_segment_size(mut self, bytes: usize) -> Self {
        self.segment_size = Some(bytes);
        self
    }

    /// Sets [`block_size`](Self::block_size).
    ///
    /// ```
    /// let o = lsm_core::KeyspaceOptions::default().with_block_size(16 << 10);
    /// assert_eq!(o.block_size, Some(16 << 10));
    /// ```
    #[must_use]
    pub fn with_block_size(mut self, bytes: usize) -> Self {
        self.block_size = Some(bytes);
        self
    }

    /// Sets [`bloom_bits_per_key`](Self::bloom_bits_per_key).
    ///
    /// ```
    /// let o = lsm_core::KeyspaceOptions::default().with_bloom_bits_per_key(10);
    /// assert_eq!(o.bloom_bits_per_key, Some(10));
    /// ```
    #[must_use]
    pub fn with_bloom_bits_per_key(mut self, bits: u8) -> Self {
        self.bloom_bits_per_key = Some(bits);
        self
    }

    /// Sets [`level0_bloom_bits_per_key`](Self::level0_bloom_bits_per_key).
    ///
    /// ```
    /// let o = lsm_core::KeyspaceOptions::default().with_level0_bloom_bits_per_key(16);
    /// assert_eq!(o.level0_bloom_bits_per_key, Some(16));
    /// ```
    #[must_use]
    pub fn with_level0_bloom_bits_per_key(mut self, bits: u8) -> Self {
        self.level0_bloom_bits_per_key = Some(bits);
        self
    }

    /// Sets [`compression`](Self::compression).
    ///
    /// ```
    /// use lsm_core::{Compression, KeyspaceOptions};
    /// let o = KeyspaceOptions::default().with_compression(Compression::None);
    /// assert_eq!(o.compression, Some(Compression::None));
    /// ```
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Sets [`bottommost_compression`](Self::bottommost_compression).
    ///
    /// ```
    /// use lsm_core::{Compression, KeyspaceOptions};
    /// let o = KeyspaceOptions::default().with_bottommost_compression(Some(Compression::Zstd));
    /// assert_eq!(o.bottommost_compression, Some(Some(Compression::Zstd)));
    /// let same = KeyspaceOptions::default().with_bottommost_compression(None);
    /// assert_eq!(same.bottommost_compression, Some(None));
    /// ```
    #[must_use]
    pub fn with_bottommost_compression(mut self, compression: Option<Compression>) -> Self {
        self.bottommost_compression = Some(compression);
        self
    }

    /// Sets [`compaction_filter`](Self::compaction_filter).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lsm_core::{CompactionFilter, FilterDecision, KeyspaceOptions};
    ///
    /// struct KeepAll;
    /// impl CompactionFilter for KeepAll {
    ///     fn filter(&self, _: usize, _: &[u8], _: &[u8], _: bool) -> FilterDecision {
    ///         FilterDecision::Keep
    ///     }
    /// }
    /// let o = KeyspaceOptions::default().with_compaction_filter(Arc::new(KeepAll));
    /// assert!(o.compaction_filter.is_some());
    /// ```
    #[must_use]
    pub fn with_compaction_filter(mut self, filter: Arc<dyn CompactionFilter>) -> Self {
        self.compaction_filter = Some(filter);
        self
    }

    /// Sets [`blob_threshold`](Self::blob_threshold): the value size from which this
    /// keyspace's flushes and compactions move values to blob files, or `None` to
    /// keep all its values in its segments whatever the database's threshold.
    ///
    /// ```
    /// let o = lsm_core::KeyspaceOptions::default().with_blob_threshold(Some(1 << 10));
    /// assert_eq!(o.blob_threshold, Some(Some(1024)));
    /// let off = lsm_core::KeyspaceOptions::default().with_blob_threshold(None);
    /// assert_eq!(off.blob_threshold, Some(None));
    /// ```
    #[must_use]
    pub fn with_blob_threshold(mut self, bytes: Option<usize>) -> Self {
        self.blob_threshold = Some(bytes);
        self
    }

    /// Sets [`blob_gc_ratio`](Self::blob_gc_ratio): the garbage share of one of
    /// this keyspace's blob files from which compactions rewrite its live values.
    ///
    /// ```
    /// let o = lsm_core::KeyspaceOptions::default().with_blob_gc_ratio(0.25);
    /// assert_eq!(o.blob_gc_ratio, Some(0.25));
    /// ```
    #[must_use]
    pub fn with_blob_gc_ratio(mut self, ratio: f64) -> Self {
        self.blob_gc_ratio = Some(ratio);
        self
    }

    /// The database's `base` options with these set over them, checked.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`](crate::Error::InvalidOptions) for a value
    /// [`Options`] refuses.
    pub(crate) fn over(&self, base: &Options) -> Result<Options> {
        let mut o = base.clone();
        // The result is one tree's options: the per-keyspace table is not part of
        // them (and validating it again from here would never end).
        o.keyspace_options.clear();
        if let Some(v) = self.segment_size {
            o.segment_size = v;
        }
        if let Some(v) = self.block_size {
            o.block_size = v;
        }
        if let Some(v) = self.bloom_bits_per_key {
            o.bloom_bits_per_key = v;
        }
        if let Some(v) = self.level0_bloom_bits_per_key {
            o.level0_bloom_bits_per_key = v;
        }
        if let Some(v) = self.compression {
            o.compression = v;
        }
        if let Some(v) = self.bottommost_compression {
            o.bottommost_compression = v;
        }
        if let Some(f) = &self.compaction_filter {
            o.compaction_filter = Some(f.clone());
        }
        if let Some(v) = self.blob_threshold {
            o.blob_threshold = v;
        }
        if let Some(v) = self.blob_gc_ratio {
            o.blob_gc_ratio = v;
        }
        o.validate()?;
        Ok(o)
    }
}

impl Options {
    /// The options keyspace `name`'s tree is written with, as far as these options
    /// say: its entry of [`Options::keyspace_options`] over the rest, or the rest
    /// alone.
    ///
    /// # Errors
    /// [`crate::Error::InvalidOptions`] for a keyspace's value [`Options`] refuses.
    pub(crate) fn tree_options(&self, name: &str) -> Result<Options> {
        match self.keyspace_options.get(name) {
            Some(o) => o.over(self),
            None => Ok(self.clone()),
        }
    }

    /// The compaction filter keyspace `name`'s compactions run with, as far as
    /// these options say.
    pub(crate) fn keyspace_filter(&self, name: &str) -> Option<Arc<dyn CompactionFilter>> {
        self.keyspace_options
            .get(name)
            .and_then(|o| o.compaction_filter.clone())
            .or_else(|| self.compaction_filter.clone())
    }
}
