//! Named keyspaces: isolation, persistence, cross-keyspace batches, per-keyspace
//! flush and WAL retention, drop (files, names, handles, recreation), and the
//! crash safety of cross-keyspace batches, drops and creations on the simulated
//! file system (a power cut at every file operation, every crash mode).

use std::path::Path;

use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::fuzzing::{open_sim, DB_PATH};
use lsm_core::{Db, Error, InvalidArgumentKind, KeyspaceOptions, Options, WriteBatch};

fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

fn keys(scan: lsm_core::Scan) -> Vec<String> {
    scan.map(|r| String::from_utf8(r.unwrap().0.to_vec()).unwrap())
        .collect()
}

#[test]
fn the_same_key_in_two_keyspaces_is_two_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();
    a.put("k", "in a").unwrap();
    b.put("k", "in b").unwrap();
    db.put("k", "in default").unwrap();
    assert_eq!(a.get("k").unwrap().as_deref(), Some(&b"in a"[..]));
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"in b"[..]));
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"in default"[..]));
    a.delete("k").unwrap();
    assert_eq!(a.get("k").unwrap(), None);
    assert!(b.contains_key("k").unwrap());
    b.put("l", "").unwrap();
    b.delete_prefix("l").unwrap();
    a.put("m", "").unwrap();
    assert_eq!(keys(a.iter()), ["m"]);
    assert_eq!(keys(b.scan::<&str, _>(..)), ["k"]);
    assert_eq!(keys(db.iter()), ["k"]);
    // `Db`'s own methods are the default keyspace's.
    let default = db.keyspace("default").unwrap();
    assert_eq!(
        default.get("k").unwrap().as_deref(),
        Some(&b"in default"[..])
    );
    assert_eq!(db.keyspace_names(), ["a", "b", "default"]);
}

#[test]
fn bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for name in [String::new(), "x".repeat(256)] {
        match db.keyspace(&name) {
            Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::KeyspaceName,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        db.drop_keyspace("default"),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyspaceName,
            ..
        })
    ));
    db.drop_keyspace("never-created").unwrap();
}

#[test]
fn keyspaces_persist_across_reopen_from_wal_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let a = db.keyspace("a").unwrap();
        let b = db.keyspace("b").unwrap();
        a.put("flushed", "1").unwrap();
        a.flush().unwrap();
        a.put("in-wal", "2").unwrap();
        b.put("in-wal", "3").unwrap();
        // Killed, not closed: the WAL holds the unflushed writes.
        std::mem::forget(db);
    }
    let dir2 = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap();
        if f.file_name() != "LOCK" {
            std::fs::copy(f.path(), dir2.path().join(f.file_name())).unwrap();
        }
    }
    let db = Db::open(dir2.path(), Options::default()).unwrap();
    assert_eq!(db.keyspace_names(), ["a", "b", "default"]);
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();
    assert_eq!(a.get("flushed").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(a.get("in-wal").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(b.get("in-wal").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(b.get("flushed").unwrap(), None);
    assert_eq!(db.get("in-wal").unwrap(), None);
    db.close().unwrap();
    let db = Db::open(dir2.path(), Options::default()).unwrap();
    assert_eq!(
        db.keyspace("b").unwrap().get("in-wal").unwrap().as_deref(),
        Some(&b"3"[..])
    );
}

#[test]
fn a_batch_writes_several_keyspaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let users = db.keyspace("users").unwrap();
    let emails = db.keyspace("emails").unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put_in(&users, "ada", "Ada")
        .put_in(&emails, "ada@x", "ada")
        .put("counter", "1")
        .delete_range_in(&emails, "a", "a");
    db.write(batch).unwrap();
    assert_eq!(users.get("ada").unwrap().as_deref(), Some(&b"Ada"[..]));
    assert_eq!(emails.get("ada@x").unwrap().as_deref(), Some(&b"ada"[..]));
    assert_eq!(db.get("counter").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(users.get("ada@x").unwrap(), None);
}

#[test]
fn flushing_one_keyspace_leaves_the_other_and_keeps_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();
    a.put("k", "a").unwrap();
    b.put("k", "b").unwrap();
    let wals_before = files(dir.path(), ".wal");
    assert_eq!(wals_before.len(), 1, "{wals_before:?}");
    a.flush().unwrap();
    assert_eq!(a.level_stats().unwrap()[0].segments, 1);
    assert!(b.level_stats().unwrap().is_empty(), "b was flushed too");
    // b's data is still only in the first WAL: it stays.
    let wals = files(dir.path(), ".wal");
    assert!(wals.contains(&wals_before[0]), "{wals:?}");
    assert_eq!(wals.len(), 2, "{wals:?}");
    b.flush().unwrap();
    assert_eq!(b.level_stats().unwrap()[0].segments, 1);
    let wals = files(dir.path(), ".wal");
    assert!(!wals.contains(&wals_before[0]), "{wals:?}");
    assert_eq!(a.get("k").unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"b"[..]));
    // An empty keyspace does not hold WALs back.
    let _idle = db.keyspace("idle").unwrap();
    a.put("k2", "a").unwrap();
    a.flush().unwrap();
    assert_eq!(files(dir.path(), ".wal").len(), 1);
}

/// A keyspace written once and then left alone must not hold every WAL written
/// since: the busy keyspace's memtable switches freeze it once the WALs pile up
/// (as RocksDB's `max_total_wal_size` flushes the column families holding the
/// oldest WAL), so the WAL files stay few and its data stays readable.
#[test]
fn a_quiet_keyspace_does_not_hold_the_wals_of_a_busy_one() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().with_memtable_size(4096);
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let busy = db.keyspace("busy").unwrap();
    let quiet = db.keyspace("quiet").unwrap();
    quiet.put("once", "written").unwrap();
    let mut most = 0;
    for i in 0..4000u32 {
        busy.put(format!("k{i:05}"), [b'x'; 64]).unwrap();
        if i % 100 == 0 {
            most = most.max(files(dir.path(), ".wal").len());
        }
    }
    assert!(most <= 6, "{most} WAL files at once");
    assert_eq!(quiet.get("once").unwrap().as_deref(), Some(&b"written"[..]));
    assert!(
        !quiet.level_stats().unwrap().is_empty(),
        "quiet was never flushed"
    );
    drop((busy, quiet));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    let quiet = db.keyspace("quiet").unwrap();
    assert_eq!(quiet.get("once").unwrap().as_deref(), Some(&b"written"[..]));
    assert_eq!(db.keyspace("busy").unwrap().iter().count(), 4000);
}

/// Keyspace options given at open are checked there, and a keyspace created
/// without options of its own takes them.
#[test]
fn keyspace_options_given_at_open_are_checked_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let bad = Options::default()
        .with_keyspace_options("tiny", KeyspaceOptions::default().with_block_size(16));
    let Err(err) = Db::open(dir.path(), bad) else {
        panic!("options with a 16-byte block size were accepted")
    };
    assert!(
        matches!(
            err,
            Error::InvalidOptions {
                field: "block_size",
                ..
            }
        ),
        "{err}"
    );
    let opts = Options::default().with_keyspace_options(
        "raw",
        KeyspaceOptions::default().with_compression(lsm_core::Compression::None),
    );
    let db = Db::open(dir.path(), opts).unwrap();
    let raw = db.keyspace("raw").unwrap();
    let squeezed = db.keyspace("squeezed").unwrap();
    for i in 0..500u32 {
        raw.put(format!("k{i:04}"), [b'a'; 100]).unwrap();
        squeezed.put(format!("k{i:04}"), [b'a'; 100]).unwrap();
    }
    raw.flush().unwrap();
    squeezed.flush().unwrap();
    let bytes = |ks: &lsm_core::Keyspace| -> u64 {
        ks.level_stats().unwrap().iter().map(|l| l.bytes).sum()
    };
    // The same data, compressed (LZ4 folds the repeated values) and not.
    assert!(
        bytes(&raw) > 2 * bytes(&squeezed),
        "{} vs {}",
        bytes(&raw),
        bytes(&squeezed)
    );
}

#[test]
fn drop_removes_files_names_and_handles() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let tmp = db.keyspace("tmp").unwrap();
    let kept = db.keyspace("kept").unwrap();
    kept.put("k", "kept").unwrap();
    kept.flush().unwrap();
    let kept_segments = files(dir.path(), ".seg");
    for i in 0..100 {
        tmp.put(format!("k{i}"), "v").unwrap();
    }
    tmp.flush().unwrap();
    tmp.put("unflushed", "v").unwrap();
    assert_eq!(files(dir.path(), ".seg").len(), kept_segments.len() + 1);
    let clone = tmp.clone();
    db.drop_keyspace("tmp").unwrap();
    assert_eq!(files(dir.path(), ".seg"), kept_segments);
    assert_eq!(db.keyspace_names(), ["default", "kept"]);
    for handle in [&tmp, &clone] {
        assert!(matches!(
            handle.get("k1"),
            Err(Error::KeyspaceDropped { .. })
        ));
        assert!(matches!(
            handle.put("k1", "v"),
            Err(Error::KeyspaceDropped { .. })
        ));
        assert!(matches!(handle.flush(), Err(Error::KeyspaceDropped { .. })));
        assert!(matches!(
            handle.iter().next(),
            Some(Err(Error::KeyspaceDropped { .. }))
        ));
    }
    let mut batch = WriteBatch::new();
    batch.put_in(&tmp, "k", "v");
    assert!(matches!(
        db.write(batch),
        Err(Error::KeyspaceDropped { .. })
    ));
    // Recreated: a new, empty keyspace; the old handle still fails.
    let again = db.keyspace("tmp").unwrap();
    assert_eq!(again.iter().count(), 0);
    again.put("new", "1").unwrap();
    assert!(tmp.get("new").is_err());
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let again = db.keyspace("tmp").unwrap();
    assert_eq!(keys(again.iter()), ["new"]);
    assert_eq!(
        db.keyspace("kept").unwrap().get("k").unwrap().as_deref(),
        Some(&b"kept"[..])
    );
}

#[test]
fn compaction_works_per_keyspace_and_db_compact_does_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().with_level0_compaction_trigger(2);
    let db = Db::open(dir.path(), opts).unwrap();
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();
    for round in 0..3 {
        a.put(format!("a{round}"), "x").unwrap();
        b.put(format!("b{round}"), "y").unwrap();
        a.flush().unwrap();
        b.flush().unwrap();
    }
    a.compact_range("a", "b").unwrap();
    db.compact().unwrap();
    for ks in [&a, &b] {
        let levels = ks.level_stats().unwrap();
        assert_eq!(levels[0].segments, 0, "{levels:?}");
        assert_eq!(levels.iter().map(|l| l.segments).sum::<usize>(), 1);
    }
    assert_eq!(keys(a.iter()), ["a0", "a1", "a2"]);
    assert_eq!(keys(b.iter()), ["b0", "b1", "b2"]);
}

/// Every crash image of a history of cross-keyspace batches holds each batch in
/// every keyspace or in none.
#[test]
fn cross_keyspace_batches_are_atomic_through_crashes() {
    let opts = Options::default().with_memtable_size(4 << 10);
    let mut points = 0;
    for k in 0.. {
        let sim = SimFs::new();
        let completed = {
            let db = open_sim(&sim, &opts).unwrap();
            let a = db.keyspace("a").unwrap();
            let b = db.keyspace("b").unwrap();
            sim.power_off_after(k);
            let mut ok = true;
            for i in 0..40u32 {
                let mut batch = WriteBatch::new();
                let v = format!("{i:0>200}");
                batch
                    .put_in(&a, format!("k{i}"), &v)
                    .put_in(&b, format!("k{i}"), &v);
                batch.put(format!("k{i}"), &v);
                if db.write(batch).is_err() {
                    ok = false;
                    break;
                }
                if i % 10 == 9 && a.flush().is_err() {
                    ok = false;
                    break;
                }
            }
            ok
        };
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            let image = sim.crash(mode, k * 4 + m as u64);
            let db = open_sim(&image, &opts).unwrap_or_else(|e| panic!("cut {k} {mode:?}: {e}"));
            let names = db.keyspace_names();
            if !names.contains(&"b".to_string()) {
                continue;
            }
            let a = db.keyspace("a").unwrap();
            let b = db.keyspace("b").unwrap();
            for i in 0..40u32 {
                let key = format!("k{i}");
                let present = [
                    a.contains_key(&key).unwrap(),
                    b.contains_key(&key).unwrap(),
                    db.contains_key(&key).unwrap(),
                ];
                assert!(
                    present == [true; 3] || present == [false; 3],
                    "cut {k} {mode:?}: batch {i} partly present: {present:?}"
                );
            }
        }
        points += 1;
        if completed {
            break;
        }
    }
    assert!(points > 10, "{points}");
}

/// A drop cut at every file operation leaves the keyspace wholly there or wholly
/// gone, and once the drop returned it never comes back (fjall #241).
#[test]
fn drop_is_all_or_nothing_through_crashes() {
    let opts = Options::default();
    let mut points = 0;
    for k in 0.. {
        let sim = SimFs::new();
        let dropped = {
            let db = open_sim(&sim, &opts).unwrap();
            let ks = db.keyspace("gone").unwrap();
            for i in 0..50u32 {
                ks.put(format!("k{i}"), "v").unwrap();
            }
            ks.flush().unwrap();
            ks.put("unflushed", "v").unwrap();
            db.put("stays", "v").unwrap();
            db.sync().unwrap();
            sim.power_off_after(k);
            db.drop_keyspace("gone").is_ok()
        };
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            let image = sim.crash(mode, k * 4 + m as u64);
            let db = open_sim(&image, &opts).unwrap_or_else(|e| panic!("cut {k} {mode:?}: {e}"));
            assert!(db.contains_key("stays").unwrap());
            let there = db.keyspace_names().contains(&"gone".to_string());
            assert!(
                !(dropped && there),
                "cut {k} {mode:?}: a drop that returned came back"
            );
            if there {
                let ks = db.keyspace("gone").unwrap();
                assert_eq!(ks.iter().count(), 51, "cut {k} {mode:?}");
            } else {
                // Its files are gone too (after the open's clean-up).
                let segs = image
                    .file_names(Path::new(DB_PATH))
                    .into_iter()
                    .filter(|n| n.ends_with(".seg"))
                    .count();
                assert!(segs <= 1, "cut {k} {mode:?}: {segs} segments left");
            }
        }
        points += 1;
        if dropped {
            break;
        }
    }
    assert!(points > 2, "{points}");
}

/// Creation cut at every file operation: after reopen the keyspace exists
/// (empty) or not, and the database opens.
#[test]
fn creation_is_all_or_nothing_through_crashes() {
    let opts = Options::default();
    for k in 0.. {
        let sim = SimFs::new();
        let created = {
            let db = open_sim(&sim, &opts).unwrap();
            db.put("k", "v").unwrap();
            sim.power_off_after(k);
            db.keyspace("new").is_ok()
        };
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            let image = sim.crash(mode, k * 4 + m as u64);
            let db = open_sim(&image, &opts).unwrap_or_else(|e| panic!("cut {k} {mode:?}: {e}"));
            let names = db.keyspace_names();
            if created {
                assert!(names.contains(&"new".to_string()), "cut {k} {mode:?}");
            }
            if names.contains(&"new".to_string()) {
                assert_eq!(db.keyspace("new").unwrap().iter().count(), 0);
            }
        }
        if created {
            break;
        }
    }
}

/// Snapshot reads of one keyspace stay as they were while another keyspace and
/// the same keyspace flush and compact (fjall #198).
#[test]
fn snapshots_are_stable_while_keyspaces_compact() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().with_level0_compaction_trigger(2);
    let db = Db::open(dir.path(), opts).unwrap();
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();
    for i in 0..20u32 {
        a.put(format!("k{i:02}"), "old").unwrap();
        b.put(format!("k{i:02}"), "old").unwrap();
    }
    a.flush().unwrap();
    let snap = db.snapshot();
    let before: Vec<_> = snap
        .scan_in::<&str, _>(&a, ..)
        .map(|r| r.unwrap())
        .collect();
    for round in 0..4 {
        for i in 0..20u32 {
            a.put(format!("k{i:02}"), format!("new{round}")).unwrap();
            b.put(format!("k{i:02}"), format!("new{round}")).unwrap();
        }
        a.delete("k05").unwrap();
        a.flush().unwrap();
        b.flush().unwrap();
    }
    b.compact_range("a", "z").unwrap();
    a.compact_range("a", "z").unwrap();
    let after: Vec<_> = snap
        .scan_in::<&str, _>(&a, ..)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        snap.get_in(&a, "k05").unwrap().as_deref(),
        Some(&b"old"[..])
    );
    assert_eq!(
        snap.get_in(&b, "k05").unwrap().as_deref(),
        Some(&b"old"[..])
    );
    assert_eq!(a.get("k05").unwrap(), None);
}

/// Drops every value "junk" in the compactions it is given to.
struct DropJunk;

impl lsm_core::CompactionFilter for DropJunk {
    fn filter(&self, _: usize, _: &[u8], value: &[u8], _: bool) -> lsm_core::FilterDecision {
        if value == b"junk" {
            lsm_core::FilterDecision::Remove
        } else {
            lsm_core::FilterDecision::Keep
        }
    }
}

#[test]
fn a_compaction_filter_of_one_keyspace_leaves_the_others_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let filtered = db
        .keyspace_with(
            "filtered",
            lsm_core::KeyspaceOptions::default()
                .with_compaction_filter(std::sync::Arc::new(DropJunk))
                .with_block_size(1024),
        )
        .unwrap();
    let plain = db.keyspace("plain").unwrap();
    for ks in [&filtered, &plain] {
        ks.put("a", "junk").unwrap();
        ks.put("b", "good").unwrap();
        ks.compact_range("a", "z").unwrap();
    }
    db.put("a", "junk").unwrap();
    db.compact().unwrap();
    assert_eq!(keys(filtered.iter()), ["b"]);
    assert_eq!(keys(plain.iter()), ["a", "b"]);
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"junk"[..]));
    // Invalid per-keyspace options are refused.
    assert!(matches!(
        db.keyspace_with(
            "bad",
            lsm_core::KeyspaceOptions::default().with_block_size(1)
        ),
        Err(Error::InvalidOptions { .. })
    ));
    assert_eq!(db.keyspace_names(), ["default", "filtered", "plain"]);
}

#[test]
fn transactions_conflict_per_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();

    // A write to k in b does not conflict with a read of k in a.
    let mut txn = db.begin();
    assert_eq!(txn.get_in(&a, "k").unwrap(), None);
    txn.put_in(&a, "out", "1").unwrap();
    b.put("k", "x").unwrap();
    db.put("k", "x").unwrap();
    txn.commit().unwrap();
    assert!(a.contains_key("out").unwrap());

    // A write to k in a does.
    let mut txn = db.begin();
    assert_eq!(txn.get_in(&a, "k").unwrap(), None);
    txn.put_in(&b, "out", "1").unwrap();
    a.put("k", "x").unwrap();
    assert!(matches!(txn.commit(), Err(Error::Conflict { .. })));
    assert!(!b.contains_key("out").unwrap());

    // A scanned range conflicts per keyspace too, and own writes are seen.
    let mut txn = db.begin();
    txn.put_in(&b, "s2", "mine").unwrap();
    assert_eq!(txn.scan_in(&b, "s".."t").count(), 1);
    assert_eq!(txn.get_in(&b, "s2").unwrap().as_deref(), Some(&b"mine"[..]));
    assert_eq!(txn.get("s2").unwrap(), None);
    a.put("s1", "x").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin();
    assert_eq!(txn.scan_in(&b, "s".."t").count(), 1);
    txn.delete_in(&a, "s1").unwrap();
    b.put("s3", "phantom").unwrap();
    assert!(matches!(txn.commit(), Err(Error::Conflict { .. })));
    assert!(a.contains_key("s1").unwrap());

    // One commit writes both keyspaces atomically.
    let mut txn = db.begin();
    txn.put_in(&a, "both", "1").unwrap();
    txn.put_in(&b, "both", "1").unwrap();
    txn.put("both", "1").unwrap();
    txn.commit().unwrap();
    assert!(a.contains_key("both").unwrap() && b.contains_key("both").unwrap());
    assert!(db.contains_key("both").unwrap());

    // A keyspace dropped before commit: the transaction fails, writing nothing.
    let mut txn = db.begin();
    txn.put_in(&b, "late", "1").unwrap();
    txn.put("late", "1").unwrap();
    db.drop_keyspace("b").unwrap();
    assert!(txn.commit().is_err());
    assert!(!db.contains_key("late").unwrap());
}

/// A checkpoint and a backup (then restored) hold every keyspace as it was at the
/// call, flushed and unflushed data alike, and no dropped keyspace.
#[test]
fn checkpoints_and_backups_hold_every_keyspace() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("db");
    let db = Db::open(&src, Options::default()).unwrap();
    db.put("k", "default").unwrap();
    let users = db.keyspace("users").unwrap();
    let logs = db.keyspace("logs").unwrap();
    for i in 0..100u32 {
        users.put(format!("u{i:03}"), format!("user {i}")).unwrap();
    }
    users.flush().unwrap();
    users.put("unflushed", "in the memtable").unwrap();
    logs.put("l", "log").unwrap();
    let gone = db.keyspace("gone").unwrap();
    gone.put("g", "gone").unwrap();
    db.drop_keyspace("gone").unwrap();
    let check = |dir: &Path| {
        let copy = Db::open(dir, Options::default().with_create_if_missing(false)).unwrap();
        assert_eq!(
            copy.keyspace_names(),
            ["default", "logs", "users"],
            "{dir:?}"
        );
        assert_eq!(copy.get("k").unwrap().as_deref(), Some(&b"default"[..]));
        let u = copy.keyspace("users").unwrap();
        assert_eq!(u.iter().count(), 101);
        assert_eq!(
            u.get("unflushed").unwrap().as_deref(),
            Some(&b"in the memtable"[..])
        );
        let l = copy.keyspace("logs").unwrap();
        assert_eq!(l.get("l").unwrap().as_deref(), Some(&b"log"[..]));
        assert_eq!(u.get("l").unwrap(), None);
        drop((u, l));
        copy.close().unwrap();
    };
    db.checkpoint(tmp.path().join("checkpoint")).unwrap();
    let backup = db.backup(tmp.path().join("backups")).unwrap();
    // Writes after the calls are in neither.
    users.put("after", "x").unwrap();
    lsm_core::restore(
        tmp.path().join("backups"),
        backup.info.id,
        tmp.path().join("restored"),
    )
    .unwrap();
    check(&tmp.path().join("checkpoint"));
    check(&tmp.path().join("restored"));
    drop((users, logs, gone));
    db.close().unwrap();
}
