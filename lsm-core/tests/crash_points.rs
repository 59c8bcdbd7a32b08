//! Crash-point enumeration, in the manner of SQLite's crash loops
//! and RocksDB's kill points: the fixed workload of `reliability::workload` (range
//! and prefix deletes included, each recorded as the deletes of the keys it covered,
//! so it must be recovered whole with its batch or not at all; TTL puts, each
//! recorded with the expiry its call fixed on the manual clock, so that it counts
//! as its value until the clock reaches that expiry and as absent from then on)
//! runs on
//! the simulated disk with the power cut after its `k`-th mutating file operation
//! (`SimFs::power_off_after`: that operation and every later one fail), for
//! `k = 1, 2, ...` until a run completes. For each `k` the disk is crashed in each
//! of the four `CrashMode`s, reopened, and checked (`common::sim::crash_and_check`):
//! the state is the effect of a prefix of the acknowledged operations (no hole, no
//! partial batch, no resurrected delete), the prefix covers every operation
//! acknowledged before a `sync()` or `close()` that returned, point reads agree
//! with the scan, a second reopen reads the same, and the database takes new writes.
//!
//! CI cuts at every operation of the fixed workload (about 650 points, 2,600 crash
//! images), split between two tests so both cores work. Long runs raise
//! `LSM_CRASH_WORKLOADS` (default 1) to enumerate that many workloads of the same
//! shape, drawn from different seeds (about 650 points each); `LSM_CRASH_STRIDE`
//! steps `k` for a quicker pass. See `docs/testing.md`.

mod common;
mod reliability;

use common::sim::{crash_and_check, Write};
use lsm_core::fs::{CrashMode, SimFs};
use reliability::workload::{self, Op, Variant};

/// The full workload reaches every mechanism that writes files: at least 3 flushes,
/// a compaction, a manifest rewrite and WAL rotations, with synced writes, and its
/// range deletes delete keys. And it ends in the state its history says.
#[test]
fn workload_covers_every_mechanism() {
    let ops = workload::ops();
    let options = workload::options();
    let syncs = ops.iter().filter(|op| matches!(op, Op::Sync)).count();
    assert!(syncs >= 3, "the workload syncs only {syncs} times");

    let sim = SimFs::new();
    let out = workload::run(&sim.fs_ref(), Some(&sim), &ops, &options);
    if let Some((at, e)) = &out.failure {
        panic!("the workload failed at operation {at:?}: {e}");
    }
    let total = sim.op_count();
    let ranges = ops
        .iter()
        .filter(|op| {
            matches!(op, Op::Ranges(w) if w.iter().any(|w| {
                matches!(w, Write::DeleteRange(..) | Write::DeletePrefix(_))
            }))
        })
        .count();
    println!(
        "workload: {} operations, {total} mutating file operations, {} flushes, {} \
         compactions, {} WAL files, {ranges} range-delete calls deleting {} keys",
        ops.len(),
        out.flushes,
        out.compactions,
        out.wals_seen.len(),
        out.range_deleted_keys
    );
    assert!(ranges >= 6, "only {ranges} range-delete calls");
    assert!(
        out.range_deleted_keys >= 20,
        "the range deletes deleted only {} keys",
        out.range_deleted_keys
    );
    assert!(out.flushes >= 3, "only {} flushes", out.flushes);
    assert!(out.compactions >= 1, "no compaction");
    assert!(out.wals_seen.len() >= 3, "WALs seen: {:?}", out.wals_seen);
    let (before, after) = out
        .manifest_around_reopen
        .as_ref()
        .expect("the manifest exists across the reopen");
    assert!(
        !after.starts_with(before),
        "the reopen did not rewrite the manifest ({} then {} bytes)",
        before.len(),
        after.len()
    );
    let db = out.db.expect("open at the end");
    let found = common::sim::read_all(&db).unwrap();
    let advances = ops.iter().filter(|op| matches!(op, Op::Advance(_))).count();
    assert!(
        advances >= 4,
        "the workload moves the clock {advances} times"
    );
    assert_eq!(out.history.acked, ops.len() - syncs - advances - 4);
    assert!(
        found == out.history.state(),
        "the finished workload does not read back as its history"
    );
    // Some TTL puts have expired by the end and some not: the oracle's expiry is
    // not vacuous either way.
    assert!(out.ttl_puts >= 10, "only {} TTL puts", out.ttl_puts);
    let now = out.history.now_ms;
    let expiries = out.history.expiries.iter().flat_map(|e| e.values());
    let (expired, live): (Vec<u64>, Vec<u64>) = expiries.partition(|&&t| t <= now);
    let (expired, live) = (expired.len(), live.len());
    println!("TTL puts: {expired} expired by the end, {live} not");
    assert!(expired >= 2 && live >= 2, "expired {expired}, live {live}");
    db.close().unwrap();
}

/// Figures of an enumeration.
#[derive(Debug, Default)]
struct Tally {
    /// Cut points tried.
    points: u64,
    /// Crash images checked.
    images: u64,
    /// Images that recovered every acknowledged operation.
    all_acked: u64,
    /// Images that lost acknowledged but unsynced operations (allowed).
    lost_unsynced: u64,
    /// Images that kept the failed (unacknowledged) last write (allowed).
    kept_failed: u64,
}

/// Runs the enumeration over the cut points of part `part` of `parts`, for every
/// workload seed below `LSM_CRASH_WORKLOADS`.
fn enumerate(variant: Variant, part: u64, parts: u64) -> Tally {
    let options = variant.options();
    let stride = reliability::env_or("LSM_CRASH_STRIDE", 1u64);
    let workloads = reliability::env_or("LSM_CRASH_WORKLOADS", 1u64);
    let mut tally = Tally::default();
    for w in 0..workloads {
        enumerate_workload(variant, w, &options, stride, part, parts, &mut tally);
    }
    println!(
        "crash points ({variant:?}, part {part} of {parts}, stride {stride}, {workloads} \
         workloads): {tally:?}; every image a prefix covering every synced write"
    );
    tally
}

fn enumerate_workload(
    variant: Variant,
    w: u64,
    options: &lsm_core::Options,
    stride: u64,
    part: u64,
    parts: u64,
    tally: &mut Tally,
) {
    let ops = variant.ops(w);
    for k in reliability::points(stride, part, parts) {
        let sim = SimFs::new();
        sim.power_off_after(k);
        let out = workload::run(&sim.fs_ref(), None, &ops, options);
        let completed = out.completed();
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            let seed = (w << 32) + k * 4 + m as u64;
            let h = &out.history;
            match crash_and_check(&sim, mode, seed, options, h) {
                Ok(prefix) => {
                    tally.all_acked += u64::from(prefix >= h.acked);
                    tally.lost_unsynced += u64::from(prefix < h.acked);
                    tally.kept_failed += u64::from(prefix > h.acked);
                }
                Err(e) => {
                    let at = out.failure.as_ref().map(|(at, e)| (at, e.to_string()));
                    panic!(
                        "{variant:?} workload {w}, power cut after {k} file operations (first failed \
                         call: {at:?}): {e}\n\
                         replay: LSM_CRASH_WORKLOADS={} LSM_CRASH_STRIDE=1 reaches the same cut",
                        w + 1
                    );
                }
            }
            tally.images += 1;
        }
        tally.points += 1;
        // The engine on the powered-off disk can only fail from here on.
        drop(out.db);
        if completed {
            break;
        }
    }
}

#[test]
fn power_cut_at_every_file_operation_part_0() {
    let tally = enumerate(Variant::Inline, 0, 2);
    assert!(tally.points > 20, "{tally:?}");
    // Both outcomes the oracle allows occur (the checks are not vacuous).
    assert!(tally.lost_unsynced > 0 && tally.all_acked > 0, "{tally:?}");
}

#[test]
fn power_cut_at_every_file_operation_part_1() {
    let tally = enumerate(Variant::Inline, 1, 2);
    assert!(tally.points > 20, "{tally:?}");
    // Both outcomes the oracle allows occur (the checks are not vacuous).
    assert!(tally.lost_unsynced > 0 && tally.all_acked > 0, "{tally:?}");
}

/// The workload with key-value separation (`workload::blob_options`) writes blob
/// files in its flushes and compactions, collects mostly-garbage ones, deletes
/// dead ones, and still ends in the state its history says.
#[test]
fn blob_workload_covers_key_value_separation() {
    let ops = workload::blob_ops_seeded(0);
    let options = workload::blob_options();
    let sim = SimFs::new();
    let out = workload::run(&sim.fs_ref(), Some(&sim), &ops, &options);
    if let Some((at, e)) = &out.failure {
        panic!("the blob workload failed at operation {at:?}: {e}");
    }
    let db = out.db.expect("open at the end");
    let live = common::sim::sim_files(&sim, "blob");
    let deleted = out.blobs_seen.iter().filter(|n| !live.contains(n)).count();
    let (values, separated) = ops
        .iter()
        .filter_map(|op| match op {
            Op::Write(step) => Some(step.iter().filter_map(|(_, v)| v.as_ref())),
            _ => None,
        })
        .flatten()
        .fold((0, 0), |(n, s), v| {
            (n + 1, s + usize::from(v.len() >= workload::BLOB_THRESHOLD))
        });
    println!(
        "blob workload: {} mutating file operations, {} flushes, {} compactions; {separated} \
         of {values} values at or above the threshold; blob files: {} seen, {deleted} \
         deleted, {} live at the end; {} values relocated by blob GC",
        sim.op_count(),
        out.flushes,
        out.compactions,
        out.blobs_seen.len(),
        live.len(),
        out.blob_values_relocated
    );
    assert!(
        separated * 4 >= values && separated * 4 <= values * 3,
        "{separated} of {values} values separated"
    );
    assert!(
        out.blobs_seen.len() >= 10,
        "blob files: {:?}",
        out.blobs_seen
    );
    assert!(deleted >= 5, "only {deleted} blob files deleted");
    assert!(!live.is_empty(), "no blob file at the end");
    // A compaction or blob collection the background thread started last writes
    // its new blob file before its version is installed: until then the files on
    // disk and the live count differ for a moment. A dead file never deleted
    // keeps them apart for good.
    let settled = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let live_now = |sim: &SimFs| common::sim::sim_files(sim, "blob").len();
    while db.stats().blob_files != live_now(&sim) && std::time::Instant::now() < settled {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        db.stats().blob_files,
        live_now(&sim),
        "a dead blob file is left"
    );
    assert!(
        out.blob_values_relocated > 0,
        "blob GC never relocated a value"
    );
    let found = common::sim::read_all(&db).unwrap();
    assert!(
        found == out.history.state(),
        "the finished blob workload does not read back as its history"
    );
    db.close().unwrap();
}

/// The enumeration over the blob workload: power cuts while blob files are
/// created, written, synced, renamed into place and deleted (by a flush, a
/// compaction, blob GC, the reopen's cleanup), in every crash mode.
#[test]
fn power_cut_at_every_file_operation_with_blob_files_part_0() {
    let tally = enumerate(Variant::Blobs, 0, 2);
    assert!(tally.points > 20, "{tally:?}");
    assert!(tally.lost_unsynced > 0 && tally.all_acked > 0, "{tally:?}");
}

#[test]
fn power_cut_at_every_file_operation_with_blob_files_part_1() {
    let tally = enumerate(Variant::Blobs, 1, 2);
    assert!(tally.points > 20, "{tally:?}");
    assert!(tally.lost_unsynced > 0 && tally.all_acked > 0, "{tally:?}");
}

/// The blob workload under `workload::split_options` splits its compactions into
/// key ranges, and still ends in the state its history says.
#[test]
fn split_workload_covers_subcompactions() {
    let ops = Variant::Split.ops(0);
    let options = Variant::Split.options();
    let sim = SimFs::new();
    let out = workload::run(&sim.fs_ref(), Some(&sim), &ops, &options);
    if let Some((at, e)) = &out.failure {
        panic!("the split workload failed at operation {at:?}: {e}");
    }
    println!(
        "split workload: {} mutating file operations, {} compactions, {} key ranges of split \
         compactions",
        sim.op_count(),
        out.compactions,
        out.subcompactions
    );
    assert!(
        out.subcompactions >= 10,
        "only {} key ranges of split compactions",
        out.subcompactions
    );
    let db = out.db.expect("open at the end");
    let found = common::sim::read_all(&db).unwrap();
    assert!(
        found == out.history.state(),
        "the finished split workload does not read back as its history"
    );
    db.close().unwrap();
}

/// The enumeration over the split workload: power cuts while the key ranges of a
/// compaction write their segments and blob files side by side, before and after
/// the one edit that installs them all.
#[test]
fn power_cut_at_every_file_operation_with_subcompactions_part_0() {
    let tally = enumerate(Variant::Split, 0, 2);
    assert!(tally.points > 20, "{tally:?}");
    assert!(tally.lost_unsynced > 0 && tally.all_acked > 0, "{tally:?}");
}

#[test]
fn power_cut_at_every_file_operation_with_subcompactions_part_1() {
    let tally = enumerate(Variant::Split, 1, 2);
    assert!(tally.points > 20, "{tally:?}");
    assert!(tally.lost_unsynced > 0 && tally.all_acked > 0, "{tally:?}");
}

/// A power cut at every mutating file operation from the start of a checkpoint,
/// taken after the first 200 operations of the workload while its background
/// flushes and compactions may still run: in each of the 4 crash modes the source
/// passes the crash check above, and the copy is absent (no `/copy` at all; a
/// leftover staging directory beside it is allowed) or opens to exactly the state
/// at the call; a checkpoint that returned always opens.
#[test]
fn power_cut_at_every_file_operation_of_a_checkpoint() {
    use lsm_core::fs::FileSystem;
    use lsm_core::Db;
    let options = workload::options();
    let ops = workload::ops();
    let before = &ops[..200];
    let (mut points, mut opened, mut absent) = (0u64, 0u64, 0u64);
    for k in 1u64.. {
        let sim = SimFs::new();
        let out = workload::run(&sim.fs_ref(), None, before, &options);
        assert!(out.completed());
        let db = out.db.as_ref().unwrap();
        let state = out.history.state();
        sim.power_off_after(k);
        let finished = db.checkpoint("/copy").is_ok() && !sim.is_powered_off();
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            let seed = k * 4 + m as u64;
            crash_and_check(&sim, mode, seed, &options, &out.history)
                .unwrap_or_else(|e| panic!("cut {k} of the checkpoint, source: {e}"));
            let image = sim.crash(mode, seed);
            if !image.exists(std::path::Path::new("/copy")) {
                assert!(!finished, "cut {k} {mode:?}: a finished checkpoint is gone");
                absent += 1;
                continue;
            }
            let copy_options = options.clone().with_create_if_missing(false);
            let copy =
                Db::open_with_fs("/copy", copy_options, image.fs_ref()).unwrap_or_else(|e| {
                    panic!("cut {k} {mode:?}: the copy exists but does not open: {e}")
                });
            let found = common::sim::read_all(&copy).unwrap();
            assert!(
                found == state,
                "cut {k} {mode:?}: the copy opens to a wrong state"
            );
            opened += 1;
        }
        points += 1;
        drop(out.db);
        if finished {
            break;
        }
    }
    println!(
        "checkpoint crash points: {points} cuts, copies opened exactly {opened} times, \
         absent {absent} times"
    );
    assert!(points > 10 && opened > 0 && absent > 0);
}
