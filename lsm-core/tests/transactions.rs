//! Optimistic transactions: what a transaction reads (its snapshot plus its own
//! writes, in gets and in scans from both ends), which commits conflict (write
//! skew, phantoms, reads of missing keys, range deletes, writes that reached a
//! segment or went through a compaction, expiring puts) and which do not, the
//! retry loop of `Db::transaction`, a failed WAL write, a bank of concurrent
//! transfers (the total constant in every snapshot, after reopening, and in a
//! crash image of the simulated disk), and a property test against a serial model.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::small_options;
use lsm_core::fs::{CrashMode, FaultFs, FaultKind, FaultMode, SimFs};
use lsm_core::fuzzing::{open_sim, DB_PATH};
use lsm_core::{Bytes, Db, Error, Options, Result, Transaction};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    (dir, db)
}

fn keys(scan: impl Iterator<Item = Result<(Bytes, Bytes)>>) -> Vec<String> {
    scan.map(|kv| String::from_utf8(kv.unwrap().0.to_vec()).unwrap())
        .collect()
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T>) -> bool {
    match r {
        Err(Error::Conflict { .. }) => true,
        Ok(_) => false,
        Err(e) => panic!("expected a conflict or success, got {e}"),
    }
}

#[test]
fn reads_see_the_snapshot_and_own_writes() {
    let (_dir, db) = open();
    for k in ["a", "b", "c", "d", "e", "p1", "p2", "q"] {
        db.put(k, format!("db-{k}")).unwrap();
    }
    let mut txn = db.begin();
    db.put("z", "after begin").unwrap();
    db.delete("a").unwrap();
    txn.put("b", "own-b").unwrap();
    txn.put("bb", "own-bb").unwrap();
    txn.delete("c").unwrap();
    txn.delete_range("d", "e\0").unwrap(); // hides d and e
    txn.put("e", "own-e").unwrap(); // written after the range: visible
    txn.delete_prefix("p").unwrap();
    txn.put("p2", "own-p2").unwrap();

    assert_eq!(txn.get("a").unwrap().as_deref(), Some(&b"db-a"[..]));
    assert_eq!(txn.get("b").unwrap().as_deref(), Some(&b"own-b"[..]));
    assert_eq!(txn.get("c").unwrap(), None);
    assert_eq!(txn.get("d").unwrap(), None);
    assert_eq!(txn.get("e").unwrap().as_deref(), Some(&b"own-e"[..]));
    assert_eq!(txn.get("p1").unwrap(), None);
    assert_eq!(txn.get("z").unwrap(), None);

    let all = ["a", "b", "bb", "e", "p2", "q"];
    assert_eq!(keys(txn.scan::<&str, _>(..)), all);
    let mut rev = all.to_vec();
    rev.reverse();
    assert_eq!(keys(txn.scan::<&str, _>(..).rev()), rev);
    assert_eq!(keys(txn.scan("b".."p2")), ["b", "bb", "e"]);
    assert_eq!(keys(txn.scan("b"..="p2").rev()), ["p2", "e", "bb", "b"]);
    assert_eq!(keys(txn.prefix("p")), ["p2"]);
    assert_eq!(keys(txn.prefix("b").rev()), ["bb", "b"]);
    let values: Vec<Bytes> = txn.scan("e"..="e").map(|kv| kv.unwrap().1).collect();
    assert_eq!(values, ["own-e"]);

    // Both ends of one scan meet without repeating or losing a key.
    for pattern in 0u32..64 {
        let mut scan = txn.scan::<&str, _>(..);
        let (mut front, mut back) = (Vec::new(), Vec::new());
        for step in 0.. {
            let item = if pattern >> (step % 6) & 1 == 0 {
                scan.next().map(|kv| kv.unwrap().0)
            } else {
                scan.next_back().map(|kv| kv.unwrap().0)
            };
            match item {
                Some(k) if pattern >> (step % 6) & 1 == 0 => front.push(k),
                Some(k) => back.push(k),
                None => break,
            }
        }
        back.reverse();
        front.extend(back);
        assert_eq!(front, all, "pattern {pattern:b}");
    }

    // It read "a" and "z" (and scanned everything), which plain writes changed.
    assert!(is_conflict(txn.commit()));
    assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"db-b"[..]));

    // The same writes without the interference commit as the scans showed.
    let mut txn = db.begin();
    txn.put("b", "own-b").unwrap();
    txn.put("bb", "own-bb").unwrap();
    txn.delete("c").unwrap();
    txn.delete_range("d", "e\0").unwrap();
    txn.put("e", "own-e").unwrap();
    txn.delete_prefix("p").unwrap();
    txn.put("p2", "own-p2").unwrap();
    let seen = keys(txn.scan::<&str, _>(..));
    txn.commit().unwrap();
    let after: Vec<String> = db
        .iter()
        .map(|kv| String::from_utf8(kv.unwrap().0.to_vec()).unwrap())
        .collect();
    assert_eq!(after, seen);
    assert_eq!(after, ["b", "bb", "e", "p2", "q", "z"]);
    assert_eq!(db.get("e").unwrap().as_deref(), Some(&b"own-e"[..]));
}

#[test]
fn writes_are_invisible_until_commit_and_dropped_on_rollback() {
    let (_dir, db) = open();
    let mut txn = db.begin();
    txn.put("k", "v").unwrap();
    assert_eq!(db.get("k").unwrap(), None);
    txn.rollback();
    assert_eq!(db.get("k").unwrap(), None);
    {
        let mut txn = db.begin();
        txn.put("k", "v").unwrap();
    } // dropped
    assert_eq!(db.get("k").unwrap(), None);
    // Invalid arguments are refused as `Db` refuses them, and buffer nothing.
    let mut txn = db.begin();
    assert!(matches!(
        txn.delete_range("b", "a"),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        txn.put(vec![b'k'; 70_000], "v"),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(txn.delete(vec![b'k'; 70_000]).is_err());
    txn.put("ok", "1").unwrap();
    txn.commit().unwrap();
    assert_eq!(db.iter().count(), 1);
}

#[test]
fn write_skew_lets_at_most_one_commit() {
    let (_dir, db) = open();
    db.put("x", "1").unwrap();
    db.put("y", "1").unwrap();
    let mut t1 = db.begin();
    let mut t2 = db.begin();
    for t in [&mut t1, &mut t2] {
        t.get("x").unwrap();
        t.get("y").unwrap();
    }
    t1.put("x", "0").unwrap();
    t2.put("y", "0").unwrap();
    assert!(!is_conflict(t1.commit()));
    let err = t2.commit().unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("\"x\""), "{err}");
    assert_eq!(db.get("y").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn phantoms_conflict_and_writes_elsewhere_do_not() {
    let (_dir, db) = open();
    // Two transactions scan an empty range and each insert into it.
    let mut t1 = db.begin();
    let mut t2 = db.begin();
    assert_eq!(t1.scan("m".."n").count(), 0);
    assert_eq!(t2.scan("m".."n").count(), 0);
    t1.put("m1", "t1").unwrap();
    t2.put("m2", "t2").unwrap();
    t1.commit().unwrap();
    assert!(is_conflict(t2.commit()));

    // The same over a range holding keys, through a prefix scan.
    let mut t1 = db.begin();
    let mut t2 = db.begin();
    assert_eq!(t1.prefix("m").count(), 1);
    assert_eq!(t2.prefix("m").count(), 1);
    t1.put("m3", "t1").unwrap();
    t2.put("m4", "t2").unwrap();
    t2.commit().unwrap();
    assert!(is_conflict(t1.commit()));

    // A plain write into a scanned range, even one the scan never reached.
    let mut t = db.begin();
    let mut scan = t.scan("a".."z");
    assert!(scan.next().is_some());
    drop(scan);
    t.put("other", "x").unwrap();
    db.put("y", "plain").unwrap();
    assert!(is_conflict(t.commit()));

    // A write outside every scanned range and read key: no conflict.
    let mut t = db.begin();
    assert_eq!(t.scan("m"..="m9").count(), 2); // m1 and m4
    t.get("q").unwrap();
    t.put("m5", "t").unwrap();
    db.put("z", "outside").unwrap();
    db.put("m9\0", "just past the range").unwrap();
    db.put("p", "between").unwrap();
    t.commit().unwrap();
    assert_eq!(db.get("m5").unwrap().as_deref(), Some(&b"t"[..]));
}

#[test]
fn reading_a_missing_key_conflicts_with_its_insert() {
    let (_dir, db) = open();
    let mut t = db.begin();
    assert_eq!(t.get("seat").unwrap(), None);
    t.put("seat", "t").unwrap();
    db.put("seat", "other").unwrap();
    let err = t.commit().unwrap_err();
    assert_eq!(
        err.to_string(),
        "transaction conflict: key \"seat\" was written after the transaction began"
    );
    // A delete of a missing key is a write too.
    let mut t = db.begin();
    t.get("nothing").unwrap();
    t.put("x", "1").unwrap();
    db.delete("nothing").unwrap();
    assert!(is_conflict(t.commit()));
}

#[test]
fn range_deletes_over_reads_conflict() {
    let (_dir, db) = open();
    db.put("user:1", "a").unwrap();
    for (i, delete) in ["range", "prefix", "range over a scan"].iter().enumerate() {
        let mut t = db.begin();
        if i == 2 {
            t.scan("k".."l").count();
        } else {
            t.get("user:1").unwrap();
        }
        t.put("out", "x").unwrap();
        match *delete {
            "prefix" => db.delete_prefix("user:").unwrap(),
            "range" => db.delete_range("u", "v").unwrap(),
            _ => db.delete_range("a", "k\0").unwrap(),
        }
        assert!(is_conflict(t.commit()), "{delete}");
    }
    // A range delete next to what was read is no conflict.
    let mut t = db.begin();
    t.get("user:1").unwrap();
    t.scan("k".."l").count();
    t.put("out", "y").unwrap();
    db.delete_range("user:1\0", "user:2").unwrap();
    db.delete_range("l", "m").unwrap();
    t.commit().unwrap();
}

#[test]
fn writes_flushed_or_compacted_still_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_options()).unwrap();
    for i in 0..200u32 {
        db.put(format!("k{i:03}"), "old").unwrap();
    }
    db.flush().unwrap();
    for (label, after) in [
        (
            "flush",
            &(|db: &Db| db.flush()) as &dyn Fn(&Db) -> Result<()>,
        ),
        ("compaction", &|db: &Db| {
            db.flush()?;
            db.compact()
        }),
    ] {
        // A point read.
        let mut t = db.begin();
        t.get("k050").unwrap();
        t.put("mine", "1").unwrap();
        db.put("k050", "new").unwrap();
        after(&db).unwrap();
        assert!(is_conflict(t.commit()), "point read, {label}");
        // A scanned range.
        let mut t = db.begin();
        t.scan("k100".."k110").count();
        t.put("mine", "1").unwrap();
        db.delete("k105").unwrap();
        after(&db).unwrap();
        assert!(is_conflict(t.commit()), "scan, {label}");
        // A range tombstone over a read key.
        let mut t = db.begin();
        t.get("k150").unwrap();
        t.put("mine", "1").unwrap();
        db.delete_range("k149", "k151").unwrap();
        after(&db).unwrap();
        assert!(is_conflict(t.commit()), "range tombstone, {label}");
        // Nothing read was written: commits, though segments are newer.
        let mut t = db.begin();
        t.get("k010").unwrap();
        t.scan("k020".."k030").count();
        t.put("mine", "2").unwrap();
        db.put("k199", "new").unwrap();
        after(&db).unwrap();
        t.commit().unwrap();
    }
    assert_eq!(db.get("mine").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn an_expiring_put_is_a_write() {
    let (_dir, db) = open();
    let mut t = db.begin();
    t.get("session").unwrap();
    t.put("x", "1").unwrap();
    db.put_with_ttl("session", "tok", Duration::from_secs(60))
        .unwrap();
    assert!(is_conflict(t.commit()));
}

#[test]
fn read_only_and_blind_write_transactions_commit() {
    let (_dir, db) = open();
    db.put("k", "1").unwrap();
    let mut reader = db.begin();
    let mut blind = db.begin();
    assert_eq!(reader.get("k").unwrap().as_deref(), Some(&b"1"[..]));
    blind.put("k", "blind").unwrap();
    db.put("k", "2").unwrap();
    // Still reads its snapshot, and commits: it wrote nothing.
    assert_eq!(reader.get("k").unwrap().as_deref(), Some(&b"1"[..]));
    reader.commit().unwrap();
    // Wrote without reading: nothing to check.
    blind.commit().unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"blind"[..]));
}

#[test]
fn own_writes_are_not_reads() {
    let (_dir, db) = open();
    let mut t = db.begin();
    t.put("k", "mine").unwrap();
    assert_eq!(t.get("k").unwrap().as_deref(), Some(&b"mine"[..]));
    db.put("k", "theirs").unwrap();
    // The read was answered by the transaction's own write: no conflict, and
    // the transaction's write comes last.
    t.commit().unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"mine"[..]));
}

#[test]
fn db_transaction_retries_conflicts_and_returns_other_errors_at_once() {
    let (_dir, db) = open();
    db.put("n", "0").unwrap();
    // Conflicts every time: someone writes the key it read before each commit.
    let mut attempts = 0;
    let r = db.transaction(|t| {
        attempts += 1;
        t.get("n")?;
        t.put("n", "txn")?;
        db.put("n", format!("plain {attempts}"))?;
        Ok(())
    });
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    assert_eq!(attempts, 16);
    // Conflicts twice, then commits.
    let mut attempts = 0;
    let value = db
        .transaction(|t| {
            attempts += 1;
            t.get("n")?;
            t.put("n", "txn")?;
            if attempts <= 2 {
                db.put("n", "plain")?;
            }
            Ok(attempts)
        })
        .unwrap();
    assert_eq!(value, 3);
    assert_eq!(db.get("n").unwrap().as_deref(), Some(&b"txn"[..]));
    // Another error: returned at once, nothing written.
    let mut attempts = 0;
    let r: Result<()> = db.transaction(|t| {
        attempts += 1;
        t.put("n", "never")?;
        t.delete_range("z", "a")
    });
    assert!(matches!(r, Err(Error::InvalidArgument { .. })));
    assert_eq!(attempts, 1);
    assert_eq!(db.get("n").unwrap().as_deref(), Some(&b"txn"[..]));
}

#[test]
fn a_failed_wal_write_fails_the_commit_and_writes_nothing() {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    let db = Db::open_with_fs(DB_PATH, Options::default(), fault.fs_ref()).unwrap();
    db.put("a", "1").unwrap();
    let mut t = db.begin();
    t.get("a").unwrap();
    t.put("a", "2").unwrap();
    t.put("b", "2").unwrap();
    fault.fail(FaultKind::Write, 1, FaultMode::Once);
    let err = t.commit().unwrap_err();
    assert!(
        matches!(err, Error::Io { .. } | Error::Poisoned { .. }),
        "{err}"
    );
    fault.clear();
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("b").unwrap(), None);
    // The database refuses writes from now on, transactions included.
    let mut t = db.begin();
    t.put("c", "3").unwrap();
    assert!(matches!(t.commit(), Err(Error::Poisoned { .. })));
    drop(db);
    let db = Db::open_with_fs(DB_PATH, Options::default(), sim.fs_ref()).unwrap();
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("b").unwrap(), None);
}

const ACCOUNTS: u32 = 16;
const START: i64 = 100;

fn account(i: u32) -> String {
    format!("acct{i:02}")
}

fn balance(v: Option<Bytes>) -> i64 {
    v.map(|v| i64::from_le_bytes(v[..8].try_into().unwrap()))
        .unwrap_or(0)
}

fn fund(db: &Db) {
    let mut t = db.begin();
    for i in 0..ACCOUNTS {
        t.put(account(i), START.to_le_bytes()).unwrap();
    }
    t.commit().unwrap();
}

/// Moves a random amount between two random accounts in one transaction; some
/// transfers read through a scan, so phantoms count too.
fn transfer(db: &Db, rng: &mut impl rand::Rng) -> Result<()> {
    let from = rng.gen_range(0..ACCOUNTS);
    let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
    let amount = rng.gen_range(1..20i64);
    let by_scan = rng.gen_bool(0.2);
    db.transaction(|t: &mut Transaction<'_>| {
        let a = if by_scan {
            let a = account(from);
            balance(
                t.scan(a.as_str()..=a.as_str())
                    .next()
                    .transpose()?
                    .map(|kv| kv.1),
            )
        } else {
            balance(t.get(account(from))?)
        };
        let b = balance(t.get(account(to))?);
        t.put(account(from), (a - amount).to_le_bytes())?;
        t.put(account(to), (b + amount).to_le_bytes())?;
        Ok(())
    })
}

fn total_of(scan: impl Iterator<Item = Result<(Bytes, Bytes)>>) -> i64 {
    scan.map(|kv| balance(Some(kv.unwrap().1))).sum()
}

#[test]
fn bank_total_is_constant_under_concurrent_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), small_options()).unwrap());
    fund(&db);
    let want = START * i64::from(ACCOUNTS);
    let stop = Arc::new(AtomicBool::new(false));
    let (committed, conflicts) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..4u64)
        .map(|seed| {
            let (db, stop, committed, conflicts) = (
                db.clone(),
                stop.clone(),
                committed.clone(),
                conflicts.clone(),
            );
            thread::spawn(move || {
                let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
                while !stop.load(Ordering::Relaxed) {
                    match transfer(&db, &mut rng) {
                        Ok(()) => committed.fetch_add(1, Ordering::Relaxed),
                        Err(Error::Conflict { .. }) => conflicts.fetch_add(1, Ordering::Relaxed),
                        Err(e) => panic!("transfer failed: {e}"),
                    };
                }
            })
        })
        .collect();
    let checker = {
        let (db, stop) = (db.clone(), stop.clone());
        thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(total_of(db.snapshot().iter()), want);
                let mut t = db.begin();
                assert_eq!(total_of(t.scan::<&str, _>(..)), want);
                checks += 1;
            }
            checks
        })
    };
    let secs = common::env_or("LSM_TXN_BANK_SECS", 2.0f64);
    thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(checker.join().unwrap() > 0);
    assert!(committed.load(Ordering::Relaxed) > 0);
    println!(
        "{} transfers committed, {} gave up after 16 conflicts",
        committed.load(Ordering::Relaxed),
        conflicts.load(Ordering::Relaxed)
    );
    assert_eq!(total_of(db.iter()), want);
    Arc::into_inner(db).unwrap().close().unwrap();
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_eq!(total_of(db.iter()), want);
    assert_eq!(db.iter().count(), ACCOUNTS as usize);
}

#[test]
fn bank_crash_image_taken_mid_run_has_a_constant_total() {
    let sim = SimFs::new();
    let options = small_options().with_sync_writes(true);
    let db = Arc::new(open_sim(&sim, &options).unwrap());
    fund(&db);
    let want = START * i64::from(ACCOUNTS);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4u64)
        .map(|seed| {
            let (db, stop) = (db.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
                while !stop.load(Ordering::Relaxed) {
                    match transfer(&db, &mut rng) {
                        Ok(()) | Err(Error::Conflict { .. }) => {}
                        Err(e) => panic!("transfer failed: {e}"),
                    }
                }
            })
        })
        .collect();
    let mut images = Vec::new();
    let started = Instant::now();
    for seed in 0..6 {
        thread::sleep(Duration::from_millis(100));
        images.push(sim.crash(CrashMode::DropUnsynced, seed));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    for (i, image) in images.iter().enumerate() {
        let db = open_sim(image, &options).unwrap();
        assert_eq!(total_of(db.iter()), want, "image {i}");
        assert_eq!(db.iter().count(), ACCOUNTS as usize, "image {i}");
        db.close().unwrap();
    }
}

// ---------------------------------------------------------------------------
// Property test: transactions against a serial model.
// ---------------------------------------------------------------------------

const SLOTS: usize = 3;
const KEYS: u8 = 8;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(k: u8) -> Vec<u8> {
    vec![b'a' + k]
}

#[derive(Debug, Clone)]
enum TxnOp {
    Get(u8),
    /// `[lo, hi)` over the key alphabet (`hi == KEYS`: unbounded), taking items
    /// from the front or back as the bits of `ends` say.
    Scan(u8, u8, u8),
    Put(u8, u8),
    Delete(u8),
    DeleteRange(u8, u8),
}

#[derive(Debug, Clone)]
enum Op {
    Begin(usize),
    Txn(usize, TxnOp),
    Commit(usize),
    Rollback(usize),
    Plain(TxnOp),
    Flush,
    Compact,
}

fn txn_op() -> impl Strategy<Value = TxnOp> {
    prop_oneof![
        3 => (0..KEYS).prop_map(TxnOp::Get),
        2 => (0..KEYS, 0..=KEYS, any::<u8>()).prop_map(|(a, b, e)| TxnOp::Scan(a, b, e)),
        3 => (0..KEYS, any::<u8>()).prop_map(|(k, v)| TxnOp::Put(k, v)),
        1 => (0..KEYS).prop_map(TxnOp::Delete),
        1 => (0..KEYS, 0..=KEYS).prop_map(|(a, b)| TxnOp::DeleteRange(a.min(b), a.max(b))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..SLOTS).prop_map(Op::Begin),
        12 => (0..SLOTS, txn_op()).prop_map(|(s, o)| Op::Txn(s, o)),
        3 => (0..SLOTS).prop_map(Op::Commit),
        1 => (0..SLOTS).prop_map(Op::Rollback),
        2 => txn_op().prop_map(Op::Plain),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
    ]
}

/// What one operation of a transaction observed.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Value(Option<Vec<u8>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Wrote,
}

fn scan_bounds(lo: u8, hi: u8) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let upper = if hi >= KEYS {
        Bound::Unbounded
    } else {
        Bound::Excluded(key(hi))
    };
    (Bound::Included(key(lo)), upper)
}

/// Takes the items of a sorted list from both ends as `ends` says (bit set:
/// back), as a double-ended iterator yields them.
fn from_ends<T: Clone>(sorted: &[T], ends: u8) -> Vec<T> {
    let (mut lo, mut hi) = (0, sorted.len());
    let mut out = Vec::new();
    let mut step = 0;
    while lo < hi {
        if ends >> (step % 8) & 1 == 0 {
            out.push(sorted[lo].clone());
            lo += 1;
        } else {
            hi -= 1;
            out.push(sorted[hi].clone());
        }
        step += 1;
    }
    out
}

/// Runs `op` on the model map (a transaction's view, or the database itself).
fn model_apply(map: &mut Map, op: &TxnOp) -> Seen {
    match *op {
        TxnOp::Get(k) => Seen::Value(map.get(&key(k)).cloned()),
        TxnOp::Scan(lo, hi, ends) => {
            let sorted: Vec<_> = if lo < hi || hi >= KEYS {
                map.range(scan_bounds(lo, hi))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            Seen::Pairs(from_ends(&sorted, ends))
        }
        TxnOp::Put(k, v) => {
            map.insert(key(k), vec![v]);
            Seen::Wrote
        }
        TxnOp::Delete(k) => {
            map.remove(&key(k));
            Seen::Wrote
        }
        TxnOp::DeleteRange(lo, hi) => {
            let doomed: Vec<_> = map
                .range(scan_bounds(lo, hi))
                .map(|(k, _)| k.clone())
                .collect();
            if lo < hi || hi >= KEYS {
                for k in doomed {
                    map.remove(&k);
                }
            }
            Seen::Wrote
        }
    }
}

fn txn_apply(t: &mut Transaction<'_>, op: &TxnOp) -> Result<Seen> {
    Ok(match *op {
        TxnOp::Get(k) => Seen::Value(t.get(key(k))?.map(|v| v.to_vec())),
        TxnOp::Scan(lo, hi, ends) => {
            let mut scan = t.scan(scan_bounds(lo, hi));
            let mut out = Vec::new();
            let mut step = 0;
            loop {
                let item = if ends >> (step % 8) & 1 == 0 {
                    scan.next()
                } else {
                    scan.next_back()
                };
                match item {
                    Some(kv) => {
                        let (k, v) = kv?;
                        out.push((k.to_vec(), v.to_vec()));
                    }
                    None => break,
                }
                step += 1;
            }
            Seen::Pairs(out)
        }
        TxnOp::Put(k, v) => {
            t.put(key(k), [v])?;
            Seen::Wrote
        }
        TxnOp::Delete(k) => {
            t.delete(key(k))?;
            Seen::Wrote
        }
        TxnOp::DeleteRange(lo, hi) => {
            if hi >= KEYS {
                t.delete_range(key(lo), [0xff; 4])?;
            } else if hi == lo + 1 {
                t.delete_prefix(key(lo))?; // the one key of the alphabet it holds
            } else {
                t.delete_range(key(lo), key(hi))?;
            }
            Seen::Wrote
        }
    })
}

fn plain_apply(db: &Db, op: &TxnOp) -> Result<()> {
    match *op {
        TxnOp::Put(k, v) => db.put(key(k), [v]),
        TxnOp::Delete(k) => db.delete(key(k)),
        TxnOp::DeleteRange(lo, hi) if hi >= KEYS => db.delete_range(key(lo), [0xff; 4]),
        TxnOp::DeleteRange(lo, hi) if hi == lo + 1 => db.delete_prefix(key(lo)),
        TxnOp::DeleteRange(lo, hi) => db.delete_range(key(lo), key(hi)),
        TxnOp::Get(_) | TxnOp::Scan(..) => Ok(()),
    }
}

/// The keys of the alphabet an operation writes (range deletes: every key of the
/// range, present or not), and those it reads from the database.
fn written_keys(op: &TxnOp) -> Vec<u8> {
    match *op {
        TxnOp::Put(k, _) | TxnOp::Delete(k) => vec![k],
        TxnOp::DeleteRange(lo, hi) => (lo..hi.min(KEYS)).collect(),
        _ => Vec::new(),
    }
}

struct Open<'db> {
    txn: Transaction<'db>,
    /// The model of what it reads: the database at begin plus its own writes.
    view: Map,
    ops: Vec<(TxnOp, Seen)>,
    /// Keys read from the database (not answered by its own writes), and the
    /// serial-history position at begin.
    reads: Vec<u8>,
    begin: usize,
    /// Keys the transaction wrote so far (a read of them is its own).
    own: Vec<u8>,
}

/// Commits that succeeded, that conflicted, and read-only ones, over a run.
static TALLY: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

impl<'db> Open<'db> {
    fn new(db: &'db Db, model: &Map, commits: &[Vec<u8>]) -> Self {
        Open {
            txn: db.begin(),
            view: model.clone(),
            ops: Vec::new(),
            reads: Vec::new(),
            begin: commits.len(),
            own: Vec::new(),
        }
    }
}

fn run_case(history: &[Op]) -> std::result::Result<(), String> {
    let sim = SimFs::new();
    let options = small_options().with_memtable_size(4 << 10);
    let db = open_sim(&sim, &options).map_err(|e| e.to_string())?;
    let mut model = Map::new();
    // Keys written by each commit, in commit order (plain writes included).
    let mut commits: Vec<Vec<u8>> = Vec::new();
    let mut slots: Vec<Option<Open<'_>>> = (0..SLOTS).map(|_| None).collect();
    // The history, then a commit of every transaction still open.
    let tail = (0..SLOTS).map(Op::Commit);
    for (i, op) in history.iter().cloned().chain(tail).enumerate() {
        let op = &op;
        let ctx = |e: &dyn std::fmt::Display| format!("op {i} {op:?}: {e}");
        match op {
            Op::Begin(s) => slots[*s] = Some(Open::new(&db, &model, &commits)),
            Op::Txn(s, top) => {
                // An operation on a free slot begins a transaction there.
                let open = slots[*s].get_or_insert_with(|| Open::new(&db, &model, &commits));
                let seen = txn_apply(&mut open.txn, top).map_err(|e| ctx(&e))?;
                let want = model_apply(&mut open.view, top);
                if seen != want {
                    return Err(ctx(&format!("read {seen:?}, its view holds {want:?}")));
                }
                match *top {
                    TxnOp::Get(k) if !open.own.contains(&k) => open.reads.push(k),
                    // A scan reads its whole range, own writes or not.
                    TxnOp::Scan(lo, hi, _) if lo < hi || hi >= KEYS => {
                        open.reads.extend(lo..hi.min(KEYS));
                    }
                    _ => {}
                }
                open.own.extend(written_keys(top));
                open.ops.push((top.clone(), seen));
            }
            Op::Commit(s) => {
                let Some(open) = slots[*s].take() else {
                    continue;
                };
                // An empty range delete writes nothing.
                let wrote = !open.own.is_empty();
                // A conflict is due exactly when a commit since begin wrote a key
                // it read (a scan reads every key of its range).
                let due = wrote
                    && commits
                        .get(open.begin..)
                        .unwrap_or_default()
                        .iter()
                        .any(|w| w.iter().any(|k| open.reads.contains(k)));
                match open.txn.commit() {
                    // A read-only transaction serializes at its begin: its view,
                    // checked at every read, was the database then.
                    Ok(()) if !wrote => {
                        TALLY[2].fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(()) => {
                        TALLY[0].fetch_add(1, Ordering::Relaxed);
                        if due {
                            return Err(ctx(&"committed, though something it read changed"));
                        }
                        // Serially at its commit point it reads what it read.
                        let mut serial = model.clone();
                        for (top, seen) in &open.ops {
                            let again = model_apply(&mut serial, top);
                            if &again != seen {
                                return Err(ctx(&format!(
                                    "not serializable: {top:?} read {seen:?}, serially {again:?}"
                                )));
                            }
                        }
                        model = serial;
                        if wrote {
                            commits.push(open.own.clone());
                        }
                    }
                    Err(Error::Conflict { .. }) if due => {
                        TALLY[1].fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => return Err(ctx(&e)),
                }
            }
            Op::Rollback(s) => {
                if let Some(open) = slots[*s].take() {
                    open.txn.rollback();
                }
            }
            Op::Plain(top) => {
                plain_apply(&db, top).map_err(|e| ctx(&e))?;
                model_apply(&mut model, top);
                commits.push(written_keys(top));
            }
            Op::Flush => db.flush().map_err(|e| ctx(&e))?,
            Op::Compact => db.compact().map_err(|e| ctx(&e))?,
        }
    }
    drop(slots);
    let state: Map = db
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_>>()
        .map_err(|e| e.to_string())?;
    if state != model {
        return Err(format!("final state {state:?}, model {model:?}"));
    }
    Ok(())
}

#[test]
fn transactions_are_serializable_in_commit_order() {
    let cases = common::env_or("PROPTEST_CASES", 1000u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..80), |history| {
        run_case(&history).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let [ok, conflicts, read_only] = TALLY.each_ref().map(|t| t.load(Ordering::Relaxed));
    println!("{cases} cases: {ok} commits, {conflicts} conflicts, {read_only} read-only");
    // The histories exercise both outcomes (fixed_history_runs adds a few).
    assert!(ok > u64::from(cases) / 4 && conflicts > u64::from(cases) / 16);
}

#[test]
fn fixed_history_runs() {
    use TxnOp::*;
    let history = vec![
        Op::Plain(Put(0, 1)),
        Op::Begin(0),
        Op::Begin(1),
        Op::Txn(0, Get(0)),
        Op::Txn(1, Scan(0, 3, 0b10)),
        Op::Txn(0, Put(1, 5)),
        Op::Txn(1, Put(2, 6)),
        Op::Txn(1, DeleteRange(0, 1)),
        Op::Txn(1, Scan(0, KEYS, 0b01)),
        Op::Commit(0),
        Op::Commit(1), // scanned key 1, which slot 0 wrote: conflict
        Op::Flush,
        Op::Begin(2),
        Op::Txn(2, Get(1)),
        Op::Plain(DeleteRange(0, KEYS)),
        Op::Txn(2, Put(3, 1)),
        Op::Commit(2), // conflict
        Op::Compact,
    ];
    run_case(&history).unwrap();
}
