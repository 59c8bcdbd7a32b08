//! I/O-error enumeration, in the manner of SQLite's I/O-error
//! loops: the fixed workload of `reliability::workload` (with its range and prefix
//! deletes) runs on a `FaultFs` over the
//! simulated disk with the `k`-th operation of one `FaultKind` failing (once, for
//! ever, or, for writes, after writing half the buffer), for every kind and
//! `k = 1, 2, ...` until the fault no longer fires. Each run checks:
//! - nothing panics, in the caller or in a background thread;
//! - a call that fails returns an error, and from then on the database refuses
//!   writes with `Error::Poisoned` (WAL and manifest failures, and failed background
//!   flushes and compactions, poison it) while reads go on and show exactly the
//!   acknowledged writes (or, while a read fault stays armed, fail with it); a
//!   fault that fired in the background makes `close` fail;
//! - a power loss right after the failure leaves a prefix of the history covering
//!   every synced write (a failed fsync is never counted as durable);
//! - after the fault is cleared, a reopen holds every acknowledged write (the disk
//!   never lost power, so everything that reached the file system counts), and a
//!   second reopen reads the same.
//!
//! And a read error while recovering fails `open`; it never drops data.

mod common;
mod reliability;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::keys::value;
use common::panics::{count_panics, panics};
use common::sim::{crash_and_check, read_all, History, DB_PATH};
use lsm_core::fs::{CrashMode, FaultFs, FaultKind, FaultMode, FsRef, SimFs};
use lsm_core::{Db, Error, Options};
use reliability::workload::{self, Op, Variant};

/// Figures of an enumeration.
#[derive(Debug, Default)]
struct Tally {
    /// Workload runs with a fault armed.
    runs: u64,
    /// Runs in which the fault fired.
    fired: u64,
    /// Runs in which a call returned an error (and the database was then checked
    /// to be poisoned, when still open).
    failed_calls: u64,
    /// Runs whose fault fired in background work, checked by `close` failing.
    background: u64,
    /// Crash images checked.
    crash_images: u64,
}

/// Opens the database on `fs` (no crash: every acknowledged write must be there),
/// checks it against `history`, closes, and checks a second open reads the same.
fn reopen_and_check(fs: &FsRef, options: &Options, history: &History) -> Result<(), String> {
    let mut all = history.clone();
    all.synced();
    let db = workload::open(fs, options).map_err(|e| format!("reopen failed: {e}"))?;
    let found = read_all(&db)?;
    all.check_prefix(&found)?;
    db.close().map_err(|e| format!("close failed: {e}"))?;
    let db = workload::open(fs, options).map_err(|e| format!("second reopen failed: {e}"))?;
    if read_all(&db)? != found {
        return Err("a second reopen changed the state".into());
    }
    db.close().map_err(|e| format!("close failed: {e}"))
}

/// Runs the workload with `kind`'s `k`-th operation failing in `mode`, and checks
/// everything. Returns whether the fault fired.
fn run_point(
    kind: FaultKind,
    mode: FaultMode,
    k: u64,
    ops: &[Op],
    options: &Options,
    tally: &mut Tally,
) -> Result<bool, String> {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    fault.fail(kind, k, mode);
    let fs = fault.fs_ref();
    let out = catch_unwind(AssertUnwindSafe(|| workload::run(&fs, None, ops, options)))
        .map_err(|_| "the workload panicked".to_string())?;
    tally.runs += 1;
    if fault.injected() == 0 {
        if let Some((at, e)) = &out.failure {
            return Err(format!(
                "operation {at:?} failed with no fault injected: {e}"
            ));
        }
        return Ok(false);
    }
    tally.fired += 1;
    let mut history = out.history;
    match (&out.failure, &out.db) {
        (Some((at, e)), Some(db)) => {
            // A write, sync, flush or compact failed: the database is poisoned.
            tally.failed_calls += 1;
            match db.put(b"probe", value(0, 10)) {
                Err(Error::Poisoned { .. }) => {}
                other => {
                    return Err(format!(
                        "operation {at:?} failed ({e}) but a later put gave {other:?}, \
                         not Poisoned"
                    ))
                }
            }
            if !matches!(db.sync(), Err(Error::Poisoned { .. })) {
                return Err(format!(
                    "operation {at:?} failed ({e}); sync is not refused"
                ));
            }
            // Reads go on, and show exactly the acknowledged writes.
            let mut visible = history.clone();
            visible.steps.truncate(history.acked);
            visible.expiries.truncate(history.acked);
            visible.synced();
            match read_all(db) {
                Ok(found) => {
                    visible
                        .check_prefix(&found)
                        .map_err(|e| format!("reads of the poisoned db: {e}"))?;
                }
                // Data blocks are read with `pread` (no mapped reads by default): a
                // read fault that stays armed fails the scan too, with an error.
                Err(e)
                    if kind == FaultKind::Read
                        && mode == FaultMode::Persistent
                        && e.contains("injected fault") => {}
                Err(e) => return Err(format!("reading a poisoned db: {e}")),
            }
        }
        (Some(_), None) => tally.failed_calls += 1, // open or close failed
        (None, _) => {}
    }
    for (m, mode) in [
        CrashMode::DropUnsynced,
        CrashMode::RandomPages { garbage: true },
    ]
    .into_iter()
    .enumerate()
    {
        crash_and_check(&sim, mode, k * 2 + m as u64, options, &history)
            .map_err(|e| format!("power loss after the failure: {e}"))?;
        tally.crash_images += 1;
    }
    if let Some(db) = out.db {
        let closed = db.close();
        if out.failure.is_none() && kind != FaultKind::Remove {
            // Every operation succeeded, so the fault hit background work, which
            // must have poisoned the database.
            tally.background += 1;
            if closed.is_ok() {
                return Err("a fault fired in background work but close succeeded".into());
            }
        }
        if closed.is_ok() {
            history.synced();
        }
    }
    fault.clear();
    reopen_and_check(&fs, options, &history).map_err(|e| format!("after clearing: {e}"))?;
    if panics() > 0 {
        return Err("a thread panicked".into());
    }
    Ok(true)
}

/// How many operations of each kind the full workload performs.
fn census(ops: &[Op], options: &Options) -> Vec<(FaultKind, u64)> {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    let out = workload::run(&fault.fs_ref(), None, ops, options);
    assert!(
        out.completed(),
        "{:?}",
        out.failure.map(|f| f.1.to_string())
    );
    drop(out.db);
    FaultKind::ALL
        .into_iter()
        .map(|kind| (kind, fault.count(kind)))
        .collect()
}

/// Enumerates the (kind, mode) pairs of part `part` of `parts`.
fn enumerate(variant: Variant, part: usize, parts: usize) -> Tally {
    count_panics();
    let ops = variant.ops(0);
    let options = variant.options();
    let census = census(&ops, &options);
    println!("operations per kind in the workload: {census:?}");
    // Every `k` of every kind (about 1,700 runs, a few seconds). `LSM_IO_POINTS=n`
    // tries at most n values of `k` per kind and mode, evenly spread, for a quicker
    // pass.
    let max_points = reliability::env_or("LSM_IO_POINTS", 0u64);
    let mut tally = Tally::default();
    // The (kind, mode) pairs are dealt round-robin between the parts (the writes'
    // three modes go to different parts: they are the most numerous).
    let mut pair = 0usize;
    for &(kind, total) in &census {
        let stride = match max_points {
            0 => 1,
            n => total.div_ceil(n).max(1),
        };
        let mut modes = vec![FaultMode::Once, FaultMode::Persistent];
        if kind == FaultKind::Write {
            modes.push(FaultMode::PartialOnce);
        }
        for mode in modes {
            pair += 1;
            if (pair - 1) % parts != part {
                continue;
            }
            for k in reliability::points(stride, 0, 1) {
                match run_point(kind, mode, k, &ops, &options, &mut tally) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => panic!(
                        "{variant:?} workload, {kind:?} operation #{k} failing {mode:?}: {e}\n\
                         (operation numbers vary a little between runs: background \
                         work interleaves)"
                    ),
                }
            }
        }
    }
    println!("I/O-error points ({variant:?}, part {part} of {parts}): {tally:?}");
    tally
}

#[test]
fn every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_0() {
    let tally = enumerate(Variant::Inline, 0, 2);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

#[test]
fn every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_1() {
    let tally = enumerate(Variant::Inline, 1, 2);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

/// The same over the blob workload (`workload::blob_options`): every create,
/// write, fsync, rename and remove of a blob file (by flushes, compactions, blob
/// GC and open's cleanup) fails in turn, besides every other file operation.
#[test]
fn with_blob_files_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_0() {
    let tally = enumerate(Variant::Blobs, 0, 3);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

#[test]
fn with_blob_files_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_1() {
    let tally = enumerate(Variant::Blobs, 1, 3);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

#[test]
fn with_blob_files_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_2() {
    let tally = enumerate(Variant::Blobs, 2, 3);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

/// The same over the split workload (`workload::split_options`): every file
/// operation of the key ranges of a split compaction fails in turn, while the
/// other ranges write theirs; the job fails whole, leaves no file behind, and the
/// database recovers.
#[test]
fn with_subcompactions_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_0() {
    let tally = enumerate(Variant::Split, 0, 2);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

#[test]
fn with_subcompactions_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_1() {
    let tally = enumerate(Variant::Split, 1, 2);
    assert!(tally.fired > 50 && tally.failed_calls > 0, "{tally:?}");
}

/// A database with segments and a synced, unflushed WAL, as a crash leaves it.
fn recovering_disk(options: &Options) -> (SimFs, common::model::Map) {
    let sim = SimFs::new();
    let db = Db::open_with_fs(DB_PATH, options.clone(), sim.fs_ref()).unwrap();
    let mut want = common::model::Map::new();
    for i in 0..120u64 {
        let k = format!("key{i:04}").into_bytes();
        let v = value(i, 60);
        db.put(&k, &v).unwrap();
        want.insert(k, v);
        if i == 80 {
            db.flush().unwrap();
        }
    }
    db.sync().unwrap();
    let image = sim.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    (image, want)
}

/// A read or listing error while recovering (manifest, WAL, segment) fails `open`
/// with an I/O error; it never opens with data missing. Once the disk reads again,
/// everything is there.
#[test]
fn a_read_error_during_recovery_fails_open() {
    count_panics();
    let options = workload::options().with_memtable_size(64 << 10);
    let (disk, want) = recovering_disk(&options);
    let probe = FaultFs::new(disk.crash(CrashMode::DropUnsynced, 0).fs_ref());
    drop(workload::open(&probe.fs_ref(), &options).unwrap());
    for kind in [FaultKind::Read, FaultKind::List] {
        let total = probe.count(kind);
        assert!(total > 0, "open performs no {kind:?}");
        for k in 1..=total {
            // `crash` of a durable disk is an exact copy.
            let sim = disk.crash(CrashMode::DropUnsynced, 0);
            let fault = FaultFs::new(sim.fs_ref());
            fault.fail(kind, k, FaultMode::Once);
            match workload::open(&fault.fs_ref(), &options) {
                Err(Error::Io { .. }) => {}
                Err(e) => panic!("{kind:?} #{k} failing: open failed with {e}, not Io"),
                // How many reads open itself makes depends on timing (a compaction
                // it schedules may read first), so the fault may fire after open: in
                // the scan, which must then report it, not return fewer entries.
                Ok(db) => match read_all(&db) {
                    Ok(found) => assert!(found == want, "{kind:?} #{k} failing: open lost data"),
                    Err(e) => assert!(
                        e.contains("i/o error") && e.contains("injected fault"),
                        "{kind:?} #{k} failing after open: the scan failed with {e}"
                    ),
                },
            }
            fault.clear();
            let db = workload::open(&fault.fs_ref(), &options).unwrap();
            assert!(read_all(&db).unwrap() == want, "{kind:?} #{k}: data lost");
            db.close().unwrap();
        }
        println!("{kind:?}: {total} failure points during recovery, none lost data");
    }
    assert_eq!(panics(), 0);
}

/// A database on `fault` with segments on two levels and unflushed writes, built
/// without background work (no automatic flush or compaction), so that every file
/// operation after it belongs to the call under test.
fn checkpoint_source(fault: &FaultFs, options: &Options) -> (Db, common::model::Map) {
    let db = workload::open(&fault.fs_ref(), options).unwrap();
    let mut model = common::model::Map::new();
    for i in 0..400u64 {
        let k = format!("key{:04}", i % 150).into_bytes();
        if i % 11 == 3 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let v = value(i, 40);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        // The last 100 writes stay in the memtable, for the checkpoint's flush.
        if i % 100 == 99 && i < 300 {
            db.flush().unwrap();
        }
        if i == 250 {
            db.compact().unwrap();
        }
    }
    (db, model)
}

/// What a checkpoint directory left after a failure (or a crash) holds: either
/// nothing (no `dest` at all; a leftover staging directory beside it is allowed) or
/// a database that opens to exactly `want`. Anything else (an empty or partial
/// `dest`, one `Db::open` refuses) fails the test. Returns which, as a word.
fn judge_copy(
    fs: &FsRef,
    dest: &str,
    options: &Options,
    want: &common::model::Map,
) -> &'static str {
    if !fs.exists(std::path::Path::new(dest)) {
        return "absent";
    }
    let options = options.clone().with_create_if_missing(false);
    match Db::open_with_fs(dest, options, fs.clone()) {
        Ok(copy) => {
            let found = read_all(&copy).unwrap();
            assert!(
                found == *want,
                "a checkpoint left by a failure opens to a wrong state"
            );
            copy.close().unwrap();
            "correct"
        }
        Err(e) => panic!("a checkpoint left by a failure exists but does not open: {e}"),
    }
}

/// The `k`-th file operation of `kind` within a checkpoint fails (once, for ever,
/// or as a short write), for every `k` and kind: `checkpoint` returns an error; the
/// source reads exactly its acknowledged writes and, unless the failure was its own
/// flush's (which poisons it, promise 4), takes writes and further checkpoints; the
/// directory left is absent or exact, also after a power loss; a reopen
/// of the source with the fault cleared holds every acknowledged write.
#[test]
fn every_failed_operation_of_a_checkpoint_leaves_the_source_correct_and_the_copy_harmless() {
    count_panics();
    let options = workload::options()
        .with_memtable_size(64 << 10)
        .with_level0_compaction_trigger(64)
        .with_level0_stop_writes(128)
        .with_level1_size(64 << 20);
    let dest = "/copy";
    // How many operations of each kind a checkpoint performs.
    let census: Vec<(FaultKind, u64)> = {
        let fault = FaultFs::new(SimFs::new().fs_ref());
        let (db, _) = checkpoint_source(&fault, &options);
        let before: Vec<u64> = FaultKind::ALL.iter().map(|&k| fault.count(k)).collect();
        db.checkpoint(dest).unwrap();
        FaultKind::ALL
            .iter()
            .zip(before)
            .map(|(&k, b)| (k, fault.count(k) - b))
            .collect()
    };
    println!("file operations of a checkpoint: {census:?}");
    let mut outcomes = std::collections::BTreeMap::<&str, u64>::new();
    let (mut failed, mut poisoned) = (0u64, 0u64);
    for &(kind, total) in &census {
        let mut modes = vec![FaultMode::Once, FaultMode::Persistent];
        if kind == FaultKind::Write {
            modes.push(FaultMode::PartialOnce);
        }
        for mode in modes {
            for k in 1..=total {
                let ctx = format!("{kind:?} #{k} of the checkpoint failing {mode:?}");
                let sim = SimFs::new();
                let fault = FaultFs::new(sim.fs_ref());
                let (db, model) = checkpoint_source(&fault, &options);
                fault.fail(kind, k, mode);
                let result = db.checkpoint(dest);
                let fired = fault.injected() > 0;
                fault.clear();
                match &result {
                    Ok(()) => assert!(
                        !fired || kind == FaultKind::Remove,
                        "{ctx}: the fault fired but the checkpoint succeeded"
                    ),
                    Err(_) => failed += 1,
                }
                assert!(fired, "{ctx}: the fault did not fire");
                // The source reads exactly what was acknowledged.
                let found = read_all(&db).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert!(found == model, "{ctx}: the source changed");
                // Writable, unless its own flush failed and poisoned it.
                let in_dest =
                    matches!(&result, Err(Error::Io { path, .. }) if path.starts_with(dest));
                let mut want = model.clone();
                match db.put("after", "x") {
                    Ok(()) => {
                        want.insert(b"after".to_vec(), b"x".to_vec());
                        let again = format!("{dest}-again");
                        db.checkpoint(&again)
                            .unwrap_or_else(|e| panic!("{ctx}: a second checkpoint: {e}"));
                        assert_eq!(
                            judge_copy(&fault.fs_ref(), &again, &options, &want),
                            "correct"
                        );
                    }
                    Err(Error::Poisoned { .. }) if !in_dest => poisoned += 1,
                    Err(e) => panic!("{ctx}: after {result:?}, a put gives {e}"),
                }
                let outcome = judge_copy(&fault.fs_ref(), dest, &options, &model);
                *outcomes.entry(outcome).or_default() += 1;
                let image = sim.crash(CrashMode::DropUnsynced, k);
                judge_copy(&image.fs_ref(), dest, &options, &model);
                drop(db);
                let db = workload::open(&fault.fs_ref(), &options).unwrap();
                let found = read_all(&db).unwrap();
                assert!(
                    found == want,
                    "{ctx}: the reopened source is not what was acknowledged"
                );
                db.close().unwrap();
            }
        }
    }
    println!(
        "checkpoint I/O errors: {failed} failed calls, {poisoned} poisoned the source \
         (its flush failed), copies left: {outcomes:?}"
    );
    assert!(failed > 10);
    assert_eq!(panics(), 0);
}
