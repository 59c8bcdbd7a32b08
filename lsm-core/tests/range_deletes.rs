//! Range deletes and prefix deletes: what they hide, from whom (snapshots), in
//! every direction, across flush, compaction and reopen, and the regressions other
//! engines met (Pebble's reverse iteration across a file boundary inside a range
//! tombstone, lsm-tree's snapshot between a put and a covering delete, LevelDB's
//! and RocksDB's deleted keys reappearing after compaction).

mod common;

use std::collections::BTreeMap;

use lsm_core::{Db, Error, InvalidArgumentKind, Options, WriteBatch};

fn options() -> Options {
    common::small_options()
}

fn k(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn check(db: &Db, model: &Model, what: &str) {
    let fwd: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(fwd.len(), want.len(), "{what}: forward scan length");
    assert!(fwd == want, "{what}: forward scan differs");
    let mut back: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .rev()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    back.reverse();
    assert!(back == want, "{what}: reverse scan differs");
    for i in (0..2000).step_by(7) {
        let got = db.get(k(i)).unwrap().map(|v| v.to_vec());
        assert_eq!(got.as_ref(), model.get(&k(i)), "{what}: get {i}");
    }
}

fn remove_range(model: &mut Model, start: &[u8], end: &[u8]) {
    let doomed: Vec<Vec<u8>> = model
        .range(start.to_vec()..end.to_vec())
        .map(|(k, _)| k.clone())
        .collect();
    for d in doomed {
        model.remove(&d);
    }
}

#[test]
fn a_range_delete_hides_older_versions_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut model = Model::new();
    for i in 0..1000 {
        db.put(k(i), format!("v{i}")).unwrap();
        model.insert(k(i), format!("v{i}").into_bytes());
    }
    db.delete_range(k(100), k(900)).unwrap();
    remove_range(&mut model, &k(100), &k(900));
    db.put(k(500), "again").unwrap();
    model.insert(k(500), b"again".to_vec());
    check(&db, &model, "memtable and segments");
    db.flush().unwrap();
    check(&db, &model, "after flush");
    db.compact().unwrap();
    check(&db, &model, "after compaction");
    // The counters say what the deletes cost and gave back.
    let stats = db.stats();
    assert!(stats.range_tombstones_written >= 1, "{stats:?}");
    assert!(stats.dropped_by_range > 0, "{stats:?}");
    assert!(stats.bytes_reclaimed > 0, "{stats:?}");
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db, &model, "after reopen");
}

#[test]
fn range_deletes_survive_a_reopen_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..300 {
            db.put(k(i), "v").unwrap();
            model.insert(k(i), b"v".to_vec());
        }
        let mut batch = WriteBatch::new();
        batch
            .delete_range(k(10), k(20))
            .put(k(15), "x")
            .delete_prefix("k001");
        db.write(batch).unwrap();
        remove_range(&mut model, &k(10), &k(20));
        model.insert(k(15), b"x".to_vec());
        remove_range(&mut model, b"k001", b"k002");
        check(&db, &model, "before close");
        db.sync().unwrap();
        // Default options: everything is still in the WAL, which open replays.
        drop(db);
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    check(&db, &model, "after replay");
}

#[test]
fn snapshots_taken_before_a_range_delete_still_see_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    // lsm-tree #321's shape: versions at several sequence numbers, a snapshot
    // between a put and the covering delete, then compaction.
    db.put(k(1), "old").unwrap();
    db.put(k(2), "two").unwrap();
    db.put(k(1), "newer").unwrap();
    let snap = db.snapshot();
    db.delete_range(k(0), k(10)).unwrap();
    db.put(k(3), "after").unwrap();
    for round in 0..3 {
        assert_eq!(
            snap.get(k(1)).unwrap().as_deref(),
            Some(&b"newer"[..]),
            "round {round}"
        );
        assert_eq!(snap.get(k(2)).unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(snap.get(k(3)).unwrap(), None);
        assert_eq!(snap.iter().count(), 2);
        assert_eq!(snap.iter().rev().count(), 2);
        assert_eq!(db.get(k(1)).unwrap(), None);
        assert_eq!(db.get(k(3)).unwrap().as_deref(), Some(&b"after"[..]));
        assert_eq!(db.iter().count(), 1);
        match round {
            0 => db.flush().unwrap(),
            _ => db.compact().unwrap(),
        }
    }
    drop(snap);
    db.compact().unwrap();
    assert_eq!(db.iter().count(), 1);
}

#[test]
fn bad_ranges_are_refused_and_empty_ones_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.put("b", "1").unwrap();
    match db.delete_range("c", "a") {
        Err(Error::InvalidArgument { kind, .. }) => {
            assert_eq!(kind, InvalidArgumentKind::InvalidRange)
        }
        other => panic!("expected InvalidRange, got {other:?}"),
    }
    db.delete_range("b", "b").unwrap();
    assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"1"[..]));
    let mut batch = WriteBatch::new();
    batch.put("x", "1").delete_range("z", "y");
    assert!(db.write(batch).is_err());
    assert_eq!(db.get("x").unwrap(), None, "a refused batch writes nothing");
}

#[test]
fn deleting_every_key_with_the_empty_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for i in 0..500 {
        db.put(k(i), "v").unwrap();
    }
    db.put(vec![0xffu8; 300], "high").unwrap();
    db.delete_prefix("").unwrap();
    assert_eq!(db.iter().count(), 0);
    assert_eq!(db.get(vec![0xffu8; 300]).unwrap(), None);
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(db.iter().count(), 0);
    db.put("fresh", "1").unwrap();
    assert_eq!(db.iter().count(), 1);
}
