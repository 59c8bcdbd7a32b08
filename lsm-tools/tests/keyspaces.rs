//! `lsm-dump` and `lsm-verify` on a database with keyspaces, built by hand in the
//! current formats: the manifest's
//! keyspace records and table, each segment's keyspace, WAL ops that name one, and
//! the check that a segment's properties name the keyspace the manifest puts it in.

mod common;

use common::{edit, log_bytes, run, run_ok, wal_bytes, writer_options};
use lsm_format::manifest::{DeletedSegment, SegmentMeta, VersionEdit};
use lsm_format::wal::{encode_batch_header, encode_op_in};
use lsm_format::{EntryKind, SegmentWriter, WriterOptions};

const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");
const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");

/// Writes segment `number` of `keyspace` holding `keys` (puts at seqs from `seq`).
fn segment(
    dir: &std::path::Path,
    number: u64,
    keyspace: u32,
    keys: &[&str],
    seq: u64,
) -> SegmentMeta {
    let options = WriterOptions {
        keyspace,
        ..writer_options()
    };
    let mut w = SegmentWriter::new(Vec::new(), options);
    for (i, k) in keys.iter().enumerate() {
        w.add(k.as_bytes(), seq + i as u64, EntryKind::Put, b"v")
            .unwrap();
    }
    let f = w.finish().unwrap();
    std::fs::write(dir.join(format!("{number:06}.seg")), &f.out).unwrap();
    let p = f.properties;
    SegmentMeta {
        keyspace,
        file_number: number,
        file_size: f.file_size,
        smallest_key: p.smallest_key,
        largest_key: p.largest_key,
        smallest_seq: p.smallest_seq,
        largest_seq: p.largest_seq,
        entry_count: p.entry_count,
        tombstone_count: p.tombstone_count,
        blob_refs: Vec::new(),
    }
}

/// Keyspaces 0, 1 `users` (a segment in level 1 overlapping keyspace 0's keys, which
/// is no overlap) and 2 `old`, dropped by a later edit that deletes its segment; a
/// WAL with ops of keyspaces 0 and 1.
fn keyspace_db(dir: &std::path::Path) {
    let s3 = segment(dir, 3, 0, &["a", "m"], 1);
    let s4 = segment(dir, 4, 1, &["b", "n"], 3);
    let s5 = segment(dir, 5, 2, &["c"], 5);
    let snapshot = VersionEdit {
        format_version: Some(3),
        log_number: Some(6),
        next_file_number: Some(7),
        last_sequence: Some(5),
        next_keyspace_id: Some(3),
        added_keyspaces: vec![(1, "users".into()), (2, "old".into())],
        added_segments: vec![(1, s3), (1, s4), (0, s5)],
        ..VersionEdit::default()
    };
    let drop = VersionEdit {
        dropped_keyspaces: vec![2],
        deleted_segments: vec![DeletedSegment {
            keyspace: 2,
            level: 0,
            file_number: 5,
        }],
        keyspace_log_numbers: vec![(1, 6)],
        ..VersionEdit::default()
    };
    let manifest = log_bytes(&[edit(&snapshot), Vec::new(), edit(&drop), Vec::new()]);
    std::fs::write(dir.join("MANIFEST"), manifest).unwrap();
    std::fs::remove_file(dir.join("000005.seg")).unwrap();
    let mut batch = Vec::new();
    encode_batch_header(&mut batch, 6, 0, 2);
    encode_op_in(&mut batch, 0, EntryKind::Put, b"x", b"0");
    encode_op_in(&mut batch, 1, EntryKind::Put, b"y", b"1");
    std::fs::write(dir.join("000006.wal"), wal_bytes(&[batch])).unwrap();
}

#[test]
fn dump_and_verify_show_keyspaces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    keyspace_db(dir);
    let manifest = run_ok(DUMP, dir, &[dir.join("MANIFEST").to_str().unwrap()]);
    assert!(
        manifest.contains("create keyspace 1 \"users\""),
        "{manifest}"
    );
    assert!(manifest.contains("drop keyspace 2"), "{manifest}");
    assert!(
        manifest.contains("delete keyspace 2 L0 000005.seg"),
        "{manifest}"
    );
    insta::assert_snapshot!("keyspaces_manifest_text", manifest);
    let wal = run_ok(DUMP, dir, &[dir.join("000006.wal").to_str().unwrap()]);
    insta::assert_snapshot!("keyspaces_wal_text", wal);
    let json = run_ok(
        DUMP,
        dir,
        &[dir.join("000006.wal").to_str().unwrap(), "--json"],
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["records"][1]["ops"][1]["keyspace"], 1);
    assert!(doc["records"][1]["ops"][0].get("keyspace").is_none());
    let segment = run_ok(DUMP, dir, &[dir.join("000004.seg").to_str().unwrap()]);
    assert!(segment.contains("keyspace         1"), "{segment}");
    // The engine serves every keyspace: the summary shows the database, with no
    // problem to report.
    let out = run(DUMP, &[dir.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = doc["problems"].to_string();
    assert!(!problems.contains("keyspace 1"), "{problems}");
    assert_eq!(doc["keyspaces"][1]["name"], "users");
    assert_eq!(doc["keyspaces"][1]["log_number"], 6);
    assert_eq!(doc["next_keyspace_id"], 3);
    assert_eq!(doc["segments"][1]["keyspace"], 1);
    // Levels are per keyspace, each down to its own deepest file.
    let levels: Vec<(u64, u64, u64)> = doc["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let n = |f: &str| l[f].as_u64().unwrap();
            (n("keyspace"), n("level"), n("files"))
        })
        .collect();
    assert_eq!(levels, [(0, 0, 0), (0, 1, 1), (1, 0, 0), (1, 1, 1)]);
    let out = run(DUMP, &[dir.to_str().unwrap()]);
    let summary = common::redact_dir(&common::stdout(&out), dir);
    assert!(
        summary.contains("levels of keyspace 1 \"users\""),
        "{summary}"
    );
    insta::assert_snapshot!("keyspaces_dir_text", summary);
    let out = run(VERIFY, &[dir.to_str().unwrap()]);
    let verify = common::redact_dir(&common::stdout(&out), dir);
    insta::assert_snapshot!("keyspaces_verify_text", verify);
}

#[test]
fn verify_finds_a_segment_in_the_wrong_keyspace() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    keyspace_db(dir);
    // Segment 4 rewritten as keyspace 0's, same contents: the manifest says 1.
    let mut meta = segment(dir, 4, 0, &["b", "n"], 3);
    meta.keyspace = 1;
    let out = run(VERIFY, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("keyspace is 0 in the file but 1 in the manifest"),
        "{text}"
    );
}

/// `lsm-dump --entries --keyspace NAME` lists a keyspace of a database the engine
/// wrote (the default one without the flag, or with `default`); a name the
/// database lacks fails with status 1 and creates nothing; `--keyspace` without
/// `--entries` is a usage error.
#[test]
fn dump_entries_of_a_keyspace() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = lsm_core::Db::open(dir, lsm_core::Options::default()).unwrap();
    db.put("colour", "red").unwrap();
    let users = db.keyspace("users").unwrap();
    users.put("ada", "lovelace").unwrap();
    users.put("colour", "blue").unwrap();
    users.flush().unwrap();
    drop(users);
    db.close().unwrap();
    let d = dir.to_str().unwrap();
    let listed = run_ok(DUMP, dir, &[d, "--entries", "--keyspace", "users"]);
    assert_eq!(listed, "ada = lovelace\ncolour = blue\n");
    assert_eq!(run_ok(DUMP, dir, &[d, "--entries"]), "colour = red\n");
    assert_eq!(
        run_ok(DUMP, dir, &[d, "--entries", "--keyspace", "default"]),
        "colour = red\n"
    );
    let out = run(DUMP, &[d, "--entries", "--keyspace", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no keyspace named \"nobody\""), "{err}");
    let db = lsm_core::Db::open(dir, lsm_core::Options::default()).unwrap();
    assert_eq!(db.keyspace_names(), ["default", "users"]);
    db.close().unwrap();
    let out = run(DUMP, &[d, "--keyspace", "users"]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--keyspace applies to --entries"), "{err}");
}
