//! Golden bytes of a small segment: any change to the segment encoding shows up here
//! as a snapshot diff, to be reviewed against `docs/format.md` (and
//! `SEGMENT_FORMAT_VERSION`).

use std::fmt::Write as _;

use bytes::Bytes;
use lsm_format::{EntryKind, ReadOptions, SegmentReader, SegmentWriter, WriterOptions};

fn golden_segment() -> Vec<u8> {
    let options = WriterOptions {
        block_size: 64,
        restart_interval: 2,
        bloom_bits_per_key: 10,
        created_unix_ms: Some(1_700_000_000_000),
        creator: "golden".into(),
        ..WriterOptions::default()
    };
    let mut w = SegmentWriter::new(Vec::new(), options);
    w.add(b"apple", 7, EntryKind::Put, b"red").unwrap();
    w.add(b"apple", 3, EntryKind::Tombstone, b"").unwrap();
    w.add(b"apricot", 5, EntryKind::Put, b"orange").unwrap();
    w.add(b"banana", 9, EntryKind::Put, b"yellow").unwrap();
    w.add(b"", 1, EntryKind::Put, b"").unwrap_err();
    w.add(b"cherry", 2, EntryKind::Put, b"dark red").unwrap();
    w.finish().unwrap().into_inner()
}

/// 16 bytes per line: offset, hex, printable ASCII.
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

#[test]
fn golden_segment_bytes() {
    let bytes = golden_segment();
    insta::assert_snapshot!(hex_dump(&bytes));
}

#[test]
fn golden_segment_layout() {
    let reader =
        SegmentReader::open(Bytes::from(golden_segment()), ReadOptions::default()).unwrap();
    assert!(reader.verify().is_empty());
    let mut out = String::new();
    for r in reader.layout().unwrap() {
        writeln!(
            out,
            "{:>10} offset {:>5} len {:>4}",
            r.kind, r.offset, r.len
        )
        .unwrap();
    }
    for e in reader.index_entries().unwrap() {
        writeln!(
            out,
            "index {:?} seq {} -> {:?}",
            e.last_key, e.last_seq, e.handle
        )
        .unwrap();
    }
    writeln!(out, "{:#?}", reader.properties()).unwrap();
    insta::assert_snapshot!(out);
}
