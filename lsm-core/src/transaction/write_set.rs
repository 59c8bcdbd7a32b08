//! A transaction's buffered writes: the [`WriteBatch`] that commit hands to the
//! write path, plus an index of it that reads consult first.
//!
//! The index keeps, per key, only the transaction's newest write (a value or a
//! deletion) and the ranges it deleted. A range delete drops the entries of the
//! keys it covers, so an entry always wins over every range around it: it was
//! written after them. This is exactly what the batch means once committed (its
//! operations take increasing sequence numbers, and a range tombstone hides only
//! older versions).

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

use super::ranges::{KeyRange, RangeSet};
use lsm_format::keyspace::KeyspaceId;
use lsm_format::EntryKind;

use crate::batch::{prefix_end, WriteBatch};

/// What the transaction's own writes say about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Own {
    /// The transaction set it to this value.
    Put(Bytes),
    /// The transaction deleted it (alone or with a range).
    Deleted,
    /// The transaction did not write it: the snapshot decides.
    Untouched,
}

#[derive(Debug, Default)]
pub(crate) struct WriteSet {
    /// The keyspace written (every op of `batch` is of it).
    keyspace: KeyspaceId,
    batch: WriteBatch,
    /// The newest own write of each key: `Some(value)` or `None` for a delete.
    points: BTreeMap<Bytes, Option<Bytes>>,
    /// Ranges the transaction deleted, except the keys of `points` written since.
    deleted: RangeSet,
}

impl WriteSet {
    /// An empty write set of `keyspace`.
    pub fn new(keyspace: KeyspaceId) -> WriteSet {
        WriteSet {
            keyspace,
            ..WriteSet::default()
        }
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.batch
            .push_in(self.keyspace, EntryKind::Put, key, value);
        self.points.insert(
            Bytes::copy_from_slice(key),
            Some(Bytes::copy_from_slice(value)),
        );
    }

    pub fn delete(&mut self, key: &[u8]) {
        self.batch
            .push_in(self.keyspace, EntryKind::Tombstone, key, &[]);
        self.points.insert(Bytes::copy_from_slice(key), None);
    }

    /// Deletes `[start, end)`; `start < end` (an empty range deletes nothing).
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) {
        if start >= end {
            return;
        }
        self.batch
            .push_in(self.keyspace, EntryKind::RangeDelete, start, end);
        let covered: Vec<Bytes> = self
            .points
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in covered {
            self.points.remove(&k);
        }
        self.deleted.insert(KeyRange::half_open(start, end));
    }

    /// Deletes every key starting with `prefix`.
    pub fn delete_prefix(&mut self, prefix: &[u8]) {
        let end = prefix_end(prefix);
        self.delete_range(prefix, &end);
    }

    pub fn lookup(&self, key: &[u8]) -> Own {
        match self.points.get(key) {
            Some(Some(value)) => Own::Put(value.clone()),
            Some(None) => Own::Deleted,
            None if self.deleted.contains(key) => Own::Deleted,
            None => Own::Untouched,
        }
    }

    /// The own entries within `range`, in key order (`None`: deleted), and the
    /// deleted ranges, as a scan merges them over the snapshot.
    pub fn overlay(&self, range: Option<&KeyRange>) -> Overlay {
        let entries = match range {
            None => Vec::new(),
            Some(r) => {
                let upper = match &r.end {
                    Some(end) => Bound::Excluded(&end[..]),
                    None => Bound::Unbounded,
                };
                self.points
                    .range::<[u8], _>((Bound::Included(&r.start[..]), upper))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
        };
        Overlay {
            entries,
            deleted: (!self.deleted.is_empty()).then(|| self.deleted.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    pub fn into_batch(self) -> WriteBatch {
        self.batch
    }
}

/// A scan's copy of the own writes in its range.
#[derive(Debug)]
pub(crate) struct Overlay {
    pub entries: Vec<(Bytes, Option<Bytes>)>,
    pub deleted: Option<RangeSet>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_own_write_decides() {
        let mut w = WriteSet::default();
        w.put(b"a", b"1");
        w.put(b"b", b"2");
        w.delete(b"c");
        assert_eq!(w.lookup(b"a"), Own::Put(Bytes::from_static(b"1")));
        assert_eq!(w.lookup(b"c"), Own::Deleted);
        assert_eq!(w.lookup(b"d"), Own::Untouched);
        w.delete_range(b"a", b"c");
        assert_eq!(w.lookup(b"a"), Own::Deleted);
        assert_eq!(w.lookup(b"a0"), Own::Deleted);
        w.put(b"b", b"3"); // written after the range: visible again
        assert_eq!(w.lookup(b"b"), Own::Put(Bytes::from_static(b"3")));
        w.delete_prefix(b"x");
        assert_eq!(w.lookup(b"xyz"), Own::Deleted);
        assert_eq!(w.lookup(b"y"), Own::Untouched);
        w.delete_range(b"m", b"m"); // empty: nothing
        assert_eq!(w.into_batch().len(), 6);
    }

    #[test]
    fn overlay_holds_the_entries_of_the_range() {
        let mut w = WriteSet::default();
        for k in ["a", "b", "c", "d"] {
            w.put(k.as_bytes(), b"v");
        }
        w.delete(b"e");
        let r = KeyRange::from_bounds(Bound::Excluded(b"a"), Bound::Included(b"d")).unwrap();
        let o = w.overlay(Some(&r));
        let keys: Vec<_> = o.entries.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, ["b", "c", "d"]);
        assert!(o.deleted.is_none());
        assert!(w.overlay(None).entries.is_empty());
    }
}
