//! `Db::open_read_only`: a view of the database without the lock, beside a writer or
//! alone, that writes nothing and is always a prefix of the writer's history.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::small_options;
use lsm_core::{Db, Error, Options};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn all(scan: lsm_core::Scan) -> Map {
    scan.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Name, size and contents of every file.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

#[test]
fn a_read_only_open_reads_what_the_writer_reads_in_every_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), small_options()).unwrap();
    let mut model = Map::new();
    for i in 0..2000u64 {
        if i == 1000 {
            // A deeper level for certain, whatever the background threads did.
            db.compact().unwrap();
        }
        let (k, v) = (key(i % 700), format!("v{i}").into_bytes());
        if i % 11 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    // Some of it is in segments over several levels, the rest only in the WAL.
    assert!(db.stats().levels.iter().skip(1).any(|l| l.segments > 0));
    let reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    assert_eq!(all(reader.iter()), model);
    assert_eq!(all(db.iter()), model);
    let rev: Vec<_> = reader.iter().rev().map(|r| r.unwrap().0.to_vec()).collect();
    assert_eq!(rev, model.keys().rev().cloned().collect::<Vec<_>>());
    for i in 0..700 {
        assert_eq!(
            reader.get(key(i)).unwrap().map(|v| v.to_vec()),
            model.get(&key(i)).cloned()
        );
    }
    assert_eq!(
        reader.prefix("key-0001").count(),
        model.keys().filter(|k| k.starts_with(b"key-0001")).count()
    );
    db.close().unwrap();
}

#[test]
fn a_read_only_open_writes_nothing_and_takes_no_lock() {
    let tmp = tempfile::tempdir().unwrap();
    {
        // A memtable large enough that nothing is flushed, and no flush timer: the
        // writer stays idle once its writes are synced.
        let options = Options::default().with_flush_interval(None);
        let db = Db::open(tmp.path(), options).unwrap();
        for i in 0..500 {
            db.put(key(i), "v").unwrap();
        }
        db.sync().unwrap();
        // Never closed: the WAL holds unflushed writes and a preallocated tail,
        // which a read-only open must replay without trimming.
        std::mem::forget(db);
    }
    std::fs::remove_file(tmp.path().join("LOCK")).ok();
    let before = files(tmp.path());
    let mut reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    assert_eq!(reader.iter().count(), 500);
    reader.refresh().unwrap();
    let second = Db::open_read_only(tmp.path(), small_options()).unwrap();
    assert_eq!(second.iter().count(), 500);
    drop((reader, second));
    assert_eq!(
        files(tmp.path()),
        before,
        "a read-only open changed the directory"
    );
}

#[test]
fn a_missing_or_foreign_directory_is_refused_and_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let absent = tmp.path().join("absent");
    let err = Db::open_read_only(&absent, Options::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(!absent.exists());
    std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
    let err = Db::open_read_only(tmp.path(), Options::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(files(tmp.path()).len(), 1);
}

#[test]
fn a_damaged_manifest_is_corruption_for_readers_too() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), small_options()).unwrap();
    for i in 0..300 {
        db.put(key(i), "v").unwrap();
    }
    db.close().unwrap();
    let manifest = tmp.path().join("MANIFEST");
    let mut data = std::fs::read(&manifest).unwrap();
    data.truncate(data.len() / 2);
    std::fs::write(&manifest, &data).unwrap();
    let err = Db::open_read_only(tmp.path(), small_options()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
}

/// A writer puts keys 0, 1, 2, ... in order, with flushes and compactions running,
/// while a reader refreshes as fast as it can: every view holds exactly keys
/// `0..n` for some `n` that never goes down (a prefix, no holes), and snapshots taken
/// from old views keep reading them after the writer compacted their files away.
#[test]
fn views_beside_a_running_writer_are_prefixes_of_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(tmp.path(), small_options()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..4000u64 {
                db.put(key(i), format!("value-{i}")).unwrap();
            }
            db.sync().unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    let mut last = 0;
    let mut views = 0;
    let mut old = Vec::new();
    loop {
        let finished = done.load(Ordering::SeqCst);
        reader.refresh().unwrap();
        let view = all(reader.iter());
        let n = view.len() as u64;
        for (i, (k, v)) in view.iter().enumerate() {
            assert_eq!(*k, key(i as u64), "a hole in a view of {n} keys");
            assert_eq!(*v, format!("value-{i}").into_bytes());
        }
        assert!(n >= last, "a view went back from {last} to {n} keys");
        last = n;
        views += 1;
        if views % 10 == 1 {
            old.push((reader.snapshot(), n));
        }
        if finished {
            break;
        }
    }
    writer.join().unwrap();
    assert_eq!(last, 4000, "the last view after sync misses writes");
    db.compact().unwrap();
    for (snapshot, n) in &old {
        assert_eq!(all(snapshot.iter()).len() as u64, *n);
    }
    println!("{views} views, {} kept as snapshots", old.len());
}
