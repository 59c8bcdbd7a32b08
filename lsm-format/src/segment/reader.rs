//! The segment reader: `docs/format.md` section 3.
//!
//! `open` reads the footer, checks the filter, properties and index blocks once and
//! keeps them decoded: the index as a sorted array of (last key, tag, handle), with
//! its keys sharing one buffer. Data blocks come from the file bytes, checksummed the
//! first time; uncompressed ones are then used in place (zero copy), LZ4 ones are
//! decompressed and offered to the reader's [`BlockSource`], which may keep them. A
//! source may also have blocks read with positional reads instead, checksummed every
//! time.
//!
//! Child modules, one concept each: `blocks` (where a data block's contents come
//! from), `describe` (index entries and layout for dumps). What `open` checks is in
//! the sibling `open` module, the point lookup in `lookup`, and the cursors
//! (`iter`, `entries`) define the methods that create them: the reader depends on
//! none of them.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::range_del::Fragments;
use crate::segment::bloom::BloomFilter;
use crate::segment::index_search::DecodedIndex;
use crate::segment::open::{self, Inner};
use crate::segment::{BlockSource, Footer, NoCache, Properties, ReadOptions};

/// Reads a segment from its complete bytes. Cheap to clone (shared state); `Send` and
/// `Sync`.
///
/// `open` checks the footer, and the checksums of the index, filter and properties
/// blocks, and keeps them parsed. Data blocks are checksummed before they are first
/// used (see the module documentation). `S` is where data blocks come from besides
/// the bytes, and what keeps them: [`NoCache`] unless opened with
/// [`open_with`](Self::open_with).
pub struct SegmentReader<S: BlockSource = NoCache> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S: BlockSource> Clone for SegmentReader<S> {
    fn clone(&self) -> Self {
        SegmentReader {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl SegmentReader {
    /// Opens a segment over its complete bytes, reading every data block from them
    /// and caching nothing.
    ///
    /// # Errors
    /// `Truncated`, `BadMagic`, `UnsupportedVersion` or `Corruption` when the footer
    /// or a metadata block is damaged, or the blocks are not laid out as section 3
    /// says (contiguous, in the grammar's order).
    ///
    /// ```
    /// use lsm_format::{EntryKind, SegmentReader, SegmentWriter, WriterOptions};
    ///
    /// let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    /// w.add(b"k", 1, EntryKind::Put, b"v")?;
    /// let reader = SegmentReader::open(w.finish()?.into_inner().into(), Default::default())?;
    /// assert_eq!(reader.properties().entry_count, 1);
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn open(data: Bytes, options: ReadOptions) -> Result<Self> {
        Self::open_with(data, options, NoCache)
    }
}

impl<S: BlockSource> SegmentReader<S> {
    /// Opens a segment over its complete bytes, with `source` deciding where data
    /// blocks come from and which are kept (see [`BlockSource`]).
    ///
    /// # Errors
    /// As [`open`](SegmentReader::open).
    pub fn open_with(data: Bytes, options: ReadOptions, source: S) -> Result<Self> {
        match open::open(data, &options, source) {
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

    /// The block source this reader was opened with.
    pub fn source(&self) -> &S {
        &self.inner.source
    }

    /// The segment's Bloom filter (`docs/format.md` section 3.4), which
    /// [`lookup`](Self::lookup) consults. A file written without one has an empty
    /// filter that may contain every key. The engine asks it for
    /// [`probe_target`](BloomFilter::probe_target) to prefetch before its lookups.
    pub fn filter(&self) -> &BloomFilter {
        &self.inner.filter
    }

    /// The file's range tombstones (`docs/format.md` section 3.8), decoded and
    /// checked when the file was opened; empty for a file without any, and for
    /// files of format versions before 4. [`lookup`](Self::lookup) and the
    /// iterators do not apply them: the caller does.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// use lsm_format::{EntryKind, SegmentReader, SegmentWriter, WriterOptions};
    ///
    /// let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    /// w.add(b"k", 1, EntryKind::Put, b"v")?;
    /// w.add_range_tombstones(Fragments::from_tombstones([RangeTombstone::new("a", "z", 2)]))?;
    /// let reader = SegmentReader::open(w.finish()?.into_inner().into(), Default::default())?;
    /// assert_eq!(reader.range_tombstones().covering_seq(b"k", 5), Some(2));
    /// assert!(reader.get(b"k", 5)?.is_some()); // still there: the caller applies them
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn range_tombstones(&self) -> &Fragments {
        &self.inner.range_dels
    }

    /// Number of data blocks.
    pub(crate) fn block_count(&self) -> usize {
        self.inner.index.len()
    }

    /// The decoded index.
    pub(crate) fn index(&self) -> &DecodedIndex {
        &self.inner.index
    }

    /// The first data block whose last entry is at or after `(key, seq)`; the block
    /// count when there is none.
    pub(crate) fn find_block(&self, key: &[u8], seq: u64) -> usize {
        self.inner.index.find(key, seq)
    }

    /// Adds the file name, when known, to a corruption error.
    pub(crate) fn name(&self, e: Error) -> Error {
        name_file(e, self.inner.options.file_name.as_deref())
    }
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

impl<S: BlockSource> std::fmt::Debug for SegmentReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader")
            .field("file_name", &self.inner.options.file_name)
            .field("len", &self.inner.data.len())
            .field("entries", &self.inner.properties.entry_count)
            .finish_non_exhaustive()
    }
}

pub(crate) mod blocks;
mod describe;
#[cfg(test)]
mod tests;
