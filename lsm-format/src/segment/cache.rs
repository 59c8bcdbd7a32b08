//! The block cache interface: [`BlockCache`], shared by segment readers and keyed by
//! [`BlockCacheKey`]. The cache holds uncompressed data block contents
//! (`docs/format.md` section 3.2), never framing; what fills it is the reader's
//! caller's choice.

use bytes::{Bytes, BytesMut};

/// Identifies a cached block: the segment's file number and the block's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockCacheKey {
    /// File number of the segment (or any id unique among open segments).
    pub segment_id: u64,
    /// Offset of the block in the file.
    pub offset: u64,
}

/// A cache of decompressed data blocks, shared between segment readers. Only blocks
/// that cost work to rebuild (decompression, or a positional read with
/// [`ReadOptions::read_at`](crate::segment::ReadOptions::read_at)) go through it; other uncompressed blocks are borrowed
/// from the file bytes directly.
pub trait BlockCache: Send + Sync {
    /// The cached contents of a block, if present.
    fn get(&self, key: &BlockCacheKey) -> Option<Bytes>;
    /// Stores the contents of a block.
    fn insert(&self, key: BlockCacheKey, block: Bytes);
    /// A buffer to decompress the block `key` into, after [`get`](Self::get) missed
    /// it: a cache may hand back the allocation of a block it evicted
    /// (`Bytes::try_into_mut` gets it back without a copy), sparing the read path an
    /// allocation, a free and the zeroing of a fresh buffer. The default is a new,
    /// empty buffer.
    fn recycled_buffer(&self, key: &BlockCacheKey) -> BytesMut {
        let _ = key;
        BytesMut::new()
    }
}
