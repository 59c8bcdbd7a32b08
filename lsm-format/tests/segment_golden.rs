//! Golden bytes of small segments: any change to the segment encoding shows up here
//! as a snapshot diff, to be reviewed against `docs/format.md` (and
//! `SEGMENT_FORMAT_VERSION`).
//!
//! `golden_segment_v7_zstd*` is what the writer writes now with zstd compression:
//! format 7, one zstd data block. `golden_segment_v6*` are the format-6 writer's
//! bytes (`data/segment_v6.seg`, checked in): the format-5 golden's entries plus a
//! blob pointer entry (kind 4); the writer now writes the same with format 7.
//! The zstd bytes are those of the bundled zstd library pinned in `Cargo.lock` at
//! level 3: another library version may choose other (equally valid) bytes, which
//! this snapshot would show. `golden_segment_v5*` are
//! the format-5 writer's bytes (`data/segment_v5.seg`, checked in): expiring
//! puts, range tombstones and the keyspace id (7 here) in the properties.
//! `golden_segment_v4*` are the same entries and tombstones as the format-4 writer
//! wrote them (`data/segment_v4.seg`, checked in), and `golden_segment_bytes` and
//! `golden_segment_layout` the same five entries as the format-3 writer wrote them
//! (`data/segment_v3.seg`); both must still read.

use std::fmt::Write as _;
use std::path::Path;

use bytes::Bytes;
use lsm_format::entry::encode_expiring;
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::{
    BlobPointer, Compression, EntryKind, ReadOptions, SegmentReader, SegmentWriter, WriterOptions,
};

fn golden_options() -> WriterOptions {
    WriterOptions {
        block_size: 64,
        restart_interval: 2,
        bloom_bits_per_key: 10,
        created_unix_ms: Some(1_700_000_000_000),
        creator: "golden".into(),
        ..WriterOptions::default()
    }
}

/// The five entries of both goldens.
fn add_entries(w: &mut SegmentWriter<Vec<u8>>, expiring: bool) {
    w.add(b"apple", 7, EntryKind::Put, b"red").unwrap();
    w.add(b"apple", 3, EntryKind::Tombstone, b"").unwrap();
    w.add(b"apricot", 5, EntryKind::Put, b"orange").unwrap();
    if expiring {
        // Expires at 1 700 000 060 000 ms (0x18bcfe92860).
        let stored = encode_expiring(1_700_000_060_000, b"yellow");
        w.add(b"banana", 9, EntryKind::ExpiringPut, &stored)
            .unwrap();
    } else {
        w.add(b"banana", 9, EntryKind::Put, b"yellow").unwrap();
    }
    w.add(b"", 1, EntryKind::Put, b"").unwrap_err();
    w.add(b"cherry", 2, EntryKind::Put, b"dark red").unwrap();
}

/// The format-3 file the previous writer wrote from `add_entries(w, false)` with
/// `golden_options()`.
fn golden_segment() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment_v3.seg")).unwrap()
}

/// Range tombstones `[apple, b) @ 4` and `[avocado, date) @ 11`, which overlap in
/// `[avocado, b)` and reach past the last key (`date` > `cherry`).
fn golden_range_dels() -> Fragments {
    Fragments::from_tombstones([
        RangeTombstone::new("apple", "b", 4),
        RangeTombstone::new("avocado", "date", 11),
    ])
}

/// The format-4 file the previous writer wrote from `golden_range_dels()` and
/// `add_entries(w, true)` with `golden_options()`.
fn golden_segment_v4() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment_v4.seg")).unwrap()
}

/// The format-5 file the previous writer wrote: the format-4 golden's contents,
/// in keyspace 7.
fn golden_segment_v5() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment_v5.seg")).unwrap()
}

/// The pointer of the format-6 golden's blob entry: the second record of the
/// blob file example of `docs/format.md` section 8.6.
const GOLDEN_POINTER: BlobPointer = BlobPointer {
    file_number: 1,
    offset: 44,
    len: 35,
    value_len: 48,
};

/// The format-6 file the previous writer wrote: the format-5 golden's contents, in
/// keyspace 7, plus `blueberry` @ 6 as a blob pointer entry.
fn golden_segment_v6() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment_v6.seg")).unwrap()
}

/// The format-6 golden's contents as the writer writes them now (format 7).
fn rewritten_v6() -> Vec<u8> {
    let mut w = SegmentWriter::new(Vec::new(), v5_options());
    w.add_range_tombstones(golden_range_dels()).unwrap();
    add_entries_with_blob(&mut w);
    w.finish().unwrap().into_inner()
}

fn v5_options() -> WriterOptions {
    WriterOptions {
        keyspace: 7,
        ..golden_options()
    }
}

/// The entries of `add_entries(w, true)` with the blob pointer entry in its place.
fn add_entries_with_blob(w: &mut SegmentWriter<Vec<u8>>) {
    w.add(b"apple", 7, EntryKind::Put, b"red").unwrap();
    w.add(b"apple", 3, EntryKind::Tombstone, b"").unwrap();
    w.add(b"apricot", 5, EntryKind::Put, b"orange").unwrap();
    let stored = encode_expiring(1_700_000_060_000, b"yellow");
    w.add(b"banana", 9, EntryKind::ExpiringPut, &stored)
        .unwrap();
    w.add(
        b"blueberry",
        6,
        EntryKind::BlobPointer,
        &GOLDEN_POINTER.to_vec(),
    )
    .unwrap();
    w.add(b"cherry", 2, EntryKind::Put, b"dark red").unwrap();
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
    insta::assert_snapshot!(layout(golden_segment()));
}

#[test]
fn golden_segment_v4_bytes() {
    insta::assert_snapshot!(hex_dump(&golden_segment_v4()));
}

#[test]
fn golden_segment_v4_layout() {
    insta::assert_snapshot!(layout(golden_segment_v4()));
}

#[test]
fn golden_segment_v5_bytes() {
    insta::assert_snapshot!(hex_dump(&golden_segment_v5()));
}

#[test]
fn golden_segment_v5_layout() {
    insta::assert_snapshot!(layout(golden_segment_v5()));
}

#[test]
fn golden_segment_v6_bytes() {
    insta::assert_snapshot!(hex_dump(&golden_segment_v6()));
}

#[test]
fn golden_segment_v6_layout() {
    insta::assert_snapshot!(layout(golden_segment_v6()));
}

/// Format 7 with zstd, as written now: 24 entries in one data block of about 900
/// bytes, which zstd shrinks by more than 1/8.
fn golden_segment_v7_zstd() -> Vec<u8> {
    let options = WriterOptions {
        block_size: 4096,
        compression: Compression::Zstd,
        ..v5_options()
    };
    let mut w = SegmentWriter::new(Vec::new(), options);
    for i in 0..24u64 {
        let key = format!("key-{i:04}");
        let value = format!("value of {key}, and again value of {key}");
        w.add(key.as_bytes(), 100 + i, EntryKind::Put, value.as_bytes())
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn golden_segment_v7_zstd_bytes() {
    insta::assert_snapshot!(hex_dump(&golden_segment_v7_zstd()));
}

#[test]
fn golden_segment_v7_zstd_layout() {
    insta::assert_snapshot!(layout(golden_segment_v7_zstd()));
}

/// Format 7 is format 6 with zstd data blocks: without one, the writer's bytes differ
/// from the format-6 golden's only in the two version numbers and their checksums;
/// the zstd golden's data block is stored with compression 2 and reads back.
#[test]
fn format_7_adds_zstd_to_format_6() {
    let now = rewritten_v6();
    let v6 = golden_segment_v6();
    assert_eq!(now.len(), v6.len());
    let differing: Vec<usize> = (0..v6.len()).filter(|&i| v6[i] != now[i]).collect();
    let r = SegmentReader::open(Bytes::from(now.clone()), ReadOptions::default()).unwrap();
    let props = r.footer().properties;
    let in_props = |i: usize| (props.offset..props.end()).contains(&(i as u64));
    let footer_start = now.len() - lsm_format::segment::FOOTER_LEN;
    assert!(
        differing.iter().all(|&i| in_props(i) || i >= footer_start),
        "{differing:?}"
    );
    assert_eq!(now[props.offset as usize], 7);
    assert_eq!(v6[props.offset as usize], 6);

    let bytes = golden_segment_v7_zstd();
    let z = SegmentReader::open(Bytes::from(bytes.clone()), ReadOptions::default()).unwrap();
    assert_eq!(z.footer().format_version, 7);
    assert_eq!(z.properties().compression, Compression::Zstd as u8);
    let block = z.index_entries().unwrap()[0].handle;
    let trailer = (block.offset + u64::from(block.len)) as usize;
    assert_eq!(bytes[trailer], Compression::Zstd as u8);
    // The contents: uncompressed length, then the zstd frame's magic.
    let at = block.offset as usize;
    assert_eq!(&bytes[at + 4..at + 8], &[0x28, 0xB5, 0x2F, 0xFD]);
    assert!(block.len < 600, "{block:?}");
    let found = z.get(b"key-0017", 1000).unwrap().unwrap();
    assert_eq!(
        &found.value[..],
        b"value of key-0017, and again value of key-0017"
    );
    assert_eq!(z.entries().count(), 24);
    assert_eq!(z.verify(), vec![]);
}

/// Format 6 is format 5 with blob pointer entries: without one, the writer's bytes
/// differ from the format-5 golden's only in the two version numbers; the pointer
/// entry reads back with its kind and pointer; a format-5 file holding kind 4 is
/// corruption, as is a pointer entry whose value is not a pointer.
#[test]
fn format_6_adds_blob_pointers_to_format_5() {
    let mut w = SegmentWriter::new(Vec::new(), v5_options());
    w.add_range_tombstones(golden_range_dels()).unwrap();
    add_entries(&mut w, true);
    let without = w.finish().unwrap().into_inner();
    let v5 = golden_segment_v5();
    assert_eq!(without.len(), v5.len());
    let differing: Vec<usize> = (0..v5.len()).filter(|&i| v5[i] != without[i]).collect();
    let r = SegmentReader::open(Bytes::from(without.clone()), ReadOptions::default()).unwrap();
    let props = r.footer().properties;
    // The properties' version (and so their checksum), and the footer's version
    // (and so its checksum): nothing else.
    let in_props = |i: usize| (props.offset..props.end()).contains(&(i as u64));
    let footer_start = without.len() - lsm_format::segment::FOOTER_LEN;
    assert!(
        differing.iter().all(|&i| in_props(i) || i >= footer_start),
        "{differing:?}"
    );
    assert_eq!(without[props.offset as usize], 7);
    assert_eq!(v5[props.offset as usize], 5);

    let v6 = SegmentReader::open(Bytes::from(golden_segment_v6()), ReadOptions::default()).unwrap();
    assert_eq!(v6.footer().format_version, 6);
    let found = v6.get(b"blueberry", 100).unwrap().unwrap();
    assert_eq!(found.kind, EntryKind::BlobPointer);
    assert_eq!(BlobPointer::decode(&found.value).unwrap(), GOLDEN_POINTER);
    let kinds: Vec<EntryKind> = v6.entries().map(|e| e.unwrap().kind).collect();
    assert_eq!(kinds.len(), 6);
    assert_eq!(kinds[4], EntryKind::BlobPointer);
    assert_eq!(v6.verify(), vec![]);

    let mut w = SegmentWriter::new(Vec::new(), v5_options());
    let e = w
        .add(b"k", 1, EntryKind::BlobPointer, b"not a pointer")
        .unwrap_err();
    assert!(matches!(e, lsm_format::Error::InvalidArgument(_)), "{e}");
}

/// Format 5 is format 4 with the keyspace id after `range_del_count`: the same
/// blocks, a properties block 4 bytes longer, and the id read back; format-4 files
/// belong to keyspace 0.
#[test]
fn format_5_adds_the_keyspace_to_format_4() {
    let v4 = SegmentReader::open(Bytes::from(golden_segment_v4()), ReadOptions::default()).unwrap();
    let v5 = SegmentReader::open(Bytes::from(golden_segment_v5()), ReadOptions::default()).unwrap();
    assert_eq!(v4.footer().format_version, 4);
    assert_eq!(v5.footer().format_version, 5);
    assert_eq!((v4.properties().keyspace, v5.properties().keyspace), (0, 7));
    assert_eq!(golden_segment_v5().len(), golden_segment_v4().len() + 4);
    let props = v4.footer().properties;
    let before = usize::try_from(props.offset).unwrap();
    assert_eq!(golden_segment_v5()[..before], golden_segment_v4()[..before]);
    let mut p4 = v4.properties().clone();
    p4.format_version = 5;
    p4.keyspace = 7;
    assert_eq!(&p4, v5.properties());
    // Keyspace 0 is written too (format 5 always has the field).
    let mut w = SegmentWriter::new(Vec::new(), golden_options());
    w.add_range_tombstones(golden_range_dels()).unwrap();
    add_entries(&mut w, true);
    let zero = w.finish().unwrap().into_inner();
    assert_eq!(zero.len(), golden_segment_v5().len());
    let zero = SegmentReader::open(Bytes::from(zero), ReadOptions::default()).unwrap();
    assert_eq!(zero.properties().keyspace, 0);
}

/// The format-3 file and the format-4 one hold the same entries (the expiring put
/// aside), read the same way; only the latter has range tombstones.
#[test]
fn both_goldens_read_back() {
    let v3 = SegmentReader::open(Bytes::from(golden_segment()), ReadOptions::default()).unwrap();
    let v4 = SegmentReader::open(Bytes::from(golden_segment_v4()), ReadOptions::default()).unwrap();
    assert_eq!(v3.footer().format_version, 3);
    assert_eq!(v4.footer().format_version, 4);
    assert!(v3.range_tombstones().is_empty());
    assert_eq!(v4.range_tombstones(), &golden_range_dels());
    let entries = |r: &SegmentReader| {
        r.entries()
            .map(|e| e.map(|e| (e.key, e.seq, e.kind, e.value)))
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    let (old, new) = (entries(&v3), entries(&v4));
    assert_eq!(old.len(), 5);
    for (o, n) in old.iter().zip(&new) {
        if o.0 == b"banana"[..] {
            assert_eq!(
                (n.2, &n.3[..]),
                (
                    EntryKind::ExpiringPut,
                    &encode_expiring(1_700_000_060_000, b"yellow")[..]
                )
            );
        } else {
            assert_eq!(o, n);
        }
    }
    let found = v4.get(b"banana", 100).unwrap().unwrap();
    assert_eq!(found.kind, EntryKind::ExpiringPut);
    assert_eq!(
        lsm_format::entry::decode_expiring(&found.value),
        Some((1_700_000_060_000, &b"yellow"[..]))
    );
    // The format-3 writer's bytes, rewritten now, differ only by the additions of
    // formats 4 (an empty range-tombstone block, `range_del_count`) and 5 (the
    // keyspace).
    let mut w = SegmentWriter::new(Vec::new(), golden_options());
    add_entries(&mut w, false);
    let rewritten = w.finish().unwrap().into_inner();
    assert_eq!(rewritten.len(), golden_segment().len() + 14 + 8 + 4);
    assert_eq!(rewritten[..142], golden_segment()[..142]);
}

fn layout(bytes: Vec<u8>) -> String {
    let reader = SegmentReader::open(Bytes::from(bytes), ReadOptions::default()).unwrap();
    assert_eq!(reader.verify(), vec![]);
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
    for t in reader.range_tombstones().fragments() {
        writeln!(
            out,
            "range-del [{:?}, {:?}) seqs {:?}",
            t.start, t.end, t.seqs
        )
        .unwrap();
    }
    out
}
