//! Model-based test: random histories of puts, puts with a TTL and moves of the
//! database's manual clock (values vanish once the clock reaches their expiry,
//! snapshots read at their own time), deletes, range and prefix deletes
//! (alone and in batches, empty and inverted ranges included), batches, lookups, scans in
//! both directions with random bounds, scans repositioned by random seeks in either
//! direction, snapshot reads, flushes, compactions,
//! reopens, checkpoints (each opened as a database and compared with the model at
//! that point), read-only opens and refreshes (compared with the model, and the
//! view held checked to stay as it was) and (on the simulated disk) power losses
//! right after a `sync`, under random options, checked after every step against a
//! `BTreeMap`. One case in four runs with a deterministic compaction filter
//! (`common::filter`): keys it may touch are checked as the model's value, absent or
//! the filter's result of the model's value; every other key exactly; what a
//! snapshot reads stays exactly what it read when it was taken.
//!
//! Keyspaces: besides the default keyspace (the `Db`'s own methods), a history
//! writes to up to three named keyspaces, each a `BTreeMap` of its own, created on
//! first use: puts, deletes, lookups and scans in one keyspace, batches across
//! keyspaces (the default one included), drops (a later use creates the keyspace
//! again, empty), and lookups through snapshots in named keyspaces (which read them
//! at the snapshot's sequence number: nothing of a keyspace created after it).
//! Every full check also compares each named keyspace, through reopens, power
//! losses and checkpoints.
//!
//! Sizes: `PROPTEST_CASES` cases (default 2000 on the simulated file system, about
//! a minute on 2 cores; 32 on the real one, where fsyncs dominate) of up to `LSM_MODEL_MAX_OPS` operations (default 1000). A run is
//! replayable: it prints its seed, and `LSM_MODEL_SEED=<seed>` repeats it exactly
//! (the generated histories; background thread timing may differ). A failure is
//! shrunk and printed as the minimal option set and operation list.

mod common;

use std::ops::Bound;

use common::env_or;
use common::model::{collect, Direction};
use common::ops::{self, run_history, BatchOp, BoundSpec, Disk, EndSpec, Op, SeekSpec, TxnSpec};
use lsm_core::{Db, Options};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Runs `cases` random histories; `make_fs` gives each case a fresh database
/// location (path, disk, and the temporary directory to keep alive).
fn run_model(
    name: &str,
    default_cases: u32,
    make_fs: impl Fn() -> (std::path::PathBuf, Disk, Option<tempfile::TempDir>),
) {
    run_model_with(name, default_cases, ops::options(), make_fs);
}

/// [`run_model`] with options drawn from `options`.
fn run_model_with(
    name: &str,
    default_cases: u32,
    options: impl Strategy<Value = Options>,
    make_fs: impl Fn() -> (std::path::PathBuf, Disk, Option<tempfile::TempDir>),
) {
    let cases = env_or("PROPTEST_CASES", default_cases);
    let max_ops = env_or("LSM_MODEL_MAX_OPS", 1000usize).max(2);
    let seed: u64 = env_or("LSM_MODEL_SEED", rand::random::<u64>());
    println!("{name}: {cases} cases of up to {max_ops} ops, replay with LSM_MODEL_SEED={seed}");

    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: env_or("LSM_MODEL_SHRINK_ITERS", 4096u32),
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    // One case in four runs with the test's compaction filter.
    let strategy = (
        options,
        prop::bool::weighted(0.25),
        prop::collection::vec(ops::op(), 1..max_ops),
    );
    let result = runner.run(&strategy, |(options, filter, history)| {
        let (path, fs, _dir) = make_fs();
        run_history(path, &options, filter, fs, &history).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (options, filter, history))) => {
            let listing: Vec<String> = history
                .iter()
                .enumerate()
                .map(|(i, op)| format!("  {i:4}: {op:?}"))
                .collect();
            panic!(
                "{name} failed: {reason}\nreplay with LSM_MODEL_SEED={seed} PROPTEST_CASES={cases}\n\
                 minimal options: {options:?}, compaction filter: {filter}\nminimal history ({} ops):\n{}",
                history.len(),
                listing.join("\n")
            );
        }
        Err(e) => panic!("{name}: {e} (seed {seed})"),
    }
}

#[test]
fn model_on_simulated_fs() {
    run_model("model_on_simulated_fs", 2000, || {
        let fs = lsm_core::fs::SimFs::new();
        (common::sim::DB_PATH.into(), Disk::Sim(fs), None)
    });
}

/// The options of [`model_with_blob_files_on_simulated_fs`]: [`ops::options`]
/// with a blob threshold that the generated values (`ops::value_len`: empty,
/// 1 to 47 bytes, 48 to 599, 4,200 to 6,000) fall on both sides of, and a blob
/// GC ratio from eager to never.
fn blob_options() -> impl Strategy<Value = Options> {
    (
        ops::options(),
        prop_oneof![Just(1usize), Just(16), Just(48), Just(200), Just(1000)],
        prop_oneof![Just(0.1f64), Just(0.3), Just(0.6), Just(1.0)],
    )
        .prop_map(|(options, threshold, ratio)| {
            options
                .with_blob_threshold(Some(threshold))
                .with_blob_gc_ratio(ratio)
        })
}

/// The model test with key-value separation: values at or above the threshold
/// live in blob files through flushes, compactions (which collect mostly-garbage
/// blob files), reopens, power losses, checkpoints, read-only views, snapshots,
/// transactions and keyspace drops; every read is checked against the model as
/// above. `PROPTEST_CASES` sets the cases here too (default 200).
#[test]
fn model_with_blob_files_on_simulated_fs() {
    run_model_with(
        "model_with_blob_files_on_simulated_fs",
        200,
        blob_options(),
        || {
            let fs = lsm_core::fs::SimFs::new();
            (common::sim::DB_PATH.into(), Disk::Sim(fs), None)
        },
    );
}

#[test]
fn model_on_real_fs() {
    run_model("model_on_real_fs", 32, || {
        let dir = tempfile::tempdir().expect("tempdir");
        (dir.path().join("db"), Disk::Real, Some(dir))
    });
}

/// A fixed history that touches every operation once, so a plain failure shows up
/// with a short, readable trace before the random ones run.
#[test]
fn fixed_history_on_real_fs() {
    let b = |kind, key, after| BoundSpec { kind, key, after };
    let e = |key, after| EndSpec { key, after };
    let seek = |to, back, dir| SeekSpec { to, back, dir };
    let history = vec![
        Op::Put(1, 10),
        Op::Put(2, 0),
        Op::Put(0, 5),
        Op::Snapshot,
        Op::Flush,
        Op::Put(1, 5000),
        Op::Delete(2),
        Op::Batch(vec![
            BatchOp::Put(3, 7),
            BatchOp::Delete(4),
            BatchOp::Delete(3),
            BatchOp::Put(5, 1),
        ]),
        Op::Get(2),
        Op::SnapGet(0, 2),
        Op::SnapScan(0, b(0, 0, false), b(0, 0, false), Direction::Reverse),
        Op::Scan(b(1, 1, false), b(2, 5, false), Direction::Mixed(0b1010)),
        Op::Prefix(1, Direction::Reverse),
        Op::Seek(
            b(1, 1, false),
            b(2, 6, false),
            vec![
                seek(e(3, false), false, Direction::Forward),
                seek(e(0, false), false, Direction::Mixed(0b110)),
                seek(e(4, true), true, Direction::Reverse),
                seek(e(9, false), false, Direction::Reverse),
            ],
        ),
        Op::Compact,
        Op::Seek(
            b(0, 0, false),
            b(0, 0, false),
            vec![
                seek(e(2, true), true, Direction::Mixed(0b01)),
                seek(e(1, false), false, Direction::Forward),
            ],
        ),
        Op::SnapScan(0, b(1, 0, true), b(1, 9, false), Direction::Forward),
        // A transaction raced on a key it read (conflict), one raced in the range
        // it scanned (conflict), one raced elsewhere (commits), a read-only one.
        Op::Txn(TxnSpec {
            reads: vec![1, 2],
            scan: (b(1, 7, false), b(2, 8, false)),
            writes: vec![(1, Some(9)), (3, None)],
            interfere: Some((2, 4)),
        }),
        Op::Txn(TxnSpec {
            reads: vec![],
            scan: (b(1, 4, false), b(2, 6, false)),
            writes: vec![(1, Some(3))],
            interfere: Some((5, 2)),
        }),
        Op::Txn(TxnSpec {
            reads: vec![0],
            scan: (b(1, 4, false), b(2, 6, false)),
            writes: vec![(1, Some(3)), (1, None), (6, Some(1))],
            interfere: Some((9, 2)),
        }),
        Op::Txn(TxnSpec {
            reads: vec![0, 1],
            scan: (b(0, 0, false), b(0, 0, false)),
            writes: vec![],
            interfere: Some((0, 2)),
        }),
        Op::DropSnapshot(0),
        Op::Sync,
        Op::OpenReadOnly,
        Op::Checkpoint,
        Op::Put(6, 20),
        Op::Delete(1),
        Op::Snapshot,
        Op::DeleteRange(e(0, false), e(4, true)),
        Op::SnapScan(1, b(0, 0, false), b(0, 0, false), Direction::Forward),
        Op::DeleteRange(e(9, false), e(9, false)),
        Op::DeleteRange(e(9, false), e(2, false)),
        Op::Batch(vec![
            BatchOp::Put(7, 3),
            BatchOp::DeleteRange(e(6, false), e(8, false)),
            BatchOp::Put(6, 9),
        ]),
        Op::Flush,
        Op::DeletePrefix(3),
        Op::Compact,
        Op::SnapGet(1, 1),
        Op::RefreshReadOnly,
        Op::Reopen,
        Op::Batch(vec![]),
        Op::Get(70),
        Op::RefreshReadOnly,
        Op::Checkpoint,
        Op::PutWithTtl(8, 12, 10),
        Op::PutWithTtl(9, 3, 0),
        Op::Batch(vec![BatchOp::PutWithTtl(10, 5, 30), BatchOp::Put(11, 4)]),
        Op::Snapshot,
        Op::OpenReadOnly,
        Op::AdvanceClock(10),
        Op::Get(8),
        Op::SnapGet(0, 8),
        Op::Flush,
        Op::RefreshReadOnly,
        Op::AdvanceClock(25),
        Op::Compact,
        Op::SnapScan(0, b(0, 0, false), b(0, 0, false), Direction::Forward),
        Op::DropSnapshot(0),
        Op::Compact,
        Op::Reopen,
        Op::Get(10),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options::default()
        .with_memtable_size(4096)
        .with_segment_size(4096)
        .with_block_size(256)
        .with_level0_compaction_trigger(2);
    run_history(dir.path().join("db"), &options, false, Disk::Real, &history).unwrap();
}

/// Keys the test filter removes (multiples of 7 with even-length values) and
/// changes (multiples of 5), behind snapshots and after they are dropped.
#[test]
fn fixed_history_with_a_compaction_filter() {
    let history = vec![
        Op::Put(7, 4),
        Op::Put(14, 5),
        Op::Put(5, 6),
        Op::PutWithTtl(10, 6, 50),
        Op::Put(3, 4),
        Op::Snapshot,
        Op::Put(21, 2),
        Op::Compact,
        Op::SnapGet(0, 7),
        Op::SnapScan(
            0,
            BoundSpec {
                kind: 0,
                key: 0,
                after: false,
            },
            BoundSpec {
                kind: 0,
                key: 0,
                after: false,
            },
            Direction::Forward,
        ),
        Op::DropSnapshot(0),
        Op::Compact,
        Op::Snapshot,
        Op::AdvanceClock(60),
        Op::Compact,
        Op::SnapGet(0, 10),
        Op::Reopen,
    ];
    let options = Options::default()
        .with_memtable_size(4096)
        .with_segment_size(4096)
        .with_block_size(256);
    let disk = Disk::Sim(lsm_core::fs::SimFs::new());
    run_history(common::sim::DB_PATH.into(), &options, true, disk, &history).unwrap();
}

/// Inverted and empty ranges yield nothing (in both directions) rather than
/// panicking as `BTreeMap::range` would.
#[test]
fn inverted_and_empty_ranges_yield_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
    let key = |i: u8| format!("k{i:02}").into_bytes();
    for i in 1..20 {
        db.put(key(i), b"v").unwrap();
    }
    let (a, b) = (key(5), key(9));
    let ranges = [
        (Bound::Included(b.clone()), Bound::Included(a.clone())),
        (Bound::Excluded(b.clone()), Bound::Excluded(a.clone())),
        (Bound::Included(a.clone()), Bound::Excluded(a.clone())),
        (Bound::Excluded(a.clone()), Bound::Excluded(a.clone())),
        (Bound::Excluded(a.clone()), Bound::Included(a.clone())),
    ];
    for round in 0..2 {
        for (lo, hi) in &ranges {
            for dir in [Direction::Forward, Direction::Reverse] {
                let got = collect(db.scan((lo.clone(), hi.clone())), dir).unwrap();
                assert!(
                    got.is_empty(),
                    "round {round}: {lo:?}..{hi:?} {dir:?} gave {} pairs",
                    got.len()
                );
            }
        }
        db.flush().unwrap();
    }
    let single = collect(
        db.scan((Bound::Included(a.clone()), Bound::Included(a.clone()))),
        Direction::Forward,
    )
    .unwrap();
    assert_eq!(single, vec![(a, b"v".to_vec())]);
    db.close().unwrap();
}
