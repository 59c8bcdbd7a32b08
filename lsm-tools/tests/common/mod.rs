//! Deterministic database directories and files built with `lsm-format` alone (no
//! engine), for the tools' tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lsm_format::log::LogWriter;
use lsm_format::manifest::{SegmentMeta, VersionEdit};
use lsm_format::wal::{encode_batch_header, encode_op, start_wal, WalFormat};
use lsm_format::{EntryKind, SegmentWriter, WriterOptions};

/// One version: key, seq, kind, value.
pub type Version<'a> = (&'a [u8], u64, EntryKind, &'a [u8]);

/// Fixed writer options so the bytes never change between runs.
pub fn writer_options() -> WriterOptions {
    WriterOptions {
        block_size: 64,
        restart_interval: 4,
        creator: "lsm-tools tests".into(),
        created_unix_ms: Some(1_700_000_000_000),
        ..WriterOptions::default()
    }
}

/// Writes a segment of `versions` (in internal order) to `path` and returns its
/// manifest record.
pub fn write_segment(path: &Path, number: u64, versions: &[Version]) -> SegmentMeta {
    let mut w = SegmentWriter::new(Vec::new(), writer_options());
    for (key, seq, kind, value) in versions {
        w.add(key, *seq, *kind, value).unwrap();
    }
    let finished = w.finish().unwrap();
    let p = finished.properties.clone();
    std::fs::write(path, &finished.out).unwrap();
    SegmentMeta {
        keyspace: 0,
        file_number: number,
        file_size: finished.file_size,
        smallest_key: p.smallest_key,
        largest_key: p.largest_key,
        smallest_seq: p.smallest_seq,
        largest_seq: p.largest_seq,
        entry_count: p.entry_count,
        tombstone_count: p.tombstone_count,
        blob_refs: Vec::new(),
    }
}

/// Frames `records` as a log.
pub fn log_bytes(records: &[Vec<u8>]) -> Vec<u8> {
    let mut w = LogWriter::new(0);
    let mut out = Vec::new();
    for r in records {
        w.add_record(r, &mut out);
    }
    out
}

/// Frames batch payloads as a WAL of the current format: the header record, then
/// `batches` in the framing that format gives them.
pub fn wal_bytes(batches: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = start_wal(WalFormat::CURRENT, &mut out);
    for b in batches {
        w.add_record(b, &mut out);
    }
    out
}

/// One WAL batch payload.
pub fn batch(first_seq: u64, synced: u64, ops: &[(EntryKind, &[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch_header(&mut out, first_seq, synced, ops.len() as u32);
    for (kind, key, value) in ops {
        encode_op(&mut out, *kind, key, value);
    }
    out
}

/// One manifest record payload.
pub fn edit(e: &VersionEdit) -> Vec<u8> {
    let mut out = Vec::new();
    e.encode(&mut out);
    out
}

const P: EntryKind = EntryKind::Put;
const D: EntryKind = EntryKind::Tombstone;

/// A small database built by hand:
/// - `000003.seg` in level 1: apple..=kiwi, old versions;
/// - `000004.seg` in level 0: newer versions, a tombstone for `banana`;
/// - `000006.wal`: the memtable, a put, an overwrite and a delete;
/// - `MANIFEST`: a snapshot edit and a commit marker.
///
/// Live view: apple=green, cherry=dark red, date=sweet, fig=purple, grape=0x00ff,
/// kiwi=fuzzy (+ long value), lemon=sour.
pub fn handmade_db(dir: &Path) {
    let long = vec![b'x'; 100];
    let seg3 = write_segment(
        &dir.join("000003.seg"),
        3,
        &[
            (b"apple", 2, P, b"red"),
            (b"banana", 3, P, b"yellow"),
            (b"cherry", 4, P, b"red"),
            (b"date", 5, P, b"sweet"),
            (b"fig", 6, P, b"purple"),
            (b"kiwi", 7, P, &long),
        ],
    );
    let seg4 = write_segment(
        &dir.join("000004.seg"),
        4,
        &[
            (b"apple", 10, P, b"green"),
            (b"banana", 11, D, b""),
            (b"cherry", 12, P, b"dark red"),
            (b"grape", 13, P, b"\x00\xff"),
        ],
    );
    let wal = wal_bytes(&[
        batch(14, 0, &[(P, b"lemon", b"sour"), (P, b"mango", b"ripe")]),
        batch(16, 0, &[(D, b"mango", b""), (P, b"kiwi", b"fuzzy")]),
    ]);
    std::fs::write(dir.join("000006.wal"), wal).unwrap();
    let snapshot = VersionEdit {
        format_version: Some(1),
        log_number: Some(6),
        next_file_number: Some(7),
        last_sequence: Some(13),
        added_segments: vec![(1, seg3), (0, seg4)],
        ..VersionEdit::default()
    };
    let manifest = log_bytes(&[edit(&snapshot), Vec::new()]);
    std::fs::write(dir.join("MANIFEST"), manifest).unwrap();
}

/// Runs a tool binary with `args` and returns its output.
pub fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run tool")
}

/// Runs `lsm DIR ARGS --echo` with `script` on standard input; returns (status
/// code, stdout with `dir` written `DIR`).
pub fn lsm_session(dir: &Path, args: &[&str], script: &str) -> (Option<i32>, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lsm"))
        .arg(dir)
        .args(args)
        .arg("--echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), redact_dir(&stdout(&out), dir))
}

/// Stdout of `bin ARGS`, which must succeed, with `dir` written `DIR`.
pub fn run_ok(bin: &str, dir: &Path, args: &[&str]) -> String {
    let out = run(bin, args);
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    redact_dir(&stdout(&out), dir)
}

/// Stdout of a run as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Replaces the temporary directory's path in tool output by `DIR`.
pub fn redact_dir(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "DIR")
}

/// `dir/name`.
pub fn p(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Engine options that make many small files: flushes every few hundred writes,
/// small segments.
pub fn small_options() -> lsm_core::Options {
    lsm_core::Options::default()
        .with_memtable_size(16 << 10)
        .with_segment_size(8 << 10)
        .with_block_size(512)
        .with_level1_size(32 << 10)
}

/// Like [`small_options`], but background compaction waits for many level-0
/// segments, so old versions and tombstones stay for `lsm-compact` to drop.
pub fn no_compaction_options() -> lsm_core::Options {
    small_options()
        .with_level0_compaction_trigger(1000)
        .with_level0_stop_writes(2000)
}

/// Fills a database through the engine with `keys` keys, each written `rounds`
/// times, then deletes every seventh key and overwrites every fifth; the last
/// deletes stay in a level-0 segment (flushed) and in the WAL. Returns the expected
/// live view as `key = value` lines.
pub fn engine_db(dir: &Path, keys: usize, rounds: usize) -> String {
    let db = lsm_core::Db::open(dir, no_compaction_options()).unwrap();
    let mut model = std::collections::BTreeMap::new();
    for round in 0..rounds {
        for i in 0..keys {
            let k = format!("key{i:05}");
            let v = format!("value-{round}-{i}-{}", "x".repeat(i % 17));
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    for i in (0..keys).step_by(7) {
        let k = format!("key{i:05}");
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    db.flush().unwrap();
    for i in (0..keys).step_by(5) {
        let k = format!("key{i:05}");
        if i % 2 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            db.put(&k, "last").unwrap();
            model.insert(k, "last".to_string());
        }
    }
    db.close().unwrap();
    model.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
}

/// Copies every file of `from` into `to` (created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Like [`write_segment`], with range tombstones in the file's range-tombstone block.
pub fn write_segment_with_ranges(
    path: &Path,
    number: u64,
    versions: &[Version],
    ranges: &[(&[u8], &[u8], u64)],
) -> SegmentMeta {
    use lsm_format::range_del::{Fragments, RangeTombstone};
    let mut w = SegmentWriter::new(Vec::new(), writer_options());
    for (key, seq, kind, value) in versions {
        w.add(key, *seq, *kind, value).unwrap();
    }
    let tombstones = ranges
        .iter()
        .map(|(s, e, seq)| RangeTombstone::new(s.to_vec(), e.to_vec(), *seq));
    w.add_range_tombstones(Fragments::from_tombstones(tombstones))
        .unwrap();
    let finished = w.finish().unwrap();
    let p = finished.properties.clone();
    std::fs::write(path, &finished.out).unwrap();
    SegmentMeta {
        keyspace: 0,
        file_number: number,
        file_size: finished.file_size,
        smallest_key: p.smallest_key,
        largest_key: p.largest_key,
        smallest_seq: p.smallest_seq,
        largest_seq: p.largest_seq,
        entry_count: p.entry_count,
        tombstone_count: p.tombstone_count,
        blob_refs: Vec::new(),
    }
}

/// The expiry time of the expiring puts of [`range_db`]: 2023-11-14 22:14:20 UTC.
pub const EXPIRES_AT_MS: u64 = 1_700_000_060_000;

/// A database built by hand with range deletes and expiring puts:
/// - `000003.seg` in level 1: six keys, two overlapping range tombstones
///   (`[b, m) @ 8` and `[f, s) @ 9`), an expiring put of `kiwi`;
/// - `000005.wal`: a batch with a range delete `[p, t)`, an expiring put and a put.
pub fn range_db(dir: &Path) {
    let expiring = lsm_format::entry::encode_expiring(EXPIRES_AT_MS, b"fuzzy");
    let seg = write_segment_with_ranges(
        &dir.join("000003.seg"),
        3,
        &[
            (b"apple", 2, P, b"red"),
            (b"banana", 3, P, b"yellow"),
            (b"grape", 4, P, b"green"),
            (b"kiwi", 5, EntryKind::ExpiringPut, &expiring),
            (b"plum", 6, P, b"blue"),
            (b"zucchini", 7, P, b"long"),
        ],
        &[(b"b", b"m", 8), (b"f", b"s", 9)],
    );
    let wal = wal_bytes(&[batch(
        10,
        0,
        &[
            (EntryKind::RangeDelete, b"p", b"t"),
            (EntryKind::ExpiringPut, b"quince", &expiring),
            (P, b"raisin", b"dry"),
        ],
    )]);
    std::fs::write(dir.join("000005.wal"), wal).unwrap();
    let snapshot = VersionEdit {
        format_version: Some(1),
        log_number: Some(5),
        next_file_number: Some(6),
        last_sequence: Some(9),
        added_segments: vec![(1, seg)],
        ..VersionEdit::default()
    };
    let manifest = log_bytes(&[edit(&snapshot), Vec::new()]);
    std::fs::write(dir.join("MANIFEST"), manifest).unwrap();
}
