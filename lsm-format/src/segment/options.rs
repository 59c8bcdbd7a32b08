//! How segments are written and read: [`WriterOptions`] and [`ReadOptions`].
//!
//! Nothing here is on disk except what the writer records in the properties block
//! (`docs/format.md` section 3.5: block size, restart interval, compression, creator,
//! creation time) and the filter's bits per key (section 3.4).

use std::sync::Arc;

use crate::segment::{BlockCache, Compression, ReadAt};

/// How a [`SegmentWriter`](crate::segment::SegmentWriter) lays out the file.
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

/// How a [`SegmentReader`](crate::segment::SegmentReader) reads.
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// Id used in [`BlockCacheKey`](crate::segment::BlockCacheKey)s (the file number).
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
