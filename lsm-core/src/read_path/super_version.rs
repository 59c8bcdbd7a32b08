//! A super version: everything a read looks at, captured together: the active
//! memtable, the immutable memtables waiting for flush, and the segment version.
//!
//! Readers clone the current `Arc<SuperVersion>` (and read the visible sequence
//! number) under a read lock held for two atomic operations, never during I/O. The
//! engine installs a new super version whenever one of the three parts changes, under
//! the write lock, so a reader sees each write either in a memtable or in a segment,
//! never in neither: an immutable memtable leaves the super version in the same
//! step in which the segments holding its data enter it.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::range_del::Fragments;
use lsm_format::segment::bloom::key_hash;
use lsm_format::EntryKind;

use crate::clock::value_at;

use crate::error::Result;
use crate::memtable::{Found, MemTable};
use crate::metrics::Metrics;
use crate::read_path::iter::visible::CursorSource;
use crate::read_path::iter::{Cursor, LevelCursor, MemCursor, MergeCursor, SegmentCursor};
use crate::version::{resolve, Version};

#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub mem: Arc<MemTable>,
    /// Oldest first (the order they are flushed in).
    pub imm: Vec<Arc<MemTable>>,
    pub version: Arc<Version>,
}

fn overlaps(smallest: &[u8], largest: &[u8], lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    let above_lower = match lower {
        Bound::Included(l) => largest >= l,
        Bound::Excluded(l) => largest > l,
        Bound::Unbounded => true,
    };
    let below_upper = match upper {
        Bound::Included(u) => smallest <= u,
        Bound::Excluded(u) => smallest < u,
        Bound::Unbounded => true,
    };
    above_lower && below_upper
}

impl SuperVersion {
    /// The value of `key` a reader at `seq` sees at time `now_ms`: the newest
    /// version visible at `seq` (memtables newest first, then the segments), as
    /// [`value_at`] reads it.
    ///
    /// # Errors
    /// `Corruption` or `Io` from a segment.
    pub fn get(
        &self,
        key: &[u8],
        seq: u64,
        now_ms: impl FnOnce() -> u64,
        metrics: &Metrics,
    ) -> Result<Option<Bytes>> {
        // One hash serves the filter of every memtable and segment probed.
        let hash = key_hash(key);
        let found = self.find(key, hash, seq, metrics)?;
        // The clock is read only for a value that may have expired.
        match found {
            None => Ok(None),
            Some(f) => match f.kind {
                EntryKind::Put => Ok(Some(f.value)),
                EntryKind::BlobPointer => self.version.resolve_blob(key, &f.value).map(Some),
                kind => Ok(value_at(kind, f.value, now_ms())),
            },
        }
    }

    /// The newest version of `key` visible at `seq`, tombstones and expired values
    /// included (an expired value hides older versions as a tombstone does);
    /// `None` when there is none or a range tombstone hides it.
    ///
    /// # Errors
    /// `Corruption` or `Io` from a segment.
    pub fn find(
        &self,
        key: &[u8],
        hash: u64,
        seq: u64,
        metrics: &Metrics,
    ) -> Result<Option<Found>> {
        let mut covered = None;
        for m in std::iter::once(&self.mem).chain(self.imm.iter().rev()) {
            if let Some(t) = m.range_tombstones() {
                covered = covered.max(t.covering_seq(key, seq));
            }
            if let Some(answer) = resolve(m.get(key, hash, seq), covered) {
                return Ok(answer);
            }
        }
        self.version.get(key, hash, seq, covered, metrics)
    }

    /// Every range tombstone of every source that may cover a key within the
    /// bounds, fragmented together; `None` when there is none (the common case
    /// costs one look per source).
    pub fn range_tombstones(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Option<Arc<Fragments>> {
        // No allocation unless some memtable holds tombstones (the common case).
        let mut sets: Vec<Arc<Fragments>> = Vec::new();
        for m in std::iter::once(&self.mem).chain(self.imm.iter()) {
            if let Some(t) = m.range_tombstones() {
                sets.push(t);
            }
        }
        let mut from_files: Vec<&Fragments> = Vec::new();
        let levels = if self.version.has_range_tombstones() {
            self.version.levels()
        } else {
            &[]
        };
        for files in levels {
            for f in files {
                let t = f.reader.range_tombstones();
                if !t.is_empty() && overlaps(f.smallest(), f.largest(), lower, upper) {
                    from_files.push(t);
                }
            }
        }
        match (sets.len(), from_files.len()) {
            (0, 0) => None,
            (1, 0) => sets.pop(),
            _ => Some(Arc::new(Fragments::merge(
                sets.iter().map(|s| &**s).chain(from_files),
            ))),
        }
    }

    /// A merging cursor over every source that may hold keys within the bounds,
    /// newest source first.
    pub fn cursor(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> MergeCursor {
        let levels = self.version.levels();
        // Sized once, and no per-level vector for level 0's files: a scan is often
        // short, and it builds this list anew each time (callgrind: one allocation
        // less per seek, docs/perf-log.md).
        let most = 1 + self.imm.len() + levels.first().map_or(0, Vec::len) + levels.len();
        let mut children: Vec<Box<dyn Cursor>> = Vec::with_capacity(most);
        for mem in std::iter::once(&self.mem).chain(self.imm.iter().rev()) {
            if !mem.is_empty() {
                children.push(Box::new(MemCursor::new(mem.clone())));
            }
        }
        for (level, files) in levels.iter().enumerate() {
            let mut files = files
                .iter()
                .filter(|f| overlaps(f.smallest(), f.largest(), lower, upper));
            if level == 0 {
                for f in files {
                    children.push(Box::new(SegmentCursor::new(f.clone())));
                }
            } else if let Some(first) = files.next() {
                let files = std::iter::once(first).chain(files).cloned().collect();
                children.push(Box::new(LevelCursor::new(files)));
            }
        }
        MergeCursor::new(children)
    }
}

/// A read view as a cursor source for [`crate::Scan`].
pub(crate) struct ReadView(pub Arc<SuperVersion>);

impl CursorSource for ReadView {
    fn cursor(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Box<dyn Cursor> {
        Box::new(self.0.cursor(lower, upper))
    }

    fn range_tombstones(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Option<Arc<Fragments>> {
        self.0.range_tombstones(lower, upper)
    }

    fn resolve_blob(&self, key: &[u8], stored: &[u8]) -> Result<Bytes> {
        self.0.version.resolve_blob(key, stored)
    }
}

impl SuperVersion {
    /// Every version of `key` in every source, newest source first: a diagnostic
    /// for tests and tools.
    pub(crate) fn describe_key(&self, key: &[u8]) -> String {
        let mut out = String::new();
        let mems = std::iter::once(&self.mem).chain(self.imm.iter().rev());
        for (i, mem) in mems.enumerate() {
            let label = format!("mem{i}(wal {})", mem.wal_number());
            describe_versions(&mut out, &label, &mut MemCursor::new(mem.clone()), key);
        }
        for (level, files) in self.version.levels().iter().enumerate() {
            for f in files {
                let label = format!(
                    "L{level} #{} (seqs {}..={})",
                    f.number(),
                    f.meta.smallest_seq,
                    f.meta.largest_seq
                );
                describe_versions(&mut out, &label, &mut SegmentCursor::new(f.clone()), key);
            }
        }
        out
    }
}

/// Appends `label: seq S Kind; ` for every version of `key` that `c` holds.
fn describe_versions(out: &mut String, label: &str, c: &mut dyn Cursor, key: &[u8]) {
    use std::fmt::Write;
    let _ = c.seek(key, lsm_format::MAX_SEQUENCE);
    while c.valid() && c.key() == key {
        let _ = write!(out, "{label}: seq {} {:?}; ", c.seq(), c.kind());
        let _ = c.next();
    }
}
