//! Engine internals exposed to the criterion benchmarks in `lsm-core/benches/`, which
//! can only reach public items. Not a stable API.

use crate::memtable::MemTable;
use lsm_format::segment::bloom::key_hash;
use lsm_format::EntryKind;

/// A memtable as the engine makes it: with its key filter, sized for `capacity`
/// bytes of entries.
pub struct BenchMemTable(MemTable);

impl BenchMemTable {
    /// An empty memtable sized like a live one of `capacity` bytes (arena blocks and
    /// filter).
    pub fn new(capacity: usize) -> Self {
        BenchMemTable(MemTable::with_filter(1, capacity))
    }

    /// Inserts a put of `key` at sequence number `seq` (callers use each
    /// `(key, seq)` once).
    pub fn put(&self, key: &[u8], seq: u64, value: &[u8]) {
        self.0.insert(key, seq, EntryKind::Put, value);
    }

    /// The length of the newest value of `key` visible at `seq`, `None` if there is
    /// none (or the newest version is a tombstone).
    pub fn get_len(&self, key: &[u8], seq: u64) -> Option<usize> {
        let found = self.0.get(key, key_hash(key), seq)?;
        (found.kind == EntryKind::Put).then_some(found.value.len())
    }
}
