//! A cursor over one segment file: `lsm-format`'s [`SegmentIter`] plus the file's
//! path for errors and an `Arc` that keeps the file alive while the cursor exists.

use std::sync::Arc;

use bytes::Bytes;
use lsm_format::{EntryKind, SegmentIter};

use super::Cursor;
use crate::error::{Error, Result};
use crate::segment_file::SegmentFile;

pub(crate) struct SegmentCursor {
    iter: SegmentIter,
    file: Arc<SegmentFile>,
}

impl SegmentCursor {
    pub fn new(file: Arc<SegmentFile>) -> Self {
        SegmentCursor {
            iter: file.reader.iter(),
            file,
        }
    }

    /// A cursor whose block reads do not fill the block cache (see
    /// [`SegmentIter::set_fill_cache`]): compaction's.
    pub fn without_cache_fill(file: Arc<SegmentFile>) -> Self {
        let mut cursor = Self::new(file);
        cursor.iter.set_fill_cache(false);
        cursor
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
        self.check(r)
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
}
