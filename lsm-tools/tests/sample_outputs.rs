//! Snapshots of outputs that `docs/tools.md` shows and the other tests do not
//! snapshot: files the manifest does not list (judged with the engine's rule,
//! `lsm_core::audit_files`), a manifest of format version 2 that records a segment
//! dead, `lsm-compact --help` and its JSON report as printed. Every directory is
//! built by hand with `lsm-format` (fixed creation times), so every byte is
//! deterministic. `tests/docs_samples.rs` checks the page against these files.

mod common;

use std::path::Path;

use common::{edit, handmade_db, log_bytes, redact_dir, run, stdout, write_segment};
use lsm_format::log::read_log;
use lsm_format::manifest::VersionEdit;
use lsm_format::EntryKind;

const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");
const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");
const COMPACT: &str = env!("CARGO_BIN_EXE_lsm-compact");

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// [`handmade_db`] rewritten as a format-version-2 manifest whose second edit records
/// `000005.seg` dead, with that file still present (a copy of the live `000004.seg`),
/// plus a leftover of an interrupted flush (`000002.seg`, every entry held by live
/// files) and an unfinished temporary file.
fn db_with_dead_and_leftover_files(dir: &Path) {
    handmade_db(dir);
    let manifest = std::fs::read(dir.join("MANIFEST")).unwrap();
    let log = read_log(&manifest).unwrap();
    let mut snapshot = VersionEdit::decode(&log.records[0].payload, 0).unwrap();
    snapshot.format_version = Some(lsm_format::FORMAT_VERSION);
    let dead = VersionEdit {
        obsolete_segments: vec![5],
        ..VersionEdit::default()
    };
    let records = [edit(&snapshot), Vec::new(), edit(&dead), Vec::new()];
    std::fs::write(dir.join("MANIFEST"), log_bytes(&records)).unwrap();
    std::fs::copy(dir.join("000004.seg"), dir.join("000005.seg")).unwrap();
    std::fs::copy(dir.join("000004.seg"), dir.join("000002.seg")).unwrap();
    std::fs::write(dir.join("000007.seg.tmp"), b"partial").unwrap();
}

#[test]
fn dead_and_leftover_files_are_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    db_with_dead_and_leftover_files(dir);
    let d = dir.to_str().unwrap();

    let m = dir.join("MANIFEST");
    let out = run(DUMP, &[m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("manifest_obsolete_text", redact_dir(&stdout(&out), dir));

    let out = run(DUMP, &[d]);
    assert_eq!(out.status.code(), Some(0), "notes are not warnings");
    let text = redact_dir(&stdout(&out), dir);
    assert!(!text.contains("warning:"), "{text}");
    insta::assert_snapshot!("dir_other_files_text", text);

    let out = run(VERIFY, &[d]);
    assert_eq!(out.status.code(), Some(0), "notes are not problems");
    insta::assert_snapshot!("verify_notes_text", redact_dir(&stdout(&out), dir));
}

/// [`handmade_db`] plus `000005.seg`, which the manifest does not list and which
/// holds a key found nowhere else: the manifest lost the edit that added it.
fn db_with_manifest_behind(dir: &Path) {
    handmade_db(dir);
    write_segment(
        &dir.join("000005.seg"),
        5,
        &[(b"zucchini", 9, EntryKind::Put, b"green")],
    );
}

#[test]
fn a_manifest_behind_its_directory_is_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    db_with_manifest_behind(dir);
    let d = dir.to_str().unwrap();

    let out = run(DUMP, &[d]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a summary with warnings exits 1"
    );
    let text = redact_dir(&stdout(&out), dir);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("warning: ")),
        "{text}"
    );
    insta::assert_snapshot!("dir_behind_text", text);
    insta::assert_snapshot!("dir_behind_stderr", redact_dir(&stderr(&out), dir));

    let out = run(DUMP, &[d, "--entries"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "no partial view is printed");
    insta::assert_snapshot!("entries_behind_stderr", redact_dir(&stderr(&out), dir));

    let out = run(VERIFY, &[d]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("verify_behind_text", redact_dir(&stdout(&out), dir));
}

#[test]
fn compact_help() {
    let out = run(COMPACT, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("compact_help", stdout(&out));
}

#[test]
fn compact_json_as_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    // Static level sizing, as the directory was written: under dynamic sizing the
    // background drains its level-1 file down while the tool compacts, so the
    // manifest's size would depend on timing.
    let out = run(
        COMPACT,
        &[
            dir.to_str().unwrap(),
            "--json",
            "--dynamic-level-bytes",
            "false",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The time taken is the one volatile field.
    let text: String = redact_dir(&stdout(&out), dir)
        .lines()
        .map(|l| match l.find("\"seconds\": ") {
            Some(i) => format!("{}\"seconds\": [time]\n", &l[..i]),
            None => format!("{l}\n"),
        })
        .collect();
    insta::assert_snapshot!("compact_json_text", text);
}
