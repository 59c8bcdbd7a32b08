//! A cursor over a segment's entries, in internal order, both directions.

use bytes::Bytes;

use crate::entry::EntryKind;
use crate::error::Result;
use crate::segment::{Entry, SegmentReader};

/// A cursor over the entries of a segment.
///
/// Contract (the same for every cursor in the engine): after construction it is not
/// valid until a `seek*`. When [`valid`](Self::valid) is true, `key`, `seq`, `kind`
/// and `value` describe the current entry. `next` / `prev` move by one entry and may
/// make it invalid (exhausted). Any error leaves the cursor invalid, and the error is
/// returned by the call that met it; the cursor owns what it needs (a clone of the
/// reader) so it can outlive the borrow it came from.
pub struct SegmentIter {
    _reader: SegmentReader,
}

impl SegmentIter {
    /// A cursor over `reader`'s entries.
    pub fn new(reader: SegmentReader) -> Self {
        let _ = reader;
        todo!()
    }

    /// Positions at the first entry.
    pub fn seek_to_first(&mut self) -> Result<()> {
        todo!()
    }

    /// Positions at the last entry.
    pub fn seek_to_last(&mut self) -> Result<()> {
        todo!()
    }

    /// Positions at the first entry at or after `(key, seq)` in internal order: the
    /// newest version of `key` with sequence number `<= seq`, or the next key.
    pub fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let _ = (key, seq);
        todo!()
    }

    /// Positions at the last entry at or before `(key, seq)` in internal order.
    pub fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let _ = (key, seq);
        todo!()
    }

    /// Moves to the next entry. Requires `valid()`.
    pub fn next(&mut self) -> Result<()> {
        todo!()
    }

    /// Moves to the previous entry. Requires `valid()`.
    pub fn prev(&mut self) -> Result<()> {
        todo!()
    }

    /// True when positioned at an entry.
    pub fn valid(&self) -> bool {
        todo!()
    }

    /// Key of the current entry. Requires `valid()`.
    pub fn key(&self) -> &[u8] {
        todo!()
    }

    /// Sequence number of the current entry. Requires `valid()`.
    pub fn seq(&self) -> u64 {
        todo!()
    }

    /// Kind of the current entry. Requires `valid()`.
    pub fn kind(&self) -> EntryKind {
        todo!()
    }

    /// Value of the current entry, sharing the block's bytes. Requires `valid()`.
    pub fn value(&self) -> Bytes {
        todo!()
    }

    /// Value of the current entry as a slice. Requires `valid()`.
    pub fn value_slice(&self) -> &[u8] {
        todo!()
    }

    /// The current entry, copied into an owned [`Entry`] (key copied, value shared).
    pub fn entry(&self) -> Entry {
        todo!()
    }
}

/// The entries of a segment as a std iterator, forward by default and reversible
/// with `.rev()` (both ends meet in the middle). Yields errors as items and then ends.
pub struct SegmentEntries {
    _reader: SegmentReader,
}

impl Iterator for SegmentEntries {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Self::Item> {
        todo!()
    }
}

impl DoubleEndedIterator for SegmentEntries {
    fn next_back(&mut self) -> Option<Self::Item> {
        todo!()
    }
}
