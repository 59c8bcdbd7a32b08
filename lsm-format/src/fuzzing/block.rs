//! Checks of one block's contents, data or index (`docs/format.md` section 3.2).

use bytes::Bytes;

use crate::entry::compare_internal;
use crate::segment::block::{compress, decompress, decompress_lz4};
use crate::segment::block_builder::BlockBuilder;
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::Compression;
use crate::SEGMENT_FORMAT_VERSION;

use super::MAX_WALK;

/// Decodes `data` as the contents of a data block and of an index block (and, when
/// it decompresses, as LZ4 or zstd contents): forward and backward walks agree, seeks
/// land on the entries, and a well-ordered block rebuilt by the block builder decodes
/// the same. Compressed with either, `data` decompresses to itself.
pub fn block_decode(data: &[u8]) {
    check_block(Bytes::copy_from_slice(data), false);
    check_block(Bytes::copy_from_slice(data), true);
    if let Ok(raw) = decompress_lz4(data, 0) {
        check_block(Bytes::from(raw), false);
    }
    let version = SEGMENT_FORMAT_VERSION;
    if let Ok(raw) = decompress(Compression::Zstd, data, 0, version) {
        check_block(Bytes::from(raw), false);
    }
    let mut stored = Vec::new();
    for c in [Compression::Lz4, Compression::Zstd] {
        if compress(c, data, &mut stored) {
            let back = decompress(c, &stored, 0, version).unwrap();
            assert_eq!(back, data, "{c:?} does not give back what it compressed");
        }
    }
}

type RawEntry = (Vec<u8>, u64, Vec<u8>);

fn walk(it: &mut BlockIter, forward: bool) -> Option<Vec<RawEntry>> {
    let mut out = Vec::new();
    let start = if forward {
        it.seek_to_first()
    } else {
        it.seek_to_last()
    };
    start.ok()?;
    while it.valid() && out.len() < MAX_WALK {
        out.push((it.key().to_vec(), it.tag(), it.value_slice().to_vec()));
        let step = if forward { it.next() } else { it.prev() };
        step.ok()?;
    }
    if !forward {
        out.reverse();
    }
    Some(out)
}

fn check_block(data: Bytes, index: bool) {
    let origin = BlockOrigin {
        offset: 0,
        decompressed: false,
        index,
    };
    let mut it = BlockIter::default();
    if it.reset(data, origin).is_err() {
        return;
    }
    let forward = walk(&mut it, true);
    let backward = walk(&mut it, false);
    let Some(entries) = forward else { return };
    if let Some(b) = &backward {
        assert_eq!(&entries, b, "forward and backward walks of a block differ");
    }
    let ordered = entries
        .windows(2)
        .all(|p| compare_internal(&p[0].0, p[0].1 >> 8, &p[1].0, p[1].1 >> 8).is_lt());
    if !ordered || backward.is_none() {
        return;
    }
    for (key, tag, value) in entries.iter().take(64) {
        it.seek(key, tag >> 8).unwrap();
        assert!(it.valid());
        assert_eq!(
            (it.key(), it.tag(), it.value_slice()),
            (&key[..], *tag, &value[..])
        );
    }
    // Rebuilt by the block builder, the block decodes to the same entries.
    let mut builder = BlockBuilder::new(16);
    for (key, tag, value) in &entries {
        builder.add(key, *tag, value).unwrap();
    }
    let rebuilt = Bytes::copy_from_slice(builder.finish());
    it.reset(rebuilt, origin).unwrap();
    assert_eq!(walk(&mut it, true).unwrap(), entries);
}
