//! `Scan::seek` and `Scan::seek_for_prev`: a seek repositions a scan in place and it
//! then reads exactly as a fresh scan of its range narrowed at the sought key would
//! (`[max(key, start), end)` for `seek`, `[start, min(key, end)]` for
//! `seek_for_prev`), at the scan's own sequence number and time. Checked across the
//! memtable, level 0 and deeper levels, into deleted ranges and onto tombstones,
//! back and forth on one scan, on snapshots after later writes, on prefix scans, with
//! expiring values, on read-only opens, with an I/O error during the seek, and in a
//! proptest against a `BTreeMap` (random puts, deletes and range deletes spread over
//! the memtable and the levels, random seeks).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use lsm_core::fs::{FaultFs, FaultKind, FaultMode, SimFs};
use lsm_core::fuzzing::DB_PATH;
use lsm_core::{Db, Error, ManualClock, Options, ReadOnlyDb, Scan};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Small blocks and segments so a few hundred keys make several files and levels;
/// no flush or compaction unless a test asks for one. Static level sizing: data
/// put into a level by `compact_into` stays there (dynamic sizing would drain a
/// level above where the data belongs while the test looks at it).
fn options() -> Options {
    Options::default()
        .with_memtable_size(8 << 20)
        .with_segment_size(4 << 10)
        .with_block_size(256)
        .with_level0_compaction_trigger(8)
        .with_level0_stop_writes(20)
        .with_dynamic_level_bytes(false)
}

fn key(i: usize) -> Vec<u8> {
    format!("k{i:04}").into_bytes()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The next `n` keys from the front (or the back), as text.
fn take(scan: &mut Scan, n: usize, back: bool) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let item = if back { scan.next_back() } else { scan.next() };
        match item {
            Some(r) => out.push(text(&r.expect("scan item").0)),
            None => break,
        }
    }
    out
}

/// Every remaining pair, ascending, taken from both ends by `pattern` (bit `i` set:
/// step `i` takes from the back).
fn drain(scan: &mut Scan, pattern: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    for step in 0u32.. {
        let from_back = pattern.rotate_right(step % 32) & 1 == 1;
        let item = if from_back {
            scan.next_back()
        } else {
            scan.next()
        };
        match item {
            Some(r) => {
                let (k, v) = r.expect("scan item");
                let side = if from_back { &mut back } else { &mut front };
                side.push((k.to_vec(), v.to_vec()));
            }
            None => break,
        }
    }
    back.reverse();
    front.extend(back);
    front
}

/// The model's pairs within the bounds.
fn window(model: &Model, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let inside = |k: &[u8]| {
        let above = match lo {
            Bound::Included(l) => k >= l.as_slice(),
            Bound::Excluded(l) => k > l.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match hi {
            Bound::Included(h) => k <= h.as_slice(),
            Bound::Excluded(h) => k < h.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    };
    model
        .iter()
        .filter(|(k, _)| inside(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The window a `seek` (or with `back`, a `seek_for_prev`) to `target` leaves a scan
/// of `lo..hi` with.
fn narrowed(
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
    target: &[u8],
    back: bool,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let t = Bound::Included(target.to_vec());
    if back {
        let beyond = match hi {
            Bound::Included(h) => target > h.as_slice(),
            Bound::Excluded(h) => target >= h.as_slice(),
            Bound::Unbounded => false,
        };
        (lo.clone(), if beyond { hi.clone() } else { t })
    } else {
        let before = match lo {
            Bound::Included(l) => target < l.as_slice(),
            Bound::Excluded(l) => target <= l.as_slice(),
            Bound::Unbounded => false,
        };
        (if before { lo.clone() } else { t }, hi.clone())
    }
}

/// Three layers of one key space: old values compacted into level 2, newer ones
/// (overwrites and deletes) in level-0 files, the newest in the memtable. Returns
/// the model of what is live.
fn layered(db: &Db) -> Model {
    let mut model = Model::new();
    for i in 0..600 {
        let v = format!("old{i}").into_bytes();
        db.put(key(i), &v).unwrap();
        model.insert(key(i), v);
    }
    db.compact_into(2).unwrap();
    for i in (0..600).step_by(3) {
        if i % 2 == 0 {
            db.delete(key(i)).unwrap();
            model.remove(&key(i));
        } else {
            let v = format!("l0-{i}").into_bytes();
            db.put(key(i), &v).unwrap();
            model.insert(key(i), v);
        }
        if i % 150 == 0 {
            db.flush().unwrap();
        }
    }
    db.flush().unwrap();
    for i in (1..600).step_by(7) {
        if i % 2 == 0 {
            db.delete(key(i)).unwrap();
            model.remove(&key(i));
        } else {
            let v = format!("mem{i}").into_bytes();
            db.put(key(i), &v).unwrap();
            model.insert(key(i), v);
        }
    }
    let levels = db.stats().levels;
    assert!(levels[0].segments >= 2, "level 0: {levels:?}");
    assert!(levels[2].segments >= 2, "level 2: {levels:?}");
    assert!(db.stats().memtable_bytes > 0);
    model
}

/// Seeks `scan` (over `lo..hi`) to every target in both directions, in the given
/// order, and checks a few items from the sought end, then the rest of the window
/// from both ends.
fn check_seeks(
    scan: &mut Scan,
    model: &Model,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
    targets: &[Vec<u8>],
) {
    for (i, t) in targets.iter().enumerate() {
        for back in [false, true] {
            let (from, to) = narrowed(lo, hi, t, back);
            let want = window(model, &from, &to);
            if back {
                scan.seek_for_prev(t);
            } else {
                scan.seek(t);
            }
            let ctx = format!(
                "{} {:?} in {lo:?}..{hi:?}",
                if back { "seek_for_prev" } else { "seek" },
                text(t)
            );
            let first: Vec<String> = if back {
                want.iter().rev().take(3).map(|(k, _)| text(k)).collect()
            } else {
                want.iter().take(3).map(|(k, _)| text(k)).collect()
            };
            assert_eq!(take(scan, 3, back), first, "{ctx}");
            // Again, and this time the whole window, from both ends.
            if back {
                scan.seek_for_prev(t);
            } else {
                scan.seek(t);
            }
            assert!(
                drain(scan, (i as u32).wrapping_mul(0x9e37_79b9)) == want,
                "{ctx}: whole window"
            );
        }
    }
}

fn targets() -> Vec<Vec<u8>> {
    let mut t: Vec<Vec<u8>> = [0, 1, 3, 6, 7, 8, 150, 299, 300, 301, 451, 597, 599]
        .iter()
        .map(|&i| key(i))
        .collect();
    t.extend([&b""[..], b"a", b"k", b"k0150\x00", b"k0599\xff", b"z"].map(<[u8]>::to_vec));
    t
}

#[test]
fn seeks_across_the_memtable_level_0_and_deeper_levels() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let model = layered(&db);
    let ranges = [
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Included(key(100)), Bound::Excluded(key(450))),
        (Bound::Excluded(key(6)), Bound::Included(key(301))),
    ];
    for (lo, hi) in &ranges {
        let mut scan = db.scan((lo.clone(), hi.clone()));
        check_seeks(&mut scan, &model, lo, hi, &targets());
        // Backwards through the targets too, on the same scan.
        let mut rev = targets();
        rev.reverse();
        check_seeks(&mut scan, &model, lo, hi, &rev);
    }
    // `iter` as well.
    let mut scan = db.iter();
    check_seeks(
        &mut scan,
        &model,
        &Bound::Unbounded,
        &Bound::Unbounded,
        &targets(),
    );
}

#[test]
fn a_seek_into_a_deleted_range_lands_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut model = layered(&db);
    // One range tombstone in a level-0 file, one in the memtable.
    db.delete_range(key(200), key(260)).unwrap();
    db.flush().unwrap();
    db.delete_range(key(400), key(500)).unwrap();
    let deleted =
        |k: &Vec<u8>| (key(200)..key(260)).contains(k) || (key(400)..key(500)).contains(k);
    model.retain(|k, _| !deleted(k));
    // Written after the tombstone: live again.
    db.put(key(450), "back").unwrap();
    model.insert(key(450), b"back".to_vec());

    // (k0260 was deleted in the memtable.)
    let mut scan = db.iter();
    scan.seek(key(200));
    assert_eq!(take(&mut scan, 1, false), [text(&key(261))]);
    scan.seek(key(230));
    assert_eq!(take(&mut scan, 1, false), [text(&key(261))]);
    scan.seek(key(401));
    assert_eq!(
        take(&mut scan, 2, false),
        [text(&key(450)), text(&key(500))]
    );
    scan.seek_for_prev(key(259));
    assert_eq!(take(&mut scan, 1, true), [text(&key(199))]);
    scan.seek_for_prev(key(449));
    assert_eq!(take(&mut scan, 1, true), [text(&key(399))]);
    let bounds = (Bound::Unbounded, Bound::Unbounded);
    let deleted: Vec<Vec<u8>> = [199, 200, 259, 260, 400, 449, 450, 451, 499, 500]
        .iter()
        .map(|&i| key(i))
        .collect();
    check_seeks(&mut scan, &model, &bounds.0, &bounds.1, &deleted);

    // And once everything is compacted into one level.
    db.compact().unwrap();
    let mut scan = db.iter();
    check_seeks(&mut scan, &model, &bounds.0, &bounds.1, &deleted);
}

#[test]
fn a_seek_onto_a_tombstone_returns_the_next_live_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for k in ["a", "b", "c", "d", "e"] {
        db.put(k, k).unwrap();
    }
    db.flush().unwrap();
    db.delete("b").unwrap();
    db.delete("c").unwrap();
    db.flush().unwrap();
    db.delete("d").unwrap();
    let mut scan = db.iter();
    for t in ["b", "c", "d"] {
        scan.seek(t);
        assert_eq!(take(&mut scan, 5, false), ["e"], "seek {t}");
        scan.seek_for_prev(t);
        assert_eq!(take(&mut scan, 5, true), ["a"], "seek_for_prev {t}");
    }
}

#[test]
fn repeated_seeks_back_and_forth_on_one_scan() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let model = layered(&db);
    let mut scan = db.scan(key(50)..key(550));
    let (lo, hi) = (Bound::Included(key(50)), Bound::Excluded(key(550)));
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for round in 0..300 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let t = key((rng % 640) as usize);
        let back = rng >> 32 & 1 == 1;
        let (from, to) = narrowed(&lo, &hi, &t, back);
        let want = window(&model, &from, &to);
        if back {
            scan.seek_for_prev(&t);
        } else {
            scan.seek(&t);
        }
        // A few from the sought end, one from the other, then a few more.
        let n = (rng >> 40) as usize % 4;
        let got_a = take(&mut scan, n, back);
        let got_b = take(&mut scan, 1, !back);
        let names = |it: &mut dyn Iterator<Item = &(Vec<u8>, Vec<u8>)>, n: usize| -> Vec<String> {
            it.take(n).map(|(k, _)| text(k)).collect()
        };
        let (want_a, want_b) = if back {
            (names(&mut want.iter().rev(), n), names(&mut want.iter(), 1))
        } else {
            (names(&mut want.iter(), n), names(&mut want.iter().rev(), 1))
        };
        // When the window holds at most `n` keys, the other end finds none left.
        let want_b = if want.len() <= n { Vec::new() } else { want_b };
        assert_eq!(
            (got_a, got_b),
            (want_a, want_b),
            "round {round}: seek {} back {back}",
            text(&t)
        );
    }
}

#[test]
fn a_seek_on_a_snapshot_or_an_older_scan_ignores_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let model = layered(&db);
    let snap = db.snapshot();
    let mut old_scan = db.iter();
    let mut snap_scan = snap.scan(key(10)..);
    // Later writes of every kind, then flushes and compactions under the scans.
    for i in (0..600).step_by(5) {
        db.put(key(i), "new").unwrap();
    }
    db.delete_range(key(300), key(400)).unwrap();
    for i in (2..600).step_by(11) {
        db.delete(key(i)).unwrap();
    }
    db.put("k0150\x00", "new key").unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    let all = (Bound::Unbounded, Bound::Unbounded);
    check_seeks(&mut old_scan, &model, &all.0, &all.1, &targets());
    let tail = (Bound::Included(key(10)), Bound::Unbounded);
    check_seeks(&mut snap_scan, &model, &tail.0, &tail.1, &targets());
    // A scan made from the snapshot after the writes reads the snapshot too.
    let mut late = snap.iter();
    check_seeks(&mut late, &model, &all.0, &all.1, &targets());
}

#[test]
fn a_seek_on_a_prefix_scan_stays_within_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for k in ["a1", "b", "b1", "b2", "b3", "ba", "c", "c1"] {
        db.put(k, k).unwrap();
    }
    db.flush().unwrap();
    db.delete("b2").unwrap();
    let mut scan = db.prefix("b");
    scan.seek("a");
    assert_eq!(take(&mut scan, 10, false), ["b", "b1", "b3", "ba"]);
    scan.seek("b15");
    assert_eq!(take(&mut scan, 10, false), ["b3", "ba"]);
    scan.seek("b2");
    assert_eq!(take(&mut scan, 10, true), ["ba", "b3"]);
    scan.seek("bb");
    assert!(scan.next().is_none() && scan.next_back().is_none());
    scan.seek("c");
    assert!(scan.next().is_none() && scan.next_back().is_none());
    scan.seek_for_prev("z");
    assert_eq!(take(&mut scan, 10, true), ["ba", "b3", "b1", "b"]);
    scan.seek_for_prev("b2");
    assert_eq!(take(&mut scan, 10, false), ["b", "b1"]);
    scan.seek_for_prev("a9");
    assert!(scan.next_back().is_none() && scan.next().is_none());
    // A snapshot's prefix scan as well.
    let snap = db.snapshot();
    db.put("b0", "later").unwrap();
    let mut scan = snap.prefix("b");
    scan.seek("b0");
    assert_eq!(take(&mut scan, 2, false), ["b1", "b3"]);
}

#[test]
fn a_seek_judges_expiry_at_the_time_the_scan_was_created() {
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options().with_clock(clock.clone())).unwrap();
    for k in ["a", "b", "c", "d", "e"] {
        db.put(k, "forever").unwrap();
    }
    db.flush().unwrap();
    // Newer versions of b and d expire after 10 s (hiding the older ones then);
    // c expires in the memtable.
    db.put_with_ttl("b", "soon", Duration::from_secs(10))
        .unwrap();
    db.put_with_ttl("d", "soon", Duration::from_secs(10))
        .unwrap();
    db.flush().unwrap();
    db.put_with_ttl("c", "soon", Duration::from_secs(10))
        .unwrap();
    let mut before = db.iter();
    clock.advance(Duration::from_secs(11));
    let mut after = db.iter();
    for t in ["a", "b", "c"] {
        before.seek(t);
        let got: Vec<String> = drain(&mut before, 0).iter().map(|(k, _)| text(k)).collect();
        let want: Vec<&str> = ["a", "b", "c", "d", "e"]
            .into_iter()
            .filter(|k| *k >= t)
            .collect();
        assert_eq!(got, want, "the scan from before the expiry, seek {t}");
        after.seek(t);
        let got: Vec<String> = drain(&mut after, 0).iter().map(|(k, _)| text(k)).collect();
        let want: Vec<&str> = ["a", "e"].into_iter().filter(|k| *k >= t).collect();
        assert_eq!(got, want, "the scan from after the expiry, seek {t}");
    }
    after.seek_for_prev("d");
    assert_eq!(take(&mut after, 5, true), ["a"]);
    before.seek_for_prev("d");
    assert_eq!(take(&mut before, 1, true), ["d"]);
    assert_eq!(before.next_back().unwrap().unwrap().1, "soon");
}

#[test]
fn read_only_scans_seek() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let model = layered(&db);
    db.close().unwrap();
    let view: ReadOnlyDb = Db::open_read_only(dir.path(), options()).unwrap();
    let all = (Bound::Unbounded, Bound::Unbounded);
    check_seeks(&mut view.iter(), &model, &all.0, &all.1, &targets());
    let lo = Bound::Included(key(300));
    check_seeks(&mut view.scan(key(300)..), &model, &lo, &all.1, &targets());
    let mut scan = view.prefix("k03");
    scan.seek(key(250));
    assert_eq!(
        take(&mut scan, 1, false),
        [text(&model.range(key(300)..).next().unwrap().0.clone())]
    );
}

#[test]
fn an_io_error_during_a_seek_comes_out_of_the_next_next() {
    let sim = SimFs::new();
    let fault = FaultFs::new(sim.fs_ref());
    // No block cache: every block a seek needs is read from the file.
    let opts = options().with_block_cache_size(0);
    let db = Db::open_with_fs(DB_PATH, opts, fault.fs_ref()).unwrap();
    let model = layered(&db);
    let mut scan = db.iter();
    assert!(scan.next().unwrap().is_ok());
    fault.fail(FaultKind::Read, 1, FaultMode::Persistent);
    scan.seek(key(300));
    match scan.next() {
        Some(Err(Error::Io { .. })) => {}
        other => panic!("the step after a failing seek gave {other:?}"),
    }
    assert!(fault.injected() > 0);
    // The scan is finished; a new one reads everything once the disk reads again.
    assert!(scan.next().is_none() && scan.next_back().is_none());
    fault.clear();
    scan.seek(key(300));
    assert!(scan.next().is_none());
    let mut scan = db.iter();
    scan.seek(key(300));
    assert!(drain(&mut scan, 0) == window(&model, &Bound::Included(key(300)), &Bound::Unbounded));
}

/// One write of the proptest's histories, over 40 keys.
#[derive(Debug, Clone)]
enum Write {
    Put(u8, u8),
    Delete(u8),
    DeleteRange(u8, u8),
    Flush,
    Compact,
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        12 => (0u8..40, any::<u8>()).prop_map(|(k, v)| Write::Put(k, v)),
        4 => (0u8..40).prop_map(Write::Delete),
        1 => (0u8..40, 0u8..40).prop_map(|(a, b)| Write::DeleteRange(a.min(b), a.max(b))),
        1 => Just(Write::Flush),
        1 => Just(Write::Compact),
    ]
}

/// A seek target: any of the 40 keys, or just after one, in either direction.
fn seek() -> impl Strategy<Value = (u8, bool, bool, u32)> {
    (0u8..42, any::<bool>(), any::<bool>(), any::<u32>())
}

fn pkey(i: u8) -> Vec<u8> {
    format!("p{i:02}").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// After any seek, a scan reads exactly what a fresh scan of the narrowed window
    /// reads, and the model holds.
    #[test]
    fn a_seek_reads_as_a_fresh_scan_of_the_narrowed_range(
        writes in prop::collection::vec(write(), 1..120),
        bounds in (0u8..3, 0u8..42, 0u8..3, 0u8..42),
        seeks in prop::collection::vec(seek(), 1..12),
    ) {
        let sim = SimFs::new();
        let opts = Options::default()
            .with_memtable_size(4 << 10)
            .with_segment_size(1 << 10)
            .with_block_size(256)
            .with_level0_compaction_trigger(3);
        let db = Db::open_with_fs(DB_PATH, opts, sim.fs_ref()).unwrap();
        let mut model = Model::new();
        for w in &writes {
            match *w {
                Write::Put(k, v) => {
                    let v = vec![v; usize::from(v % 64)];
                    db.put(pkey(k), &v).unwrap();
                    model.insert(pkey(k), v);
                }
                Write::Delete(k) => {
                    db.delete(pkey(k)).unwrap();
                    model.remove(&pkey(k));
                }
                Write::DeleteRange(a, b) => {
                    db.delete_range(pkey(a), pkey(b)).unwrap();
                    model.retain(|k, _| !(pkey(a) <= *k && *k < pkey(b)));
                }
                Write::Flush => db.flush().unwrap(),
                Write::Compact => db.compact().unwrap(),
            }
        }
        let bound = |kind: u8, k: u8| match kind {
            0 => Bound::Unbounded,
            1 => Bound::Included(pkey(k)),
            _ => Bound::Excluded(pkey(k)),
        };
        let (lo, hi) = (bound(bounds.0, bounds.1), bound(bounds.2, bounds.3));
        let mut scan = db.scan((lo.clone(), hi.clone()));
        for (k, after, back, pattern) in seeks {
            let mut t = pkey(k);
            if after {
                t.push(0);
            }
            if back {
                scan.seek_for_prev(&t);
            } else {
                scan.seek(&t);
            }
            let (from, to) = narrowed(&lo, &hi, &t, back);
            let mut fresh = db.scan((from.clone(), to.clone()));
            let want = window(&model, &from, &to);
            prop_assert_eq!(drain(&mut fresh, 0), want.clone());
            // Half the time, only part of the window before the next seek.
            if pattern & 1 == 1 {
                let n = (pattern >> 1) as usize % 4;
                let got = take(&mut scan, n, back);
                let names: Vec<String> = if back {
                    want.iter().rev().take(n).map(|(k, _)| text(k)).collect()
                } else {
                    want.iter().take(n).map(|(k, _)| text(k)).collect()
                };
                prop_assert_eq!(got, names);
            } else {
                prop_assert_eq!(drain(&mut scan, pattern >> 1), want);
            }
        }
    }
}
