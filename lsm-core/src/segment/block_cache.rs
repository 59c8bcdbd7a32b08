//! A sharded LRU cache of decompressed data blocks, bounded by bytes.
//!
//! Only blocks that cost work to rebuild go through it (`lsm-format` borrows
//! uncompressed blocks straight from the mapped file); which of those it keeps is
//! decided by each segment's block source (`SegmentBlocks` in `segment_file.rs`).
//! Keys spread over
//! [`SHARDS`] independently locked shards so concurrent readers rarely contend; each
//! shard is a classic LRU: a hash map into a slab of nodes linked most-recent first.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use lsm_format::BlockCacheKey;
use parking_lot::Mutex;

use crate::prefetch::prefetch;

const SHARDS: usize = 16;
/// Bytes charged per cached block on top of its contents (node, map slot).
const NODE_OVERHEAD: usize = 64;
const NIL: usize = usize::MAX;
/// Evicted block buffers each shard keeps for reuse (see [`LruBlockCache::recycled_buffer`]).
const SPARE_BUFFERS: usize = 8;
/// Buffers larger than this are freed, not kept: a rare huge block must not pin
/// its allocation.
const MAX_SPARE_BUFFER: usize = 64 << 10;

/// A multiplicative hash for block keys (two integers chosen by the engine, not by
/// an adversary): far cheaper than the default SipHash on the read path.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type KeyMap = HashMap<BlockCacheKey, usize, BuildHasherDefault<KeyHasher>>;

fn hash(key: &BlockCacheKey) -> u64 {
    let mut h = KeyHasher::default();
    h.write_u64(key.segment_id);
    h.write_u64(key.offset);
    h.finish()
}

struct Node {
    key: BlockCacheKey,
    value: Bytes,
    prev: usize,
    next: usize,
}

#[derive(Default)]
struct Shard {
    map: KeyMap,
    nodes: Vec<Node>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    used: usize,
    capacity: usize,
    /// Allocations of evicted blocks no reader held any more, for reuse.
    spare: Vec<BytesMut>,
}

impl Shard {
    fn new(capacity: usize) -> Self {
        Shard {
            head: NIL,
            tail: NIL,
            capacity,
            ..Default::default()
        }
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "the shard's indices (`head`, `tail`, links, map values) all point into `nodes`, which never shrinks"
    )]
    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "the shard's indices (`head`, `tail`, links, map values) all point into `nodes`, which never shrinks"
    )]
    fn push_front(&mut self, i: usize) {
        self.nodes[i].prev = NIL;
        self.nodes[i].next = self.head;
        if self.head != NIL {
            self.nodes[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "the shard's indices (`head`, `tail`, links, map values) all point into `nodes`, which never shrinks"
    )]
    fn get(&mut self, key: &BlockCacheKey) -> Option<Bytes> {
        let i = *self.map.get(key)?;
        self.unlink(i);
        self.push_front(i);
        Some(self.nodes[i].value.clone())
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "the shard's indices (`head`, `tail`, links, map values) all point into `nodes`, which never shrinks"
    )]
    fn insert(&mut self, key: BlockCacheKey, value: Bytes) {
        let charge = value.len() + NODE_OVERHEAD;
        if charge > self.capacity {
            return;
        }
        if let Some(&i) = self.map.get(&key) {
            self.used = self.used - (self.nodes[i].value.len() + NODE_OVERHEAD) + charge;
            self.nodes[i].value = value;
            self.unlink(i);
            self.push_front(i);
        } else {
            let node = Node {
                key,
                value,
                prev: NIL,
                next: NIL,
            };
            let i = match self.free.pop() {
                Some(i) => {
                    self.nodes[i] = node;
                    i
                }
                None => {
                    self.nodes.push(node);
                    self.nodes.len() - 1
                }
            };
            self.map.insert(key, i);
            self.push_front(i);
            self.used += charge;
        }
        while self.used > self.capacity && self.tail != NIL {
            let victim = self.tail;
            self.unlink(victim);
            let old = std::mem::take(&mut self.nodes[victim].value);
            self.used -= old.len() + NODE_OVERHEAD;
            self.map.remove(&self.nodes[victim].key);
            self.free.push(victim);
            self.recycle(old);
        }
    }

    /// Keeps the allocation of an evicted block when nobody else holds it.
    fn recycle(&mut self, block: Bytes) {
        if self.spare.len() >= SPARE_BUFFERS || block.len() > MAX_SPARE_BUFFER {
            return;
        }
        // Not `Vec::from`: that copies the block onto itself (4 KiB of cold memory
        // per eviction, 4 % of a 10 M-key readrandom profile).
        if let Ok(unique) = block.try_into_mut() {
            if unique.capacity() <= MAX_SPARE_BUFFER {
                self.spare.push(unique);
            }
        }
    }
}

/// The engine's block cache, shared by every open segment.
pub(crate) struct LruBlockCache {
    shards: Vec<Mutex<Shard>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl LruBlockCache {
    /// A cache holding at most about `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        LruBlockCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard::new(per_shard)))
                .collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "an index modulo `SHARDS`, the number of shards `new` creates"
    )]
    fn shard(&self, key: &BlockCacheKey) -> &Mutex<Shard> {
        // Middle bits: the map inside the shard uses the lowest and the highest.
        &self.shards[(hash(key) >> 32) as usize % SHARDS]
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Bytes currently charged.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.shards.iter().map(|s| s.lock().used).sum()
    }
}

impl LruBlockCache {
    /// The cached contents of a block, if present; counts a hit or a miss.
    pub fn get(&self, key: &BlockCacheKey) -> Option<Bytes> {
        let found = self.shard(key).lock().get(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores the contents of a block, evicting the least recently used of its shard.
    pub fn insert(&self, key: BlockCacheKey, block: Bytes) {
        self.shard(&key).lock().insert(key, block);
    }

    /// A buffer to build block `key` into: the allocation of a block this shard
    /// evicted when it has one (see [`lsm_format::BlockSource::buffer`]), else a new
    /// one.
    pub fn recycled_buffer(&self, key: &BlockCacheKey) -> BytesMut {
        let buf = self.shard(key).lock().spare.pop().unwrap_or_default();
        // The buffer was evicted as the least recently used block, so none of it is
        // in the CPU's caches, and the block about to be decompressed into it would
        // take a miss on every 64-byte line it writes (with LZ4's short copies, one
        // after another). Asking for all of its lines now lets them arrive during the
        // read of the compressed block: 1.12-1.21x the 10 M-key readrandom rate
        // (docs/perf-log.md).
        let start = buf.as_ptr();
        for at in (0..buf.capacity()).step_by(64) {
            prefetch(start.wrapping_add(at));
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(segment_id: u64, offset: u64) -> BlockCacheKey {
        BlockCacheKey { segment_id, offset }
    }

    #[test]
    fn evicts_least_recently_used_first() {
        let mut s = Shard::new(3 * (100 + NODE_OVERHEAD));
        for i in 0..3 {
            s.insert(key(1, i), Bytes::from(vec![0u8; 100]));
        }
        assert!(s.get(&key(1, 0)).is_some()); // 0 is now the most recent
        s.insert(key(1, 3), Bytes::from(vec![0u8; 100]));
        assert!(s.get(&key(1, 1)).is_none(), "1 was least recent");
        assert!(s.get(&key(1, 0)).is_some());
        assert!(s.get(&key(1, 2)).is_some());
        assert!(s.get(&key(1, 3)).is_some());
        assert_eq!(s.used, 3 * (100 + NODE_OVERHEAD));
        // Replacing a value keeps the accounting exact.
        s.insert(key(1, 3), Bytes::from(vec![0u8; 50]));
        assert_eq!(s.used, 2 * (100 + NODE_OVERHEAD) + 50 + NODE_OVERHEAD);
        // Too large to ever fit: ignored.
        s.insert(key(9, 9), Bytes::from(vec![0u8; 10_000]));
        assert!(s.get(&key(9, 9)).is_none());
    }

    #[test]
    fn evicted_blocks_nobody_holds_are_recycled() {
        let mut s = Shard::new(2 * (100 + NODE_OVERHEAD));
        let held = Bytes::from(vec![7u8; 100]);
        s.insert(key(1, 0), held.clone());
        let unheld = Bytes::from(vec![8u8; 100]);
        let unheld_at = unheld.as_ptr();
        s.insert(key(1, 1), unheld);
        s.insert(key(1, 2), Bytes::from(vec![9u8; 100])); // evicts 0, still held
        assert!(s.spare.is_empty(), "a block a reader holds is not reused");
        assert_eq!(&held[..], &[7u8; 100][..]);
        s.insert(key(1, 3), Bytes::from(vec![1u8; 100])); // evicts 1, unheld
        assert_eq!(s.spare.len(), 1);
        assert_eq!(&s.spare[0][..], &[8u8; 100][..]);
        assert_eq!(
            s.spare[0].as_ptr(),
            unheld_at,
            "the allocation comes back, uncopied"
        );
        for i in 4..40 {
            s.insert(key(1, i), Bytes::from(vec![2u8; 100]));
        }
        assert_eq!(s.spare.len(), SPARE_BUFFERS, "bounded");
        // Huge blocks are not kept.
        let mut big = Shard::new(MAX_SPARE_BUFFER * 3);
        big.insert(key(2, 0), Bytes::from(vec![0u8; MAX_SPARE_BUFFER + 1]));
        big.insert(key(2, 1), Bytes::from(vec![0u8; MAX_SPARE_BUFFER + 1]));
        big.insert(key(2, 2), Bytes::from(vec![0u8; MAX_SPARE_BUFFER + 1]));
        assert!(big.spare.is_empty());
    }

    #[test]
    fn stays_within_capacity_and_counts_hits() {
        let cache = LruBlockCache::new(64 << 10);
        for i in 0..1000 {
            cache.insert(key(i % 7, i), Bytes::from(vec![1u8; 1000]));
            assert!(cache.used() <= (64 << 10) + SHARDS * 1100);
        }
        assert!(cache.get(&key(999 % 7, 999)).is_some());
        assert!(cache.get(&key(0, 0)).is_none());
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
    }
}
