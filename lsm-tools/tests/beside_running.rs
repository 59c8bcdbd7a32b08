//! The reading tools beside a process that has the database open and keeps writing,
//! flushing and compacting: without the lock they still see every acknowledged write.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lsm_tools::verify::verify_path;

#[test]
fn merged_view_sees_every_acknowledged_write_while_files_churn() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), common::small_options()).unwrap();
    let written = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let total = 6000u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..total {
                db.put(format!("key{i:06}"), format!("value-{i}")).unwrap();
                written.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut loads = 0;
        while !done.load(Ordering::SeqCst) || loads == 0 {
            let acknowledged = written.load(Ordering::SeqCst);
            // The view `lsm-dump --entries` prints: the engine's read-only open.
            let view =
                lsm_core::Db::open_read_only(tmp.path(), lsm_core::Options::default()).unwrap();
            let keys: Vec<_> = view.iter().map(|r| r.unwrap().0).collect();
            assert!(
                keys.len() as u64 >= acknowledged,
                "saw {} keys, {acknowledged} were acknowledged before the read",
                keys.len()
            );
            for (i, k) in keys.iter().enumerate().take(acknowledged as usize) {
                assert_eq!(&k[..], format!("key{i:06}").as_bytes());
            }
            loads += 1;
        }
    });
    db.close().unwrap();
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}
