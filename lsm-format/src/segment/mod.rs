//! Segment files (SSTables): `docs/format.md` section 3.
//!
//! A segment is written once, in internal order, by a streaming [`SegmentWriter`] and
//! read by a [`SegmentReader`] over the whole file as [`Bytes`](bytes::Bytes)
//! (typically an mmap wrapped with `Bytes::from_owner`), so values are returned
//! without copying. [`SegmentIter`] is the engine's cursor (seek, next, prev);
//! [`SegmentEntries`] is the same walk as a double-ended std iterator;
//! [`SegmentReader::verify`] checks a whole file and lists its [`Problem`]s.
//!
//! One file per concept: `block` (framing, checksum, LZ4, the trailer's compression
//! and block type bytes), `zstd_block` (zstd contents), `block_entry`, `block_builder` and `block_iter` (entries and
//! restart array of data and index blocks), `bloom`, `properties`, `range_del_block`
//! (the range tombstones of a format-4 file), `footer`, then
//! `options` (writer and reader options), `source` and `read_at` (where a reader's
//! data blocks come from, and which are cached: the caller's [`BlockSource`]),
//! `writer`, `reader` and `open` (checks made when a file is opened), `index_search`,
//! `lookup` (the point lookup: [`Probe`] in, [`Lookup`] out), `entry` and `layout`
//! (what readers hand out), `iter`, `entries` and `verify`. This module only declares
//! them, states the constants and re-exports.

pub mod block;
pub mod block_builder;
pub mod block_entry;
pub mod block_iter;
pub mod bloom;
pub mod entries;
mod entry;
pub mod footer;
mod index_search;
pub mod iter;
mod layout;
mod lookup;
mod open;
mod options;
pub mod properties;
pub mod range_del_block;
mod read_at;
pub mod reader;
mod source;
pub mod verify;
pub mod writer;
pub mod zstd_block;

pub use block::{BlockType, Compression};
pub use entries::SegmentEntries;
pub use entry::Entry;
pub use footer::{BlockHandle, Footer, FOOTER_LEN, SEGMENT_MAGIC};
pub use iter::SegmentIter;
pub use layout::{IndexEntry, Region};
pub use lookup::{FilterAnswer, Found, Lookup, Probe, SearchedBlock};
pub use options::{ReadOptions, WriterOptions};
pub use properties::Properties;
pub use read_at::ReadAt;
pub use reader::SegmentReader;
pub use source::{BlockCacheKey, BlockRead, BlockSource, NoCache};
pub use verify::Problem;
pub use writer::{Finished, SegmentWriter};

/// Bytes of the trailer after every block's contents: compression, type, checksum.
pub const BLOCK_TRAILER_LEN: usize = 10;
/// Largest uncompressed block a reader accepts (1 GiB).
pub const MAX_BLOCK_LEN: usize = 1 << 30;

/// First segment format version with a range-tombstone block and expiring puts
/// (`docs/format.md` sections 3.8 and 3.2).
pub const RANGE_DEL_FORMAT_VERSION: u32 = 4;

/// First segment format version whose properties record the keyspace the segment
/// belongs to (`docs/format.md` section 3.5); older segments belong to keyspace 0.
pub const KEYSPACE_FORMAT_VERSION: u32 = 5;

/// First segment format version whose data blocks may hold blob pointer entries
/// ([`EntryKind::BlobPointer`](crate::EntryKind::BlobPointer), kind 4,
/// `docs/format.md` section 3.2).
pub const BLOB_POINTER_FORMAT_VERSION: u32 = 6;

/// First segment format version whose data blocks may be compressed with zstd
/// ([`Compression::Zstd`], compression 2, `docs/format.md` section 3.1).
pub const ZSTD_FORMAT_VERSION: u32 = 7;
