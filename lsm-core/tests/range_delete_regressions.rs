//! Range-delete shapes that broke other engines, each checked against a `BTreeMap`
//! in both scan directions and with seeks that start inside a deleted range:
//! - reverse iteration across file boundaries inside a range tombstone (Pebble's
//!   bug of a reverse scan stepping back into a file whose keys the tombstone
//!   hides, across many small segments of one level);
//! - a range tombstone spanning several files of a level while compactions move
//!   one file of that level at a time (a tiny level 1);
//! - deleted keys never reappearing after compactions with snapshots opened and
//!   released in between (LevelDB's and RocksDB's resurrections);
//! - a prefix delete over a large number of keys, then a scan of that range.
//!
//! `LSM_RANGE_DELETE_KEYS` sets the size of the last one (default 1,000,000, about
//! 5 seconds in the test profile).

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use common::model::{collect, diff, range, Direction, Pairs};
use lsm_core::{Compression, Db, Options, Snapshot, WriteBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn k(i: usize) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

fn v(i: usize, round: usize) -> Vec<u8> {
    let mut v = format!("{i}:{round}:").into_bytes();
    v.resize(60, b'a' + (round % 26) as u8);
    v
}

/// Many small segments: 4 KiB each, about 50 keys apiece.
fn small_segments() -> Options {
    Options::default()
        .with_memtable_size(64 << 10)
        .with_segment_size(4096)
        .with_block_size(512)
        .with_level0_compaction_trigger(4)
        .with_level0_stop_writes(24)
        .with_compression(Compression::None)
}

fn remove_range(model: &mut Model, start: &[u8], end: &[u8]) {
    model.retain(|key, _| !(start <= key.as_slice() && key.as_slice() < end));
}

/// A reader (database or snapshot) as its scan over bounds.
trait Reader {
    fn pairs(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, dir: Direction) -> Pairs;
}

impl Reader for Db {
    fn pairs(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, dir: Direction) -> Pairs {
        collect(self.scan((lo, hi)), dir).unwrap()
    }
}

impl Reader for Snapshot {
    fn pairs(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, dir: Direction) -> Pairs {
        collect(self.scan((lo, hi)), dir).unwrap()
    }
}

/// Scans of `reader` over ranges that start, end or both inside `[start, end)` and
/// around it, in every direction, against `model`.
fn check_around(reader: &dyn Reader, model: &Model, start: usize, end: usize, what: &str) {
    let mid = (start + end) / 2;
    let inc = |i: usize| Bound::Included(k(i));
    let exc = |i: usize| Bound::Excluded(k(i));
    let ranges = [
        (Bound::Unbounded, Bound::Unbounded),
        (inc(mid), Bound::Unbounded),
        (Bound::Unbounded, exc(mid)),
        (inc(start + 1), exc(end - 1)),
        (inc(mid), inc(end + 3)),
        (inc(start.saturating_sub(3)), exc(mid)),
        (exc(start), inc(end)),
    ];
    for (lo, hi) in ranges {
        for dir in [
            Direction::Forward,
            Direction::Reverse,
            Direction::Mixed(0x5a5a_1234),
        ] {
            let got = reader.pairs(lo.clone(), hi.clone(), dir);
            if let Some(d) = diff(&got, &range(model, &lo, &hi)) {
                panic!("{what}: scan {lo:?}..{hi:?} {dir:?}: {d}");
            }
        }
    }
}

/// Pebble's shape: a level of many small segments, a range tombstone over several
/// of them, and reverse (and forward) scans and seeks that start inside it, with
/// the tombstone in the memtable, in level 0 and merged into the level, with and
/// without a snapshot that still sees the range.
#[test]
fn reverse_iteration_across_file_boundaries_inside_a_range_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_segments()).unwrap();
    let mut model = Model::new();
    for i in 0..1500 {
        db.put(k(i), v(i, 0)).unwrap();
        model.insert(k(i), v(i, 0));
    }
    db.compact().unwrap();
    let files = db.stats().levels.iter().map(|l| l.segments).sum::<usize>();
    assert!(files >= 10, "only {files} segments");
    let before = model.clone();
    let snap = db.snapshot();
    db.delete_range(k(200), k(1300)).unwrap();
    remove_range(&mut model, &k(200), &k(1300));
    // Keys written after the tombstone inside its range are visible.
    for i in [700, 701, 1299] {
        db.put(k(i), v(i, 1)).unwrap();
        model.insert(k(i), v(i, 1));
    }
    for stage in ["memtable", "level 0", "compacted with a snapshot"] {
        match stage {
            "level 0" => db.flush().unwrap(),
            "compacted with a snapshot" => db.compact().unwrap(),
            _ => {}
        }
        check_around(&db, &model, 200, 1300, stage);
        check_around(&snap, &before, 200, 1300, &format!("{stage}, the snapshot"));
    }
    drop(snap);
    db.compact().unwrap();
    check_around(&db, &model, 200, 1300, "compacted, no snapshot");
    db.close().unwrap();
}

/// A tombstone over many files of level 1, kept by a snapshot, while small writes
/// make level 1 overflow (a 16 KiB level 1) so that compactions move one of its
/// files at a time to level 2: after each, the database and the snapshot read as
/// before.
#[test]
fn a_range_tombstone_spanning_several_files_during_one_file_compactions() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_segments()
        .with_level1_size(16 << 10)
        .with_level_size_multiplier(4)
        .with_level0_compaction_trigger(2);
    let db = Db::open(dir.path(), options).unwrap();
    let mut model = Model::new();
    for i in (0..3000).step_by(2) {
        db.put(k(i), v(i, 0)).unwrap();
        model.insert(k(i), v(i, 0));
    }
    db.compact_into(1).unwrap();
    // Level 1 is far over its size now: background compactions start moving its
    // files down one at a time.
    let files: usize = db.stats().levels.iter().map(|l| l.segments).sum();
    assert!(files >= 10, "{files} segments");
    let snap = db.snapshot();
    let seen = model.clone();
    db.delete_range(k(500), k(2500)).unwrap();
    remove_range(&mut model, &k(500), &k(2500));
    let mut rng = StdRng::seed_from_u64(2722);
    let mut deeper = 0;
    for round in 1..=6 {
        // Odd keys spread over the whole space: every flush overlaps many level-1
        // files, and level 1 overflows.
        for _ in 0..300 {
            let i = rng.gen_range(0..1500) * 2 + 1;
            db.put(k(i), v(i, round)).unwrap();
            model.insert(k(i), v(i, round));
        }
        db.flush().unwrap();
        let levels = db.stats().levels;
        deeper = deeper.max(levels.get(2).map_or(0, |l| l.segments));
        check_around(&db, &model, 500, 2500, &format!("round {round}"));
        check_around(
            &snap,
            &seen,
            500,
            2500,
            &format!("round {round}, the snapshot"),
        );
    }
    assert!(deeper > 0, "no compaction reached level 2");
    drop(snap);
    db.compact().unwrap();
    check_around(&db, &model, 500, 2500, "after a full compaction");
    db.close().unwrap();
}

/// Deleted keys never come back: puts, range and prefix deletes, point deletes over
/// several levels, with snapshots taken and released between them and flushes and
/// compactions (full and into each level) in every order; every state is checked
/// against the model, every snapshot against its copy.
#[test]
fn deleted_keys_never_reappear_after_compactions_with_snapshots_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_segments()
        .with_level1_size(32 << 10)
        .with_level0_compaction_trigger(2);
    let db = Db::open(dir.path(), options).unwrap();
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    let mut rng = StdRng::seed_from_u64(184);
    let full = |db: &Db, model: &Model, what: &str| {
        for dir in [Direction::Forward, Direction::Reverse] {
            let got = db.pairs(Bound::Unbounded, Bound::Unbounded, dir);
            if let Some(d) = diff(&got, &range(model, &Bound::Unbounded, &Bound::Unbounded)) {
                panic!("{what}: {dir:?}: {d}");
            }
        }
    };
    for step in 0..400 {
        match rng.gen_range(0..100) {
            0..=54 => {
                let mut batch = WriteBatch::new();
                for _ in 0..rng.gen_range(1..20) {
                    let i = rng.gen_range(0..600);
                    batch.put(k(i), v(i, step));
                    model.insert(k(i), v(i, step));
                }
                db.write(batch).unwrap();
            }
            55..=64 => {
                let i = rng.gen_range(0..600);
                db.delete(k(i)).unwrap();
                model.remove(&k(i));
            }
            65..=74 => {
                let a = rng.gen_range(0..600);
                let b = (a + rng.gen_range(1..150)).min(600);
                db.delete_range(k(a), k(b)).unwrap();
                remove_range(&mut model, &k(a), &k(b));
            }
            75..=77 => {
                // `k0003` covers k000300 to k000399.
                let p = format!("k000{}", rng.gen_range(0..6));
                db.delete_prefix(&p).unwrap();
                model.retain(|key, _| !key.starts_with(p.as_bytes()));
            }
            78..=83 => {
                if snaps.len() >= 3 {
                    snaps.remove(rng.gen_range(0..snaps.len()));
                }
                snaps.push((db.snapshot(), model.clone()));
            }
            84..=88 => {
                if !snaps.is_empty() {
                    snaps.remove(rng.gen_range(0..snaps.len()));
                }
            }
            89..=93 => db.flush().unwrap(),
            94..=96 => db.compact_into(rng.gen_range(1..4)).unwrap(),
            _ => db.compact().unwrap(),
        }
        if step % 10 == 9 {
            full(&db, &model, &format!("step {step}"));
            for (n, (snap, seen)) in snaps.iter().enumerate() {
                let got = snap.pairs(Bound::Unbounded, Bound::Unbounded, Direction::Reverse);
                if let Some(d) = diff(&got, &range(seen, &Bound::Unbounded, &Bound::Unbounded)) {
                    panic!("step {step}: snapshot {n}: {d}");
                }
            }
        }
    }
    snaps.clear();
    db.compact().unwrap();
    full(&db, &model, "after the last compaction");
    db.close().unwrap();
    let db = Db::open(dir.path(), small_segments()).unwrap();
    full(&db, &model, "after reopening");
}

/// A prefix delete over `LSM_RANGE_DELETE_KEYS` keys (default 1,000,000) in segments,
/// then scans of that range yield nothing, in both directions; the keys around it
/// stay. The blocks read by the scans (block-cache hits plus misses) are printed and
/// must be few: the scan skips the deleted range by seeking past it.
#[test]
fn a_prefix_delete_over_many_keys_then_a_scan_of_it() {
    let n: usize = common::env_or("LSM_RANGE_DELETE_KEYS", 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default()
        .with_memtable_size(8 << 20)
        .with_block_cache_size(1 << 20);
    let db = Db::open(dir.path(), options).unwrap();
    db.put("a-before", "1").unwrap();
    db.put("z-after", "2").unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..n {
        batch.put(format!("m/{i:08}"), format!("{i}"));
        if batch.len() == 10_000 {
            db.write(std::mem::take(&mut batch)).unwrap();
        }
    }
    db.write(batch).unwrap();
    db.compact().unwrap();
    db.delete_prefix("m/").unwrap();
    let blocks = |db: &Db| {
        let s = db.stats();
        s.block_cache_hits + s.block_cache_misses
    };
    let before = blocks(&db);
    for dir in [Direction::Forward, Direction::Reverse] {
        let got = collect(db.prefix("m/"), dir).unwrap();
        assert!(got.is_empty(), "{dir:?}: {} keys left", got.len());
        let all = collect(db.iter(), dir).unwrap();
        let keys: Vec<&[u8]> = all.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [&b"a-before"[..], b"z-after"], "{dir:?}");
    }
    let read = blocks(&db) - before;
    let segment_bytes: u64 = db.stats().levels.iter().map(|l| l.bytes).sum();
    println!(
        "{n} keys deleted by prefix: four scans over them read {read} blocks of \
         {segment_bytes} segment bytes"
    );
    // Skipping, the scans read a few blocks per segment; stepping through the keys
    // they would read every block (over 4 KiB each) at least once.
    assert!(
        read * 4096 < segment_bytes / 4,
        "the scans read {read} blocks of {segment_bytes} bytes of segments"
    );
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(db.iter().count(), 2);
    db.close().unwrap();
}

/// The smallest shape of a compaction whose output is cut into several files while
/// a snapshot keeps a range tombstone over all of them: the files must not overlap
/// (each holds the tombstone only within its own key range).
#[test]
fn a_compaction_cutting_a_kept_range_tombstone_into_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_segments()).unwrap();
    for i in 0..200 {
        db.put(k(i), v(i, 0)).unwrap();
    }
    let snap = db.snapshot();
    db.delete_range(k(10), k(190)).unwrap();
    db.compact().unwrap();
    let files: usize = db.stats().levels.iter().map(|l| l.segments).sum();
    assert!(files >= 2, "the output fits one file: {files}");
    assert_eq!(db.iter().count(), 20);
    assert_eq!(snap.iter().count(), 200);
    assert_eq!(snap.iter().rev().count(), 200);
    db.close().unwrap();
}
