//! `repair` of a database whose values live in blob files: a rebuilt manifest
//! records the blob files its segments point into (and each segment's references),
//! so every value reads back after a lost or cut manifest; a missing blob file is
//! reported with the entries that pointed into it, and no blob file is deleted;
//! so is a damaged one (a byte flipped in a record, or the file cut short), which
//! is kept (in place or in `lost/`, as it was).

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

/// A database in `dir` of 300 keys written once each (so that a lost value has no
/// older one to fall back to) in three flushes, their values mostly in blob
/// files; returns its contents.
fn build_once_per_key(dir: &Path) -> Map {
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
    model
}

#[test]
fn a_missing_blob_file_is_reported_and_only_its_values_are_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let model = build_once_per_key(dir);
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

/// How a test damages a live blob file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// One byte flipped in the middle of a record (a value's bytes).
    FlipInRecord,
    /// The file cut short inside its records (its footer gone).
    Truncate,
}

/// Damages blob file `name` of `dir` as `damage` says; returns its damaged bytes.
fn damage_blob_file(dir: &Path, name: &str, damage: Damage) -> Vec<u8> {
    let path = dir.join(name);
    let mut data = std::fs::read(&path).unwrap();
    let n: u64 = name.trim_end_matches(".blob").parse().unwrap();
    let reader = lsm_format::BlobReader::open(
        bytes::Bytes::from(data.clone()),
        lsm_format::blob::BlobReadOptions::for_file(n),
    )
    .unwrap();
    // The middle record, found by walking the file.
    let records: Vec<_> = reader.iter().collect::<Result<_, _>>().unwrap();
    assert!(
        records.len() >= 10,
        "{name} holds {} records",
        records.len()
    );
    let middle = &records[records.len() / 2];
    let at = (middle.pointer.offset + u64::from(middle.pointer.len) / 2) as usize;
    match damage {
        Damage::FlipInRecord => data[at] ^= 0x10,
        Damage::Truncate => data.truncate(at),
    }
    std::fs::write(&path, &data).unwrap();
    data
}

/// A live blob file with a byte flipped in a record, or cut short: repair reports
/// it damaged with the values lost (the pointer entries into it, each in a
/// reported key range of a segment reported damaged), keeps it (in place or in
/// `lost/`, byte for byte), keeps every other blob file and every other value,
/// and the repaired database opens, reads no wrong value (a lost key is absent:
/// it was written once), and holds up through a compaction and two reopens.
#[test]
fn a_damaged_blob_file_is_reported_kept_and_only_its_values_are_lost() {
    for damage in [Damage::FlipInRecord, Damage::Truncate] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let model = build_once_per_key(dir);
        let before = blob_files(dir);
        assert!(before.len() >= 2, "{before:?}");
        let victim = before.iter().nth(1).unwrap().clone();
        let damaged_bytes = damage_blob_file(dir, &victim, damage);

        let report = repair(dir, options()).unwrap();
        let ctx = format!("{damage:?} of {victim}: {report}");
        assert!(report.rebuilt, "{ctx}");
        let finding = report
            .files
            .iter()
            .find(|f| f.file == victim)
            .unwrap_or_else(|| panic!("{victim} is not reported: {ctx}"));
        assert_eq!(finding.status, FileStatus::Damaged, "{ctx}");
        let lost = finding.lost.entries.unwrap_or(0);
        assert!(lost > 0, "{ctx}");
        assert!(report.to_string().contains(&victim), "{ctx}");
        let segments: Vec<_> = (report.files.iter())
            .filter(|f| f.status == FileStatus::Damaged && f.detail.contains(&victim))
            .filter(|f| f.file.ends_with(".seg"))
            .collect();
        assert!(!segments.is_empty(), "{ctx}");
        // Nothing deleted: the damaged file as it was, in place or set aside,
        // and every other blob file.
        let kept = || {
            [dir.join(&victim), dir.join("lost").join(&victim)]
                .iter()
                .any(|p| std::fs::read(p).is_ok_and(|d| d == damaged_bytes))
        };
        assert!(kept(), "the damaged {victim} is gone: {ctx}");
        assert!(
            before.is_subset(&blob_files(dir)),
            "a blob file was deleted"
        );

        // Every other value reads; a lost one reads as absent, within a reported
        // range; never a wrong value.
        let db = Db::open(dir, options()).unwrap_or_else(|e| panic!("{ctx}\nopen: {e}"));
        let mut found = Map::new();
        for (k, v) in &model {
            match db.get(k).unwrap() {
                Some(got) => {
                    assert_eq!(&got[..], &v[..], "{damage:?}: a wrong value");
                    found.insert(k.clone(), v.clone());
                }
                None => assert!(
                    segments
                        .iter()
                        .any(|f| f.lost.key_ranges.iter().any(|r| r.contains(k))),
                    "key {} is lost but not reported: {ctx}",
                    String::from_utf8_lossy(k)
                ),
            }
        }
        assert_eq!(model.len() - found.len(), lost as usize, "{ctx}");
        check(&db, &found);
        db.compact().unwrap();
        check(&db, &found);
        db.close().unwrap();
        for _ in 0..2 {
            let db = Db::open(dir, options()).unwrap();
            check(&db, &found);
            db.close().unwrap();
        }
        // Nor did the opens remove it.
        assert!(
            kept(),
            "the damaged {victim} is gone after the opens: {ctx}"
        );
    }
}
