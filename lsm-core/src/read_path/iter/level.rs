//! A cursor over one level >= 1: its files are sorted by key and never overlap (and
//! never split the versions of one user key, see `compaction::executor`), so the
//! level reads as one sorted run. Only the file under the cursor is open.

use std::sync::Arc;

use bytes::Bytes;
use lsm_format::EntryKind;

use super::{Cursor, SegmentCursor};
use crate::error::Result;
use crate::segment::file::SegmentFile;

pub(crate) struct LevelCursor {
    files: Vec<Arc<SegmentFile>>,
    /// Index into `files` of the open cursor.
    index: usize,
    current: Option<SegmentCursor>,
    /// Whether this is compaction's one-pass read (see
    /// `SegmentCursor::for_compaction`).
    for_compaction: bool,
}

impl LevelCursor {
    /// `files` sorted by smallest key, non-overlapping.
    pub fn new(files: Vec<Arc<SegmentFile>>) -> Self {
        debug_assert!(files.is_sorted_by(|a, b| a.largest() < b.smallest()));
        LevelCursor {
            files,
            index: 0,
            current: None,
            for_compaction: false,
        }
    }

    /// As [`LevelCursor::new`], for compaction's one-pass read (see
    /// `SegmentCursor::for_compaction`).
    pub fn for_compaction(files: Vec<Arc<SegmentFile>>) -> Self {
        LevelCursor {
            for_compaction: true,
            ..Self::new(files)
        }
    }

    /// The cursor over file `index`: the open one when it is that file (a seek
    /// within the file the cursor is in reuses it), else a new one.
    fn open(&mut self, index: usize) -> Option<&mut SegmentCursor> {
        let file = self.files.get(index)?;
        if index == self.index && self.current.is_some() {
            return self.current.as_mut();
        }
        let file = file.clone();
        self.index = index;
        let cursor = if self.for_compaction {
            SegmentCursor::for_compaction(file)
        } else {
            SegmentCursor::new(file)
        };
        Some(self.current.insert(cursor))
    }

    /// Moves forward over files until one yields an entry (after the current one
    /// ran out).
    fn skip_forward(&mut self) -> Result<()> {
        while !self.valid() {
            let next = self.index + 1;
            match self.open(next) {
                Some(c) => c.seek_to_first()?,
                None => {
                    self.current = None;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn skip_backward(&mut self) -> Result<()> {
        while !self.valid() {
            let Some(prev) = self.index.checked_sub(1) else {
                self.current = None;
                return Ok(());
            };
            if let Some(c) = self.open(prev) {
                c.seek_to_last()?;
            }
        }
        Ok(())
    }

    fn fail<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.current = None;
        }
        r
    }
}

impl Cursor for LevelCursor {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        // The first file whose largest key is >= key holds every version of `key`.
        let i = self.files.partition_point(|f| f.largest() < key);
        let r = match self.open(i) {
            Some(c) => c.seek(key, seq).and_then(|()| self.skip_forward()),
            None => {
                self.current = None;
                Ok(())
            }
        };
        self.fail(r)
    }

    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        // The last file whose smallest key is <= key.
        let n = self.files.partition_point(|f| f.smallest() <= key);
        let r = match n.checked_sub(1).and_then(|i| self.open(i)) {
            Some(c) => c
                .seek_for_prev(key, seq)
                .and_then(|()| self.skip_backward()),
            None => {
                self.current = None;
                Ok(())
            }
        };
        self.fail(r)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        let r = match self.open(0) {
            Some(c) => c.seek_to_first().and_then(|()| self.skip_forward()),
            None => Ok(()),
        };
        self.fail(r)
    }

    fn seek_to_last(&mut self) -> Result<()> {
        let r = match self.files.len().checked_sub(1).and_then(|i| self.open(i)) {
            Some(c) => c.seek_to_last().and_then(|()| self.skip_backward()),
            None => Ok(()),
        };
        self.fail(r)
    }

    fn next(&mut self) -> Result<()> {
        let r = match self.current.as_mut() {
            Some(c) => c.next().and_then(|()| self.skip_forward()),
            None => Ok(()),
        };
        self.fail(r)
    }

    fn prev(&mut self) -> Result<()> {
        let r = match self.current.as_mut() {
            Some(c) => c.prev().and_then(|()| self.skip_backward()),
            None => Ok(()),
        };
        self.fail(r)
    }

    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.key())
    }

    fn seq(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.seq())
    }

    fn kind(&self) -> EntryKind {
        self.current
            .as_ref()
            .map_or(EntryKind::Tombstone, |c| c.kind())
    }

    fn value(&self) -> Bytes {
        self.current.as_ref().map_or_else(Bytes::new, |c| c.value())
    }

    fn max_seq_in(&self, from: &[u8], to: &[u8]) -> u64 {
        let first = self.files.partition_point(|f| f.largest() < from);
        let files = self.files.get(first..).unwrap_or_default();
        let overlapping = files.iter().take_while(|f| f.smallest() <= to);
        overlapping.map(|f| f.meta.largest_seq).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::fs::{FsRef, SimFs};
    use crate::options::Options;
    use crate::segment::builder::SegmentBuilder;
    use crate::segment::file::SegmentContext;

    /// One segment of keys `key{k}` for `k` in `keys`, each in two versions.
    fn segment(fs: &FsRef, next: &AtomicU64, keys: std::ops::Range<u32>) -> Arc<SegmentFile> {
        let options = Options::default().with_block_size(256);
        let mut b = SegmentBuilder::new(fs, Path::new("/db"), &options, 1, next);
        for k in keys {
            let key = format!("key{k:04}");
            for seq in [20 + u64::from(k), 1] {
                b.add(key.as_bytes(), seq, EntryKind::Put, key.as_bytes())
                    .unwrap();
            }
        }
        let meta = b.finish().unwrap().pop().unwrap();
        let ctx = SegmentContext::unbounded();
        SegmentFile::open(fs, Path::new("/db"), meta, &ctx).unwrap()
    }

    /// Seeks in both directions, again and again on one cursor (within the file it
    /// has open and across files, before, between and after the files' keys), land
    /// where a search of all the entries says.
    #[test]
    fn repeated_seeks_land_where_the_contract_says() {
        let fs = SimFs::new().fs_ref();
        fs.create_dir_all(Path::new("/db")).unwrap();
        let next = AtomicU64::new(1);
        let files = vec![
            segment(&fs, &next, 100..300),
            segment(&fs, &next, 400..420),
            segment(&fs, &next, 500..700),
        ];
        let mut all: Vec<(Vec<u8>, u64)> = Vec::new();
        for f in &files {
            let mut c = SegmentCursor::new(f.clone());
            c.seek_to_first().unwrap();
            while c.valid() {
                all.push((c.key().to_vec(), c.seq()));
                c.next().unwrap();
            }
        }
        let mut c = LevelCursor::new(files);
        let at = |c: &LevelCursor| c.valid().then(|| (c.key().to_vec(), c.seq()));
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let key = format!("key{:04}", rng % 800).into_bytes();
            let seq = [0, 1, 2, 30, u64::MAX >> 8][(rng >> 20) as usize % 5];
            let cmp =
                |e: &(Vec<u8>, u64)| lsm_format::entry::compare_internal(&e.0, e.1, &key, seq);
            let back = rng >> 40 & 1 == 1;
            let want = if back {
                c.seek_for_prev(&key, seq).unwrap();
                all.iter().rev().find(|e| cmp(e).is_le())
            } else {
                c.seek(&key, seq).unwrap();
                all.iter().find(|e| cmp(e).is_ge())
            };
            assert_eq!(at(&c).as_ref(), want, "round {round}");
            // A step in the seek's direction, across a file boundary at times.
            if c.valid() {
                if back {
                    c.prev().unwrap();
                } else {
                    c.next().unwrap();
                }
                let i = want.map(|w| all.iter().position(|e| e == w).unwrap());
                let want = i.and_then(|i| {
                    if back {
                        i.checked_sub(1).and_then(|j| all.get(j))
                    } else {
                        all.get(i + 1)
                    }
                });
                assert_eq!(at(&c).as_ref(), want, "round {round}, after a step");
            }
        }
    }
}
