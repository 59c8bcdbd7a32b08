//! The tools on a database that keeps large values in blob files (key-value
//! separation), built with the engine: `lsm-dump` of a blob file, of the directory
//! (the blob files and how much of each the live segments still point to), of the
//! manifest (tags 14 to 16) and of a segment's pointer entries; `lsm-verify` of a
//! sound database, of one whose blob file was damaged or deleted by hand, with a
//! blob file no segment points into (a leak: a warning) and with one the manifest
//! does not list; `explain` and `stats` in the shell; `lsm-compact`.

mod common;

use std::path::Path;

use common::{copy_dir, lsm_session, p, redact_dir, run, run_ok, stdout};
use lsm_core::{Db, Options};

const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");
const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");
const COMPACT: &str = env!("CARGO_BIN_EXE_lsm-compact");

/// Values of at least this many bytes go to blob files.
const THRESHOLD: usize = 64;

/// Engine options: blob files from 64 bytes, no background compaction (the files
/// are made by the explicit flushes and compaction below, so their bytes do not
/// depend on timing), and no blob rewriting (so that garbage stays to be shown).
fn options() -> Options {
    Options::default()
        .with_blob_threshold(Some(THRESHOLD))
        .with_level0_compaction_trigger(1000)
        .with_level0_stop_writes(2000)
        .with_blob_gc_ratio(1.0)
}

/// A value of `len` bytes that LZ4 cannot shorten.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}

/// The database of these tests:
/// - keyspace 0: `apple` (300 bytes of noise), `banana` (80 compressible bytes),
///   `cherry` (short, inline), `date` (90 bytes of noise), `elder` (120
///   compressible bytes), flushed into a segment and a blob file; then `banana`
///   deleted and `date` overwritten with a short value, flushed, and a full
///   compaction, so that the blob file holds two values no live segment points to
///   any more (less than half of it: a shell opening the database with the default
///   `blob_gc_ratio` has nothing to rewrite);
/// - keyspace 1 `users`: `ada` (200 bytes of noise), in a blob file of its own;
/// - the WAL: `fig`, inline.
fn blob_db(dir: &Path) {
    let db = Db::open(dir, options()).unwrap();
    db.put("apple", noise(1, 300)).unwrap();
    db.put("banana", vec![b'b'; 80]).unwrap();
    db.put("cherry", "red").unwrap();
    db.put("date", noise(2, 90)).unwrap();
    db.put("elder", vec![b'e'; 120]).unwrap();
    db.flush().unwrap();
    let users = db.keyspace("users").unwrap();
    users.put("ada", noise(3, 200)).unwrap();
    users.flush().unwrap();
    db.delete("banana").unwrap();
    db.put("date", "dry").unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    db.put("fig", "purple").unwrap();
    db.close().unwrap();
}

/// The `.blob` files of `dir`, by name.
fn blob_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".blob"))
        .collect();
    names.sort();
    names
}

/// The blob file of keyspace 0 (the first one written).
fn default_blob(dir: &Path) -> String {
    blob_files(dir).into_iter().next().unwrap()
}

/// The live segment files of `dir`, by name.
fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

/// Stdout and exit status of `bin args`, with `dir` written `DIR`.
fn run_status(bin: &str, dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = run(bin, args);
    (
        out.status.code(),
        redact_dir(&stdout(&out), dir),
        redact_dir(&String::from_utf8_lossy(&out.stderr), dir),
    )
}

#[test]
fn dump_shows_blob_files_pointers_and_manifest_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    blob_db(dir);
    let blob = default_blob(dir);
    let path = p(dir, &blob);
    let text = run_ok(DUMP, dir, &[path.to_str().unwrap()]);
    assert!(text.contains("banana") && text.contains("lz4"), "{text}");
    insta::assert_snapshot!("blob_file_text", text);
    let json = run_ok(DUMP, dir, &[path.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let records = doc["records"].as_array().unwrap();
    assert_eq!(records.len(), 4, "{json}");
    assert_eq!(records[0]["key"], "apple");
    assert_eq!(records[0]["compressed"], false);
    assert_eq!(records[1]["compressed"], true);
    assert_eq!(doc["footer"]["record_count"], 4);
    insta::assert_snapshot!("blob_file_json", json);

    let summary = run_ok(DUMP, dir, &[dir.to_str().unwrap()]);
    insta::assert_snapshot!("blob_dir_text", summary);
    let json = run_ok(DUMP, dir, &[dir.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let files = doc["blob_files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{json}");
    // apple's 300 bytes and elder's 120 are still pointed to; banana's 80 and
    // date's 90 are not.
    assert_eq!(files[0]["value_bytes"], 590);
    assert_eq!(files[0]["live_value_bytes"], 420);
    assert_eq!(files[1]["keyspace"], 1);
    assert_eq!(files[1]["live_value_bytes"], 200);

    let manifest = run_ok(DUMP, dir, &[p(dir, "MANIFEST").to_str().unwrap()]);
    assert!(manifest.contains("add blob file"), "{manifest}");
    assert!(manifest.contains("points into"), "{manifest}");
    insta::assert_snapshot!("blob_manifest_text", manifest);
    let json = run_ok(DUMP, dir, &[p(dir, "MANIFEST").to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["live_blob_files"].as_array().unwrap().len(), 2);
    let added: Vec<&serde_json::Value> = doc["edits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("added_blob_files"))
        .collect();
    assert_eq!(added.len(), 2, "{json}");

    // The compacted segment of keyspace 0 holds apple's pointer.
    let seg = segments(dir)
        .into_iter()
        .find(|s| {
            let out = run_ok(DUMP, dir, &[p(dir, s).to_str().unwrap()]);
            out.contains("apple")
        })
        .unwrap();
    let out = run_ok(DUMP, dir, &[p(dir, &seg).to_str().unwrap()]);
    let line = out.lines().find(|l| l.contains("put-blob")).unwrap();
    assert!(line.contains(&format!("-> {blob} at 25")), "{line}");
}

#[test]
fn a_damaged_blob_file_is_a_typed_corruption_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    blob_db(dir);
    let blob = default_blob(dir);
    let path = p(dir, &blob);
    let good = std::fs::read(&path).unwrap();
    // Every single-byte flip and every cut: a dump that exits 1 with the file named
    // in the error, or (a flip the format cannot see, none expected) exit 0.
    let mut failed = 0;
    for i in 0..good.len() {
        for bad in [
            {
                let mut b = good.clone();
                b[i] ^= 0x10;
                b
            },
            good[..i].to_vec(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let lib = lsm_tools::dump::blob::dump_blob(
                &path,
                &lsm_tools::dump::DumpOptions::default(),
                &mut Vec::new(),
            );
            let e = lib.expect_err("damage must be reported");
            assert!(
                e.to_string().contains(&blob),
                "byte {i}: the error names the file: {e}"
            );
            failed += 1;
        }
    }
    assert_eq!(failed, 2 * good.len());
    // One flip in the binary: a record's checksum.
    let mut bad = good.clone();
    bad[30] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    let (code, out, err) = run_status(DUMP, dir, &[path.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("corruption at offset 25"), "{err}");
    insta::assert_snapshot!("blob_file_damaged_text", format!("{out}[stderr] {err}"));
}

#[test]
fn verify_checks_blob_files_and_every_pointer() {
    let tmp = tempfile::tempdir().unwrap();
    let sound = tmp.path().join("sound");
    std::fs::create_dir(&sound).unwrap();
    blob_db(&sound);
    let blob = default_blob(&sound);
    let (code, out, _) = run_status(VERIFY, &sound, &[sound.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    insta::assert_snapshot!("blob_verify_sound", out);
    // A blob file alone.
    let (code, out, _) = run_status(VERIFY, &sound, &[p(&sound, &blob).to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("4 records checked"), "{out}");

    // A flipped byte in apple's record: the file and the pointer are reported.
    let damaged = tmp.path().join("damaged");
    copy_dir(&sound, &damaged);
    let path = p(&damaged, &blob);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[30] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let (code, out, _) = run_status(VERIFY, &damaged, &[damaged.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("{blob}: offset 25: blob record checksum mismatch")),
        "{out}"
    );
    assert!(out.contains("key apple: its blob pointer into"), "{out}");
    insta::assert_snapshot!("blob_verify_damaged", out);

    // The blob file deleted: missing, and apple's pointer points nowhere.
    let deleted = tmp.path().join("deleted");
    copy_dir(&sound, &deleted);
    std::fs::remove_file(p(&deleted, &blob)).unwrap();
    let (code, out, _) = run_status(VERIFY, &deleted, &[deleted.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("{blob}: live in keyspace 0")),
        "{out}"
    );
    assert!(out.contains("point nowhere"), "{out}");
    insta::assert_snapshot!("blob_verify_deleted", out);
    // The summary warns, and the engine refuses the database.
    let (code, summary, _) = run_status(DUMP, &deleted, &[deleted.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{summary}");
    assert!(
        summary.contains("warning:") && summary.contains(&blob),
        "{summary}"
    );
    assert!(Db::open(&deleted, options()).is_err());
}

#[test]
fn verify_warns_of_a_leaked_blob_file_and_notes_an_unlisted_one() {
    use lsm_format::blob::BlobWriterOptions;
    use lsm_format::log::LogWriter;
    use lsm_format::manifest::{BlobFileMeta, VersionEdit};
    use lsm_format::BlobWriter;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    blob_db(dir);
    let state = lsm_tools::state::DbState::load(dir).unwrap();
    let next = state.manifest.next_file_number;
    // A blob file the manifest lists and nothing points into (what an interrupted
    // job or a bug leaves): appended as one edit and its commit marker.
    let write_blob = |number: u64| {
        let options = BlobWriterOptions {
            file_number: number,
            ..BlobWriterOptions::default()
        };
        let mut w = BlobWriter::new(Vec::new(), options).unwrap();
        w.add(b"ghost", &[b'g'; 70]).unwrap();
        let finished = w.finish().unwrap();
        let props = finished.properties;
        std::fs::write(p(dir, &format!("{number:06}.blob")), finished.into_inner()).unwrap();
        BlobFileMeta {
            keyspace: 0,
            file_number: number,
            file_size: props.file_size,
            record_count: props.record_count,
            value_bytes: props.value_bytes,
        }
    };
    let leaked = write_blob(next);
    let edit = VersionEdit {
        next_file_number: Some(next + 2),
        added_blob_files: vec![leaked],
        ..VersionEdit::default()
    };
    let manifest = p(dir, "MANIFEST");
    let mut data = std::fs::read(&manifest).unwrap();
    let mut log = LogWriter::new(data.len() as u64);
    let mut payload = Vec::new();
    edit.encode(&mut payload);
    log.add_record(&payload, &mut data);
    log.add_record(&[], &mut data);
    std::fs::write(&manifest, &data).unwrap();
    // A blob file the manifest does not list.
    write_blob(next + 1);
    let (code, out, _) = run_status(VERIFY, dir, &[dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "a leak loses nothing: {out}");
    assert!(out.contains("warning:") && out.contains("leaked"), "{out}");
    assert!(out.contains("the engine removes it on open"), "{out}");
    insta::assert_snapshot!("blob_verify_leak", out);
    let json = run_ok(VERIFY, dir, &[dir.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0, "{json}");
    // Open removes the unlisted file, as verify said.
    Db::open(dir, options()).unwrap().close().unwrap();
    assert!(!p(dir, &format!("{:06}.blob", next + 1)).exists());
}

#[test]
fn shell_explain_follows_the_pointer_and_stats_show_blob_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    blob_db(dir);
    let (code, out) = lsm_session(dir, &[], "explain elder\nexplain cherry\nstats\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("a blob pointer: stop here"), "{out}");
    assert!(out.contains("value read from"), "{out}");
    assert!(out.contains("blob files"), "{out}");
    let explain: String = out
        .lines()
        .take_while(|l| !l.starts_with("lsm> stats"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("blob_explain", explain);
    let stats = out
        .lines()
        .find(|l| l.trim_start().starts_with("blob files"))
        .unwrap();
    assert!(stats.contains("in 2 blob files"), "{stats}");
}

#[test]
fn compact_works_on_a_database_with_blob_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    blob_db(dir);
    let before = run_ok(DUMP, dir, &[dir.to_str().unwrap(), "--entries"]);
    let out = run(COMPACT, &[dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = run_ok(DUMP, dir, &[dir.to_str().unwrap(), "--entries"]);
    assert_eq!(before, after);
    assert!(before.contains("elder = eeee"), "{before}");
    let users = run_ok(
        DUMP,
        dir,
        &[dir.to_str().unwrap(), "--entries", "--keyspace", "users"],
    );
    assert!(users.starts_with("ada = "), "{users}");
    let (code, report, _) = run_status(VERIFY, dir, &[dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    // Every value is still read through the engine.
    let db = Db::open(dir, options()).unwrap();
    assert_eq!(db.get("apple").unwrap().unwrap(), noise(1, 300));
    assert_eq!(db.get("elder").unwrap().unwrap(), vec![b'e'; 120]);
    assert_eq!(
        db.keyspace("users").unwrap().get("ada").unwrap().unwrap(),
        noise(3, 200)
    );
    assert!(db.stats().blob_files >= 1);
}

/// A manifest whose records disagree with the files: a segment's blob references
/// name other value bytes than its pointers hold, and a blob file's record says
/// another value byte count than its footer. Rewritten from the edits of a sound
/// manifest with those two numbers changed.
#[test]
fn verify_compares_blob_references_and_blob_records_with_the_files() {
    use lsm_format::log::LogWriter;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    blob_db(dir);
    let manifest = p(dir, "MANIFEST");
    let state = lsm_tools::state::manifest::replay(&std::fs::read(&manifest).unwrap(), "MANIFEST");
    let mut log = LogWriter::new(0);
    let mut data = Vec::new();
    for e in &state.edits {
        let mut edit = e.edit.clone();
        for (_, m) in &mut edit.added_segments {
            // The compacted segment of keyspace 0.
            if m.keyspace == 0 && m.blob_refs.first().is_some_and(|r| r.value_bytes == 420) {
                m.blob_refs[0].value_bytes = 421;
            }
        }
        for b in &mut edit.added_blob_files {
            if b.keyspace == 1 {
                b.value_bytes += 1;
            }
        }
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        log.add_record(&payload, &mut data);
    }
    std::fs::write(&manifest, &data).unwrap();
    let (code, out, _) = run_status(VERIFY, dir, &[dir.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "the manifest records blob references 000004.blob (421 bytes), the segment's \
             pointers make 000004.blob (420 bytes)"
        ),
        "{out}"
    );
    assert!(
        out.contains("000007.blob: value bytes is 200 in the file but 201 in the manifest"),
        "{out}"
    );
}
