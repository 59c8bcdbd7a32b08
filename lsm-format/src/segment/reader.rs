//! The segment reader: `docs/format.md` section 3.

use bytes::Bytes;

use crate::error::Result;
use crate::segment::{Entry, Footer, IndexEntry, Properties, ReadOptions, Region, SegmentIter};

/// Reads a segment from its complete bytes. Cheap to clone (shared state); `Send` and
/// `Sync`.
///
/// `open` checks the footer, and the checksums of the index, filter and properties
/// blocks, and keeps them parsed. Data blocks are checksummed every time they are read
/// from the file bytes (decompressed blocks are checked before they enter the cache).
#[derive(Clone)]
pub struct SegmentReader {
    _data: Bytes,
}

impl SegmentReader {
    /// Opens a segment over its complete bytes.
    ///
    /// # Errors
    /// `Truncated`, `BadMagic`, `UnsupportedVersion` or `Corruption` when the footer
    /// or a metadata block is damaged.
    pub fn open(data: Bytes, options: ReadOptions) -> Result<Self> {
        let _ = (data, options);
        todo!()
    }

    /// The whole file.
    pub fn data(&self) -> &Bytes {
        todo!()
    }

    /// The decoded footer.
    pub fn footer(&self) -> &Footer {
        todo!()
    }

    /// The decoded properties block.
    pub fn properties(&self) -> &Properties {
        todo!()
    }

    /// False when the Bloom filter proves that `key` is not in the file.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let _ = key;
        todo!()
    }

    /// The newest entry for `key` whose sequence number is `<= seq`, tombstones
    /// included, or `None`. Consults the Bloom filter first.
    pub fn get(&self, key: &[u8], seq: u64) -> Result<Option<Entry>> {
        let _ = (key, seq);
        todo!()
    }

    /// Like [`get`](Self::get) without consulting the Bloom filter (the caller did).
    pub fn get_unfiltered(&self, key: &[u8], seq: u64) -> Result<Option<Entry>> {
        let _ = (key, seq);
        todo!()
    }

    /// A cursor over all entries, positioned nowhere until a seek.
    pub fn iter(&self) -> SegmentIter {
        todo!()
    }

    /// All entries of the index block, in order.
    pub fn index_entries(&self) -> Result<Vec<IndexEntry>> {
        todo!()
    }

    /// Every region of the file in offset order: each data block, the filter, the
    /// properties, the index and the footer.
    pub fn layout(&self) -> Result<Vec<Region>> {
        todo!()
    }
}

impl std::fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader").finish_non_exhaustive()
    }
}
