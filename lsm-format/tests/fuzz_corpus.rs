//! Every fuzz target, on stable Rust: replays each committed seed in
//! `fuzz/corpus/<target>/` and then `FUZZ_CASES` (default 2000) deterministic inputs
//! per target, random or mutated from the seeds, through the same check functions
//! the fuzz targets call (`lsm_format::fuzzing`).
//!
//! The seeds are written by `write_seed_corpus` (ignored; run it with
//! `cargo test -p lsm-format --test fuzz_corpus -- --ignored write_seed_corpus`
//! after a format change, and commit the result).
//!
//! The `segment_*`, `block_decode` and `range_del_decode` targets exercise the
//! segment code of `lsm_format::segment`, `blob_decode` the blob files of
//! `lsm_format::blob`; the others the log, WAL and manifest code.
//! Seeds of older formats (`seed-v1-*`, `seed-v3-*`, `seed-v4-*`, `seed-v6-*` of
//! `segment_open`, the
//! `format-*` ones of `wal_replay`) were written by older writers and are kept as
//! they are.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use lsm_format::blob::BlobWriterOptions;
use lsm_format::entry::encode_expiring;
use lsm_format::fuzzing;
use lsm_format::log::LogWriter;
use lsm_format::manifest::{SegmentMeta, VersionEdit};
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::segment::block::compress_lz4;
use lsm_format::segment::block_builder::BlockBuilder;
use lsm_format::segment::range_del_block::encode_range_dels;
use lsm_format::segment::zstd_block::compress_zstd;
use lsm_format::wal::{
    encode_batch_header, encode_batch_header_v1, encode_op, encode_op_in, start_wal, WalFormat,
};
use lsm_format::{BlobWriter, Compression, EntryKind, SegmentWriter, WriterOptions};
use rand::{rngs::StdRng, Rng, SeedableRng};

type Check = fn(&[u8]);

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The committed seeds of `target`, in name order (hidden files skipped).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn cases() -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// One mutated input: a random seed (or nothing) changed by a few random edits, the
/// kinds of change a fuzzer makes.
fn mutate(seeds: &[Vec<u8>], rng: &mut StdRng, allow_large: bool) -> Vec<u8> {
    let mut data = if rng.gen_bool(0.1) {
        (0..rng.gen_range(0..600)).map(|_| rng.gen()).collect()
    } else {
        seeds[rng.gen_range(0..seeds.len())].clone()
    };
    for _ in 0..rng.gen_range(1..5) {
        let len = data.len();
        match rng.gen_range(0..9) {
            0 | 1 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] ^= 1 << rng.gen_range(0..8);
            }
            2 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] = [0, 0xff, rng.gen()][rng.gen_range(0..3)];
            }
            3 => data.truncate(rng.gen_range(0..=len)),
            4 => {
                let at = rng.gen_range(0..=len);
                let extra: Vec<u8> = (0..rng.gen_range(1..16)).map(|_| rng.gen()).collect();
                data.splice(at..at, extra);
            }
            5 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                data.drain(a..b);
            }
            6 if len > 0 => {
                // Splice the tail of another seed after a prefix of this one.
                let other = &seeds[rng.gen_range(0..seeds.len())];
                let cut = rng.gen_range(0..=len);
                let from = rng.gen_range(0..=other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 => data.extend(std::iter::repeat_n(0, rng.gen_range(1..40))),
            8 if allow_large && rng.gen_bool(0.05) => {
                // Past a 32 KiB log block boundary, so resynchronisation is reached.
                while !data.is_empty() && data.len() < 40_000 {
                    data.extend_from_within(..);
                }
            }
            _ => {}
        }
    }
    data
}

fn run(target: &str, check: Check, allow_large: bool) {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for seed in &seeds {
        check(seed);
    }
    let mut rng = StdRng::seed_from_u64(target.bytes().map(u64::from).sum());
    for _ in 0..cases() {
        check(&mutate(&seeds, &mut rng, allow_large));
    }
}

#[test]
fn log_read() {
    run("log_read", fuzzing::log_read, true);
}

#[test]
fn wal_replay() {
    run("wal_replay", fuzzing::wal_replay, true);
}

#[test]
fn manifest_decode() {
    run("manifest_decode", fuzzing::manifest_decode, true);
}

#[test]
fn segment_open() {
    run("segment_open", fuzzing::segment_open, false);
}

#[test]
fn block_decode() {
    run("block_decode", fuzzing::block_decode, false);
}

#[test]
fn segment_roundtrip() {
    run("segment_roundtrip", fuzzing::segment_roundtrip, false);
}

#[test]
fn range_del_decode() {
    run("range_del_decode", fuzzing::range_del_decode, false);
}

#[test]
fn blob_decode() {
    run("blob_decode", fuzzing::blob_decode, false);
}

// ---------------------------------------------------------------------------
// Seed corpus generation.

fn frame(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut w = LogWriter::new(0);
    let mut out = Vec::new();
    for p in payloads {
        w.add_record(p, &mut out);
    }
    out
}

/// A format-2 WAL of `batches` random batches.
fn wal(batches: usize, certify: bool, rng: &mut StdRng) -> Vec<u8> {
    wal_format(batches, certify, WalFormat::V2, rng)
}

fn wal_format(batches: usize, certify: bool, format: WalFormat, rng: &mut StdRng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = start_wal(format, &mut out);
    let mut seq = 1;
    for _ in 0..batches {
        let count = rng.gen_range(0..4);
        let mut p = Vec::new();
        let synced = if certify { out.len() as u64 } else { 0 };
        match format {
            WalFormat::V1 => encode_batch_header_v1(&mut p, seq, synced, count),
            WalFormat::V2 | WalFormat::V3 | WalFormat::V4 | WalFormat::V5 => {
                encode_batch_header(&mut p, seq, synced, count)
            }
        }
        let new_kinds = matches!(format, WalFormat::V4 | WalFormat::V5);
        for i in 0..count {
            let key = format!("key{}", rng.gen_range(0..50));
            if i % 3 == 2 {
                encode_op(&mut p, EntryKind::Tombstone, key.as_bytes(), b"");
            } else if new_kinds && i % 3 == 1 {
                // Format 4's own kinds, drawn without touching the generator.
                if seq % 2 == 0 {
                    let end = format!("{key}~");
                    encode_op(
                        &mut p,
                        EntryKind::RangeDelete,
                        key.as_bytes(),
                        end.as_bytes(),
                    );
                } else {
                    let value = encode_expiring(seq, b"expiring");
                    encode_op(&mut p, EntryKind::ExpiringPut, key.as_bytes(), &value);
                }
            } else {
                let value: Vec<u8> = (0..rng.gen_range(0..30)).map(|_| rng.gen()).collect();
                // Format 5: puts spread over keyspaces 0, 1 and 300 (a two-byte id).
                let keyspace = match format {
                    WalFormat::V5 => [0, 1, 300][(seq % 3) as usize],
                    _ => 0,
                };
                encode_op_in(&mut p, keyspace, EntryKind::Put, key.as_bytes(), &value);
            }
        }
        seq += u64::from(count);
        w.add_record(&p, &mut out);
    }
    out
}

fn meta(file_number: u64, a: &str, b: &str) -> SegmentMeta {
    SegmentMeta {
        keyspace: 0,
        file_number,
        file_size: 1000 + file_number,
        smallest_key: Bytes::copy_from_slice(a.as_bytes()),
        largest_key: Bytes::copy_from_slice(b.as_bytes()),
        smallest_seq: file_number,
        largest_seq: file_number + 5,
        entry_count: 10,
        tombstone_count: 2,
        blob_refs: Vec::new(),
    }
}

fn edit_bytes(edit: &VersionEdit) -> Vec<u8> {
    let mut out = Vec::new();
    edit.encode(&mut out);
    out
}

fn manifest() -> (Vec<u8>, Vec<u8>) {
    let snapshot = VersionEdit {
        format_version: Some(1),
        log_number: Some(3),
        next_file_number: Some(8),
        last_sequence: Some(500),
        added_segments: vec![
            (0, meta(5, "a", "m")),
            (0, meta(6, "b", "k")),
            (2, meta(7, "", "z")),
        ],
        ..Default::default()
    };
    let change = VersionEdit {
        log_number: Some(9),
        next_file_number: Some(11),
        last_sequence: Some(900),
        deleted_segments: vec![(0, 5).into(), (0, 6).into()],
        added_segments: vec![(1, meta(10, "a", "m")), (3, meta(7, "", "z"))],
        ..Default::default()
    };
    let change = VersionEdit {
        deleted_segments: vec![(0, 5).into(), (0, 6).into(), (2, 7).into()],
        ..change
    };
    let first = edit_bytes(&snapshot);
    let file = frame(&[first.clone(), vec![], edit_bytes(&change), vec![]]);
    (file, edit_bytes(&change))
}

/// A format-3 manifest with keyspaces: a snapshot holding keyspaces 1 and 2 with
/// segments of their own, then an edit that drops keyspace 1 with its segment,
/// creates keyspace 3 and moves keyspace 2's log number; and that edit alone.
fn manifest_with_keyspaces() -> (Vec<u8>, Vec<u8>) {
    let in_keyspace = |keyspace, m: SegmentMeta| SegmentMeta { keyspace, ..m };
    let snapshot = VersionEdit {
        format_version: Some(3),
        log_number: Some(3),
        next_file_number: Some(9),
        last_sequence: Some(500),
        next_keyspace_id: Some(3),
        added_keyspaces: vec![(1, "users".into()), (2, "ünïcode".into())],
        keyspace_log_numbers: vec![(2, 4)],
        added_segments: vec![
            (0, meta(5, "a", "m")),
            (0, in_keyspace(1, meta(6, "b", "k"))),
            (2, in_keyspace(2, meta(7, "", "z"))),
        ],
        ..Default::default()
    };
    let change = VersionEdit {
        next_file_number: Some(11),
        dropped_keyspaces: vec![1],
        deleted_segments: vec![lsm_format::manifest::DeletedSegment {
            keyspace: 1,
            level: 0,
            file_number: 6,
        }],
        added_keyspaces: vec![(3, "users".into())],
        added_segments: vec![(1, in_keyspace(3, meta(10, "a", "m")))],
        keyspace_log_numbers: vec![(2, 8), (3, 8)],
        ..Default::default()
    };
    let first = edit_bytes(&snapshot);
    let file = frame(&[first, vec![], edit_bytes(&change), vec![]]);
    (file, edit_bytes(&change))
}

fn segment(n: usize, options: WriterOptions, rng: &mut StdRng) -> Vec<u8> {
    let mut w = SegmentWriter::new(Vec::new(), options);
    for i in 0..n {
        let key = format!("key{:04}", i / 2);
        let seq = (1000 - i) as u64;
        if i % 5 == 4 {
            w.add(key.as_bytes(), seq, EntryKind::Tombstone, b"")
                .unwrap();
        } else {
            let value: Vec<u8> = if i % 2 == 0 {
                vec![b'x'; rng.gen_range(0..40)]
            } else {
                (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect()
            };
            if i % 7 == 3 {
                let stored = encode_expiring(1_700_000_000_000 + i as u64, &value);
                w.add(key.as_bytes(), seq, EntryKind::ExpiringPut, &stored)
                    .unwrap();
            } else {
                w.add(key.as_bytes(), seq, EntryKind::Put, &value).unwrap();
            }
        }
    }
    if n > 0 {
        w.add_range_tombstones(seed_range_dels()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Overlapping range tombstones over the seed segments' keys.
fn seed_range_dels() -> Fragments {
    Fragments::from_tombstones([
        RangeTombstone::new("key0002", "key0010", 2000),
        RangeTombstone::new("key0005", "key0020", 3),
        RangeTombstone::new("key0015", "key0016", 999),
        RangeTombstone::new("a", "b", 1),
    ])
}

fn seg_options(block_size: usize, bloom: u8, compression: Compression) -> WriterOptions {
    WriterOptions {
        block_size,
        restart_interval: 4,
        bloom_bits_per_key: bloom,
        compression,
        created_unix_ms: Some(0),
        creator: "seed".into(),
        keyspace: 0,
    }
}

fn block(n: usize, restart_interval: usize) -> Vec<u8> {
    let mut b = BlockBuilder::new(restart_interval);
    for i in 0..n {
        let key = format!("k{:03}", i);
        let tag = ((1000 - i as u64) << 8) | u64::from(i % 3 != 0);
        b.add(key.as_bytes(), tag, &vec![b'v'; i % 7]).unwrap();
    }
    b.finish().to_vec()
}

/// A blob file (number 7, as `fuzzing::blob_decode` opens it) of `n` records:
/// values that LZ4 shrinks, values it does not, and empty ones.
fn blob_file(n: usize, keyspace: u32, compression: Compression, rng: &mut StdRng) -> Vec<u8> {
    let options = BlobWriterOptions {
        file_number: 7,
        keyspace,
        compression,
    };
    let mut w = BlobWriter::new(Vec::new(), options).unwrap();
    for i in 0..n {
        let key = format!("key{i:04}");
        let value: Vec<u8> = match i % 3 {
            0 => vec![b'x'; rng.gen_range(0..200)],
            1 => (0..rng.gen_range(0..60)).map(|_| rng.gen()).collect(),
            _ => b"blob".repeat(rng.gen_range(0..30)),
        };
        w.add(key.as_bytes(), &value).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand after a format change"]
fn write_seed_corpus() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut files: Vec<(&str, &str, Vec<u8>)> = Vec::new();

    let records = frame(&[vec![], b"one".to_vec(), vec![7; 300], vec![1; 5000], vec![]]);
    files.push(("log_read", "records", records.clone()));
    files.push((
        "log_read",
        "truncated",
        records[..records.len() - 2000].to_vec(),
    ));
    let mut flipped = records.clone();
    flipped[20] ^= 4;
    files.push(("log_read", "bad-checksum", flipped));
    files.push(("log_read", "zero-tail", [records, vec![0; 100]].concat()));

    let w = wal(40, true, &mut rng);
    files.push(("wal_replay", "certified", w.clone()));
    files.push(("wal_replay", "truncated", w[..w.len() * 2 / 3].to_vec()));
    let mut flipped = w.clone();
    flipped[w.len() / 2] ^= 0x10;
    files.push(("wal_replay", "flipped-certified", flipped));
    files.push(("wal_replay", "uncertified", wal(20, false, &mut rng)));
    files.push((
        "wal_replay",
        "zero-tail",
        [wal(5, true, &mut rng), vec![0; 40]].concat(),
    ));
    // Its own generator, so that the seeds after it stay as they were.
    let mut v1_rng = StdRng::seed_from_u64(8);
    files.push((
        "wal_replay",
        "format-1",
        wal_format(20, true, WalFormat::V1, &mut v1_rng),
    ));
    let mut v3_rng = StdRng::seed_from_u64(9);
    let v3 = wal_format(30, true, WalFormat::V3, &mut v3_rng);
    files.push(("wal_replay", "format-3", v3.clone()));
    let mut flipped = v3.clone();
    flipped[3] ^= 0x10; // the header record: the framing is unknown
    files.push(("wal_replay", "format-3-header-flipped", flipped));
    files.push((
        "wal_replay",
        "format-3-truncated",
        v3[..v3.len() / 2].to_vec(),
    ));

    let mut v4_rng = StdRng::seed_from_u64(10);
    let v4 = wal_format(30, true, WalFormat::V4, &mut v4_rng);
    files.push(("wal_replay", "format-4", v4.clone()));
    files.push((
        "wal_replay",
        "format-4-truncated",
        v4[..v4.len() / 2].to_vec(),
    ));

    let mut v5_rng = StdRng::seed_from_u64(11);
    let v5 = wal_format(30, true, WalFormat::V5, &mut v5_rng);
    files.push(("wal_replay", "format-5", v5.clone()));
    files.push((
        "wal_replay",
        "format-5-truncated",
        v5[..v5.len() / 2].to_vec(),
    ));

    let (m, change) = manifest_with_keyspaces();
    files.push(("manifest_decode", "keyspaces", m.clone()));
    files.push(("manifest_decode", "keyspaces-edit", change));

    let (m, change) = manifest();
    files.push(("manifest_decode", "manifest", m.clone()));
    files.push(("manifest_decode", "truncated", m[..m.len() - 20].to_vec()));
    files.push(("manifest_decode", "edit", change));
    let mut flipped = m.clone();
    flipped[30] ^= 0x01;
    files.push(("manifest_decode", "flipped", flipped));

    let plain = segment(60, seg_options(256, 10, Compression::None), &mut rng);
    files.push(("segment_open", "plain", plain.clone()));
    files.push((
        "segment_open",
        "lz4",
        segment(80, seg_options(512, 10, Compression::Lz4), &mut rng),
    ));
    files.push((
        "segment_open",
        "no-bloom",
        segment(30, seg_options(4096, 0, Compression::None), &mut rng),
    ));
    files.push((
        "segment_open",
        "empty",
        segment(0, seg_options(4096, 10, Compression::None), &mut rng),
    ));
    files.push((
        "segment_open",
        "truncated",
        plain[..plain.len() - 30].to_vec(),
    ));
    let mut flipped = plain.clone();
    flipped[100] ^= 0x08;
    files.push(("segment_open", "flipped", flipped));
    let mut ks_rng = StdRng::seed_from_u64(12);
    let options = WriterOptions {
        keyspace: 300,
        ..seg_options(256, 10, Compression::None)
    };
    files.push((
        "segment_open",
        "keyspace",
        segment(20, options, &mut ks_rng),
    ));
    // Their own generator too, so that the seeds after them stay as they were.
    let mut zstd_rng = StdRng::seed_from_u64(14);
    let zstd = segment(80, seg_options(512, 10, Compression::Zstd), &mut zstd_rng);
    files.push(("segment_open", "zstd", zstd.clone()));
    let mut flipped = zstd.clone();
    flipped[40] ^= 0x20;
    files.push(("segment_open", "zstd-flipped", flipped));

    let b = block(40, 4);
    files.push(("block_decode", "block", b.clone()));
    files.push(("block_decode", "empty", 0u32.to_le_bytes().to_vec()));
    files.push(("block_decode", "one-restart", block(10, 16)));
    files.push(("block_decode", "truncated", b[..b.len() / 2].to_vec()));
    let mut lz4 = Vec::new();
    assert!(compress_lz4(&b, &mut lz4), "the seed block compresses");
    files.push(("block_decode", "lz4", lz4));
    let mut zstd = Vec::new();
    assert!(compress_zstd(&b, &mut zstd), "the seed block compresses");
    files.push(("block_decode", "zstd", zstd));

    let dels = encode_range_dels(&seed_range_dels());
    files.push(("range_del_decode", "fragments", dels.clone()));
    files.push(("range_del_decode", "empty", 0u32.to_le_bytes().to_vec()));
    files.push((
        "range_del_decode",
        "truncated",
        dels[..dels.len() / 2].to_vec(),
    ));
    let many = Fragments::from_tombstones((0..40u64).map(|i| {
        RangeTombstone::new(
            format!("k{:02}", i % 7),
            format!("k{:02}", 3 + i % 11),
            i * 1000,
        )
    }));
    files.push(("range_del_decode", "many-seqs", encode_range_dels(&many)));

    // Their own generator, so that the seeds after them stay as they were.
    let mut blob_rng = StdRng::seed_from_u64(13);
    let plain = blob_file(12, 0, Compression::None, &mut blob_rng);
    files.push(("blob_decode", "plain", plain.clone()));
    let lz4 = blob_file(16, 300, Compression::Lz4, &mut blob_rng);
    files.push(("blob_decode", "lz4", lz4.clone()));
    files.push((
        "blob_decode",
        "empty",
        blob_file(0, 0, Compression::Lz4, &mut blob_rng),
    ));
    // Cut inside a record, and inside the footer: crashes while writing.
    files.push(("blob_decode", "cut", lz4[..lz4.len() * 2 / 3].to_vec()));
    files.push((
        "blob_decode",
        "cut-footer",
        plain[..plain.len() - 10].to_vec(),
    ));
    let mut flipped = lz4.clone();
    flipped[lz4.len() / 2] ^= 0x10;
    files.push(("blob_decode", "flipped", flipped));
    // A pointer into `plain`, so that the pointer decoder is reached too.
    let pointer = lsm_format::BlobPointer {
        file_number: 7,
        offset: 25,
        len: 40,
        value_len: 20,
    };
    files.push(("blob_decode", "pointer", pointer.to_vec()));

    for (name, len) in [("short", 16), ("medium", 300), ("long", 3000)] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        files.push(("segment_roundtrip", name, bytes));
    }
    files.push((
        "segment_roundtrip",
        "text",
        b"\x03\x05\x0a\x01the quick brown fox jumps".to_vec(),
    ));
    files.push((
        "segment_roundtrip",
        "text-zstd",
        b"\x03\x05\x0a\x03the quick brown fox jumps over the lazy dog".to_vec(),
    ));

    for (target, name, bytes) in files {
        assert!(
            bytes.len() < 20 * 1024,
            "{target}/{name} is {} bytes",
            bytes.len()
        );
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}
