//! The real file system honours the parts of the `FileSystem` contract a test can
//! observe without pulling the plug: locking, mapping, listing.

use std::io;

use lsm_core::fs::{FileSystem, RealFs};

#[test]
fn second_lock_in_same_process_would_block_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("LOCK");
    let guard = RealFs.lock(&path).unwrap();
    let err = RealFs.lock(&path).err().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert!(err.to_string().contains("LOCK"), "{err}");
    drop(guard);
    let again = RealFs.lock(&path).unwrap();
    drop(again);
    assert!(path.exists());
}

#[test]
fn map_of_empty_file_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty");
    drop(RealFs.create(&path).unwrap());
    assert!(RealFs.map(&path).unwrap().is_empty());
}

#[test]
fn map_of_file_sees_its_bytes_and_outlives_removal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 256) as u8).collect();
    let mut f = RealFs.create(&path).unwrap();
    f.write_all(&data).unwrap();
    f.sync().unwrap();
    drop(f);
    let mapped = RealFs.map(&path).unwrap();
    assert_eq!(&mapped[..], &data[..]);
    let slice = mapped.slice(100..200);
    drop(mapped);
    // The engine removes segments that readers may still hold: on Unix the mapping
    // stays valid after the unlink.
    RealFs.remove(&path).unwrap();
    assert_eq!(&slice[..], &data[100..200]);
}

#[test]
fn map_of_missing_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let err = RealFs.map(&dir.path().join("nope")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn list_returns_sorted_names_and_sync_dir_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.log", "a.seg", "CURRENT"] {
        drop(RealFs.create(&dir.path().join(name)).unwrap());
    }
    RealFs.sync_dir(dir.path()).unwrap();
    assert_eq!(
        RealFs.list(dir.path()).unwrap(),
        ["CURRENT", "a.seg", "b.log"]
    );
    assert!(RealFs.sync_dir(&dir.path().join("missing")).is_err());
}
