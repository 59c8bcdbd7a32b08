//! One deterministic test for each bug that hit another engine:
//! the scenario, and the state the database must be in afterwards.

mod common;

use common::keys::{show, value};
use common::model::{check_db, Map};
use common::sim::{
    crash_and_check, open_sim, read_all, sim_files, sim_path, write_step, History, Step, DB_PATH,
};
use lsm_core::fs::{CrashMode, FaultFs, FaultKind, FaultMode, SimFs};
use lsm_core::{Db, Error, Options, PoisonedBy, WriteBatch};

fn k(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}{i:05}").into_bytes()
}

fn small() -> Options {
    Options::default()
        .with_memtable_size(4096)
        .with_segment_size(4096)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(8)
        .with_level_size_multiplier(2)
        .with_level1_size(8 << 10)
}

/// Every key of `map` plus a few absent ones, for `check_db`.
fn probe(map: &Map) -> Vec<Vec<u8>> {
    map.keys()
        .cloned()
        .chain([b"absent".to_vec(), Vec::new(), b"\xff\xff".to_vec()])
        .collect()
}

/// Crashes `fs` in every mode and checks each image holds exactly `want` (plus
/// nothing else), twice in a row.
fn every_crash_holds(fs: &SimFs, options: &Options, want: &Map, what: &str) {
    for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
        for seed in 0..3 {
            let image = fs.crash(mode, seed * 4 + m as u64);
            for round in 0..2 {
                let db = open_sim(&image, options).unwrap_or_else(|e| {
                    panic!("{what}: {mode:?} seed {seed}: open {round} failed: {e}")
                });
                check_db(&db, want, &probe(want))
                    .unwrap_or_else(|e| panic!("{what}: {mode:?} seed {seed} open {round}: {e}"));
                db.close().unwrap();
            }
        }
    }
}

/// LevelDB #193: a write in an older WAL that was never synced is lost while a newer
/// WAL, synced by `sync()`, survives: a hole in the history. `sync()` must make
/// every earlier write durable, whichever WAL holds it.
#[test]
fn leveldb_193_sync_covers_writes_in_older_wals() {
    for n in [25usize, 60, 130, 300] {
        let fs = SimFs::new();
        let db = open_sim(&fs, &small()).unwrap();
        let mut want = Map::new();
        // 4 KiB memtables and ~220-byte entries: a new WAL every ~18 writes.
        for i in 0..n {
            let v = value(i as u64, 200);
            db.put(k("a", i), &v).unwrap();
            want.insert(k("a", i), v);
        }
        db.sync().unwrap();
        let wals = sim_files(&fs, "wal").len();
        println!("{n} writes: {wals} WAL files live at the sync");
        every_crash_holds(&fs, &small(), &want, &format!("{n} writes, {wals} WALs"));
        db.close().unwrap();
    }
}

/// LevelDB #189: a crash while the database is being created left files that made
/// every later open fail. Cut the power at every file operation of the first open;
/// the crashed directory must open (as an empty database) and work.
#[test]
fn leveldb_189_crash_while_creating_the_database() {
    let options = small();
    let probe_fs = SimFs::new();
    open_sim(&probe_fs, &options).unwrap().close().unwrap();
    let total = probe_fs.op_count();
    for cut in 0..=total {
        let fs = SimFs::new();
        fs.power_off_after(cut);
        drop(open_sim(&fs, &options));
        for mode in CrashMode::ALL {
            let image = fs.crash(mode, cut);
            let what = format!("power cut after {cut} of {total} ops, {mode:?}");
            let db =
                open_sim(&image, &options).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
            assert_eq!(
                read_all(&db).unwrap().len(),
                0,
                "{what}: a new database is empty"
            );
            db.put(b"k", b"v").unwrap();
            db.close().unwrap();
            let db = open_sim(&image, &options)
                .unwrap_or_else(|e| panic!("{what}: second open failed: {e}"));
            assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]), "{what}");
            db.close().unwrap();
        }
    }
}

/// The workload run over an existing database in the LevelDB #195 test: writes, a
/// flush, a compaction, a close and a reopen (each open writes a new manifest), more
/// writes, a sync. Stops at the first failure. Returns the history of `b` keys.
fn manifest_workload(fs: &SimFs, options: &Options, base: &Map) -> History {
    let mut h = History::new(base.clone());
    let mut n = 0;
    let mut put = |db: &Db, h: &mut History| -> bool {
        n += 1;
        let step: Step = vec![(k("b", n % 40), Some(value(n as u64, 150)))];
        match write_step(db, &step) {
            Ok(()) => {
                h.ack(step);
                true
            }
            Err(_) => {
                h.attempt(step);
                false
            }
        }
    };
    let Ok(db) = open_sim(fs, options) else {
        return h;
    };
    for _ in 0..30 {
        if !put(&db, &mut h) {
            return h;
        }
    }
    if db.flush().is_err() || db.compact().is_err() || db.close().is_err() {
        return h;
    }
    let Ok(db) = open_sim(fs, options) else {
        return h;
    };
    for _ in 0..30 {
        if !put(&db, &mut h) {
            return h;
        }
    }
    if db.sync().is_ok() {
        h.synced();
    }
    drop(db);
    h
}

/// LevelDB #195: the old manifest was unlinked before the switch to the new one was
/// durable, so a crash left no valid manifest. Cut the power at every file
/// operation of a workload that rewrites the manifest (on each open) and compacts:
/// every crash image must open with all earlier data and a prefix of the workload.
#[test]
fn leveldb_195_crash_during_a_manifest_switch() {
    let options = small();
    let fs = SimFs::new();
    let db = open_sim(&fs, &options).unwrap();
    let mut base = Map::new();
    for i in 0..150 {
        let v = value(i as u64, 100);
        db.put(k("a", i), &v).unwrap();
        base.insert(k("a", i), v);
    }
    db.flush().unwrap();
    db.compact().unwrap();
    db.sync().unwrap();
    db.close().unwrap();
    // The durable state only: what a crash right after the close leaves.
    let start = fs.crash(CrashMode::DropUnsynced, 0);
    let db = open_sim(&start, &options).unwrap();
    check_db(&db, &base, &probe(&base)).expect("a closed database survives a power loss");
    db.close().unwrap();

    let start = fs.crash(CrashMode::DropUnsynced, 0);
    let full = start.crash(CrashMode::DropUnsynced, 0);
    let history = manifest_workload(&full, &options, &base);
    let total = full.op_count();
    assert!(
        history.acked == 60 && history.durable == 60,
        "the workload runs to the end without a power cut"
    );
    let stride = (total / common::env_or("LSM_REGRESSION_POINTS", 400u64)).max(1);
    let mut checked = 0;
    for cut in (0..total).step_by(stride as usize) {
        let disk = start.crash(CrashMode::DropUnsynced, 0);
        disk.power_off_after(cut);
        let history = manifest_workload(&disk, &options, &base);
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            crash_and_check(&disk, mode, cut * 4 + m as u64, &options, &history)
                .unwrap_or_else(|e| panic!("power cut after {cut} of {total} ops: {e}"));
            checked += 1;
        }
    }
    println!("{checked} crash images over {total} file operations");
}

/// LevelDB #196: a new segment's directory entry was never fsynced, so after a power
/// loss the manifest named a file that did not exist. Crash right after a flush,
/// after a compaction and after an open that flushed recovered data.
#[test]
fn leveldb_196_new_files_have_durable_directory_entries() {
    let options = small();
    let fs = SimFs::new();
    let db = open_sim(&fs, &options).unwrap();
    let mut want = Map::new();
    for round in 0..3 {
        for i in 0..60 {
            let v = value((round * 100 + i) as u64, 120);
            db.put(k("c", i * 3 + round), &v).unwrap();
            want.insert(k("c", i * 3 + round), v);
        }
        db.sync().unwrap();
        db.flush().unwrap();
        every_crash_holds(&fs, &options, &want, &format!("after flush {round}"));
    }
    db.compact().unwrap();
    every_crash_holds(&fs, &options, &want, "after compact");
    for i in 0..10 {
        db.delete(k("c", i)).unwrap();
        want.remove(&k("c", i));
    }
    db.sync().unwrap();
    // Power loss with the deletes in the WAL; the open flushes them to a new segment.
    let image = fs.crash(CrashMode::DropUnsynced, 1);
    drop(db);
    let db = open_sim(&image, &options).unwrap();
    check_db(&db, &want, &probe(&want)).unwrap();
    every_crash_holds(
        &image,
        &options,
        &want,
        "after an open that recovered a WAL",
    );
    db.close().unwrap();
}

/// The keys a batch writes, with the value each gets.
fn batch_of(prefix: &str, n: usize, id: u64) -> (WriteBatch, Map) {
    let mut batch = WriteBatch::new();
    let mut map = Map::new();
    for i in 0..n {
        let v = value(id * 1000 + i as u64, 100);
        batch.put(k(prefix, i), &v);
        map.insert(k(prefix, i), v);
    }
    (batch, map)
}

/// Whether `found` holds all of `batch` or none of it; panics on a partial batch.
fn all_or_nothing(found: &Map, batch: &Map, what: &str) -> bool {
    let present = batch
        .iter()
        .filter(|(k, v)| found.get(*k) == Some(*v))
        .count();
    let touched = batch.keys().filter(|k| found.contains_key(*k)).count();
    assert!(
        (present == batch.len() && touched == batch.len()) || touched == 0,
        "{what}: a partial batch: {present} of {} keys with the batch's value, {touched} present",
        batch.len()
    );
    present == batch.len()
}

/// fjall #308: a write failed half way through a batch, the next batch was synced,
/// and recovery then lost the synced batch (or applied half of the failed one). Here
/// the failed write poisons the database, the next batch is refused, and every
/// recovery (power loss in any mode, or a clean reopen) holds the data before the
/// failure, the failed batch entirely or not at all, and takes new writes.
#[test]
fn fjall_308_write_failure_mid_batch_then_synced_batch_and_reopen() {
    for mode in [FaultMode::PartialOnce, FaultMode::Once] {
        let what = format!("{mode:?}");
        let sim = SimFs::new();
        let fault = FaultFs::new(sim.fs_ref());
        let options = small().with_memtable_size(1 << 20);
        let db = Db::open_with_fs(DB_PATH, options.clone(), fault.fs_ref()).unwrap();
        let mut before = Map::new();
        for i in 0..40 {
            let v = value(i as u64, 50);
            db.put(k("d", i), &v).unwrap();
            before.insert(k("d", i), v);
        }
        db.sync().unwrap();

        fault.fail(FaultKind::Write, 1, mode);
        let (batch1, map1) = batch_of("e", 60, 1);
        assert!(
            db.write(batch1).is_err(),
            "{what}: the batch whose WAL write failed must fail"
        );
        assert!(fault.injected() > 0, "{what}: the fault fired");
        let (batch2, map2) = batch_of("f", 5, 2);
        match db.write(batch2) {
            Err(Error::Poisoned { .. }) => {}
            other => panic!("{what}: after a failed WAL write the next write must be refused as poisoned, got {other:?}"),
        }
        assert!(db.put(b"x", b"y").is_err(), "{what}: still poisoned");
        let _ = db.sync();
        // Reads still work and never show the failed batch half applied.
        let found = read_all(&db).unwrap();
        all_or_nothing(&found, &map1, &format!("{what}: reads after the failure"));

        for crash in CrashMode::ALL {
            let image = sim.crash(crash, 3);
            let db2 = open_sim(&image, &options)
                .unwrap_or_else(|e| panic!("{what} {crash:?}: open failed: {e}"));
            let found = read_all(&db2).unwrap();
            for (key, v) in &before {
                assert_eq!(
                    found.get(key),
                    Some(v),
                    "{what} {crash:?}: synced key {} lost",
                    show(key)
                );
            }
            all_or_nothing(&found, &map1, &format!("{what} {crash:?}"));
            assert!(
                map2.keys().all(|k| !found.contains_key(k)),
                "{what} {crash:?}: the refused batch appeared"
            );
            let (batch3, map3) = batch_of("g", 10, 3);
            db2.write(batch3).unwrap();
            db2.sync().unwrap();
            let image2 = image.crash(CrashMode::DropUnsynced, 4);
            db2.close().unwrap();
            let db3 = open_sim(&image2, &options).unwrap();
            let again = read_all(&db3).unwrap();
            for (key, v) in before.iter().chain(&map3) {
                assert_eq!(
                    again.get(key),
                    Some(v),
                    "{what} {crash:?}: key {} lost after the second recovery",
                    show(key)
                );
            }
            db3.close().unwrap();
        }

        // A clean reopen (the fault gone) after the poisoned instance is dropped.
        drop(db);
        fault.clear();
        let db = Db::open_with_fs(DB_PATH, options.clone(), fault.fs_ref()).unwrap();
        let found = read_all(&db).unwrap();
        for (key, v) in &before {
            assert_eq!(
                found.get(key),
                Some(v),
                "{what}: key {} lost after reopen",
                show(key)
            );
        }
        let had_batch1 = all_or_nothing(&found, &map1, &format!("{what}: reopen"));
        assert!(map2.keys().all(|k| !found.contains_key(k)));
        let (batch3, map3) = batch_of("g", 10, 3);
        let mut batch3 = batch3;
        batch3.delete(k("d", 0));
        db.write(batch3).unwrap();
        db.sync().unwrap();
        let image = sim.crash(CrashMode::DropUnsynced, 5);
        db.close().unwrap();
        for disk in [&sim, &image] {
            let db = open_sim(disk, &options).unwrap();
            let found = read_all(&db).unwrap();
            assert_eq!(found.get(&k("d", 0)), None, "{what}");
            for (key, v) in before.iter().skip(1).chain(&map3) {
                assert_eq!(
                    found.get(key),
                    Some(v),
                    "{what}: key {} lost after the synced batch",
                    show(key)
                );
            }
            assert_eq!(
                all_or_nothing(&found, &map1, what.as_str()),
                had_batch1,
                "{what}: the failed batch changed its mind"
            );
            db.close().unwrap();
        }
    }
}

/// A failed WAL fsync (with `sync_writes`) poisons the database: the engine never
/// retries an fsync and assumes it worked.
#[test]
fn a_failed_wal_fsync_poisons_the_database() {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    let options = small().with_sync_writes(true);
    let db = Db::open_with_fs(DB_PATH, options.clone(), fault.fs_ref()).unwrap();
    db.put(b"before", b"1").unwrap();
    fault.fail(FaultKind::Sync, 1, FaultMode::Once);
    assert!(
        db.put(b"failed", b"2").is_err(),
        "a write whose fsync failed is not acknowledged"
    );
    match db.put(b"later", b"3") {
        Err(Error::Poisoned {
            operation: PoisonedBy::WalSync,
            message,
        }) => assert!(!message.is_empty()),
        other => panic!("expected Poisoned after a failed fsync, got {other:?}"),
    }
    assert!(
        matches!(db.sync(), Err(Error::Poisoned { .. })),
        "sync must not pretend the lost data is durable"
    );
    drop(db);
    for crash in CrashMode::ALL {
        let image = sim.crash(crash, 9);
        let db = open_sim(&image, &options).unwrap();
        assert_eq!(
            db.get(b"before").unwrap().as_deref(),
            Some(&b"1"[..]),
            "{crash:?}"
        );
        assert_eq!(db.get(b"later").unwrap(), None, "{crash:?}");
        db.close().unwrap();
    }
}

/// A WAL whose end is zero-filled (the file was extended but the data never
/// written, as after a power loss on many file systems) is a torn tail, not
/// corruption, whatever the length of the zeros; and new writes survive the next
/// recovery.
#[test]
fn a_zero_filled_wal_tail_is_a_torn_tail() {
    let options = small().with_memtable_size(1 << 20);
    for zeros in [1usize, 10, 11, 100, 4096, 32 * 1024, 40_000] {
        let fs = SimFs::new();
        let db = open_sim(&fs, &options).unwrap();
        let mut want = Map::new();
        for i in 0..100 {
            let v = value(i as u64, 80);
            db.put(k("z", i), &v).unwrap();
            want.insert(k("z", i), v);
        }
        db.sync().unwrap();
        let image = fs.crash(CrashMode::DropUnsynced, 0);
        drop(db);
        let wal = sim_files(&image, "wal").pop().expect("a WAL");
        let mut data = image.read_file(&sim_path(&wal)).unwrap();
        data.resize(data.len() + zeros, 0);
        image.write_file_raw(&sim_path(&wal), &data).unwrap();

        let db = open_sim(&image, &options)
            .unwrap_or_else(|e| panic!("{zeros} zeros: open failed: {e}"));
        check_db(&db, &want, &probe(&want)).unwrap_or_else(|e| panic!("{zeros} zeros: {e}"));
        db.put(b"after", b"zeros").unwrap();
        db.sync().unwrap();
        want.insert(b"after".to_vec(), b"zeros".to_vec());
        let again = image.crash(CrashMode::DropUnsynced, 1);
        db.close().unwrap();
        let db = open_sim(&again, &options).unwrap();
        check_db(&db, &want, &probe(&want))
            .unwrap_or_else(|e| panic!("{zeros} zeros, second recovery: {e}"));
        db.close().unwrap();
    }
}

/// LevelDB `SequenceNumberRecovery`, with deletes only: after a recovery that
/// replays a WAL holding nothing but deletes, the sequence number must continue
/// after them; otherwise a new put gets a number the delete already used and is
/// hidden by it (or the delete wins after compaction).
#[test]
fn leveldb_sequence_number_recovered_after_only_deletes() {
    for crash in [false, true] {
        let what = if crash {
            "after a crash"
        } else {
            "after a clean close"
        };
        let fs = SimFs::new();
        let options = small().with_memtable_size(1 << 20);
        let db = open_sim(&fs, &options).unwrap();
        db.put(b"a", b"v1").unwrap();
        db.put(b"b", b"v1").unwrap();
        db.flush().unwrap();
        db.close().unwrap();

        let db = open_sim(&fs, &options).unwrap();
        db.delete(b"a").unwrap();
        db.delete(b"never-written").unwrap();
        let mut batch = WriteBatch::new();
        batch.delete(b"a").delete(b"c");
        db.write(batch).unwrap();
        db.sync().unwrap();
        let seq = db.stats().last_sequence;
        let disk = if crash {
            let image = fs.crash(CrashMode::DropUnsynced, 0);
            drop(db);
            image
        } else {
            db.close().unwrap();
            fs.clone()
        };

        let db = open_sim(&disk, &options).unwrap();
        assert!(
            db.stats().last_sequence >= seq,
            "{what}: the sequence went back from {seq} to {}",
            db.stats().last_sequence
        );
        assert_eq!(db.get(b"a").unwrap(), None, "{what}");
        db.put(b"a", b"v2").unwrap();
        assert!(db.stats().last_sequence > seq, "{what}");
        assert_eq!(
            db.get(b"a").unwrap().as_deref(),
            Some(&b"v2"[..]),
            "{what}: the new put is hidden by the recovered delete"
        );
        db.flush().unwrap();
        db.compact().unwrap();
        assert_eq!(
            db.get(b"a").unwrap().as_deref(),
            Some(&b"v2"[..]),
            "{what}: after compaction"
        );
        db.close().unwrap();
        let db = open_sim(&disk, &options).unwrap();
        assert_eq!(
            db.get(b"a").unwrap().as_deref(),
            Some(&b"v2"[..]),
            "{what}: after reopen"
        );
        assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"v1"[..]), "{what}");
        db.close().unwrap();
    }
}

/// One API call of the reopen test: what it does and how it changes the model.
type Call = (&'static str, fn(&Db, &mut Map));

fn calls() -> Vec<Call> {
    vec![
        ("nothing", |_, _| {}),
        ("put", |db, m| {
            db.put(b"new", b"put").unwrap();
            m.insert(b"new".to_vec(), b"put".to_vec());
        }),
        ("put of an empty key and value", |db, m| {
            db.put(b"", b"").unwrap();
            m.insert(Vec::new(), Vec::new());
        }),
        ("delete", |db, m| {
            db.delete(k("r", 3)).unwrap();
            m.remove(&k("r", 3));
        }),
        ("delete of an absent key", |db, _| {
            db.delete(b"absent").unwrap()
        }),
        ("write", |db, m| {
            let mut b = WriteBatch::new();
            b.put(k("r", 1), b"batched")
                .delete(k("r", 2))
                .put(b"zz", b"batched");
            db.write(b).unwrap();
            m.insert(k("r", 1), b"batched".to_vec());
            m.remove(&k("r", 2));
            m.insert(b"zz".to_vec(), b"batched".to_vec());
        }),
        ("write of an empty batch", |db, _| {
            db.write(WriteBatch::new()).unwrap()
        }),
        ("get", |db, m| {
            assert_eq!(
                db.get(k("r", 5)).unwrap().map(|v| v.to_vec()).as_ref(),
                m.get(&k("r", 5))
            )
        }),
        ("scan", |db, m| {
            assert_eq!(db.scan::<Vec<u8>, _>(..).count(), m.len())
        }),
        ("reverse scan, half consumed", |db, _| {
            let mut s = db.scan::<Vec<u8>, _>(..).rev();
            s.next();
        }),
        ("prefix", |db, _| {
            let _ = db.prefix(b"r0").collect::<Vec<_>>();
        }),
        ("snapshot", |db, _| {
            let s = db.snapshot();
            let _ = s.get(k("r", 1)).unwrap();
            let _ = s.scan::<Vec<u8>, _>(..).count();
        }),
        ("sync", |db, _| db.sync().unwrap()),
        ("flush", |db, _| db.flush().unwrap()),
        ("flush twice", |db, _| {
            db.flush().unwrap();
            db.flush().unwrap();
        }),
        ("compact", |db, _| db.compact().unwrap()),
        ("stats", |db, _| {
            let _ = db.stats();
        }),
    ]
}

/// Base data: some keys in segments, some only in the memtable and the WAL.
fn base(db: &Db) -> Map {
    let mut m = Map::new();
    for i in 0..60 {
        let v = value(i as u64, 40);
        db.put(k("r", i), &v).unwrap();
        m.insert(k("r", i), v);
        if i == 30 {
            db.flush().unwrap();
        }
    }
    m
}

/// A reopen after every kind of API call, on the simulated disk (closing, dropping,
/// and losing power after a sync) and on the real file system (closing and
/// dropping).
#[test]
fn reopen_after_every_kind_of_api_call() {
    let options = small();
    for (name, call) in calls() {
        for how in ["close", "drop", "crash"] {
            let fs = SimFs::new();
            let db = open_sim(&fs, &options).unwrap();
            let mut m = base(&db);
            call(&db, &mut m);
            let disk = match how {
                "close" => {
                    db.close()
                        .unwrap_or_else(|e| panic!("{name}: close failed: {e}"));
                    fs
                }
                "drop" => {
                    drop(db);
                    fs
                }
                _ => {
                    db.sync().unwrap();
                    let image = fs.crash(CrashMode::DropUnsynced, 0);
                    drop(db);
                    image
                }
            };
            for round in 0..2 {
                let db = open_sim(&disk, &options)
                    .unwrap_or_else(|e| panic!("{name}, {how}: reopen {round} failed: {e}"));
                check_db(&db, &m, &probe(&m))
                    .unwrap_or_else(|e| panic!("{name}, {how}, reopen {round}: {e}"));
                db.close().unwrap();
            }
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("db");
        for how in ["close", "drop"] {
            let _ = std::fs::remove_dir_all(&path);
            let db = Db::open(&path, options.clone()).unwrap();
            let mut m = base(&db);
            call(&db, &mut m);
            if how == "close" {
                db.close().unwrap();
            } else {
                drop(db);
            }
            let db = Db::open(&path, options.clone())
                .unwrap_or_else(|e| panic!("{name}, real fs, {how}: reopen failed: {e}"));
            check_db(&db, &m, &probe(&m)).unwrap_or_else(|e| panic!("{name}, real fs, {how}: {e}"));
            db.close().unwrap();
        }
    }
}

/// Closing while a snapshot and a scan are still alive: the close succeeds, the
/// directory can be opened again at once, and the leftovers fail cleanly or keep
/// reading their old view, never panic.
#[test]
fn close_with_a_live_snapshot_and_scan_releases_the_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, small()).unwrap();
    let m = base(&db);
    let snap = db.snapshot();
    let mut scan = db.scan::<Vec<u8>, _>(..);
    assert!(scan.next().is_some());
    db.close().unwrap();
    let db = Db::open(&path, small())
        .unwrap_or_else(|e| panic!("reopen with an old snapshot alive: {e}"));
    check_db(&db, &m, &probe(&m)).unwrap();
    match snap.get(k("r", 1)) {
        Ok(v) => assert_eq!(v.map(|v| v.to_vec()).as_ref(), m.get(&k("r", 1))),
        Err(e) => assert!(matches!(e, Error::Closed), "{e}"),
    }
    // Items (until an error, if any) are from the old view.
    for (key, v) in scan.map_while(Result::ok) {
        assert_eq!(m.get(&key.to_vec()).map(Vec::as_slice), Some(&v[..]));
    }
    drop(snap);
    db.close().unwrap();
}
