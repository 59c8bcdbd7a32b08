//! Version edits as stored in manifest records: `docs/format.md` section 6.

use bytes::Bytes;

use crate::error::Result;

/// Number of levels the format allows.
pub const MAX_LEVELS: usize = 16;

/// A segment added to a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
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

/// A change to the live state, as one manifest record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionEdit {
    /// Present in the first record of a manifest.
    pub format_version: Option<u32>,
    /// WAL files numbered below this are obsolete.
    pub log_number: Option<u64>,
    /// Next file number to allocate.
    pub next_file_number: Option<u64>,
    /// Last sequence number used.
    pub last_sequence: Option<u64>,
    /// Segments removed: (level, file number).
    pub deleted_segments: Vec<(u32, u64)>,
    /// Segments added: (level, metadata).
    pub added_segments: Vec<(u32, SegmentMeta)>,
}

impl VersionEdit {
    /// Appends the encoding of this edit to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }

    /// Decodes an edit whose first byte is at file offset `offset` (for errors).
    ///
    /// # Errors
    /// `Corruption` for an unknown tag, a level `>= MAX_LEVELS`, truncated fields or
    /// lengths over the limits.
    pub fn decode(payload: &[u8], offset: u64) -> Result<Self> {
        let _ = (payload, offset);
        todo!()
    }
}
