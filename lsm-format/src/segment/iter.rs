//! A cursor over a segment's entries, in internal order, both directions.
//!
//! [`SegmentIter`] is a two-level cursor: a position in the decoded index (which data
//! block) and a [`BlockIter`] within that block. Crossing a block boundary loads the
//! neighbouring block through the index, in either direction. One key buffer is
//! reused for the whole walk; values are ranges of the block, never copied.

use bytes::Bytes;

use crate::entry::EntryKind;
use crate::error::Result;
use crate::segment::block_iter::BlockIter;
use crate::segment::{BlockRead, BlockSource, Entry, NoCache, SegmentReader};

/// A cursor over the entries of a segment.
///
/// Contract (the same for every cursor in the engine): after construction it is not
/// valid until a `seek*`. When [`valid`](Self::valid) is true, `key`, `seq`, `kind`
/// and `value` describe the current entry. `next` / `prev` move by one entry and may
/// make it invalid (exhausted). Any error leaves the cursor invalid, and the error is
/// returned by the call that met it; the cursor owns what it needs (a clone of the
/// reader) so it can outlive the borrow it came from. Accessors called while not
/// valid return unspecified values (stale or empty) but never panic.
///
/// ```
/// use lsm_format::{EntryKind, SegmentReader, SegmentWriter, WriterOptions, MAX_SEQUENCE};
///
/// let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
/// for (key, seq) in [(&b"a"[..], 3), (b"b", 9), (b"b", 4), (b"c", 1)] {
///     w.add(key, seq, EntryKind::Put, b"v")?;
/// }
/// let reader = SegmentReader::open(w.finish()?.into_inner().into(), Default::default())?;
/// let mut it = reader.iter();
/// it.seek(b"b", 5)?; // the newest version of "b" visible at sequence number 5
/// assert_eq!((it.key(), it.seq()), (&b"b"[..], 4));
/// it.next()?;
/// assert_eq!(it.key(), b"c");
/// it.seek_for_prev(b"bz", MAX_SEQUENCE)?;
/// assert_eq!((it.key(), it.seq()), (&b"b"[..], 4));
/// # Ok::<(), lsm_format::Error>(())
/// ```
pub struct SegmentIter<S: BlockSource = NoCache> {
    reader: SegmentReader<S>,
    /// Index of the loaded data block; meaningful only when `block` holds one.
    block_index: usize,
    loaded: bool,
    block: BlockIter,
    /// What the blocks this cursor builds are offered to the source as.
    read: BlockRead,
}

impl<S: BlockSource> SegmentReader<S> {
    /// A cursor over all entries, positioned nowhere until a seek.
    pub fn iter(&self) -> SegmentIter<S> {
        SegmentIter::new(self.clone())
    }
}

impl<S: BlockSource> SegmentIter<S> {
    /// A cursor over `reader`'s entries.
    pub fn new(reader: SegmentReader<S>) -> Self {
        SegmentIter {
            reader,
            block_index: 0,
            loaded: false,
            block: BlockIter::default(),
            read: BlockRead::Scan,
        }
    }

    /// Why this cursor reads its blocks, as told to the reader's
    /// [`BlockSource`] with each block it builds: [`BlockRead::Scan`] by default; a
    /// one-pass read of a whole file, such as a compaction's, says
    /// [`BlockRead::OnePass`], so that the source can decline to keep its blocks.
    /// Blocks the source holds are used either way.
    pub fn set_block_read(&mut self, read: BlockRead) {
        self.read = read;
    }

    /// File offset of the data block the cursor is in, when one is loaded. A
    /// forward one-pass reader is done with the bytes before it.
    pub fn block_offset(&self) -> Option<u64> {
        if !self.loaded {
            return None;
        }
        self.reader
            .index()
            .handle(self.block_index)
            .map(|handle| handle.offset)
    }

    /// Positions at the first entry.
    ///
    /// # Errors
    /// Corruption when the first data block is damaged.
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.invalidate();
        if self.reader.block_count() == 0 {
            return Ok(());
        }
        self.guard(|s| {
            s.load(0)?;
            s.block.seek_to_first()
        })
    }

    /// Positions at the last entry.
    ///
    /// # Errors
    /// Corruption when the last data block is damaged.
    pub fn seek_to_last(&mut self) -> Result<()> {
        self.invalidate();
        let Some(last) = self.reader.block_count().checked_sub(1) else {
            return Ok(());
        };
        self.guard(|s| {
            s.load(last)?;
            s.block.seek_to_last()
        })
    }

    /// Positions at the first entry at or after `(key, seq)` in internal order: the
    /// newest version of `key` with sequence number `<= seq`, or the next key.
    ///
    /// # Errors
    /// Corruption when a data block read on the way is damaged.
    pub fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.invalidate();
        let i = self.reader.find_block(key, seq);
        if i >= self.reader.block_count() {
            return Ok(());
        }
        self.guard(|s| {
            s.load(i)?;
            s.block.seek(key, seq)?;
            // Only when the block disagrees with its index entry: carry on.
            s.skip_forward()
        })
    }

    /// Positions at the last entry at or before `(key, seq)` in internal order.
    ///
    /// # Errors
    /// Corruption when a data block read on the way is damaged.
    pub fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.seek(key, seq)?;
        if !self.valid() {
            return self.seek_to_last();
        }
        if self.block.key() != key || self.block.seq() != seq {
            self.prev()?;
        }
        Ok(())
    }

    /// Moves to the next entry. Requires `valid()` (otherwise stays invalid).
    ///
    /// # Errors
    /// Corruption when the next data block is damaged.
    #[inline]
    #[allow(
        clippy::should_implement_trait,
        reason = "a cursor step, not an Iterator: it returns Result<()> and the entry stays readable"
    )]
    pub fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.guard(|s| {
            s.block.next()?;
            s.skip_forward()
        })
    }

    /// Moves to the previous entry. Requires `valid()` (otherwise stays invalid).
    ///
    /// # Errors
    /// Corruption when the previous data block is damaged.
    pub fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.guard(|s| {
            s.block.prev()?;
            while !s.block.valid() && s.block_index > 0 {
                s.load(s.block_index - 1)?;
                s.block.seek_to_last()?;
            }
            Ok(())
        })
    }

    /// True when positioned at an entry.
    #[inline]
    pub fn valid(&self) -> bool {
        self.loaded && self.block.valid()
    }

    /// Key of the current entry. Requires `valid()`.
    #[inline]
    pub fn key(&self) -> &[u8] {
        self.block.key()
    }

    /// Sequence number of the current entry. Requires `valid()`.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.block.seq()
    }

    /// Kind of the current entry. Requires `valid()`.
    #[inline]
    pub fn kind(&self) -> EntryKind {
        self.block.kind()
    }

    /// Value of the current entry, sharing the block's bytes. Requires `valid()`.
    #[inline]
    pub fn value(&self) -> Bytes {
        self.block.value()
    }

    /// Value of the current entry as a slice. Requires `valid()`.
    #[inline]
    pub fn value_slice(&self) -> &[u8] {
        self.block.value_slice()
    }

    /// The current entry, copied into an owned [`Entry`] (key copied, value shared).
    pub fn entry(&self) -> Entry {
        Entry {
            key: Bytes::copy_from_slice(self.key()),
            seq: self.seq(),
            kind: self.kind(),
            value: self.value(),
        }
    }

    /// (data block, offset within it) of the current entry: increases strictly along
    /// the file.
    pub(crate) fn position(&self) -> (usize, usize) {
        (self.block_index, self.block.current_offset())
    }

    /// While the block is exhausted, moves to the first entry of the next block.
    #[inline]
    fn skip_forward(&mut self) -> Result<()> {
        while !self.block.valid() && self.block_index + 1 < self.reader.block_count() {
            self.load(self.block_index + 1)?;
            self.block.seek_to_first()?;
        }
        Ok(())
    }

    /// Makes data block `i` the current block (unpositioned), unless it already is:
    /// blocks are immutable, so a seek within the current block reuses it.
    fn load(&mut self, i: usize) -> Result<()> {
        if self.loaded && self.block_index == i {
            return Ok(());
        }
        self.loaded = false;
        self.reader.load_block(i, &mut self.block, self.read)?;
        self.block_index = i;
        self.loaded = true;
        Ok(())
    }

    fn invalidate(&mut self) {
        self.block.invalidate();
    }

    fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let r = f(self);
        if let Err(e) = r {
            // The block may be half-decoded: load it afresh next time.
            self.loaded = false;
            self.invalidate();
            return Err(self.reader.name(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{ReadOptions, SegmentWriter, WriterOptions};

    fn reader() -> SegmentReader {
        let mut w = SegmentWriter::new(
            Vec::new(),
            WriterOptions {
                block_size: 40,
                restart_interval: 3,
                ..WriterOptions::default()
            },
        );
        for i in 0..30u8 {
            w.add(&[b'k', i], 9, EntryKind::Put, &[i; 5]).unwrap();
            w.add(&[b'k', i], 4, EntryKind::Tombstone, b"").unwrap();
        }
        SegmentReader::open(
            Bytes::from(w.finish().unwrap().into_inner()),
            ReadOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn walks_across_blocks_both_ways() {
        let r = reader();
        assert!(r.properties().data_block_count > 5);
        let mut it = r.iter();
        it.seek_to_first().unwrap();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next().unwrap();
        }
        assert_eq!(n, 60);
        it.next().unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert_eq!((it.key(), it.seq()), (&[b'k', 29][..], 4));
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.prev().unwrap();
        }
        assert_eq!(n, 60);
    }

    #[test]
    fn seeks_find_versions() {
        let r = reader();
        let mut it = r.iter();
        it.seek(&[b'k', 7], 6).unwrap();
        assert_eq!(
            (it.key(), it.seq(), it.kind()),
            (&[b'k', 7][..], 4, EntryKind::Tombstone)
        );
        it.seek_for_prev(&[b'k', 7], 6).unwrap();
        assert_eq!(
            (it.key(), it.seq(), it.value_slice()),
            (&[b'k', 7][..], 9, &[7u8; 5][..])
        );
        it.seek_for_prev(&[b'k', 7], 4).unwrap();
        assert_eq!((it.key(), it.seq()), (&[b'k', 7][..], 4));
        it.seek_for_prev(b"a", 0).unwrap();
        assert!(!it.valid());
        it.seek_for_prev(b"z", 0).unwrap();
        assert_eq!(it.entry().key, &[b'k', 29][..]);
        it.seek(b"z", 0).unwrap();
        assert!(!it.valid());
        it.prev().unwrap();
        assert!(!it.valid());
    }
}
