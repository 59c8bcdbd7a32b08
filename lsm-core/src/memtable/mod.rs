//! The memtable: recent writes, in memory, in internal order.
//!
//! A lock-free skip list (crossbeam) keyed by [`MemKey`] (user key ascending, newest
//! version first), so readers never block on the writer. Only the commit leader
//! inserts (one group at a time, see `wal::group_commit`), and it publishes the
//! sequence numbers it inserted only afterwards: a reader filters entries above its
//! read sequence, so it never sees part of a batch.
//!
//! Each memtable belongs to one WAL file (`wal_number`): the WAL that holds exactly
//! its writes. When the memtable is flushed, that WAL becomes obsolete.
//!
//! Keys and values are copied into an arena of [`ARENA_CHUNK`]-byte chunks and shared
//! from there (`Bytes` slices of a chunk): one allocation per chunk instead of two per
//! entry, and freeing a flushed memtable returns a few large blocks. A value handed
//! to a reader keeps its chunk alive as long as the reader holds it.

mod filter;
mod key;

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use crossbeam_skiplist::SkipMap;
use lsm_format::segment::bloom::key_hash;
use lsm_format::EntryKind;
use parking_lot::Mutex;

pub(crate) use key::MemKey;

use filter::MemFilter;

/// Bytes charged per entry on top of key and value: the skip-list node (key and
/// value headers, about 90 bytes), its tower (two pointers on average) and the
/// allocator's header. Charging it keeps `memtable_size` close to the memory used,
/// and makes many tiny entries fill a memtable too.
const ENTRY_OVERHEAD: usize = 120;
/// Bytes per arena chunk.
const ARENA_CHUNK: usize = 256 << 10;
/// Entries larger than this get their own allocation rather than a chunk's tail.
const ARENA_MAX_ENTRY: usize = ARENA_CHUNK / 8;

/// One version found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub seq: u64,
    pub kind: EntryKind,
    pub value: Bytes,
}

/// An ordered in-memory table of versions.
pub(crate) struct MemTable {
    map: SkipMap<MemKey, Bytes>,
    /// Bloom filter of the user keys; `None` for memtables no reader probes
    /// (recovery's) and in tests that do not ask for one.
    filter: Option<MemFilter>,
    /// Only the commit leader inserts, so this lock is uncontended.
    arena: Mutex<BytesMut>,
    size: AtomicUsize,
    wal_number: u64,
    /// When the first entry was inserted: the age `flush_interval` is measured from.
    first_insert: OnceLock<Instant>,
}

impl MemTable {
    /// An empty memtable whose writes are logged in WAL file `wal_number`.
    pub fn new(wal_number: u64) -> Self {
        MemTable {
            map: SkipMap::new(),
            filter: None,
            arena: Mutex::new(BytesMut::new()),
            size: AtomicUsize::new(0),
            wal_number,
            first_insert: OnceLock::new(),
        }
    }

    /// An empty memtable with a Bloom filter sized for `capacity` bytes of entries
    /// (the `memtable_size` it will be frozen at).
    pub fn with_filter(wal_number: u64, capacity: usize) -> Self {
        // Entries are charged at least ENTRY_OVERHEAD plus a short key.
        let expected_keys = capacity / (ENTRY_OVERHEAD + 24);
        MemTable {
            filter: Some(MemFilter::with_capacity(expected_keys)),
            ..MemTable::new(wal_number)
        }
    }

    pub fn wal_number(&self) -> u64 {
        self.wal_number
    }

    /// Inserts one version, copying key and value into the arena.
    pub fn insert_copy(&self, key: &[u8], seq: u64, kind: EntryKind, value: &[u8]) {
        let len = key.len() + value.len();
        let kv = if len > ARENA_MAX_ENTRY {
            let mut buf = Vec::with_capacity(len);
            buf.extend_from_slice(key);
            buf.extend_from_slice(value);
            Bytes::from(buf)
        } else {
            let mut arena = self.arena.lock();
            if arena.capacity() - arena.len() < len {
                *arena = BytesMut::with_capacity(ARENA_CHUNK);
            }
            arena.extend_from_slice(key);
            arena.extend_from_slice(value);
            arena.split().freeze()
        };
        let value = kv.slice(key.len()..);
        let mut key = kv;
        key.truncate(len - value.len());
        self.insert(key, seq, kind, value);
    }

    /// Inserts one version sharing `key` and `value`. Callers never insert the same
    /// `(key, seq)` twice.
    pub fn insert(&self, key: Bytes, seq: u64, kind: EntryKind, value: Bytes) {
        let charge = key.len() + value.len() + ENTRY_OVERHEAD;
        self.first_insert.get_or_init(Instant::now);
        if let Some(f) = &self.filter {
            f.insert(key_hash(&key));
        }
        self.map.insert(MemKey::new(key, seq, kind), value);
        self.size.fetch_add(charge, Ordering::Relaxed);
    }

    /// The newest version of `key` with sequence number `<= seq`, tombstones included.
    /// `hash` is `key`'s [`key_hash`], computed once per lookup by the caller.
    pub fn get(&self, key: &[u8], hash: u64, seq: u64) -> Option<Found> {
        if self.map.is_empty() || self.filter.as_ref().is_some_and(|f| !f.may_contain(hash)) {
            return None;
        }
        let probe = MemKey::lookup(Bytes::copy_from_slice(key), seq);
        let entry = self.map.lower_bound(Bound::Included(&probe))?;
        let k = entry.key();
        if k.key.as_ref() != key {
            return None;
        }
        Some(Found {
            seq: k.seq(),
            kind: k.kind(),
            value: entry.value().clone(),
        })
    }

    /// Approximate bytes held.
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Time since the first insert, `None` while empty.
    pub fn age(&self) -> Option<std::time::Duration> {
        self.first_insert.get().map(|t| t.elapsed())
    }

    /// Every entry in internal order, `(key, seq, kind, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (Bytes, u64, EntryKind, Bytes)> + '_ {
        self.map.iter().map(|e| {
            let k = e.key();
            (k.key.clone(), k.seq(), k.kind(), e.value().clone())
        })
    }

    /// Up to `limit` entries from bound `from` on, in internal order, appended to
    /// `out`.
    pub fn fill_forward(&self, from: Bound<&MemKey>, limit: usize, out: &mut Vec<(MemKey, Bytes)>) {
        let range = self.map.range((from, Bound::Unbounded));
        out.extend(
            range
                .take(limit)
                .map(|e| (e.key().clone(), e.value().clone())),
        );
    }

    /// Up to `limit` entries before `to` (from the last entry when unbounded),
    /// walking backwards, appended to `out` in reverse internal order.
    pub fn fill_backward(&self, to: Bound<&MemKey>, limit: usize, out: &mut Vec<(MemKey, Bytes)>) {
        let range = self.map.range((Bound::Unbounded, to));
        out.extend(
            range
                .rev()
                .take(limit)
                .map(|e| (e.key().clone(), e.value().clone())),
        );
    }
}

impl std::fmt::Debug for MemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemTable")
            .field("wal_number", &self.wal_number)
            .field("entries", &self.map.len())
            .field("size", &self.size())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn get_sees_newest_version_at_or_below_the_read_sequence() {
        // The same answers with and without the key filter.
        for m in [MemTable::new(7), MemTable::with_filter(7, 1 << 20)] {
            m.insert(b("k"), 1, EntryKind::Put, b("v1"));
            m.insert(b("k"), 3, EntryKind::Tombstone, Bytes::new());
            m.insert(b("k"), 5, EntryKind::Put, b("v5"));
            m.insert(b("j"), 2, EntryKind::Put, b("j2"));
            m.insert(b("ka"), 4, EntryKind::Put, b("ka4"));
            assert_eq!(m.get(b"k", key_hash(b"k"), 0), None);
            assert_eq!(m.get(b"k", key_hash(b"k"), 1).unwrap().value, b("v1"));
            assert_eq!(m.get(b"k", key_hash(b"k"), 2).unwrap().value, b("v1"));
            assert_eq!(
                m.get(b"k", key_hash(b"k"), 3).unwrap().kind,
                EntryKind::Tombstone
            );
            assert_eq!(m.get(b"k", key_hash(b"k"), 4).unwrap().seq, 3);
            assert_eq!(
                m.get(b"k", key_hash(b"k"), u64::MAX >> 8).unwrap().value,
                b("v5")
            );
            assert_eq!(m.get(b"kb", key_hash(b"kb"), 10), None);
            assert_eq!(m.get(b"", key_hash(b""), 10), None);
            assert_eq!(m.wal_number(), 7);
            assert!(m.size() > 0 && !m.is_empty() && m.age().is_some());
        }
    }

    #[test]
    fn iterates_in_internal_order_both_ways() {
        let m = MemTable::new(1);
        m.insert(b("b"), 1, EntryKind::Put, b("b1"));
        m.insert(b("a"), 2, EntryKind::Put, b("a2"));
        m.insert(b("b"), 3, EntryKind::Put, b("b3"));
        let all: Vec<_> = m.iter().map(|(k, s, _, _)| (k, s)).collect();
        assert_eq!(all, vec![(b("a"), 2), (b("b"), 3), (b("b"), 1)]);

        let mut out = Vec::new();
        m.fill_forward(Bound::Unbounded, 2, &mut out);
        assert_eq!(out.len(), 2);
        let last = out[1].0.clone();
        out.clear();
        m.fill_forward(Bound::Excluded(&last), 10, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.seq(), 1);

        out.clear();
        m.fill_backward(Bound::Unbounded, 10, &mut out);
        let seqs: Vec<u64> = out.iter().map(|(k, _)| k.seq()).collect();
        assert_eq!(seqs, vec![1, 3, 2]);
    }
}
