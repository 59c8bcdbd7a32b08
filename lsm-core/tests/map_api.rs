//! The map-like reads (`iter`, `first_key_value`, `last_key_value`,
//! `contains_key`) agree with a `BTreeMap` when the data is spread over segments
//! and the memtable, and the smallest and largest keys are deleted or overwritten
//! in a newer layer than the one holding their old values.

use std::collections::BTreeMap;

use lsm_core::{Bytes, Db, Options};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn pair(entry: Option<(&Vec<u8>, &Vec<u8>)>) -> Option<(Bytes, Bytes)> {
    entry.map(|(k, v)| (Bytes::from(k.clone()), Bytes::from(v.clone())))
}

fn check(db: &Db, model: &Model, what: &str) {
    let all: Vec<(Bytes, Bytes)> = db.iter().collect::<Result<_, _>>().unwrap();
    let expected: Vec<(Bytes, Bytes)> = model
        .iter()
        .map(|(k, v)| (Bytes::from(k.clone()), Bytes::from(v.clone())))
        .collect();
    assert_eq!(all, expected, "{what}: iter");
    let mut reversed: Vec<(Bytes, Bytes)> = db.iter().rev().collect::<Result<_, _>>().unwrap();
    reversed.reverse();
    assert_eq!(reversed, expected, "{what}: iter().rev()");
    assert_eq!(
        db.first_key_value().unwrap(),
        pair(model.first_key_value()),
        "{what}: first"
    );
    assert_eq!(
        db.last_key_value().unwrap(),
        pair(model.last_key_value()),
        "{what}: last"
    );
    let snapshot = db.snapshot();
    assert_eq!(
        snapshot.first_key_value().unwrap(),
        pair(model.first_key_value()),
        "{what}: snapshot first"
    );
    assert_eq!(
        snapshot.last_key_value().unwrap(),
        pair(model.last_key_value()),
        "{what}: snapshot last"
    );
    for i in 0..=101u32 {
        let key = format!("k{i:03}").into_bytes();
        assert_eq!(
            db.contains_key(&key).unwrap(),
            model.contains_key(&key),
            "{what}: contains_key {i}"
        );
        assert_eq!(
            snapshot.contains_key(&key).unwrap(),
            model.contains_key(&key),
            "{what}: snapshot contains_key {i}"
        );
    }
}

#[test]
fn ends_and_membership_follow_deletes_across_layers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut model = Model::new();
    check(&db, &model, "empty");

    for i in 1..=100u32 {
        let (k, v) = (format!("k{i:03}"), format!("v{i}"));
        db.put(&k, &v).unwrap();
        model.insert(k.into_bytes(), v.into_bytes());
    }
    db.compact().unwrap(); // the old values now sit in a deeper level
    check(&db, &model, "compacted");

    // Newer layers hide the ends: tombstones in a level-0 segment...
    for i in [1u32, 2, 100] {
        let k = format!("k{i:03}");
        db.delete(&k).unwrap();
        model.remove(k.as_bytes());
    }
    db.flush().unwrap();
    check(&db, &model, "ends deleted in level 0");

    // ...and in the memtable, with an overwrite and a key before every other.
    for i in [3u32, 99] {
        let k = format!("k{i:03}");
        db.delete(&k).unwrap();
        model.remove(k.as_bytes());
    }
    db.put("k098", "new").unwrap();
    model.insert(b"k098".to_vec(), b"new".to_vec());
    check(&db, &model, "ends deleted in the memtable");
    db.put("k000", "first").unwrap();
    model.insert(b"k000".to_vec(), b"first".to_vec());
    check(&db, &model, "a new smallest key");

    // Everything deleted: both ends are `None` although segments still hold data.
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    for k in keys {
        db.delete(&k).unwrap();
    }
    model.clear();
    check(&db, &model, "all deleted");
    db.close().unwrap();
}
