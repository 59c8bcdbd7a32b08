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
    assert!(RealFs.map(&path).unwrap().bytes.is_empty());
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
    let mapped = RealFs.map(&path).unwrap().bytes;
    assert_eq!(&mapped[..], &data[..]);
    let slice = mapped.slice(100..200);
    drop(mapped);
    // The engine removes segments that readers may still hold: on Unix the mapping
    // stays valid after the unlink.
    RealFs.remove(&path).unwrap();
    assert_eq!(&slice[..], &data[100..200]);
}

/// Resident kilobytes of the mapping of `path`, from `/proc/self/smaps`.
#[cfg(target_os = "linux")]
fn resident_kib(path: &std::path::Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut lines = smaps.lines().skip_while(|l| !l.ends_with(name));
    assert!(lines.next().is_some(), "{name} is not mapped");
    let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
    rss.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn released_pages_leave_the_resident_set_and_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg");
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let mut f = RealFs.create(&path).unwrap();
    f.write_all(&data).unwrap();
    f.sync().unwrap();
    drop(f);
    let mapped = RealFs.map(&path).unwrap();
    let sum = |b: &[u8]| b.iter().map(|&x| u64::from(x)).sum::<u64>();
    assert_eq!(sum(&mapped.bytes), sum(&data));
    assert_eq!(resident_kib(&path), 1024, "every page was read");
    // Inward alignment: a range inside one 64 KiB unit releases nothing.
    mapped.release(100..60_000);
    assert_eq!(resident_kib(&path), 1024);
    mapped.release(0..(512 << 10) + 100);
    assert_eq!(resident_kib(&path), 512, "the first half left");
    assert_eq!(&mapped.bytes[..], &data[..], "and reads back the same");
    mapped.release(0..data.len());
    assert_eq!(mapped.bytes[data.len() - 1], data[data.len() - 1]);
    // In-memory contents have nothing to release.
    lsm_core::fs::MappedFile::in_memory(data.clone().into()).release(0..data.len());
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
