//! The properties block: `docs/format.md` section 3.5.

use bytes::Bytes;

/// Facts about a segment, stored in its properties block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// Format version that wrote the file.
    pub format_version: u32,
    /// Number of entries (puts and tombstones).
    pub entry_count: u64,
    /// Number of tombstones.
    pub tombstone_count: u64,
    /// Smallest sequence number in the file (0 when empty).
    pub smallest_seq: u64,
    /// Largest sequence number in the file (0 when empty).
    pub largest_seq: u64,
    /// Bytes of all data blocks on disk, trailers included.
    pub data_size: u64,
    /// Number of data blocks.
    pub data_block_count: u64,
    /// Sum of key lengths.
    pub raw_key_size: u64,
    /// Sum of value lengths.
    pub raw_value_size: u64,
    /// When the file was written, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Compression the writer used for data blocks (on-disk byte).
    pub compression: u8,
    /// Bloom filter bits per key the writer used.
    pub bloom_bits_per_key: u8,
    /// First user key (empty when the file is empty).
    pub smallest_key: Bytes,
    /// Last user key (empty when the file is empty).
    pub largest_key: Bytes,
    /// Who wrote the file.
    pub creator: String,
}
