//! On-disk encodings of the `lsm` key-value store.
//!
//! Every byte the engine writes to disk is produced and parsed here, exactly as
//! `docs/format.md` specifies:
//!
//! - [`segment`]: immutable sorted files ([`SegmentWriter`], [`SegmentReader`],
//!   [`SegmentIter`]) made of checksummed, prefix-compressed blocks with an index, a
//!   Bloom filter, a properties block and a fixed-size footer. A reader answers a
//!   point lookup with one call ([`SegmentReader::lookup`] of a [`Probe`]), and takes
//!   the blocks it cannot use in place through the caller's [`BlockSource`], which
//!   decides what is cached.
//! - [`log`]: the record framing shared by the write-ahead log and the manifest, able
//!   to tell a torn tail from corruption.
//! - [`wal`]: the write-ahead log: its header record and write batches, and replay.
//! - [`manifest`]: version edits, the changes to the set of live segments and
//!   keyspaces.
//! - [`blob`]: blob files ([`BlobWriter`], [`BlobReader`]), which hold large values
//!   out of the segments, and the [`BlobPointer`] a segment stores in their place.
//! - [`keyspace`]: keyspace ids and names, which WAL ops, manifest records and
//!   segments carry.
//!
//! Decoding never panics and never allocates based on an unchecked length: bad bytes
//! become [`Error::Corruption`] naming the offset and what is wrong.
//!
//! ```
//! use lsm_format::{EntryKind, SegmentReader, SegmentWriter, WriterOptions};
//!
//! let mut writer = SegmentWriter::new(Vec::new(), WriterOptions::default());
//! writer.add(b"apple", 2, EntryKind::Put, b"red").unwrap();
//! writer.add(b"pear", 1, EntryKind::Tombstone, b"").unwrap();
//! let bytes = writer.finish().unwrap().into_inner();
//!
//! let reader = SegmentReader::open(bytes.into(), Default::default()).unwrap();
//! let found = reader.get(b"apple", u64::MAX >> 8).unwrap().unwrap();
//! assert_eq!(&found.value[..], b"red");
//! assert_eq!(reader.properties().entry_count, 2);
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)
)]
#![warn(missing_docs)]

pub mod blob;
pub mod checksum;
pub mod coding;
pub mod entry;
pub mod error;
pub mod file_name;
#[doc(hidden)]
pub mod fuzzing;
pub mod keyspace;
pub mod log;
pub mod manifest;
pub mod range_del;
pub mod segment;
pub mod wal;

pub use blob::{BlobPointer, BlobReader, BlobWriter};
pub use entry::{EntryKind, MAX_KEY_LEN, MAX_SEQUENCE, MAX_VALUE_LEN};
pub use error::{Error, Result};
pub use segment::{
    BlockCacheKey, BlockRead, BlockSource, Compression, Entry, Footer, IndexEntry, NoCache, Probe,
    Properties, ReadAt, ReadOptions, Region, SegmentIter, SegmentReader, SegmentWriter,
    WriterOptions,
};

/// Format version of the manifest (`docs/format.md` section 6): the one this crate
/// writes. 2 added tag 7 (`obsolete_segment`); 3 added keyspaces (tags 8 to 13).
/// Segments carry their own version, [`SEGMENT_FORMAT_VERSION`].
pub const FORMAT_VERSION: u32 = 4;

/// Oldest manifest format version the reader reads: 1 (no tag 7). Every version from
/// this one to [`FORMAT_VERSION`] is read.
pub const MIN_FORMAT_VERSION: u32 = 1;

/// Segment format version the writer writes (`docs/format.md` section 3.6): 7, which
/// added zstd data blocks (compression 2) to version 6 (which added blob pointer
/// entries, kind 4, to version 5, which added the keyspace id to
/// the properties of version 4, which added the range-tombstone block and expiring
/// puts to version 3, the cache-line-blocked Bloom filter with multiplicative
/// probes)).
pub const SEGMENT_FORMAT_VERSION: u32 = 7;

/// Oldest segment format version the reader reads: 1 (global Bloom filter). Every
/// version from this one to [`SEGMENT_FORMAT_VERSION`] is read.
pub const MIN_SEGMENT_FORMAT_VERSION: u32 = 1;

/// Format version of blob files (`docs/format.md` section 8): the one this crate
/// writes and the only one it reads. Blob files carry it in their header; the
/// pointers into them carry a version of their own
/// ([`blob::BLOB_POINTER_VERSION`]).
pub const BLOB_FORMAT_VERSION: u32 = 1;
