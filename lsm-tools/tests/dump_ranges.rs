//! Snapshot tests of `lsm-dump` on range deletes and expiring puts: a segment's
//! range-tombstone block, WAL range-delete and expiring-put ops, and the directory
//! summary's counts (a database built by hand, so every byte is deterministic).

mod common;

use common::{range_db, run_ok};

const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");

fn dump(dir: &std::path::Path, args: &[&str]) -> String {
    run_ok(DUMP, dir, args)
}

#[test]
fn segment_range_tombstones_and_expiring_puts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    range_db(dir);
    let seg = dir.join("000003.seg");
    let seg = seg.to_str().unwrap();
    let text = dump(dir, &[seg, "--layout"]);
    // Fragmented: [b, f) @8, [f, m) @9 and @8, [m, s) @9.
    assert!(text.contains("range tombstones (4 shown of 4"), "{text}");
    assert!(text.contains("format version 7"), "{text}");
    assert!(text.contains("keyspace         0"), "{text}");
    assert!(text.contains("2023-11-14T22:14:20"), "{text}");
    assert!(text.contains("range-del"), "{text}");
    insta::assert_snapshot!("ranges_segment_text", text);
    let json = dump(dir, &[seg, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["properties"]["range_del_count"], 4);
    assert_eq!(doc["range_tombstones"][0]["start"], "b");
    assert_eq!(doc["range_tombstones"][0]["end"], "f");
    assert_eq!(doc["range_tombstones"][0]["seq"], 8);
    insta::assert_snapshot!("ranges_segment_json", json);
    // A range selects the tombstones that overlap it.
    let some = dump(dir, &[seg, "--from", "n", "--to", "z"]);
    assert!(some.contains("range tombstones (1 shown of 4"), "{some}");
}

#[test]
fn wal_range_deletes_and_expiring_puts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    range_db(dir);
    let wal = dir.join("000005.wal");
    let wal = wal.to_str().unwrap();
    let text = dump(dir, &[wal]);
    assert!(text.contains("delete-range"), "{text}");
    assert!(text.contains("up to t (excluded)"), "{text}");
    insta::assert_snapshot!("ranges_wal_text", text);
    let json = dump(dir, &[wal, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ops = &doc["records"][1]["ops"];
    assert_eq!(ops[0]["kind"], "delete-range");
    assert_eq!(ops[0]["end"], "t");
    assert_eq!(ops[1]["kind"], "put-expiring");
    assert_eq!(ops[1]["value"], "fuzzy");
    assert_eq!(ops[1]["expires_at_ms"], common::EXPIRES_AT_MS);
    insta::assert_snapshot!("ranges_wal_json", json);
}

#[test]
fn directory_summary_counts_range_tombstones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    range_db(dir);
    let d = dir.to_str().unwrap();
    let text = dump(dir, &[d]);
    insta::assert_snapshot!("ranges_dir_text", text);
    let json = dump(dir, &[d, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["levels"][1]["range_tombstones"], 4);
    assert_eq!(doc["segments"][0]["range_tombstones"], 4);
    assert_eq!(doc["wals"][0]["range_deletes"], 1);
    // The engine's view: range deletes and expiry applied.
    let entries = dump(dir, &[d, "--entries"]);
    insta::assert_snapshot!("ranges_dir_entries", entries);
}

#[test]
fn files_the_engine_writes_show_their_range_deletes_and_expiry() {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = Arc::new(lsm_core::ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let db = lsm_core::Db::open(dir, lsm_core::Options::default().with_clock(clock)).unwrap();
    db.put("log/1", "a").unwrap();
    db.put("log/2", "b").unwrap();
    db.delete_range("log/1", "log/2").unwrap();
    db.put_with_ttl("token", "t", Duration::from_secs(60))
        .unwrap();
    db.flush().unwrap();
    db.delete_prefix("").unwrap();
    db.put_with_ttl("fresh", "f", Duration::from_millis(1500))
        .unwrap();
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .collect();
    let seg = files.iter().find(|f| f.ends_with(".seg")).unwrap();
    let text = dump(dir, &[seg]);
    assert!(text.contains("range tombstones (1 shown of 1"), "{text}");
    assert!(text.contains("log/1  log/2    3"), "{text}");
    assert!(
        text.contains("t (expires 2023-11-14T22:14:20.000Z = 1700000060000 ms)"),
        "{text}"
    );
    // The newest WAL holds the prefix delete of everything (to END) and a TTL put.
    let mut wals: Vec<&String> = files.iter().filter(|f| f.ends_with(".wal")).collect();
    wals.sort();
    let text = dump(dir, &[wals.last().unwrap()]);
    assert!(
        text.contains("delete-range  up to END (excluded)"),
        "{text}"
    );
    assert!(text.contains("1700000001500 ms"), "{text}");
    let summary = dump(dir, &[dir.to_str().unwrap()]);
    assert!(summary.contains("range dels"), "{summary}");
    drop(db);
}
