//! What a transaction read from its snapshot: the keys it looked up (found or
//! not) and the ranges it scanned (whole, however far the scan went). Commit
//! validation checks that nothing committed since the transaction began wrote
//! any of it (`super::validate`).
//!
//! Reads answered by the transaction's own writes are not recorded: they do not
//! depend on the database.

use std::collections::BTreeSet;
use std::ops::Bound;

use bytes::Bytes;

use super::ranges::{KeyRange, RangeSet};

/// A transaction's read sets, one per keyspace it read.
pub(crate) type ReadSets = std::collections::BTreeMap<lsm_format::keyspace::KeyspaceId, ReadSet>;

#[derive(Debug, Default)]
pub(crate) struct ReadSet {
    keys: BTreeSet<Bytes>,
    ranges: RangeSet,
}

impl ReadSet {
    pub fn add_key(&mut self, key: &[u8]) {
        if !self.keys.contains(key) && !self.ranges.contains(key) {
            self.keys.insert(Bytes::copy_from_slice(key));
        }
    }

    pub fn add_range(&mut self, range: KeyRange) {
        self.ranges.insert(range);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.ranges.is_empty()
    }

    /// The point keys read. A key read before a range holding it was scanned
    /// stays listed: harmless, it is checked twice.
    pub fn keys(&self) -> impl Iterator<Item = &Bytes> + '_ {
        self.keys.iter()
    }

    pub fn ranges(&self) -> impl Iterator<Item = KeyRange> + '_ {
        self.ranges.iter()
    }

    /// Whether a write of `key` touches something read.
    pub fn covers_key(&self, key: &[u8]) -> bool {
        self.keys.contains(key) || self.ranges.contains(key)
    }

    /// Whether a range delete of `[start, end)` touches something read.
    pub fn overlaps_range(&self, start: &[u8], end: &[u8]) -> bool {
        self.ranges.overlaps(start, Some(end))
            || self
                .keys
                .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
                .next()
                .is_some()
    }

    /// The first key read within `[start, end)`, to name a conflict.
    pub fn first_key_in(&self, start: &[u8], end: &[u8]) -> Option<&Bytes> {
        self.keys
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ranges_are_what_writes_are_checked_against() {
        let mut r = ReadSet::default();
        assert!(r.is_empty());
        r.add_key(b"k");
        r.add_key(b"k");
        r.add_range(KeyRange::half_open(b"m", b"p"));
        r.add_key(b"n"); // inside a scanned range: not listed again
        assert_eq!(r.keys().count(), 1);
        assert!(r.covers_key(b"k") && r.covers_key(b"o") && !r.covers_key(b"p"));
        assert!(r.overlaps_range(b"a", b"k\0") && !r.overlaps_range(b"a", b"k"));
        assert!(r.overlaps_range(b"o", b"z") && !r.overlaps_range(b"p", b"z"));
        assert_eq!(r.first_key_in(b"a", b"z").map(|k| &k[..]), Some(&b"k"[..]));
    }
}
