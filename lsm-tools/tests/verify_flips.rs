//! `lsm-verify` finds every single flipped byte in a small segment, WAL and manifest
//! (every byte of those files is covered by a checksum), alone and inside a
//! directory, and passes a healthy directory.

mod common;

use std::path::Path;

use common::{handmade_db, redact_dir, run, stdout};
use lsm_tools::verify::verify_path;

const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");

const FILES: [&str; 4] = ["000003.seg", "000004.seg", "000006.wal", "MANIFEST"];

/// Flips byte `at` of `path` with `mask`, runs `check`, restores the file.
fn with_flip(path: &Path, at: usize, mask: u8, check: impl FnOnce()) {
    let original = std::fs::read(path).unwrap();
    let mut damaged = original.clone();
    damaged[at] ^= mask;
    std::fs::write(path, &damaged).unwrap();
    check();
    std::fs::write(path, &original).unwrap();
}

#[test]
fn healthy_files_and_directory_pass() {
    let tmp = tempfile::tempdir().unwrap();
    handmade_db(tmp.path());
    for name in FILES {
        let report = verify_path(&tmp.path().join(name), None).unwrap();
        assert!(report.is_ok(), "{name}: {:?}", report.problems);
    }
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.files_checked, 4);
    let out = run(VERIFY, &[tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("healthy_dir", stdout(&out));
}

#[test]
fn every_single_byte_flip_is_found_in_each_file() {
    let tmp = tempfile::tempdir().unwrap();
    handmade_db(tmp.path());
    for name in FILES {
        let path = tmp.path().join(name);
        let len = std::fs::read(&path).unwrap().len();
        for at in 0..len {
            for mask in [0xff, 0x01, 0x80] {
                with_flip(&path, at, mask, || {
                    let report = verify_path(&path, None).unwrap();
                    assert!(
                        !report.is_ok(),
                        "{name}: flipping byte {at} with {mask:#04x} went unnoticed"
                    );
                });
            }
        }
    }
}

#[test]
fn every_single_byte_flip_is_found_in_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    handmade_db(tmp.path());
    for name in FILES {
        let path = tmp.path().join(name);
        let len = std::fs::read(&path).unwrap().len();
        for at in 0..len {
            with_flip(&path, at, 0x55, || {
                // A damaged manifest may stop the directory from loading at all: that is
                // reported too (as an error of the tool).
                let found = match verify_path(tmp.path(), None) {
                    Ok(report) => !report.is_ok(),
                    Err(_) => true,
                };
                assert!(
                    found,
                    "{name}: flipping byte {at} went unnoticed in the directory"
                );
            });
        }
    }
}

#[test]
fn damage_is_reported_with_file_offset_and_exit_status_1() {
    let tmp = tempfile::tempdir().unwrap();
    handmade_db(tmp.path());
    let dir = tmp.path().to_str().unwrap();
    // A byte inside a data block of 000003.seg, and the checksum of the WAL's first
    // record.
    with_flip(&tmp.path().join("000003.seg"), 70, 0x20, || {
        with_flip(&tmp.path().join("000006.wal"), 3, 0x01, || {
            let out = run(VERIFY, &[dir]);
            assert_eq!(out.status.code(), Some(1));
            insta::assert_snapshot!("damaged_dir_text", redact_dir(&stdout(&out), tmp.path()));
            let out = run(VERIFY, &[dir, "--json"]);
            assert_eq!(out.status.code(), Some(1));
            insta::assert_snapshot!("damaged_dir_json", redact_dir(&stdout(&out), tmp.path()));
        });
    });
}

#[test]
fn a_torn_tail_is_a_note_not_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    handmade_db(tmp.path());
    let wal = tmp.path().join("000006.wal");
    let data = std::fs::read(&wal).unwrap();
    std::fs::write(&wal, &data[..data.len() - 5]).unwrap();
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(report.notes[0].contains("torn tail"), "{:?}", report.notes);
}

#[test]
fn directory_consistency_problems() {
    let tmp = tempfile::tempdir().unwrap();
    handmade_db(tmp.path());
    // An orphan segment, a leftover temporary file, and a live segment gone.
    std::fs::copy(tmp.path().join("000003.seg"), tmp.path().join("000009.seg")).unwrap();
    std::fs::write(tmp.path().join("000010.seg.tmp"), b"partial").unwrap();
    std::fs::remove_file(tmp.path().join("000004.seg")).unwrap();
    let report = verify_path(tmp.path(), None).unwrap();
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    insta::assert_debug_snapshot!("consistency_problems", (lines, &report.notes));
}
