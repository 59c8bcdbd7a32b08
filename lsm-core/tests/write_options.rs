//! Per-write durability: `Db::write_opt` with `WriteOptions::sync` in a database
//! opened without `sync_writes`. The synced write, and every write acknowledged
//! before it, survives power loss in every crash mode; writes after it are not
//! synced by it.

mod common;

use common::sim::open_sim;
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Db, Options, WriteBatch, WriteOptions};

const BEFORE: usize = 200;

fn options() -> Options {
    // Large enough that nothing is flushed: every write lives in the WAL only, so
    // what survives is decided by the WAL's fsyncs alone.
    Options::default()
        .with_memtable_size(8 << 20)
        .with_sync_writes(false)
}

fn k(i: usize) -> String {
    format!("k{i:04}")
}

fn write_before(db: &Db) {
    for i in 0..BEFORE {
        db.put(k(i), format!("v{i}")).unwrap();
    }
}

fn synced_batch() -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put("synced-a", "1").put("synced-b", "2").delete(k(0));
    batch
}

#[test]
fn without_a_synced_write_power_loss_drops_the_unsynced_writes() {
    // The control for the test below: the workload alone, crashed with only the
    // fsynced bytes kept, loses its writes, so surviving them there is the sync's
    // doing.
    let fs = SimFs::new();
    let db = open_sim(&fs, &options()).unwrap();
    write_before(&db);
    db.write_opt(synced_batch(), &WriteOptions::default())
        .unwrap();
    let image = fs.crash(CrashMode::DropUnsynced, 1);
    let crashed = open_sim(&image, &options()).unwrap();
    assert_eq!(crashed.iter().count(), 0, "unsynced writes survived");
    crashed.close().unwrap();
    db.close().unwrap();
}

#[test]
fn a_synced_write_survives_power_loss_with_every_write_before_it() {
    let fs = SimFs::new();
    let db = open_sim(&fs, &options()).unwrap();
    write_before(&db);
    let syncs = db.stats().wal_syncs;
    db.write_opt(synced_batch(), &WriteOptions::new().with_sync(true))
        .unwrap();
    assert_eq!(
        db.stats().wal_syncs,
        syncs + 1,
        "one fsync for the synced write"
    );
    db.put("after", "not synced").unwrap();
    assert_eq!(db.stats().wal_syncs, syncs + 1, "sync_writes stays off");

    for mode in CrashMode::ALL {
        for seed in 0..4 {
            let image = fs.crash(mode, seed);
            let crashed = open_sim(&image, &options()).unwrap();
            let what = format!("{mode:?}, seed {seed}");
            assert_eq!(
                crashed.get("synced-a").unwrap().as_deref(),
                Some(&b"1"[..]),
                "{what}"
            );
            assert_eq!(
                crashed.get("synced-b").unwrap().as_deref(),
                Some(&b"2"[..]),
                "{what}"
            );
            assert_eq!(
                crashed.get(k(0)).unwrap(),
                None,
                "{what}: the batch's delete"
            );
            for i in 1..BEFORE {
                assert_eq!(
                    crashed.get(k(i)).unwrap().as_deref(),
                    Some(format!("v{i}").as_bytes()),
                    "{what}: a write acknowledged before the synced one"
                );
            }
            if mode == CrashMode::DropUnsynced {
                assert_eq!(crashed.get("after").unwrap(), None, "{what}");
            }
            crashed.close().unwrap();
        }
    }
    db.close().unwrap();
}
