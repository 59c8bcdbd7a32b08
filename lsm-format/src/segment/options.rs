//! How segments are written and read: [`WriterOptions`] and [`ReadOptions`].
//!
//! Nothing here is on disk except what the writer records in the properties block
//! (`docs/format.md` section 3.5: block size, restart interval, compression, creator,
//! creation time) and the filter's bits per key (section 3.4).

use crate::segment::Compression;

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
    /// The keyspace the segment belongs to, stored in its properties block
    /// ([`crate::keyspace`]). Default 0, the default keyspace.
    pub keyspace: crate::keyspace::KeyspaceId,
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
            keyspace: crate::keyspace::DEFAULT_KEYSPACE,
        }
    }
}

/// How a [`SegmentReader`](crate::segment::SegmentReader) names its blocks and its
/// errors. Where data blocks come from, and what is cached, is its
/// [`BlockSource`](crate::segment::BlockSource)'s business.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Id used in [`BlockCacheKey`](crate::segment::BlockCacheKey)s (the file number).
    pub segment_id: u64,
    /// A file name used in error messages (offsets are always given).
    pub file_name: Option<String>,
}
