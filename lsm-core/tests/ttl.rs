//! Values written with a TTL (`Db::put_with_ttl`, `WriteBatch::put_with_ttl`),
//! judged against a `ManualClock`: what every read surface shows before and after
//! the expiry, in the memtable, after flush, compaction and reopen; that an expired
//! value hides older ones like a delete (never resurrecting one, across levels);
//! that snapshots judge expiry at their own time; that compaction reclaims the
//! space of expired values.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use lsm_core::{Db, ManualClock, Options, Snapshot, WriteBatch};

const START_SECS: u64 = 1_700_000_000;

fn new_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(START_SECS),
    ))
}

/// Small files, so a few hundred keys make several segments and levels; no
/// automatic flush before the tests ask for one.
fn options(clock: &Arc<ManualClock>) -> Options {
    Options::default()
        .with_memtable_size(8 << 20)
        .with_segment_size(4 << 10)
        .with_block_size(512)
        .with_level0_compaction_trigger(4)
        .with_clock(clock.clone())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What `db` shows, checked to agree across every read surface.
fn seen(db: &Db) -> Vec<(String, String)> {
    let forward: Vec<(String, String)> = db
        .iter()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    let mut backward: Vec<(String, String)> = db
        .iter()
        .rev()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    backward.reverse();
    assert_eq!(forward, backward, "forward and backward scans differ");
    let by_prefix: Vec<(String, String)> = db
        .prefix("k")
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    let with_k: Vec<(String, String)> = forward
        .iter()
        .filter(|(k, _)| k.starts_with('k'))
        .cloned()
        .collect();
    assert_eq!(by_prefix, with_k, "prefix scan differs");
    let first = db
        .first_key_value()
        .unwrap()
        .map(|(k, v)| (text(&k), text(&v)));
    let last = db
        .last_key_value()
        .unwrap()
        .map(|(k, v)| (text(&k), text(&v)));
    assert_eq!(first.as_ref(), forward.first());
    assert_eq!(last.as_ref(), forward.last());
    for (k, v) in &forward {
        assert_eq!(db.get(k).unwrap().map(|v| text(&v)).as_ref(), Some(v));
        assert!(db.contains_key(k).unwrap());
    }
    forward
}

fn snap_seen(s: &Snapshot) -> Vec<(String, String)> {
    let forward: Vec<(String, String)> = s
        .iter()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    let mut backward: Vec<(String, String)> = s
        .iter()
        .rev()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    backward.reverse();
    assert_eq!(forward, backward);
    for (k, v) in &forward {
        assert_eq!(s.get(k).unwrap().map(|v| text(&v)).as_ref(), Some(v));
    }
    forward
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The scenario every stage shares: `a` plain, `k1` expiring at +10 s over an
/// older plain value, `k2` expiring at +20 s, `z` plain.
fn write_scenario(db: &Db) {
    db.put("a", "plain").unwrap();
    db.put("k1", "old").unwrap();
    db.put_with_ttl("k1", "ten", secs(10)).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_with_ttl("k2", "twenty", secs(20)).put("z", "end");
    db.write(batch).unwrap();
}

/// Checks the scenario at +0, just before +10, at +10 and +20 s; `read` runs at
/// each step (a compaction, a reopen, or nothing) and returns the database to read.
fn check_scenario(clock: &ManualClock, mut read: impl FnMut() -> Arc<Db>) {
    let db = read();
    assert_eq!(
        seen(&db),
        pairs(&[
            ("a", "plain"),
            ("k1", "ten"),
            ("k2", "twenty"),
            ("z", "end")
        ])
    );
    clock.advance(secs(9) + Duration::from_millis(999));
    drop(db); // a reopen needs the last handle closed
    let db = read();
    assert_eq!(db.get("k1").unwrap().as_deref(), Some(&b"ten"[..]));
    clock.advance(Duration::from_millis(1));
    drop(db);
    let db = read();
    // Expired: "old" below stays hidden.
    assert_eq!(db.get("k1").unwrap(), None);
    assert!(!db.contains_key("k1").unwrap());
    assert_eq!(
        seen(&db),
        pairs(&[("a", "plain"), ("k2", "twenty"), ("z", "end")])
    );
    clock.advance(secs(10));
    drop(db);
    let db = read();
    assert_eq!(seen(&db), pairs(&[("a", "plain"), ("z", "end")]));
    assert_eq!(db.first_key_value().unwrap().unwrap().0, "a");
}

#[test]
fn expired_values_read_as_absent_in_the_memtable() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), options(&clock)).unwrap());
    write_scenario(&db);
    check_scenario(&clock, || db.clone());
}

#[test]
fn expired_values_read_as_absent_after_flush() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), options(&clock)).unwrap());
    write_scenario(&db);
    db.flush().unwrap();
    check_scenario(&clock, || db.clone());
}

#[test]
fn expired_values_read_as_absent_after_compaction_at_each_step() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), options(&clock)).unwrap());
    write_scenario(&db);
    check_scenario(&clock, || {
        db.compact().unwrap();
        db.clone()
    });
    // Both expired values became tombstones, and went at the bottom.
    let stats = db.stats();
    assert_eq!(stats.expired_versions, 2, "{stats:?}");
    assert!(
        db.describe_key("k1").ends_with(": "),
        "{}",
        db.describe_key("k1")
    );
}

#[test]
fn expired_values_read_as_absent_after_reopen() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    write_scenario(&db);
    // Not closed: the next open replays the WAL, then flushes what it replayed.
    drop(db);
    check_scenario(&clock, || {
        Arc::new(Db::open(dir.path(), options(&clock)).unwrap())
    });
}

#[test]
fn expiry_is_fixed_when_the_batch_is_committed() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_with_ttl("k", "v", secs(10));
    // Built long before it is written: the TTL counts from the write.
    clock.advance(secs(100));
    db.write(batch.clone()).unwrap();
    clock.advance(secs(9));
    assert!(db.contains_key("k").unwrap());
    clock.advance(secs(1));
    assert!(!db.contains_key("k").unwrap());
    // The same batch written again expires 10 s after its own write.
    db.write(batch).unwrap();
    clock.advance(secs(9));
    assert!(db.contains_key("k").unwrap());
    // A zero TTL writes a value that has already expired; a later plain put
    // replaces value and expiry.
    db.put_with_ttl("zero", "v", Duration::ZERO).unwrap();
    assert_eq!(db.get("zero").unwrap(), None);
    db.put("k", "forever").unwrap();
    clock.advance(secs(1_000_000));
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"forever"[..]));
}

#[test]
fn values_never_show_the_expiry_prefix() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.put_with_ttl("k", "", secs(5)).unwrap();
    db.put_with_ttl("l", "value", secs(5)).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(db.get("l").unwrap().as_deref(), Some(&b"value"[..]));
    let trace = db.explain("l").unwrap();
    assert_eq!(trace.value().map(|v| &v[..]), Some(&b"value"[..]));
    let found = trace.found.clone().unwrap();
    assert_eq!(found.expires_at, Some(UNIX_EPOCH + secs(START_SECS + 5)));
    clock.advance(secs(5));
    let trace = db.explain("l").unwrap();
    assert_eq!(trace.value(), None, "expired at the trace's read time");
    assert!(trace.found.is_some());
}

#[test]
fn snapshots_judge_expiry_at_their_own_time_in_the_memtable() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.put("k", "old").unwrap();
    db.put_with_ttl("k", "new", secs(10)).unwrap();
    let before = db.snapshot();
    clock.advance(secs(10));
    let after = db.snapshot();
    assert_eq!(snap_seen(&before), pairs(&[("k", "new")]));
    assert_eq!(snap_seen(&after), pairs(&[]));
    // A scan created before the expiry keeps its own time too.
    clock.set(UNIX_EPOCH + secs(START_SECS));
    let scan = db.iter();
    clock.advance(secs(60));
    assert_eq!(scan.count(), 1);
    assert_eq!(db.iter().count(), 0);
}

#[test]
fn snapshots_taken_before_expiry_keep_reading_the_value_through_compactions() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.put("k", "old").unwrap();
    db.put_with_ttl("k", "new", secs(10)).unwrap();
    db.put_with_ttl("j", "soon", secs(5)).unwrap();
    let snapshot = db.snapshot();
    clock.advance(secs(30));
    for round in 0..3 {
        db.put(format!("filler{round}"), "x").unwrap();
        db.compact().unwrap();
        assert_eq!(
            snap_seen(&snapshot),
            pairs(&[("j", "soon"), ("k", "new")]),
            "round {round}"
        );
        assert_eq!(db.get("k").unwrap(), None);
        assert_eq!(db.get("j").unwrap(), None);
    }
    assert_eq!(
        db.stats().expired_versions,
        0,
        "the snapshot still reads them"
    );
    drop(snapshot);
    db.compact().unwrap();
    assert_eq!(db.get("k").unwrap(), None, "old must not come back");
    assert_eq!(db.stats().expired_versions, 2);
    assert!(
        db.describe_key("k").ends_with(": "),
        "{}",
        db.describe_key("k")
    );
}

/// Waits until the background compaction thread has run `n` compactions in all.
fn wait_for_compactions(db: &Db, n: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while db.stats().compactions < n {
        assert!(std::time::Instant::now() < deadline, "{:?}", db.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_expired_value_above_the_bottom_never_resurrects_the_older_one() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    // Static level sizing: level 0 compacts into level 1, above the data put into
    // level 3 (dynamic sizing would drain level 3 down first).
    let db = Db::open(
        dir.path(),
        options(&clock)
            .with_level0_compaction_trigger(2)
            .with_dynamic_level_bytes(false),
    )
    .unwrap();
    for i in 0..200 {
        db.put(format!("k{i:03}"), format!("old{i}")).unwrap();
    }
    // The old values sit alone at the bottom, written with sequence number 0.
    db.compact_into(3).unwrap();
    for i in (0..200).step_by(2) {
        db.put_with_ttl(format!("k{i:03}"), "short", secs(10))
            .unwrap();
    }
    db.flush().unwrap();
    // Fillers between the keys, written later, keep every file of level 1 from
    // being mostly tombstones (which the picker would sink at once).
    let check = |what: &str| {
        for i in 0..200 {
            let got = db.get(format!("k{i:03}")).unwrap();
            if i % 2 == 0 {
                assert_eq!(got, None, "{what}: k{i:03}");
            } else {
                assert_eq!(got.as_deref(), Some(format!("old{i}").as_bytes()), "{what}");
            }
        }
        fn keys(
            scan: impl Iterator<Item = lsm_core::Result<(lsm_core::Bytes, lsm_core::Bytes)>>,
        ) -> usize {
            scan.map(|r| r.unwrap().0)
                .filter(|k| !k.ends_with(b"a"))
                .count()
        }
        assert_eq!(keys(db.iter()), 100, "{what}");
        assert_eq!(keys(db.iter().rev()), 100, "{what}");
    };
    clock.advance(secs(10));
    check("expired above the old values");
    // A second level-0 file starts the compaction of level 0 into level 1, above
    // the old values: the expired values become tombstones there, and stay (a
    // deeper level holds their keys) to keep hiding the old values.
    for i in 0..200 {
        db.put(format!("k{i:03}a"), "filler").unwrap();
    }
    db.flush().unwrap();
    wait_for_compactions(&db, 2);
    let stats = db.stats();
    assert_eq!(stats.levels[0].segments, 0, "{stats:?}");
    assert!(
        stats.levels[1].segments > 0 && stats.levels[3].segments > 0,
        "{stats:?}"
    );
    assert_eq!(stats.expired_versions, 100, "{stats:?}");
    check("after a compaction into level 1");
    assert!(
        db.describe_key("k000").contains("L1") && db.describe_key("k000").contains("Tombstone"),
        "{}",
        db.describe_key("k000")
    );
    // Everything merged at the bottom: the tombstones go, with what they hid.
    db.compact_into(3).unwrap();
    check("after a compaction to the bottom");
    assert!(
        db.describe_key("k000").ends_with(": "),
        "{}",
        db.describe_key("k000")
    );
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.get("k000").unwrap(), None);
    assert_eq!(db.iter().count(), 300);
}

#[test]
fn compaction_reclaims_the_space_of_expired_values() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    // Values LZ4 cannot shrink: a simple xorshift stream.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..500 {
        let value: Vec<u8> = (0..1000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        db.put_with_ttl(format!("k{i:04}"), value, secs(60))
            .unwrap();
    }
    db.put("kept", "v").unwrap();
    db.compact().unwrap();
    let before = db.stats().total_segment_bytes();
    assert!(before > 100_000, "{before}");
    // Not yet expired: a compaction keeps everything.
    db.compact().unwrap();
    assert_eq!(db.iter().count(), 501);
    clock.advance(secs(60));
    db.compact().unwrap();
    let after = db.stats().total_segment_bytes();
    assert!(after * 20 < before, "{before} -> {after}");
    assert_eq!(db.stats().expired_versions, 500);
    assert_eq!(db.iter().count(), 1);
}

#[test]
fn a_flush_writes_expired_values_as_tombstones() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.put("k", "old").unwrap();
    db.flush().unwrap();
    db.put_with_ttl("k", vec![b'v'; 10_000], secs(1)).unwrap();
    clock.advance(secs(1));
    db.flush().unwrap();
    assert_eq!(db.stats().expired_versions, 1);
    assert_eq!(db.get("k").unwrap(), None);
    let level0 = &db.stats().levels[0];
    assert_eq!(level0.segments, 2);
    assert!(
        level0.bytes < 5_000,
        "the value was not written: {level0:?}"
    );
}

#[test]
fn read_only_opens_judge_expiry_against_their_own_clock() {
    let clock = new_clock();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.put_with_ttl("k", "v", secs(10)).unwrap();
    db.flush().unwrap();
    let reader_clock = new_clock();
    let reader = Db::open_read_only(dir.path(), options(&reader_clock)).unwrap();
    assert_eq!(reader.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    let versions: Vec<_> = reader.versions().collect::<Result<_, _>>().unwrap();
    assert_eq!(&versions[0].1.value[..], b"v");
    reader_clock.advance(secs(10));
    assert_eq!(reader.get("k").unwrap(), None);
    assert_eq!(reader.iter().count(), 0);
    assert!(
        db.contains_key("k").unwrap(),
        "the writer's clock has not moved"
    );
}
