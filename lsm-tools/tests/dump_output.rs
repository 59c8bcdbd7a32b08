//! Snapshot tests of `lsm-dump` on a small database built by hand with `lsm-format`
//! (fixed creation times, so every byte is deterministic): text and JSON for each
//! file kind and for the directory.

mod common;

use common::{handmade_db, redact_dir, run, run_ok, stdout};

const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");

fn dump(dir: &std::path::Path, args: &[&str]) -> String {
    run_ok(DUMP, dir, args)
}

#[test]
fn segment_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let seg = dir.join("000003.seg");
    let seg = seg.to_str().unwrap();
    insta::assert_snapshot!("segment_text", dump(dir, &[seg, "--layout"]));
    insta::assert_snapshot!("segment_json", dump(dir, &[seg, "--json", "--layout"]));
    insta::assert_snapshot!(
        "segment_hex_full",
        dump(dir, &[seg, "--hex", "--full", "--from", "fig"])
    );
    insta::assert_snapshot!(
        "segment_range",
        dump(
            dir,
            &[seg, "--from", "banana", "--to", "date", "--limit", "5"]
        )
    );
}

#[test]
fn wal_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let wal = dir.join("000006.wal");
    insta::assert_snapshot!("wal_text", dump(dir, &[wal.to_str().unwrap()]));
    insta::assert_snapshot!("wal_json", dump(dir, &[wal.to_str().unwrap(), "--json"]));
    // Cut the last record short: a torn tail.
    let data = std::fs::read(&wal).unwrap();
    std::fs::write(&wal, &data[..data.len() - 7]).unwrap();
    insta::assert_snapshot!("wal_torn_text", dump(dir, &[wal.to_str().unwrap()]));
}

#[test]
fn manifest_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let m = dir.join("MANIFEST");
    insta::assert_snapshot!("manifest_text", dump(dir, &[m.to_str().unwrap()]));
    insta::assert_snapshot!("manifest_json", dump(dir, &[m.to_str().unwrap(), "--json"]));
}

#[test]
fn directory_summary_and_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let d = dir.to_str().unwrap();
    insta::assert_snapshot!("dir_text", dump(dir, &[d]));
    insta::assert_snapshot!("dir_json", dump(dir, &[d, "--json"]));
    insta::assert_snapshot!("dir_entries", dump(dir, &[d, "--entries"]));
    insta::assert_snapshot!("dir_entries_json", dump(dir, &[d, "--entries", "--json"]));
    insta::assert_snapshot!(
        "dir_entries_range",
        dump(
            dir,
            &[
                d,
                "--entries",
                "--from",
                "b",
                "--to",
                "kiwi",
                "--limit",
                "3"
            ]
        )
    );
}

#[test]
fn errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = run(DUMP, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = redact_dir(&String::from_utf8_lossy(&out.stderr), dir);
    assert_eq!(
        err,
        "lsm-dump: DIR holds no MANIFEST: not a database directory\n"
    );
    let out = run(DUMP, &["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit with 2");
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();
    let out = run(DUMP, &[dir.join("notes.txt").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --type"));
}

#[test]
fn a_damaged_data_block_still_shows_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let seg = dir.join("000003.seg");
    let mut data = std::fs::read(&seg).unwrap();
    data[10] ^= 0x01;
    std::fs::write(&seg, &data).unwrap();
    let out = run(DUMP, &[seg.to_str().unwrap(), "--layout"]);
    assert_eq!(out.status.code(), Some(1));
    let text = redact_dir(&stdout(&out), dir);
    let tail: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("layout"))
        .collect();
    insta::assert_snapshot!("damaged_segment_tail", tail.join("\n"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corruption at offset 0"), "{err}");
}

#[test]
fn layout_is_refused_where_it_does_not_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    for (path, what) in [
        (dir.to_path_buf(), "a directory"),
        (dir.join("000006.wal"), "a write-ahead log"),
        (dir.join("MANIFEST"), "a manifest"),
    ] {
        let out = run(DUMP, &[path.to_str().unwrap(), "--layout"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stdout(&out), "", "nothing printed as if it were an answer");
        let err = redact_dir(&String::from_utf8_lossy(&out.stderr), dir);
        assert!(
            err.starts_with("lsm-dump: --layout applies to a segment file, and DIR"),
            "{err}"
        );
        assert!(err.contains(what), "{err}");
    }
}

#[test]
fn creation_times_are_iso_8601_utc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let seg = dir.join("000003.seg");
    let text = dump(dir, &[seg.to_str().unwrap()]);
    // `writer_options` fixes the time at 1_700_000_000_000 ms.
    assert!(
        text.contains("  created          2023-11-14T22:13:20.000Z\n"),
        "{text}"
    );
}
