//! End-to-end checks of the engine by its author: the main paths through the public
//! API on the real file system. The exhaustive suites live in the other test files.

use std::collections::BTreeMap;
use std::sync::Arc;

use lsm_core::{Db, Error, InvalidArgumentKind, Options, PoisonedBy, WriteBatch};

fn small() -> Options {
    Options::default()
        .with_memtable_size(4 << 10)
        .with_segment_size(4 << 10)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(8)
        .with_level1_size(16 << 10)
        .with_level_size_multiplier(4)
        .with_block_cache_size(1 << 20)
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat((i % 50) as usize)).into_bytes()
}

fn all(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.scan::<&[u8], _>(..)
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn writes_survive_flush_compaction_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    {
        let db = Db::open(dir.path(), small()).unwrap();
        for round in 0..3 {
            for i in 0..600 {
                let (k, v) = (key(i * 7 % 600), value(i, round));
                db.put(&k, &v).unwrap();
                model.insert(k, v);
                if i % 5 == round {
                    let d = key(i * 3 % 600);
                    db.delete(&d).unwrap();
                    model.remove(&d);
                }
            }
        }
        let want: Vec<_> = model.clone().into_iter().collect();
        assert_eq!(all(&db), want);
        let stats = db.stats();
        assert!(stats.flushes > 0, "{stats:?}");
        assert!(
            stats.levels.len() > 1,
            "compaction moved data down: {stats:?}"
        );
        db.compact().unwrap();
        assert_eq!(all(&db), want);
        let mut rev: Vec<_> = db
            .scan::<&[u8], _>(..)
            .rev()
            .map(|r| r.unwrap().0.to_vec())
            .collect();
        rev.reverse();
        assert_eq!(rev, want.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), small()).unwrap();
    let want: Vec<_> = model.clone().into_iter().collect();
    assert_eq!(all(&db), want);
    for i in 0..600 {
        let k = key(i);
        assert_eq!(
            db.get(&k).unwrap().map(|v| v.to_vec()),
            model.get(&k).cloned()
        );
    }
}

/// Copies the files of a live database (a crash image of what reached the OS).
fn crash_copy(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn unflushed_writes_are_replayed_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let image = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("a", "1").unwrap();
    db.delete("a").unwrap();
    db.put("b", "2").unwrap();
    let mut batch = WriteBatch::new();
    batch.put("c", "3").put("d", "4").delete("b");
    db.write(batch).unwrap();
    db.delete("zz").unwrap();
    let last = db.stats().last_sequence;
    crash_copy(dir.path(), image.path());
    // A second open of a live database is refused, in this process too.
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
    drop(db);

    let db = Db::open(image.path(), Options::default()).unwrap();
    assert_eq!(db.get("a").unwrap(), None);
    assert_eq!(db.get("b").unwrap(), None);
    assert_eq!(db.get("c").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(db.get("d").unwrap().as_deref(), Some(&b"4"[..]));
    // The trailing delete advanced the sequence number too.
    assert_eq!(db.stats().last_sequence, last);
}

#[test]
fn reopen_replays_wal_after_drop_without_flush() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("x", "1").unwrap();
    let last = db.stats().last_sequence;
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get("x").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(db.stats().last_sequence >= last);
    db.put("y", "2").unwrap();
    assert!(db.stats().last_sequence > last);
}

#[test]
fn snapshots_and_scans_are_stable_across_writes_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for i in 0..300 {
        db.put(key(i), value(i, 0)).unwrap();
    }
    let snap = db.snapshot();
    let scan = db.scan(key(100)..key(200));
    for i in 0..300 {
        if i % 2 == 0 {
            db.delete(key(i)).unwrap();
        } else {
            db.put(key(i), value(i, 1)).unwrap();
        }
    }
    db.compact().unwrap();
    let seen: Vec<_> = scan.map(|r| r.unwrap()).collect();
    assert_eq!(seen.len(), 100);
    for (n, (k, v)) in seen.iter().enumerate() {
        let i = 100 + n as u32;
        assert_eq!(&k[..], &key(i)[..]);
        assert_eq!(&v[..], &value(i, 0)[..]);
    }
    for i in 0..300 {
        assert_eq!(snap.get(key(i)).unwrap().as_deref(), Some(&value(i, 0)[..]));
        let now = db.get(key(i)).unwrap();
        if i % 2 == 0 {
            assert_eq!(now, None);
        } else {
            assert_eq!(now.as_deref(), Some(&value(i, 1)[..]));
        }
    }
    assert_eq!(snap.scan::<&[u8], _>(..).count(), 300);
    assert_eq!(db.prefix("key0001").count(), 50); // 100..=199, odd ones
}

#[test]
fn concurrent_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), small()).unwrap());
    let writers: Vec<_> = (0..4u32)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    let k = key(t * 10_000 + i);
                    db.put(&k, value(i, t)).unwrap();
                    assert_eq!(db.get(&k).unwrap().as_deref(), Some(&value(i, t)[..]));
                }
            })
        })
        .collect();
    let reader = {
        let db = db.clone();
        std::thread::spawn(move || {
            for _ in 0..20 {
                let keys: Vec<_> = db.scan::<&[u8], _>(..).map(|r| r.unwrap().0).collect();
                assert!(keys.windows(2).all(|w| w[0] < w[1]));
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(db.scan::<&[u8], _>(..).count(), 2000);
    let db = Arc::try_unwrap(db).unwrap();
    db.close().unwrap();
}

#[test]
fn oversized_keys_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let big = vec![0u8; 65536];
    assert!(matches!(
        db.put(&big, "v"),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            ..
        })
    ));
    let mut batch = WriteBatch::new();
    batch.put("ok", "v").put(&big, "v");
    assert!(matches!(
        db.write(batch),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            ..
        })
    ));
    assert_eq!(db.get("ok").unwrap(), None);
    assert_eq!(db.stats().last_sequence, 0);
}

#[test]
fn flush_interval_flushes_an_idle_memtable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options::default().with_flush_interval(Some(std::time::Duration::from_millis(20))),
    )
    .unwrap();
    db.put("k", "v").unwrap();
    // Liveness, not timing: the generous deadline only bounds a hang.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while db.stats().flushes == 0 {
        assert!(std::time::Instant::now() < deadline, "no periodic flush");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(db.stats().levels[0].segments, 1);
    db.close().unwrap();
}

#[test]
fn a_failed_wal_write_poisons_writes_but_not_reads() {
    use lsm_core::fs::{FaultFs, FaultKind, FaultMode, RealFs};
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultFs::new(Arc::new(RealFs));
    let db = Db::open_with_fs(dir.path(), Options::default(), faults.fs_ref()).unwrap();
    db.put("before", "1").unwrap();
    faults.fail(FaultKind::Write, 1, FaultMode::Once);
    assert!(matches!(db.put("lost", "2"), Err(Error::Io { .. })));
    assert!(matches!(
        db.put("after", "3"),
        Err(Error::Poisoned {
            operation: PoisonedBy::WalWrite,
            ..
        })
    ));
    assert!(matches!(db.sync(), Err(Error::Poisoned { .. })));
    assert!(matches!(db.flush(), Err(Error::Poisoned { .. })));
    assert_eq!(db.get("before").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("after").unwrap(), None);
    assert!(matches!(db.close(), Err(Error::Poisoned { .. })));
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get("before").unwrap().as_deref(), Some(&b"1"[..]));
    db.put("after", "3").unwrap();
}

#[test]
fn numbers_of_leftover_temporary_files_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    Db::open(dir.path(), Options::default())
        .unwrap()
        .close()
        .unwrap();
    std::fs::write(dir.path().join("000999.seg.tmp"), b"half written").unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(
        !dir.path().join("000999.seg.tmp").exists(),
        "removed at open"
    );
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    let numbers: Vec<u64> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".seg").and_then(|n| n.parse().ok())
        })
        .collect();
    assert!(
        !numbers.is_empty() && numbers.iter().all(|&n| n > 999),
        "{numbers:?}"
    );
}

#[test]
fn stats_count_a_flush_as_soon_as_flush_returns() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for round in 1..=3u64 {
        db.put(key(round as u32), value(round as u32, 0)).unwrap();
        db.flush().unwrap();
        let stats = db.stats();
        assert_eq!(
            stats.flushes, round,
            "flush count lags after flush() returned"
        );
        assert!(stats.bytes_flushed > 0);
        assert!(stats.levels.iter().map(|l| l.segments).sum::<usize>() >= 1);
    }
    db.close().unwrap();
}

/// `wal_bytes_written` counts every byte this instance wrote to WAL files, the
/// 19-byte header record of each new WAL included.
#[test]
fn stats_count_every_wal_byte_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(
        db.stats().wal_bytes_written,
        19,
        "the new WAL's header record"
    );
    // One put of a 4-byte key and 3-byte value: a 7-byte fragment header (WAL
    // format 3), a 3-byte batch header (first_seq 1, synced_offset 0, count 1),
    // then kind, two lengths, key and value.
    db.put("abcd", "xyz").unwrap();
    assert_eq!(db.stats().wal_bytes_written, 19 + 7 + 3 + 3 + 4 + 3);
    // A flush starts a new WAL: its header counts.
    let before = db.stats().wal_bytes_written;
    db.flush().unwrap();
    assert_eq!(db.stats().wal_bytes_written, before + 19);
    db.close().unwrap();
}

#[test]
fn compact_into_puts_everything_in_the_chosen_level_without_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    // Level 1 large enough that no background compaction moves files while the
    // test inspects the levels, and static level sizing, under which a level
    // above where the data belongs is not drained.
    let options = small()
        .with_level1_size(64 << 20)
        .with_dynamic_level_bytes(false);
    let db = Db::open(dir.path(), options).unwrap();
    let mut model = BTreeMap::new();
    for round in 0..3 {
        for i in 0..300u32 {
            if i % 7 == round {
                db.delete(key(i)).unwrap();
                model.remove(&key(i));
            } else {
                db.put(key(i), value(i, round)).unwrap();
                model.insert(key(i), value(i, round));
            }
        }
        db.flush().unwrap();
    }
    let expected: Vec<_> = model.into_iter().collect();
    for level in [3usize, 1, 2] {
        db.compact_into(level).unwrap();
        assert_eq!(
            all(&db),
            expected,
            "contents changed by compact_into({level})"
        );
        let stats = db.stats();
        for l in &stats.levels {
            if l.level == level {
                assert!(l.segments > 0, "level {level} empty after compact_into");
            } else {
                assert_eq!(
                    l.segments, 0,
                    "level {} not empty after compact_into({level})",
                    l.level
                );
            }
        }
    }
    assert!(matches!(
        db.compact_into(0),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::LevelOutOfRange,
            ..
        })
    ));
    assert!(matches!(
        db.compact_into(16),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::LevelOutOfRange,
            ..
        })
    ));
    db.close().unwrap();
    // No tombstone remains on disk.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "seg") {
            let bytes = lsm_core::Bytes::from(std::fs::read(&path).unwrap());
            let reader = lsm_format::SegmentReader::open(bytes, Default::default()).unwrap();
            assert_eq!(reader.properties().tombstone_count, 0, "{}", path.display());
        }
    }
}
