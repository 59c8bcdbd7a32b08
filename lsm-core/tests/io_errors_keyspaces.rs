//! I/O-error enumeration over keyspaces and transactions, with the discipline of
//! `io_errors.rs`: the fixed keyspace workload of `common/keyspace_workload.rs`
//! (writes to the default keyspace and three named ones, batches across
//! keyspaces with range and prefix deletes, read-modify-write transactions over
//! two keyspaces, a keyspace created mid-run, flushed, dropped while it holds
//! segments and memtable data and created again, per-keyspace flushes,
//! `Db::compact`, a close-and-reopen, `sync`s) runs on a `FaultFs` over the
//! simulated disk with the `k`-th operation of one `FaultKind` failing (once, for
//! ever, or, for writes, after writing half the buffer), for every kind and
//! `k = 1, 2, ...` until the fault no longer fires. Each run checks:
//! - nothing panics, in the caller or in a background thread;
//! - a call that fails returns an error, and from then on the database refuses
//!   writes with `Error::Poisoned`: puts in the default and in a named keyspace,
//!   a batch across keyspaces, a transaction's commit, `sync`, creating a
//!   keyspace and dropping one; reads of every keyspace go on and show exactly
//!   the acknowledged state (or, while a read fault stays armed, fail with it).
//!   A transaction whose read failed wrote nothing and need not poison; a fault
//!   that fired in the background makes `close` fail;
//! - a power loss right after the failure leaves every keyspace at one and the
//!   same prefix of the history (the keyspaces are compared as one map,
//!   `common/keyspace_history.rs`), covering every synced operation and every
//!   creation and drop that returned; a batch or transaction across keyspaces is
//!   in all of them or in none; a keyspace whose drop returned `Ok` never comes
//!   back;
//! - after the fault is cleared, a reopen holds every acknowledged write in every
//!   keyspace (the disk never lost power), and a second reopen reads the same.
//!
//! - no blob file outlives an open: after each open of the checks, every blob file
//!   is live in the manifest and belongs to a live keyspace (none of a dropped one).
//!
//! The enumeration runs again with blob files in `tmp` and `users`
//! (`keyspace_workload::blob_options`), every third point in CI
//! (`LSM_IO_BLOB_STRIDE`). `LSM_IO_POINTS=n` tries at most `n` values of `k` per
//! kind and mode, evenly spread, for a quicker pass.

mod common;
#[path = "common/keyspace_history.rs"]
mod keyspace_history;
#[path = "common/keyspace_workload.rs"]
mod keyspace_workload;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::keys::value;
use common::panics::{count_panics, panics};
use keyspace_history::{
    check_gets, check_gone, check_no_dead_blob_files, crash_and_check_keyspaces,
    read_all_keyspaces, split,
};
use keyspace_workload::{KsOp, BLOB_KEYSPACES, DEFAULT, TMP};
use lsm_core::fs::{CrashMode, FaultFs, FaultKind, FaultMode, FsRef, SimFs};
use lsm_core::fuzzing::{History, Write, DB_PATH};
use lsm_core::{Db, Error, Options, WriteBatch};

/// Figures of an enumeration.
#[derive(Debug, Default)]
struct Tally {
    /// Workload runs with a fault armed.
    runs: u64,
    /// Runs in which the fault fired.
    fired: u64,
    /// Runs in which a call returned an error and the database was then checked
    /// to be poisoned.
    poisoned: u64,
    /// Runs in which a transaction's read failed (nothing written, no poison).
    failed_reads: u64,
    /// Runs in which an open or a close failed.
    failed_opens: u64,
    /// Runs whose fault fired in background work, checked by `close` failing.
    background: u64,
    /// Runs that failed at a creation, a drop, a keyspace flush or a transaction.
    keyspace_calls: u64,
    /// Crash images checked.
    crash_images: u64,
}

/// An environment variable parsed as a number, or `default`.
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The named keyspaces of the acknowledged state of `history`.
fn named_keyspaces(history: &History) -> Vec<String> {
    history
        .state()
        .keys()
        .filter_map(|k| match split(k) {
            (name, None) if name != DEFAULT => Some(name),
            _ => None,
        })
        .collect()
}

/// Checks every kind of write of a poisoned database is refused with `Poisoned`
/// (and nothing panics): puts in the default and a named keyspace, a batch across
/// them, commits, `sync`, creating and dropping a keyspace.
fn check_refuses_writes(db: &Db, history: &History) -> Result<(), String> {
    fn poisoned<T: std::fmt::Debug>(what: &str, r: lsm_core::Result<T>) -> Result<(), String> {
        match r {
            Err(Error::Poisoned { .. }) => Ok(()),
            other => Err(format!("{what} gave {other:?}, not Poisoned")),
        }
    }
    poisoned("a put", db.put(b"probe", value(0, 10)))?;
    poisoned("sync", db.sync())?;
    poisoned("creating a keyspace", db.keyspace("probe-new"))?;
    let mut txn = db.begin();
    txn.put(b"probe", b"x")
        .map_err(|e| format!("txn put: {e}"))?;
    poisoned("a commit", txn.commit())?;
    poisoned(
        "Db::transaction",
        db.transaction(|txn| txn.put(b"probe", b"x")),
    )?;
    if let Some(name) = named_keyspaces(history).first() {
        let ks = db
            .keyspace(name)
            .map_err(|e| format!("the handle of existing keyspace {name:?}: {e}"))?;
        poisoned("a put in a named keyspace", ks.put(b"probe", b"x"))?;
        poisoned("a keyspace flush", ks.flush())?;
        let mut batch = WriteBatch::new();
        batch.put_in(&ks, b"probe", b"x").put(b"probe", b"x");
        poisoned("a batch across keyspaces", db.write(batch))?;
        let mut txn = db.begin();
        txn.put_in(&ks, b"probe", b"x")
            .map_err(|e| format!("txn put_in: {e}"))?;
        poisoned("a commit in a named keyspace", txn.commit())?;
        poisoned("dropping a keyspace", db.drop_keyspace(name))?;
    }
    Ok(())
}

/// Opens the database on `fs` (no crash: every acknowledged write must be there),
/// checks it against `history`, closes, checks that no blob file outlived the
/// open (`check_no_dead_blob_files` on `sim`, the disk under `fs`), and checks a
/// second open reads the same.
fn reopen_and_check(
    sim: &SimFs,
    fs: &FsRef,
    options: &Options,
    history: &History,
    gone: &BTreeSet<String>,
) -> Result<(), String> {
    let mut all = history.clone();
    all.synced();
    let db = keyspace_workload::open(fs, options).map_err(|e| format!("reopen failed: {e}"))?;
    let found = read_all_keyspaces(&db)?;
    all.check_prefix(&found)?;
    check_gone(&found, gone)?;
    check_gets(&db, &all, &found)?;
    db.close().map_err(|e| format!("close failed: {e}"))?;
    check_no_dead_blob_files(sim)?;
    let db =
        keyspace_workload::open(fs, options).map_err(|e| format!("second reopen failed: {e}"))?;
    if read_all_keyspaces(&db)? != found {
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
    ops: &[KsOp],
    options: &Options,
    tally: &mut Tally,
) -> Result<bool, String> {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    fault.fail(kind, k, mode);
    let fs = fault.fs_ref();
    let out = catch_unwind(AssertUnwindSafe(|| {
        keyspace_workload::run(&fs, ops, options)
    }))
    .map_err(|_| "the workload panicked".to_string())?;
    tally.runs += 1;
    if let Some(defect) = &out.defect {
        return Err(defect.clone());
    }
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
    let failed_op = out
        .failure
        .as_ref()
        .and_then(|(at, _)| at.and_then(|i| ops.get(i)));
    if matches!(
        failed_op,
        Some(KsOp::Create(_) | KsOp::Drop(_) | KsOp::Flush(_) | KsOp::Txn(_))
    ) {
        tally.keyspace_calls += 1;
    }
    match (&out.failure, &out.db) {
        (Some((at, e)), Some(db)) => {
            // A transaction's read failed: it wrote nothing, and a read error
            // does not poison the database.
            let failed_read = matches!(failed_op, Some(KsOp::Txn(_)))
                && kind == FaultKind::Read
                && matches!(e, Error::Io { .. });
            if failed_read {
                tally.failed_reads += 1;
            } else {
                tally.poisoned += 1;
                check_refuses_writes(db, &history)
                    .map_err(|p| format!("operation {at:?} failed ({e}) but {p}"))?;
            }
            // Reads go on, and show exactly the acknowledged state.
            let mut visible = history.clone();
            visible.steps.truncate(history.acked);
            visible.synced();
            match read_all_keyspaces(db) {
                Ok(found) => {
                    visible
                        .check_prefix(&found)
                        .map_err(|e| format!("reads after the failure: {e}"))?;
                    check_gets(db, &visible, &found)
                        .map_err(|e| format!("reads after the failure: {e}"))?;
                }
                // A read fault that stays armed fails the scans too, with an error.
                Err(e)
                    if kind == FaultKind::Read
                        && mode == FaultMode::Persistent
                        && e.contains("injected fault") => {}
                Err(e) => return Err(format!("reading after the failure: {e}")),
            }
        }
        (Some(_), None) => tally.failed_opens += 1,
        (None, _) => {}
    }
    for (m, crash) in [
        CrashMode::DropUnsynced,
        CrashMode::RandomPages { garbage: true },
    ]
    .into_iter()
    .enumerate()
    {
        crash_and_check_keyspaces(&sim, crash, k * 2 + m as u64, options, &history, &out.gone)
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
    reopen_and_check(&sim, &fs, options, &history, &out.gone)
        .map_err(|e| format!("after clearing: {e}"))?;
    if panics() > 0 {
        return Err("a thread panicked".into());
    }
    Ok(true)
}

/// How many operations of each kind the full workload performs.
fn census(ops: &[KsOp], options: &Options) -> Vec<(FaultKind, u64)> {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    let out = keyspace_workload::run(&fault.fs_ref(), ops, options);
    assert!(out.defect.is_none(), "{:?}", out.defect);
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

/// The options the workload runs with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    /// `keyspace_workload::options`: every value inline.
    Inline,
    /// `keyspace_workload::blob_options`: values of 100 bytes or more of `tmp`
    /// and `users` in blob files.
    Blobs,
}

impl Variant {
    fn options(self) -> Options {
        match self {
            Variant::Inline => keyspace_workload::options(),
            Variant::Blobs => keyspace_workload::blob_options(),
        }
    }
}

/// Part `part` of `parts` of the enumeration: the values of `k` of every kind and
/// mode are dealt round-robin between the parts. `stride` tries every
/// `stride`-th value of `k` only (1: every one), from an offset that moves on by
/// one with each (kind, mode) pair; `LSM_IO_POINTS` caps it further.
fn enumerate(variant: Variant, part: u64, parts: u64, stride: u64) -> Tally {
    count_panics();
    let ops = keyspace_workload::ops();
    let options = variant.options();
    let census = census(&ops, &options);
    println!("operations per kind in the keyspace workload ({variant:?}): {census:?}");
    let max_points = env_or("LSM_IO_POINTS", 0);
    let mut tally = Tally::default();
    // Numbers the (kind, mode) pairs, to offset each pair's sample.
    let mut pair = 0u64;
    for &(kind, total) in &census {
        let stride = match max_points {
            0 => stride,
            n => total.div_ceil(n).max(stride),
        };
        let mut modes = vec![FaultMode::Once, FaultMode::Persistent];
        if kind == FaultKind::Write {
            modes.push(FaultMode::PartialOnce);
        }
        for mode in modes {
            // With a stride above 1, successive pairs start at successive
            // offsets, so that no residue of `k` is skipped by every pair.
            let offset = pair % stride;
            pair += 1;
            let points = (0u64..)
                .filter(|j| j % parts == part)
                .map(|j| 1 + offset + j * stride);
            for k in points {
                match run_point(kind, mode, k, &ops, &options, &mut tally) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => panic!(
                        "{variant:?}: {kind:?} operation #{k} failing {mode:?}: {e}\n\
                         (operation numbers vary a little between runs: background \
                         work interleaves)"
                    ),
                }
            }
        }
    }
    println!("keyspace I/O-error points ({variant:?}, part {part} of {parts}): {tally:?}");
    assert_eq!(panics(), 0);
    tally
}

/// The enumeration in three parts (about 2,600 runs in all), to keep each test
/// under a minute in a debug build on a busy machine.
const PARTS: u64 = 3;

fn check_part(part: u64) {
    let tally = enumerate(Variant::Inline, part, PARTS, 1);
    assert!(
        tally.fired > 50 && tally.poisoned > 0 && tally.keyspace_calls > 0,
        "{tally:?}"
    );
}

#[test]
fn keyspaces_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_0() {
    check_part(0);
}

#[test]
fn keyspaces_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_1() {
    check_part(1);
}

#[test]
fn keyspaces_every_failed_operation_is_an_error_then_poison_then_clean_recovery_part_2() {
    check_part(2);
}

/// The same with blob files in `tmp` and `users` (`keyspace_workload::blob_options`):
/// the faults land in the creation, writes, fsync and rename of their blob files
/// by flushes and compactions, in blob GC, in the drop of `tmp` while it holds
/// blob files and in the removal of dead blob files, also by open. Besides the
/// checks above, no blob file outlives an open (`check_no_dead_blob_files`):
/// none of the dropped `tmp`, none the manifest does not list. The workload
/// performs about 1,350 file operations (about 2,800 runs with the modes, 80 s
/// in a debug build): in CI every `LSM_IO_BLOB_STRIDE`-th one of each kind and
/// mode (default 3, from an offset that moves on with each pair, so each residue
/// is tried by some pair); `LSM_IO_BLOB_STRIDE=1` tries every one.
#[test]
fn keyspaces_with_blob_files_every_failed_operation_is_an_error_then_poison_then_clean_recovery() {
    let stride = env_or("LSM_IO_BLOB_STRIDE", 3);
    let tally = enumerate(Variant::Blobs, 0, 1, stride);
    assert!(
        tally.fired > 50 && tally.poisoned > 0 && tally.keyspace_calls > 0,
        "{tally:?}"
    );
}

/// The workload reaches what the enumeration is meant to test: WAL rotations,
/// flushes and compactions, batches and transactions across keyspaces, range
/// deletes in named keyspaces, a drop of a keyspace holding segments and
/// memtable data, its re-creation.
#[test]
fn the_keyspace_workload_covers_every_mechanism() {
    let ops = keyspace_workload::ops();
    let options = keyspace_workload::options();
    let sim = SimFs::new();
    let mut wals = BTreeSet::new();
    let out = keyspace_workload::run_observed(&sim.fs_ref(), &ops, &options, |_| {
        wals.extend(
            sim.file_names(Path::new(DB_PATH))
                .into_iter()
                .filter(|n| n.ends_with(".wal")),
        );
    });
    assert!(out.defect.is_none(), "{:?}", out.defect);
    if let Some((at, e)) = &out.failure {
        panic!("the workload failed at operation {at:?}: {e}");
    }
    let across =
        |calls: &[(&str, Write)]| calls.iter().map(|(n, _)| *n).collect::<BTreeSet<_>>().len() > 1;
    let count = |f: &dyn Fn(&KsOp) -> bool| ops.iter().filter(|op| f(op)).count();
    let batches = count(&|op| matches!(op, KsOp::Write(c) if across(c)));
    let named_ranges = count(&|op| {
        matches!(op, KsOp::Write(c) if c.iter().any(|(n, w)| *n != DEFAULT
            && matches!(w, Write::DeleteRange(..) | Write::DeletePrefix(_))))
    });
    let closures = count(&|op| matches!(op, KsOp::Txn(t) if t.closure));
    let begins = count(&|op| matches!(op, KsOp::Txn(t) if !t.closure));
    let syncs = count(&|op| matches!(op, KsOp::Sync));
    let flushes = count(&|op| matches!(op, KsOp::Flush(_)));
    println!(
        "keyspace workload: {} operations, {} flushes, {} compactions, {} WAL files, \
         {batches} batches across keyspaces, {named_ranges} range deletes in named \
         keyspaces, {closures} + {begins} transactions, {syncs} syncs, the drop met {:?} \
         (segments, memtable data), final keyspaces {:?}",
        ops.len(),
        out.flushes,
        out.compactions,
        wals.len(),
        out.dropped_with,
        out.db.as_ref().map(Db::keyspace_names),
    );
    assert!(batches >= 10, "only {batches} batches across keyspaces");
    assert!(
        named_ranges >= 4,
        "only {named_ranges} range deletes in named keyspaces"
    );
    assert!(closures >= 2 && begins >= 2);
    assert!(syncs >= 3 && flushes >= 3);
    assert!(out.flushes >= 6, "only {} flushes", out.flushes);
    assert!(out.compactions >= 2, "only {} compactions", out.compactions);
    assert!(wals.len() >= 4, "WALs seen: {wals:?}");
    match out.dropped_with {
        Some((segments, discarded)) => assert!(
            segments >= 1 && discarded,
            "the dropped keyspace held {segments} segments, memtable data: {discarded}"
        ),
        None => panic!("no drop"),
    }
    // Every keyspace ends holding data, `tmp` (created again) included.
    let state = out.history.state();
    for name in ["users", "orders", TMP, DEFAULT] {
        let keys = state
            .keys()
            .filter(|k| matches!(split(k), (n, Some(_)) if n == name))
            .count();
        assert!(keys >= 3, "keyspace {name} ends with {keys} keys");
    }
    assert_eq!(
        out.db.as_ref().map(Db::keyspace_names),
        Some(vec![
            DEFAULT.into(),
            "orders".into(),
            TMP.into(),
            "users".into()
        ])
    );
}

/// Regression: a keyspace drop that returned survives a power loss (its manifest
/// edit is fsynced), so the writes acknowledged before it must survive too, or
/// the crash leaves no prefix of the history. The case that loses data: the
/// keyspace's contents are moved elsewhere, then it is dropped; a power loss
/// must not leave the keyspace gone and the moved copy lost.
#[test]
fn writes_acknowledged_before_a_drop_survive_a_power_loss_that_the_drop_survives() {
    let options = Options::default();
    let sim = SimFs::new();
    let db = lsm_core::fuzzing::open_sim(&sim, &options).unwrap();
    let staging = db.keyspace("staging").unwrap();
    staging.put("order-1", "paid").unwrap();
    db.sync().unwrap();
    // Move the order to the default keyspace, then drop the staging area.
    db.put("order-1", "paid").unwrap();
    db.drop_keyspace("staging").unwrap();
    let image = sim.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    let db = lsm_core::fuzzing::open_sim(&image, &options).unwrap();
    assert!(!db.keyspace_names().contains(&"staging".to_string()));
    assert_eq!(
        db.get("order-1").unwrap().as_deref(),
        Some(&b"paid"[..]),
        "the drop survived the power loss, the write acknowledged before it did not"
    );
}

/// Regression: the same for a creation, which also returns durable.
#[test]
fn writes_acknowledged_before_a_creation_survive_a_power_loss_that_it_survives() {
    let options = Options::default();
    let sim = SimFs::new();
    let db = lsm_core::fuzzing::open_sim(&sim, &options).unwrap();
    db.put("before", "1").unwrap();
    db.keyspace("created").unwrap();
    let image = sim.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    let db = lsm_core::fuzzing::open_sim(&image, &options).unwrap();
    assert!(db.keyspace_names().contains(&"created".to_string()));
    assert_eq!(
        db.get("before").unwrap().as_deref(),
        Some(&b"1"[..]),
        "the creation survived the power loss, the write acknowledged before it did not"
    );
}

/// The blob files on `sim`'s database, by number, with the name of the keyspace
/// their header names (from the manifest; `None` for a keyspace it does not list).
/// Background work may run meanwhile: a file removed since the listing is left
/// out, and a manifest caught in the middle of a write is read again.
fn blob_files_by_keyspace(sim: &SimFs) -> Vec<(u64, Option<String>)> {
    let dir = Path::new(DB_PATH);
    let state = (0..100)
        .find_map(|_| {
            let manifest = sim.read_file(&dir.join("MANIFEST")).ok()?;
            lsm_format::manifest::replay_manifest(&manifest).ok()
        })
        .expect("the manifest replays");
    sim.file_names(dir)
        .into_iter()
        .filter_map(|name| match lsm_format::file_name::FileName::parse(&name) {
            lsm_format::file_name::FileName::Blob(n) => Some((name, n)),
            _ => None,
        })
        .filter_map(|(name, n)| {
            let data = sim.read_file(&dir.join(&name)).ok()?;
            let id = lsm_format::blob::BlobHeader::decode(&data)
                .expect("a blob header")
                .keyspace;
            Some((n, state.keyspaces.get(&id).map(|k| k.name.clone())))
        })
        .collect()
}

/// The blob workload reaches what its enumeration is meant to test: blob files
/// in `tmp` when it is dropped (gone by the end) and in `users` at the end,
/// none in the keyspaces without a blob threshold, values relocated by blob GC.
#[test]
fn the_keyspace_blob_workload_covers_key_value_separation() {
    let ops = keyspace_workload::ops();
    let options = keyspace_workload::blob_options();
    let drop_at = ops
        .iter()
        .position(|op| matches!(op, KsOp::Drop(TMP)))
        .expect("a drop of tmp");
    let sim = SimFs::new();
    let mut tmp_blobs_at_drop = Vec::new();
    let mut most_blobs = 0;
    let out = keyspace_workload::run_observed(&sim.fs_ref(), &ops, &options, |i| {
        let blobs = blob_files_by_keyspace(&sim);
        most_blobs = most_blobs.max(blobs.len());
        if i + 1 == drop_at {
            tmp_blobs_at_drop = blobs
                .iter()
                .filter(|(_, ks)| ks.as_deref() == Some(TMP))
                .map(|(n, _)| *n)
                .collect();
        }
    });
    assert!(out.defect.is_none(), "{:?}", out.defect);
    if let Some((at, e)) = &out.failure {
        panic!("the workload failed at operation {at:?}: {e}");
    }
    let db = out.db.expect("open");
    let stats = db.stats();
    db.close().unwrap();
    let end = blob_files_by_keyspace(&sim);
    println!(
        "keyspace blob workload: tmp held blob files {tmp_blobs_at_drop:?} when dropped; \
         at most {most_blobs} blob files at once; at the end {end:?}; \
         {} values relocated by blob GC",
        stats.blob_values_relocated
    );
    assert!(
        tmp_blobs_at_drop.len() >= 2,
        "tmp held {tmp_blobs_at_drop:?} when dropped"
    );
    assert!(
        end.iter().all(|(n, _)| !tmp_blobs_at_drop.contains(n)),
        "blob files of the dropped tmp left: {end:?}"
    );
    for (n, ks) in &end {
        let ks = ks.as_deref().expect("a live keyspace");
        assert!(
            BLOB_KEYSPACES.contains(&ks),
            "blob file {n} in keyspace {ks}, which has no blob threshold"
        );
    }
    assert!(
        end.iter().any(|(_, ks)| ks.as_deref() == Some("users")),
        "no blob file of users at the end: {end:?}"
    );
    assert!(stats.blob_values_relocated > 0, "blob GC relocated nothing");
}
