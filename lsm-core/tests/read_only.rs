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

/// Name, length, hash of the contents and modification time of every file.
#[cfg(unix)]
fn fingerprint(dir: &Path) -> BTreeMap<String, (u64, u64, i64, i64)> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(e.path()).unwrap().hash(&mut h);
            (
                e.file_name().to_string_lossy().into_owned(),
                (meta.len(), h.finish(), meta.mtime(), meta.mtime_nsec()),
            )
        })
        .collect()
}

/// A database left by a killed writer, its newest WAL cut inside its last record (a
/// torn tail) and no `LOCK` file: read-only opens and refreshes replay up to the
/// tear, and leave every file's bytes and modification time as they were, create no
/// file (no `LOCK`), and a writer's open afterwards still finds the same state.
#[cfg(unix)]
#[test]
fn a_read_only_open_of_a_torn_wal_tail_changes_no_byte_and_no_mtime() {
    let tmp = tempfile::tempdir().unwrap();
    // The leaked writer must be idle when the files are fingerprinted: no automatic
    // compaction, and the last writes fit in the memtable (no flush in flight).
    let options = small_options()
        .with_flush_interval(None)
        .with_level0_compaction_trigger(64)
        .with_level0_stop_writes(128)
        .with_level1_size(64 << 20);
    {
        let db = Db::open(tmp.path(), options.clone()).unwrap();
        for i in 0..1100u64 {
            db.put(key(i % 400), format!("value-{i}")).unwrap();
        }
        db.flush().unwrap();
        for i in 1100..1300u64 {
            db.put(key(i % 400), format!("value-{i}")).unwrap();
        }
        db.sync().unwrap();
        assert_eq!(db.stats().immutable_memtables, 0);
        std::mem::forget(db);
    }
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    // The newest WAL: cut 5 bytes before the end of its last record.
    let wal = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .max()
        .unwrap();
    let data = std::fs::read(&wal).unwrap();
    let end = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(end as u64 - 5)
        .unwrap();
    // Old enough that a write now would show in the modification time.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = fingerprint(tmp.path());
    assert!(!before.contains_key("LOCK"));

    let mut reader = Db::open_read_only(tmp.path(), options.clone()).unwrap();
    let view = all(reader.iter());
    // The torn record (the last put, of key 1299 % 400) is gone, everything before
    // it is there.
    assert_eq!(view.len(), 400);
    assert_eq!(view[&key(1299 % 400)], b"value-899".to_vec());
    assert_eq!(view[&key(1298 % 400)], b"value-1298".to_vec());
    reader.refresh().unwrap();
    let second = Db::open_read_only(tmp.path(), options.clone()).unwrap();
    assert_eq!(all(second.iter()), view);
    assert_eq!(all(second.scan(key(100)..key(200))).len(), 100);
    drop((reader, second));
    assert_eq!(
        fingerprint(tmp.path()),
        before,
        "a read-only open changed, created or removed a file"
    );
    // The writer's recovery finds the same state.
    let db = Db::open(tmp.path(), options).unwrap();
    assert_eq!(all(db.iter()), view);
    db.close().unwrap();
}

/// Two processes read while a third writes, flushes and compacts
/// (`LSM_SOAK_SECS`, default 5; 30 for the full length): every value a reader sees
/// is one the writer wrote, not newer than what it acknowledged by then, and after a
/// `refresh` every write acknowledged before a flush that returned is visible;
/// a key's version never goes back from one refresh to the next, and a snapshot of an
/// old view reads the same after the writer compacted its files away.
#[cfg(unix)]
mod beside_a_writer_process {
    use std::fs::{File, OpenOptions};
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use lsm_core::{Db, Error};

    use super::common::{env_or, small_options};

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    const ROLE: &str = "LSM_RO_SOAK_ROLE";
    const DIR: &str = "LSM_RO_SOAK_DIR";
    const TEST: &str = "beside_a_writer_process::role";
    const DONE: i32 = 77;
    /// Keys written; write `i` sets key `i % KEYS` to `i`.
    const KEYS: u64 = 500;

    /// The writer's progress, written with `pwrite` (other processes read it):
    /// writes acknowledged, writes acknowledged before the last flush that returned,
    /// and a stop request from the parent.
    struct Progress(File);

    impl Progress {
        fn open(dir: &Path) -> Progress {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join("progress"))
                .unwrap();
            f.set_len(24).unwrap();
            Progress(f)
        }
        fn get(&self, slot: u64) -> u64 {
            let mut b = [0; 8];
            self.0.read_exact_at(&mut b, slot * 8).unwrap();
            u64::from_le_bytes(b)
        }
        fn set(&self, slot: u64, v: u64) {
            self.0.write_all_at(&v.to_le_bytes(), slot * 8).unwrap();
        }
    }
    const ACKED: u64 = 0;
    const FLUSHED: u64 = 1;
    const STOP: u64 = 2;

    fn key(k: u64) -> Vec<u8> {
        format!("key{k:04}").into_bytes()
    }

    fn fail(msg: String) -> ! {
        eprintln!("CHILD FAILED: {msg}");
        std::process::exit(3)
    }

    fn writer(dir: &Path, progress: &Progress) {
        let db = Db::open(dir.join("db"), small_options()).unwrap();
        let mut i = 0u64;
        while progress.get(STOP) == 0 {
            db.put(key(i % KEYS), i.to_string())
                .unwrap_or_else(|e| fail(format!("put: {e}")));
            i += 1;
            progress.set(ACKED, i);
            if i.is_multiple_of(700) {
                db.flush().unwrap_or_else(|e| fail(format!("flush: {e}")));
                progress.set(FLUSHED, i);
            }
            if i.is_multiple_of(9000) {
                db.compact()
                    .unwrap_or_else(|e| fail(format!("compact: {e}")));
            }
        }
        let stats = db.stats();
        println!(
            "writer: {i} writes, {} flushes, {} compactions",
            stats.flushes, stats.compactions
        );
        db.close().unwrap();
    }

    /// The write number a value names.
    fn number(k: u64, v: &[u8]) -> u64 {
        let n: u64 = std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fail(format!("key {k}: a value no write made: {v:?}")));
        if n % KEYS != k {
            fail(format!("key {k} holds the value of write {n}"));
        }
        n
    }

    fn reader(dir: &Path, progress: &Progress, secs: f64) {
        let db_dir = dir.join("db");
        let mut view = Db::open_read_only(&db_dir, small_options())
            .unwrap_or_else(|e| fail(format!("open_read_only: {e}")));
        let mut last = vec![0u64; KEYS as usize];
        let mut old: Vec<(lsm_core::Snapshot, Pairs)> = Vec::new();
        let (mut refreshes, mut reads, mut checked_old) = (0u64, 0u64, 0u64);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs_f64(secs) {
            let flushed = progress.get(FLUSHED);
            match view.refresh() {
                Ok(()) => {}
                Err(e @ Error::Locked { .. }) => fail(format!("refresh took the lock: {e}")),
                Err(e) => fail(format!("refresh: {e}")),
            }
            let acked = progress.get(ACKED);
            refreshes += 1;
            let pairs: Pairs = view
                .iter()
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| fail(format!("scan: {e}")));
            for k in 0..KEYS {
                // The newest write to `k` acknowledged before a flush that returned
                // before the refresh: it must be visible, or a newer one.
                let floor = (flushed > k).then(|| k + (flushed - 1 - k) / KEYS * KEYS);
                let got = view
                    .get(key(k))
                    .unwrap_or_else(|e| fail(format!("get: {e}")));
                reads += 1;
                let n = match got {
                    Some(v) => number(k, &v),
                    None if floor.is_none() => continue,
                    None => fail(format!("key {k} missing, write {floor:?} was flushed")),
                };
                if n > acked {
                    fail(format!(
                        "key {k} holds write {n}, only {acked} acknowledged"
                    ));
                }
                if floor.is_some_and(|f| n < f) {
                    fail(format!(
                        "key {k} holds write {n}, write {floor:?} was flushed"
                    ));
                }
                let slot = &mut last[k as usize];
                if n < *slot {
                    fail(format!("key {k} went back from write {slot} to {n}"));
                }
                *slot = n;
                let in_scan = pairs.iter().find(|(pk, _)| *pk == key(k));
                if in_scan.map(|(_, v)| number(k, v)) != Some(n) {
                    fail(format!("key {k}: the scan and get disagree"));
                }
            }
            if refreshes % 20 == 1 {
                old.push((view.snapshot(), pairs));
            }
            if old.len() > 4 {
                // Read an old view again, long after the writer moved on (its files
                // may be compacted away by now): the same pairs.
                let (snapshot, pairs) = old.remove(0);
                let again: Pairs = snapshot
                    .iter()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| fail(format!("old snapshot: {e}")));
                if again != pairs {
                    fail("an old view changed".into());
                }
                checked_old += 1;
            }
        }
        println!(
            "reader {}: {refreshes} refreshes, {reads} reads, {checked_old} old views re-read",
            std::process::id()
        );
    }

    /// The children's parts; does nothing in the parent's run.
    #[test]
    fn role() {
        let Some(role) = std::env::var_os(ROLE) else {
            return;
        };
        let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
        let progress = Progress::open(&dir);
        match role.to_str() {
            Some("writer") => writer(&dir, &progress),
            _ => reader(&dir, &progress, env_or("LSM_SOAK_SECS", 5.0)),
        }
        std::process::exit(DONE);
    }

    fn spawn(role: &str, dir: &Path) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(DIR, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn finish(child: Child, what: &str) -> String {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(DONE),
            "{what} failed: {}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // The harness prints "test NAME ... " before the child's own line.
        text.lines()
            .filter_map(|l| {
                ["reader ", "writer:"]
                    .iter()
                    .find_map(|w| l.find(w))
                    .map(|at| &l[at..])
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn two_reader_processes_beside_a_writer_process() {
        let tmp = tempfile::tempdir().unwrap();
        let progress = Progress::open(tmp.path());
        let writer = spawn("writer", tmp.path());
        let start = Instant::now();
        while progress.get(FLUSHED) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the writer is stuck"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let readers = [spawn("reader", tmp.path()), spawn("reader", tmp.path())];
        let mut report = Vec::new();
        for r in readers {
            report.push(finish(r, "a reader"));
        }
        progress.set(STOP, 1);
        report.push(finish(writer, "the writer"));
        println!("{}", report.join("\n"));
    }
}

/// Writes `n` keys to keyspace `ks` (`{tag}{i}` = `v{i}`), some flushed into
/// segments, the last ones only in the WAL; returns the model.
fn fill_keyspace(db: &Db, ks: &lsm_core::Keyspace, tag: &str, n: u64) -> Map {
    let mut model = Map::new();
    for i in 0..n {
        let (k, v) = (format!("{tag}{i:04}"), format!("v{i}"));
        ks.put(&k, &v).unwrap();
        model.insert(k.into_bytes(), v.into_bytes());
        if i == n / 2 {
            ks.flush().unwrap();
        }
    }
    let _ = db;
    model
}

/// Every read of a read-only keyspace handle agrees with `model`.
fn check_keyspace(ks: &lsm_core::ReadOnlyKeyspace, model: &Map) {
    assert_eq!(all(ks.iter()), *model, "{}", ks.name());
    let rev: Vec<_> = ks.iter().rev().map(|r| r.unwrap().0.to_vec()).collect();
    assert_eq!(rev, model.keys().rev().cloned().collect::<Vec<_>>());
    for (k, v) in model.iter().step_by(7) {
        assert_eq!(ks.get(k).unwrap().as_deref(), Some(v.as_slice()));
        assert!(ks.contains_key(k).unwrap());
    }
    let first = model.keys().next().unwrap();
    let (lo, hi) = (first.clone(), model.keys().nth(10).unwrap().clone());
    assert_eq!(
        all(ks.scan(lo.clone()..hi.clone())),
        model
            .range(lo..hi)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map>()
    );
    let prefix = &first[..first.len() - 1];
    assert_eq!(
        ks.prefix(prefix).count(),
        model.keys().filter(|k| k.starts_with(prefix)).count()
    );
}

#[test]
fn every_keyspace_is_readable_from_segments_and_the_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), small_options()).unwrap();
    let (users, logs) = (db.keyspace("users").unwrap(), db.keyspace("logs").unwrap());
    let users_model = fill_keyspace(&db, &users, "u", 600);
    let logs_model = fill_keyspace(&db, &logs, "l", 300);
    db.put("in-default", "d").unwrap();
    // The same key in another keyspace must not leak into these.
    users.put("shared", "users").unwrap();
    logs.put("shared", "logs").unwrap();
    let mut users_model = users_model;
    users_model.insert(b"shared".to_vec(), b"users".to_vec());
    let mut logs_model = logs_model;
    logs_model.insert(b"shared".to_vec(), b"logs".to_vec());
    assert!(users.level_stats().unwrap().iter().any(|l| l.segments > 0));
    // Synced, not closed: the last writes of each keyspace are in the WAL only.
    db.sync().unwrap();
    let reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    assert_eq!(reader.keyspace_names(), ["default", "logs", "users"]);
    check_keyspace(&reader.keyspace("users").unwrap(), &users_model);
    check_keyspace(&reader.keyspace("logs").unwrap(), &logs_model);
    // "default" is the reader's own keyspace.
    let default = reader.keyspace("default").unwrap();
    assert_eq!(all(default.iter()), all(reader.iter()));
    assert_eq!(
        default.get("in-default").unwrap().as_deref(),
        Some(&b"d"[..])
    );
    assert_eq!(reader.get("shared").unwrap(), None);
    db.close().unwrap();
}

#[test]
fn a_missing_or_dropped_keyspace_is_refused_and_never_created() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), small_options()).unwrap();
    let tmp_ks = db.keyspace("tmp").unwrap();
    tmp_ks.put("k", "v").unwrap();
    tmp_ks.flush().unwrap();
    tmp_ks.put("k2", "v2").unwrap();
    db.keyspace("kept").unwrap().put("k", "kept").unwrap();
    db.drop_keyspace("tmp").unwrap();
    db.close().unwrap();
    let before = files(tmp.path());
    let reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    assert_eq!(reader.keyspace_names(), ["default", "kept"]);
    for name in ["tmp", "never-created"] {
        match reader.keyspace(name) {
            Err(Error::InvalidArgument {
                kind: lsm_core::InvalidArgumentKind::KeyspaceName,
                message,
            }) => assert!(message.contains(name), "{message}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(
        reader
            .keyspace("kept")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some(&b"kept"[..])
    );
    drop(reader);
    assert_eq!(
        files(tmp.path()),
        before,
        "a read-only open changed the directory"
    );
    let db = Db::open(tmp.path(), small_options()).unwrap();
    assert_eq!(db.keyspace_names(), ["default", "kept"]);
    db.close().unwrap();
}

#[test]
fn a_second_handle_reads_the_keyspaces_of_a_locked_database_as_of_its_open() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), small_options()).unwrap();
    let users = db.keyspace("users").unwrap();
    let users_model = fill_keyspace(&db, &users, "u", 200);
    db.sync().unwrap();
    // The writer holds the lock: a second read-write open is refused, a read-only
    // one reads every keyspace.
    assert!(Db::open(tmp.path(), small_options()).is_err());
    let mut reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    let view = reader.keyspace("users").unwrap();
    check_keyspace(&view, &users_model);
    // Writes after the open, a new keyspace included, appear after a refresh only;
    // the handle taken before keeps its view.
    users.put("u9999", "late").unwrap();
    db.keyspace("later").unwrap().put("k", "v").unwrap();
    db.sync().unwrap();
    assert!(reader.keyspace("later").is_err());
    reader.refresh().unwrap();
    check_keyspace(&view, &users_model);
    assert_eq!(
        reader
            .keyspace("users")
            .unwrap()
            .get("u9999")
            .unwrap()
            .as_deref(),
        Some(&b"late"[..])
    );
    assert_eq!(reader.keyspace_names(), ["default", "later", "users"]);
    assert_eq!(
        reader
            .keyspace("later")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    db.close().unwrap();
}
