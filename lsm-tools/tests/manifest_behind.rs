//! A manifest behind its directory (cut at a record boundary, or an older copy put
//! back): `lsm-verify` reports it with the file names and exits 1, `lsm-dump` warns
//! first and refuses `--entries`, and neither deletes anything. They judge the files
//! with the engine's own rule (`lsm_core::audit_files`).

mod common;

use std::path::Path;

use common::{run, stdout};
use lsm_core::{Compression, Db, Options};
use lsm_format::log::read_log;
use lsm_tools::verify::verify_path;

const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");
const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");

/// A closed database with a few flushed segments; returns its manifest's bytes.
fn flushed_db(dir: &Path) -> Vec<u8> {
    let options = Options::default()
        .with_compression(Compression::None)
        .with_level0_compaction_trigger(8);
    let db = Db::open(dir, options).unwrap();
    for round in 0..3 {
        for i in 0..50 {
            db.put(format!("key-{round}-{i:03}"), format!("value-{i}"))
                .unwrap();
        }
        db.flush().unwrap();
    }
    db.close().unwrap();
    std::fs::read(dir.join("MANIFEST")).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_manifest_cut_at_a_record_boundary_is_reported_by_verify_and_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let manifest = flushed_db(dir);
    let healthy = verify_path(dir, None).unwrap();
    assert!(healthy.is_ok(), "{:?}", healthy.problems);
    // Keep the snapshot record and the first flush: the later flushes are lost.
    let records = read_log(&manifest).unwrap().records;
    let cut = records[4].offset as usize;
    std::fs::write(dir.join("MANIFEST"), &manifest[..cut]).unwrap();
    let before = names(dir);

    let report = verify_path(dir, None).unwrap();
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let behind: Vec<&String> = problems
        .iter()
        .filter(|p| p.contains("behind its directory") && p.contains(".seg"))
        .collect();
    assert!(!behind.is_empty(), "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("MANIFEST") && p.contains("oldest live WAL")),
        "{problems:?}"
    );
    let out = run(VERIFY, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("behind its directory"));

    let out = run(DUMP, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a dump with warnings exits 1");
    let text = stdout(&out);
    let second = text.lines().nth(1).unwrap_or_default();
    assert!(
        second.starts_with("warning: ") && second.contains("behind its directory"),
        "{text}"
    );
    let out = run(DUMP, &[dir.to_str().unwrap(), "--entries"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("behind its directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(names(dir), before, "a tool changed the directory");
    // The engine refuses it too, and deletes nothing.
    let err = Db::open(dir, Options::default()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(names(dir), before);
}

#[test]
fn a_dump_of_a_database_with_a_damaged_segment_warns_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    flushed_db(dir);
    let out = run(DUMP, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains("warning"));
    // Damage the footer of a live segment (its last bytes).
    let seg = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    let at = data.len() - 20;
    data[at] ^= 0x40;
    std::fs::write(&seg, &data).unwrap();
    let out = run(DUMP, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("warning: ")),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lsm-verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A WAL below `log_number` is one the manifest records as flushed (a crash between
/// the edit and its removal leaves it): a note, as the engine removes it on open.
#[test]
fn an_obsolete_wal_is_a_note_not_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    flushed_db(dir);
    let live_wal = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .expect("a live WAL");
    std::fs::copy(&live_wal, dir.join("000001.wal")).unwrap();
    let report = verify_path(dir, None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("000001.wal: obsolete WAL")),
        "{:?}",
        report.notes
    );
    let out = run(VERIFY, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

/// Damage inside a data block (not in the metadata the engine opens) is found too:
/// the summary checks every live segment's checksums.
#[test]
fn a_dump_of_a_database_with_a_damaged_data_block_warns_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    flushed_db(dir);
    let seg = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    data[10] ^= 0x01; // the first data block starts at offset 0
    std::fs::write(&seg, &data).unwrap();
    let out = run(DUMP, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("warning: ") && l.contains(".seg")),
        "{text}"
    );
}
