//! Compaction filters: keep, remove and change; which versions they are offered
//! (never one a live snapshot can read, never one under a range delete, never an
//! expired one); that a removal never uncovers an older value; that they run in
//! compactions only.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::files::blob_files;
use lsm_core::{CompactionFilter, Db, FilterDecision, ManualClock, Options};
use parking_lot::Mutex;

/// One offer: level, key, value, bottom.
type Offer = (usize, String, String, bool);

/// A filter that records every offer and decides by a rule.
struct Recorder {
    offers: Mutex<Vec<Offer>>,
    rule: fn(&[u8], &[u8]) -> FilterDecision,
}

impl Recorder {
    fn new(rule: fn(&[u8], &[u8]) -> FilterDecision) -> Arc<Recorder> {
        Arc::new(Recorder {
            offers: Mutex::new(Vec::new()),
            rule,
        })
    }

    /// The offers so far, emptied.
    fn take(&self) -> Vec<Offer> {
        std::mem::take(&mut *self.offers.lock())
    }

    fn keys(&self) -> Vec<String> {
        self.take().into_iter().map(|o| o.1).collect()
    }
}

impl CompactionFilter for Recorder {
    fn filter(&self, level: usize, key: &[u8], value: &[u8], bottom: bool) -> FilterDecision {
        self.offers
            .lock()
            .push((level, text(key), text(value), bottom));
        (self.rule)(key, value)
    }

    fn name(&self) -> &str {
        "recorder"
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn options(filter: Arc<Recorder>) -> Options {
    Options::default()
        .with_memtable_size(8 << 20)
        .with_segment_size(4 << 10)
        .with_block_size(512)
        .with_compaction_filter(filter)
}

/// The one level that holds segments (after a full compaction).
fn output_level(db: &Db) -> usize {
    let levels = db.stats().levels;
    let full: Vec<usize> = (0..levels.len())
        .filter(|&n| levels[n].segments > 0)
        .collect();
    assert_eq!(full.len(), 1, "{levels:?}");
    full[0]
}

fn contents(db: &Db) -> BTreeMap<String, String> {
    let all: BTreeMap<String, String> = db
        .iter()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    let back: Vec<(String, String)> = db
        .iter()
        .rev()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    assert!(back.into_iter().rev().eq(all.clone()), "directions differ");
    all
}

fn by_prefix(key: &[u8], value: &[u8]) -> FilterDecision {
    if key.starts_with(b"drop/") {
        FilterDecision::Remove
    } else if key.starts_with(b"up/") {
        FilterDecision::ChangeValue(value.to_ascii_uppercase())
    } else {
        FilterDecision::Keep
    }
}

#[test]
fn keep_remove_and_change_value() {
    let filter = Recorder::new(by_prefix);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(filter.clone())).unwrap();
    for i in 0..50 {
        db.put(format!("keep/{i:02}"), format!("k{i}")).unwrap();
        db.put(format!("drop/{i:02}"), format!("d{i}")).unwrap();
        db.put(format!("up/{i:02}"), format!("u{i}")).unwrap();
    }
    db.compact().unwrap();
    let offers = filter.take();
    assert_eq!(offers.len(), 150, "each key's newest value once");
    // Offered at the level the full compaction wrote, the bottom.
    let out = output_level(&db);
    assert!(offers
        .iter()
        .all(|(level, _, _, bottom)| *level == out && *bottom));
    let all = contents(&db);
    assert_eq!(all.len(), 100);
    assert_eq!(all["keep/07"], "k7");
    assert_eq!(all["up/07"], "U7");
    assert!(!all.contains_key("drop/07"));
    let stats = db.stats();
    assert_eq!((stats.filter_removed, stats.filter_changed), (50, 50));
    // Removed values became tombstones at the bottom and went at once.
    assert!(db.describe_key("drop/07").ends_with(": "));
    drop(db);
    let db = Db::open(
        dir.path(),
        options(Recorder::new(|_, _| FilterDecision::Keep)),
    )
    .unwrap();
    assert_eq!(contents(&db), all);
}

#[test]
fn the_filter_runs_in_compactions_only() {
    let filter = Recorder::new(|_, _| FilterDecision::Remove);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(filter.clone())).unwrap();
    db.put("a", "1").unwrap();
    db.flush().unwrap();
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(filter.take().is_empty(), "a flush offers nothing");
    db.compact_into(2).unwrap();
    assert_eq!(filter.take(), [(2, "a".to_string(), "1".to_string(), true)]);
    assert_eq!(db.get("a").unwrap(), None);
}

#[test]
fn versions_a_live_snapshot_can_read_are_never_offered() {
    let filter = Recorder::new(|_, _| FilterDecision::Remove);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(filter.clone())).unwrap();
    db.put("a", "1").unwrap();
    db.put("b", "1").unwrap();
    db.put("c", "1").unwrap();
    let snapshot = db.snapshot();
    db.put("b", "2").unwrap();
    db.put("d", "2").unwrap();
    db.delete("c").unwrap();
    db.compact().unwrap();
    // Only what was written after the snapshot, and live.
    assert_eq!(filter.keys(), ["b", "d"]);
    let seen: Vec<(String, String)> = snapshot
        .iter()
        .map(|r| r.map(|(k, v)| (text(&k), text(&v))).unwrap())
        .collect();
    let want = [("a", "1"), ("b", "1"), ("c", "1")];
    assert!(seen.iter().map(|(k, v)| (k.as_str(), v.as_str())).eq(want));
    for (k, v) in want {
        assert_eq!(snapshot.get(k).unwrap().as_deref(), Some(v.as_bytes()));
    }
    // b's removal hides b=1 from the present, which the snapshot still reads.
    assert_eq!(contents(&db), BTreeMap::from([("a".into(), "1".into())]));
    drop(snapshot);
    db.compact().unwrap();
    assert_eq!(filter.keys(), ["a"]);
    assert!(contents(&db).is_empty());
    assert!(
        db.describe_key("b").ends_with(": "),
        "{}",
        db.describe_key("b")
    );
}

fn remove_new(_: &[u8], value: &[u8]) -> FilterDecision {
    if value == b"new" {
        FilterDecision::Remove
    } else {
        FilterDecision::Keep
    }
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
fn a_removal_above_the_bottom_never_resurrects_the_older_value() {
    let filter = Recorder::new(remove_new);
    let dir = tempfile::tempdir().unwrap();
    // Static level sizing: level 0 compacts into level 1, above the data put
    // into level 3 (dynamic sizing would drain level 3 down first).
    let db = Db::open(
        dir.path(),
        options(filter.clone())
            .with_level0_compaction_trigger(2)
            .with_dynamic_level_bytes(false),
    )
    .unwrap();
    for i in 0..100 {
        db.put(format!("k{i:03}"), "old").unwrap();
    }
    db.compact_into(3).unwrap();
    assert_eq!(filter.take().len(), 100, "old values are kept");
    for i in (0..100).step_by(2) {
        db.put(format!("k{i:03}"), "new").unwrap();
    }
    db.flush().unwrap();
    // Fillers between the keys keep every file of level 1 from being mostly
    // tombstones (which the picker would sink at once).
    for i in 0..100 {
        db.put(format!("k{i:03}a"), "filler").unwrap();
    }
    db.flush().unwrap();
    // Level 0 into level 1, above the old values in level 3.
    wait_for_compactions(&db, 2);
    let offers = filter.take();
    assert_eq!(offers.len(), 150, "{offers:?}");
    // Level 3 holds "k000"..="k099": nothing deeper may hold a key past it.
    assert!(offers
        .iter()
        .all(|(level, key, _, bottom)| *level == 1 && *bottom == (key.as_str() > "k099")));
    let stats = db.stats();
    assert!(
        stats.levels[1].segments > 0 && stats.levels[3].segments > 0,
        "{stats:?}"
    );
    let check = |what: &str| {
        for i in 0..100 {
            let got = db.get(format!("k{i:03}")).unwrap();
            let want = (i % 2 == 1).then_some(&b"old"[..]);
            assert_eq!(got.as_deref(), want, "{what}: k{i:03}");
        }
        assert_eq!(contents(&db).len(), 150, "{what}");
    };
    check("after the removal in level 1");
    db.compact().unwrap();
    check("after a full compaction");
    assert!(
        db.describe_key("k000").ends_with(": "),
        "{}",
        db.describe_key("k000")
    );
    assert_eq!(db.stats().filter_removed, 50);
}

#[test]
fn ttl_values_are_offered_while_live_and_keep_their_expiry_when_changed() {
    let filter = Recorder::new(by_prefix);
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        options(filter.clone()).with_clock(clock.clone()),
    )
    .unwrap();
    db.put_with_ttl("up/1", "short", Duration::from_secs(10))
        .unwrap();
    db.put_with_ttl("up/2", "gone", Duration::from_secs(1))
        .unwrap();
    db.put_with_ttl("drop/1", "x", Duration::from_secs(10))
        .unwrap();
    clock.advance(Duration::from_secs(1));
    db.compact().unwrap();
    let offers = filter.take();
    // The user's values, not the stored expiry; up/2 expired: not offered.
    let out = output_level(&db);
    assert_eq!(
        offers,
        [
            (out, "drop/1".into(), "x".into(), true),
            (out, "up/1".into(), "short".into(), true)
        ]
    );
    assert_eq!(db.get("up/1").unwrap().as_deref(), Some(&b"SHORT"[..]));
    assert_eq!(db.get("drop/1").unwrap(), None);
    clock.advance(Duration::from_secs(9));
    assert_eq!(db.get("up/1").unwrap(), None, "the expiry stayed");
    db.compact().unwrap();
    assert!(filter.take().is_empty());
    assert!(contents(&db).is_empty());
    let stats = db.stats();
    assert_eq!(
        (
            stats.expired_versions,
            stats.filter_removed,
            stats.filter_changed
        ),
        (2, 1, 1)
    );
}

#[test]
fn range_deletes_ttl_and_the_filter_together() {
    let filter = Recorder::new(|key, _| {
        if key.ends_with(b"7") {
            FilterDecision::Remove
        } else {
            FilterDecision::ChangeValue(b"seen".to_vec())
        }
    });
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
    let dir = tempfile::tempdir().unwrap();
    let key = |i: usize| format!("r{i:02}");
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    // The old values, compacted without the filter.
    let keep_all = Recorder::new(|_, _| FilterDecision::Keep);
    let db = Db::open(dir.path(), options(keep_all)).unwrap();
    for i in 0..100 {
        db.put(key(i), "v").unwrap();
        model.insert(key(i), "v".into());
    }
    db.compact_into(2).unwrap();
    db.close().unwrap();
    let db = Db::open(
        dir.path(),
        options(filter.clone()).with_clock(clock.clone()),
    )
    .unwrap();
    // Newer than the old values: a range delete over 10..30, TTL values over
    // 20..40 (20..30 written after the delete, so visible).
    db.delete_range(key(10), key(30)).unwrap();
    for i in 20..40 {
        db.put_with_ttl(key(i), "ttl", Duration::from_secs(10))
            .unwrap();
    }
    for i in 10..20 {
        model.remove(&key(i));
    }
    for i in 20..40 {
        model.insert(key(i), "ttl".into());
    }
    assert_eq!(contents(&db), model);
    db.compact().unwrap();
    let offered: Vec<String> = filter.keys();
    // Never a key under the range delete; every live value otherwise.
    let want: Vec<String> = (0..100)
        .filter(|i| !(10..20).contains(i))
        .map(key)
        .collect();
    assert_eq!(offered, want);
    for v in model.values_mut() {
        *v = "seen".into();
    }
    model.retain(|k, _| !k.ends_with('7'));
    assert_eq!(contents(&db), model);
    assert_eq!(db.stats().dropped_by_range, 10);
    clock.advance(Duration::from_secs(10));
    for i in 20..40 {
        model.remove(&key(i));
    }
    assert_eq!(
        contents(&db),
        model,
        "expired, the older values stay hidden"
    );
    db.compact().unwrap();
    assert!(filter
        .keys()
        .iter()
        .all(|k| !(key(20)..key(40)).contains(k)));
    assert_eq!(contents(&db), model);
    assert_eq!(db.get(key(25)).unwrap(), None);
    assert_eq!(db.get(key(15)).unwrap(), None);
    assert_eq!(db.get(key(45)).unwrap().as_deref(), Some(&b"seen"[..]));
}

fn upper_case(_: &[u8], value: &[u8]) -> FilterDecision {
    FilterDecision::ChangeValue(value.to_ascii_uppercase())
}

fn remove_all(_: &[u8], _: &[u8]) -> FilterDecision {
    FilterDecision::Remove
}

/// A database compacted to the bottom before it had a filter holds versions
/// renumbered to 0. A filter configured later rewrites (or removes) them; a power
/// cut at any file operation of that compaction, before or after its edit, must
/// leave a directory that opens with every key at its old or its new value, never
/// a refusal (open's audit must recognise the unlisted output as the filter's).
#[test]
fn a_crash_while_a_new_filter_rewrites_renumbered_versions_leaves_an_openable_database() {
    use lsm_core::fs::{CrashMode, SimFs};
    for (rule, name) in [
        (upper_case as fn(&[u8], &[u8]) -> FilterDecision, "change"),
        (remove_all, "remove"),
    ] {
        let disk = SimFs::new();
        let plain = Options::default()
            .with_segment_size(4 << 10)
            .with_block_size(512);
        let db = Db::open_with_fs("/db", plain.clone(), disk.fs_ref()).unwrap();
        for i in 0..200u32 {
            db.put(format!("k{i:04}"), format!("value {i}")).unwrap();
        }
        db.flush().unwrap();
        db.compact().unwrap();
        db.close().unwrap();
        let filtered = plain.with_compaction_filter(Recorder::new(rule));
        let mut crashes = 0;
        for ops in 0.. {
            let run = disk.crash(CrashMode::DropUnsynced, 0);
            let db = Db::open_with_fs("/db", filtered.clone(), run.fs_ref()).unwrap();
            run.power_off_after(ops);
            let result = db.compact();
            let finished = !run.is_powered_off();
            drop(db);
            assert!(
                result.is_ok() || !finished,
                "{name}: compact failed: {result:?}"
            );
            for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
                let image = run.crash(mode, ops);
                let db = Db::open_with_fs("/db", filtered.clone(), image.fs_ref())
                    .unwrap_or_else(|e| panic!("{name}, cut after {ops} ({mode:?}): {e}"));
                for i in 0..200u32 {
                    let got = db.get(format!("k{i:04}")).unwrap();
                    let old = format!("value {i}");
                    let ok = match name {
                        "change" => got.as_deref().is_some_and(|v| {
                            v == old.as_bytes() || v == old.to_ascii_uppercase().as_bytes()
                        }),
                        _ => got.is_none() || got.as_deref() == Some(old.as_bytes()),
                    };
                    assert!(ok, "{name}, cut after {ops}: k{i:04} reads {got:?}");
                }
                drop(db);
            }
            if finished {
                break;
            }
            crashes += 1;
        }
        assert!(
            crashes > 5,
            "{name}: the compaction did too few file operations"
        );
    }
}

/// A keyspace's filter given at open (`Options::with_keyspace_options`) is the
/// one its compactions run with from the start, and the one open's audit asks:
/// the keyspace's versions renumbered to 0 without a filter, then rewritten by a
/// filter given at the next open, with a power cut at every file operation of
/// that compaction, leave a directory that opens with every key of the keyspace at
/// its old or new value, and the default keyspace untouched; once the compaction
/// finishes, every value is the filter's.
#[test]
fn a_keyspace_filter_given_at_open_is_the_one_its_compactions_and_open_use() {
    use lsm_core::fs::{CrashMode, SimFs};
    use lsm_core::KeyspaceOptions;
    let disk = SimFs::new();
    let plain = Options::default()
        .with_segment_size(4 << 10)
        .with_block_size(512);
    let db = Db::open_with_fs("/db", plain.clone(), disk.fs_ref()).unwrap();
    let ks = db.keyspace("shouting").unwrap();
    for i in 0..200u32 {
        ks.put(format!("k{i:04}"), format!("value {i}")).unwrap();
        db.put(format!("k{i:04}"), format!("value {i}")).unwrap();
    }
    db.compact().unwrap();
    drop(ks);
    db.close().unwrap();
    let filtered = plain.with_keyspace_options(
        "shouting",
        KeyspaceOptions::default().with_compaction_filter(Recorder::new(upper_case)),
    );
    let check = |db: &Db, done: bool, at: &str| {
        let ks = db.keyspace("shouting").unwrap();
        for i in 0..200u32 {
            let key = format!("k{i:04}");
            let old = format!("value {i}");
            let new = old.to_ascii_uppercase();
            let got = ks.get(&key).unwrap();
            let ok = got
                .as_deref()
                .is_some_and(|v| v == new.as_bytes() || (!done && v == old.as_bytes()));
            assert!(ok, "{at}: {key} reads {got:?} in the keyspace");
            assert_eq!(
                db.get(&key).unwrap().as_deref(),
                Some(old.as_bytes()),
                "{at}"
            );
        }
    };
    let mut crashes = 0;
    for ops in 0.. {
        let run = disk.crash(CrashMode::DropUnsynced, 0);
        let db = Db::open_with_fs("/db", filtered.clone(), run.fs_ref()).unwrap();
        run.power_off_after(ops);
        let result = db.compact();
        let finished = !run.is_powered_off();
        if finished {
            result.unwrap();
            check(&db, true, "after the compaction");
        }
        drop(db);
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let image = run.crash(mode, ops);
            let at = format!("cut after {ops} ({mode:?})");
            let db = Db::open_with_fs("/db", filtered.clone(), image.fs_ref())
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            check(&db, false, &at);
        }
        if finished {
            break;
        }
        crashes += 1;
    }
    assert!(crashes > 5, "the compaction did too few file operations");
}

/// Values in blob files are shown to the filter; one it keeps stays where it is
/// (the compaction writes its pointer back, so its blob file lives on), one it
/// changes goes to a new file, one it removes is gone.
#[test]
fn a_kept_blob_value_stays_in_its_blob_file() {
    let filter = Recorder::new(by_prefix);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(filter.clone()).with_blob_threshold(Some(100));
    let db = Db::open(dir.path(), opts).unwrap();
    let long = |tag: &str, i: u32| format!("{tag}{i:03}-{}", "v".repeat(300));
    for i in 0..100 {
        db.put(format!("keep/{i:03}"), long("k", i)).unwrap();
    }
    db.flush().unwrap();
    let kept_files = db.stats().blob_files;
    let before = blob_files(dir.path());
    assert_eq!(before.len(), kept_files);
    for i in 0..100 {
        db.put(format!("drop/{i:03}"), long("d", i)).unwrap();
        db.put(format!("up/{i:03}"), long("u", i)).unwrap();
    }
    db.compact().unwrap();
    assert_eq!(filter.take().len(), 300, "each value is shown once");
    let after = blob_files(dir.path());
    assert!(
        before.iter().all(|n| after.contains(n)),
        "a blob file of kept values was rewritten: {before:?} then {after:?}"
    );
    let all = contents(&db);
    assert_eq!(all.len(), 200);
    assert_eq!(all["keep/007"], long("k", 7));
    assert_eq!(all["up/007"], long("u", 7).to_ascii_uppercase());
    let stats = db.stats();
    assert_eq!((stats.filter_removed, stats.filter_changed), (100, 100));
    assert_eq!(stats.blob_values_relocated, 0);
    drop(db);
    let db = Db::open(
        dir.path(),
        options(Recorder::new(|_, _| FilterDecision::Keep)).with_blob_threshold(Some(100)),
    )
    .unwrap();
    assert_eq!(contents(&db), all);
}
