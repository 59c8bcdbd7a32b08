//! Version edits as stored in manifest records: `docs/format.md` section 6.
//!
//! ```text
//! edit  := field*
//! field := tag:varint32 data
//! ```
//!
//! Tags (frozen; a retired tag stays reserved): 1 format_version, 2 log_number,
//! 3 next_file_number, 4 last_sequence, 5 delete_segment, 6 add_segment,
//! 7 obsolete_segment (format version 2), and from format version 3 the keyspace
//! records: 8 add_keyspace, 9 drop_keyspace, 10 next_keyspace_id,
//! 11 delete_segment_in, 12 add_segment_in (segments of a keyspace other than 0;
//! tags 5 and 6 are keyspace 0's), 13 keyspace_log_number; from format version 4
//! the blob file records: 14 add_blob_file, 15 delete_blob_file, 16
//! segment_blob_refs (the blob files an added segment points into).
//!
//! [`replay_manifest`] applies every edit of a manifest file to a [`ManifestState`],
//! with the manifest's rule for damage: damage with no valid record after it is a
//! torn tail (safe thanks to the commit rule: an edit is followed by an empty commit
//! marker before any file it obsoletes is deleted); damage followed by a valid record
//! is corruption.
//!
//! Layout: the edit and its encoding (`edit.rs`), the state edits build and the rules
//! they must follow (`state.rs`), and walking a whole file (`walk.rs`): leniently,
//! collecting every rule violation (what the tools show), or strictly, stopping at the
//! first (what the engine opens with).

mod edit;
mod state;
mod walk;

use bytes::Bytes;

pub use edit::{DeletedSegment, VersionEdit, MAX_BLOB_REFS};
pub use state::{BlobUse, KeyspaceMeta, ManifestState};
pub use walk::{replay_manifest, walk_manifest, ManifestWalk, WalkDamage, WalkedRecord};

/// Number of levels the format allows.
pub const MAX_LEVELS: usize = 16;

/// A segment added to a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    /// The keyspace the segment belongs to (tag 6 for keyspace 0, tag 12 for the
    /// others).
    pub keyspace: crate::keyspace::KeyspaceId,
    /// File number: the file is `NNNNNN.seg`.
    pub file_number: u64,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// First user key.
    pub smallest_key: Bytes,
    /// Last user key.
    pub largest_key: Bytes,
    /// Smallest sequence number.
    pub smallest_seq: u64,
    /// Largest sequence number.
    pub largest_seq: u64,
    /// Entries in the file.
    pub entry_count: u64,
    /// Tombstones in the file.
    pub tombstone_count: u64,
    /// The blob files the segment's blob pointer entries point into, by file
    /// number ascending, each once (tag 16; empty for a segment without pointers).
    pub blob_refs: Vec<BlobRef>,
}

/// One blob file a segment points into, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobRef {
    /// The blob file's number: the file is `NNNNNN.blob`.
    pub blob_file: u64,
    /// Sum of the value lengths (uncompressed) of the segment's pointers into it.
    pub value_bytes: u64,
}

/// A blob file added to a keyspace (tag 14, format 4): `docs/format.md` section 8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobFileMeta {
    /// The keyspace whose values it holds.
    pub keyspace: crate::keyspace::KeyspaceId,
    /// File number: the file is `NNNNNN.blob`.
    pub file_number: u64,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Records in the file.
    pub record_count: u64,
    /// Sum of the value lengths (uncompressed) of its records.
    pub value_bytes: u64,
}
