//! `lsm-verify` on a database whose writer is running: the record being appended to
//! the newest WAL is "being written", not damage; damage anywhere else in that WAL,
//! or in a WAL nobody writes, is still reported. Likewise a newest WAL numbered past
//! the manifest's `next_file_number` is the writer's while it runs, and a problem
//! once nobody holds the lock.

mod common;

use std::path::{Path, PathBuf};

use lsm_format::wal::read_wal_log;
use lsm_tools::verify::log::{verify_wal_tail, WalTail};
use lsm_tools::verify::verify_path;

fn newest_wal(dir: &Path) -> PathBuf {
    let mut wals: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    wals.sort();
    wals.pop().unwrap()
}

/// Offsets of the first and last batch records' payloads in a WAL.
fn batch_payloads(data: &[u8]) -> (usize, usize) {
    let wal = read_wal_log(data).unwrap();
    let records = &wal.contents.records;
    assert!(records.len() >= 3, "a header and two batches at least");
    let at = |r: &lsm_format::log::LogRecord<'_>| (r.end as usize) - r.payload.len() / 2;
    (at(&records[1]), at(records.last().unwrap()))
}

fn flip(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap();
    data[at] ^= 0x40;
    std::fs::write(path, data).unwrap();
}

fn write_some(db: &lsm_core::Db) {
    for i in 0..5 {
        db.put(format!("key{i}"), "v".repeat(300)).unwrap();
    }
}

#[test]
fn the_live_wal_tail_beside_a_writer_is_a_note_and_inner_damage_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    write_some(&db);
    let wal = newest_wal(tmp.path());
    let (first, last) = batch_payloads(&std::fs::read(&wal).unwrap());
    // The last record, half written: what a reader sees mid-append.
    flip(&wal, last);
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(
        report.notes.iter().any(|n| n.contains("being appended")),
        "{:?}",
        report.notes
    );
    // A damaged record with valid ones after it is damage, writer or not.
    flip(&wal, last);
    flip(&wal, first);
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(
        !report.is_ok(),
        "inner damage beside a writer went unreported"
    );
    flip(&wal, first);
    drop(db);
}

#[test]
fn a_damaged_tail_is_a_problem_in_a_wal_at_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    write_some(&db);
    let mut data = std::fs::read(newest_wal(tmp.path())).unwrap();
    drop(db);
    let (first, last) = batch_payloads(&data);
    data[last] ^= 0x40;
    let mut report = lsm_tools::verify::Report::default();
    verify_wal_tail(&data, "w", WalTail::AtRest, &mut report);
    assert_eq!(report.problems.len(), 1, "{:?}", report.notes);
    let mut report = lsm_tools::verify::Report::default();
    verify_wal_tail(&data, "w", WalTail::BeingWritten, &mut report);
    assert!(report.is_ok(), "{:?}", report.problems);
    data[last] ^= 0x40;
    data[first] ^= 0x40;
    let mut report = lsm_tools::verify::Report::default();
    verify_wal_tail(&data, "w", WalTail::BeingWritten, &mut report);
    assert_eq!(report.problems.len(), 1, "{:?}", report.notes);
}

#[test]
fn a_wal_past_next_file_number_is_the_running_writers_only_while_it_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    write_some(&db);
    // What a writer leaves between creating its next WAL (numbered from its own
    // counter) and the manifest edit that records the counter: an empty WAL, the
    // newest, numbered past the manifest's next_file_number.
    let data = std::fs::read(newest_wal(tmp.path())).unwrap();
    let header_end = read_wal_log(&data).unwrap().contents.records[0].end as usize;
    let fresh = tmp.path().join("999999.wal");
    std::fs::write(&fresh, &data[..header_end]).unwrap();
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("999999.wal: created by the running writer")),
        "{:?}",
        report.notes
    );
    drop(db);
    // Nobody holds the lock: the same file is a problem, as before.
    std::fs::write(&fresh, &data[..header_end]).unwrap();
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.to_string().contains("next_file_number")),
        "{:?}",
        report.problems
    );
}
