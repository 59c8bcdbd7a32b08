//! A cursor over one segment file: `lsm-format`'s [`SegmentIter`] plus the file's
//! path for errors and an `Arc` that keeps the file alive while the cursor exists.

use std::sync::Arc;

use bytes::Bytes;
use lsm_format::{BlockRead, EntryKind, SegmentIter};

use super::Cursor;
use crate::error::{Error, Result};
use crate::fs::RELEASE_ALIGN;
use crate::segment::file::{SegmentBlocks, SegmentFile};

pub(crate) struct SegmentCursor {
    iter: SegmentIter<SegmentBlocks>,
    file: Arc<SegmentFile>,
    /// For a one-pass forward read (compaction): the file offset up to which the
    /// pages were released, so that a whole input never sits in the resident set.
    released: Option<usize>,
}

/// A compaction cursor releases the pages behind it in steps of this many bytes
/// (each release is a system call that may interrupt the other threads' cores).
const RELEASE_STEP: usize = 4 << 20;

impl SegmentCursor {
    pub fn new(file: Arc<SegmentFile>) -> Self {
        SegmentCursor {
            iter: file.reader.iter(),
            file,
            released: None,
        }
    }

    /// A cursor for compaction's one forward pass: its block reads are
    /// [`BlockRead::OnePass`], which the segment's block source keeps out of the
    /// block cache (see `SegmentBlocks`), and the mapped pages it
    /// has read past leave the resident set as it goes (they would otherwise add the
    /// whole input to the process's RSS; other readers still read them).
    pub fn for_compaction(file: Arc<SegmentFile>) -> Self {
        let mut cursor = Self::new(file);
        cursor.iter.set_block_read(BlockRead::OnePass);
        cursor.released = Some(0);
        cursor
    }

    /// Releases the pages before the current block, in [`RELEASE_STEP`]s, and
    /// the whole file once the cursor ran off its end.
    fn release_behind(&mut self) {
        let Some(done) = self.released else {
            return;
        };
        let upto = match self.iter.block_offset() {
            Some(offset) if self.iter.valid() => offset as usize,
            _ => self.file.size() as usize,
        };
        if upto >= done + RELEASE_STEP || (upto > done && !self.iter.valid()) {
            // The file system releases whole aligned units only: start at the unit
            // holding `done`, which the last release left.
            let from = done / RELEASE_ALIGN * RELEASE_ALIGN;
            self.file.release_pages(from..upto);
            self.released = Some(upto);
        }
    }

    fn check(&self, r: lsm_format::Result<()>) -> Result<()> {
        r.map_err(|e| {
            let err = Error::from_format(&self.file.path, e);
            if err.is_corruption() {
                log::error!("{err}");
            }
            err
        })
    }
}

impl Cursor for SegmentCursor {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let r = self.iter.seek(key, seq);
        // A one-pass read that starts inside the file (a compaction's key range)
        // never read the pages before: another range's cursor may be reading
        // them, so they are not released from here.
        if let (Some(done), Some(offset)) = (self.released, self.iter.block_offset()) {
            self.released = Some(done.max(offset as usize));
        }
        self.check(r)
    }
    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let r = self.iter.seek_for_prev(key, seq);
        self.check(r)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        let r = self.iter.seek_to_first();
        self.check(r)
    }
    fn seek_to_last(&mut self) -> Result<()> {
        let r = self.iter.seek_to_last();
        self.check(r)
    }
    fn next(&mut self) -> Result<()> {
        let r = self.iter.next();
        self.check(r)?;
        self.release_behind();
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        let r = self.iter.prev();
        self.check(r)
    }
    fn valid(&self) -> bool {
        self.iter.valid()
    }
    fn key(&self) -> &[u8] {
        self.iter.key()
    }
    fn seq(&self) -> u64 {
        self.iter.seq()
    }
    fn kind(&self) -> EntryKind {
        self.iter.kind()
    }
    fn value(&self) -> Bytes {
        self.iter.value()
    }

    fn max_seq_in(&self, _from: &[u8], _to: &[u8]) -> u64 {
        self.file.meta.largest_seq
    }
}
