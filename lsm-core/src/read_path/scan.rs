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
        }
    }
}

impl Iterator for Scan {
    type Item = Result<(Bytes, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

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
