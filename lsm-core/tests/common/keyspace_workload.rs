//! The fixed keyspace workload of `io_errors_keyspaces.rs`, and its runner.
//!
//! [`LEN`] operations over the default keyspace and the named `users`, `orders`
//! and `tmp`: single puts, deletes and range or prefix deletes with each
//! keyspace's own methods; `WriteBatch`es across keyspaces (`put_in`,
//! `delete_in`, `delete_range_in`, `delete_prefix_in`); read-modify-write
//! transactions over two keyspaces (`Db::transaction` and `begin` + `commit`);
//! `tmp` created mid-run, flushed (`Keyspace::flush`), written again, dropped
//! while it holds segments and memtable data, then created again; flushes of
//! other keyspaces, two `Db::compact`s, a close-and-reopen and a `sync` now and
//! then. With [`options`]' 4 KiB memtables and segments the WAL rotates,
//! keyspaces flush on their own and level 0 compacts (`the_workload_covers_...`
//! in `io_errors_keyspaces.rs` asserts it).
//!
//! The runner records the acknowledged history over the map of all keyspaces of
//! `keyspace_history` (a creation puts the keyspace's marker, a drop deletes its
//! marker and keys). A creation or a drop that returned `Ok` is durable (one
//! fsynced manifest edit, docs/durability.md promise 12), and since every crash
//! must leave a prefix of the history, so is everything acknowledged before it:
//! the runner counts it as a sync.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lsm_core::fs::FsRef;
use lsm_core::fuzzing::{show, write_ops, History, Map, Write, DB_PATH};
use lsm_core::{Db, Error, Keyspace, KeyspaceOptions, Options, Transaction, WriteBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::keys::{key, value};
use crate::keyspace_history::{data_key, drop_of, in_keyspace, marker, MARKER_VALUE};

/// The default keyspace (written with the `Db`'s own methods).
pub const DEFAULT: &str = "default";

/// The keyspace created mid-run, dropped, and created again.
pub const TMP: &str = "tmp";

/// Number of operations of [`ops`].
pub const LEN: usize = 200;

/// Keys of each keyspace: `key(0) .. key(KEYS)` (few, so writes collide).
const KEYS: u8 = 40;

/// One operation of the workload.
#[derive(Debug, Clone)]
pub enum KsOp {
    /// One write call: a single operation with its keyspace's own method (the
    /// `Db`'s for the default keyspace), several as one `WriteBatch` (the `*_in`
    /// methods; the plain ones for the default keyspace).
    Write(Vec<(&'static str, Write)>),
    /// A read-modify-write transaction.
    Txn(Txn),
    /// `Db::keyspace` of a name no keyspace has.
    Create(&'static str),
    /// `Db::drop_keyspace`.
    Drop(&'static str),
    /// `Keyspace::flush`.
    Flush(&'static str),
    /// `Db::sync`.
    Sync,
    /// `Db::compact`.
    Compact,
    /// `Db::close`, then `Db::open` again.
    Reopen,
}

/// A transaction that reads `a` and `b`, then writes each with a value made from
/// what it read of the other ([`derived`]), and deletes `delete`.
#[derive(Debug, Clone)]
pub struct Txn {
    /// `Db::transaction` (true) or `Db::begin` and `Transaction::commit`.
    pub closure: bool,
    /// A key read and written, with its keyspace.
    pub a: (&'static str, Vec<u8>),
    /// The other one.
    pub b: (&'static str, Vec<u8>),
    /// A key deleted, with its keyspace.
    pub delete: Option<(&'static str, Vec<u8>)>,
    /// Names the values written.
    pub id: u64,
}

/// The value a transaction numbered `id` writes after reading `read`.
pub fn derived(id: u64, read: Option<&[u8]>) -> Vec<u8> {
    let mut v = format!("{id}:txn:").into_bytes();
    match read {
        Some(r) => v.extend_from_slice(&r[..r.len().min(16)]),
        None => v.extend_from_slice(b"none"),
    }
    v
}

impl Txn {
    /// The writes of the transaction, had it read `a` and `b`, in the order it
    /// makes them.
    fn writes(&self, a: Option<&[u8]>, b: Option<&[u8]>) -> Vec<(&'static str, Write)> {
        let mut out = vec![
            (self.a.0, Write::Put(self.a.1.clone(), derived(self.id, b))),
            (
                self.b.0,
                Write::Put(self.b.1.clone(), derived(self.id + 1, a)),
            ),
        ];
        if let Some((name, k)) = &self.delete {
            out.push((name, Write::Delete(k.clone())));
        }
        out
    }
}

/// Options that make [`ops`] reach every mechanism (as the single-keyspace
/// workload's, without its clock): minimum memtable, tiny segments and blocks,
/// compaction as soon as level 0 holds two segments.
pub fn options() -> Options {
    Options::default()
        .with_memtable_size(4096)
        .with_segment_size(4096)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(8)
        .with_level_size_multiplier(2)
        .with_level1_size(8 << 10)
        .with_block_cache_size(64 << 10)
}

/// The value size from which [`blob_options`] separates values in the keyspaces
/// of [`BLOB_KEYSPACES`]: about two thirds of the single puts' values (0 to 299
/// bytes) and half of the batches' (0 to 199) are at least this long.
pub const BLOB_THRESHOLD: usize = 100;

/// The keyspaces [`blob_options`] gives blob files: `tmp`, so that its drop
/// meets blob files, and `users`, which lives throughout.
pub const BLOB_KEYSPACES: [&str; 2] = [TMP, "users"];

/// [`options`] with key-value separation in [`BLOB_KEYSPACES`] only
/// (`KeyspaceOptions::with_blob_threshold`, [`BLOB_THRESHOLD`]; the database's
/// own threshold off, so the default keyspace and `orders` stay inline), blob GC
/// at 30% garbage in those keyspaces (`KeyspaceOptions::with_blob_gc_ratio`; the
/// database's ratio stays 0.5).
pub fn blob_options() -> Options {
    BLOB_KEYSPACES.iter().fold(
        // The database's threshold off and its garbage ratio the default: the
        // keyspaces' own settings are the ones in force.
        options().with_blob_threshold(None),
        |o, name| {
            o.with_keyspace_options(
                name,
                KeyspaceOptions::default()
                    .with_blob_threshold(Some(BLOB_THRESHOLD))
                    .with_blob_gc_ratio(0.3),
            )
        },
    )
}

/// The workload: deterministic (a fixed seed), [`LEN`] operations.
pub fn ops() -> Vec<KsOp> {
    let mut rng = StdRng::seed_from_u64(0x05ee_d0c5);
    let mut live: Vec<&'static str> = vec![DEFAULT];
    let mut out = Vec::with_capacity(LEN);
    for i in 0..LEN {
        let id = i as u64 * 16;
        let op = match i {
            0 => KsOp::Create("users"),
            1 => KsOp::Create("orders"),
            30 => KsOp::Create(TMP),
            75 => KsOp::Flush(TMP),
            90 => KsOp::Flush("users"),
            115 => KsOp::Drop(TMP),
            125 => KsOp::Reopen,
            140 => KsOp::Create(TMP),
            180 => KsOp::Flush(DEFAULT),
            105 | 165 => KsOp::Compact,
            50 | 100 | 150 | 190 => KsOp::Write(range_deletes(i, id)),
            45 | 95 | 135 | 170 | 195 => KsOp::Txn(transaction(i, id)),
            _ => random(&mut rng, &live, id),
        };
        match &op {
            KsOp::Create(name) => live.push(name),
            KsOp::Drop(name) => live.retain(|n| n != name),
            _ => {}
        }
        out.push(op);
    }
    out
}

/// A random write call over the `live` keyspaces (`tmp`, while it lives, is
/// written more than the others, so it holds data in memtables and segments).
fn random(rng: &mut StdRng, live: &[&'static str], id: u64) -> KsOp {
    let pick = |rng: &mut StdRng| {
        if live.contains(&TMP) && rng.gen_bool(0.3) {
            TMP
        } else {
            live[rng.gen_range(0..live.len())]
        }
    };
    match rng.gen_range(0..100) {
        0..=54 => {
            let ks = pick(rng);
            let k = key(rng.gen_range(0..KEYS));
            KsOp::Write(vec![(ks, Write::Put(k, value(id, rng.gen_range(0..300))))])
        }
        55..=67 => {
            let ks = pick(rng);
            KsOp::Write(vec![(ks, Write::Delete(key(rng.gen_range(0..KEYS))))])
        }
        68..=91 => KsOp::Write(
            (0..rng.gen_range(2..7u64))
                .map(|j| {
                    let ks = pick(rng);
                    let k = key(rng.gen_range(0..KEYS));
                    let op = if rng.gen_bool(0.75) {
                        Write::Put(k, value(id + j, rng.gen_range(0..200)))
                    } else {
                        Write::Delete(k)
                    };
                    (ks, op)
                })
                .collect(),
        ),
        92..=94 => {
            let ks = pick(rng);
            let a = rng.gen_range(0..KEYS);
            let b = rng.gen_range(a..KEYS);
            KsOp::Write(vec![(ks, Write::DeleteRange(key(a), key(b)))])
        }
        _ => KsOp::Sync,
    }
}

/// The range and prefix deletes of the workload, by position: batches across
/// keyspaces mixing them with puts and deletes, and one alone.
fn range_deletes(i: usize, id: u64) -> Vec<(&'static str, Write)> {
    let put = |k: u8, j: u64| Write::Put(key(k), value(id + j, 40));
    let range = |a: u8, b: u8| Write::DeleteRange(key(a), key(b));
    let prefix = |p: &str| Write::DeletePrefix(p.as_bytes().to_vec());
    match i {
        50 => vec![
            ("users", put(5, 0)),
            ("orders", range(10, 20)),
            (DEFAULT, put(7, 1)),
            (TMP, Write::Delete(key(3))),
            (TMP, put(8, 2)),
        ],
        100 => vec![
            ("users", prefix("k1")),
            ("orders", put(12, 0)),
            // From the empty key, the smallest.
            (TMP, range(0, 20)),
            (TMP, put(11, 1)),
        ],
        150 => vec![("orders", range(2, 30))],
        _ => vec![
            (DEFAULT, range(2, 35)),
            (TMP, put(1, 0)),
            ("orders", prefix("k2")),
            ("users", put(22, 1)),
            (DEFAULT, prefix("k")),
        ],
    }
}

/// The transactions of the workload, by position.
fn transaction(i: usize, id: u64) -> Txn {
    let (a, b, delete) = match i {
        45 => (("users", 4), ("orders", 4), None),
        95 => ((TMP, 6), (DEFAULT, 6), Some(("users", 7))),
        135 => (("orders", 4), ("users", 4), Some((DEFAULT, 9))),
        170 => ((TMP, 8), ("users", 5), None),
        _ => ((DEFAULT, 6), (TMP, 1), Some(("orders", 12))),
    };
    let named = |(ks, k): (&'static str, u8)| (ks, key(k));
    Txn {
        closure: matches!(i, 45 | 135 | 195),
        a: named(a),
        b: named(b),
        delete: delete.map(named),
        id,
    }
}

/// What a run of the workload did.
pub struct Outcome {
    /// Acknowledged steps over the map of all keyspaces (and the one that failed,
    /// if a write, creation, drop or commit failed).
    pub history: History,
    /// The database, still open, unless an open or close failed.
    pub db: Option<Db>,
    /// The first failed call: operation index (`None` for the first open) and error.
    pub failure: Option<(Option<usize>, Error)>,
    /// A wrong answer of the engine the run met (a transaction read a value that
    /// is not the acknowledged one, a keyspace missing after the reopen).
    pub defect: Option<String>,
    /// Keyspaces whose drop returned `Ok` and that no call (even a failed one)
    /// created again since.
    pub gone: BTreeSet<String>,
    /// Flushes and compactions counted by the engine, summed over both instances.
    pub flushes: u64,
    /// See `flushes`.
    pub compactions: u64,
    /// Segments the dropped keyspace held when the drop was called, and whether
    /// the drop discarded memtable data of it.
    pub dropped_with: Option<(usize, bool)>,
    /// Handles of the live keyspaces.
    handles: BTreeMap<&'static str, Keyspace>,
}

impl Outcome {
    /// True when every operation succeeded.
    pub fn completed(&self) -> bool {
        self.failure.is_none()
    }

    /// The keyspace `name`'s handle (kept by the runner).
    fn handle(&self, name: &str) -> &Keyspace {
        &self.handles[name]
    }
}

/// Opens the workload's database on `fs`.
pub fn open(fs: &FsRef, options: &Options) -> lsm_core::Result<Db> {
    Db::open_with_fs(DB_PATH, options.clone(), fs.clone())
}

/// The state the map starts from: the default keyspace, empty.
fn base() -> Map {
    Map::from([(marker(DEFAULT), MARKER_VALUE.to_vec())])
}

/// Runs `ops` on a new database at `DB_PATH` of `fs` until the first failed call
/// (or the first defect).
pub fn run(fs: &FsRef, ops: &[KsOp], options: &Options) -> Outcome {
    run_observed(fs, ops, options, |_| {})
}

/// [`run`], calling `after` with the index of each operation that succeeded.
pub fn run_observed(
    fs: &FsRef,
    ops: &[KsOp],
    options: &Options,
    mut after: impl FnMut(usize),
) -> Outcome {
    let mut out = Outcome {
        history: History::new(base()),
        db: None,
        failure: None,
        defect: None,
        gone: BTreeSet::new(),
        flushes: 0,
        compactions: 0,
        dropped_with: None,
        handles: BTreeMap::new(),
    };
    match open(fs, options).and_then(|db| {
        out.handles.insert(DEFAULT, db.keyspace(DEFAULT)?);
        Ok(db)
    }) {
        Ok(db) => out.db = Some(db),
        Err(e) => {
            out.failure = Some((None, e));
            return out;
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = apply(&mut out, fs, op, options) {
            out.failure = Some((Some(i), e));
            return out;
        }
        if out.defect.is_some() {
            return out;
        }
        after(i);
    }
    if let Some(db) = &out.db {
        let stats = db.stats();
        out.flushes += stats.flushes;
        out.compactions += stats.compactions;
    }
    out
}

fn apply(out: &mut Outcome, fs: &FsRef, op: &KsOp, options: &Options) -> lsm_core::Result<()> {
    let db = out
        .db
        .as_ref()
        .expect("the database is open between operations");
    match op {
        KsOp::Write(calls) => {
            let step = out.history.effect(&on_map(calls));
            match send(db, &out.handles, calls) {
                Ok(()) => out.history.ack(step),
                Err(e) => {
                    out.history.attempt(step);
                    return Err(e);
                }
            }
        }
        KsOp::Txn(t) => transact(out, t)?,
        KsOp::Create(name) => {
            let step = vec![(marker(name), Some(MARKER_VALUE.to_vec()))];
            // Even a failed creation may have reached the manifest.
            out.gone.remove(*name);
            match db.keyspace(name) {
                Ok(ks) => {
                    out.handles.insert(name, ks);
                    out.history.ack(step);
                    out.history.synced();
                }
                Err(e) => {
                    out.history.attempt(step);
                    return Err(e);
                }
            }
        }
        KsOp::Drop(name) => {
            let ks = out.handles.remove(name).expect("a live keyspace");
            let segments = ks.level_stats()?.iter().map(|l| l.segments).sum::<usize>();
            let memtables = db.stats().memtable_bytes;
            let step = out.history.effect(&[drop_of(name)]);
            match db.drop_keyspace(name) {
                Ok(()) => {
                    // Its memtable data is discarded with it.
                    let discarded = db.stats().memtable_bytes < memtables;
                    out.dropped_with = Some((segments, discarded));
                    out.history.ack(step);
                    out.history.synced();
                    out.gone.insert(name.to_string());
                }
                Err(e) => {
                    out.history.attempt(step);
                    return Err(e);
                }
            }
        }
        KsOp::Flush(name) => out.handle(name).flush()?,
        KsOp::Sync => {
            db.sync()?;
            out.history.synced();
        }
        KsOp::Compact => db.compact()?,
        KsOp::Reopen => {
            let stats = db.stats();
            out.flushes += stats.flushes;
            out.compactions += stats.compactions;
            let live: Vec<&'static str> = out.handles.keys().copied().collect();
            out.handles.clear();
            out.db.take().expect("open").close()?;
            // `close` flushes and syncs: everything acknowledged is durable.
            out.history.synced();
            let db = open(fs, options)?;
            let names = db.keyspace_names();
            for name in live {
                if !names.iter().any(|n| n == name) {
                    out.defect = Some(format!("keyspace {name:?} is gone after the reopen"));
                }
                out.handles.insert(name, db.keyspace(name)?);
            }
            out.db = Some(db);
        }
    }
    Ok(())
}

/// The operations of a write call as operations on the map of all keyspaces.
fn on_map(calls: &[(&'static str, Write)]) -> Vec<Write> {
    calls
        .iter()
        .map(|(name, op)| in_keyspace(name, op))
        .collect()
}

/// Sends a write call: a single operation with its keyspace's own method, several
/// as one batch.
fn send(
    db: &Db,
    handles: &BTreeMap<&'static str, Keyspace>,
    calls: &[(&'static str, Write)],
) -> lsm_core::Result<()> {
    if let [(name, op)] = calls {
        if *name == DEFAULT {
            return write_ops(db, std::slice::from_ref(op));
        }
        let ks = &handles[name];
        return match op {
            Write::Put(k, v) => ks.put(k, v),
            Write::PutWithTtl(k, v, ttl) => ks.put_with_ttl(k, v, Duration::from_millis(*ttl)),
            Write::Delete(k) => ks.delete(k),
            Write::DeleteRange(a, b) => ks.delete_range(a, b),
            Write::DeletePrefix(p) => ks.delete_prefix(p),
        };
    }
    let mut batch = WriteBatch::new();
    for (name, op) in calls {
        if *name == DEFAULT {
            match op {
                Write::Put(k, v) => batch.put(k, v),
                Write::PutWithTtl(k, v, ttl) => {
                    batch.put_with_ttl(k, v, Duration::from_millis(*ttl))
                }
                Write::Delete(k) => batch.delete(k),
                Write::DeleteRange(a, b) => batch.delete_range(a, b),
                Write::DeletePrefix(p) => batch.delete_prefix(p),
            };
        } else {
            let ks = &handles[name];
            match op {
                Write::Put(k, v) => batch.put_in(ks, k, v),
                Write::PutWithTtl(k, v, ttl) => {
                    batch.put_with_ttl_in(ks, k, v, Duration::from_millis(*ttl))
                }
                Write::Delete(k) => batch.delete_in(ks, k),
                Write::DeleteRange(a, b) => batch.delete_range_in(ks, a, b),
                Write::DeletePrefix(p) => batch.delete_prefix_in(ks, p),
            };
        }
    }
    db.write(batch)
}

/// What a transaction read of `a` and `b`.
type Reads = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Runs transaction `t` and records it. The model's values of `a` and `b` are
/// what it must read (nothing else writes meanwhile, so it never conflicts); a
/// commit that fails may or may not have taken effect, a failed read wrote nothing.
fn transact(out: &mut Outcome, t: &Txn) -> lsm_core::Result<()> {
    let state = out.history.state();
    let want: Reads = (
        state.get(&data_key(t.a.0, &t.a.1)).cloned(),
        state.get(&data_key(t.b.0, &t.b.1)).cloned(),
    );
    let step = out
        .history
        .effect(&on_map(&t.writes(want.0.as_deref(), want.1.as_deref())));
    let seen = RefCell::new(None);
    let committing = Cell::new(false);
    let db = out.db.as_ref().expect("open");
    let handles = &out.handles;
    let result = if t.closure {
        db.transaction(|txn| body(txn, handles, t, &seen, &committing))
    } else {
        let mut txn = db.begin();
        body(&mut txn, handles, t, &seen, &committing).and_then(|()| txn.commit())
    };
    if let Some(got) = seen.into_inner() {
        if got != want {
            let s = |v: &Option<Vec<u8>>| v.as_deref().map(show);
            out.defect = Some(format!(
                "transaction {} read {:?} and {:?}, want {:?} and {:?}",
                t.id,
                s(&got.0),
                s(&got.1),
                s(&want.0),
                s(&want.1)
            ));
        }
    }
    match result {
        Ok(()) => out.history.ack(step),
        Err(e) => {
            if committing.get() {
                out.history.attempt(step);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// The reads and writes of `t` in `txn`; records what it read in `seen` and sets
/// `committing` once every write is made (what follows is the commit).
fn body(
    txn: &mut Transaction<'_>,
    handles: &BTreeMap<&'static str, Keyspace>,
    t: &Txn,
    seen: &RefCell<Option<Reads>>,
    committing: &Cell<bool>,
) -> lsm_core::Result<()> {
    let a = txn_get(txn, handles, &t.a)?;
    let b = txn_get(txn, handles, &t.b)?;
    for (name, op) in t.writes(a.as_deref(), b.as_deref()) {
        match (name == DEFAULT, op) {
            (true, Write::Put(k, v)) => txn.put(k, v)?,
            (false, Write::Put(k, v)) => txn.put_in(&handles[name], k, v)?,
            (true, Write::Delete(k)) => txn.delete(k)?,
            (false, Write::Delete(k)) => txn.delete_in(&handles[name], k)?,
            (_, other) => unreachable!("a transaction writes no {other:?}"),
        }
    }
    *seen.borrow_mut() = Some((a, b));
    committing.set(true);
    Ok(())
}

/// `txn`'s read of a key of a keyspace.
fn txn_get(
    txn: &mut Transaction<'_>,
    handles: &BTreeMap<&'static str, Keyspace>,
    (name, k): &(&'static str, Vec<u8>),
) -> lsm_core::Result<Option<Vec<u8>>> {
    let got = if *name == DEFAULT {
        txn.get(k)?
    } else {
        txn.get_in(&handles[name], k)?
    };
    Ok(got.map(|v| v.to_vec()))
}
