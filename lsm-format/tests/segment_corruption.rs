//! Damaged segment files: every single-byte flip and every truncation of a small
//! segment (uncompressed, LZ4 and zstd) must give a typed corruption error or exactly the
//! right data, never a panic, a wrong value or a phantom key; and `open` + `verify`
//! must notice every one of them, since every byte of the file is checksummed.
//! The segment is of the current format (7): it holds expiring puts and range
//! tombstones too, and a reader that opens it must hand back exactly those.

use bytes::Bytes;
use lsm_format::checksum::checksum;
use lsm_format::entry::{compare_internal, encode_expiring};
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::{
    Compression, EntryKind, Error, ReadOptions, SegmentReader, SegmentWriter, WriterOptions,
    MAX_SEQUENCE,
};

type Model = Vec<(Vec<u8>, u64, EntryKind, Vec<u8>)>;

fn model() -> Model {
    let mut m = Model::new();
    for i in 0..40u32 {
        let key = format!("key{:05}", i * 7).into_bytes();
        if i % 5 == 0 {
            m.push((key.clone(), 90 + u64::from(i), EntryKind::Tombstone, vec![]));
        }
        let value = format!("value-{i}-{}", "ab".repeat(i as usize % 9)).into_bytes();
        let (kind, value) = if i % 6 == 3 {
            let expiry = 1_700_000_000_000 + u64::from(i);
            (EntryKind::ExpiringPut, encode_expiring(expiry, &value))
        } else if i % 7 == 2 {
            let pointer = lsm_format::BlobPointer {
                file_number: 1000 + u64::from(i),
                offset: 25 + 300 * u64::from(i),
                len: 200 + i,
                value_len: 150 + i,
            };
            (EntryKind::BlobPointer, pointer.to_vec())
        } else {
            (EntryKind::Put, value)
        };
        m.push((key, 10 + u64::from(i), kind, value));
    }
    m
}

/// Overlapping range tombstones, from before the first key to past the last.
fn range_dels() -> Fragments {
    Fragments::from_tombstones([
        RangeTombstone::new("key", "key00100", 5),
        RangeTombstone::new("key00050", "key00200", 130),
        RangeTombstone::new("key00150", "zz", 7),
        RangeTombstone::new("key00260", "key00261", 1),
    ])
}

fn segment(compression: Compression) -> Vec<u8> {
    let options = WriterOptions {
        block_size: 256,
        restart_interval: 4,
        compression,
        created_unix_ms: Some(0),
        // A keyspace id of two non-zero bytes, so that flips in it are seen.
        keyspace: 0x0109,
        ..WriterOptions::default()
    };
    let mut w = SegmentWriter::new(Vec::new(), options);
    for (k, s, kind, v) in &model() {
        w.add(k, *s, *kind, v).unwrap();
    }
    w.add_range_tombstones(range_dels()).unwrap();
    w.finish().unwrap().into_inner()
}

fn open(bytes: &[u8]) -> lsm_format::Result<SegmentReader> {
    let options = ReadOptions {
        file_name: Some("000001.seg".into()),
        ..ReadOptions::default()
    };
    SegmentReader::open(Bytes::copy_from_slice(bytes), options)
}

fn expect_corruption(e: &Error, what: &str) {
    assert!(e.is_corruption(), "{what}: not a corruption error: {e}");
}

fn as_tuple(e: &lsm_format::Entry) -> (Vec<u8>, u64, EntryKind, Vec<u8>) {
    (e.key.to_vec(), e.seq, e.kind, e.value.to_vec())
}

/// Reads everything it can from `bytes`, checking that whatever comes back is right.
/// Returns true when the damage was noticed by `open` or `verify`.
fn read_damaged(bytes: &[u8], model: &Model, what: &str) -> bool {
    let reader = match open(bytes) {
        Err(e) => {
            expect_corruption(&e, what);
            return true;
        }
        Ok(r) => r,
    };
    // The range tombstones are checksummed and decoded at open: exact or refused.
    assert_eq!(reader.range_tombstones(), &range_dels(), "{what}");
    // Forward: a prefix of the model, then possibly an error.
    let mut n = 0;
    for item in reader.entries() {
        match item {
            Ok(e) => {
                assert_eq!(
                    Some(&as_tuple(&e)),
                    model.get(n),
                    "{what}: forward entry {n}"
                );
                n += 1;
            }
            Err(e) => expect_corruption(&e, what),
        }
    }
    // Backward: a suffix of the model, then possibly an error.
    let mut n = 0;
    for item in reader.entries().rev() {
        match item {
            Ok(e) => {
                n += 1;
                assert_eq!(
                    Some(&as_tuple(&e)),
                    model.len().checked_sub(n).and_then(|i| model.get(i)),
                    "{what}: backward"
                );
            }
            Err(e) => expect_corruption(&e, what),
        }
    }
    for (k, s, _, _) in model {
        for seq in [*s, MAX_SEQUENCE] {
            match reader.get(k, seq) {
                Ok(got) => {
                    let i = model.partition_point(|e| compare_internal(&e.0, e.1, k, seq).is_lt());
                    let want = model.get(i).filter(|e| &e.0 == k);
                    assert_eq!(
                        got.as_ref().map(as_tuple).as_ref(),
                        want,
                        "{what}: get({k:?}, {seq})"
                    );
                }
                Err(e) => expect_corruption(&e, what),
            }
        }
    }
    let problems = reader.verify();
    for p in &problems {
        assert!(p.offset <= bytes.len() as u64, "{what}: {p}");
    }
    !problems.is_empty()
}

#[test]
fn every_byte_flip_is_detected_and_never_misreads() {
    let model = model();
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let good = segment(compression);
        assert!(
            (1024..=4096).contains(&good.len()),
            "segment of {} bytes",
            good.len()
        );
        let reader = open(&good).unwrap();
        assert!(reader.properties().data_block_count >= 4);
        assert_eq!(reader.footer().format_version, 7);
        assert_eq!(reader.properties().keyspace, 0x0109);
        assert_eq!(reader.properties().range_del_count, 10);
        assert!(model.iter().any(|e| e.2 == EntryKind::ExpiringPut));
        assert!(model.iter().any(|e| e.2 == EntryKind::BlobPointer));
        if compression != Compression::None {
            assert!(
                reader.data().len() < segment(Compression::None).len(),
                "{compression:?} did not shrink any block"
            );
        }
        assert!(!read_damaged(&good, &model, "undamaged"));
        for i in 0..good.len() {
            for mask in [0xff, 1u8 << (i % 8)] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                let what = format!("{compression:?}: byte {i} ^ {mask:#04x}");
                assert!(read_damaged(&bad, &model, &what), "{what}: not detected");
            }
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    let model = model();
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let good = segment(compression);
        for len in 0..good.len() {
            let what = format!("{compression:?}: truncated to {len}");
            assert!(
                read_damaged(&good[..len], &model, &what),
                "{what}: not detected"
            );
        }
        assert!(matches!(
            open(&good[..55]),
            Err(Error::Truncated {
                len: 55,
                needed: 56
            })
        ));
        assert!(matches!(
            open(&good[..good.len() - 1]),
            Err(Error::BadMagic { .. })
        ));
    }
}

/// Rewrites the checksum of the block `[offset, end)` after its contents changed.
fn fix_checksum(file: &mut [u8], offset: usize, end: usize) {
    let sum = checksum(&file[offset..end - 8]);
    file[end - 8..end].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn flips_behind_a_valid_checksum_never_panic_and_disorder_is_reported() {
    let model = model();
    let mut reported = 0;
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let good = segment(compression);
        let layout = open(&good).unwrap().layout().unwrap();
        for region in layout
            .iter()
            .filter(|r| r.kind == "data" || r.kind == "index")
        {
            let (start, end) = (
                region.offset as usize,
                (region.offset + region.len) as usize,
            );
            for i in start..end - 10 {
                for mask in [0xffu8, 1, 0x80] {
                    let mut bad = good.clone();
                    bad[i] ^= mask;
                    fix_checksum(&mut bad, start, end);
                    let Ok(reader) = open(&bad) else { continue };
                    let forward: Result<Vec<_>, _> = reader.entries().collect();
                    let backward: Result<Vec<_>, _> = reader.entries().rev().collect();
                    for k in model.iter().map(|e| &e.0) {
                        let _ = reader.get(k, MAX_SEQUENCE);
                    }
                    let problems = reader.verify();
                    reported += usize::from(!problems.is_empty());
                    let Ok(forward) = forward else {
                        assert!(
                            !problems.is_empty(),
                            "{} byte {i}: read error but verify is silent",
                            region.kind
                        );
                        continue;
                    };
                    let ordered = forward.windows(2).all(|w| {
                        compare_internal(&w[0].key, w[0].seq, &w[1].key, w[1].seq).is_lt()
                    });
                    let mut backward = backward.unwrap_or_default();
                    backward.reverse();
                    if !ordered || backward != forward {
                        assert!(
                            !problems.is_empty(),
                            "{} byte {i}: disorder not reported",
                            region.kind
                        );
                    }
                }
            }
        }
    }
    // Most flips in keys, lengths and restarts are caught by the structural checks.
    assert!(reported > 1000, "only {reported} flips reported");
}

#[test]
fn verify_checks_properties_and_filter_against_the_data() {
    let good = segment(Compression::None);
    let reader = open(&good).unwrap();
    let props = reader.footer().properties;
    let (start, end) = (props.offset as usize, props.end() as usize);
    // entry_count is the u64 after the 4-byte format version.
    let mut bad = good.clone();
    bad[start + 4] ^= 1;
    fix_checksum(&mut bad, start, end);
    let problems = open(&bad).unwrap().verify();
    assert!(
        problems
            .iter()
            .any(|p| p.description.contains("entry_count")),
        "{problems:?}"
    );
    // A filter with every bit cleared loses every key.
    let filter = reader.footer().filter;
    let (start, end) = (filter.offset as usize, filter.end() as usize);
    let mut bad = good.clone();
    bad[start..end - 11].fill(0);
    fix_checksum(&mut bad, start, end);
    let problems = open(&bad).unwrap().verify();
    assert!(
        problems
            .iter()
            .any(|p| p.description.contains("Bloom filter")),
        "{problems:?}"
    );
    assert!(problems.len() <= 101);
}

#[test]
fn errors_name_the_offset_and_file() {
    let good = segment(Compression::None);
    let reader = open(&good).unwrap();
    let second = reader.index_entries().unwrap()[1].handle;
    let mut bad = good.clone();
    bad[second.offset as usize + 3] ^= 1;
    let reader = open(&bad).unwrap();
    let err = reader.entries().find_map(Result::err).unwrap();
    assert_eq!(err.offset(), Some(second.offset));
    assert!(err.to_string().contains("000001.seg"), "{err}");
    let problems = reader.verify();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].offset, second.offset);
}

/// Flips inside the range-tombstone block, with its checksum fixed: `open` refuses
/// what is not a fragmented set bounded by the properties, never panics, and what
/// it accepts is fragmented.
#[test]
fn flips_in_the_range_del_block_behind_a_valid_checksum_never_panic() {
    let good = segment(Compression::None);
    let layout = open(&good).unwrap().layout().unwrap();
    let region = layout.iter().find(|r| r.kind == "range-del").unwrap();
    let (start, end) = (
        region.offset as usize,
        (region.offset + region.len) as usize,
    );
    let (mut refused, mut accepted_different) = (0, 0);
    for i in start..end - 10 {
        for mask in [0xffu8, 1, 0x80, 0x10] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            fix_checksum(&mut bad, start, end);
            match open(&bad) {
                Err(e) => {
                    expect_corruption(&e, "range-del flip");
                    refused += 1;
                }
                Ok(reader) => {
                    let f = reader.range_tombstones();
                    assert!(Fragments::from_fragmented(f.fragments().to_vec()).is_some());
                    assert_eq!(f.tombstone_count(), reader.properties().range_del_count);
                    accepted_different += usize::from(f != &range_dels());
                }
            }
        }
    }
    // Most flips break a length, the order or the count.
    assert!(
        refused > 3 * accepted_different,
        "{refused} refused, {accepted_different} accepted"
    );
}

/// Kind 3 is an entry only from format 4 on: the same bytes in the format-3 file
/// are corruption, found when the block is read and by verify.
#[test]
fn expiring_puts_in_a_format_3_file_are_corruption() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment_v3.seg");
    let mut v3 = std::fs::read(path).unwrap();
    let reader = open(&v3).unwrap();
    assert_eq!(reader.footer().format_version, 3);
    // "cherry" (value "dark red", 8 bytes, long enough for an expiry) in block 2.
    let block = reader.index_entries().unwrap()[1].handle;
    let (start, end) = (block.offset as usize, block.end() as usize);
    let at = start
        + v3[start..end]
            .windows(6)
            .position(|w| w == b"cherry")
            .unwrap()
        + 6;
    assert_eq!(v3[at], EntryKind::Put as u8);
    v3[at] = EntryKind::ExpiringPut as u8;
    fix_checksum(&mut v3, start, end);
    let reader = open(&v3).unwrap();
    let e = reader.get(b"cherry", MAX_SEQUENCE).unwrap_err();
    assert!(
        e.is_corruption() && e.to_string().contains("unknown kind 3"),
        "{e}"
    );
    assert!(!reader.verify().is_empty());
}
