//! Deletes: a deleted key stays deleted across flush, compaction and reopen, and a
//! full compaction with no snapshot alive leaves neither tombstones nor overwritten
//! versions on disk (counted by reading every segment file with `lsm-format`).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::files::{all_segment_entries, segments};
use common::keys::value;
use common::model::{check_db, Map};
use lsm_core::{Db, Options};
use lsm_format::EntryKind;

fn options() -> Options {
    Options::default()
        .with_memtable_size(8 << 10)
        .with_segment_size(4096)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(10)
        .with_level_size_multiplier(3)
        .with_level1_size(8 << 10)
}

fn k(i: usize) -> Vec<u8> {
    format!("t{i:05}").into_bytes()
}

fn probe(n: usize) -> Vec<Vec<u8>> {
    (0..n + 10).map(k).collect()
}

/// Writes `n` keys in three generations (puts, overwrites, deletes) with flushes in
/// between so that every key has versions spread over several segments and levels.
fn write_generations(db: &Db, n: usize, model: &mut Map) {
    let mut id = 0u64;
    for round in 0..3 {
        for i in 0..n {
            id += 1;
            match (round, i % 3) {
                (0, _) | (1, 0) | (2, 1) => {
                    let v = value(id, 20 + i % 50);
                    db.put(k(i), &v).unwrap();
                    model.insert(k(i), v);
                }
                (1, 1) | (2, 2) => {
                    db.delete(k(i)).unwrap();
                    model.remove(&k(i));
                }
                _ => {}
            }
        }
        db.flush().unwrap();
    }
    // Deletes of keys that never existed leave nothing either.
    for i in n..n + 10 {
        db.delete(k(i)).unwrap();
    }
}

#[test]
fn deleted_keys_stay_deleted_across_flush_compaction_and_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let n = 600;
    let mut model = Map::new();
    let db = Db::open(&path, options()).unwrap();
    write_generations(&db, n, &mut model);
    check_db(&db, &model, &probe(n)).unwrap();

    // Delete a key whose older versions sit in segments, then push the tombstone
    // down step by step.
    db.delete(k(0)).unwrap();
    model.remove(&k(0));
    check_db(&db, &model, &probe(n)).expect("before flush");
    db.flush().unwrap();
    check_db(&db, &model, &probe(n)).expect("after flush");
    db.compact().unwrap();
    check_db(&db, &model, &probe(n)).expect("after compact");
    db.close().unwrap();
    let db = Db::open(&path, options()).unwrap();
    check_db(&db, &model, &probe(n)).expect("after reopen");

    // A delete that only reached the WAL survives a reopen too.
    db.delete(k(3)).unwrap();
    model.remove(&k(3));
    db.close().unwrap();
    let db = Db::open(&path, options()).unwrap();
    check_db(&db, &model, &probe(n)).expect("after a reopen with the delete in the WAL");
    db.close().unwrap();
}

#[test]
fn full_compaction_leaves_no_tombstone_and_no_overwritten_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let n = 900;
    let mut model = Map::new();
    let db = Db::open(&path, options()).unwrap();
    write_generations(&db, n, &mut model);
    // A snapshot taken and released must not keep anything alive.
    let snap = db.snapshot();
    drop(snap);
    db.flush().unwrap();
    db.compact().unwrap();
    check_db(&db, &model, &probe(n)).unwrap();
    db.close().unwrap();

    let entries = all_segment_entries(&path);
    let tombstones: Vec<_> = entries
        .iter()
        .filter(|(_, e)| e.kind == EntryKind::Tombstone)
        .collect();
    assert!(
        tombstones.is_empty(),
        "{} tombstones remain after a full compaction, e.g. {:?}",
        tombstones.len(),
        tombstones.first()
    );
    let mut versions: BTreeMap<&[u8], usize> = BTreeMap::new();
    for (_, e) in &entries {
        *versions.entry(&e.key).or_default() += 1;
    }
    let repeated: Vec<_> = versions.iter().filter(|(_, &c)| c > 1).collect();
    assert!(
        repeated.is_empty(),
        "{} keys keep several versions on disk, e.g. {:?}",
        repeated.len(),
        repeated.first()
    );
    let on_disk: BTreeSet<&[u8]> = versions.keys().copied().collect();
    let live: BTreeSet<&[u8]> = model.keys().map(Vec::as_slice).collect();
    assert_eq!(
        on_disk, live,
        "the segment files hold exactly the live keys"
    );
    for (path, e) in &entries {
        assert_eq!(
            Some(&e.value),
            model.get(&e.key),
            "stale value in {}",
            path.display()
        );
        // The only version of a key at the bottom, older than every snapshot:
        // compaction renumbers it 0 (smaller files, see compaction::retention).
        assert_eq!(e.seq, 0, "{:?} in {}", e.key, path.display());
    }

    // New writes after a reopen still shadow the renumbered versions.
    let db = Db::open(&path, options()).unwrap();
    let first = model.keys().next().cloned().expect("a live key");
    db.put(&first, b"newer").unwrap();
    model.insert(first.clone(), b"newer".to_vec());
    db.flush().unwrap();
    check_db(&db, &model, &probe(n)).unwrap();
    db.compact().unwrap();
    check_db(&db, &model, &probe(n)).unwrap();
    db.close().unwrap();

    // Deleting everything and compacting leaves no entry at all.
    let db = Db::open(&path, options()).unwrap();
    for key in model.keys() {
        db.delete(key).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(db.scan::<Vec<u8>, _>(..).count(), 0);
    db.close().unwrap();
    let left = all_segment_entries(&path);
    assert!(
        left.is_empty(),
        "{} entries remain in {} segments after deleting everything",
        left.len(),
        segments(&path).len()
    );
}

#[test]
fn a_live_snapshot_keeps_the_versions_it_sees() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, options()).unwrap();
    for i in 0..200 {
        db.put(k(i), value(i as u64, 30)).unwrap();
    }
    let snap = db.snapshot();
    for i in 0..200 {
        if i % 2 == 0 {
            db.delete(k(i)).unwrap();
        } else {
            db.put(k(i), value(1000 + i as u64, 30)).unwrap();
        }
    }
    db.flush().unwrap();
    db.compact().unwrap();
    for i in 0..200 {
        assert_eq!(
            snap.get(k(i)).unwrap().as_deref(),
            Some(&value(i as u64, 30)[..]),
            "snapshot lost key {i}"
        );
        let want = (i % 2 == 1).then(|| value(1000 + i as u64, 30));
        assert_eq!(db.get(k(i)).unwrap().map(|v| v.to_vec()), want);
    }
    assert_eq!(snap.scan::<Vec<u8>, _>(..).count(), 200);
    drop(snap);
    db.compact().unwrap();
    db.close().unwrap();
    let entries = all_segment_entries(&path);
    assert_eq!(
        entries.len(),
        100,
        "after the snapshot is released, compaction drops what only it saw"
    );
    assert!(entries.iter().all(|(_, e)| e.kind == EntryKind::Put));
    assert!(entries.iter().all(|(_, e)| e.seq == 0));
}
