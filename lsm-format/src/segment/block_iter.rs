//! A cursor within one decoded block (data or index): `docs/format.md` sections 3.2
//! and 3.3.
//!
//! The restart array is validated once when the block is loaded (first restart 0,
//! strictly increasing, inside the entry area: the `restarts` module), so seeks can
//! trust it. Entries are decoded lazily with every length checked against the end of
//! the entry area; the current key lives in one reused buffer and the value is a
//! range of the block.
//! A seek binary-searches the restarts comparing the full keys stored there, then
//! scans forward (the `seek` module); `prev` re-decodes from the restart before the
//! current entry.

use bytes::Bytes;

use crate::entry::{EntryKind, MAX_KEY_LEN};
use crate::error::{Error, Result};
use crate::segment::block_entry::{decode_header, EntryRules, Header};
use crate::segment::{BLOB_POINTER_FORMAT_VERSION, RANGE_DEL_FORMAT_VERSION};

mod restarts;
mod seek;

/// Where a block came from, for error messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockOrigin {
    /// File offset of the block's first byte.
    pub offset: u64,
    /// True when the contents were decompressed: positions within them are then not
    /// file offsets, and errors name the block's offset and the position inside.
    pub decompressed: bool,
    /// True for an index block, whose entries carry the tag of a data entry (possibly
    /// a tombstone) and a block handle as value.
    pub index: bool,
}

/// A cursor over the entries of one block. Not valid until positioned.
///
/// `B` holds the block: [`Bytes`] when values are handed out sharing the block
/// ([`value`](BlockIter::value)), or a borrowed `&[u8]` for a point lookup that only
/// needs the value's range and so costs no reference counting.
#[derive(Debug, Default)]
pub struct BlockIter<B = Bytes> {
    data: B,
    origin: BlockOrigin,
    /// Where the entries end and the restart array begins.
    entries_end: usize,
    num_restarts: usize,
    /// Offset of the current entry and of the one after it.
    cur: usize,
    next: usize,
    key: Vec<u8>,
    tag: u64,
    value_start: usize,
    value_len: usize,
    valid: bool,
    /// Kind 3 (expiring put) is an entry: see [`set_format_version`](Self::set_format_version).
    expiring: bool,
    /// Kind 4 (blob pointer) is an entry: see [`set_format_version`](Self::set_format_version).
    blob: bool,
}

impl BlockIter<Bytes> {
    /// Value of the current entry, sharing the block.
    #[inline]
    pub fn value(&self) -> Bytes {
        let end = self.value_start + self.value_len;
        if end <= self.data.len() {
            self.data.slice(self.value_start..end)
        } else {
            Bytes::new()
        }
    }
}

impl<B: AsRef<[u8]> + Default> BlockIter<B> {
    /// An empty, unpositioned cursor that decodes keys into `buf` (reused scratch).
    pub fn with_key_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        BlockIter {
            key: buf,
            ..BlockIter::default()
        }
    }

    /// Gives back the key buffer (for reuse), dropping the block.
    pub fn into_key_buffer(self) -> Vec<u8> {
        self.key
    }

    /// Tells the cursor the segment format version of the file its blocks come
    /// from, which decides the entry kinds it accepts: expiring puts (kind 3) only
    /// from version 4 on, blob pointers (kind 4) only from version 6 on
    /// (`docs/format.md` section 3.2). Kept across [`reset`](Self::reset); a new
    /// cursor assumes an older version and refuses kinds 3 and 4 as corruption.
    pub fn set_format_version(&mut self, version: u32) {
        self.expiring = version >= RANGE_DEL_FORMAT_VERSION;
        self.blob = version >= BLOB_POINTER_FORMAT_VERSION;
    }

    /// Makes the cursor unpositioned, keeping the block.
    pub fn invalidate(&mut self) {
        self.valid = false;
    }

    /// True when the block holds no entry.
    pub fn is_empty(&self) -> bool {
        self.num_restarts == 0
    }

    /// True when positioned at an entry.
    #[inline]
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// Key of the current entry.
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Tag of the current entry.
    #[inline]
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// Sequence number of the current entry.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.tag >> 8
    }

    /// Kind of the current entry (the kind byte was checked when decoded).
    #[inline]
    pub fn kind(&self) -> EntryKind {
        const PUT: u64 = EntryKind::Put as u64;
        const EXPIRING: u64 = EntryKind::ExpiringPut as u64;
        const BLOB: u64 = EntryKind::BlobPointer as u64;
        match self.tag & 0xff {
            PUT => EntryKind::Put,
            EXPIRING => EntryKind::ExpiringPut,
            BLOB => EntryKind::BlobPointer,
            _ => EntryKind::Tombstone,
        }
    }

    /// Value of the current entry.
    #[inline]
    pub fn value_slice(&self) -> &[u8] {
        self.data
            .as_ref()
            .get(self.value_start..self.value_start + self.value_len)
            .unwrap_or_default()
    }

    /// Range of the current entry's value within the block.
    #[inline]
    pub fn value_range(&self) -> std::ops::Range<usize> {
        self.value_start..self.value_start + self.value_len
    }

    /// Offset of the current entry within the block.
    pub fn current_offset(&self) -> usize {
        self.cur
    }

    /// Offset just past the current entry.
    pub fn next_offset(&self) -> usize {
        self.next
    }

    /// Where the entry area ends.
    pub fn entries_end(&self) -> usize {
        self.entries_end
    }

    /// Where this block came from.
    pub fn origin(&self) -> BlockOrigin {
        self.origin
    }

    /// Positions at the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.valid = false;
        if self.num_restarts > 0 {
            self.guard(|s| s.decode_restart(0))?;
        }
        Ok(())
    }

    /// Positions at the last entry (invalid if the block is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        self.valid = false;
        if self.num_restarts == 0 {
            return Ok(());
        }
        self.guard(|s| {
            s.decode_restart(s.num_restarts - 1)?;
            while s.next < s.entries_end {
                s.decode_at(s.next)?;
            }
            Ok(())
        })
    }

    /// Moves to the next entry; invalid after the last. Requires `valid()`.
    #[inline]
    #[allow(
        clippy::should_implement_trait,
        reason = "a cursor step, not an Iterator: it returns Result<()> and the entry stays readable"
    )]
    pub fn next(&mut self) -> Result<()> {
        if !self.valid || self.next >= self.entries_end {
            self.valid = false;
            return Ok(());
        }
        self.guard(|s| s.decode_at(s.next))
    }

    /// Moves to the previous entry; invalid before the first. Requires `valid()`.
    pub fn prev(&mut self) -> Result<()> {
        let target = self.cur;
        if !self.valid || target == 0 {
            self.valid = false;
            return Ok(());
        }
        self.guard(|s| {
            // The last restart strictly before the current entry.
            let (mut lo, mut hi) = (0, s.num_restarts);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if s.restart(mid) < target {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let Some(r) = lo.checked_sub(1) else {
                return Err(s.corrupt(target, "entry before the first restart".into()));
            };
            s.decode_restart(r)?;
            while s.next < target {
                s.decode_at(s.next)?;
            }
            if s.next != target {
                return Err(s.corrupt(
                    s.cur,
                    "entries do not line up with the restart array".into(),
                ));
            }
            Ok(())
        })
    }

    fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let r = f(self);
        if r.is_err() {
            self.valid = false;
        }
        r
    }

    fn decode_restart(&mut self, i: usize) -> Result<()> {
        self.key.clear();
        self.decode_at(self.restart(i))
    }

    /// Decodes the entry at `pos`, whose key shares a prefix with the current key.
    #[inline]
    fn decode_at(&mut self, pos: usize) -> Result<()> {
        let h = self.header(pos)?;
        if h.shared > self.key.len() {
            return Err(self.corrupt(
                pos,
                format!(
                    "entry shares {} bytes with a {}-byte previous key",
                    h.shared,
                    self.key.len()
                ),
            ));
        }
        if h.shared + (h.tag_start - h.key_start) > MAX_KEY_LEN {
            return Err(self.corrupt(pos, "entry key longer than MAX_KEY_LEN".into()));
        }
        self.key.truncate(h.shared);
        self.key.extend_from_slice(
            self.data
                .as_ref()
                .get(h.key_start..h.tag_start)
                .unwrap_or_default(),
        );
        self.cur = pos;
        self.next = h.value_start + h.value_len;
        self.tag = h.tag;
        self.value_start = h.value_start;
        self.value_len = h.value_len;
        self.valid = true;
        Ok(())
    }

    /// Parses and bounds-checks the fixed part of the entry at `pos`.
    #[inline]
    fn header(&self, pos: usize) -> Result<Header> {
        let area = self
            .data
            .as_ref()
            .get(..self.entries_end)
            .unwrap_or_default();
        let rules = EntryRules {
            index: self.origin.index,
            expiring: self.expiring,
            blob: self.blob,
        };
        decode_header(area, pos, rules).map_err(|reason| self.corrupt(pos, reason))
    }

    fn corrupt(&self, pos: usize, reason: String) -> Error {
        if self.origin.decompressed {
            Error::corruption(
                self.origin.offset,
                format!("{reason} (at byte {pos} of the decompressed block)"),
            )
        } else {
            Error::corruption(self.origin.offset + pos as u64, reason)
        }
    }
}

#[cfg(test)]
mod tests;
