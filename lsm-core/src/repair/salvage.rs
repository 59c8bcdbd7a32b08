//! Reading what can be read of a segment: every data block that verifies on its own
//! (framing, checksum, decoding, internal order within the bounds its index entries
//! set), and the key range of every block that does not.
//!
//! A file that [`SegmentReader::open`] accepts and [`SegmentReader::verify`] finds
//! sound is [`Scanned::Sound`] and is kept as it is. Otherwise the blocks are located
//! through the index (decoded here leniently when a damaged filter or properties
//! block makes `open` refuse the file); with no readable footer or index nothing can
//! be located and the file is [`Scanned::Unreadable`].
//!
//! The range-tombstone block of a format-4 file (between the data blocks and the
//! filter) has its own checksum: its tombstones are kept when it verifies. When it
//! does not, the deletes it held are lost, and a key they hid may read an older
//! version again: the caller reports the file's whole key range.

use std::cmp::Ordering;

use bytes::Bytes;
use lsm_format::coding::Decoder;
use lsm_format::entry::compare_internal;
use lsm_format::range_del::Fragments;
use lsm_format::segment::block::{decompress, read_raw};
use lsm_format::segment::block_iter::{BlockIter, BlockOrigin};
use lsm_format::segment::range_del_block::decode_range_dels;
use lsm_format::segment::{
    BlockHandle, BlockType, Footer, Properties, BLOCK_TRAILER_LEN, RANGE_DEL_FORMAT_VERSION,
};
use lsm_format::{Compression, EntryKind, ReadOptions, SegmentReader};

use super::report::KeyRange;

/// One entry read from a segment (or a WAL), owning its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub key: Bytes,
    pub seq: u64,
    pub kind: EntryKind,
    pub value: Bytes,
}

/// What a segment file holds, as far as it can be read.
pub(crate) enum Scanned {
    /// Every check passes: keep the file as it is.
    Sound(SegmentReader),
    /// Some blocks verify: their entries, and what the others held.
    Damaged(Salvage),
    /// Nothing can be located; why.
    Unreadable(String),
}

/// The readable part of a damaged segment.
#[derive(Debug, Default)]
pub(crate) struct Salvage {
    /// Entries of the blocks that verified, in internal order.
    pub items: Vec<Item>,
    /// The key range of each run of unreadable blocks.
    pub lost_ranges: Vec<KeyRange>,
    /// Entries the file held, when its properties can be read.
    pub entry_count: Option<u64>,
    /// Data blocks in the file, and how many were unreadable.
    pub blocks: (usize, usize),
    /// The first problem found.
    pub problem: String,
    /// The range tombstones, when the block holding them verified (empty in files of
    /// formats before 4); `None` when it did not.
    pub range_tombstones: Option<Fragments>,
    /// The file's smallest and largest keys (its properties), which bound its range
    /// tombstones too, when known.
    pub bounds: Option<KeyRange>,
}

/// Judges the bytes of a segment file.
pub(crate) fn scan(data: Bytes) -> Scanned {
    match SegmentReader::open(data.clone(), ReadOptions::default()) {
        Ok(reader) => match reader.verify().first() {
            None => Scanned::Sound(reader),
            Some(problem) => {
                let index = reader.index_entries().unwrap_or_default();
                let slots = index
                    .into_iter()
                    .map(|e| (e.last_key, e.last_seq, e.handle))
                    .collect();
                let p = reader.properties();
                let props = FileProps {
                    bounds: KeyRange::new(p.smallest_key.clone(), p.largest_key.clone()),
                    entry_count: p.entry_count,
                };
                let mut s = salvage(
                    &data,
                    slots,
                    reader.footer().format_version,
                    Some(props),
                    problem.to_string(),
                );
                s.range_tombstones = Some(reader.range_tombstones().clone());
                Scanned::Damaged(s)
            }
        },
        Err(open_err) => {
            let problem = open_err.to_string();
            match lenient_index(&data) {
                Ok((footer, slots, props)) => {
                    let range_tombstones = lenient_range_tombstones(&data, &footer, &slots);
                    let mut s = salvage(&data, slots, footer.format_version, props, problem);
                    s.range_tombstones = range_tombstones;
                    Scanned::Damaged(s)
                }
                Err(e) => Scanned::Unreadable(format!("{problem}; {e}")),
            }
        }
    }
}

type Slot = (Bytes, u64, BlockHandle);

/// What a file's properties say of its keys.
struct FileProps {
    bounds: KeyRange,
    entry_count: u64,
}

/// The footer and index of a file `open` refused (the properties too, when they
/// read).
fn lenient_index(data: &Bytes) -> lsm_format::Result<(Footer, Vec<Slot>, Option<FileProps>)> {
    let footer = Footer::decode(data)?;
    let (range, _) = read_raw(data, footer.index, BlockType::Index)?;
    let mut it = BlockIter::default();
    it.set_format_version(footer.format_version);
    it.reset(
        data.slice(range),
        BlockOrigin {
            offset: footer.index.offset,
            decompressed: false,
            index: true,
        },
    )?;
    it.seek_to_first()?;
    let mut slots = Vec::new();
    while it.valid() {
        let mut d = Decoder::new(it.value_slice(), footer.index.offset);
        let handle = BlockHandle {
            offset: d.varint64("block offset")?,
            len: d.varint32("block length")?,
        };
        slots.push((Bytes::copy_from_slice(it.key()), it.seq(), handle));
        it.next()?;
    }
    let props = read_raw(data, footer.properties, BlockType::Properties)
        .and_then(|(range, _)| {
            Properties::decode(
                data.get(range).unwrap_or_default(),
                footer.properties.offset,
            )
        })
        .ok()
        .map(|p| FileProps {
            bounds: KeyRange::new(p.smallest_key, p.largest_key),
            entry_count: p.entry_count,
        });
    Ok((footer, slots, props))
}

/// The range tombstones of a file `open` refused: none before format 4; from format
/// 4 on, the block from the end of the data blocks (as the index places them) to the
/// filter, when it verifies and decodes (`None` otherwise).
fn lenient_range_tombstones(data: &Bytes, footer: &Footer, slots: &[Slot]) -> Option<Fragments> {
    if footer.format_version < RANGE_DEL_FORMAT_VERSION {
        return Some(Fragments::default());
    }
    let data_end = slots.last().map_or(0, |(_, _, h)| h.end());
    let len = footer
        .filter
        .offset
        .checked_sub(data_end)?
        .checked_sub(BLOCK_TRAILER_LEN as u64)?;
    let handle = BlockHandle {
        offset: data_end,
        len: u32::try_from(len).ok()?,
    };
    let (range, _) = read_raw(data, handle, BlockType::RangeDel).ok()?;
    decode_range_dels(data.get(range)?, handle.offset).ok()
}

/// Reads every block of `slots` that verifies, in a file of `format_version`.
/// `props` are what the file's properties say, when they read.
fn salvage(
    data: &Bytes,
    slots: Vec<Slot>,
    format_version: u32,
    props: Option<FileProps>,
    problem: String,
) -> Salvage {
    let mut out = Salvage {
        entry_count: props.as_ref().map(|p| p.entry_count),
        bounds: props.as_ref().map(|p| p.bounds.clone()),
        problem,
        ..Salvage::default()
    };
    out.blocks.0 = slots.len();
    // The lower bound of the next block: the previous index entry.
    let mut prev: Option<(Bytes, u64)> = None;
    let mut lost_from: Option<Bytes> = None;
    for (last_key, last_seq, handle) in slots {
        match read_block(
            data,
            handle,
            format_version,
            prev.as_ref(),
            (&last_key, last_seq),
        ) {
            Ok(items) => {
                if let Some(first) = lost_from.take() {
                    let last = prev.as_ref().map(|p| p.0.clone()).unwrap_or_default();
                    out.lost_ranges.push(KeyRange::new(first, last));
                }
                out.items.extend(items);
            }
            Err(_) => {
                out.blocks.1 += 1;
                if lost_from.is_none() {
                    // A user key's versions may span blocks, so the range starts at the
                    // previous block's last key (or the file's smallest key).
                    let first = match &prev {
                        Some(p) => p.0.clone(),
                        None => props
                            .as_ref()
                            .map(|p| p.bounds.first.clone())
                            .unwrap_or_default(),
                    };
                    lost_from = Some(first);
                }
            }
        }
        prev = Some((last_key, last_seq));
    }
    if let Some(first) = lost_from {
        let last = prev.map(|p| p.0).unwrap_or_default();
        out.lost_ranges.push(KeyRange::new(first, last));
    }
    out
}

/// The entries of one data block, if it verifies: framing and checksum, decoding,
/// strictly increasing internal order after `after`, ending exactly at its index
/// entry `last`.
fn read_block(
    data: &Bytes,
    handle: BlockHandle,
    format_version: u32,
    after: Option<&(Bytes, u64)>,
    last: (&Bytes, u64),
) -> lsm_format::Result<Vec<Item>> {
    let bad = |reason: &str| lsm_format::Error::corruption(handle.offset, reason.to_string());
    let (range, compression) = read_raw(data, handle, BlockType::Data)?;
    let (contents, decompressed) = match compression {
        Compression::None => (data.slice(range), false),
        Compression::Lz4 | Compression::Zstd => {
            let raw = data.get(range).unwrap_or_default();
            let block = decompress(compression, raw, handle.offset, format_version)?;
            (Bytes::from(block), true)
        }
    };
    let mut it = BlockIter::default();
    it.set_format_version(format_version);
    it.reset(
        contents,
        BlockOrigin {
            offset: handle.offset,
            decompressed,
            index: false,
        },
    )?;
    it.seek_to_first()?;
    let mut items: Vec<Item> = Vec::new();
    while it.valid() {
        let before = match items.last() {
            Some(p) => Some((p.key.as_ref(), p.seq)),
            None => after.map(|(k, s)| (k.as_ref(), *s)),
        };
        if let Some((k, s)) = before {
            if compare_internal(k, s, it.key(), it.seq()) != Ordering::Less {
                return Err(bad("entries out of order"));
            }
        }
        items.push(Item {
            key: Bytes::copy_from_slice(it.key()),
            seq: it.seq(),
            kind: it.kind(),
            value: it.value(),
        });
        it.next()?;
    }
    match items.last() {
        Some(l) if l.key == last.0 && l.seq == last.1 => Ok(items),
        _ => Err(bad("the block does not end at its index entry")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsm_format::{SegmentWriter, WriterOptions};

    fn segment(n: u32) -> Vec<u8> {
        build(n, Fragments::new())
    }

    /// A segment of `n` keys `k0000`.. with small blocks, and `tombstones`.
    fn build(n: u32, tombstones: Fragments) -> Vec<u8> {
        let options = WriterOptions {
            block_size: 128,
            ..WriterOptions::default()
        };
        let mut w = SegmentWriter::new(Vec::new(), options);
        for i in 0..n {
            let key = format!("k{i:04}");
            w.add(
                key.as_bytes(),
                u64::from(i) + 1,
                EntryKind::Put,
                &[b'v'; 20],
            )
            .unwrap();
        }
        w.add_range_tombstones(tombstones).unwrap();
        w.finish().unwrap().into_inner()
    }

    fn handles(bytes: &[u8]) -> Vec<(Bytes, BlockHandle)> {
        let r = SegmentReader::open(Bytes::copy_from_slice(bytes), ReadOptions::default()).unwrap();
        r.index_entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.last_key, e.handle))
            .collect()
    }

    #[test]
    fn a_sound_file_is_kept() {
        assert!(matches!(scan(Bytes::from(segment(100))), Scanned::Sound(_)));
    }

    #[test]
    fn every_block_but_the_damaged_one_is_salvaged_and_its_range_named() {
        let mut bytes = segment(100);
        let blocks = handles(&bytes);
        assert!(blocks.len() > 4);
        let (_, h) = &blocks[2];
        bytes[h.offset as usize + 3] ^= 0x40;
        let Scanned::Damaged(s) = scan(Bytes::from(bytes)) else {
            panic!("not damaged");
        };
        assert_eq!(s.blocks, (blocks.len(), 1));
        assert_eq!(s.entry_count, Some(100));
        let lost = 100 - s.items.len();
        assert!(lost > 0);
        assert_eq!(
            s.lost_ranges,
            vec![KeyRange::new(blocks[1].0.clone(), blocks[2].0.clone())]
        );
        // Every key not salvaged lies in the range; every salvaged one is intact.
        for i in 0..100u32 {
            let key = format!("k{i:04}");
            let kept = s.items.iter().any(|e| e.key == key.as_bytes());
            assert!(kept || s.lost_ranges[0].contains(key.as_bytes()), "{key}");
        }
        assert!(s.items.windows(2).all(|w| w[0].key < w[1].key));
    }

    #[test]
    fn adjacent_damaged_blocks_make_one_range_and_the_first_starts_at_the_smallest_key() {
        let mut bytes = segment(100);
        let blocks = handles(&bytes);
        for (_, h) in &blocks[..2] {
            bytes[h.offset as usize + 1] ^= 1;
        }
        let Scanned::Damaged(s) = scan(Bytes::from(bytes)) else {
            panic!("not damaged");
        };
        assert_eq!(
            s.lost_ranges,
            vec![KeyRange::new("k0000", blocks[1].0.clone())]
        );
    }

    #[test]
    fn a_damaged_filter_loses_nothing() {
        let mut bytes = segment(50);
        let footer = Footer::decode(&bytes).unwrap();
        bytes[footer.filter.offset as usize] ^= 0xff;
        let Scanned::Damaged(s) = scan(Bytes::from(bytes)) else {
            panic!("not damaged");
        };
        assert_eq!(s.items.len(), 50);
        assert!(s.lost_ranges.is_empty());
    }

    fn segment_with_range_tombstones() -> (Vec<u8>, Fragments) {
        use lsm_format::range_del::RangeTombstone;
        let tombstones = Fragments::from_tombstones([RangeTombstone::new("k0010", "k0020", 99)]);
        (build(50, tombstones.clone()), tombstones)
    }

    #[test]
    fn a_damaged_data_block_keeps_the_range_tombstones() {
        let (mut bytes, tombstones) = segment_with_range_tombstones();
        let (_, h) = &handles(&bytes)[1];
        bytes[h.offset as usize + 3] ^= 0x40;
        let Scanned::Damaged(s) = scan(Bytes::from(bytes)) else {
            panic!("not damaged");
        };
        assert_eq!(s.range_tombstones, Some(tombstones));
    }

    #[test]
    fn a_damaged_range_tombstone_block_loses_them_and_keeps_every_entry() {
        let (mut bytes, _) = segment_with_range_tombstones();
        let data_end = handles(&bytes).last().unwrap().1.end();
        bytes[data_end as usize + 1] ^= 0x02;
        let Scanned::Damaged(s) = scan(Bytes::from(bytes)) else {
            panic!("not damaged");
        };
        assert_eq!(s.range_tombstones, None);
        assert_eq!(s.items.len(), 50);
        assert!(s.lost_ranges.is_empty());
        assert_eq!(s.bounds, Some(KeyRange::new("k0000", "k0049")));
    }

    #[test]
    fn a_truncated_file_is_unreadable() {
        let mut bytes = segment(50);
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(scan(Bytes::from(bytes)), Scanned::Unreadable(_)));
    }
}
