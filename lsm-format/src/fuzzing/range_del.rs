//! Checks of the range-tombstone block (`docs/format.md` section 3.8): any bytes
//! decoded, and what decodes written back and read through a whole segment.

use bytes::Bytes;

use crate::range_del::Fragments;
use crate::segment::range_del_block::{check_writable, decode_range_dels, encode_range_dels};
use crate::segment::{ReadOptions, SegmentReader, SegmentWriter, WriterOptions};

/// Decodes `data` as range-tombstone block contents. What decodes is fragmented
/// (`Fragments::from_fragmented` agrees), writable, re-encodes to contents that
/// decode to the same fragments (byte-identical unless the input used longer
/// varints than needed), counts as its pieces' sequence numbers, and comes back
/// exactly from a segment written with it, whose properties bound it.
pub fn range_del_decode(data: &[u8]) {
    let Ok(fragments) = decode_range_dels(data, 0) else {
        return;
    };
    let list = fragments.fragments().to_vec();
    assert_eq!(
        Fragments::from_fragmented(list).as_ref(),
        Some(&fragments),
        "decoded range tombstones are not fragmented"
    );
    check_writable(&fragments).expect("decoded range tombstones are writable");
    let again = encode_range_dels(&fragments);
    assert!(again.len() <= data.len());
    assert_eq!(decode_range_dels(&again, 0).unwrap(), fragments);
    let count: usize = fragments.fragments().iter().map(|f| f.seqs.len()).sum();
    assert_eq!(fragments.tombstone_count(), count as u64);

    let options = WriterOptions {
        created_unix_ms: Some(0),
        ..WriterOptions::default()
    };
    let mut writer = SegmentWriter::new(Vec::new(), options);
    writer.add_range_tombstones(fragments.clone()).unwrap();
    let file = writer.finish().unwrap().into_inner();
    let reader = SegmentReader::open(Bytes::from(file), ReadOptions::default()).unwrap();
    assert_eq!(reader.range_tombstones(), &fragments);
    assert_eq!(reader.verify(), vec![]);
    let p = reader.properties();
    assert_eq!(p.range_del_count, fragments.tombstone_count());
    if let (Some((start, end)), Some((lo, hi))) = (fragments.bounds(), fragments.seq_range()) {
        assert_eq!((&p.smallest_key[..], &p.largest_key[..]), (start, end));
        assert_eq!((p.smallest_seq, p.largest_seq), (lo, hi));
    }
}
