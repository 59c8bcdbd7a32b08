//! Level sizes derived from the bottom (`Options::dynamic_level_bytes`): a fill of
//! small segments reaches the dynamic shape (the last level holds most of the
//! bytes, no level holds data the shape has no room for), every read stays
//! correct against a `BTreeMap`, a reopen keeps it all, and a tree written with
//! either sizing opens and keeps working under the other.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use lsm_core::{Db, Options};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const LEVEL1: u64 = 16 << 10;
const MULTIPLIER: usize = 4;
const LAST: usize = 6;

fn options(dynamic: bool) -> Options {
    Options::default()
        .with_memtable_size(16 << 10)
        .with_segment_size(4 << 10)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(12)
        .with_level_size_multiplier(MULTIPLIER)
        .with_level1_size(LEVEL1)
        .with_block_cache_size(256 << 10)
        .with_dynamic_level_bytes(dynamic)
}

/// `count` random writes over `keys` keys: mostly puts of 60..140-byte values,
/// one in ten a delete; the model follows.
fn write(db: &Db, model: &mut Model, seed: u64, count: usize, keys: u32) {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..count {
        let k = format!("key{:07}", rng.gen_range(0..keys)).into_bytes();
        if rng.gen_range(0..10) == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let len = rng.gen_range(60..140);
            let v: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..=b'z')).collect();
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
}

/// Every key of the model read back, absent keys absent, and a full scan equal to
/// the model.
fn check_reads(db: &Db, model: &Model, keys: u32) {
    for i in 0..keys {
        let k = format!("key{i:07}").into_bytes();
        let got = db.get(&k).unwrap();
        assert_eq!(got.as_deref(), model.get(&k).map(Vec::as_slice), "key {i}");
    }
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert!(scanned == expected, "scan differs from the model");
}

/// Bytes per level, every level (the statistics stop at the deepest non-empty one).
fn level_bytes(db: &Db) -> Vec<u64> {
    let mut bytes: Vec<u64> = db.stats().levels.iter().map(|l| l.bytes).collect();
    bytes.resize(lsm_format::manifest::MAX_LEVELS, 0);
    bytes
}

/// Waits until background compaction has brought the levels to a shape `shape`
/// accepts and has stopped: `shape` holds on two looks a quarter of a second
/// apart with no compaction between them and level 0 under its trigger. Fails
/// with `shape`'s complaint when that does not happen within two minutes (the
/// machine may be loaded, and every step of compaction syncs files).
fn settle(db: &Db, shape: fn(&[u64]) -> Result<(), String>) -> Vec<u64> {
    let start = Instant::now();
    let mut seen: Option<(u64, Vec<u64>)> = None;
    loop {
        let compactions = db.stats().compactions;
        let bytes = level_bytes(db);
        let verdict = shape(&bytes);
        let quiet = db.stats().levels[0].segments < 2;
        if verdict.is_ok() && quiet {
            if seen.as_ref() == Some(&(compactions, bytes.clone())) {
                return bytes;
            }
            seen = Some((compactions, bytes));
        } else {
            seen = None;
        }
        if let Err(why) = verdict {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "compaction did not reach the shape: {why}"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "no quiet moment"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The dynamic shape: the non-empty levels below 0 are a run that ends at the
/// last level, the shallowest of them is one the data needs (its share
/// `bottom / multiplier^(last - n)` is over `level1_size / multiplier`), and the
/// last level holds at least about `(multiplier - 1) / multiplier` of the bytes
/// below level 0 (for data much larger than `level1_size`: no level aims for
/// less than `level1_size`).
fn dynamic_shape(bytes: &[u64]) -> Result<(), String> {
    dynamic_levels(bytes)?;
    let below0: u64 = bytes.iter().skip(1).sum();
    let fraction = bytes[LAST] as f64 / below0 as f64;
    let bound = (MULTIPLIER - 1) as f64 / MULTIPLIER as f64 - 0.05;
    if fraction < bound {
        return Err(format!(
            "the last level holds {fraction:.3} of the bytes, under {bound:.3}: {bytes:?}"
        ));
    }
    Ok(())
}

/// The levels part of [`dynamic_shape`].
fn dynamic_levels(bytes: &[u64]) -> Result<(), String> {
    if bytes.iter().skip(LAST + 1).any(|&b| b > 0) {
        return Err(format!("data below the last level: {bytes:?}"));
    }
    let bottom = bytes[LAST];
    if bottom == 0 {
        return Err(format!("empty last level: {bytes:?}"));
    }
    let shallowest = (1..=LAST).find(|&n| bytes[n] > 0).unwrap_or(LAST);
    if (shallowest..=LAST).any(|n| bytes[n] == 0) {
        return Err(format!("a gap between the non-empty levels: {bytes:?}"));
    }
    let m = MULTIPLIER as u64;
    let share = bottom / m.pow((LAST - shallowest) as u32);
    if shallowest < LAST && share <= LEVEL1 / m {
        return Err(format!(
            "level {shallowest} holds data the shape has no room for: {bytes:?}"
        ));
    }
    Ok(())
}

/// The static shape: every level from 1 to the one above the deepest non-empty
/// level within `level1_size * multiplier^(n-1)`.
fn static_shape(bytes: &[u64]) -> Result<(), String> {
    let deepest = bytes.iter().rposition(|&b| b > 0).unwrap_or(0);
    let mut target = LEVEL1;
    for (n, &b) in bytes.iter().enumerate().take(deepest).skip(1) {
        if b > target {
            return Err(format!("level {n} over its target {target}: {bytes:?}"));
        }
        target *= MULTIPLIER as u64;
    }
    Ok(())
}

fn open(path: &Path, dynamic: bool) -> Db {
    Db::open(path, options(dynamic)).unwrap()
}

const KEYS: u32 = 12_000;
const WRITES: usize = 30_000;

#[test]
fn a_fill_reaches_the_dynamic_shape_and_keeps_it_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = open(dir.path(), true);
    write(&db, &mut model, 1, WRITES, KEYS);
    let shape = settle(&db, dynamic_shape);
    check_reads(&db, &model, KEYS);
    // Level 0 went to the base level, not to level 1: with about 1.5 MB below
    // level 0, four or five levels are needed.
    assert_eq!(shape[1], 0, "{shape:?}");
    db.close().unwrap();

    let db = open(dir.path(), true);
    // The levels are as they were (or a compaction that was still running went
    // on in the same shape).
    let reopened = level_bytes(&db);
    dynamic_shape(&reopened).unwrap();
    assert_eq!(reopened[1], 0, "{reopened:?}");
    check_reads(&db, &model, KEYS);
    // Growth keeps the shape.
    write(&db, &mut model, 2, WRITES, KEYS * 2);
    settle(&db, dynamic_shape);
    check_reads(&db, &model, KEYS * 2);
    db.close().unwrap();
}

#[test]
fn a_static_tree_opened_with_dynamic_sizing_converges() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = open(dir.path(), false);
    write(&db, &mut model, 3, WRITES, KEYS);
    let before = settle(&db, static_shape);
    assert!(before[1] > 0, "static sizing fills level 1: {before:?}");
    db.close().unwrap();

    let db = open(dir.path(), true);
    check_reads(&db, &model, KEYS);
    settle(&db, dynamic_shape);
    check_reads(&db, &model, KEYS);
    write(&db, &mut model, 4, WRITES / 3, KEYS);
    settle(&db, dynamic_shape);
    check_reads(&db, &model, KEYS);
    db.close().unwrap();
}

#[test]
fn a_dynamic_tree_opened_with_static_sizing_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = open(dir.path(), true);
    write(&db, &mut model, 5, WRITES, KEYS);
    settle(&db, dynamic_shape);
    db.close().unwrap();

    let db = open(dir.path(), false);
    check_reads(&db, &model, KEYS);
    write(&db, &mut model, 6, WRITES, KEYS);
    let after = settle(&db, static_shape);
    check_reads(&db, &model, KEYS);
    assert!(
        after[1] > 0,
        "level 0 compacts into level 1 again: {after:?}"
    );
    db.close().unwrap();

    // And back: the levels static sizing filled drain into the dynamic shape.
    let db = open(dir.path(), true);
    settle(&db, dynamic_shape);
    check_reads(&db, &model, KEYS);
    db.close().unwrap();
}

#[test]
fn a_full_compaction_goes_to_the_last_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = open(dir.path(), true);
    write(&db, &mut model, 7, 3_000, 1_000);
    db.compact().unwrap();
    let shape = level_bytes(&db);
    assert!(shape[LAST] > 0, "{shape:?}");
    assert!(
        shape.iter().enumerate().all(|(n, &b)| n == LAST || b == 0),
        "{shape:?}"
    );
    check_reads(&db, &model, 1_000);
    // Into a chosen level: the data goes there, and as the shape has no room for
    // level 2, background compaction drains it back down.
    db.compact_into(2).unwrap();
    assert!(level_bytes(&db)[2] > 0);
    check_reads(&db, &model, 1_000);
    let shape = settle(&db, dynamic_levels);
    assert_eq!(shape[2], 0, "{shape:?}");
    check_reads(&db, &model, 1_000);
    db.close().unwrap();
}
