//! The segment reader: `docs/format.md` section 3.
//!
//! `open` reads the footer, checks the filter, properties and index blocks once and
//! keeps them decoded: the index as a sorted array of (last key, tag, handle), with
//! its keys sharing one buffer. Data blocks come from the file bytes, checksummed the
//! first time; uncompressed ones are then used in place (zero copy), LZ4 ones are
//! decompressed and may be kept in the [`BlockCache`]. With
//! [`ReadOptions::read_at`] they come from positional reads instead, checksummed every
//! time, and go through the cache whether compressed or not.
//!
//! What `open` checks is in the `open` module; `index_entries` and `layout`, which
//! describe the file for dumps, are in the `describe` child module.

use std::ops::Range;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::entry::EntryKind;
use crate::error::{Error, Result};
use crate::segment::block::{
    block_range, check_block, decompress_lz4, decompress_lz4_into, read_raw,
};
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::bloom::BloomFilter;
use crate::segment::entries::SegmentEntries;
use crate::segment::index_search::IndexSlot;
use crate::segment::open::{self, Inner};
use crate::segment::{
    BlockCache, BlockCacheKey, BlockHandle, BlockType, Compression, Entry, Footer, Properties,
    ReadAt, ReadOptions, SegmentIter,
};

thread_local! {
    /// Key buffer reused by point lookups on this thread.
    static KEY_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Reads a segment from its complete bytes. Cheap to clone (shared state); `Send` and
/// `Sync`.
///
/// `open` checks the footer, and the checksums of the index, filter and properties
/// blocks, and keeps them parsed. Data blocks are checksummed before they are first
/// used (see the module documentation).
#[derive(Clone)]
pub struct SegmentReader {
    inner: Arc<Inner>,
}

impl SegmentReader {
    /// Opens a segment over its complete bytes.
    ///
    /// # Errors
    /// `Truncated`, `BadMagic`, `UnsupportedVersion` or `Corruption` when the footer
    /// or a metadata block is damaged, or the blocks are not laid out as section 3
    /// says (contiguous, in the grammar's order).
    pub fn open(data: Bytes, options: ReadOptions) -> Result<Self> {
        match open::open(data, &options) {
            Ok(inner) => Ok(SegmentReader {
                inner: Arc::new(inner),
            }),
            Err(e) => Err(name_file(e, options.file_name.as_deref())),
        }
    }

    /// The whole file.
    pub fn data(&self) -> &Bytes {
        &self.inner.data
    }

    /// The decoded footer.
    pub fn footer(&self) -> &Footer {
        &self.inner.footer
    }

    /// The decoded properties block.
    pub fn properties(&self) -> &Properties {
        &self.inner.properties
    }

    /// The options this reader was opened with.
    pub fn options(&self) -> &ReadOptions {
        &self.inner.options
    }

    /// False when the Bloom filter proves that `key` is not in the file.
    #[inline]
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.inner.filter.may_contain(key)
    }

    /// Like [`may_contain`](Self::may_contain) for a key whose
    /// [`key_hash`](crate::segment::bloom::key_hash) is `hash`. A lookup that probes
    /// many segments hashes the key once and passes the hash to each; the hash is the
    /// same for every format version.
    #[inline]
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        self.inner.filter.may_contain_hash(hash)
    }

    /// The filter bytes [`may_contain_hash`](Self::may_contain_hash) reads first for
    /// `hash`; see [`BloomFilter::probe_target`].
    pub fn filter_probe_target(&self, hash: u64) -> Option<&[u8]> {
        self.inner.filter.probe_target(hash)
    }

    /// The newest entry for `key` whose sequence number is `<= seq`, tombstones
    /// included, or `None`. Consults the Bloom filter first.
    ///
    /// # Errors
    /// Corruption when the data block that would hold the entry is damaged.
    pub fn get(&self, key: &[u8], seq: u64) -> Result<Option<Entry>> {
        if !self.may_contain(key) {
            return Ok(None);
        }
        self.get_unfiltered(key, seq)
    }

    /// Like [`get`](Self::get) without consulting the Bloom filter (the caller did).
    ///
    /// # Errors
    /// Corruption when the data block that would hold the entry is damaged.
    pub fn get_unfiltered(&self, key: &[u8], seq: u64) -> Result<Option<Entry>> {
        Ok(self
            .lookup_unfiltered(key, seq)?
            .map(|(seq, kind, value)| Entry {
                key: Bytes::copy_from_slice(key),
                seq,
                kind,
                value,
            }))
    }

    /// Like [`get_unfiltered`](Self::get_unfiltered), returning only the sequence
    /// number, kind and value: the caller already has the key, so the engine's read
    /// path does not pay for a copy of it.
    ///
    /// # Errors
    /// Corruption when the data block that would hold the entry is damaged.
    pub fn lookup_unfiltered(
        &self,
        key: &[u8],
        seq: u64,
    ) -> Result<Option<(u64, EntryKind, Bytes)>> {
        let i = self.find_block(key, seq);
        if i >= self.inner.index.len() {
            return Ok(None);
        }
        let handle = self.handle(i)?;
        let source = self
            .block_source(i, handle, true)
            .map_err(|e| self.name(e))?;
        let data = &self.inner.data;
        // The lookup borrows the block (no reference counting) and this thread's key
        // buffer (no allocation); only the returned value shares the bytes.
        let (contents, decompressed): (&[u8], bool) = match &source {
            BlockSource::File(r) => (data.get(r.clone()).unwrap_or_default(), false),
            BlockSource::Decompressed(b) => (b, true),
        };
        let mut it: BlockIter<&[u8]> = BlockIter::with_key_buffer(KEY_BUFFER.take());
        let found = start_block(&mut it, contents, handle, decompressed).and_then(|()| {
            it.seek(key, seq)?;
            if !it.valid() || it.key() != key {
                return Ok(None);
            }
            let v = it.value_range();
            let value = match &source {
                BlockSource::File(r) => data.slice(r.start + v.start..r.start + v.end),
                BlockSource::Decompressed(b) => b.slice(v),
            };
            Ok(Some((it.seq(), it.kind(), value)))
        });
        KEY_BUFFER.set(it.into_key_buffer());
        found.map_err(|e| self.name(e))
    }

    /// A cursor over all entries, positioned nowhere until a seek.
    pub fn iter(&self) -> SegmentIter {
        SegmentIter::new(self.clone())
    }

    /// All entries as a double-ended std iterator (`.rev()` walks backwards).
    pub fn entries(&self) -> SegmentEntries {
        SegmentEntries::new(self.clone())
    }

    /// Number of data blocks.
    pub(crate) fn block_count(&self) -> usize {
        self.inner.index.len()
    }

    pub(crate) fn index_slots(&self) -> &[IndexSlot] {
        &self.inner.index
    }

    /// The first data block whose last entry is at or after `(key, seq)`; the block
    /// count when there is none.
    pub(crate) fn find_block(&self, key: &[u8], seq: u64) -> usize {
        self.inner.search.find(&self.inner.index, key, seq)
    }

    /// Loads data block `i` into `it`, checking its checksum (or taking it from the
    /// cache) and that it holds at least one entry. A decompressed block enters the
    /// cache only with `fill_cache`. Errors do not name the file yet: the caller
    /// does, once.
    pub(crate) fn load_block(&self, i: usize, it: &mut BlockIter, fill_cache: bool) -> Result<()> {
        let handle = self.handle(i)?;
        let (contents, decompressed) = match self.block_source(i, handle, fill_cache)? {
            BlockSource::File(r) => (self.inner.data.slice(r), false),
            BlockSource::Decompressed(b) => (b, true),
        };
        start_block(it, contents, handle, decompressed)
    }

    fn handle(&self, i: usize) -> Result<BlockHandle> {
        match self.inner.index.get(i) {
            Some(slot) => Ok(slot.handle),
            None => Err(Error::corruption(0, format!("no data block {i}"))),
        }
    }

    /// Where the uncompressed contents of data block `i` at `handle` are. The
    /// framing and checksum of a block taken from the file bytes are checked the first
    /// time this reader reads it; the file is immutable, so later reads trust that
    /// check, as they would trust a block cache, and take the compression it found.
    /// A block read with [`ReadOptions::read_at`] is checked every time: its bytes may
    /// have come from the device again.
    fn block_source(&self, i: usize, handle: BlockHandle, fill_cache: bool) -> Result<BlockSource> {
        let inner = &*self.inner;
        let positional = (inner.options.read_at.as_ref()).filter(|f| !f.read_from_bytes());
        let cache = inner
            .options
            .cache
            .as_ref()
            .filter(|_| inner.properties.compression != 0 || positional.is_some());
        let key = BlockCacheKey {
            segment_id: inner.options.segment_id,
            offset: handle.offset,
        };
        if let Some(block) = cache.and_then(|c| c.get(&key)) {
            return Ok(BlockSource::Decompressed(block));
        }
        if let Some(file) = positional {
            let block = read_block_at(&**file, inner.data.len(), handle, cache, &key)?;
            if let Some(c) = cache.filter(|_| fill_cache) {
                c.insert(key, block.clone());
            }
            return Ok(BlockSource::Decompressed(block));
        }
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let (Some(verified), Some(lz4)) = (inner.verified.get(word), inner.lz4.get(word)) else {
            return Err(Error::corruption(
                handle.offset,
                format!("no data block {i}"),
            ));
        };
        // A block verified before is used without reading its trailer again: the
        // trailer's cache line is a memory miss of its own on every block load.
        let known = verified.load(AtomicOrdering::Acquire) & bit != 0;
        let (range, compression) = if known {
            let start = usize::try_from(handle.offset).unwrap_or(usize::MAX);
            let compression = if lz4.load(AtomicOrdering::Relaxed) & bit != 0 {
                Compression::Lz4
            } else {
                Compression::None
            };
            (
                start..start.saturating_add(handle.len as usize),
                compression,
            )
        } else {
            read_raw(&inner.data, handle, BlockType::Data)?
        };
        let source = match compression {
            Compression::None => BlockSource::File(range),
            Compression::Lz4 => {
                let raw = inner.data.get(range).unwrap_or_default();
                let mut buf = cache.map_or_else(BytesMut::new, |c| c.recycled_buffer(&key));
                decompress_lz4_into(raw, handle.offset, &mut buf)?;
                let block = buf.freeze();
                if let Some(c) = cache.filter(|_| fill_cache) {
                    c.insert(key, block.clone());
                }
                BlockSource::Decompressed(block)
            }
        };
        if !known {
            if compression == Compression::Lz4 {
                lz4.fetch_or(bit, AtomicOrdering::Relaxed);
            }
            // Release: whoever sees the block verified sees its compression bit.
            verified.fetch_or(bit, AtomicOrdering::Release);
        }
        Ok(source)
    }

    /// The uncompressed contents of the data block at `handle`, from the file bytes
    /// (never the cache: verification must see what is on disk).
    pub(crate) fn decode_data_block(&self, handle: BlockHandle) -> Result<(Bytes, bool)> {
        let data = &self.inner.data;
        let (range, compression) = read_raw(data, handle, BlockType::Data)?;
        match compression {
            Compression::None => Ok((data.slice(range), false)),
            Compression::Lz4 => {
                let raw = data.get(range).unwrap_or_default();
                Ok((Bytes::from(decompress_lz4(raw, handle.offset)?), true))
            }
        }
    }

    pub(crate) fn filter(&self) -> &BloomFilter {
        &self.inner.filter
    }

    /// Adds the file name, when known, to a corruption error.
    pub(crate) fn name(&self, e: Error) -> Error {
        name_file(e, self.inner.options.file_name.as_deref())
    }
}

thread_local! {
    /// Stored (possibly compressed) bytes of the last block this thread read with a
    /// positional read: decompression needs them only until it returns.
    static RAW_BLOCK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads data block `handle` of a `file_len`-byte file with one positional read,
/// checks its framing and checksum, and returns its uncompressed contents (in a
/// buffer `cache` may recycle).
fn read_block_at(
    file: &dyn ReadAt,
    file_len: usize,
    handle: BlockHandle,
    cache: Option<&Arc<dyn BlockCache>>,
    key: &BlockCacheKey,
) -> Result<Bytes> {
    let range = block_range(handle, file_len)?;
    let mut out = cache.map_or_else(BytesMut::new, |c| c.recycled_buffer(key));
    RAW_BLOCK.with(|raw| {
        let mut raw = raw.borrow_mut();
        raw.resize(range.len(), 0);
        file.read_exact_at(&mut raw, handle.offset)?;
        let (contents, compression) = check_block(&raw, handle.offset, BlockType::Data)?;
        let contents = raw.get(contents).unwrap_or_default();
        match compression {
            Compression::None => {
                out.clear();
                out.extend_from_slice(contents);
            }
            Compression::Lz4 => decompress_lz4_into(contents, handle.offset, &mut out)?,
        }
        if raw.capacity() > KEEP_RAW_BLOCK {
            *raw = Vec::new();
        }
        Ok(out.freeze())
    })
}

/// Raw-block buffers larger than this are not kept between reads.
const KEEP_RAW_BLOCK: usize = 1 << 20;

/// Where a data block's uncompressed contents are.
enum BlockSource {
    /// In the file bytes, at this range: used in place.
    File(Range<usize>),
    /// Decompressed (or taken from the cache).
    Decompressed(Bytes),
}

/// Loads block contents into a cursor; a data block must hold an entry.
fn start_block<B: AsRef<[u8]> + Default>(
    it: &mut BlockIter<B>,
    contents: B,
    handle: BlockHandle,
    decompressed: bool,
) -> Result<()> {
    let origin = BlockOrigin {
        offset: handle.offset,
        decompressed,
        index: false,
    };
    it.reset(contents, origin)?;
    if it.is_empty() {
        return Err(Error::corruption(
            handle.offset,
            "data block without entries",
        ));
    }
    Ok(())
}

fn name_file(e: Error, file: Option<&str>) -> Error {
    match (e, file) {
        (Error::Corruption { offset, reason }, Some(f)) => Error::Corruption {
            offset,
            reason: format!("{f}: {reason}"),
        },
        (e, _) => e,
    }
}

impl std::fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader")
            .field("file_name", &self.inner.options.file_name)
            .field("len", &self.inner.data.len())
            .field("entries", &self.inner.properties.entry_count)
            .finish_non_exhaustive()
    }
}

mod describe;
#[cfg(test)]
mod tests;
