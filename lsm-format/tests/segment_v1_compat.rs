//! Format version 1 segments (global double-hashing Bloom filter, `docs/format.md`
//! section 3.4.1) are still read: `data/segment_v1.seg` was written by the version-1
//! writer (block size 256, restart interval 4, 10 bits per key, LZ4, created at
//! 1 700 000 000 000 ms) before the version-2 filter replaced it, and is checked in;
//! it must open, verify clean and read back exactly the entries `v1_entries` lists.

use std::path::Path;

use bytes::Bytes;
use lsm_format::segment::bloom::key_hash;
use lsm_format::{EntryKind, ReadOptions, SegmentReader};

/// The entries of the fixture: 300 keys, every third with an older tombstone.
fn v1_entries() -> Vec<(Vec<u8>, u64, EntryKind, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..300u32 {
        let key = format!("key-{i:05}").into_bytes();
        out.push((
            key.clone(),
            1000 + u64::from(i),
            EntryKind::Put,
            format!("value {i}").into_bytes(),
        ));
        if i % 3 == 0 {
            out.push((key, u64::from(i) + 1, EntryKind::Tombstone, Vec::new()));
        }
    }
    out
}

fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment_v1.seg")
}

fn open_fixture() -> SegmentReader {
    let bytes = std::fs::read(fixture_path()).unwrap();
    SegmentReader::open(Bytes::from(bytes), ReadOptions::default()).unwrap()
}

#[test]
fn a_version_1_segment_opens_verifies_and_reads_back() {
    let r = open_fixture();
    assert_eq!(r.footer().format_version, 1);
    assert_eq!(r.properties().format_version, 1);
    assert_eq!(r.properties().creator, "lsm-format format version 1");
    assert!(r.verify().is_empty(), "{:?}", r.verify());
    // The version-1 filter: ceil(300 * 10 / 8) = 375 bytes, not a multiple of 64.
    assert_eq!(r.footer().filter.len, 375 + 1);

    let want = v1_entries();
    let got: Vec<_> = r
        .entries()
        .map(|e| {
            let e = e.unwrap();
            (e.key.to_vec(), e.seq, e.kind, e.value.to_vec())
        })
        .collect();
    assert_eq!(got, want);
    for (k, seq, kind, v) in &want {
        assert!(r.filter().may_contain(k));
        assert!(r.filter().may_contain_hash(key_hash(k)));
        let e = r.get(k, *seq).unwrap().unwrap();
        assert_eq!((e.seq, e.kind, &e.value[..]), (*seq, *kind, &v[..]));
    }
    // Absent keys: the global filter still rejects nearly all of them.
    let absent = (0..10_000u32).map(|i| format!("key-{i:05}x").into_bytes());
    let through = absent.filter(|k| r.filter().may_contain(k)).count();
    assert!(
        through < 300,
        "{through} of 10000 absent keys pass the v1 filter"
    );
    assert_eq!(r.get(b"key-00000x", u64::MAX >> 8).unwrap(), None);
}

#[test]
fn damaged_version_1_segments_are_still_refused() {
    let good = std::fs::read(fixture_path()).unwrap();
    for at in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        let verdict = SegmentReader::open(Bytes::from(bad), ReadOptions::default())
            .map(|r| r.verify().is_empty());
        assert!(!matches!(verdict, Ok(true)), "flip at {at} went unnoticed");
    }
}
