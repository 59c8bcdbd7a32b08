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
//! tags 5 and 6 are keyspace 0's), 13 keyspace_log_number.
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

pub use edit::{DeletedSegment, VersionEdit};
pub use state::{KeyspaceMeta, ManifestState};
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
}
