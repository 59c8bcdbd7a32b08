//! The merged view of a database directory read without the engine: the live
//! segments plus the live WALs' batches (the memtable), merged in internal order.
//!
//! [`Merge`] yields every version of every key (key ascending, newest first), which
//! is what `lsm-compact --dry-run` counts. (The newest-version view `lsm-dump
//! --entries` prints is the engine's own, `Db::open_read_only`.) Each step picks the smallest head among the sources by
//! a linear scan: a directory has tens of sources, so a heap would not pay.

use std::cmp::Ordering;
use std::path::PathBuf;

use lsm_format::entry::compare_internal;
use lsm_format::{Entry, SegmentIter, MAX_SEQUENCE};

use crate::error::{Error, Result};
use crate::state::DbState;

/// Bounds of a merged scan: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct KeyRange {
    /// First key included.
    pub from: Option<Vec<u8>>,
    /// First key excluded.
    pub to: Option<Vec<u8>>,
}

impl KeyRange {
    fn before_end(&self, key: &[u8]) -> bool {
        self.to.as_deref().is_none_or(|to| key < to)
    }
}

enum Source {
    /// Entries in internal order and the position of the next one.
    Memtable(Vec<Entry>, usize),
    /// A segment cursor, and the file it reads for errors.
    Segment(SegmentIter, PathBuf),
}

impl Source {
    fn head(&self) -> Option<(&[u8], u64)> {
        match self {
            Source::Memtable(entries, pos) => entries.get(*pos).map(|e| (&e.key[..], e.seq)),
            Source::Segment(it, _) => it.valid().then(|| (it.key(), it.seq())),
        }
    }

    /// Takes the head entry and advances.
    fn pop(&mut self) -> Result<Entry> {
        match self {
            Source::Memtable(entries, pos) => {
                let e = entries
                    .get(*pos)
                    .cloned()
                    .ok_or_else(|| Error::Usage("empty source".into()))?;
                *pos += 1;
                Ok(e)
            }
            Source::Segment(it, path) => {
                let e = it.entry();
                it.next().map_err(|err| Error::format(path.clone(), err))?;
                Ok(e)
            }
        }
    }
}

/// Every version of every key in the live files, in internal order.
pub struct Merge {
    sources: Vec<Source>,
    range: KeyRange,
    failed: bool,
}

/// The WAL batches of the live WALs as memtable entries, in internal order.
pub fn memtable_entries(state: &DbState) -> Vec<Entry> {
    let mut entries: Vec<Entry> = state
        .wals
        .iter()
        .filter_map(|w| w.replay.as_ref().ok())
        .flat_map(|r| &r.batches)
        .flat_map(|b| {
            b.ops.iter().enumerate().map(move |(i, op)| Entry {
                key: op.key.clone(),
                seq: b.first_seq + i as u64,
                kind: op.kind,
                value: op.value.clone(),
            })
        })
        .collect();
    entries.sort_by(|a, b| compare_internal(&a.key, a.seq, &b.key, b.seq));
    entries
}

impl Merge {
    /// A merge over the memtable (live WALs) and every live segment of `state`,
    /// positioned at `range.from`.
    ///
    /// # Errors
    /// When a segment cannot be read or opened.
    pub fn new(state: &DbState, range: KeyRange) -> Result<Merge> {
        let mut mem = memtable_entries(state);
        if let Some(from) = &range.from {
            mem.retain(|e| e.key.as_ref() >= from.as_slice());
        }
        let mut sources = vec![Source::Memtable(mem, 0)];
        for seg in &state.segments {
            let reader = seg.open()?;
            let mut it = reader.iter();
            let positioned = match &range.from {
                Some(from) => it.seek(from, MAX_SEQUENCE),
                None => it.seek_to_first(),
            };
            positioned.map_err(|e| Error::format(seg.path.clone(), e))?;
            sources.push(Source::Segment(it, seg.path.clone()));
        }
        Ok(Merge {
            sources,
            range,
            failed: false,
        })
    }

    fn smallest(&self) -> Option<usize> {
        let mut best: Option<(usize, &[u8], u64)> = None;
        for (i, s) in self.sources.iter().enumerate() {
            if let Some((key, seq)) = s.head() {
                let better = match best {
                    None => true,
                    Some((_, bk, bs)) => compare_internal(key, seq, bk, bs) == Ordering::Less,
                };
                if better {
                    best = Some((i, key, seq));
                }
            }
        }
        best.filter(|(_, key, _)| self.range.before_end(key))
            .map(|(i, _, _)| i)
    }
}

impl Iterator for Merge {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let i = self.smallest()?;
        let item = self.sources.get_mut(i)?.pop();
        self.failed = item.is_err();
        Some(item)
    }
}
