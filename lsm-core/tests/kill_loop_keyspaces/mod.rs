//! The keyspace part of the kill loop (`kill_loop.rs`).
//!
//! A writer thread writes cross-keyspace batches: batch number `v` of slot `i`
//! puts key `ks/NNNN` with [`expected_value`]`(i, v)` into the default keyspace
//! and into keyspaces `a` and `b` (or, every [`DELETE_EVERY`]-th version, deletes
//! it from all three with `delete`/`delete_in`), one in ten synced. The slots have
//! their own expected-state file, kept like the main one: per slot the committed
//! version and the pending one, marked before the write and cleared after its
//! acknowledgement. Now and then the thread runs a temporary keyspace through its
//! life: `tmp-N` is created, filled with one batch, flushed and dropped; once
//! `drop_keyspace` returned, `N` is appended to the `dropped` file (and the file
//! fsynced, though a kill of the process alone cannot lose it).
//!
//! Each child, after the kill, checks: every slot holds the committed or the
//! pending version, the same one in all three keyspaces (a batch is wholly there
//! or wholly absent); scans of `a`, `b` and the slot keys of the default keyspace
//! yield exactly the live slots; no dropped `tmp-N` is among the keyspace names;
//! a `tmp-N` the kill left behind (created, its drop not acknowledged) holds
//! nothing or its whole fill, and is dropped. A reader thread checks at a
//! snapshot that the three keyspaces agree on a slot while the writer runs. The
//! parent, between kills, looks for segment files whose keyspace (read from
//! their properties) the manifest no longer has: each open must remove those a
//! killed drop left, so none outlives a child that got through its check, and
//! none is left after the final child closes the database.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use lsm_core::{Db, Keyspace, WriteBatch, WriteOptions};
use lsm_format::manifest::replay_manifest;
use lsm_format::{ReadOptions, SegmentReader};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{expected_value, fail, matches, settle, Expected, DELETE_EVERY};

/// Slots of the cross-keyspace batches.
pub const SLOTS: usize = 500;
/// The named keyspaces every batch writes besides the default one.
const NAMED: [&str; 2] = ["a", "b"];
/// The slot keys' prefix: outside every key range of the main writers.
pub const SLOT_PREFIX: &str = "ks/";
/// Keys put into each temporary keyspace, in one batch (about 15 KiB: one flush,
/// one segment).
const FILL: usize = 150;
/// One batch in this many is followed by the life of a temporary keyspace.
const TMP_EVERY: u32 = 40;
/// Header of the slots' expected-state file: the number of the next temporary
/// keyspace (raised before it is created), and the count of acknowledged batches.
const NEXT_TMP_AT: u64 = 0;
const BATCHES_AT: u64 = 8;

fn slot_key(i: usize) -> Vec<u8> {
    format!("{SLOT_PREFIX}{i:04}").into_bytes()
}

fn tmp_name(n: u64) -> String {
    format!("tmp-{n}")
}

/// Key `j` of temporary keyspace `n`: a prefix of its own, so a scan of any other
/// keyspace finding it fails on an unknown key.
fn tmp_key(n: u64, j: usize) -> Vec<u8> {
    format!("t/{n}/{j:03}").into_bytes()
}

fn tmp_value(n: u64, j: usize) -> Vec<u8> {
    let mut v = format!("tmp {n} {j}:").into_bytes();
    v.resize(100, b'0' + (j % 10) as u8);
    v
}

/// The slots' expected-state file.
pub fn expected(dir: &Path) -> Expected {
    Expected::with_slots(&dir.join("expected-keyspaces"), SLOTS)
}

/// Acknowledged cross-keyspace batches (roughly: counted every 64).
pub fn batches(exp: &Expected) -> u64 {
    exp.read_u64(BATCHES_AT)
}

/// The numbers of the temporary keyspaces whose drop returned `Ok`.
pub fn dropped(dir: &Path) -> BTreeSet<u64> {
    std::fs::read_to_string(dir.join("dropped"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| fail(format!("dropped: bad line {l:?}")))
        })
        .collect()
}

/// Records that the drop of `tmp-n` returned: a line, on disk before the next
/// write.
fn record_drop(dir: &Path, n: u64) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("dropped"))
        .unwrap_or_else(|e| fail(format!("dropped: {e}")));
    writeln!(file, "{n}").unwrap_or_else(|e| fail(format!("dropped: {e}")));
    file.sync_all()
        .unwrap_or_else(|e| fail(format!("dropped: {e}")));
}

/// Handles to `a` and `b`, created when missing (a creation is durable before it
/// returns, and precedes every batch that writes them).
fn named(db: &Db) -> [Keyspace; 2] {
    NAMED.map(|name| {
        db.keyspace(name)
            .unwrap_or_else(|e| fail(format!("keyspace {name}: {e}")))
    })
}

/// The value of slot `i` in the default keyspace and in each named one.
fn read_slot(db: &Db, named: &[Keyspace; 2], i: usize) -> [Option<Bytes>; 3] {
    let get = |r: lsm_core::Result<Option<Bytes>>, ks: &str| {
        r.unwrap_or_else(|e| fail(format!("keyspace {ks}: get slot {i}: {e}")))
    };
    [
        get(db.get(slot_key(i)), "default"),
        get(named[0].get(slot_key(i)), NAMED[0]),
        get(named[1].get(slot_key(i)), NAMED[1]),
    ]
}

/// The check after the kill (see the module documentation); settles pending
/// marks and drops the temporary keyspaces a kill left.
pub fn check_and_settle(db: &Db, exp: &Expected, dir: &Path) {
    let dropped = dropped(dir);
    let next_tmp = exp.read_u64(NEXT_TMP_AT);
    let mut leftovers = Vec::new();
    for name in db.keyspace_names() {
        if name == "default" || NAMED.contains(&name.as_str()) {
            continue;
        }
        let n = name
            .strip_prefix("tmp-")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| fail(format!("unknown keyspace {name:?}")));
        if dropped.contains(&n) {
            fail(format!("keyspace {name}, dropped, is back"));
        }
        if n >= next_tmp {
            fail(format!("keyspace {name} was never created"));
        }
        leftovers.push(n);
    }
    let named = named(db);
    let mut live = 0usize;
    for i in 0..SLOTS {
        let (c, p) = (exp.committed(i), exp.pending(i));
        let found = read_slot(db, &named, i);
        let shown = || {
            found
                .clone()
                .map(|f| f.map(|v| String::from_utf8_lossy(&v).into_owned()))
        };
        if found[1] != found[0] || found[2] != found[0] {
            fail(format!(
                "slot {i}: the keyspaces disagree (default, a, b): {:?}; committed {c}, \
                 pending {p}",
                shown()
            ));
        }
        let is_c = matches(i, c, found[0].as_deref());
        let is_p = p != 0 && matches(i, p, found[0].as_deref());
        if !is_c && !is_p {
            fail(format!(
                "slot {i}: committed version {c}, pending {p}, found {:?}",
                shown()
            ));
        }
        live += usize::from(found[0].is_some());
        settle(exp, i, p, is_p);
    }
    let scans = [
        ("default", db.prefix(SLOT_PREFIX)),
        (NAMED[0], named[0].iter()),
        (NAMED[1], named[1].iter()),
    ];
    for (ks, scan) in scans {
        let mut count = 0usize;
        for item in scan {
            let (k, v) = item.unwrap_or_else(|e| fail(format!("keyspace {ks}: scan: {e}")));
            let i = std::str::from_utf8(&k)
                .ok()
                .and_then(|s| s.strip_prefix(SLOT_PREFIX))
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&i| i < SLOTS)
                .unwrap_or_else(|| {
                    fail(format!(
                        "keyspace {ks}: scan: unknown key {:?}",
                        String::from_utf8_lossy(&k)
                    ))
                });
            if !matches(i, exp.committed(i), Some(&v)) {
                fail(format!(
                    "keyspace {ks}: scan: slot {i} reads {:?}",
                    String::from_utf8_lossy(&v)
                ));
            }
            count += 1;
        }
        if count != live {
            fail(format!(
                "keyspace {ks}: scan yields {count} slots, point reads {live}"
            ));
        }
    }
    for n in leftovers {
        let name = tmp_name(n);
        let ks = db
            .keyspace(&name)
            .unwrap_or_else(|e| fail(format!("keyspace {name}: {e}")));
        let held: Vec<(Bytes, Bytes)> = ks
            .iter()
            .collect::<lsm_core::Result<_>>()
            .unwrap_or_else(|e| fail(format!("keyspace {name}: scan: {e}")));
        let whole = held.len() == FILL
            && held
                .iter()
                .enumerate()
                .all(|(j, (k, v))| k[..] == tmp_key(n, j)[..] && v[..] == tmp_value(n, j)[..]);
        if !held.is_empty() && !whole {
            fail(format!(
                "keyspace {name}: {} keys, neither none nor its whole fill of {FILL}",
                held.len()
            ));
        }
        drop_tmp(db, dir, n);
    }
}

/// Drops `tmp-n` and records that the drop returned.
fn drop_tmp(db: &Db, dir: &Path, n: u64) {
    let name = tmp_name(n);
    db.drop_keyspace(&name)
        .unwrap_or_else(|e| fail(format!("drop {name}: {e}")));
    record_drop(dir, n);
    if db.keyspace_names().contains(&name) {
        fail(format!("keyspace {name} is still listed after its drop"));
    }
}

/// The life of one temporary keyspace: created, filled, flushed, dropped.
fn tmp_life(db: &Db, exp: &Expected, dir: &Path) {
    let n = exp.read_u64(NEXT_TMP_AT);
    exp.write_u64(NEXT_TMP_AT, n + 1);
    let name = tmp_name(n);
    let ks = db
        .keyspace(&name)
        .unwrap_or_else(|e| fail(format!("create {name}: {e}")));
    let mut batch = WriteBatch::new();
    for j in 0..FILL {
        batch.put_in(&ks, tmp_key(n, j), tmp_value(n, j));
    }
    db.write(batch)
        .unwrap_or_else(|e| fail(format!("fill {name}: {e}")));
    ks.flush()
        .unwrap_or_else(|e| fail(format!("flush {name}: {e}")));
    drop_tmp(db, dir, n);
}

/// The writer of cross-keyspace batches (see the module documentation).
pub fn writer(db: &Db, exp: &Expected, dir: &Path, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let named = named(db);
    let mut committed: Vec<u64> = (0..SLOTS).map(|i| exp.committed(i)).collect();
    for n in 1u64.. {
        if rng.gen_ratio(1, TMP_EVERY) {
            tmp_life(db, exp, dir);
        }
        let i = rng.gen_range(0..SLOTS);
        let v = committed[i] + 1;
        let key = slot_key(i);
        let mut batch = WriteBatch::new();
        if v.is_multiple_of(DELETE_EVERY) {
            batch.delete(&key);
            for ks in &named {
                batch.delete_in(ks, &key);
            }
        } else {
            let value = expected_value(i, v);
            batch.put(&key, &value);
            for ks in &named {
                batch.put_in(ks, &key, &value);
            }
        }
        exp.set_pending(i, v);
        let sync = WriteOptions::default().with_sync(rng.gen_ratio(1, 10));
        db.write_opt(batch, &sync)
            .unwrap_or_else(|e| fail(format!("keyspace writer: slot {i}: {e}")));
        committed[i] = v;
        exp.set_committed(i, v);
        exp.set_pending(i, 0);
        if n.is_multiple_of(64) {
            exp.write_u64(BATCHES_AT, batches(exp) + 64);
        }
    }
}

/// While the writer runs: at one snapshot, the three keyspaces hold the same
/// value of a slot.
pub fn reader(db: Arc<Db>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let named = named(&db);
    loop {
        let i = rng.gen_range(0..SLOTS);
        let snapshot = db.snapshot();
        let key = slot_key(i);
        let get = |r: lsm_core::Result<Option<Bytes>>| {
            r.unwrap_or_else(|e| fail(format!("keyspace reader: slot {i}: {e}")))
        };
        let found = [
            get(snapshot.get(&key)),
            get(snapshot.get_in(&named[0], &key)),
            get(snapshot.get_in(&named[1], &key)),
        ];
        if found[1] != found[0] || found[2] != found[0] {
            fail(format!(
                "keyspace reader: slot {i}: the keyspaces disagree at one snapshot: {found:?}"
            ));
        }
    }
}

/// In the parent, with no child running: the segment files of `db_dir` whose
/// keyspace (from their properties) the manifest no longer lists. Files that do
/// not read (a killed flush's partial output) are not counted; none while the
/// database has no manifest yet (the first child killed while creating it).
pub fn dead_keyspace_segments(db_dir: &Path) -> BTreeSet<String> {
    let Ok(manifest) = std::fs::read(db_dir.join("MANIFEST")) else {
        return BTreeSet::new();
    };
    let state = replay_manifest(&manifest).expect("replay the manifest");
    std::fs::read_dir(db_dir)
        .expect("list the database")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".seg"))
        .filter(|name| {
            let Ok(data) = std::fs::read(db_dir.join(name)) else {
                return false; // removed since the listing
            };
            SegmentReader::open(Bytes::from(data), ReadOptions::default())
                .is_ok_and(|seg| !state.keyspaces.contains_key(&seg.properties().keyspace))
        })
        .collect()
}
