//! `repair` of a database whose values live in blob files: a rebuilt manifest
//! records the blob files its segments point into (and each segment's references),
//! so every value reads back after a lost or cut manifest; a missing blob file is
//! reported with the entries that pointed into it, and no blob file is deleted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use lsm_core::repair::FileStatus;
use lsm_core::{repair, Db, Options};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn options() -> Options {
    common::small_options().with_blob_threshold(Some(200))
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

/// Every fourth value small (inline), the others large (in blob files).
fn value(i: u64, round: u64) -> Vec<u8> {
    let len = if i.is_multiple_of(4) {
        40
    } else {
        300 + (i as usize % 5) * 60
    };
    let mut v = format!("{i:05}-{round:03}-").into_bytes();
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

/// The blob files under `dir` and its `lost/`, by name.
fn blob_files(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for d in [dir.to_path_buf(), dir.join("lost")] {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".blob") {
                names.insert(name);
            }
        }
    }
    names
}

/// A database in `dir` written in several flushes (with compactions between), its
/// values mostly in blob files; returns its contents.
fn build(dir: &Path) -> Map {
    let db = Db::open(dir, options()).unwrap();
    let mut model = Map::new();
    for round in 0..3u64 {
        for i in (round * 60)..(round * 60 + 150) {
            let v = value(i, round);
            db.put(key(i), &v).unwrap();
            model.insert(key(i), v);
        }
        db.flush().unwrap();
        if round == 1 {
            db.compact().unwrap();
        }
    }
    db.close().unwrap();
    model
}

/// Every key of `model` reads its value, by get and by scan.
fn check(db: &Db, model: &Map) {
    for (k, v) in model {
        assert_eq!(
            db.get(k).unwrap().as_deref(),
            Some(&v[..]),
            "key {}",
            String::from_utf8_lossy(k)
        );
    }
    let scanned: Map = db
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(scanned == *model, "the scan differs");
}

#[test]
fn a_lost_manifest_is_rebuilt_with_the_blob_files_and_every_value_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let model = build(dir);
    let before = blob_files(dir);
    assert!(before.len() >= 2, "{before:?}");
    std::fs::remove_file(dir.join("MANIFEST")).unwrap();
    assert!(Db::open(dir, options()).is_err());

    let report = repair(dir, options()).unwrap();
    assert!(report.rebuilt, "{report}");
    assert!(
        report.files.iter().all(|f| f.status != FileStatus::Missing),
        "{report}"
    );
    assert!(
        before.is_subset(&blob_files(dir)),
        "a blob file was deleted"
    );
    let db = Db::open(dir, options()).unwrap();
    check(&db, &model);
    assert!(db.stats().blob_files > 0);
    // The rebuilt manifest holds up: compacting it and reopening reads the same.
    db.compact().unwrap();
    check(&db, &model);
    db.close().unwrap();
    let db = Db::open(dir, options()).unwrap();
    check(&db, &model);
}

#[test]
fn a_cut_manifest_is_rebuilt_with_the_blob_files_and_every_value_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let model = build(dir);
    let before = blob_files(dir);
    let manifest = std::fs::read(dir.join("MANIFEST")).unwrap();
    // Cut in the middle of its records: the later flushes and compactions are
    // lost from it, their segments and blob files are not.
    std::fs::write(dir.join("MANIFEST"), &manifest[..manifest.len() * 2 / 3]).unwrap();

    let report = repair(dir, options()).unwrap();
    assert!(report.rebuilt, "{report}");
    // The cut manifest lists blob files compacted away since: reported missing,
    // with no value lost (no segment kept points into them).
    for f in report.files.iter().filter(|f| f.file.ends_with(".blob")) {
        assert_eq!(f.status, FileStatus::Missing, "{report}");
        assert_eq!(f.lost.entries, Some(0), "{report}");
    }
    assert!(
        before.is_subset(&blob_files(dir)),
        "a blob file was deleted"
    );
    let db = Db::open(dir, options()).unwrap();
    check(&db, &model);
    db.close().unwrap();
    let db = Db::open(dir, options()).unwrap();
    check(&db, &model);
}

#[test]
fn a_missing_blob_file_is_reported_and_only_its_values_are_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // One write per key, so that a lost value has no older one to fall back to.
    let db = Db::open(dir, options()).unwrap();
    let mut model = Map::new();
    for round in 0..3u64 {
        for i in (round * 100)..(round * 100 + 100) {
            let v = value(i, round);
            db.put(key(i), &v).unwrap();
            model.insert(key(i), v);
        }
        db.flush().unwrap();
    }
    db.close().unwrap();
    let before = blob_files(dir);
    assert!(before.len() >= 2, "{before:?}");
    let victim = before.iter().next().unwrap().clone();
    std::fs::remove_file(dir.join(&victim)).unwrap();
    assert!(Db::open(dir, options()).is_err());

    let report = repair(dir, options()).unwrap();
    let finding = report
        .files
        .iter()
        .find(|f| f.file == victim)
        .unwrap_or_else(|| panic!("{victim} is not reported: {report}"));
    assert_eq!(finding.status, FileStatus::Missing, "{report}");
    let lost = finding.lost.entries.unwrap_or(0);
    assert!(lost > 0, "{report}");
    assert!(report.to_string().contains(&victim), "{report}");
    // The segments pointing into it are damaged, and say so.
    let damaged: Vec<_> = (report.files.iter())
        .filter(|f| f.status == FileStatus::Damaged && f.detail.contains(&victim))
        .collect();
    assert!(!damaged.is_empty(), "{report}");
    let others: BTreeSet<String> = before.iter().filter(|n| **n != victim).cloned().collect();
    assert!(
        others.is_subset(&blob_files(dir)),
        "a blob file was deleted"
    );

    // Every other value reads; a lost one reads as absent, within a reported range.
    let db = Db::open(dir, options()).unwrap();
    let mut missing = 0;
    for (k, v) in &model {
        match db.get(k).unwrap() {
            Some(got) => assert_eq!(&got[..], &v[..]),
            None => {
                missing += 1;
                assert!(
                    damaged
                        .iter()
                        .any(|f| f.lost.key_ranges.iter().any(|r| r.contains(k))),
                    "key {} is lost but not reported: {report}",
                    String::from_utf8_lossy(k)
                );
            }
        }
    }
    assert_eq!(missing, lost, "{report}");
    assert!(db.iter().all(|r| r.is_ok()));
}
