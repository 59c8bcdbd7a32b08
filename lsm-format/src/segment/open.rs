//! What `SegmentReader::open` checks and decodes: `docs/format.md` sections 3.3 to
//! 3.6. The footer first, then the properties, filter and index blocks (each
//! checksummed once here and kept), then the layout: blocks contiguous in the
//! grammar's order, index handles tiling the data area, and the properties agreeing
//! with the index.

use std::cmp::Ordering;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;

use crate::coding::Decoder;
use crate::entry::compare_internal;
use crate::error::{Error, Result};
use crate::segment::block::read_raw;
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::bloom::{BloomFilter, FilterLayout};
use crate::segment::index_search::{IndexSearch, IndexSlot};
use crate::segment::{BlockHandle, BlockType, Footer, Properties, ReadOptions, FOOTER_LEN};

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
    pub(crate) index: Vec<IndexSlot>,
    /// Binary search over the index keys.
    pub(crate) search: IndexSearch,
    /// One bit per data block: its framing and checksum were verified by this
    /// reader (and it decoded).
    pub(crate) verified: Box<[AtomicU64]>,
    /// One bit per verified data block: it is LZ4-compressed.
    pub(crate) lz4: Box<[AtomicU64]>,
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
    let index = decode_index(data.slice(range), footer.index.offset)?;

    // The grammar's layout: data blocks from offset 0, then filter, properties,
    // index and footer, each starting where the previous one ends.
    let data_end = index.last().map_or(0, |s| s.handle.end());
    let expected = [
        ("filter", footer.filter.offset, data_end),
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
    let bitmap = || {
        (0..index.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect()
    };
    let (verified, lz4) = (bitmap(), bitmap());
    let search = IndexSearch::new(&index);
    Ok(Inner {
        search,
        data,
        options: options.clone(),
        source,
        footer,
        properties,
        filter,
        index,
        verified,
        lz4,
    })
}

/// Decodes the index block: entries in strictly increasing internal order whose
/// handles tile the data area from offset 0 without gaps.
fn decode_index(contents: Bytes, offset: u64) -> Result<Vec<IndexSlot>> {
    let mut it = BlockIter::default();
    it.reset(
        contents,
        BlockOrigin {
            offset,
            decompressed: false,
            index: true,
        },
    )?;
    let mut raw = Vec::new();
    let mut keys = Vec::new();
    it.seek_to_first()?;
    let mut prev: Option<(usize, usize, u64)> = None;
    let mut next_offset = 0u64;
    while it.valid() {
        let at = offset + it.current_offset() as u64;
        if let Some((s, e, tag)) = prev {
            let pk = keys.get(s..e).unwrap_or_default();
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
        if handle.offset != next_offset {
            return Err(Error::corruption(
                at,
                format!(
                    "index names a data block at {}, expected one at {next_offset}",
                    handle.offset
                ),
            ));
        }
        next_offset = handle.end();
        let start = keys.len();
        keys.extend_from_slice(it.key());
        prev = Some((start, keys.len(), it.tag()));
        raw.push((start, keys.len(), it.tag(), handle));
        it.next()?;
    }
    let keys = Bytes::from(keys);
    Ok(raw
        .into_iter()
        .map(|(s, e, tag, handle)| IndexSlot {
            key: keys.slice(s..e),
            tag,
            handle,
        })
        .collect())
}
