//! The fixed workload of the enumerations, and its runner.
//!
//! About 300 operations over the small key space of `common::keys` (so overwrites and
//! deletes collide): single puts and deletes, batches, six range and prefix deletes
//! (two of them in batches with puts) placed before each flush, the reopen and the
//! compaction, puts with a TTL (alone and in batches; some expired by a move of
//! the manual clock before the next flush, reopen or compaction, some outliving
//! the run), a `sync()` now and then, two explicit flushes, a full compaction and
//! a close-and-reopen. With 4 KiB memtables
//! and segments this rotates the WAL and flushes about a dozen times, lets level 0
//! trigger compactions on its own, and rewrites the manifest at the reopen (every
//! open writes a fresh snapshot). `workload_covers_every_mechanism` in
//! `crash_points.rs` asserts that coverage, so a change of defaults cannot quietly
//! shrink what the enumerations test.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lsm_core::fs::{FsRef, SimFs};
use lsm_core::fuzzing::expiries_of;
use lsm_core::{Clock, Db, Error, ManualClock, Options};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::keys::{key, value, KEY_SPACE};
use crate::common::model::Map;
use crate::common::sim::{write_ops, write_step, History, Step, Write, DB_PATH};

/// One operation of the workload.
#[derive(Debug, Clone)]
pub enum Op {
    /// A put, a delete or a batch (see `common::sim::write_step`).
    Write(Step),
    /// A write call with range or prefix deletes or TTL puts (alone or in a batch,
    /// see `common::sim::write_ops`), recorded as its effect on the state it meets
    /// and the expiries it fixes.
    Ranges(Vec<Write>),
    /// `ManualClock::advance` of the options' clock by this many ms.
    Advance(u64),
    /// `Db::sync`.
    Sync,
    /// `Db::flush`.
    Flush,
    /// `Db::compact`.
    Compact,
    /// `Db::close`, then `Db::open` again.
    Reopen,
}

/// Number of operations of [`ops`].
pub const LEN: usize = 300;

/// The manual clocks [`options`] made, found again by [`run`] to move them.
static CLOCKS: Mutex<Vec<Arc<ManualClock>>> = Mutex::new(Vec::new());

/// Where [`run`] sets the clock before the first operation.
fn clock_start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The manual clock of `options`, if [`options`] made it.
fn manual_clock(options: &Options) -> Option<Arc<ManualClock>> {
    let want = Arc::as_ptr(&options.clock).cast::<()>();
    CLOCKS
        .lock()
        .expect("clock registry")
        .iter()
        .find(|c| Arc::as_ptr(c).cast::<()>() == want)
        .cloned()
}

/// Options that make [`ops`] reach every mechanism: minimum memtable, tiny segments
/// and blocks, compaction as soon as level 0 holds two segments; and a manual
/// clock of their own, which [`run`] sets to the same start and moves.
pub fn options() -> Options {
    let clock = Arc::new(ManualClock::new(clock_start()));
    CLOCKS.lock().expect("clock registry").push(clock.clone());
    Options::default()
        .with_clock(clock)
        .with_memtable_size(4096)
        .with_segment_size(4096)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(8)
        .with_level_size_multiplier(2)
        .with_level1_size(8 << 10)
        .with_block_cache_size(64 << 10)
}

/// Values at or above this many bytes go to blob files under [`blob_options`].
pub const BLOB_THRESHOLD: usize = 100;

/// [`options`] with key-value separation: values of [`BLOB_THRESHOLD`] bytes or
/// more live in blob files, and a compaction rewrites the live values of a blob
/// file once 30% of it is garbage (the workload's overwrites and deletes make
/// plenty), so blob files are written, collected and deleted.
pub fn blob_options() -> Options {
    options()
        .with_blob_threshold(Some(BLOB_THRESHOLD))
        .with_blob_gc_ratio(0.3)
}

/// [`blob_options`] with subcompactions: with 1 KiB segments, a compaction of at
/// least 2 KiB of segments (most of them; the values are in blob files) is split
/// into up to 4 key ranges merged on threads of their own, whatever the engine's
/// default.
pub fn split_options() -> Options {
    blob_options()
        .with_segment_size(1024)
        .with_max_subcompactions(4)
}

/// The workload for [`blob_options`]: [`ops_seeded`] with every value of 240
/// bytes or more made three times longer (720 to 900 bytes), so that values
/// below the threshold, just above it and well above it all occur (about half
/// of the puts' values are separated, one in ten is at least seven times the
/// threshold, and a blob file fills up within a flush).
pub fn blob_ops_seeded(seed: u64) -> Vec<Op> {
    let widen = |v: &Vec<u8>| -> Vec<u8> {
        match crate::common::keys::value_id(v) {
            Some(id) if v.len() >= 240 => value(id, v.len() * 3),
            _ => v.clone(),
        }
    };
    ops_seeded(seed)
        .into_iter()
        .map(|op| match op {
            Op::Write(step) => Op::Write(
                step.into_iter()
                    .map(|(k, v)| (k, v.as_ref().map(widen)))
                    .collect(),
            ),
            op => op,
        })
        .collect()
}

/// Which workload an enumeration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// [`ops_seeded`] under [`options`]: every value inline.
    Inline,
    /// [`blob_ops_seeded`] under [`blob_options`]: values in blob files, which
    /// are collected and deleted.
    Blobs,
    /// [`blob_ops_seeded`] under [`split_options`]: the blob workload with its
    /// compactions split into key ranges merged side by side.
    Split,
}

impl Variant {
    /// The options of the variant (each call makes a new manual clock).
    pub fn options(self) -> Options {
        match self {
            Variant::Inline => options(),
            Variant::Blobs => blob_options(),
            Variant::Split => split_options(),
        }
    }

    /// The variant's workload drawn from `seed`.
    pub fn ops(self, seed: u64) -> Vec<Op> {
        match self {
            Variant::Inline => ops_seeded(seed),
            Variant::Blobs | Variant::Split => blob_ops_seeded(seed),
        }
    }
}

/// The workload: deterministic (a fixed seed), [`LEN`] operations.
pub fn ops() -> Vec<Op> {
    ops_seeded(0)
}

/// A workload of the same shape drawn from another seed (long runs use several;
/// seed 0 is [`ops`]).
pub fn ops_seeded(seed: u64) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0005 ^ seed);
    let mut out = Vec::with_capacity(LEN);
    for i in 0..LEN {
        let id = i as u64 * 16;
        let op = match i {
            40 | 120 | 170 | 200 | 230 | 275 => Op::Ranges(range_deletes(i, id)),
            30 | 60 | 100 | 110 | 180 | 235 | 260 | 280 => Op::Ranges(ttl_puts(i, id)),
            // Each move expires the short TTLs before the next flush, reopen or
            // compaction (two exactly at their expiry); the long ones outlive the run.
            85 => Op::Advance(100),
            130 => Op::Advance(30),
            205 => Op::Advance(50),
            238 => Op::Advance(10),
            90 | 210 => Op::Flush,
            150 => Op::Reopen,
            240 => Op::Compact,
            _ => match rng.gen_range(0..100) {
                0..=59 => Op::Write(vec![(
                    key(rng.gen_range(0..KEY_SPACE)),
                    Some(value(id, rng.gen_range(0..300))),
                )]),
                60..=74 => Op::Write(vec![(key(rng.gen_range(0..KEY_SPACE)), None)]),
                75..=94 => Op::Write(
                    (0..rng.gen_range(2..7u64))
                        .map(|j| {
                            let k = key(rng.gen_range(0..KEY_SPACE));
                            let v = rng
                                .gen_bool(0.75)
                                .then(|| value(id + j, rng.gen_range(0..200)));
                            (k, v)
                        })
                        .collect(),
                ),
                _ => Op::Sync,
            },
        };
        out.push(op);
    }
    out
}

/// The range deletes of the workload, by position: some alone, some in a batch
/// with puts on both sides of them; ranges between keys, a prefix, the empty key.
fn range_deletes(i: usize, id: u64) -> Vec<Write> {
    let range = |a: u8, b: u8| Write::DeleteRange(key(a), key(b));
    let put = |k: u8, j: u64| Write::Put(key(k), value(id + j, 40));
    match i {
        40 => vec![range(10, 20)],
        120 => vec![put(25, 0), range(20, 30), put(22, 1)],
        170 => vec![Write::DeletePrefix(b"k4".to_vec())],
        200 => vec![Write::DeleteRange(Vec::new(), b"k05".to_vec())],
        230 => vec![
            Write::DeletePrefix(b"k5".to_vec()),
            Write::Delete(key(3)),
            put(55, 2),
        ],
        _ => vec![Write::DeletePrefix(vec![0xff, 0xff])],
    }
}

/// The TTL puts of the workload, by position (TTLs in ms of the manual clock).
fn ttl_puts(i: usize, id: u64) -> Vec<Write> {
    let ttl = |k: u8, j: u64, ttl: u64| Write::PutWithTtl(key(k), value(id + j, 60), ttl);
    let put = |k: u8, j: u64| Write::Put(key(k), value(id + j, 40));
    match i {
        30 => vec![ttl(33, 0, 100_000)],
        60 => vec![
            ttl(34, 0, 50),
            put(35, 1),
            ttl(36, 2, 100_000),
            ttl(37, 3, 80),
        ],
        100 => vec![ttl(38, 0, 30)],
        110 => vec![ttl(39, 0, 100_000)],
        180 => vec![ttl(41, 0, 10), ttl(42, 1, 100_000), put(43, 2)],
        235 => vec![ttl(44, 0, 10)],
        260 => vec![ttl(45, 0, 1_000_000), ttl(46, 1, 5), put(46, 2)],
        _ => vec![ttl(47, 0, 500)],
    }
}

/// What a run of the workload did.
pub struct Outcome {
    /// Acknowledged steps (and the one that failed, if a write failed), with the
    /// number a returned `sync()` (or `close()`) made durable.
    pub history: History,
    /// The database, still open, unless an open or close failed.
    pub db: Option<Db>,
    /// The first failed call: operation index (`None` for the first open) and error.
    pub failure: Option<(Option<usize>, Error)>,
    /// Flushes and compactions counted by the engine, summed over both instances.
    pub flushes: u64,
    /// See `flushes`.
    pub compactions: u64,
    /// Key ranges of split compactions (`Stats::subcompactions`), summed over
    /// both instances.
    pub subcompactions: u64,
    /// Names of every WAL file seen in the directory after some operation (only
    /// when the run observed the directory).
    pub wals_seen: BTreeSet<String>,
    /// The manifest right before and right after the reopen (when observed).
    pub manifest_around_reopen: Option<(Vec<u8>, Vec<u8>)>,
    /// Keys deleted by the acknowledged [`Op::Ranges`] calls (their point deletes
    /// included).
    pub range_deleted_keys: usize,
    /// TTL puts acknowledged.
    pub ttl_puts: usize,
    /// Names of every blob file seen in the directory after some operation (only
    /// when the run observed the directory).
    pub blobs_seen: BTreeSet<String>,
    /// Values compactions moved out of mostly-garbage blob files, summed over
    /// both instances.
    pub blob_values_relocated: u64,
}

impl Outcome {
    /// True when every operation succeeded.
    pub fn completed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Opens the workload's database on `fs`.
pub fn open(fs: &FsRef, options: &Options) -> lsm_core::Result<Db> {
    Db::open_with_fs(DB_PATH, options.clone(), fs.clone())
}

/// Runs `ops` on a new database at `DB_PATH` of `fs` until the first failed call.
/// With `observe`, `sim` (the disk under `fs`) is listed after every operation to
/// record the coverage figures of [`Outcome`].
pub fn run(fs: &FsRef, sim: Option<&SimFs>, ops: &[Op], options: &Options) -> Outcome {
    let mut out = Outcome {
        history: History::new(Map::new()),
        db: None,
        failure: None,
        flushes: 0,
        compactions: 0,
        subcompactions: 0,
        wals_seen: BTreeSet::new(),
        manifest_around_reopen: None,
        range_deleted_keys: 0,
        ttl_puts: 0,
        blobs_seen: BTreeSet::new(),
        blob_values_relocated: 0,
    };
    let clock = manual_clock(options);
    if let Some(c) = &clock {
        c.set(clock_start());
        out.history.now_ms = ms(c.now());
    }
    match open(fs, options) {
        Ok(db) => out.db = Some(db),
        Err(e) => {
            out.failure = Some((None, e));
            return out;
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if let Op::Advance(by) = op {
            let c = clock
                .as_ref()
                .expect("a workload that moves the clock runs with `options()`'s clock");
            c.advance(Duration::from_millis(*by));
            out.history.now_ms = ms(c.now());
            continue;
        }
        if let Err(e) = apply(&mut out, fs, sim, op, options) {
            out.failure = Some((Some(i), e));
            return out;
        }
        if let Some(sim) = sim {
            let names = sim.file_names(Path::new(DB_PATH));
            out.blobs_seen
                .extend(names.iter().filter(|n| n.ends_with(".blob")).cloned());
            out.wals_seen
                .extend(names.into_iter().filter(|n| n.ends_with(".wal")));
        }
    }
    if let Some(db) = &out.db {
        let stats = db.stats();
        out.flushes += stats.flushes;
        out.compactions += stats.compactions;
        out.subcompactions += stats.subcompactions;
        out.blob_values_relocated += stats.blob_values_relocated;
    }
    out
}

fn apply(
    out: &mut Outcome,
    fs: &FsRef,
    sim: Option<&SimFs>,
    op: &Op,
    options: &Options,
) -> lsm_core::Result<()> {
    let db = out
        .db
        .as_ref()
        .expect("the database is open between operations");
    match op {
        Op::Write(step) => match write_step(db, step) {
            Ok(()) => out.history.ack(step.clone()),
            Err(e) => {
                out.history.attempt(step.clone());
                return Err(e);
            }
        },
        Op::Ranges(ops) => {
            let step = out.history.effect(ops);
            // The clock stands still during the call: these are the expiries it fixes.
            let expiries = expiries_of(ops, out.history.now_ms);
            match write_ops(db, ops) {
                Ok(()) => {
                    out.range_deleted_keys += step.iter().filter(|(_, v)| v.is_none()).count();
                    out.ttl_puts += ops
                        .iter()
                        .filter(|w| matches!(w, Write::PutWithTtl(..)))
                        .count();
                    out.history.ack_expiring(step, expiries);
                }
                Err(e) => {
                    out.history.attempt_expiring(step, expiries);
                    return Err(e);
                }
            }
        }
        Op::Advance(_) => unreachable!("moved by `run`"),
        Op::Sync => {
            db.sync()?;
            out.history.synced();
        }
        Op::Flush => db.flush()?,
        Op::Compact => db.compact()?,
        Op::Reopen => {
            let stats = db.stats();
            out.flushes += stats.flushes;
            out.compactions += stats.compactions;
            out.subcompactions += stats.subcompactions;
            out.blob_values_relocated += stats.blob_values_relocated;
            let manifest = Path::new(DB_PATH).join("MANIFEST");
            let before = sim.and_then(|s| s.read_file(&manifest).ok());
            out.db.take().expect("open").close()?;
            // `close` flushes and syncs: everything acknowledged is durable.
            out.history.synced();
            out.db = Some(open(fs, options)?);
            let after = sim.and_then(|s| s.read_file(&manifest).ok());
            if let (Some(b), Some(a)) = (before, after) {
                out.manifest_around_reopen = Some((b, a));
            }
        }
    }
    Ok(())
}

/// `t` in ms since the epoch.
fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
