//! Recovery: reopening after writes that were never flushed, after a killed process,
//! with a torn last WAL record, after power loss in every crash mode (the prefix
//! property), with a damaged segment (always `Error::Corruption`, never a wrong
//! value), and the directory lock.

mod common;

use std::path::Path;

use common::child::{child_dir, exit_child, run_child};
use common::files::{file_len, files_with_ext, flip_byte, open_segment, segments, truncate_by};
use common::keys::{show, value};
use common::model::{check_db, collect, Direction, Map};
use common::sim::{crash_and_check, open_sim, read_all, write_step, History, Step};
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Compression, Db, Error, Options, WriteBatch};
use lsm_format::wal::replay_wal;
use rand::{Rng, SeedableRng};

fn k(i: usize) -> Vec<u8> {
    format!("r{i:05}").into_bytes()
}

/// Options with a memtable large enough that nothing is flushed unless asked.
fn no_flush_options() -> Options {
    Options::default().with_memtable_size(8 << 20)
}

/// Writes keys `0..n` (every 10th as part of a batch, every 7th deleted again), and
/// returns the expected state.
fn write_unflushed(db: &Db, n: usize) -> Map {
    let mut model = Map::new();
    let mut batch = WriteBatch::new();
    for i in 0..n {
        let v = value(i as u64, 10 + i % 90);
        if i % 10 == 0 {
            batch.put(k(i), &v);
            model.insert(k(i), v);
            if batch.len() == 3 {
                db.write(std::mem::take(&mut batch)).unwrap();
            }
        } else {
            db.put(k(i), &v).unwrap();
            model.insert(k(i), v);
        }
        // (Keys waiting in the unwritten batch are left alone.)
        if i % 7 == 6 && (i - 3) % 10 != 0 {
            db.delete(k(i - 3)).unwrap();
            model.remove(&k(i - 3));
        }
    }
    db.write(batch).unwrap();
    model
}

fn probe(n: usize) -> Vec<Vec<u8>> {
    (0..n + 3).map(k).collect()
}

#[test]
fn reopen_after_writes_without_flush() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, no_flush_options()).unwrap();
    let model = write_unflushed(&db, 2000);
    db.close().unwrap();
    let db = Db::open(&path, no_flush_options()).unwrap();
    check_db(&db, &model, &probe(2000)).expect("after close and reopen");
    // Dropping instead of closing is a clean shutdown too.
    drop(db);
    let db = Db::open(&path, no_flush_options()).unwrap();
    check_db(&db, &model, &probe(2000)).expect("after drop and reopen");
    db.close().unwrap();
}

#[test]
fn synced_writes_are_replayed_from_the_wal_after_power_loss() {
    let fs = SimFs::new();
    let db = open_sim(&fs, &no_flush_options()).unwrap();
    let model = write_unflushed(&db, 2000);
    db.sync().unwrap();
    for mode in CrashMode::ALL {
        let image = fs.crash(mode, 7);
        assert!(
            common::sim::sim_files(&image, "seg").is_empty(),
            "nothing was flushed, the data is in the WAL only"
        );
        let db = open_sim(&image, &no_flush_options()).unwrap();
        check_db(&db, &model, &probe(2000)).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        db.close().unwrap();
    }
    db.close().unwrap();
}

/// The child's part of the killed-process tests: write `LSM_TEST_N` keys without
/// syncing, then leave without closing.
fn child_writes_then_dies(dir: &Path) -> ! {
    let n: usize = std::env::var("LSM_TEST_N").unwrap().parse().unwrap();
    let memtable: usize = std::env::var("LSM_TEST_MEMTABLE").unwrap().parse().unwrap();
    let db = Db::open(
        dir,
        Options::default()
            .with_memtable_size(memtable)
            .with_segment_size(4096)
            .with_level0_compaction_trigger(2),
    )
    .unwrap();
    for i in 0..n {
        db.put(k(i), value(i as u64, 100)).unwrap();
    }
    // Not closed, not synced, not dropped: every acknowledged put must survive anyway.
    std::mem::forget(db);
    exit_child()
}

#[test]
fn a_killed_process_loses_no_acknowledged_write() {
    if let Some(dir) = child_dir() {
        child_writes_then_dies(&dir);
    }
    // A large memtable (everything in the WAL) and a small one (flushes and
    // compactions running when the process dies).
    for (n, memtable) in [(3000usize, 8usize << 20), (3000, 16 << 10)] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("db");
        run_child(
            "a_killed_process_loses_no_acknowledged_write",
            &path,
            &[
                ("LSM_TEST_N", n.to_string()),
                ("LSM_TEST_MEMTABLE", memtable.to_string()),
            ],
        );
        let db = Db::open(&path, Options::default()).unwrap();
        let model: Map = (0..n).map(|i| (k(i), value(i as u64, 100))).collect();
        check_db(&db, &model, &probe(n)).unwrap_or_else(|e| panic!("memtable {memtable}: {e}"));
        db.close().unwrap();
    }
}

#[test]
fn a_truncated_last_wal_record_is_dropped() {
    if let Some(dir) = child_dir() {
        child_writes_then_dies(&dir);
    }
    let n = 500;
    let tmp = tempfile::tempdir().expect("tempdir");
    let original = tmp.path().join("original");
    run_child(
        "a_truncated_last_wal_record_is_dropped",
        &original,
        &[
            ("LSM_TEST_N", n.to_string()),
            ("LSM_TEST_MEMTABLE", (8usize << 20).to_string()),
        ],
    );
    let wals = files_with_ext(&original, "wal");
    assert!(!wals.is_empty(), "the child left no WAL");
    // Each put of a 100-byte value is one record of well over 100 bytes: cutting
    // 1 to 100 bytes tears exactly the last one.
    for cut in [1u64, 3, 11, 12, 50, 100] {
        let path = tmp.path().join(format!("cut{cut}"));
        copy_dir(&original, &path);
        let newest = files_with_ext(&path, "wal").pop().unwrap();
        // The killed child left the WAL's preallocated zeros behind it: cut from the
        // end of the written records, not from the end of the file.
        let written = replay_wal(&std::fs::read(&newest).unwrap())
            .unwrap()
            .clean_len;
        assert!(written > 0 && written <= file_len(&newest));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&newest)
            .and_then(|f| f.set_len(written))
            .unwrap();
        truncate_by(&newest, cut);
        let db = Db::open(&path, no_flush_options())
            .unwrap_or_else(|e| panic!("cut {cut}: a torn tail must not fail open: {e}"));
        let model: Map = (0..n - 1).map(|i| (k(i), value(i as u64, 100))).collect();
        check_db(&db, &model, &probe(n)).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        // New writes after the torn tail survive the next recovery.
        db.put(b"after", b"tear").unwrap();
        drop(db);
        let db = Db::open(&path, no_flush_options()).unwrap();
        assert_eq!(
            db.get(b"after").unwrap().as_deref(),
            Some(&b"tear"[..]),
            "cut {cut}"
        );
        assert_eq!(
            db.get(k(n - 2)).unwrap().as_deref(),
            Some(&value(n as u64 - 2, 100)[..]),
            "cut {cut}"
        );
        assert_eq!(
            db.get(k(n - 1)).unwrap(),
            None,
            "cut {cut}: the torn record came back"
        );
        db.close().unwrap();
    }
}

/// A WAL left by a version that wrote format 2 (8-byte fragment checksums after the
/// header too) is replayed: format 3 changed only the framing of new files.
#[test]
fn a_wal_of_format_2_is_replayed() {
    use lsm_format::wal::{encode_batch_header, encode_op, start_wal, WalFormat};
    use lsm_format::EntryKind;

    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, no_flush_options()).unwrap();
    for i in 0..3 {
        db.put(k(i), b"before").unwrap();
    }
    let last = db.stats().last_sequence;
    db.close().unwrap();
    let newest = files_with_ext(&path, "wal").pop().expect("a WAL");
    let number: u64 = newest
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("a numbered WAL");

    let mut payload = Vec::new();
    encode_batch_header(&mut payload, last + 1, 0, 3);
    encode_op(&mut payload, EntryKind::Put, b"v2-a", b"one");
    encode_op(&mut payload, EntryKind::Put, &k(1), b"overwritten");
    encode_op(&mut payload, EntryKind::Tombstone, &k(0), b"");
    let mut file = Vec::new();
    start_wal(WalFormat::V2, &mut file).add_record(&payload, &mut file);
    std::fs::write(path.join(format!("{:06}.wal", number + 1)), &file).unwrap();

    for round in 0..2 {
        let db = Db::open(&path, no_flush_options()).unwrap();
        assert_eq!(db.get(b"v2-a").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(
            db.get(k(1)).unwrap().as_deref(),
            Some(&b"overwritten"[..]),
            "round {round}"
        );
        assert_eq!(db.get(k(0)).unwrap(), None, "round {round}");
        assert_eq!(db.get(k(2)).unwrap().as_deref(), Some(&b"before"[..]));
        assert_eq!(db.stats().last_sequence, last + 3);
        db.close().unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_second_open_is_refused_with_locked() {
    if let Some(dir) = child_dir() {
        // In another process the directory is locked too.
        match Db::open(&dir, Options::default()) {
            Err(Error::Locked { .. }) => exit_child(),
            Err(e) => panic!("expected Locked from another process, got {e}"),
            Ok(_) => panic!("another process opened a locked database"),
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    match Db::open(&path, Options::default()) {
        Err(Error::Locked { path: p }) => assert!(
            p.ends_with("db"),
            "Locked names the directory: {}",
            p.display()
        ),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a second open of the same directory succeeded"),
    }
    run_child("a_second_open_is_refused_with_locked", &path, &[]);
    // The refused opens did not disturb the open instance.
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    db.close().unwrap();
    let db = Db::open(&path, Options::default()).expect("open after close");
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    drop(db);
    Db::open(&path, Options::default())
        .expect("open after drop")
        .close()
        .unwrap();

    // The same on the simulated disk.
    let fs = SimFs::new();
    let db = open_sim(&fs, &Options::default()).unwrap();
    assert!(matches!(
        open_sim(&fs, &Options::default()),
        Err(Error::Locked { .. })
    ));
    db.close().unwrap();
    open_sim(&fs, &Options::default()).unwrap().close().unwrap();
}

/// What a damaged segment may do to a read: fail with `Corruption`, or return the
/// right answer. Counts which of open, get and scan reported it.
#[derive(Debug, Default)]
struct Reported {
    open: usize,
    get: usize,
    scan: usize,
    silent: usize,
}

fn check_damaged(path: &Path, options: &Options, model: &Map, what: &str, seen: &mut Reported) {
    let db = match Db::open(path, options.clone()) {
        Ok(db) => db,
        Err(e) if e.is_corruption() => {
            seen.open += 1;
            return;
        }
        Err(e) => panic!("{what}: open failed with a non-corruption error: {e}"),
    };
    let mut reported = false;
    for (key, want) in model {
        match db.get(key) {
            Ok(Some(v)) => assert_eq!(
                &v[..],
                &want[..],
                "{what}: get {} returned a wrong value",
                show(key)
            ),
            Ok(None) => panic!(
                "{what}: get {} lost the key instead of reporting corruption",
                show(key)
            ),
            Err(e) if e.is_corruption() => {
                assert!(
                    e.to_string().contains(".seg"),
                    "{what}: the error names the file: {e}"
                );
                reported = true;
                seen.get += 1;
            }
            Err(e) => panic!("{what}: get failed with a non-corruption error: {e}"),
        }
    }
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for dir in [Direction::Forward, Direction::Reverse] {
        match collect(db.scan::<Vec<u8>, _>(..), dir) {
            Ok(got) => assert!(
                got == all,
                "{what}: a {dir:?} scan returned wrong data without an error"
            ),
            Err(e) if e.is_corruption() => {
                reported = true;
                seen.scan += 1;
            }
            Err(e) => panic!("{what}: scan failed with a non-corruption error: {e}"),
        }
    }
    if !reported {
        seen.silent += 1;
    }
    drop(db);
}

#[test]
fn a_flipped_byte_in_a_segment_is_corruption_never_a_wrong_value() {
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("db");
        // One segment of about 12 KiB, no block cache (every read goes to the file).
        let options = Options::default()
            .with_segment_size(64 << 10)
            .with_block_size(1024)
            .with_block_cache_size(0)
            .with_compression(compression);
        let db = Db::open(&path, options.clone()).unwrap();
        let mut model = Map::new();
        for i in 0..150 {
            let v = value(i as u64, 60);
            db.put(k(i), &v).unwrap();
            model.insert(k(i), v);
        }
        db.close().unwrap();
        let segs = segments(&path);
        assert_eq!(segs.len(), 1, "{compression:?}: expected one segment");
        let seg = segs[0].clone();
        let pristine = std::fs::read(&seg).unwrap();
        let len = file_len(&seg) as usize;
        let layout = open_segment(&seg).layout().unwrap();
        // Every region's first, middle and last byte, and a stride through the file
        // (each open on the real file system costs a few fsyncs: the exhaustive sweep
        // runs on the simulated disk elsewhere).
        let mut offsets: Vec<usize> = layout
            .iter()
            .flat_map(|r| {
                [
                    r.offset as usize,
                    (r.offset + r.len / 2) as usize,
                    (r.offset + r.len - 1) as usize,
                ]
            })
            .chain((0..len).step_by(53))
            .filter(|&o| o < len)
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        let mut seen = Reported::default();
        for (n, &offset) in offsets.iter().enumerate() {
            // Low and high bits in turn.
            let mask = if n % 2 == 0 { 0x01u8 } else { 0x80 };
            flip_byte(&seg, offset, mask);
            let region = layout
                .iter()
                .find(|r| (r.offset as usize..(r.offset + r.len) as usize).contains(&offset))
                .map_or("?", |r| r.kind);
            check_damaged(
                &path,
                &options,
                &model,
                &format!("{compression:?}: flip {mask:#x} at {offset} ({region})"),
                &mut seen,
            );
            std::fs::write(&seg, &pristine).unwrap();
        }
        println!("{compression:?}: {} flips: {seen:?}", offsets.len());
        // Every byte of the file is checksummed, so no flip may go unnoticed.
        assert_eq!(
            seen.silent, 0,
            "{compression:?}: some flips were not reported: {seen:?}"
        );
        assert!(
            seen.get > 0 && seen.scan > 0,
            "{compression:?}: get and scan each report damaged data blocks: {seen:?}"
        );
        let db = Db::open(&path, options).unwrap();
        check_db(&db, &model, &probe(150)).unwrap();
        db.close().unwrap();
    }
}

/// A workload of puts, deletes and batches over a small key space with a tiny
/// memtable, syncing now and then. Stops at the first failed call (after a power
/// cut) and records it as attempted. Returns the history.
fn crash_workload(db: &Db, seed: u64, steps: usize) -> History {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut history = History::new(Map::new());
    for i in 0..steps {
        let step: Step = match rng.gen_range(0..10) {
            0..=5 => vec![(
                k(rng.gen_range(0..150)),
                Some(value(i as u64, rng.gen_range(0..300))),
            )],
            6 | 7 => vec![(k(rng.gen_range(0..150)), None)],
            _ => (0..rng.gen_range(1..8))
                .map(|j| {
                    (
                        k(rng.gen_range(0..150)),
                        rng.gen_bool(0.8)
                            .then(|| value((i * 100 + j) as u64, rng.gen_range(0..200))),
                    )
                })
                .collect(),
        };
        match write_step(db, &step) {
            Ok(()) => history.ack(step),
            Err(_) => {
                history.attempt(step);
                return history;
            }
        }
        if rng.gen_ratio(1, 40) && db.sync().is_ok() {
            history.synced();
        }
        if rng.gen_ratio(1, 150) && db.flush().is_err() {
            return history;
        }
    }
    history
}

fn crash_options() -> Options {
    Options::default()
        .with_memtable_size(4096)
        .with_segment_size(4096)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(6)
        .with_level_size_multiplier(2)
        .with_level1_size(8 << 10)
}

/// After a power cut at a random moment, in every crash mode, the database is a
/// prefix of the acknowledged history that covers every synced write, a second
/// reopen reads the same, and it takes new writes.
#[test]
fn crashes_in_every_mode_leave_a_prefix_of_the_history() {
    let options = crash_options();
    // How many file operations the whole workload takes.
    let full = SimFs::new();
    let db = open_sim(&full, &options).unwrap();
    let history = crash_workload(&db, 1, 400);
    assert_eq!(history.acked, 400);
    let total_ops = full.op_count();
    // A crash image of the finished workload while the engine still runs.
    for mode in CrashMode::ALL {
        crash_and_check(&full, mode, 0, &options, &history).unwrap();
    }
    db.close().unwrap();

    let runs = common::env_or("LSM_CRASH_RUNS", 24u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(common::env_or("LSM_CRASH_SEED", 5u64));
    for run in 0..runs {
        let fs = SimFs::new();
        let cut = rng.gen_range(1..total_ops);
        fs.power_off_after(cut);
        let (history, db) = match open_sim(&fs, &options) {
            Ok(db) => (crash_workload(&db, 1, 400), Some(db)),
            Err(_) => (History::default(), None),
        };
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            let prefix = crash_and_check(&fs, mode, run * 4 + m as u64, &options, &history)
                .unwrap_or_else(|e| {
                    panic!("run {run}, power cut after {cut} of {total_ops} ops: {e}")
                });
            assert!(prefix >= history.durable);
        }
        drop(db);
    }
}

#[test]
fn recovered_state_survives_repeated_crashes() {
    // Crash, recover, write more, crash again: each recovery builds on the last.
    let options = crash_options();
    let mut fs = SimFs::new();
    let mut expected = Map::new();
    for round in 0..6u64 {
        let db = open_sim(&fs, &options).unwrap();
        let found = read_all(&db).unwrap();
        assert!(
            found == expected,
            "round {round}: recovery lost synced data ({} keys, want {})",
            found.len(),
            expected.len()
        );
        for i in 0..300 {
            let key = k((i * 7 + round as usize * 13) % 500);
            let v = value(round * 1000 + i as u64, 50);
            db.put(&key, &v).unwrap();
            expected.insert(key, v);
        }
        db.sync().unwrap();
        // Unsynced writes after the sync may be lost; they are overwritten next round.
        fs = fs.crash(CrashMode::ALL[round as usize % 4], round);
        drop(db);
    }
}

#[test]
fn an_open_without_create_if_missing_leaves_a_plain_directory_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"not a database").unwrap();
    let options = Options::default().with_create_if_missing(false);
    let err = Db::open(tmp.path(), options).expect_err("no database here");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["notes.txt"], "open left a file behind");
}
