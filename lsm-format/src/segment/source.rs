//! Where a reader's data blocks come from besides the file bytes: the
//! [`BlockSource`] the engine passes to
//! [`SegmentReader::open_with`](crate::segment::SegmentReader::open_with).
//!
//! The split is mechanism against policy. The reader does the mechanism: it checks
//! every block's framing and checksum (`docs/format.md` section 3.1), decompresses
//! LZ4 blocks, and uses uncompressed blocks of the file bytes in place, without a
//! copy and without asking the source. The source holds the policy: whether a block
//! is read with a positional read or from the bytes, which built blocks a cache keeps
//! (told why each block was read, as a [`BlockRead`]), and the buffers decompression
//! writes into. A reader without a source ([`NoCache`]) reads everything from the
//! bytes and keeps nothing.
//!
//! The reader is generic over its source, so the calls on the read path are static
//! and inlined: the engine's source costs what its code costs, no dispatch.

use bytes::{Bytes, BytesMut};

use crate::segment::ReadAt;

/// Identifies a data block among those of every open segment: the segment's id
/// ([`ReadOptions::segment_id`](crate::segment::ReadOptions::segment_id), the file
/// number) and the block's offset in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockCacheKey {
    /// File number of the segment (or any id unique among open segments).
    pub segment_id: u64,
    /// Offset of the block in the file.
    pub offset: u64,
}

/// Why a data block is read: what a [`BlockSource`] decides its caching on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRead {
    /// A point lookup ([`SegmentReader::lookup`](crate::segment::SegmentReader::lookup)).
    Lookup,
    /// A cursor ([`SegmentIter`](crate::segment::SegmentIter)) a caller positions and
    /// moves at will: its blocks may well be read again.
    Scan,
    /// A cursor that reads the file once, front to back, such as a compaction's
    /// input ([`SegmentIter::set_block_read`](crate::segment::SegmentIter::set_block_read)):
    /// its blocks are unlikely to be read again soon.
    OnePass,
}

/// Where a [`SegmentReader`](crate::segment::SegmentReader)'s data blocks come from
/// besides the bytes it was opened on, and which of the blocks it builds are kept.
/// Every method has a default that does nothing, which is [`NoCache`].
///
/// The reader asks the source only for blocks it cannot use in place: compressed
/// ones, and every block while [`positional`](Self::positional) offers a file.
/// Uncompressed blocks read from the bytes are borrowed from them and never offered.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// use bytes::Bytes;
/// use lsm_format::segment::{BlockCacheKey, BlockRead, BlockSource};
/// use lsm_format::{Compression, EntryKind, SegmentReader, SegmentWriter, WriterOptions};
///
/// /// Keeps the blocks point lookups read, not those of scans.
/// #[derive(Default)]
/// struct LookupCache(Mutex<HashMap<BlockCacheKey, Bytes>>);
///
/// impl BlockSource for LookupCache {
///     fn cached(&self, key: &BlockCacheKey) -> Option<Bytes> {
///         self.0.lock().unwrap().get(key).cloned()
///     }
///     fn built(&self, key: BlockCacheKey, block: &Bytes, read: BlockRead) {
///         if read == BlockRead::Lookup {
///             self.0.lock().unwrap().insert(key, block.clone());
///         }
///     }
/// }
///
/// let mut options = WriterOptions::default();
/// options.compression = Compression::Lz4;
/// let mut w = SegmentWriter::new(Vec::new(), options);
/// w.add(b"k", 1, EntryKind::Put, &[b'v'; 100])?;
/// let bytes = Bytes::from(w.finish()?.into_inner());
/// let reader = SegmentReader::open_with(bytes, Default::default(), LookupCache::default())?;
/// assert_eq!(reader.entries().count(), 1);
/// assert!(reader.source().0.lock().unwrap().is_empty(), "a scan kept nothing");
/// assert!(reader.get(b"k", 1)?.is_some());
/// assert_eq!(reader.source().0.lock().unwrap().len(), 1);
/// # Ok::<(), lsm_format::Error>(())
/// ```
pub trait BlockSource: Send + Sync {
    /// Positional reads to read the next data block with, instead of the bytes the
    /// reader was opened on; asked before each data block read, so the answer may
    /// change (for instance under a memory budget for mapped files). A block read
    /// this way is checked every time, and [`built`](Self::built) is offered it
    /// whether compressed or not. The default is `None`.
    #[inline]
    fn positional(&self) -> Option<&dyn ReadAt> {
        None
    }

    /// The uncompressed contents of block `key`, if the source keeps them. The
    /// default is `None`.
    #[inline]
    fn cached(&self, key: &BlockCacheKey) -> Option<Bytes> {
        let _ = key;
        None
    }

    /// Offered every block the reader built (decompressed, or read with
    /// [`positional`](Self::positional)) after [`cached`](Self::cached) missed it,
    /// with the reason it was read; the source keeps it or not. The default keeps
    /// nothing.
    #[inline]
    fn built(&self, key: BlockCacheKey, block: &Bytes, read: BlockRead) {
        let _ = (key, block, read);
    }

    /// A buffer to build block `key` into, after [`cached`](Self::cached) missed it:
    /// a cache may hand back the allocation of a block it evicted
    /// (`Bytes::try_into_mut` gets it back without a copy), sparing the read path an
    /// allocation, a free and the zeroing of a fresh buffer. The default is a new,
    /// empty buffer.
    #[inline]
    fn buffer(&self, key: &BlockCacheKey) -> BytesMut {
        let _ = key;
        BytesMut::new()
    }
}

/// A shared source: the engine's, or a test's that looks at it after the reads.
impl<T: BlockSource + ?Sized> BlockSource for std::sync::Arc<T> {
    #[inline]
    fn positional(&self) -> Option<&dyn ReadAt> {
        (**self).positional()
    }
    #[inline]
    fn cached(&self, key: &BlockCacheKey) -> Option<Bytes> {
        (**self).cached(key)
    }
    #[inline]
    fn built(&self, key: BlockCacheKey, block: &Bytes, read: BlockRead) {
        (**self).built(key, block, read);
    }
    #[inline]
    fn buffer(&self, key: &BlockCacheKey) -> BytesMut {
        (**self).buffer(key)
    }
}

/// The source of a reader that reads every block from its bytes and keeps nothing:
/// the default of [`SegmentReader`](crate::segment::SegmentReader).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl BlockSource for NoCache {}
