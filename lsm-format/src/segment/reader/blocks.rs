//! Where a data block's uncompressed contents come from (`docs/format.md` section
//! 3.1 gives the framing and checksum every path checks): the block source's cache,
//! a positional read the source offers, or the file bytes, used in place when the
//! block is not compressed.

use std::ops::Range;
use std::sync::atomic::Ordering as AtomicOrdering;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::segment::block::{block_range, check_block, decompress, decompress_into, read_raw};
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::{
    BlockCacheKey, BlockHandle, BlockRead, BlockSource, BlockType, Compression, ReadAt,
    SegmentReader,
};

/// Where a data block's uncompressed contents are.
pub(crate) enum Contents {
    /// In the file bytes, at this range: used in place.
    File(Range<usize>),
    /// Built (decompressed, or read with a positional read) or taken from the
    /// source's cache.
    Built(Bytes),
}

impl<S: BlockSource> SegmentReader<S> {
    /// Loads data block `i` into `it`, checking its checksum (or taking it from the
    /// source) and that it holds at least one entry; a block built on the way is
    /// offered to the source as read for `read`. Errors do not name the file yet: the
    /// caller does, once.
    pub(crate) fn load_block(&self, i: usize, it: &mut BlockIter, read: BlockRead) -> Result<()> {
        let handle = self.handle(i)?;
        let (contents, decompressed) = match self.block_contents(i, handle, read)? {
            Contents::File(r) => (self.inner.data.slice(r), false),
            Contents::Built(b) => (b, true),
        };
        let version = self.inner.footer.format_version;
        start_block(it, contents, handle, decompressed, version)
    }

    pub(crate) fn handle(&self, i: usize) -> Result<BlockHandle> {
        match self.inner.index.handle(i) {
            Some(handle) => Ok(handle),
            None => Err(Error::corruption(0, format!("no data block {i}"))),
        }
    }

    /// Where the uncompressed contents of data block `i` at `handle` are. The
    /// framing and checksum of a block taken from the file bytes are checked the first
    /// time this reader reads it; the file is immutable, so later reads trust that
    /// check, as they would trust a block cache, and take the compression it found.
    /// A block read with a positional read is checked every time: its bytes may have
    /// come from the device again.
    pub(crate) fn block_contents(
        &self,
        i: usize,
        handle: BlockHandle,
        read: BlockRead,
    ) -> Result<Contents> {
        let inner = &*self.inner;
        let source = &inner.source;
        let positional = source.positional();
        // Uncompressed blocks of the bytes are used in place: the source is not asked.
        let ask_source = inner.properties.compression != 0 || positional.is_some();
        let key = BlockCacheKey {
            segment_id: inner.options.segment_id,
            offset: handle.offset,
        };
        if ask_source {
            if let Some(block) = source.cached(&key) {
                return Ok(Contents::Built(block));
            }
        }
        if let Some(file) = positional {
            let allowed = (inner.compression, inner.footer.format_version);
            let block = read_block_at(file, inner.data.len(), handle, source, &key, allowed)?;
            source.built(key, &block, read);
            return Ok(Contents::Built(block));
        }
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let (Some(verified), Some(compressed)) =
            (inner.verified.get(word), inner.compressed.get(word))
        else {
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
            let compression = if compressed.load(AtomicOrdering::Relaxed) & bit != 0 {
                inner.compression
            } else {
                Compression::None
            };
            (
                start..start.saturating_add(handle.len as usize),
                compression,
            )
        } else {
            let (range, compression) = read_raw(&inner.data, handle, BlockType::Data)?;
            (range, inner.check_compression(compression, handle.offset)?)
        };
        let contents = match compression {
            Compression::None => Contents::File(range),
            Compression::Lz4 | Compression::Zstd => {
                let raw = inner.data.get(range).unwrap_or_default();
                let mut buf = source.buffer(&key);
                let version = inner.footer.format_version;
                decompress_into(compression, raw, handle.offset, version, &mut buf)?;
                let block = buf.freeze();
                source.built(key, &block, read);
                Contents::Built(block)
            }
        };
        if !known {
            if compression != Compression::None {
                compressed.fetch_or(bit, AtomicOrdering::Relaxed);
            }
            // Release: whoever sees the block verified sees its compression bit.
            verified.fetch_or(bit, AtomicOrdering::Release);
        }
        Ok(contents)
    }

    /// The uncompressed contents of the data block at `handle`, from the file bytes
    /// (never the source: verification must see what is on disk).
    pub(crate) fn decode_data_block(&self, handle: BlockHandle) -> Result<(Bytes, bool)> {
        let inner = &*self.inner;
        let data = &inner.data;
        let (range, compression) = read_raw(data, handle, BlockType::Data)?;
        match inner.check_compression(compression, handle.offset)? {
            Compression::None => Ok((data.slice(range), false)),
            compression => {
                let raw = data.get(range).unwrap_or_default();
                let version = inner.footer.format_version;
                let block = decompress(compression, raw, handle.offset, version)?;
                Ok((Bytes::from(block), true))
            }
        }
    }
}

thread_local! {
    /// Stored (possibly compressed) bytes of the last block this thread read with a
    /// positional read: decompression needs them only until it returns.
    static RAW_BLOCK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads data block `handle` of a `file_len`-byte file with one positional read,
/// checks its framing and checksum, and returns its uncompressed contents (in a
/// buffer from `source`).
fn read_block_at<S: BlockSource>(
    file: &dyn ReadAt,
    file_len: usize,
    handle: BlockHandle,
    source: &S,
    key: &BlockCacheKey,
    allowed: (Compression, u32),
) -> Result<Bytes> {
    let range = block_range(handle, file_len)?;
    let (allowed, format_version) = allowed;
    let mut out = source.buffer(key);
    RAW_BLOCK.with(|raw| {
        let mut raw = raw.borrow_mut();
        raw.resize(range.len(), 0);
        file.read_exact_at(&mut raw, handle.offset)?;
        let (contents, compression) = check_block(&raw, handle.offset, BlockType::Data)?;
        let contents = raw.get(contents).unwrap_or_default();
        let compression = check_compression(compression, allowed, handle.offset)?;
        decompress_into(
            compression,
            contents,
            handle.offset,
            format_version,
            &mut out,
        )?;
        if raw.capacity() > KEEP_RAW_BLOCK {
            *raw = Vec::new();
        }
        Ok(out.freeze())
    })
}

impl<S> crate::segment::open::Inner<S> {
    /// `compression`, found in the trailer of the data block at `offset`, if this file
    /// allows it: none, or the compression its properties name (section 3.5).
    fn check_compression(&self, compression: Compression, offset: u64) -> Result<Compression> {
        check_compression(compression, self.compression, offset)
    }
}

/// `compression` if it is none or `allowed`, the compression of the file's properties.
fn check_compression(
    compression: Compression,
    allowed: Compression,
    offset: u64,
) -> Result<Compression> {
    if compression == Compression::None || compression == allowed {
        Ok(compression)
    } else {
        Err(Error::corruption(
            offset,
            format!(
                "data block compressed with {compression:?}, the file's properties name \
                 {allowed:?}"
            ),
        ))
    }
}

/// Raw-block buffers larger than this are not kept between reads.
const KEEP_RAW_BLOCK: usize = 1 << 20;

/// Loads block contents into a cursor for a file of `format_version` (which
/// decides the entry kinds allowed); a data block must hold an entry.
pub(crate) fn start_block<B: AsRef<[u8]> + Default>(
    it: &mut BlockIter<B>,
    contents: B,
    handle: BlockHandle,
    decompressed: bool,
    format_version: u32,
) -> Result<()> {
    let origin = BlockOrigin {
        offset: handle.offset,
        decompressed,
        index: false,
    };
    it.set_format_version(format_version);
    it.reset(contents, origin)?;
    if it.is_empty() {
        return Err(Error::corruption(
            handle.offset,
            "data block without entries",
        ));
    }
    Ok(())
}
