//! Unit tests of the segment reader: lookups across threads and versions, the
//! block search, errors naming file and offset, and a refused layout.

use super::*;
use crate::segment::{SegmentWriter, WriterOptions};
use crate::EntryKind;

fn reader(n: u32, file_name: Option<&str>) -> SegmentReader {
    let mut w = SegmentWriter::new(
        Vec::new(),
        WriterOptions {
            block_size: 100,
            ..WriterOptions::default()
        },
    );
    for i in 0..n {
        w.add(&i.to_be_bytes(), 2, EntryKind::Put, b"two").unwrap();
        w.add(&i.to_be_bytes(), 1, EntryKind::Put, b"one").unwrap();
    }
    let options = ReadOptions {
        file_name: file_name.map(str::to_string),
        ..ReadOptions::default()
    };
    SegmentReader::open(Bytes::from(w.finish().unwrap().into_inner()), options).unwrap()
}

#[test]
fn readers_and_cursors_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SegmentReader>();
    send_sync::<crate::SegmentIter>();
    send_sync::<crate::segment::SegmentEntries>();
    let r = reader(200, None);
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let r = r.clone();
            s.spawn(move || {
                for i in (t..200).step_by(2) {
                    assert_eq!(r.get(&i.to_be_bytes(), 9).unwrap().unwrap().value, "two");
                }
            });
        }
    });
}

#[test]
fn get_picks_the_newest_visible_version() {
    let r = reader(50, None);
    let k = 17u32.to_be_bytes();
    assert_eq!(r.get(&k, 5).unwrap().unwrap().value, "two");
    assert_eq!(r.get(&k, 1).unwrap().unwrap().value, "one");
    assert_eq!(r.get(&k, 0).unwrap(), None);
    assert_eq!(r.get(&50u32.to_be_bytes(), 5).unwrap(), None);
    assert_eq!(r.get(b"", 5).unwrap(), None);
}

#[test]
fn find_block_is_the_first_block_ending_at_or_after_the_target() {
    let r = reader(50, None);
    let slots = r.index_slots();
    assert!(slots.len() > 3);
    assert_eq!(r.find_block(b"", 0), 0);
    assert_eq!(r.find_block(&[0xff; 5], 0), slots.len());
    for (i, s) in slots.iter().enumerate() {
        assert_eq!(r.find_block(&s.key, s.tag >> 8), i);
    }
}

#[test]
fn data_block_errors_name_file_and_offset() {
    let r = reader(50, Some("000042.seg"));
    let h = r.index_slots()[2].handle;
    let mut bytes = r.data().to_vec();
    bytes[h.offset as usize] ^= 0x40;
    let options = r.options().clone();
    let bad = SegmentReader::open(Bytes::from(bytes), options).unwrap();
    let key = bad.index_slots()[2].key.clone();
    let err = bad.get(&key, 9).unwrap_err();
    assert_eq!(err.offset(), Some(h.offset));
    assert_eq!(err.to_string().matches("000042.seg").count(), 1, "{err}");
    let err = bad.entries().find_map(Result::err).unwrap();
    assert_eq!(err.to_string().matches("000042.seg").count(), 1, "{err}");
    let mut it = bad.iter();
    let err = it.seek(&key, 9).unwrap_err();
    assert_eq!(err.to_string().matches("000042.seg").count(), 1, "{err}");
    assert!(!it.valid());
    assert!(format!("{bad:?}").contains("000042.seg"));
}

#[test]
fn open_refuses_a_layout_with_gaps() {
    let r = reader(3, None);
    let mut bytes = r.data().to_vec();
    bytes.insert(0, 0);
    assert!(
        SegmentReader::open(Bytes::from(bytes), ReadOptions::default())
            .unwrap_err()
            .is_corruption()
    );
}
