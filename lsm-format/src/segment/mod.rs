//! Segment files (SSTables): `docs/format.md` section 3.
//!
//! A segment is written once, in internal order, by a streaming [`SegmentWriter`] and
//! read by a [`SegmentReader`] over the whole file as [`Bytes`] (typically an mmap
//! wrapped with `Bytes::from_owner`), so values are returned without copying.
//! [`SegmentIter`] is the engine's cursor (seek, next, prev); [`SegmentEntries`] is
//! the same walk as a double-ended std iterator; [`SegmentReader::verify`] checks a
//! whole file and lists its [`Problem`]s.
//!
//! One file per concept: `block` (framing, checksum, LZ4), `block_entry`,
//! `block_builder` and `block_iter` (entries and restart array of data and index
//! blocks), `bloom`, `properties`, `footer`, then `writer`, `reader` and `open`
//! (checks made when a file is opened), `iter`, `entries` and `verify`.

use bytes::{Bytes, BytesMut};
use std::sync::Arc;

use crate::entry::EntryKind;

pub mod block;
pub mod block_builder;
pub mod block_entry;
pub mod block_iter;
pub mod bloom;
pub mod entries;
pub mod footer;
mod index_search;
pub mod iter;
mod open;
pub mod properties;
pub mod reader;
pub mod verify;
pub mod writer;

pub use entries::SegmentEntries;
pub use footer::{BlockHandle, Footer, FOOTER_LEN, SEGMENT_MAGIC};
pub use iter::SegmentIter;
pub use properties::Properties;
pub use reader::SegmentReader;
pub use verify::Problem;
pub use writer::{Finished, SegmentWriter};

/// Bytes of the trailer after every block's contents: compression, type, checksum.
pub const BLOCK_TRAILER_LEN: usize = 10;
/// Largest uncompressed block a reader accepts (1 GiB).
pub const MAX_BLOCK_LEN: usize = 1 << 30;

/// Compression of data blocks. Discriminants are written to disk and frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Compression {
    /// Blocks stored as they are.
    #[default]
    None = 0,
    /// LZ4 block format, preceded by the uncompressed length.
    Lz4 = 1,
}

impl Compression {
    /// Decodes an on-disk compression byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            _ => None,
        }
    }
}

/// Block types, written to disk in each block trailer and frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlockType {
    /// Entries.
    Data = 1,
    /// One entry per data block.
    Index = 2,
    /// Bloom filter.
    Filter = 3,
    /// Properties.
    Properties = 4,
}

/// How a [`SegmentWriter`] lays out the file.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Target uncompressed size of a data block in bytes: a block is cut as soon as
    /// its contents reach it. Default 4096; clamped to `1 ..= 512 MiB`.
    pub block_size: usize,
    /// Entries between restart points in data blocks. Default 16; 0 counts as 1.
    pub restart_interval: usize,
    /// Bloom filter bits per key; 0 writes no filter. Default 10.
    pub bloom_bits_per_key: u8,
    /// Compression of data blocks. Default none. A block that does not shrink by at
    /// least 1/8 (counting the 4-byte length) is stored uncompressed.
    pub compression: Compression,
    /// Text stored in the properties block naming the writer. Default
    /// `lsm-format <crate version>`.
    pub creator: String,
    /// Creation time stored in the properties block, milliseconds since the Unix
    /// epoch; `None` takes the current time. Tests fix it for golden bytes.
    pub created_unix_ms: Option<u64>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: Compression::None,
            creator: concat!("lsm-format ", env!("CARGO_PKG_VERSION")).to_string(),
            created_unix_ms: None,
        }
    }
}

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
/// [`ReadOptions::read_at`]) go through it; other uncompressed blocks are borrowed
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

/// Positional reads of the file a [`SegmentReader`] was opened on (`pread`).
pub trait ReadAt: Send + Sync {
    /// Fills `buf` with the file's bytes at `offset..offset + buf.len()`.
    ///
    /// # Errors
    /// Any I/O error, including `UnexpectedEof` when the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;

    /// Asked before each data block read: `true` sends it to the bytes the reader
    /// was opened on instead (as if [`ReadOptions::read_at`] were unset), so that the
    /// owner can switch a file between the two, for instance under a memory budget.
    /// The default is `false`.
    fn read_from_bytes(&self) -> bool {
        false
    }
}

/// How a [`SegmentReader`] reads.
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// Id used in [`BlockCacheKey`]s (the file number).
    pub segment_id: u64,
    /// Cache for decompressed data blocks.
    pub cache: Option<Arc<dyn BlockCache>>,
    /// A file name used in error messages (offsets are always given).
    pub file_name: Option<String>,
    /// When set, data blocks are read with it, one positional read per block, instead
    /// of from the bytes the reader was opened on (unless
    /// [`ReadAt::read_from_bytes`] says otherwise), and every block read this way
    /// enters the cache (compressed or not). The bytes still serve the footer,
    /// index, filter and properties. For memory-mapped files: a block read through a
    /// mapping leaves its pages in the process's resident set, one read into a
    /// buffer does not.
    pub read_at: Option<Arc<dyn ReadAt>>,
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("segment_id", &self.segment_id)
            .field("cache", &self.cache.is_some())
            .field("file_name", &self.file_name)
            .field("read_at", &self.read_at.is_some())
            .finish()
    }
}

/// One entry as returned by lookups and iteration. The value shares the file's
/// bytes (or a decompressed block) instead of copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// User key.
    pub key: Bytes,
    /// Sequence number.
    pub seq: u64,
    /// Put or tombstone.
    pub kind: EntryKind,
    /// Value; empty for tombstones.
    pub value: Bytes,
}

/// One entry of the index block: a data block and the last entry it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// User key of the last entry of the block.
    pub last_key: Bytes,
    /// Sequence number of the last entry of the block.
    pub last_seq: u64,
    /// Where the data block is.
    pub handle: BlockHandle,
}

/// A region of a segment file, for layout dumps and verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// What the region holds: `data`, `index`, `filter`, `properties` or `footer`.
    pub kind: &'static str,
    /// Offset of the first byte.
    pub offset: u64,
    /// Length in bytes, trailer included for blocks.
    pub len: u64,
}
