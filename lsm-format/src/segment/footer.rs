//! The fixed-size footer: `docs/format.md` section 3.6.

/// Length of the footer in bytes.
pub const FOOTER_LEN: usize = 56;
/// The magic number at the end of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"LSMSEG01";

/// Where a block is: offset of its first byte and length of its contents (without
/// the trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockHandle {
    /// Offset of the block's first byte in the file.
    pub offset: u64,
    /// Length of the block's contents, trailer excluded.
    pub len: u32,
}

/// The decoded footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: BlockHandle,
    /// The filter block.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
    /// Format version of the file.
    pub format_version: u32,
    /// The stored footer checksum.
    pub checksum: u64,
}
