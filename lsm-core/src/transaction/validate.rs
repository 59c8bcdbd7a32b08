//! The commit rule of optimistic transactions: a transaction that began at
//! sequence number `begin` may commit only if nothing it read was written by a
//! commit numbered above `begin`.
//!
//! No write history is kept: the rule is checked against the database itself,
//! by the commit leader, just before it numbers the group (so nothing can commit
//! in between), on the state every earlier group left (`check_state`) and on the
//! batches ahead of the transaction in its own group (`check_batch`).
//!
//! In the state, a read key conflicts when its newest version anywhere (memtables
//! and segments, tombstones and expiring values included, whatever the
//! transaction could see) is numbered above `begin`, or when a range tombstone
//! numbered above `begin` covers it. A scanned range conflicts when any key in it
//! has such a version or such a range tombstone overlaps it. Sequence numbers
//! prune the sources: only a memtable or segment whose largest sequence number is
//! above `begin` can hold such a version, usually just the active memtable. The
//! transaction holds a registered snapshot at `begin`, so compaction neither
//! drops those versions nor renumbers them to 0.

use lsm_format::keyspace::KeyspaceId;
use std::sync::Arc;

use lsm_format::range_del::Fragments;
use lsm_format::segment::bloom::key_hash;
use lsm_format::{EntryKind, MAX_SEQUENCE};

use super::ranges::KeyRange;
use super::read_set::ReadSet;
use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::memtable::cursor::MemTableCursor;
use crate::memtable::MemTable;
use crate::read_path::iter::{Cursor, SegmentCursor};
use crate::read_path::SuperVersion;
use crate::segment::file::SegmentFile;

fn conflict(what: String) -> Error {
    Error::Conflict { what }
}

fn key_conflict(key: &[u8]) -> Error {
    conflict(format!("key \"{}\"", key.escape_ascii()))
}

/// Whether a range tombstone of `set` numbered above `begin` covers a key of
/// `range`.
fn newer_tombstone_over(set: &Fragments, range: &KeyRange, begin: u64) -> bool {
    let pieces = set.fragments();
    let first = pieces.partition_point(|p| p.end[..] <= range.start[..]);
    pieces
        .get(first..)
        .unwrap_or_default()
        .iter()
        .take_while(|p| !range.ends_before(&p.start))
        .any(|p| p.seqs.first().is_some_and(|&s| s > begin))
}

/// The sources that may hold a write numbered above `begin`.
struct Newer<'a> {
    mems: Vec<&'a Arc<MemTable>>,
    mem_tombstones: Vec<Arc<Fragments>>,
    files: Vec<&'a Arc<SegmentFile>>,
}

impl<'a> Newer<'a> {
    fn of(sv: &'a SuperVersion, begin: u64) -> Self {
        let all_mems = || std::iter::once(&sv.mem).chain(sv.imm.iter());
        let mems = all_mems().filter(|m| m.max_seq() > begin).collect();
        let mem_tombstones = all_mems()
            .filter_map(|m| m.range_tombstones())
            .filter(|t| t.seq_range().is_some_and(|(_, hi)| hi > begin))
            .collect();
        // A segment's largest sequence number counts its range tombstones too.
        let files = sv
            .version
            .levels()
            .iter()
            .flatten()
            .filter(|f| f.meta.largest_seq > begin)
            .collect();
        Newer {
            mems,
            mem_tombstones,
            files,
        }
    }

    fn is_empty(&self) -> bool {
        self.mems.is_empty() && self.mem_tombstones.is_empty() && self.files.is_empty()
    }

    fn tombstone_over(&self, range: &KeyRange, begin: u64) -> bool {
        self.mem_tombstones
            .iter()
            .map(|t| &**t)
            .chain(self.files.iter().map(|f| f.reader.range_tombstones()))
            .any(|t| newer_tombstone_over(t, range, begin))
    }
}

/// Checks `reads` against everything committed so far (the view `sv`, taken by
/// the commit leader before it numbers its group).
///
/// # Errors
/// [`Error::Conflict`] naming the first conflict found; `Corruption` or `Io` from
/// a segment read.
pub(crate) fn check_state(sv: &SuperVersion, begin: u64, reads: &ReadSet) -> Result<()> {
    if reads.is_empty() {
        return Ok(());
    }
    let newer = Newer::of(sv, begin);
    if newer.is_empty() {
        return Ok(());
    }
    for key in reads.keys() {
        check_key(&newer, key, begin)?;
    }
    for range in reads.ranges() {
        check_range(&newer, &range, begin)?;
    }
    Ok(())
}

fn check_key(newer: &Newer<'_>, key: &[u8], begin: u64) -> Result<()> {
    let as_range = KeyRange {
        start: bytes::Bytes::copy_from_slice(key),
        end: Some(bytes::Bytes::from([key, &[0]].concat())),
    };
    if newer.tombstone_over(&as_range, begin) {
        return Err(key_conflict(key));
    }
    let hash = key_hash(key);
    for m in &newer.mems {
        if m.get(key, hash, MAX_SEQUENCE)
            .is_some_and(|f| f.seq > begin)
        {
            return Err(key_conflict(key));
        }
    }
    for f in &newer.files {
        if f.contains_key(key) {
            let mut c = SegmentCursor::new(Arc::clone(f));
            c.seek(key, MAX_SEQUENCE)?;
            if c.valid() && c.key() == key && c.seq() > begin {
                return Err(key_conflict(key));
            }
        }
    }
    Ok(())
}

fn check_range(newer: &Newer<'_>, range: &KeyRange, begin: u64) -> Result<()> {
    if newer.tombstone_over(range, begin) {
        return Err(conflict(format!("scanned {range}")));
    }
    for m in &newer.mems {
        let mut c = MemTableCursor::new(Arc::clone(m));
        c.seek(&range.start, MAX_SEQUENCE);
        while let Some(e) = c.entry() {
            if range.ends_before(e.key) {
                break;
            }
            if e.seq > begin {
                return Err(key_conflict(e.key));
            }
            c.next();
        }
    }
    for f in &newer.files {
        let overlaps = f.largest() >= &range.start[..] && !range.ends_before(f.smallest());
        if !overlaps {
            continue;
        }
        let mut c = SegmentCursor::new(Arc::clone(f));
        c.seek(&range.start, MAX_SEQUENCE)?;
        // Every entry of a file wholly newer than `begin` conflicts: the first one
        // in the range decides.
        let all_newer = f.meta.smallest_seq > begin;
        while c.valid() && !range.ends_before(c.key()) {
            if all_newer || c.seq() > begin {
                return Err(key_conflict(c.key()));
            }
            c.next()?;
        }
    }
    Ok(())
}

/// Checks `reads` against a batch committed ahead of the transaction in the same
/// group (it will be numbered above `begin`).
///
/// # Errors
/// [`Error::Conflict`] when the batch writes a key read or a key of a scanned
/// range, or deletes a range holding either.
pub(crate) fn check_batch(batch: &WriteBatch, keyspace: KeyspaceId, reads: &ReadSet) -> Result<()> {
    for (kind, key, value) in batch
        .iter_in()
        .filter(|(k, ..)| *k == keyspace)
        .map(|(_, kind, key, value)| (kind, key, value))
    {
        if kind == EntryKind::RangeDelete {
            if reads.overlaps_range(key, value) {
                return Err(match reads.first_key_in(key, value) {
                    Some(k) => key_conflict(k),
                    None => conflict(KeyRange::half_open(key, value).to_string()),
                });
            }
        } else if reads.covers_key(key) {
            return Err(key_conflict(key));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsm_format::range_del::RangeTombstone;

    #[test]
    fn only_tombstones_newer_than_begin_over_the_range_count() {
        let set = Fragments::from_tombstones([
            RangeTombstone::new("b", "d", 5),
            RangeTombstone::new("m", "p", 9),
        ]);
        let r = |s: &str, e: &str| KeyRange::half_open(s.as_bytes(), e.as_bytes());
        assert!(newer_tombstone_over(&set, &r("a", "c"), 4));
        assert!(!newer_tombstone_over(&set, &r("a", "c"), 5));
        assert!(!newer_tombstone_over(&set, &r("d", "m"), 0));
        assert!(newer_tombstone_over(&set, &r("d", "m\0"), 8));
        assert!(!newer_tombstone_over(&set, &r("p", "z"), 0));
    }

    #[test]
    fn batch_writes_conflict_with_what_was_read() {
        let mut reads = ReadSet::default();
        reads.add_key(b"k");
        reads.add_range(KeyRange::half_open(b"m", b"p"));
        let check = |f: &dyn Fn(&mut WriteBatch)| {
            let mut b = WriteBatch::new();
            f(&mut b);
            check_batch(&b, 0, &reads)
        };
        assert!(check(&|b| {
            b.put("a", "1").delete("z");
        })
        .is_ok());
        let err = check(&|b| {
            b.put("k", "1");
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "transaction conflict: key \"k\" was written after the transaction began"
        );
        assert!(check(&|b| {
            b.delete("n");
        })
        .is_err());
        assert!(check(&|b| {
            b.delete_range("j", "k\0");
        })
        .is_err());
        assert!(check(&|b| {
            b.delete_range("o", "q");
        })
        .is_err());
        assert!(check(&|b| {
            b.delete_range("p", "q").delete_range("a", "k");
        })
        .is_ok());
    }
}
