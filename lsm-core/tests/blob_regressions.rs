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
