//! The public range iterator.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;
use crate::read_path::iter::visible::VisibleIter;
use crate::read_path::{ReadView, SuperVersion};

/// Iterator over live `(key, value)` pairs of a range, in key order; `.rev()` walks
/// it backwards, and both ends may be used on one scan (they meet in the middle).
///
/// A scan reads a fixed view: the memtables and segment files current when it was
/// created, at the sequence number of its database or [`crate::Snapshot`], and
/// judges values written with a TTL at one time: when it was created (or when its
/// snapshot was taken). Writes made afterwards are invisible to it; flushes and compactions do not disturb it
/// (it holds the files it reads, which are deleted only after it is dropped). It
/// borrows nothing from the [`crate::Db`] and is `Send`.
///
/// Keys are copied out of the files; values share the file's (or block cache's)
/// bytes. After an error it yields nothing more.
///
/// A scan can be repositioned: [`Scan::seek`] and [`Scan::seek_for_prev`] move it
/// to a key within its range, reusing the cursors it has (a seek costs a seek of
/// each memtable and file it reads, not a new scan). A seek turns the scan into
/// what a new scan of part of its range would be, at the same sequence number and
/// time: [`Scan::seek`] to the keys from the sought key up, [`Scan::seek_for_prev`]
/// to those up to it; both ends start afresh, whatever they had consumed.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
/// for k in ["a", "b", "c", "d"] {
///     db.put(k, k.to_uppercase())?;
/// }
/// let mut scan = db.scan("a"..="d");
/// let (first, value) = scan.next().transpose()?.unwrap();
/// let (last, _) = scan.next_back().transpose()?.unwrap();
/// assert_eq!((first, value, last), ("a".into(), "A".into(), "d".into()));
/// // The two ends meet in the middle: what is left is b and c.
/// assert_eq!(scan.count(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Scan {
    inner: VisibleIter<ReadView>,
    /// An error to yield before anything else (a scan of a dropped keyspace).
    failed: Option<crate::Error>,
}

/// Converts any `RangeBounds` of byte strings into owned bounds.
pub(crate) fn bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(range: &R) -> (Bound<Bytes>, Bound<Bytes>) {
    fn own<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<Bytes> {
        match b {
            Bound::Included(k) => Bound::Included(Bytes::copy_from_slice(k.as_ref())),
            Bound::Excluded(k) => Bound::Excluded(Bytes::copy_from_slice(k.as_ref())),
            Bound::Unbounded => Bound::Unbounded,
        }
    }
    (own(range.start_bound()), own(range.end_bound()))
}

/// The bounds of the keys starting with `prefix`: from the prefix itself up to (but
/// excluding) the next string that does not start with it.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Bytes>, Bound<Bytes>) {
    let lower = Bound::Included(Bytes::copy_from_slice(prefix));
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return (lower, Bound::Excluded(Bytes::from(end)));
        }
    }
    (lower, Bound::Unbounded)
}

impl Scan {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        seq: u64,
        now_ms: u64,
        bounds: (Bound<Bytes>, Bound<Bytes>),
    ) -> Self {
        Scan {
            inner: VisibleIter::new(ReadView(sv), seq, now_ms, bounds.0, bounds.1),
            failed: None,
        }
    }

    /// A scan that yields `err` once, then nothing (a scan of a dropped keyspace).
    pub(crate) fn failed(err: crate::Error) -> Self {
        let empty = SuperVersion {
            mem: Arc::new(crate::memtable::MemTable::new(0)),
            imm: Vec::new(),
            version: Arc::new(crate::version::Version::default()),
        };
        let mut scan = Scan::new(Arc::new(empty), 0, 0, (Bound::Unbounded, Bound::Unbounded));
        scan.failed = Some(err);
        scan
    }
}

impl Scan {
    /// Repositions the scan so that the next [`Iterator::next`] returns the first
    /// live key `>= key` within the scan's range.
    ///
    /// The scan then reads as a new scan of its range narrowed to start at `key`
    /// would, at the scan's own sequence number and time (writes made since it was
    /// created stay invisible, values with a TTL are judged at its creation time):
    /// both ends start afresh, [`DoubleEndedIterator::next_back`] walks down from
    /// the end of the range to `key` (not below it) and the two ends meet in the
    /// middle as usual. A `key` before the range start starts at the range start; a
    /// `key` beyond the range end leaves nothing to read, from either end, until
    /// the next seek. A scan that has run out is usable again after a seek.
    ///
    /// The seek itself reads nothing: the scan's memtable and file cursors are moved
    /// (not rebuilt) by the next `next` or `next_back`, and an I/O error or
    /// corruption met on the way is returned there. A scan that has returned an
    /// error stays finished: seeking it changes nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// for k in ["a", "c", "e", "g"] {
    ///     db.put(k, "v")?;
    /// }
    /// let mut scan = db.scan("b".."g");
    /// scan.seek("d");
    /// let (key, _) = scan.next().transpose()?.unwrap();
    /// assert_eq!(key, "e");
    /// // Back and forth: a seek below the range starts at its start ("b": c).
    /// scan.seek("a");
    /// let keys: Vec<_> = scan.by_ref().map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["c", "e"]);
    /// // After a seek, the back end walks down to the sought key, not below it.
    /// scan.seek("d");
    /// assert_eq!(scan.next_back().transpose()?.unwrap().0, "e");
    /// assert!(scan.next_back().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        self.inner.seek(key.as_ref());
    }

    /// Repositions the scan so that the next [`DoubleEndedIterator::next_back`]
    /// returns the last live key `<= key` within the scan's range (RocksDB's name
    /// for the backward seek).
    ///
    /// The mirror of [`Scan::seek`]: the scan then reads as a new scan of its range
    /// narrowed to end at `key` (included) would, at the scan's own sequence number
    /// and time; [`Iterator::next`] walks up from the range start to `key`. A `key`
    /// beyond the range end ends at the range end; a `key` before the range start
    /// leaves nothing to read until the next seek. Errors are returned by the next
    /// `next` or `next_back`, as for [`Scan::seek`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// for k in ["a", "c", "e", "g"] {
    ///     db.put(k, "v")?;
    /// }
    /// let mut scan = db.iter();
    /// scan.seek_for_prev("f");
    /// let keys: Vec<_> = scan.by_ref().rev().map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["e", "c", "a"]);
    /// // The front end now stops at the sought key too.
    /// scan.seek_for_prev("c");
    /// assert_eq!(scan.next().transpose()?.unwrap().0, "a");
    /// assert_eq!(scan.next().transpose()?.unwrap().0, "c");
    /// assert!(scan.next().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seek_for_prev(&mut self, key: impl AsRef<[u8]>) {
        self.inner.seek_for_prev(key.as_ref());
    }
}

impl Iterator for Scan {
    type Item = Result<(Bytes, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(err) = self.failed.take() {
            return Some(Err(err));
        }
        self.inner.next()
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        if let Some(err) = self.failed.take() {
            return Some(Err(err));
        }
        self.inner.next_back()
    }
}

impl Scan {
    /// The keys of this scan only, in the same order and from the same view: values
    /// kept in blob files ([`Options::blob_threshold`](crate::Options::blob_threshold))
    /// are never read, so a key-only walk of large values costs what a walk of
    /// small ones does.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let options = lsm_core::Options::default().with_blob_threshold(Some(1024));
    /// let db = lsm_core::Db::open(dir.path(), options)?;
    /// db.put("a", vec![7u8; 4096])?;
    /// db.put("b", "small")?;
    /// db.flush()?; // "a"'s value is now in a blob file
    /// let keys = db.scan::<&str, _>(..).keys().collect::<lsm_core::Result<Vec<_>>>()?;
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(self) -> Keys {
        Keys(Scan {
            inner: self.inner.keys_only(),
            failed: self.failed,
        })
    }
}

/// Iterator over the live keys of a range, without their values: see
/// [`Scan::keys`]. `.rev()` walks it backwards.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
/// db.put("x", "1")?;
/// db.put("y", "2")?;
/// let last = db.scan::<&str, _>(..).keys().next_back().transpose()?;
/// assert_eq!(last.as_deref(), Some(&b"y"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Keys(Scan);

impl Iterator for Keys {
    type Item = Result<Bytes>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(|(k, _)| k))
    }
}

impl DoubleEndedIterator for Keys {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|r| r.map(|(k, _)| k))
    }
}

impl std::iter::FusedIterator for Keys {}

/// Once the scan returns `None` it keeps doing so until a seek (which needs the
/// scan itself, not an adapter that borrows or owns it) gives it a new window.
impl std::iter::FusedIterator for Scan {}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        let b = |s: &[u8]| Bytes::copy_from_slice(s);
        assert_eq!(
            prefix_bounds(b"ab"),
            (Bound::Included(b(b"ab")), Bound::Excluded(b(b"ac")))
        );
        assert_eq!(
            prefix_bounds(b"a\xff"),
            (Bound::Included(b(b"a\xff")), Bound::Excluded(b(b"b")))
        );
        assert_eq!(
            prefix_bounds(b"\xff\xff"),
            (Bound::Included(b(b"\xff\xff")), Bound::Unbounded)
        );
        assert_eq!(
            prefix_bounds(b""),
            (Bound::Included(b(b"")), Bound::Unbounded)
        );
    }
}
