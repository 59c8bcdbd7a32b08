//! The memtable: recent writes, in memory, in internal order.
//!
//! A single-writer skip list whose nodes hold key and value inline in an arena
//! ([`skiplist`]), so readers never block on the writer and an entry costs about 30
//! bytes on top of its key and value. Only the commit leader inserts (one group at a
//! time, see `wal::group_commit`), and it publishes the sequence numbers it inserted
//! only afterwards: a reader filters entries above its read sequence, so it never
//! sees part of a batch.
//!
//! Each memtable belongs to one WAL file (`wal_number`): the WAL that holds exactly
//! its writes. When the memtable is flushed, that WAL becomes obsolete.
//!
//! Values handed out (`get`, cursors) are copies: sharing the arena would keep a
//! whole memtable alive for as long as a caller holds one value.

mod arena;
pub(crate) mod cursor;
mod filter;
mod range_dels;
mod skiplist;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use lsm_format::entry::{pack_tag, unpack_tag};
use lsm_format::range_del::Fragments;
use lsm_format::segment::bloom::key_hash;
use lsm_format::EntryKind;

use filter::MemFilter;
use range_dels::MemRangeDels;
use skiplist::{Entry, SkipList};

/// Typical bytes per entry on top of key and value (node header, 2 tower links,
/// alignment): sizes the key filter for a memtable's capacity.
const TYPICAL_ENTRY_OVERHEAD: usize = 36;
/// Arena block size for memtables of unknown capacity (recovery's, tests').
const DEFAULT_BLOCK: usize = 256 << 10;
/// Bounds of the arena block size of live memtables: a sixteenth of the capacity.
const MIN_BLOCK: usize = 64 << 10;
const MAX_BLOCK: usize = 1 << 20;

/// One version found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub seq: u64,
    pub kind: EntryKind,
    pub value: Bytes,
}

/// One version, borrowed from a memtable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemEntry<'a> {
    pub key: &'a [u8],
    pub seq: u64,
    pub kind: EntryKind,
    pub value: &'a [u8],
}

impl<'a> From<Entry<'a>> for MemEntry<'a> {
    fn from(e: Entry<'a>) -> Self {
        // Only `MemTable::insert` writes tags, always from a valid kind.
        let (seq, kind) = unpack_tag(e.tag).unwrap_or((e.tag >> 8, EntryKind::Tombstone));
        MemEntry {
            key: e.key,
            seq,
            kind,
            value: e.value,
        }
    }
}

/// The tag of a search key placed just before every version of a key whose sequence
/// number is `<= seq`: its kind byte 0xff sorts before every stored kind.
pub(crate) fn seek_tag(seq: u64) -> u64 {
    (seq << 8) | 0xff
}

/// The tag of a search key placed just after every version of a key whose sequence
/// number is `>= seq` (kind byte 0, the smallest).
pub(crate) fn seek_back_tag(seq: u64) -> u64 {
    seq << 8
}

/// An ordered in-memory table of versions.
pub(crate) struct MemTable {
    list: SkipList,
    /// Bloom filter of the user keys; `None` for memtables no reader probes
    /// (recovery's) and in tests that do not ask for one. Updated under the list's
    /// writer lock, which makes its single-writer updates safe.
    filter: Option<MemFilter>,
    size: AtomicUsize,
    /// Range tombstones, kept beside the list.
    range_dels: MemRangeDels,
    /// The largest sequence number of any entry in the list: a scan may skip this
    /// memtable's part of a range a newer range tombstone covers.
    max_seq: AtomicU64,
    wal_number: u64,
    /// When the first entry was inserted: the age `flush_interval` is measured from.
    first_insert: OnceLock<Instant>,
}

impl MemTable {
    /// An empty memtable whose writes are logged in WAL file `wal_number`.
    pub fn new(wal_number: u64) -> Self {
        Self::with_block(wal_number, DEFAULT_BLOCK, None)
    }

    /// An empty memtable with a Bloom filter sized for `capacity` bytes of entries
    /// (the `memtable_size` it will be frozen at).
    pub fn with_filter(wal_number: u64, capacity: usize) -> Self {
        let expected_keys = capacity / (TYPICAL_ENTRY_OVERHEAD + 24);
        let block = (capacity / 16).clamp(MIN_BLOCK, MAX_BLOCK);
        Self::with_block(
            wal_number,
            block,
            Some(MemFilter::with_capacity(expected_keys)),
        )
    }

    fn with_block(wal_number: u64, block: usize, filter: Option<MemFilter>) -> Self {
        MemTable {
            list: SkipList::new(block),
            filter,
            size: AtomicUsize::new(0),
            range_dels: MemRangeDels::default(),
            max_seq: AtomicU64::new(0),
            wal_number,
            first_insert: OnceLock::new(),
        }
    }

    pub fn wal_number(&self) -> u64 {
        self.wal_number
    }

    /// Inserts one version, copying key and value into the arena. Callers never
    /// insert the same `(key, seq)` twice, and keep keys within
    /// `lsm_format::MAX_KEY_LEN` and values within `MAX_VALUE_LEN`. A
    /// [`EntryKind::RangeDelete`] (key = start, value = end) goes to the range
    /// tombstones.
    pub fn insert(&self, key: &[u8], seq: u64, kind: EntryKind, value: &[u8]) {
        self.first_insert.get_or_init(Instant::now);
        if kind == EntryKind::RangeDelete {
            self.range_dels.insert(key, value, seq);
            self.size
                .fetch_add(MemRangeDels::charge(key, value), Ordering::Relaxed);
            return;
        }
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
        let mut writer = self.list.writer();
        if let Some(f) = &self.filter {
            f.insert(key_hash(key));
        }
        let charge = writer.insert(key, pack_tag(seq, kind), value);
        self.size.fetch_add(charge, Ordering::Relaxed);
    }

    /// The newest version of `key` with sequence number `<= seq`, tombstones included.
    /// `hash` is `key`'s [`key_hash`], computed once per lookup by the caller.
    pub fn get(&self, key: &[u8], hash: u64, seq: u64) -> Option<Found> {
        if self.list.len() == 0 || self.filter.as_ref().is_some_and(|f| !f.may_contain(hash)) {
            return None;
        }
        let node = self.list.seek_ge(key, seek_tag(seq))?;
        let e = MemEntry::from(self.list.entry(node));
        (e.key == key).then(|| Found {
            seq: e.seq,
            kind: e.kind,
            value: Bytes::copy_from_slice(e.value),
        })
    }

    /// The range tombstones, fragmented; `None` when there is none.
    pub fn range_tombstones(&self) -> Option<Arc<Fragments>> {
        self.range_dels.fragments()
    }

    /// The largest sequence number of any entry (range tombstones aside).
    pub fn max_seq(&self) -> u64 {
        self.max_seq.load(Ordering::Relaxed)
    }

    /// Bytes held by the entries (nodes with their keys and values).
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// True when the memtable holds neither entries nor range tombstones.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0 && self.range_dels.len() == 0
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Time since the first insert, `None` while empty.
    pub fn age(&self) -> Option<std::time::Duration> {
        self.first_insert.get().map(|t| t.elapsed())
    }

    /// Every entry in internal order.
    pub fn iter(&self) -> impl Iterator<Item = MemEntry<'_>> + '_ {
        self.list.iter().map(MemEntry::from)
    }
}

impl std::fmt::Debug for MemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemTable")
            .field("wal_number", &self.wal_number)
            .field("entries", &self.len())
            .field("size", &self.size())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_sees_newest_version_at_or_below_the_read_sequence() {
        // The same answers with and without the key filter.
        for m in [MemTable::new(7), MemTable::with_filter(7, 1 << 20)] {
            m.insert(b"k", 1, EntryKind::Put, b"v1");
            m.insert(b"k", 3, EntryKind::Tombstone, b"");
            m.insert(b"k", 5, EntryKind::Put, b"v5");
            m.insert(b"j", 2, EntryKind::Put, b"j2");
            m.insert(b"ka", 4, EntryKind::Put, b"ka4");
            let get = |k: &[u8], seq| m.get(k, key_hash(k), seq);
            assert_eq!(get(b"k", 0), None);
            assert_eq!(get(b"k", 1).unwrap().value, &b"v1"[..]);
            assert_eq!(get(b"k", 2).unwrap().value, &b"v1"[..]);
            assert_eq!(get(b"k", 3).unwrap().kind, EntryKind::Tombstone);
            assert_eq!(get(b"k", 4).unwrap().seq, 3);
            assert_eq!(get(b"k", u64::MAX >> 8).unwrap().value, &b"v5"[..]);
            assert_eq!(get(b"kb", 10), None);
            assert_eq!(get(b"", 10), None);
            assert_eq!(m.wal_number(), 7);
            assert!(m.size() > 0 && !m.is_empty() && m.age().is_some());
            assert_eq!(m.len(), 5);
        }
    }

    #[test]
    fn iterates_in_internal_order() {
        let m = MemTable::new(1);
        m.insert(b"b", 1, EntryKind::Put, b"b1");
        m.insert(b"a", 2, EntryKind::Put, b"a2");
        m.insert(b"b", 3, EntryKind::Tombstone, b"");
        m.insert(b"", 4, EntryKind::Put, b"empty");
        let all: Vec<_> = m.iter().map(|e| (e.key, e.seq, e.kind, e.value)).collect();
        assert_eq!(
            all,
            vec![
                (&b""[..], 4, EntryKind::Put, &b"empty"[..]),
                (b"a", 2, EntryKind::Put, b"a2"),
                (b"b", 3, EntryKind::Tombstone, b""),
                (b"b", 1, EntryKind::Put, b"b1"),
            ]
        );
    }

    #[test]
    fn charges_about_thirty_bytes_per_entry_beyond_key_and_value() {
        let m = MemTable::with_filter(1, 64 << 20);
        let n = 100_000u64;
        for i in 0..n {
            let key = format!("key{:013}", i * 7919 % n);
            m.insert(key.as_bytes(), i + 1, EntryKind::Put, &[7u8; 100]);
        }
        let overhead = m.size() as f64 / n as f64 - 116.0;
        assert!(
            (16.0..40.0).contains(&overhead),
            "{overhead} bytes per entry beyond key and value"
        );
    }

    /// The bank test on one memtable: the writer moves amounts between accounts as
    /// two-entry pairs and publishes each pair's last sequence number; readers sum
    /// every account at a published sequence number while the writer goes on, so
    /// any version read from beyond that number (or missed below it) shows up in the
    /// total. A search that re-read a link after deciding where to stop failed here.
    #[test]
    fn concurrent_reads_at_a_sequence_see_exactly_its_versions() {
        use std::sync::atomic::AtomicU64;
        use std::sync::Arc;
        const ACCOUNTS: u64 = 1000;
        const PAIRS: u64 = 100_000;
        let account = |i: u64| format!("account{i:06}");
        let m = Arc::new(MemTable::with_filter(1, 1 << 20));
        for i in 0..ACCOUNTS {
            m.insert(
                account(i).as_bytes(),
                i + 1,
                EntryKind::Put,
                &1000u64.to_le_bytes(),
            );
        }
        let published = Arc::new(AtomicU64::new(ACCOUNTS));
        let last = ACCOUNTS + 2 * PAIRS;
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (m, published) = (m.clone(), published.clone());
                std::thread::spawn(move || loop {
                    let seq = published.load(Ordering::Acquire);
                    let total: u64 = (0..ACCOUNTS)
                        .map(|i| {
                            let key = account(i);
                            let found = m.get(key.as_bytes(), key_hash(key.as_bytes()), seq);
                            let value = found.expect("every account exists").value;
                            u64::from_le_bytes(value[..8].try_into().expect("8 bytes"))
                        })
                        .sum();
                    assert_eq!(total, 1000 * ACCOUNTS, "total at seq {seq}");
                    if seq == last {
                        return;
                    }
                })
            })
            .collect();
        let mut balance = vec![1000u64; ACCOUNTS as usize];
        let mut rng = 7u64;
        for pair in 0..PAIRS {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
            let a = (rng >> 33) % ACCOUNTS;
            let b = (a + 1 + (rng >> 20) % (ACCOUNTS - 1)) % ACCOUNTS;
            let amount = ((rng >> 10) % 10).min(balance[a as usize]);
            balance[a as usize] -= amount;
            balance[b as usize] += amount;
            let seq = ACCOUNTS + 2 * pair + 1;
            let put = |i: u64, seq| {
                let value = balance[i as usize].to_le_bytes();
                m.insert(account(i).as_bytes(), seq, EntryKind::Put, &value);
            };
            put(a, seq);
            put(b, seq + 1);
            published.store(seq + 1, Ordering::Release);
        }
        for r in readers {
            r.join().expect("reader panicked");
        }
    }
}
