//! Key-value separation: values at or above `Options::blob_threshold` live in blob
//! files, read back through the pointers the segments keep, across flushes,
//! compactions, reopens, snapshots and keyspace drops; blob files are deleted once
//! nothing points into them and collected once mostly garbage.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::files::blob_files;
use lsm_core::{Db, KeyspaceOptions, Options};

/// Waits (up to 20 s) for `done`: background compactions, and the deletion of a
/// file when its last reader lets go, finish on their own time.
fn eventually(what: &str, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match done() {
            Ok(()) => return,
            Err(why) if std::time::Instant::now() > deadline => panic!("{what}: {why}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// Bytes of the blob files in `dir`.
fn blob_bytes_on_disk(dir: &Path) -> u64 {
    blob_files(dir)
        .iter()
        .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
        .map(|m| m.len())
        .sum()
}

fn options() -> Options {
    common::small_options().with_blob_threshold(Some(200))
}

fn value(i: u32, round: u32, len: usize) -> Vec<u8> {
    let mut v = format!("{i:05}-{round:03}-").into_bytes();
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

fn check(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for (k, v) in model {
        let got = db.get(k).unwrap();
        assert_eq!(
            got.as_deref(),
            Some(&v[..]),
            "key {:?}",
            String::from_utf8_lossy(k)
        );
    }
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<lsm_core::Result<_>>()
        .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(scanned.len(), want.len());
    assert!(scanned == want, "forward scan differs");
    let mut back: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .rev()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<lsm_core::Result<_>>()
        .unwrap();
    back.reverse();
    assert!(back == want, "reverse scan differs");
    let keys: Vec<Vec<u8>> = db
        .iter()
        .keys()
        .map(|k| k.map(|k| k.to_vec()))
        .collect::<lsm_core::Result<_>>()
        .unwrap();
    assert_eq!(keys, model.keys().cloned().collect::<Vec<_>>());
}

/// Large values go to blob files and come back through gets, scans in both
/// directions and key-only scans, before and after compactions and a reopen.
#[test]
fn large_values_live_in_blob_files_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..400u32 {
        let len = if i % 3 == 0 {
            50
        } else {
            300 + (i as usize % 7) * 100
        };
        let (k, v) = (format!("key{i:05}").into_bytes(), value(i, 0, len));
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.flush().unwrap();
    assert!(
        !blob_files(dir.path()).is_empty(),
        "a flush writes blob files"
    );
    let stats = db.stats();
    assert!(stats.blob_files > 0 && stats.blob_bytes > 0, "{stats:?}");
    check(&db, &model);
    db.compact().unwrap();
    check(&db, &model);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db, &model);
    db.close().unwrap();
}

/// Overwritten and deleted large values give their space back: blob files no
/// live segment points into are deleted, and mostly-garbage ones are collected.
#[test]
fn space_of_overwritten_large_values_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut model = BTreeMap::new();
    for round in 0..6u32 {
        for i in 0..200u32 {
            let (k, v) = (format!("key{i:05}").into_bytes(), value(i, round, 1000));
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        db.flush().unwrap();
    }
    for i in (0..200u32).step_by(2) {
        let k = format!("key{i:05}").into_bytes();
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    db.compact().unwrap();
    check(&db, &model);
    let stats = db.stats();
    let live: u64 = model.values().map(|v| v.len() as u64).sum();
    // After a full compaction only the live values remain (plus framing).
    assert!(
        stats.blob_bytes < live * 2,
        "{} blob bytes for {live} live value bytes",
        stats.blob_bytes
    );
    // A collection the background thread may still be running writes its new
    // file before the version that holds it is installed, and a dead file goes
    // when its last reader lets go: the two agree once the thread is idle.
    eventually("every dead blob file is deleted", || {
        let (on_disk, live) = (blob_bytes_on_disk(dir.path()), db.stats().blob_bytes);
        (on_disk == live)
            .then_some(())
            .ok_or(format!("{on_disk} bytes on disk, {live} live"))
    });
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db, &model);
    db.close().unwrap();
}

/// A snapshot keeps reading the values it saw, though compaction has since
/// dropped their pointers and their blob file is dead for newer readers.
#[test]
fn snapshots_and_scans_keep_the_blob_files_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for i in 0..100u32 {
        db.put(format!("k{i:03}"), value(i, 0, 600)).unwrap();
    }
    db.flush().unwrap();
    let snap = db.snapshot();
    let mut scan = db.iter();
    let first = scan.next().unwrap().unwrap();
    assert_eq!(&first.1[..], &value(0, 0, 600)[..]);
    for i in 0..100u32 {
        db.put(format!("k{i:03}"), value(i, 1, 600)).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    for i in 0..100u32 {
        let k = format!("k{i:03}");
        assert_eq!(snap.get(&k).unwrap().unwrap(), value(i, 0, 600));
        assert_eq!(db.get(&k).unwrap().unwrap(), value(i, 1, 600));
    }
    // The scan made before the overwrite reads the old values to its end.
    for (n, kv) in scan.enumerate() {
        let (_, v) = kv.unwrap();
        assert_eq!(&v[..], &value(n as u32 + 1, 0, 600)[..]);
    }
    drop(snap);
    db.compact().unwrap();
    db.close().unwrap();
}

/// Each keyspace has its own threshold; dropping a keyspace deletes its blob
/// files; a threshold turned off leaves old pointers readable.
#[test]
fn keyspaces_thresholds_and_drops() {
    let dir = tempfile::tempdir().unwrap();
    let opts = common::small_options();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let big = db
        .keyspace_with(
            "big",
            KeyspaceOptions::default().with_blob_threshold(Some(100)),
        )
        .unwrap();
    for i in 0..50u32 {
        big.put(format!("k{i}"), value(i, 0, 500)).unwrap();
        db.put(format!("k{i}"), value(i, 1, 500)).unwrap();
    }
    db.flush().unwrap();
    assert!(!blob_files(dir.path()).is_empty());
    eventually("every blob file on disk is live", || {
        let (on_disk, live) = (blob_files(dir.path()).len(), db.stats().blob_files);
        (on_disk == live)
            .then_some(())
            .ok_or(format!("{on_disk} on disk, {live} live"))
    });
    for i in 0..50u32 {
        assert_eq!(big.get(format!("k{i}")).unwrap().unwrap(), value(i, 0, 500));
        assert_eq!(db.get(format!("k{i}")).unwrap().unwrap(), value(i, 1, 500));
    }
    db.close().unwrap();
    // Reopened without the threshold: the pointers still read, and compactions
    // leave the values where they are until the file is collected.
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let big = db.keyspace("big").unwrap();
    big.compact_range(b"", b"\xff\xff").unwrap();
    for i in 0..50u32 {
        assert_eq!(big.get(format!("k{i}")).unwrap().unwrap(), value(i, 0, 500));
    }
    drop(big);
    db.drop_keyspace("big").unwrap();
    eventually("the dropped keyspace's blob files are deleted", || {
        let left = blob_files(dir.path());
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.keyspace_names(), ["default"]);
    db.close().unwrap();
}

/// A blob file left mostly garbage behind pointers no compaction reaches any
/// more (a tree that stopped growing) is collected by the background thread: the
/// segment pointing into it is rewritten, its live values move to a new blob
/// file, and the old file is deleted.
#[test]
fn the_background_thread_collects_mostly_garbage_blob_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = common::small_options()
        .with_segment_size(256 << 10)
        .with_level1_size(4 << 20)
        .with_blob_threshold(Some(200))
        .with_blob_gc_ratio(0.4);
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..200u32 {
        let (k, v) = (format!("key{i:05}").into_bytes(), value(i, 0, 1000));
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.flush().unwrap();
    db.compact().unwrap();
    let first = blob_files(dir.path());
    assert!(!first.is_empty());
    // Half the values are overwritten; the compaction that drops their old
    // pointers leaves the first files half garbage, pointed into by one segment.
    for i in (0..200u32).step_by(2) {
        let (k, v) = (format!("key{i:05}").into_bytes(), value(i, 1, 1000));
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.flush().unwrap();
    db.compact().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = blob_files(dir.path());
        // The count comes just after the edit that may delete the files.
        if first.iter().all(|f| !now.contains(f)) && db.stats().blob_values_relocated >= 100 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still there: {:?} (stats {:?})",
            first.iter().filter(|f| now.contains(f)).collect::<Vec<_>>(),
            db.stats()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(db.stats().blob_values_relocated >= 100, "{:?}", db.stats());
    check(&db, &model);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    check(&db, &model);
    db.close().unwrap();
}

/// Each keyspace collects its blob files at its own garbage ratio: half garbage
/// is collected in a keyspace whose ratio is 0.4, and left in one that takes the
/// database's 0.9.
#[test]
fn a_keyspaces_own_gc_ratio_decides_when_its_blob_files_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let opts = common::small_options()
        .with_segment_size(256 << 10)
        .with_level1_size(4 << 20)
        .with_blob_threshold(Some(200))
        .with_blob_gc_ratio(0.9)
        .with_keyspace_options("hot", KeyspaceOptions::default().with_blob_gc_ratio(0.4));
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let hot = db.keyspace("hot").unwrap();
    let key = |i: u32| format!("key{i:05}");
    // Each keyspace's values, flushed apart, so each has its own blob files.
    for i in 0..200u32 {
        db.put(key(i), value(i, 0, 1000)).unwrap();
    }
    db.flush().unwrap();
    let cold_files = blob_files(dir.path());
    for i in 0..200u32 {
        hot.put(key(i), value(i, 1, 1000)).unwrap();
    }
    db.flush().unwrap();
    let hot_files: Vec<String> = blob_files(dir.path())
        .into_iter()
        .filter(|f| !cold_files.contains(f))
        .collect();
    assert!(!cold_files.is_empty() && !hot_files.is_empty());
    db.compact().unwrap();
    // Half of each keyspace's values overwritten: every first file half garbage.
    for i in (0..200u32).step_by(2) {
        db.put(key(i), value(i, 2, 1000)).unwrap();
        hot.put(key(i), value(i, 3, 1000)).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    // The job that collects a file counts what it moved just after its edit,
    // which may delete the file first: wait for both.
    eventually(
        "the hot keyspace's half-garbage files are collected",
        || {
            let now = blob_files(dir.path());
            let left: Vec<_> = hot_files.iter().filter(|f| now.contains(f)).collect();
            let relocated = db.stats().blob_values_relocated;
            (left.is_empty() && relocated >= 100)
                .then_some(())
                .ok_or(format!("{left:?} left, {relocated} relocated"))
        },
    );
    let now = blob_files(dir.path());
    assert!(
        cold_files.iter().all(|f| now.contains(f)),
        "the default keyspace's files were collected at its 0.9: {cold_files:?} then {now:?}"
    );
    let relocated = db.stats().blob_values_relocated;
    assert!((100..200).contains(&relocated), "{relocated} relocated");
    for i in 0..200u32 {
        let round = if i % 2 == 0 { 2 } else { 0 };
        assert_eq!(db.get(key(i)).unwrap().unwrap(), value(i, round, 1000));
        assert_eq!(hot.get(key(i)).unwrap().unwrap(), value(i, round + 1, 1000));
    }
    drop(hot);
    db.close().unwrap();
}

/// A read-only open reads values kept in blob files, also while the writer
/// compacts and deletes the files it opened.
#[test]
fn read_only_opens_read_blob_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..150u32 {
        let (k, v) = (format!("key{i:05}").into_bytes(), value(i, 0, 700));
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.flush().unwrap();
    let ro = Db::open_read_only(dir.path(), options()).unwrap();
    // The writer overwrites everything and compacts: the files the reader
    // opened are deleted for the writer, not for the reader.
    for i in 0..150u32 {
        db.put(format!("key{i:05}"), value(i, 1, 700)).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    for (k, v) in &model {
        assert_eq!(ro.get(k).unwrap().as_deref(), Some(&v[..]));
    }
    let scanned = ro.scan::<&[u8], _>(..).count();
    assert_eq!(scanned, model.len());
    drop(ro);
    db.close().unwrap();
}

/// A live blob file removed by hand makes open refuse with `Corruption`, naming
/// it, and delete nothing; put back, every value reads again.
#[test]
fn a_missing_blob_file_is_refused_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for i in 0..100u32 {
        db.put(format!("k{i:03}"), value(i, 0, 500)).unwrap();
    }
    db.close().unwrap();
    let files = blob_files(dir.path());
    let victim = dir.path().join(&files[0]);
    let saved = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    let names = |d: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    let before = names(dir.path());
    match Db::open(dir.path(), options()) {
        Err(lsm_core::Error::Corruption { reason, .. }) => {
            assert!(reason.contains(&files[0]), "{reason}");
        }
        other => panic!("want Corruption, got {:?}", other.map(|_| ())),
    }
    assert_eq!(names(dir.path()), before, "a refused open deletes nothing");
    std::fs::write(&victim, saved).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for i in 0..100u32 {
        assert_eq!(
            db.get(format!("k{i:03}")).unwrap().unwrap(),
            value(i, 0, 500)
        );
    }
    db.close().unwrap();
}
