//! The point lookup, a segment's one lookup surface: [`SegmentReader::lookup`] takes
//! a [`Probe`] (key, its filter hash, the newest visible sequence number, whether to
//! consult the filter) and answers with a [`Lookup`]: what the Bloom filter said
//! (`docs/format.md` section 3.4), which data block the index named (section 3.3),
//! and the version found in it. The engine's read path and its lookup trace both
//! read those three answers from the same call.

use bytes::Bytes;

use crate::entry::EntryKind;
use crate::error::Result;
use crate::segment::block_iter::BlockIter;
use crate::segment::bloom::key_hash;
use crate::segment::reader::blocks::{start_block, Contents};
use crate::segment::{BlockHandle, BlockRead, BlockSource, Entry, SegmentReader};

thread_local! {
    /// Key buffer reused by point lookups on this thread.
    static KEY_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// What to look up: a key, the hash its filter probes use, the newest sequence
/// number visible, and whether to consult the Bloom filter. Built once and passed to
/// every segment a lookup visits, so the key is hashed once.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'k> {
    key: &'k [u8],
    hash: u64,
    seq: u64,
    filter: bool,
}

impl<'k> Probe<'k> {
    /// The newest version of `key` with sequence number `<= seq`, filter consulted.
    pub fn new(key: &'k [u8], seq: u64) -> Self {
        Self::with_hash(key, key_hash(key), seq)
    }

    /// Like [`new`](Self::new) for a caller that already has `key`'s
    /// [`key_hash`] (it probes other filters with it too). The hash is the same for
    /// every format version.
    pub fn with_hash(key: &'k [u8], hash: u64, seq: u64) -> Self {
        debug_assert_eq!(hash, key_hash(key), "the hash of another key");
        Probe {
            key,
            hash,
            seq,
            filter: true,
        }
    }

    /// The same probe, searching the index and data block without consulting the
    /// filter (tests and benchmarks of the block search).
    pub fn without_filter(self) -> Self {
        Probe {
            filter: false,
            ..self
        }
    }

    /// The key looked up.
    pub fn key(&self) -> &'k [u8] {
        self.key
    }

    /// Its [`key_hash`].
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The newest sequence number visible.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// What the Bloom filter said about a probe's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAnswer {
    /// The segment was written without a filter (0 bits per key).
    NoFilter,
    /// The filter was not consulted ([`Probe::without_filter`]).
    NotConsulted,
    /// The filter may contain the key: the index and a data block were searched.
    MayContain,
    /// The filter proves the key absent: nothing else was read.
    Absent,
}

/// The data block a lookup searched: the first whose last entry is at or after the
/// probe in internal order, the only one that can hold the version asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchedBlock {
    /// Position of the block among the segment's data blocks (from 0).
    pub index: usize,
    /// Where it is.
    pub handle: BlockHandle,
}

/// The version a lookup found: the newest with sequence number `<=` the probe's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its sequence number.
    pub seq: u64,
    /// Put, expiring put or tombstone.
    pub kind: EntryKind,
    /// Its value, sharing the file's bytes or a built block; empty for tombstones.
    pub value: Bytes,
}

/// The answer of [`SegmentReader::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// What the Bloom filter said.
    pub filter: FilterAnswer,
    /// The data block searched; `None` when the filter ruled the key out or every
    /// block ends before the probe.
    pub block: Option<SearchedBlock>,
    /// The version found, tombstones included.
    pub found: Option<Found>,
}

impl<S: BlockSource> SegmentReader<S> {
    /// Looks `probe`'s key up: the Bloom filter first (unless the probe skips it),
    /// then the index, then the one data block that can hold the version asked for,
    /// read for [`BlockRead::Lookup`]. Only the found value shares bytes; nothing is
    /// allocated otherwise.
    ///
    /// # Errors
    /// Corruption when the data block that would hold the entry is damaged; what the
    /// source's positional reads fail with.
    ///
    /// ```
    /// use lsm_format::segment::{FilterAnswer, Probe};
    /// use lsm_format::{EntryKind, SegmentReader, SegmentWriter, WriterOptions};
    ///
    /// let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    /// w.add(b"k", 7, EntryKind::Put, b"new")?;
    /// w.add(b"k", 3, EntryKind::Put, b"old")?;
    /// let reader = SegmentReader::open(w.finish()?.into_inner().into(), Default::default())?;
    /// let at_5 = reader.lookup(&Probe::new(b"k", 5))?;
    /// assert_eq!(at_5.filter, FilterAnswer::MayContain);
    /// assert_eq!(at_5.block.map(|b| b.index), Some(0));
    /// assert_eq!(at_5.found.map(|f| (f.seq, f.value)), Some((3, "old".into())));
    /// assert_eq!(reader.lookup(&Probe::new(b"k", 2))?.found, None);
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    #[inline(always)]
    pub fn lookup(&self, probe: &Probe<'_>) -> Result<Lookup> {
        let filter = if !probe.filter {
            FilterAnswer::NotConsulted
        } else if self.inner.properties.bloom_bits_per_key == 0 {
            FilterAnswer::NoFilter
        } else if self.inner.filter.may_contain_hash(probe.hash) {
            FilterAnswer::MayContain
        } else {
            return Ok(Lookup {
                filter: FilterAnswer::Absent,
                block: None,
                found: None,
            });
        };
        self.search(filter, probe.key, probe.seq)
    }

    /// The part of [`lookup`](Self::lookup) past the filter, out of line: the
    /// filter check stays inlined into the caller, which probes several files per
    /// key and finds most of them ruled out.
    #[inline(never)]
    fn search(&self, filter: FilterAnswer, key: &[u8], seq: u64) -> Result<Lookup> {
        let index = self.find_block(key, seq);
        let Some(handle) = self.inner.index.handle(index) else {
            return Ok(Lookup {
                filter,
                block: None,
                found: None,
            });
        };
        let found = self
            .search_block(index, handle, key, seq)
            .map_err(|e| self.name(e))?;
        Ok(Lookup {
            filter,
            block: Some(SearchedBlock { index, handle }),
            found,
        })
    }

    /// The newest entry for `key` whose sequence number is `<= seq`, tombstones
    /// included, or `None`: [`lookup`](Self::lookup) with the key copied into an
    /// [`Entry`].
    ///
    /// # Errors
    /// As [`lookup`](Self::lookup).
    pub fn get(&self, key: &[u8], seq: u64) -> Result<Option<Entry>> {
        Ok(self.lookup(&Probe::new(key, seq))?.found.map(|f| Entry {
            key: Bytes::copy_from_slice(key),
            seq: f.seq,
            kind: f.kind,
            value: f.value,
        }))
    }

    /// Searches data block `index` at `handle` for `(key, seq)`. The search borrows
    /// the block (no reference counting) and this thread's key buffer (no
    /// allocation); only the returned value shares the bytes.
    fn search_block(
        &self,
        index: usize,
        handle: BlockHandle,
        key: &[u8],
        seq: u64,
    ) -> Result<Option<Found>> {
        let source = self.block_contents(index, handle, BlockRead::Lookup)?;
        let data = &self.inner.data;
        let (contents, decompressed): (&[u8], bool) = match &source {
            Contents::File(r) => (data.get(r.clone()).unwrap_or_default(), false),
            Contents::Built(b) => (b, true),
        };
        let mut it: BlockIter<&[u8]> = BlockIter::with_key_buffer(KEY_BUFFER.take());
        let version = self.inner.footer.format_version;
        let found = start_block(&mut it, contents, handle, decompressed, version).and_then(|()| {
            it.seek(key, seq)?;
            if !it.valid() || it.key() != key {
                return Ok(None);
            }
            let v = it.value_range();
            let value = match &source {
                Contents::File(r) => data.slice(r.start + v.start..r.start + v.end),
                Contents::Built(b) => b.slice(v),
            };
            Ok(Some(Found {
                seq: it.seq(),
                kind: it.kind(),
                value,
            }))
        });
        KEY_BUFFER.set(it.into_key_buffer());
        found
    }
}
