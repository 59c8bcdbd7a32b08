//! Descriptions of a segment's structure for dumps and verification: [`IndexEntry`]
//! (one entry of the index block, `docs/format.md` section 3.3) and [`Region`] (one
//! part of the file in the grammar of section 3).

use bytes::Bytes;

use crate::segment::BlockHandle;

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
