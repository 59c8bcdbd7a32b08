//! Concurrency: threads writing disjoint keys while others read; scans and
//! snapshots that stay fixed while writes, flushes and compactions go on; the bank
//! test (transfers as atomic batches, the total constant in every consistent read);
//! and the per-key monotonic-version check. The last two run for `LSM_STRESS_SECS`
//! seconds each (default 30) with a tiny memtable so flushes and compactions run
//! all the time.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Instant;

use common::keys::show;
use common::model::{collect, Direction, Map, Pairs};
use common::{small_options, stress_duration};
use lsm_core::{Db, Options, WriteBatch};
use rand::{Rng, SeedableRng};

/// `Db` must be shareable between threads.
#[test]
fn db_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
    assert_send_sync::<Arc<Db>>();
    // A keyspace handle and a snapshot go to other threads too; a handle clones.
    fn assert_clone<T: Clone>() {}
    assert_send_sync::<lsm_core::Keyspace>();
    assert_clone::<lsm_core::Keyspace>();
    assert_send_sync::<lsm_core::Snapshot>();
}

fn tiny_options() -> Options {
    small_options()
        .with_memtable_size(16 << 10)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(8)
}

/// A value that names its key and version, padded to `pad` bytes so that the data
/// volume keeps the memtable rolling.
fn versioned(key: &[u8], version: u64, pad: usize) -> Vec<u8> {
    let mut v = version.to_le_bytes().to_vec();
    v.extend_from_slice(&(key.len() as u16).to_le_bytes());
    v.extend_from_slice(key);
    v.resize(v.len() + pad, b'.');
    v
}

/// The version a [`versioned`] value carries, after checking it belongs to `key`.
fn version_of(key: &[u8], v: &[u8]) -> u64 {
    assert!(
        v.len() >= 10,
        "value of {} too short: {}",
        show(key),
        show(v)
    );
    let klen = usize::from(u16::from_le_bytes([v[8], v[9]]));
    assert_eq!(
        v.get(10..10 + klen),
        Some(key),
        "value of {} belongs to another key: {}",
        show(key),
        show(v)
    );
    u64::from_le_bytes(v[..8].try_into().unwrap())
}

#[test]
fn disjoint_writers_with_concurrent_readers_lose_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(tmp.path().join("db"), tiny_options()).unwrap());
    let writers = 4;
    let per_writer = 3000;
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(writers + 2));

    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, done, start) = (db.clone(), done.clone(), start.clone());
            thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(r);
                start.wait();
                let mut reads = 0u64;
                let mut first = true;
                while running(&mut first, &done) {
                    let k = format!(
                        "w{}-{:05}",
                        rng.gen_range(0..writers),
                        rng.gen_range(0..per_writer)
                    )
                    .into_bytes();
                    if let Some(v) = db.get(&k).unwrap() {
                        version_of(&k, &v);
                    }
                    let lo = format!("w{}", rng.gen_range(0..writers)).into_bytes();
                    let dir = if rng.gen() {
                        Direction::Forward
                    } else {
                        Direction::Reverse
                    };
                    let pairs = collect(db.scan(lo..), dir).unwrap();
                    check_sorted_and_well_formed(&pairs);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (db, start) = (db.clone(), start.clone());
            thread::spawn(move || {
                let mut model = Map::new();
                start.wait();
                for i in 0..per_writer {
                    let k = format!("w{w}-{i:05}").into_bytes();
                    let v = versioned(&k, i as u64, i % 64);
                    db.put(&k, &v).unwrap();
                    model.insert(k, v);
                    if i % 7 == 3 {
                        let d = format!("w{w}-{:05}", i - 3).into_bytes();
                        db.delete(&d).unwrap();
                        model.remove(&d);
                    }
                    if i % 50 == 0 {
                        let mut batch = WriteBatch::new();
                        for j in 0..5 {
                            let k = format!("w{w}-b{i:05}-{j}").into_bytes();
                            let v = versioned(&k, i as u64, 10);
                            batch.put(&k, &v);
                            model.insert(k, v);
                        }
                        db.write(batch).unwrap();
                    }
                }
                model
            })
        })
        .collect();
    let mut model = Map::new();
    for h in handles {
        model.extend(h.join().expect("writer panicked"));
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader panicked") > 0);
    }
    let got = collect(db.scan::<Vec<u8>, _>(..), Direction::Forward).unwrap();
    let want: Pairs = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert!(
        got == want,
        "after the writers joined the database differs from their union: {} vs {} pairs",
        got.len(),
        want.len()
    );
    for (k, v) in &model {
        assert_eq!(db.get(k).unwrap().as_deref(), Some(&v[..]));
    }
    close_shared(db);
}

/// Loop condition of the worker threads: the body runs at least once (so a thread
/// that starts late still does its part), then until `flag` is set.
fn running(first: &mut bool, flag: &AtomicBool) -> bool {
    std::mem::replace(first, false) || !flag.load(Ordering::Acquire)
}

/// Closes a database once every thread let go of it.
fn close_shared(db: Arc<Db>) {
    match Arc::try_unwrap(db) {
        Ok(db) => db.close().unwrap(),
        Err(_) => panic!("a thread still holds the database"),
    }
}

/// A scan result is strictly ascending and every value belongs to its key.
fn check_sorted_and_well_formed(pairs: &Pairs) {
    for w in pairs.windows(2) {
        assert!(
            w[0].0 < w[1].0,
            "scan out of order or repeating: {} then {}",
            show(&w[0].0),
            show(&w[1].0)
        );
    }
    for (k, v) in pairs {
        version_of(k, v);
    }
}

/// A scan and a snapshot taken before a storm of overwrites, deletes, flushes and
/// compactions (some from another thread) still read exactly the state before it.
#[test]
fn scans_and_snapshots_stay_fixed_while_flush_and_compaction_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(tmp.path().join("db"), tiny_options()).unwrap());
    let n = 3000usize;
    let key = |i: usize| format!("s{i:05}").into_bytes();
    let mut before = Map::new();
    for i in 0..n {
        let v = versioned(&key(i), 1, 40);
        db.put(key(i), &v).unwrap();
        before.insert(key(i), v);
        if i == n / 2 {
            // Half the state in segments, half in memtables.
            db.flush().unwrap();
        }
    }
    let all: Pairs = before.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let snapshot = db.snapshot();
    let mut forward = db.scan::<Vec<u8>, _>(..);
    let first = forward.next().expect("non-empty").unwrap();
    assert_eq!((first.0.to_vec(), first.1.to_vec()), all[0]);
    // Not pulled from before the storm: creating the scan fixes its view.
    let reverse = db.scan::<Vec<u8>, _>(..).rev();
    let ranged = db.scan(key(100)..key(2100));

    let storm = {
        let db = db.clone();
        thread::spawn(move || {
            for round in 2..6u64 {
                for i in (0..n).step_by(round as usize) {
                    db.put(key(i), versioned(&key(i), round, 40)).unwrap();
                }
                for i in (1..n).step_by(5) {
                    db.delete(key(i)).unwrap();
                }
                db.flush().unwrap();
            }
            db.compact().unwrap();
        })
    };
    // Read half of the forward scan while the storm runs.
    let mut got = vec![all[0].clone()];
    for item in forward.by_ref().take(n / 2) {
        let (k, v) = item.unwrap();
        got.push((k.to_vec(), v.to_vec()));
    }
    storm.join().expect("writer panicked");
    db.compact().unwrap();
    for item in forward {
        let (k, v) = item.unwrap();
        got.push((k.to_vec(), v.to_vec()));
    }
    assert!(
        got == all,
        "the forward scan saw later writes ({} pairs)",
        got.len()
    );
    let got: Pairs = reverse
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    let mut want = all.clone();
    want.reverse();
    assert!(got == want, "the reverse scan saw later writes");
    let got = collect(ranged, Direction::Forward).unwrap();
    assert!(got == all[100..2100], "the ranged scan saw later writes");
    for (k, v) in &all {
        assert_eq!(
            snapshot.get(k).unwrap().as_deref(),
            Some(&v[..]),
            "snapshot get {}",
            show(k)
        );
    }
    assert!(collect(snapshot.scan::<Vec<u8>, _>(..), Direction::Reverse).unwrap() == all);
    // And the database itself moved on.
    assert_eq!(db.get(key(1)).unwrap(), None);
    assert_eq!(version_of(&key(0), &db.get(key(0)).unwrap().unwrap()), 5);
    drop(snapshot);
    close_shared(db);
}

const ACCOUNTS: usize = 1000;
const INITIAL: u64 = 1000;

fn account(i: usize) -> Vec<u8> {
    format!("acct{i:04}").into_bytes()
}

fn balance_value(b: u64) -> Vec<u8> {
    // Padded so transfers produce enough bytes to keep flushes and compactions busy.
    format!("{b:020}|{}", ".".repeat(44)).into_bytes()
}

fn balance_of(v: &[u8]) -> u64 {
    std::str::from_utf8(&v[..20]).unwrap().parse().unwrap()
}

fn sum_pairs(pairs: &Pairs) -> (usize, u64) {
    (pairs.len(), pairs.iter().map(|(_, v)| balance_of(v)).sum())
}

/// The bank test: transfers between 1,000 accounts as atomic two-put batches; every
/// snapshot and every scan sees all accounts and the same total.
#[test]
fn bank_transfers_keep_the_total_in_every_consistent_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Arc::new(Db::open(&path, tiny_options()).unwrap());
    let mut batch = WriteBatch::new();
    for i in 0..ACCOUNTS {
        batch.put(account(i), balance_value(INITIAL));
    }
    db.write(batch).unwrap();
    let total = INITIAL * ACCOUNTS as u64;
    let locks: Arc<Vec<Mutex<()>>> = Arc::new((0..ACCOUNTS).map(|_| Mutex::new(())).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + stress_duration();
    let transfers = Arc::new(AtomicU64::new(0));

    let mut workers = Vec::new();
    for t in 0..3u64 {
        let (db, locks, stop, transfers) =
            (db.clone(), locks.clone(), stop.clone(), transfers.clone());
        workers.push(thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(100 + t);
            let mut first = true;
            while running(&mut first, &stop) {
                let (a, b) = (rng.gen_range(0..ACCOUNTS), rng.gen_range(0..ACCOUNTS));
                // Two distinct accounts.
                let b = if a == b { (b + 1) % ACCOUNTS } else { b };
                let _g1 = locks[a.min(b)].lock().unwrap();
                let _g2 = locks[a.max(b)].lock().unwrap();
                let ba = balance_of(&db.get(account(a)).unwrap().expect("account a"));
                let bb = balance_of(&db.get(account(b)).unwrap().expect("account b"));
                let amount = rng.gen_range(0..=ba.min(100));
                let mut batch = WriteBatch::new();
                batch.put(account(a), balance_value(ba - amount));
                batch.put(account(b), balance_value(bb + amount));
                db.write(batch).unwrap();
                transfers.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut readers = Vec::new();
    for r in 0..2u64 {
        let (db, stop) = (db.clone(), stop.clone());
        readers.push(thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(200 + r);
            let mut checks = 0u64;
            let mut first = true;
            while running(&mut first, &stop) {
                match rng.gen_range(0..4) {
                    0 => {
                        let snap = db.snapshot();
                        let sum: u64 = (0..ACCOUNTS)
                            .map(|i| balance_of(&snap.get(account(i)).unwrap().expect("account")))
                            .sum();
                        assert_eq!(
                            sum,
                            total,
                            "snapshot gets at seq {} see a total of {sum}",
                            snap.sequence()
                        );
                        let (n, sum) = sum_pairs(
                            &collect(snap.scan::<Vec<u8>, _>(..), Direction::Forward).unwrap(),
                        );
                        assert_eq!(
                            (n, sum),
                            (ACCOUNTS, total),
                            "the same snapshot's scan disagrees"
                        );
                    }
                    1 => {
                        let (n, sum) = sum_pairs(
                            &collect(db.scan::<Vec<u8>, _>(..), Direction::Forward).unwrap(),
                        );
                        assert_eq!((n, sum), (ACCOUNTS, total), "a forward scan");
                    }
                    2 => {
                        let (n, sum) = sum_pairs(
                            &collect(db.scan::<Vec<u8>, _>(..), Direction::Mixed(rng.gen()))
                                .unwrap(),
                        );
                        assert_eq!((n, sum), (ACCOUNTS, total), "a scan from both ends");
                    }
                    _ => {
                        let (n, sum) =
                            sum_pairs(&collect(db.prefix(b"acct"), Direction::Reverse).unwrap());
                        assert_eq!((n, sum), (ACCOUNTS, total), "a reverse prefix scan");
                    }
                }
                checks += 1;
            }
            checks
        }));
    }
    // Manual flushes and compactions race the automatic ones.
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        thread::sleep(std::time::Duration::from_millis(300));
        if rounds % 4 == 3 {
            db.compact().unwrap();
        } else {
            db.flush().unwrap();
        }
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("transfer thread panicked");
    }
    let mut checks = 0;
    for r in readers {
        checks += r.join().expect("reader panicked");
    }
    assert!(checks > 0 && transfers.load(Ordering::Relaxed) > 0);
    println!(
        "bank: {} transfers, {checks} consistent reads, {:?}",
        transfers.load(Ordering::Relaxed),
        db.stats()
    );
    close_shared(db);
    let db = Db::open(&path, tiny_options()).unwrap();
    assert_eq!(
        sum_pairs(&collect(db.scan::<Vec<u8>, _>(..), Direction::Forward).unwrap()),
        (ACCOUNTS, total)
    );
    db.close().unwrap();
}

/// Per-key monotonic versions: writers raise each of their keys' versions; no reader
/// (get, scan, snapshot) ever sees a key's version go backwards, nor older than the
/// last version acknowledged before the read began.
#[test]
fn no_reader_sees_a_key_version_go_backwards() {
    const WRITERS: usize = 3;
    const KEYS_PER_WRITER: usize = 64;
    const KEYS: usize = WRITERS * KEYS_PER_WRITER;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Arc::new(Db::open(&path, tiny_options()).unwrap());
    let key = |i: usize| format!("m{i:03}").into_bytes();
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + stress_duration();

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
        writers.push(thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
            let mut versions = vec![0u64; KEYS_PER_WRITER];
            let mut first = true;
            while running(&mut first, &stop) {
                let j = rng.gen_range(0..KEYS_PER_WRITER);
                let i = w * KEYS_PER_WRITER + j;
                if rng.gen_ratio(1, 8) {
                    // Two keys in one batch.
                    let j2 = (j + 1) % KEYS_PER_WRITER;
                    let i2 = w * KEYS_PER_WRITER + j2;
                    versions[j] += 1;
                    versions[j2] += 1;
                    let mut batch = WriteBatch::new();
                    batch.put(
                        key(i),
                        versioned(&key(i), versions[j], rng.gen_range(0..200)),
                    );
                    batch.put(
                        key(i2),
                        versioned(&key(i2), versions[j2], rng.gen_range(0..200)),
                    );
                    db.write(batch).unwrap();
                    acked[i].store(versions[j], Ordering::Release);
                    acked[i2].store(versions[j2], Ordering::Release);
                } else {
                    versions[j] += 1;
                    db.put(
                        key(i),
                        versioned(&key(i), versions[j], rng.gen_range(0..200)),
                    )
                    .unwrap();
                    acked[i].store(versions[j], Ordering::Release);
                }
            }
            versions
        }));
    }
    let mut readers = Vec::new();
    for r in 0..2u64 {
        let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
        readers.push(thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(300 + r);
            let mut seen = vec![0u64; KEYS];
            let mut reads = 0u64;
            let observe = |seen: &mut Vec<u64>, i: usize, floor: u64, v: Option<&[u8]>, how: &str| {
                let version = v.map_or(0, |v| version_of(&key(i), v));
                assert!(version >= floor, "{how}: key {i} at version {version}, but {floor} was acknowledged before the read");
                assert!(version >= seen[i], "{how}: key {i} went back from version {} to {version}", seen[i]);
                seen[i] = version;
            };
            let mut first = true;
            while running(&mut first, &stop) {
                match rng.gen_range(0..4) {
                    0 | 1 => {
                        let i = rng.gen_range(0..KEYS);
                        let floor = acked[i].load(Ordering::Acquire);
                        let v = db.get(key(i)).unwrap();
                        observe(&mut seen, i, floor, v.as_deref(), "get");
                    }
                    2 => {
                        let floors: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Acquire)).collect();
                        let dir = if rng.gen() { Direction::Forward } else { Direction::Reverse };
                        let pairs = collect(db.scan::<Vec<u8>, _>(..), dir).unwrap();
                        let found: BTreeMap<Vec<u8>, Vec<u8>> = pairs.into_iter().collect();
                        for (i, &floor) in floors.iter().enumerate() {
                            observe(&mut seen, i, floor, found.get(&key(i)).map(Vec::as_slice), "scan");
                        }
                    }
                    _ => {
                        let floors: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Acquire)).collect();
                        let snap = db.snapshot();
                        let mut first: Vec<u64> = Vec::with_capacity(KEYS);
                        for (i, &floor) in floors.iter().enumerate() {
                            let v = snap.get(key(i)).unwrap();
                            observe(&mut seen, i, floor, v.as_deref(), "snapshot get");
                            first.push(seen[i]);
                        }
                        // Reading the same snapshot again, after more writes, gives the
                        // very same versions.
                        let again = collect(snap.scan::<Vec<u8>, _>(..), Direction::Forward).unwrap();
                        let again: BTreeMap<Vec<u8>, Vec<u8>> = again.into_iter().collect();
                        for (i, &v) in first.iter().enumerate() {
                            let now = again.get(&key(i)).map_or(0, |x| version_of(&key(i), x));
                            assert_eq!(now, v, "snapshot at seq {} changed key {i}", snap.sequence());
                        }
                    }
                }
                reads += 1;
            }
            reads
        }));
    }
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        thread::sleep(std::time::Duration::from_millis(250));
        if rounds % 5 == 4 {
            db.compact().unwrap();
        }
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut last = Vec::new();
    for w in writers {
        last.extend(w.join().expect("writer panicked"));
    }
    for r in readers {
        assert!(r.join().expect("reader panicked") > 0);
    }
    let check = |db: &Db, what: &str| {
        for (i, &v) in last.iter().enumerate() {
            let got = db
                .get(key(i))
                .unwrap()
                .map_or(0, |x| version_of(&key(i), &x));
            assert_eq!(
                got, v,
                "{what}: key {i} is not at its last acknowledged version"
            );
        }
    };
    check(&db, "after the run");
    println!(
        "monotonic: {} writes, {:?}",
        last.iter().sum::<u64>(),
        db.stats()
    );
    close_shared(db);
    let db = Db::open(&path, tiny_options()).unwrap();
    check(&db, "after a reopen");
    db.close().unwrap();
}

/// Group commit and durability under concurrency, on the simulated disk: writer
/// threads each write their own keys in order while a monitor repeatedly takes a
/// power-loss image. Every write acknowledged before the image was taken (with
/// `sync_writes`), or before a `sync()` that returned (without), is in the image,
/// and each thread's keys in the image form a prefix of what it wrote (no holes).
#[test]
fn concurrent_writers_acknowledged_writes_survive_power_loss() {
    use common::sim::{open_sim, read_all};
    use lsm_core::fs::{CrashMode, SimFs};
    const THREADS: usize = 4;
    const PER_THREAD: usize = 3000;
    for sync_writes in [true, false] {
        let fs = SimFs::new();
        let options = tiny_options().with_sync_writes(sync_writes);
        let db = Arc::new(open_sim(&fs, &options).unwrap());
        let acked: Arc<Vec<AtomicU64>> =
            Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
        let key = |t: usize, i: usize| format!("g{t}-{i:05}").into_bytes();
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (db, acked) = (db.clone(), acked.clone());
                thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        if i % 10 == 9 {
                            let mut batch = WriteBatch::new();
                            batch.put(key(t, i), versioned(&key(t, i), i as u64, 30));
                            db.write(batch).unwrap();
                        } else {
                            db.put(key(t, i), versioned(&key(t, i), i as u64, 30))
                                .unwrap();
                        }
                        acked[t].store(i as u64 + 1, Ordering::Release);
                    }
                })
            })
            .collect();
        let mut images = 0;
        loop {
            let finished = writers.iter().all(|w| w.is_finished());
            let floor: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Acquire)).collect();
            if !sync_writes {
                db.sync().unwrap();
            }
            let mode = CrashMode::ALL[images % 4];
            let image = fs.crash(mode, images as u64);
            images += 1;
            let recovered = open_sim(&image, &options).unwrap_or_else(|e| {
                panic!("sync_writes {sync_writes}, {mode:?}: open failed: {e}")
            });
            let found = read_all(&recovered).unwrap();
            for (t, &floor) in floor.iter().enumerate() {
                let present = (0..PER_THREAD)
                    .take_while(|&i| found.contains_key(&key(t, i)))
                    .count();
                assert!(
                    present as u64 >= floor,
                    "sync_writes {sync_writes}, {mode:?}: thread {t} had {floor} writes acknowledged, the image holds {present}"
                );
                let beyond = (present..PER_THREAD)
                    .filter(|&i| found.contains_key(&key(t, i)))
                    .count();
                assert_eq!(beyond, 0, "sync_writes {sync_writes}, {mode:?}: thread {t}'s writes have a hole after {present}");
            }
            recovered.close().unwrap();
            if finished {
                break;
            }
        }
        for w in writers {
            w.join().expect("writer panicked");
        }
        println!(
            "sync_writes {sync_writes}: {images} power-loss images checked, {:?}",
            db.stats()
        );
        close_shared(db);
    }
}
