//! The read path's cursors: small composable parts over entries in internal order.
//!
//! # The cursor contract (written once, followed by every [`Cursor`])
//!
//! - Entries are versions `(key, seq, kind, value)` in **internal order**: user key
//!   ascending, then sequence number descending (`docs/format.md` section 1).
//! - A new cursor is not valid until one of the `seek*` calls positions it. A seek
//!   repositions a cursor from any state (valid, exhausted, or after an error), as
//!   often as asked: `Scan::seek` reuses a scan's cursors so.
//! - [`Cursor::seek`] positions at the first entry `>= (key, seq)`: the newest version
//!   of `key` with sequence number `<= seq`, or else the first entry of a later key.
//!   [`Cursor::seek_for_prev`] positions at the last entry `<= (key, seq)`.
//!   `(key, 0)` is therefore after every version of `key` and `(key, MAX)` before.
//! - While [`Cursor::valid`], the accessors describe the current entry; otherwise
//!   they may return anything but never panic.
//! - [`Cursor::next`] / [`Cursor::prev`] require `valid()` and move one entry; they
//!   may leave the cursor invalid (exhausted). A cursor is used in one direction per
//!   seek: `next` after `seek`/`seek_to_first`, `prev` after
//!   `seek_for_prev`/`seek_to_last` (the public [`crate::Scan`] runs one cursor per
//!   direction, so no cursor ever needs to switch direction in place).
//! - An error leaves the cursor invalid and is returned by the call that met it; it
//!   already names the file (`Error::Corruption { file, .. }`).
//! - A cursor owns (through `Arc`s) everything it reads, so it is `Send` and
//!   outlives the database handle it came from.

mod copy_arena;
pub(crate) mod level;
pub(crate) mod mem;
pub(crate) mod merge;
pub(crate) mod segment;
pub(crate) mod visible;

use bytes::Bytes;
use lsm_format::EntryKind;

use crate::error::Result;

pub(crate) use level::LevelCursor;
pub(crate) use mem::MemCursor;
pub(crate) use merge::MergeCursor;
pub(crate) use segment::SegmentCursor;

/// A positioned walk over entries in internal order. See the module docs.
pub(crate) trait Cursor: Send {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()>;
    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()>;
    fn seek_to_first(&mut self) -> Result<()>;
    fn seek_to_last(&mut self) -> Result<()>;
    fn next(&mut self) -> Result<()>;
    fn prev(&mut self) -> Result<()>;
    fn valid(&self) -> bool;
    fn key(&self) -> &[u8];
    fn seq(&self) -> u64;
    fn kind(&self) -> EntryKind;
    /// The value, sharing the underlying bytes.
    fn value(&self) -> Bytes;
    /// The key as shared bytes when the source holds it so (memtables): no copy.
    fn shared_key(&self) -> Option<Bytes> {
        None
    }
    /// The key as owned bytes: shared when possible, copied otherwise.
    fn key_bytes(&self) -> Bytes {
        self.shared_key()
            .unwrap_or_else(|| Bytes::copy_from_slice(self.key()))
    }
    /// An upper bound on the sequence number of every entry this cursor holds with
    /// a key in `[from, to]`; `u64::MAX` when unknown.
    fn max_seq_in(&self, _from: &[u8], _to: &[u8]) -> u64 {
        u64::MAX
    }
    /// Going forward: when every entry from the current one up to `end`
    /// (exclusive) is older than `seq` (a range tombstone at `seq` over them hides
    /// them all), moves to the first entry at or after `end`; otherwise stays.
    fn skip_older(&mut self, end: &[u8], seq: u64) -> Result<()> {
        if self.valid() && self.key() < end && self.max_seq_in(self.key(), end) < seq {
            let end = end.to_vec();
            self.seek(&end, lsm_format::MAX_SEQUENCE)?;
        }
        Ok(())
    }
    /// Going backward: when every entry from `start` up to the current one is older
    /// than `seq`, moves to the last entry before `start`; otherwise stays.
    fn skip_older_back(&mut self, start: &[u8], seq: u64) -> Result<()> {
        if self.valid() && self.key() >= start && self.max_seq_in(start, self.key()) < seq {
            let start = start.to_vec();
            self.seek_for_prev(&start, lsm_format::MAX_SEQUENCE)?;
        }
        Ok(())
    }
}

impl Cursor for Box<dyn Cursor> {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        (**self).seek(key, seq)
    }
    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        (**self).seek_for_prev(key, seq)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        (**self).seek_to_first()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        (**self).seek_to_last()
    }
    fn next(&mut self) -> Result<()> {
        (**self).next()
    }
    fn prev(&mut self) -> Result<()> {
        (**self).prev()
    }
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn seq(&self) -> u64 {
        (**self).seq()
    }
    fn kind(&self) -> EntryKind {
        (**self).kind()
    }
    fn value(&self) -> Bytes {
        (**self).value()
    }
    fn shared_key(&self) -> Option<Bytes> {
        (**self).shared_key()
    }
    fn max_seq_in(&self, from: &[u8], to: &[u8]) -> u64 {
        (**self).max_seq_in(from, to)
    }
    fn skip_older(&mut self, end: &[u8], seq: u64) -> Result<()> {
        (**self).skip_older(end, seq)
    }
    fn skip_older_back(&mut self, start: &[u8], seq: u64) -> Result<()> {
        (**self).skip_older_back(start, seq)
    }
}

/// A cursor over a fixed list of entries, for tests of the parts built on cursors.
#[cfg(test)]
pub(crate) mod vec_cursor {
    use super::*;
    use std::cmp::Ordering;

    /// Entries must be given in internal order.
    pub(crate) struct VecCursor {
        pub entries: Vec<(Bytes, u64, EntryKind, Bytes)>,
        pos: Option<usize>,
    }

    pub(crate) fn put(k: &str, seq: u64, v: &str) -> (Bytes, u64, EntryKind, Bytes) {
        (
            Bytes::copy_from_slice(k.as_bytes()),
            seq,
            EntryKind::Put,
            Bytes::copy_from_slice(v.as_bytes()),
        )
    }

    pub(crate) fn del(k: &str, seq: u64) -> (Bytes, u64, EntryKind, Bytes) {
        (
            Bytes::copy_from_slice(k.as_bytes()),
            seq,
            EntryKind::Tombstone,
            Bytes::new(),
        )
    }

    impl VecCursor {
        pub fn new(mut entries: Vec<(Bytes, u64, EntryKind, Bytes)>) -> Self {
            entries.sort_by(|a, b| lsm_format::entry::compare_internal(&a.0, a.1, &b.0, b.1));
            VecCursor { entries, pos: None }
        }
        fn cmp_at(&self, i: usize, key: &[u8], seq: u64) -> Ordering {
            let e = &self.entries[i];
            lsm_format::entry::compare_internal(&e.0, e.1, key, seq)
        }
    }

    impl Cursor for VecCursor {
        fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
            let i = (0..self.entries.len()).find(|&i| self.cmp_at(i, key, seq) != Ordering::Less);
            self.pos = i;
            Ok(())
        }
        fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
            let i = (0..self.entries.len())
                .rev()
                .find(|&i| self.cmp_at(i, key, seq) != Ordering::Greater);
            self.pos = i;
            Ok(())
        }
        fn seek_to_first(&mut self) -> Result<()> {
            self.pos = if self.entries.is_empty() {
                None
            } else {
                Some(0)
            };
            Ok(())
        }
        fn seek_to_last(&mut self) -> Result<()> {
            self.pos = self.entries.len().checked_sub(1);
            Ok(())
        }
        fn next(&mut self) -> Result<()> {
            self.pos = self.pos.map(|p| p + 1).filter(|&p| p < self.entries.len());
            Ok(())
        }
        fn prev(&mut self) -> Result<()> {
            self.pos = self.pos.and_then(|p| p.checked_sub(1));
            Ok(())
        }
        fn valid(&self) -> bool {
            self.pos.is_some()
        }
        fn key(&self) -> &[u8] {
            &self.entries[self.pos.unwrap()].0
        }
        fn seq(&self) -> u64 {
            self.entries[self.pos.unwrap()].1
        }
        fn kind(&self) -> EntryKind {
            self.entries[self.pos.unwrap()].2
        }
        fn value(&self) -> Bytes {
            self.entries[self.pos.unwrap()].3.clone()
        }
    }
}
