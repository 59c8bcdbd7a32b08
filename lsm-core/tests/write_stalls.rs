//! Writer stalls are counted by cause in `Stats`: a compaction held back (its
//! compaction filter sleeps once) lets level 0 reach `level0_stop_writes` while
//! writers go on, so they stall; every stall is attributed to exactly one cause,
//! and the longest is recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lsm_core::{CompactionFilter, Db, FilterDecision, Options};

/// Sleeps the first time it is asked (holding up the first compaction), then
/// keeps everything.
#[derive(Default)]
struct SlowOnce {
    slept: AtomicBool,
}

impl CompactionFilter for SlowOnce {
    fn filter(&self, _: usize, _: &[u8], _: &[u8], _: bool) -> FilterDecision {
        if !self.slept.swap(true, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
        }
        FilterDecision::Keep
    }
}

#[test]
fn stalls_are_counted_by_cause_with_the_longest() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default()
        .with_memtable_size(4096)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(4)
        .with_compaction_filter(Arc::new(SlowOnce::default()));
    let db = Db::open(dir.path(), options).unwrap();
    for i in 0..3000u32 {
        db.put(format!("k{i:05}"), [b'v'; 100]).unwrap();
    }
    let s = db.stats();
    assert!(s.write_stalls > 0, "{s:?}");
    assert_eq!(
        s.write_stalls,
        s.write_stalls_level0_stop + s.write_stalls_level0_slowdown + s.write_stalls_memtables,
        "{s:?}"
    );
    // Writers waited for the held-up compaction (or the flushes behind it).
    assert!(
        s.write_stalls_level0_stop + s.write_stalls_memtables > 0,
        "{s:?}"
    );
    assert!(s.longest_write_stall_micros > 0, "{s:?}");
    assert!(
        s.longest_write_stall_micros <= s.write_stall_micros,
        "{s:?}"
    );
    assert_eq!(db.iter().count(), 3000);
    db.close().unwrap();
}

/// Every memtable switch finishes the old WAL while writers wait: counted apart
/// from stalls, with its time and the longest.
#[test]
fn wal_rotations_are_counted_with_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default().with_memtable_size(16 << 10);
    let started = std::time::Instant::now();
    let db = Db::open(dir.path(), options).unwrap();
    assert_eq!(db.stats().wal_rotations, 0, "opening is no rotation");
    for i in 0..2000u32 {
        db.put(format!("k{i:05}"), [b'v'; 100]).unwrap();
    }
    let s = db.stats();
    // About 260 KB of entries through 16 KiB memtables.
    assert!(s.wal_rotations >= 10, "{s:?}");
    assert!(
        s.longest_wal_rotation_micros <= s.wal_rotation_micros,
        "{s:?}"
    );
    assert!(
        u128::from(s.wal_rotation_micros) <= started.elapsed().as_micros(),
        "{s:?}"
    );
    db.flush().unwrap();
    assert!(
        db.stats().wal_rotations > s.wal_rotations,
        "a flush switches too"
    );
    db.close().unwrap();
}
