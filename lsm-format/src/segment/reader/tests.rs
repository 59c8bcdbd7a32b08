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
    let slots: Vec<_> = r.index().slots().collect();
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
    let h = r.index().slot(2).unwrap().handle;
    let mut bytes = r.data().to_vec();
    bytes[h.offset as usize] ^= 0x40;
    let options = r.options().clone();
    let bad = SegmentReader::open(Bytes::from(bytes), options).unwrap();
    let key = bad.index().slot(2).unwrap().key;
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

#[test]
fn lookup_reports_the_filter_the_block_and_the_version() {
    use crate::segment::{FilterAnswer, Probe};
    let r = reader(50, None);
    let k = 17u32.to_be_bytes();
    let hit = r.lookup(&Probe::new(&k, 5)).unwrap();
    assert_eq!(hit.filter, FilterAnswer::MayContain);
    let block = hit.block.expect("a block was searched");
    assert_eq!(block.index, r.find_block(&k, 5));
    assert_eq!(block.handle, r.index().handle(block.index).unwrap());
    let found = hit.found.expect("found");
    assert_eq!(
        (found.seq, found.kind, &found.value[..]),
        (2, EntryKind::Put, &b"two"[..])
    );
    // Without the filter: the same block and version.
    let unfiltered = r.lookup(&Probe::new(&k, 5).without_filter()).unwrap();
    assert_eq!(unfiltered.filter, FilterAnswer::NotConsulted);
    assert_eq!(
        (unfiltered.block, unfiltered.found),
        (hit.block, Some(found))
    );
    // A key the filter rules out reads nothing else.
    let absent: Vec<[u8; 4]> = (1000..1200u32).map(u32::to_be_bytes).collect();
    let ruled_out = absent
        .iter()
        .filter(|a| !r.filter().may_contain(&a[..]))
        .count();
    assert!(ruled_out > 150, "{ruled_out} of 200 ruled out");
    for a in &absent {
        let l = r.lookup(&Probe::new(a, 9)).unwrap();
        assert_eq!(l.found, None);
        if l.filter == FilterAnswer::Absent {
            assert_eq!(l.block, None);
        } else {
            assert_eq!(l.filter, FilterAnswer::MayContain);
            assert!(r.filter().may_contain(a));
        }
    }
    // Past the last block: nothing to search.
    let past = r
        .lookup(&Probe::new(&[0xff; 5], 9).without_filter())
        .unwrap();
    assert_eq!((past.block, past.found), (None, None));
    // A version older than every one of the key's: its block is searched in vain.
    let older = r.lookup(&Probe::new(&k, 0)).unwrap();
    assert!(older.block.is_some() && older.found.is_none());
}

#[test]
fn lookup_of_a_file_without_filter_says_so() {
    use crate::segment::{FilterAnswer, Probe};
    let mut w = SegmentWriter::new(
        Vec::new(),
        WriterOptions {
            bloom_bits_per_key: 0,
            ..WriterOptions::default()
        },
    );
    w.add(b"k", 3, EntryKind::Tombstone, b"").unwrap();
    let r = SegmentReader::open(
        Bytes::from(w.finish().unwrap().into_inner()),
        ReadOptions::default(),
    )
    .unwrap();
    let l = r.lookup(&Probe::new(b"k", 9)).unwrap();
    assert_eq!(l.filter, FilterAnswer::NoFilter);
    assert_eq!(
        l.found.map(|f| (f.seq, f.kind)),
        Some((3, EntryKind::Tombstone))
    );
    assert_eq!(
        r.lookup(&Probe::new(b"j", 9)).unwrap().filter,
        FilterAnswer::NoFilter
    );
}

/// Counts the blocks offered to it by the reason they were read, and keeps none.
#[derive(Default)]
struct CountingSource(std::sync::Mutex<Vec<crate::segment::BlockRead>>);

impl crate::segment::BlockSource for CountingSource {
    fn built(
        &self,
        _key: crate::segment::BlockCacheKey,
        _block: &Bytes,
        read: crate::segment::BlockRead,
    ) {
        self.0.lock().unwrap().push(read);
    }
}

#[test]
fn the_source_is_told_why_each_built_block_was_read() {
    use crate::segment::{BlockRead, Compression, Probe};
    let mut w = SegmentWriter::new(
        Vec::new(),
        WriterOptions {
            block_size: 100,
            compression: Compression::Lz4,
            ..WriterOptions::default()
        },
    );
    for i in 0..200u32 {
        w.add(&i.to_be_bytes(), 1, EntryKind::Put, &[b'v'; 40])
            .unwrap();
    }
    let bytes = Bytes::from(w.finish().unwrap().into_inner());
    let r =
        SegmentReader::open_with(bytes, ReadOptions::default(), CountingSource::default()).unwrap();
    let blocks = r.block_count();
    assert!(blocks > 3);
    let reads = || std::mem::take(&mut *r.source().0.lock().unwrap());
    assert!(r
        .lookup(&Probe::new(&7u32.to_be_bytes(), 1))
        .unwrap()
        .found
        .is_some());
    assert_eq!(reads(), [BlockRead::Lookup]);
    assert_eq!(r.entries().count(), 200);
    assert_eq!(reads(), vec![BlockRead::Scan; blocks], "one per block");
    let mut it = r.iter();
    it.set_block_read(BlockRead::OnePass);
    it.seek_to_first().unwrap();
    while it.valid() {
        it.next().unwrap();
    }
    assert_eq!(reads(), vec![BlockRead::OnePass; blocks]);
    // Uncompressed blocks of the bytes are used in place, never offered.
    let plain = reader(50, None);
    let plain = SegmentReader::open_with(
        plain.data().clone(),
        ReadOptions::default(),
        CountingSource::default(),
    )
    .unwrap();
    assert_eq!(plain.entries().count(), 100);
    assert!(plain.source().0.lock().unwrap().is_empty());
}
