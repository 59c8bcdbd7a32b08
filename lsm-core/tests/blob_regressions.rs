//! Regressions of key-value separation found by the reliability suites run with
//! blob files (`docs/testing.md`): each test is the smallest history that showed
//! the defect.

mod common;

use lsm_core::{Db, Options};

fn options() -> Options {
    common::small_options().with_blob_threshold(Some(100))
}

/// Found by `model.rs::model_with_blob_files_on_simulated_fs` (a put, then a
/// checkpoint): `Db::checkpoint` linked the version's segments into the copy but
/// not its blob files, so the copy's manifest listed blob files it lacked and
/// `Db::open` refused it ("1 blob file listed in the manifest is missing").
#[test]
fn a_checkpoint_holds_the_blob_files_its_segments_point_into() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("live"), options()).unwrap();
    let big = vec![b'v'; 500];
    db.put("big", &big).unwrap();
    db.put("small", "x").unwrap();
    db.checkpoint(dir.path().join("copy")).unwrap();
    db.close().unwrap();
    let copy = Db::open(dir.path().join("copy"), options()).unwrap();
    assert_eq!(copy.get("big").unwrap().as_deref(), Some(&big[..]));
    assert_eq!(copy.get("small").unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(copy.stats().blob_files, 1);
    copy.close().unwrap();
}

/// Found with the checkpoint defect above, by reading `backup/create.rs`: a
/// backup copied the version's segments only, so a restored database lacked the
/// blob files its manifest lists and did not open (backup catalogs now list blob
/// files, format 2).
#[test]
fn a_restored_backup_holds_the_blob_files_its_segments_point_into() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("live"), options()).unwrap();
    let big = vec![b'v'; 500];
    db.put("big", &big).unwrap();
    let backup = db.backup(dir.path().join("backups")).unwrap();
    db.close().unwrap();
    lsm_core::restore(
        dir.path().join("backups"),
        backup.info.id,
        dir.path().join("restored"),
    )
    .unwrap();
    let restored = Db::open(dir.path().join("restored"), options()).unwrap();
    assert_eq!(restored.get("big").unwrap().as_deref(), Some(&big[..]));
    restored.close().unwrap();
}

/// Found by reading `recovery/mod.rs`: open wrote the memtables it replayed from
/// the WALs with the database's options instead of each keyspace's own, so a
/// keyspace that keeps its values inline (`blob_threshold` `None`) got blob files
/// from its first flush after a crash.
#[test]
fn the_flush_of_replayed_wals_uses_each_keyspaces_own_options() {
    use lsm_core::fs::{CrashMode, SimFs};
    use lsm_core::fuzzing::{open_sim, DB_PATH};
    use lsm_core::KeyspaceOptions;

    let options = options().with_keyspace_options(
        "inline",
        KeyspaceOptions::default().with_blob_threshold(None),
    );
    let disk = SimFs::new();
    let db = open_sim(&disk, &options).unwrap();
    let inline = db.keyspace("inline").unwrap();
    let big = |i: u32| format!("{i:04}").repeat(100);
    for i in 0..8u32 {
        inline.put(format!("k{i}"), big(i)).unwrap();
    }
    db.sync().unwrap();
    let image = disk.crash(CrashMode::DropUnsynced, 7);
    drop(inline);
    drop(db);
    let db = open_sim(&image, &options).unwrap();
    let blob_files: Vec<String> = image
        .file_names(std::path::Path::new(DB_PATH))
        .into_iter()
        .filter(|n| n.ends_with(".blob"))
        .collect();
    assert_eq!(
        blob_files,
        Vec::<String>::new(),
        "the keyspace keeps values inline"
    );
    let inline = db.keyspace("inline").unwrap();
    for i in 0..8u32 {
        assert_eq!(
            inline.get(format!("k{i}")).unwrap().as_deref(),
            Some(big(i).as_bytes())
        );
    }
}
