//! Blob files (`docs/format.md` section 8) from the outside: golden bytes, every
//! single-byte flip and every truncation of a small file, and round trips of random
//! files and pointers.
//!
//! A damaged file must give a typed corruption error or exactly the right value:
//! never a wrong value, a phantom record or a panic. Every byte of a blob file is
//! covered by a checksum (header, each record, footer), so `open` + `verify` notice
//! every flip; and a file cut anywhere has no valid footer, while its complete
//! records stay readable through `BlobIter::recover`.

use std::fmt::Write as _;

use bytes::Bytes;
use lsm_format::blob::{BlobIter, BlobReadOptions, BlobRecord, BlobWriterOptions};
use lsm_format::{BlobPointer, BlobReader, BlobWriter, Compression};
use proptest::prelude::*;

fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        writeln!(out, "{:08x}  {:<47}  |{ascii}|", i * 16, hex.join(" ")).unwrap();
    }
    out
}

/// The file of `docs/format.md` section 8.6: blob file 1 of keyspace 7, LZ4
/// allowed, with `apple` = `red` (stored as it is: LZ4 would not shrink it) and
/// `banana` = `yellow` eight times (stored compressed).
fn golden_file() -> (Vec<u8>, Vec<BlobPointer>) {
    let options = BlobWriterOptions {
        file_number: 1,
        keyspace: 7,
        compression: Compression::Lz4,
    };
    let mut w = BlobWriter::new(Vec::new(), options).unwrap();
    let pointers = vec![
        w.add(b"apple", b"red").unwrap(),
        w.add(b"banana", "yellow".repeat(8).as_bytes()).unwrap(),
    ];
    (w.finish().unwrap().into_inner(), pointers)
}

#[test]
fn golden_blob_file_bytes() {
    let (bytes, pointers) = golden_file();
    insta::assert_snapshot!(hex_dump(&bytes));
    // The example of docs/format.md section 8.6 is these bytes.
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md")).unwrap();
    assert!(
        doc.contains(&hex_dump(&bytes)),
        "docs/format.md section 8.6 does not show the golden blob file"
    );
    let encoded: Vec<String> = pointers
        .iter()
        .map(|p| {
            let hex: Vec<String> = p.to_vec().iter().map(|b| format!("{b:02x}")).collect();
            format!("{p:?} = {}", hex.join(" "))
        })
        .collect();
    insta::assert_snapshot!("golden_blob_pointers", encoded.join("\n"));
    let reader = BlobReader::open(Bytes::from(bytes), BlobReadOptions::for_file(1)).unwrap();
    assert_eq!(&reader.get(&pointers[0]).unwrap()[..], b"red");
    reader.verify().unwrap();
}

/// A small file with plain and compressed values, empty ones among them.
fn small_file(compression: Compression) -> (Vec<u8>, Vec<BlobRecord>) {
    let options = BlobWriterOptions {
        file_number: 3,
        // Two non-zero bytes, so that flips in the id are seen.
        keyspace: 0x0109,
        compression,
    };
    let mut w = BlobWriter::new(Vec::new(), options).unwrap();
    let mut records = Vec::new();
    let values: [&[u8]; 5] = [b"", b"v1", &[b'z'; 90], b"not compressible", b"ab"];
    for (i, value) in values.into_iter().enumerate() {
        let key = format!("key{i}").into_bytes();
        let value = if i == 2 && compression == Compression::Lz4 {
            // A compressed value whose LZ4 block is more than a token.
            [&b"0123456789"[..], value, b"0123456789"].concat()
        } else {
            value.to_vec()
        };
        let pointer = w.add(&key, &value).unwrap();
        records.push(BlobRecord {
            key: key.into(),
            value: value.into(),
            pointer,
        });
    }
    (w.finish().unwrap().into_inner(), records)
}

fn open(bytes: Vec<u8>) -> lsm_format::Result<BlobReader> {
    BlobReader::open(Bytes::from(bytes), BlobReadOptions::for_file(3))
}

/// Every record `get` returns, and every record an iterator yields, is exactly one
/// written there; every error is typed corruption naming the file.
fn check_no_wrong_value(reader: &BlobReader, records: &[BlobRecord], what: &str) {
    for r in records {
        match reader.get_record(&r.pointer) {
            Ok(got) => assert_eq!(&got, r, "{what}: wrong record"),
            Err(e) => {
                assert!(e.is_corruption(), "{what}: {e}");
                assert!(e.to_string().contains("000003.blob"), "{what}: {e}");
            }
        }
    }
    for got in reader.iter() {
        match got {
            Ok(got) => assert!(records.contains(&got), "{what}: phantom record {got:?}"),
            Err(e) => assert!(e.is_corruption(), "{what}: {e}"),
        }
    }
}

#[test]
fn every_single_byte_flip_is_caught() {
    for compression in [Compression::None, Compression::Lz4] {
        let (bytes, records) = small_file(compression);
        assert!(
            records.iter().any(|r| r.pointer.len < r.value.len() as u32)
                == (compression == Compression::Lz4)
        );
        let clean = open(bytes.clone()).unwrap();
        clean.verify().unwrap();
        check_no_wrong_value(&clean, &records, "clean");
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                let what = format!("{compression:?}, byte {i} ^ {mask:#04x}");
                match open(bad.clone()) {
                    Err(e) => assert!(e.is_corruption(), "{what}: {e}"),
                    Ok(reader) => {
                        let e = reader.verify().expect_err(&what);
                        assert!(e.is_corruption(), "{what}: {e}");
                        assert!(e.to_string().contains("000003.blob"), "{what}: {e}");
                        check_no_wrong_value(&reader, &records, &what);
                    }
                }
                if let Ok(iter) = BlobIter::recover(Bytes::from(bad), BlobReadOptions::for_file(3))
                {
                    for got in iter {
                        match got {
                            Ok(got) => assert!(records.contains(&got), "{what}: phantom {got:?}"),
                            Err(e) => assert!(e.is_corruption(), "{what}: {e}"),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_caught_and_its_complete_records_recovered() {
    for compression in [Compression::None, Compression::Lz4] {
        let (bytes, records) = small_file(compression);
        for cut in 0..bytes.len() {
            let what = format!("{compression:?}, cut at {cut}");
            let e = open(bytes[..cut].to_vec()).expect_err(&what);
            assert!(e.is_corruption(), "{what}: {e}");
            let recovered = BlobIter::recover(
                Bytes::copy_from_slice(&bytes[..cut]),
                BlobReadOptions::for_file(3),
            );
            let Ok(mut iter) = recovered else {
                assert!(cut < 25, "{what}: the header is whole but refused");
                continue;
            };
            let complete: Vec<&BlobRecord> = records
                .iter()
                .filter(|r| r.pointer.offset + u64::from(r.pointer.len) <= cut as u64)
                .collect();
            let mut got = Vec::new();
            let mut failed = false;
            for r in iter.by_ref() {
                match r {
                    Ok(r) => got.push(r),
                    Err(e) => {
                        assert!(e.is_corruption(), "{what}: {e}");
                        failed = true;
                    }
                }
            }
            assert_eq!(got.iter().collect::<Vec<_>>(), complete, "{what}");
            let end = complete
                .last()
                .map_or(25, |r| r.pointer.offset + u64::from(r.pointer.len));
            assert_eq!(iter.position(), end, "{what}");
            // Only a cut exactly after a record leaves nothing to complain about.
            assert_eq!(failed, end != cut as u64, "{what}");
        }
        // The whole file: every record, and no complaint about the footer.
        let iter = BlobIter::recover(Bytes::from(bytes), BlobReadOptions::for_file(3)).unwrap();
        let all: Vec<BlobRecord> = iter.map(Result::unwrap).collect();
        assert_eq!(all, records);
    }
}

/// Values that LZ4 shrinks (runs of one byte, repeated words) and values it does not.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (any::<u8>(), 0..3000usize).prop_map(|(b, n)| vec![b; n]),
        ("[a-d]{1,6}", 0..200usize).prop_map(|(w, n)| w.repeat(n).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_files_read_back(
        lz4 in any::<bool>(),
        keyspace in 0u32..1000,
        file_number in any::<u64>(),
        records in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40), value()), 0..16),
    ) {
        let compression = if lz4 { Compression::Lz4 } else { Compression::None };
        let options = BlobWriterOptions { file_number, keyspace, compression };
        let mut w = BlobWriter::new(Vec::new(), options).unwrap();
        let pointers: Vec<BlobPointer> =
            records.iter().map(|(k, v)| w.add(k, v).unwrap()).collect();
        let finished = w.finish().unwrap();
        let p = finished.properties;
        prop_assert_eq!(p.record_count, records.len() as u64);
        prop_assert_eq!(p.value_bytes, records.iter().map(|(_, v)| v.len() as u64).sum::<u64>());
        let bytes = finished.into_inner();
        prop_assert_eq!(bytes.len() as u64, p.file_size);
        let reader = BlobReader::open(Bytes::from(bytes), BlobReadOptions::for_file(file_number)).unwrap();
        prop_assert_eq!(reader.properties(), &p);
        for ((k, v), pointer) in records.iter().zip(&pointers) {
            prop_assert_eq!(pointer.value_len as usize, v.len());
            let decoded = BlobPointer::decode(&pointer.to_vec()).unwrap();
            prop_assert_eq!(&decoded, pointer);
            let r = reader.get_record(&decoded).unwrap();
            prop_assert_eq!((&r.key[..], &r.value[..]), (&k[..], &v[..]));
        }
        let walked: Vec<BlobPointer> = reader.iter().map(|r| r.unwrap().pointer).collect();
        prop_assert_eq!(walked, pointers);
        reader.verify().unwrap();
    }

    #[test]
    fn pointers_round_trip(
        file_number in any::<u64>(),
        offset in 25u64..,
        len in lsm_format::blob::MIN_RECORD_LEN..=lsm_format::blob::MAX_RECORD_LEN,
        value_len in 0u32..=(lsm_format::MAX_VALUE_LEN as u32),
    ) {
        let p = BlobPointer { file_number, offset, len, value_len };
        let bytes = p.to_vec();
        prop_assert_eq!(bytes.len(), p.encoded_len());
        prop_assert_eq!(BlobPointer::decode(&bytes).unwrap(), p);
        // Any byte missing, or one too many, is refused.
        prop_assert!(BlobPointer::decode(&bytes[..bytes.len() - 1]).is_err());
        let longer = [&bytes[..], &[0]].concat();
        prop_assert!(BlobPointer::decode(&longer).unwrap_err().is_corruption());
    }

    #[test]
    fn arbitrary_bytes_decode_as_a_pointer_without_panicking(
        versioned in any::<bool>(),
        mut bytes in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        // Mostly with the right version byte, so that the fields are reached.
        if let (true, Some(first)) = (versioned, bytes.first_mut()) {
            *first = lsm_format::blob::BLOB_POINTER_VERSION;
        }
        match BlobPointer::decode(&bytes) {
            Ok(p) => {
                // Varints may be overlong in the input; the canonical encoding is
                // no longer and decodes the same.
                let again = p.to_vec();
                prop_assert!(again.len() <= bytes.len());
                prop_assert_eq!(BlobPointer::decode(&again).unwrap(), p);
            }
            Err(e) => prop_assert!(e.is_corruption()),
        }
    }
}
