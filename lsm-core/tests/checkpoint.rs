//! `Db::checkpoint`: a copy taken while the database runs holds everything
//! acknowledged before the call, is a prefix of the history, opens on its own, and a
//! crash while it is written never leaves a copy that opens to a wrong state.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::small_options;
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Db, Error};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn all(db: &Db) -> Map {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

#[test]
fn a_checkpoint_holds_everything_acknowledged_before_it_and_opens_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("live"), small_options()).unwrap();
    let mut model = Map::new();
    let write = |db: &Db, range: std::ops::Range<u64>, model: &mut Map| {
        for i in range {
            let k = key(i % 500);
            if i % 9 == 0 {
                db.delete(&k).unwrap();
                model.remove(&k);
            } else {
                let v = format!("v{i}").into_bytes();
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
    };
    write(&db, 0..1500, &mut model);
    let first = model.clone();
    db.checkpoint(tmp.path().join("a")).unwrap();
    db.compact().unwrap(); // a deeper level for certain
    write(&db, 1500..3000, &mut model);
    db.checkpoint(tmp.path().join("b")).unwrap();

    let a = Db::open(tmp.path().join("a"), small_options()).unwrap();
    let b = Db::open(tmp.path().join("b"), small_options()).unwrap();
    assert!(
        all(&a) == first,
        "checkpoint a is not the state at its call"
    );
    assert!(
        all(&b) == model,
        "checkpoint b is not the state at its call"
    );
    // Each is a database of its own: writes to one never reach another.
    a.put("only-in-a", "x").unwrap();
    a.compact().unwrap();
    assert_eq!(db.get("only-in-a").unwrap(), None);
    assert!(all(&b) == model);
    assert!(all(&db) == model);
    drop((a, b));
    db.close().unwrap();
}

#[test]
fn a_checkpoint_into_an_existing_path_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("live"), small_options()).unwrap();
    db.put("k", "v").unwrap();
    let dest = tmp.path().join("taken");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("mine.txt"), "keep").unwrap();
    let err = db.checkpoint(&dest).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&dest).unwrap().collect();
    assert_eq!(
        names.len(),
        1,
        "the refused checkpoint wrote into the directory"
    );
}

#[cfg(unix)]
#[test]
fn segments_are_hard_linked_where_the_file_system_allows() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let db = Db::open(&live, small_options()).unwrap();
    for i in 0..800 {
        db.put(key(i), "value").unwrap();
    }
    db.checkpoint(tmp.path().join("copy")).unwrap();
    let mut linked = 0;
    for e in std::fs::read_dir(tmp.path().join("copy")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".seg") {
            let source = live.join(&name);
            // A segment the source compacted away since is gone from it: skip.
            if let Ok(meta) = std::fs::metadata(&source) {
                assert_eq!(
                    meta.ino(),
                    e.metadata().unwrap().ino(),
                    "{name:?} is a copy"
                );
                linked += 1;
            }
        }
    }
    assert!(linked > 0);
}

/// A writer puts keys 0, 1, 2, ... in order while flushes and compactions run; the
/// main thread takes checkpoints. Each opens to exactly keys `0..n` with `n` at
/// least what was acknowledged before its call.
#[test]
fn checkpoints_beside_a_writer_and_compactions_are_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(tmp.path().join("live"), small_options()).unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, written, done) = (db.clone(), written.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..4000u64 {
                db.put(key(i), format!("value-{i}")).unwrap();
                written.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut taken = 0;
    while !done.load(Ordering::SeqCst) || taken == 0 {
        let acknowledged = written.load(Ordering::SeqCst);
        let dest = tmp.path().join(format!("cp{taken}"));
        db.checkpoint(&dest).unwrap();
        let copy = Db::open(&dest, small_options()).unwrap();
        let got = all(&copy);
        assert!(
            got.len() as u64 >= acknowledged,
            "{} < {acknowledged}",
            got.len()
        );
        for (i, (k, v)) in got.iter().enumerate() {
            assert_eq!(*k, key(i as u64), "a hole in checkpoint {taken}");
            assert_eq!(*v, format!("value-{i}").into_bytes());
        }
        taken += 1;
    }
    writer.join().unwrap();
    println!("{taken} checkpoints");
}

/// A power cut at every file operation of a checkpoint: the source keeps every
/// synced write, and the copy either opens to exactly the state of the call or is
/// refused; it never opens to something else.
#[test]
fn a_crash_while_checkpointing_never_leaves_a_copy_that_opens_wrong() {
    let options = small_options();
    let mut model = Map::new();
    let disk = SimFs::new();
    {
        let db = Db::open_with_fs("/live", options.clone(), disk.fs_ref()).unwrap();
        for i in 0..600u64 {
            let v = format!("v{i}").into_bytes();
            db.put(key(i % 250), &v).unwrap();
            model.insert(key(i % 250), v);
        }
        db.close().unwrap();
    }
    let (mut refused, mut whole) = (0, 0);
    for ops in 0.. {
        let run = disk.crash(CrashMode::DropUnsynced, 0);
        let db = Db::open_with_fs("/live", options.clone(), run.fs_ref()).unwrap();
        run.power_off_after(ops);
        let result = db.checkpoint("/copy");
        let finished = !run.is_powered_off();
        drop(db);
        assert!(
            result.is_ok() || !finished,
            "a checkpoint failed without a crash"
        );
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let image = run.crash(mode, ops);
            let source = Db::open_with_fs("/live", options.clone(), image.fs_ref()).unwrap();
            assert!(
                all(&source) == model,
                "the source lost data (cut after {ops})"
            );
            drop(source);
            match Db::open_with_fs(
                "/copy",
                options.clone().with_create_if_missing(false),
                image.fs_ref(),
            ) {
                Ok(copy) => {
                    assert!(
                        all(&copy) == model,
                        "a copy opened to a wrong state (cut after {ops})"
                    );
                    whole += 1;
                }
                Err(e) => {
                    assert!(
                        e.is_corruption() || matches!(e, Error::Io { .. }),
                        "cut after {ops}: {e}"
                    );
                    assert!(
                        !finished || mode != CrashMode::DropUnsynced,
                        "a finished checkpoint does not open: {e}"
                    );
                    refused += 1;
                }
            }
        }
        if finished {
            break;
        }
    }
    assert!(whole > 0 && refused > 0);
    println!("{refused} partial copies refused, {whole} whole");
}
