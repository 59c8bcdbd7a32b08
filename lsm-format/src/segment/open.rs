//! What `SegmentReader::open` checks and decodes: `docs/format.md` sections 3.3 to
//! 3.6 and 3.8. The footer first, then the properties, filter and index blocks (each
//! checksummed once here and kept), then the layout: blocks contiguous in the
//! grammar's order, index handles tiling the data area, and the properties agreeing
//! with the index. In a format-4 file the range-tombstone block, which fills the gap
//! between the data blocks and the filter, is decoded too, and the properties must
//! count it and bound it.

use std::cmp::Ordering;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;

use crate::coding::Decoder;
use crate::entry::compare_internal;
use crate::error::{Error, Result};
use crate::range_del::Fragments;
use crate::segment::block::read_raw;
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::bloom::{BloomFilter, FilterLayout};
use crate::segment::index_search::{DecodedIndex, DecodedIndexBuilder};
use crate::segment::range_del_block::decode_range_dels;
use crate::segment::{
    BlockHandle, BlockType, Compression, Footer, Properties, ReadOptions, BLOCK_TRAILER_LEN,
    FOOTER_LEN, RANGE_DEL_FORMAT_VERSION, ZSTD_FORMAT_VERSION,
};

/// Everything `SegmentReader::open` decodes and checks, shared by the reader's
/// clones.
pub(crate) struct Inner<S> {
    pub(crate) data: Bytes,
    pub(crate) options: ReadOptions,
    /// Where data blocks come from besides `data`, and what keeps them.
    pub(crate) source: S,
    pub(crate) footer: Footer,
    pub(crate) properties: Properties,
    pub(crate) filter: BloomFilter,
    /// The range-tombstone block (format 4 and later; `None` before).
    pub(crate) range_del_block: Option<BlockHandle>,
    /// Its contents (empty in older files).
    pub(crate) range_dels: Fragments,
    /// The index, decoded, with the search over its keys.
    pub(crate) index: DecodedIndex,
    /// One bit per data block: its framing and checksum were verified by this
    /// reader (and it decoded).
    pub(crate) verified: Box<[AtomicU64]>,
    /// The compression the properties name: each data block is stored with it or
    /// with none (section 3.5).
    pub(crate) compression: Compression,
    /// One bit per verified data block: it is compressed (with `compression`).
    pub(crate) compressed: Box<[AtomicU64]>,
}

/// Decodes and checks everything `SegmentReader::open` keeps.
pub(crate) fn open<S>(data: Bytes, options: &ReadOptions, source: S) -> Result<Inner<S>> {
    let footer = Footer::decode(&data)?;
    let (range, _) = read_raw(&data, footer.properties, BlockType::Properties)?;
    let properties = Properties::decode(
        data.get(range).unwrap_or_default(),
        footer.properties.offset,
    )?;
    // The footer's version is within the supported range (Footer::decode checked);
    // the properties must repeat it.
    let layout = FilterLayout::for_format_version(footer.format_version);
    let Some(layout) = layout.filter(|_| properties.format_version == footer.format_version) else {
        return Err(Error::corruption(
            footer.properties.offset,
            format!(
                "properties say format version {}, the footer {}",
                properties.format_version, footer.format_version
            ),
        ));
    };
    let (range, _) = read_raw(&data, footer.filter, BlockType::Filter)?;
    let filter = BloomFilter::parse(data.slice(range), footer.filter.offset, layout)?;
    let (range, _) = read_raw(&data, footer.index, BlockType::Index)?;
    let index = decode_index(
        data.slice(range),
        footer.index.offset,
        footer.format_version,
    )?;

    // The grammar's layout: data blocks from offset 0, then (format 4) the
    // range-tombstone block, then filter, properties, index and footer, each
    // starting where the previous one ends.
    let data_end = index.data_end();
    let range_del_block = if footer.format_version >= RANGE_DEL_FORMAT_VERSION {
        Some(range_del_handle(data_end, footer.filter.offset)?)
    } else {
        None
    };
    let range_dels = match range_del_block {
        Some(h) => {
            let (range, _) = read_raw(&data, h, BlockType::RangeDel)?;
            decode_range_dels(data.get(range).unwrap_or_default(), h.offset)?
        }
        None => Fragments::default(),
    };
    let filter_start = range_del_block.map_or(data_end, |h| h.end());
    let expected = [
        ("filter", footer.filter.offset, filter_start),
        ("properties", footer.properties.offset, footer.filter.end()),
        ("index", footer.index.offset, footer.properties.end()),
        (
            "footer",
            data.len() as u64 - FOOTER_LEN as u64,
            footer.index.end(),
        ),
    ];
    for (what, found, want) in expected {
        if found != want {
            return Err(Error::corruption(
                found,
                format!("{what} starts at {found}, expected {want}"),
            ));
        }
    }
    if properties.data_block_count != index.len() as u64 || properties.data_size != data_end {
        return Err(Error::corruption(
            footer.properties.offset,
            format!(
                "properties say {} data blocks of {} bytes, the index has {} of {data_end}",
                properties.data_block_count,
                properties.data_size,
                index.len()
            ),
        ));
    }
    if (properties.entry_count == 0) != index.is_empty() {
        return Err(Error::corruption(
            footer.properties.offset,
            format!(
                "properties say {} entries in {} data blocks",
                properties.entry_count,
                index.len()
            ),
        ));
    }
    check_range_del_properties(&properties, &range_dels, footer.properties.offset)?;
    let compression = properties_compression(&properties, footer.properties.offset)?;
    let bitmap = || {
        (0..index.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect()
    };
    let (verified, compressed) = (bitmap(), bitmap());
    Ok(Inner {
        data,
        options: options.clone(),
        source,
        footer,
        properties,
        filter,
        range_del_block,
        range_dels,
        index,
        verified,
        compression,
        compressed,
    })
}

/// The range-tombstone block of a format-4 file: from the end of the data blocks
/// to the start of the filter block.
fn range_del_handle(data_end: u64, filter_offset: u64) -> Result<BlockHandle> {
    let len = filter_offset
        .checked_sub(data_end)
        .and_then(|n| n.checked_sub(BLOCK_TRAILER_LEN as u64))
        .and_then(|n| u32::try_from(n).ok());
    match len {
        Some(len) => Ok(BlockHandle {
            offset: data_end,
            len,
        }),
        None => Err(Error::corruption(
            filter_offset,
            format!(
                "filter starts at {filter_offset}, leaving no range-tombstone block after \
                 the data blocks ending at {data_end}"
            ),
        )),
    }
}

/// What the properties of a format-4 file must say about its range tombstones:
/// their count, and bounds (keys and sequence numbers) that contain them. A file
/// without entries is bounded by them exactly. (Older files have none and count 0.)
fn check_range_del_properties(p: &Properties, range_dels: &Fragments, at: u64) -> Result<()> {
    let count = range_dels.tombstone_count();
    if p.range_del_count != count {
        return Err(Error::corruption(
            at,
            format!(
                "properties count {} range tombstones, the block holds {count}",
                p.range_del_count
            ),
        ));
    }
    let (Some((start, end)), Some((lo, hi))) = (range_dels.bounds(), range_dels.seq_range()) else {
        return Ok(());
    };
    let end = crate::range_del::bound_of_end(end);
    let (smallest, largest) = (&p.smallest_key[..], &p.largest_key[..]);
    let contained = if p.entry_count == 0 {
        smallest == start && largest == end && p.smallest_seq == lo && p.largest_seq == hi
    } else {
        smallest <= start && largest >= end && p.smallest_seq <= lo && p.largest_seq >= hi
    };
    if !contained {
        return Err(Error::corruption(
            at,
            format!(
                "properties bound keys [{smallest:?}, {largest:?}] and sequence numbers \
                 {}..={}, outside the range tombstones' [{start:?}, {end:?}) and {lo}..={hi}",
                p.smallest_seq, p.largest_seq
            ),
        ));
    }
    Ok(())
}

/// Decodes the index block of a file of `format_version`: entries in strictly
/// increasing internal order whose handles tile the data area from offset 0 without
/// gaps.
fn decode_index(contents: Bytes, offset: u64, format_version: u32) -> Result<DecodedIndex> {
    let mut it = BlockIter::default();
    it.set_format_version(format_version);
    it.reset(
        contents,
        BlockOrigin {
            offset,
            decompressed: false,
            index: true,
        },
    )?;
    let mut index = DecodedIndexBuilder::default();
    it.seek_to_first()?;
    while it.valid() {
        let at = offset + it.current_offset() as u64;
        if let Some((pk, tag)) = index.last() {
            if compare_internal(pk, tag >> 8, it.key(), it.seq()) != Ordering::Less {
                return Err(Error::corruption(at, "index entries out of order"));
            }
        }
        let mut d = Decoder::new(it.value_slice(), at);
        let handle = BlockHandle {
            offset: d.varint64("block offset")?,
            len: d.varint32("block length")?,
        };
        d.finish("block handle")?;
        let next_offset = index.data_end();
        if handle.offset != next_offset {
            return Err(Error::corruption(
                at,
                format!(
                    "index names a data block at {}, expected one at {next_offset}",
                    handle.offset
                ),
            ));
        }
        index.push(it.key(), it.tag(), handle, at)?;
        it.next()?;
    }
    Ok(index.finish())
}

/// The compression the properties (of the block at `offset`) name: a known one, and
/// zstd only in a file of format 7 or later (section 3.5).
fn properties_compression(properties: &Properties, offset: u64) -> Result<Compression> {
    let byte = properties.compression;
    match Compression::from_u8(byte) {
        Some(Compression::Zstd) if properties.format_version < ZSTD_FORMAT_VERSION => {
            Err(Error::corruption(
                offset,
                format!(
                    "properties name zstd compression in a segment of format {}",
                    properties.format_version
                ),
            ))
        }
        Some(c) => Ok(c),
        None => Err(Error::corruption(
            offset,
            format!("properties name unknown compression {byte}"),
        )),
    }
}
