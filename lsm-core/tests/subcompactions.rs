//! Subcompactions: a compaction split into key ranges merged side by side gives
//! the same database as one merge. The same history (puts, overwrites, deletes,
//! range deletes, held snapshots, expiring values, a compaction filter, values on
//! both sides of the blob threshold) is written with `max_subcompactions` 1 and 4;
//! after a full compaction both show the same reads, at the latest state and at
//! every snapshot, hold the same entries and range tombstones, counted the same;
//! the split really happened, and each level's files stay disjoint.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::files::{open_segment, segment_entries, segments};
use lsm_core::{CompactionFilter, Db, FilterDecision, ManualClock, Options, Snapshot};
use lsm_format::range_del::Fragments;
use lsm_format::EntryKind;

/// Removes values that start with `gone`, replaces those that start with `swap`
/// by a fixed value (so a second offer changes nothing).
struct Rewriter;

impl CompactionFilter for Rewriter {
    fn filter(&self, _level: usize, _key: &[u8], value: &[u8], _bottom: bool) -> FilterDecision {
        if value.starts_with(b"gone") {
            FilterDecision::Remove
        } else if value.starts_with(b"swap") {
            FilterDecision::ChangeValue(b"swapped by the filter".to_vec())
        } else {
            FilterDecision::Keep
        }
    }

    fn name(&self) -> &str {
        "rewriter"
    }
}

fn options(clock: &Arc<ManualClock>, max_subcompactions: usize) -> Options {
    Options::default()
        .with_memtable_size(8 << 20)
        .with_segment_size(8 << 10)
        .with_block_size(512)
        // No compaction but the ones the test asks for: both databases see the
        // same ones, at the same points of the history.
        .with_level0_compaction_trigger(1000)
        .with_level0_stop_writes(2000)
        .with_blob_threshold(Some(200))
        // Nor the background's rewrites of segments pointing into mostly
        // garbage blob files, which it runs when it has time.
        .with_blob_gc_ratio(1.0)
        .with_clock(clock.clone())
        .with_compaction_filter(Arc::new(Rewriter))
        .with_max_subcompactions(max_subcompactions)
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

/// A value of `i`, `round`: every fifth above the blob threshold, some the filter
/// removes or changes.
fn value(i: u32, round: u32) -> Vec<u8> {
    let head = match (i + round) % 23 {
        0 => "gone",
        1 => "swap",
        _ => "keep",
    };
    let len = if i.is_multiple_of(5) {
        300 + i % 50
    } else {
        20 + i % 30
    };
    let mut v = format!("{head} {i} {round} ").into_bytes();
    v.resize(len as usize, b'a' + (i % 26) as u8);
    v
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
/// A stored entry: key, sequence number, kind, value.
type Stored = (Vec<u8>, u64, EntryKind, Vec<u8>);
/// A stored range tombstone: start, end, sequence number.
type StoredTombstone = (Vec<u8>, Vec<u8>, u64);

fn read_all(db: &Db, snapshot: Option<&Snapshot>) -> Pairs {
    let scan = match snapshot {
        Some(s) => s.iter(),
        None => db.iter(),
    };
    scan.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What one database showed and holds after the history.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// The latest state, and the state at each held snapshot, before the full
    /// compaction and after.
    reads: Vec<Pairs>,
    /// Point reads of every key written.
    gets: Vec<Option<Vec<u8>>>,
    /// Every stored entry, with a blob pointer's bytes left out (they name file
    /// numbers, which differ); the reads above compare the values.
    entries: Vec<Stored>,
    /// Every range tombstone stored, as one set (cut the same way).
    tombstones: Vec<StoredTombstone>,
    /// The counters a split compaction must count as one: versions expired,
    /// removed and changed by the filter, dropped under range deletes, range
    /// tombstones written and dropped, compactions.
    counters: [u64; 7],
}

const KEYS: u32 = 6000;

/// Writes the history, compacting at fixed points, and returns what the database
/// shows and holds, with its `subcompactions` counter.
fn run(dir: &Path, max_subcompactions: usize) -> (Outcome, u64) {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1 << 30)));
    let db = Db::open(dir, options(&clock, max_subcompactions)).unwrap();
    let mut snapshots = Vec::new();
    for round in 0..4u32 {
        for i in (0..KEYS).filter(|i| (i + round) % 3 != 0) {
            if (i + round) % 17 == 0 {
                db.put_with_ttl(key(i), value(i, round), Duration::from_secs(60))
                    .unwrap();
            } else {
                db.put(key(i), value(i, round)).unwrap();
            }
            if i % 500 == 0 {
                db.flush().unwrap();
            }
        }
        // Keys written once, expiring after one round or long after the end.
        for i in (0..600u32).filter(|i| i % 4 == round) {
            let ttl = if i % 3 == 0 { 1000 } else { 40 };
            db.put_with_ttl(format!("ttl{i:04}"), value(i, 7), Duration::from_secs(ttl))
                .unwrap();
        }
        for i in (round..KEYS).step_by(41) {
            db.delete(key(i)).unwrap();
        }
        let lo = 700 * round + 100;
        db.delete_range(key(lo), key(lo + 250)).unwrap();
        db.flush().unwrap();
        if round == 1 || round == 2 {
            snapshots.push(db.snapshot());
            db.compact().unwrap();
        }
        clock.advance(Duration::from_secs(45));
    }
    // A range delete across much of the key space, newer than every snapshot.
    db.delete_range(key(3000), key(4500)).unwrap();
    db.flush().unwrap();
    let mut reads = vec![read_all(&db, None)];
    reads.extend(snapshots.iter().map(|s| read_all(&db, Some(s))));
    // The older snapshot goes: what only it could read (and values it kept from
    // expiring) may go now; the newer one stays.
    drop(snapshots.remove(0));
    db.compact().unwrap();
    reads.push(read_all(&db, None));
    reads.extend(snapshots.iter().map(|s| read_all(&db, Some(s))));
    let gets = (0..KEYS)
        .map(|i| db.get(key(i)).unwrap().map(|v| v.to_vec()))
        .collect();
    let s = db.stats();
    let counters = [
        s.expired_versions,
        s.filter_removed,
        s.filter_changed,
        s.dropped_by_range,
        s.range_tombstones_written,
        s.range_tombstones_dropped,
        s.compactions,
    ];
    let subcompactions = s.subcompactions;
    drop(snapshots);
    drop(db);
    let (entries, tombstones) = stored(dir);
    let outcome = Outcome {
        reads,
        gets,
        entries,
        tombstones,
        counters,
    };
    (outcome, subcompactions)
}

/// The entries and range tombstones of every segment of `dir`, after checking
/// that the segments of the one level a full compaction leaves never overlap.
fn stored(dir: &Path) -> (Vec<Stored>, Vec<StoredTombstone>) {
    let mut bounds = Vec::new();
    let mut entries = Vec::new();
    let mut sets = Vec::new();
    for path in segments(dir) {
        let reader = open_segment(&path);
        let p = reader.properties();
        bounds.push((p.smallest_key.to_vec(), p.largest_key.to_vec()));
        sets.push(reader.range_tombstones().clone());
        for e in segment_entries(&path) {
            let value = match e.kind {
                EntryKind::BlobPointer => Vec::new(),
                _ => e.value,
            };
            entries.push((e.key, e.seq, e.kind, value));
        }
    }
    assert!(bounds.len() > 4, "{} segments", bounds.len());
    bounds.sort();
    for pair in bounds.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "segments overlap: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
    entries.sort();
    // Joined where neighbours agree: the same tombstones whatever the file cuts.
    let tombstones = Fragments::merge(&sets)
        .retain(|_, _| true)
        .tombstones()
        .map(|t| (t.start.to_vec(), t.end.to_vec(), t.seq))
        .collect();
    (entries, tombstones)
}

#[test]
fn a_split_compaction_gives_the_same_database_as_one_merge() {
    let one = tempfile::tempdir().unwrap();
    let four = tempfile::tempdir().unwrap();
    let (single, none) = run(one.path(), 1);
    let (split, ranges) = run(four.path(), 4);
    assert_eq!(none, 0, "max_subcompactions 1 never splits");
    assert!(
        ranges >= 12,
        "three full compactions of 4 ranges each: {ranges}"
    );
    // Every rule had something to do.
    let [expired, removed, changed, by_range, written, ..] = single.counters;
    assert!(
        expired > 0 && removed > 0 && changed > 0,
        "{:?}",
        single.counters
    );
    assert!(by_range > 0 && written > 0, "{:?}", single.counters);
    assert!(single.entries.iter().any(|e| e.2 == EntryKind::BlobPointer));
    assert!(single.entries.iter().any(|e| e.2 == EntryKind::Tombstone));
    assert!(!single.tombstones.is_empty());
    assert_eq!(single.reads.len(), split.reads.len());
    for (i, (a, b)) in single.reads.iter().zip(&split.reads).enumerate() {
        assert!(
            a == b,
            "read {i} differs ({} and {} pairs)",
            a.len(),
            b.len()
        );
    }
    assert!(single.gets == split.gets, "point reads differ");
    assert_eq!(single.entries.len(), split.entries.len());
    assert!(single.entries == split.entries, "stored entries differ");
    assert_eq!(single.tombstones, split.tombstones);
    assert_eq!(single.counters, split.counters);
}

/// A level-0 compaction picked by the background thread (not a manual one) is
/// split too, its outputs disjoint from one another and from the rest of the
/// level it writes.
#[test]
fn automatic_level0_compactions_split_and_keep_level1_disjoint() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .with_memtable_size(64 << 10)
        .with_segment_size(16 << 10)
        .with_block_size(512)
        .with_blob_threshold(Some(200))
        .with_max_subcompactions(2);
    let db = Db::open(dir.path(), opts).unwrap();
    let mut model = BTreeMap::new();
    let mut state = 7u64;
    for n in 0..30_000u64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = key((state >> 33) as u32 % 8000);
        let v = value(n as u32, 0);
        db.put(&k, &v).unwrap();
        model.insert(k.into_bytes(), v);
    }
    db.flush().unwrap();
    // Until level 0 is below its trigger: no compaction is due any more.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while db.stats().levels[0].segments >= 4 {
        assert!(std::time::Instant::now() < deadline, "{:?}", db.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = db.stats();
    assert!(stats.subcompactions >= 2, "{stats:?}");
    // Level 0 compacts into level 1 under static sizing and into the base level
    // (here the last) under dynamic sizing: either way, below level 0.
    let below_level0: usize = stats.levels[1..].iter().map(|l| l.segments).sum();
    assert!(below_level0 > 2, "{stats:?}");
    let got = read_all(&db, None);
    assert!(got == model.into_iter().collect::<Pairs>());
    db.close().unwrap();
    let manifest = std::fs::read(dir.path().join("MANIFEST")).unwrap();
    let state = lsm_format::manifest::replay_manifest(&manifest).unwrap();
    for (level, files) in state.levels.iter().enumerate().skip(1) {
        let mut bounds: Vec<_> = files
            .iter()
            .map(|f| (f.smallest_key.clone(), f.largest_key.clone()))
            .collect();
        bounds.sort();
        for pair in bounds.windows(2) {
            assert!(pair[0].1 < pair[1].0, "level {level} overlaps: {pair:?}");
        }
    }
}
