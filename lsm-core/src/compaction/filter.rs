//! Compaction filters: application code that removes or rewrites values while
//! compaction rewrites them anyway (RocksDB's `CompactionFilter`).
//!
//! The filter is asked only where its answer cannot change what any reader sees
//! other than a reader of the newest state: about the newest version of a key in
//! the compaction, when that version is a live value (a put, or an expiring put
//! not yet expired) newer than every live snapshot and not under a range tombstone.
//! `Remove` turns the version into a tombstone at the same sequence number, so
//! older versions stay hidden; `ChangeValue` keeps the sequence number (and an
//! expiring put's expiry). `compaction/retention.rs` decides what is offered.

/// What a [`CompactionFilter`] decides for one value.
///
/// ```
/// use lsm_core::FilterDecision;
/// let decision = FilterDecision::ChangeValue(b"redacted".to_vec());
/// assert_ne!(decision, FilterDecision::Keep);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterDecision {
    /// Keep the value as it is.
    Keep,
    /// Delete the key: the version becomes a tombstone with its sequence number
    /// (dropped later where no older version of the key remains below it).
    Remove,
    /// Replace the value; the sequence number (and the expiry of a value written
    /// with a TTL) stays.
    ChangeValue(Vec<u8>),
}

/// Application logic run by compaction over live values: set it with
/// [`Options::with_compaction_filter`](crate::Options::with_compaction_filter).
///
/// [`filter`](Self::filter) is called from the compaction thread, during
/// compactions only (never by a flush, never by a read), once for each value that
/// is the newest version of its key among the compaction's inputs, is newer than
/// every live [`Snapshot`](crate::Snapshot), is not under a range delete, and is
/// not expired. So no open snapshot ever reads differently because of a filter,
/// and a value is offered again by each later compaction it goes through. A value
/// written after the compaction began, or one still in a memtable or in a file no
/// compaction has read yet, is not offered: a filter is a way to reclaim space
/// eventually, not a read-time rule.
///
/// `level` is the level the compaction writes; `is_bottom_level` is true when no
/// deeper level holds a file that may hold the key. `value` is the user's value
/// (without the expiry of a TTL put).
///
/// ```
/// use std::sync::Arc;
/// use lsm_core::{CompactionFilter, Db, FilterDecision, Options};
///
/// /// Drops every key under `tmp/`, upper-cases values under `name/`.
/// struct Cleanup;
///
/// impl CompactionFilter for Cleanup {
///     fn filter(&self, _level: usize, key: &[u8], value: &[u8], _bottom: bool) -> FilterDecision {
///         if key.starts_with(b"tmp/") {
///             FilterDecision::Remove
///         } else if key.starts_with(b"name/") {
///             FilterDecision::ChangeValue(value.to_ascii_uppercase())
///         } else {
///             FilterDecision::Keep
///         }
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default().with_compaction_filter(Arc::new(Cleanup)))?;
/// db.put("tmp/1", "x")?;
/// db.put("name/1", "ada")?;
/// db.put("other", "y")?;
/// db.compact()?;
/// assert_eq!(db.get("tmp/1")?, None);
/// assert_eq!(db.get("name/1")?.as_deref(), Some(&b"ADA"[..]));
/// assert_eq!(db.get("other")?.as_deref(), Some(&b"y"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CompactionFilter: Send + Sync {
    /// Decides what becomes of `key`'s `value` in the output of a compaction into
    /// `level`. Must not panic (a panic fails the compaction, which poisons the
    /// database); should be fast, as it runs once per offered value.
    fn filter(
        &self,
        level: usize,
        key: &[u8],
        value: &[u8],
        is_bottom_level: bool,
    ) -> FilterDecision;

    /// A name for logs and `Debug` output. Default `"CompactionFilter"`.
    ///
    /// ```
    /// use lsm_core::{CompactionFilter, FilterDecision};
    /// struct Keep;
    /// impl CompactionFilter for Keep {
    ///     fn filter(&self, _: usize, _: &[u8], _: &[u8], _: bool) -> FilterDecision {
    ///         FilterDecision::Keep
    ///     }
    ///     fn name(&self) -> &str {
    ///         "keep"
    ///     }
    /// }
    /// assert_eq!(Keep.name(), "keep");
    /// ```
    fn name(&self) -> &str {
        "CompactionFilter"
    }
}

impl std::fmt::Debug for dyn CompactionFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
