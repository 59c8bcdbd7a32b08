//! `repair` in scenarios: a healthy database is left alone; a deleted manifest is
//! rebuilt from the files with nothing lost; a segment the manifest records dead is
//! not brought back; entries only an unlisted segment holds are restored; a power
//! cut at any step of a repair leaves a directory a second repair finishes; a dry
//! run changes nothing; a locked directory and one without a database are refused.

mod repair_support;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::repair::{FileStatus, ManifestFinding};
use lsm_core::{repair_dry_run_with_fs, repair_with_fs, Db, Error};
use lsm_format::{ReadOptions, SegmentReader};
use repair_support::{build, check, copy, files, key, options, path, put_back_old_manifest, DB};

/// Every file under `/db` (subdirectories included) with its bytes.
fn contents(fs: &SimFs) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for dir in ["", "lost"] {
        let d = Path::new(DB).join(dir);
        for name in fs.file_names(&d) {
            out.insert(
                format!("{dir}/{name}"),
                fs.read_file(&d.join(&name)).unwrap(),
            );
        }
    }
    out
}

/// Flips one byte in data block `block` of segment `name`.
fn damage_block(fs: &SimFs, name: &str, block: usize) {
    let mut data = fs.read_file(&path(name)).unwrap();
    let reader = SegmentReader::open(Bytes::from(data.clone()), ReadOptions::default()).unwrap();
    let index = reader.index_entries().unwrap();
    let handle = index[block.min(index.len() - 1)].handle;
    data[handle.offset as usize + 5] ^= 0x20;
    fs.write_file_raw(&path(name), &data).unwrap();
}

fn segments(fs: &SimFs) -> Vec<String> {
    files(fs)
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect()
}

#[test]
fn a_healthy_database_is_left_unchanged() {
    let built = build(100);
    let fs = copy(&built.image);
    let before = contents(&fs);
    let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert!(!report.rebuilt, "{report}");
    assert!(report.nothing_to_repair(), "{report}");
    assert_eq!(contents(&fs), before);
    check(&fs, &built, &report).unwrap();
}

#[test]
fn a_deleted_manifest_is_rebuilt_from_the_files_and_every_key_is_flagged_but_kept() {
    let built = build(160);
    let fs = copy(&built.image);
    fs.fs_ref().remove(&path("MANIFEST")).unwrap();
    assert!(matches!(
        Db::open_with_fs(DB, options(), fs.fs_ref()),
        Err(Error::Corruption { .. })
    ));
    let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert_eq!(report.manifest, ManifestFinding::Missing);
    // Without the manifest's state a retired segment still on disk could not be
    // told from a live one, so the report says every key may be affected...
    assert!(
        report.rebuilt && report.judged_by_contents_alone(),
        "{report}"
    );
    assert!(report.lost_anything() && report.may_have_lost(b"any key", None));
    assert!(report
        .to_string()
        .contains("warning: without the manifest's state"));
    // ...but no segment here was retired, so every key must read exactly its
    // newest value: checked as if the report named nothing.
    check(&fs, &built, &lsm_core::RepairReport::default()).unwrap();
}

#[test]
fn a_damaged_block_loses_exactly_its_keys_and_the_file_moves_to_lost() {
    let built = build(160);
    let fs = copy(&built.image);
    let name = segments(&fs)[0].clone();
    damage_block(&fs, &name, 1);
    let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let finding = report.files.iter().find(|f| f.file == name).unwrap();
    assert_eq!(finding.status, FileStatus::Damaged);
    assert_eq!(finding.lost.key_ranges.len(), 1, "{report}");
    assert!(finding.lost.entries.is_some_and(|n| n > 0));
    assert!(fs.fs_ref().exists(&Path::new(DB).join("lost").join(&name)));
    assert!(!fs.fs_ref().exists(&path(&name)));
    check(&fs, &built, &report).unwrap();
    // The keys outside the named range are all there (check() allows nothing else).
    let range = &finding.lost.key_ranges[0];
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let mut outside = 0;
    for i in 0..built.keys {
        if !range.contains(&key(i)) {
            outside += 1;
        }
    }
    assert!(outside > 100);
    db.close().unwrap();
}

#[test]
fn a_segment_the_manifest_records_dead_is_not_brought_back() {
    let fs = SimFs::new();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    for i in 0..60 {
        db.put(key(i), format!("v{i}")).unwrap();
    }
    db.compact_into(2).unwrap();
    let old: Vec<(String, Vec<u8>)> = segments(&fs)
        .into_iter()
        .map(|n| {
            let data = fs.read_file(&path(&n)).unwrap();
            (n, data)
        })
        .collect();
    db.delete(key(7)).unwrap();
    // Full compaction into the bottom level: the tombstone and the put are dropped,
    // the old files deleted after the edit that records them dead.
    db.compact_into(2).unwrap();
    db.put(key(100), "live").unwrap();
    db.sync().unwrap();
    let image = fs.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    // The dead files come back (a reader kept them, a copy put back), and a live
    // segment is damaged so that the repair rebuilds.
    let live = segments(&image);
    for (name, data) in &old {
        image.write_file_raw(&path(name), data).unwrap();
    }
    let damaged = live.last().unwrap();
    let blocks = {
        let data = image.read_file(&path(damaged)).unwrap();
        SegmentReader::open(Bytes::from(data), ReadOptions::default())
            .unwrap()
            .index_entries()
            .unwrap()
            .len()
    };
    damage_block(&image, damaged, blocks - 1);
    let report = repair_with_fs(DB, options(), image.fs_ref()).unwrap();
    assert!(report.rebuilt, "{report}");
    for (name, _) in &old {
        assert!(
            report.files.iter().all(|f| &f.file != name),
            "a dead file was judged: {report}"
        );
    }
    let db = Db::open_with_fs(DB, options(), image.fs_ref()).unwrap();
    assert_eq!(db.get(key(7)).unwrap(), None, "a deleted key came back");
    assert_eq!(db.get(key(100)).unwrap().as_deref(), Some(&b"live"[..]));
    db.close().unwrap();
}

#[test]
fn entries_only_an_unlisted_segment_holds_are_restored() {
    // An older manifest put back: the flush after it is unlisted, its WAL deleted.
    let fs = SimFs::new();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    for i in 0..40 {
        db.put(key(i), format!("a{i}")).unwrap();
    }
    db.flush().unwrap();
    let old_manifest = fs.read_file(&path("MANIFEST")).unwrap();
    for i in 0..40 {
        db.put(key(i), format!("b{i}")).unwrap();
    }
    db.flush().unwrap();
    for i in 0..10 {
        db.put(key(i), format!("c{i}")).unwrap();
    }
    db.sync().unwrap();
    let image = fs.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    // The WAL the second flush made obsolete is gone (its removal was durable).
    put_back_old_manifest(&image, &old_manifest);
    assert!(Db::open_with_fs(DB, options(), image.fs_ref()).is_err());

    let report = repair_with_fs(DB, options(), image.fs_ref()).unwrap();
    assert!(
        report
            .files
            .iter()
            .any(|f| f.status == FileStatus::Restored),
        "{report}"
    );
    let db = Db::open_with_fs(DB, options(), image.fs_ref()).unwrap();
    for i in 0..40 {
        let want = if i < 10 {
            format!("c{i}")
        } else {
            format!("b{i}")
        };
        assert_eq!(
            db.get(key(i)).unwrap().as_deref(),
            Some(want.as_bytes()),
            "{i}"
        );
    }
    db.close().unwrap();
}

#[test]
fn a_power_cut_anywhere_in_a_repair_leaves_a_directory_a_second_repair_finishes() {
    let built = build(120);
    let damaged = copy(&built.image);
    let segs = segments(&damaged);
    damage_block(&damaged, &segs[0], 0);
    damage_block(&damaged, &segs[1], 1);
    // The reference: an uninterrupted repair, whose report names every loss.
    let reference = copy(&damaged);
    let ops_before = reference.op_count();
    let full = repair_with_fs(DB, options(), reference.fs_ref()).unwrap();
    let ops = reference.op_count() - ops_before;
    assert!(full.rebuilt && ops > 5, "{ops} operations");
    for cut in 0..=ops {
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let fs = copy(&damaged);
            fs.power_off_after(fs.op_count() + cut);
            let _ = repair_with_fs(DB, options(), fs.fs_ref());
            let after = fs.crash(mode, cut);
            let second = repair_with_fs(DB, options(), after.fs_ref())
                .unwrap_or_else(|e| panic!("cut {cut} {mode:?}: second repair failed: {e}"));
            check(&after, &built, &full)
                .unwrap_or_else(|e| panic!("cut {cut} {mode:?}: {e}\nsecond:\n{second}"));
        }
    }
}

#[test]
fn a_dry_run_changes_nothing_and_reports_what_a_repair_does() {
    let built = build(120);
    let fs = copy(&built.image);
    let name = segments(&fs)[0].clone();
    damage_block(&fs, &name, 0);
    let before = contents(&fs);
    let dry = repair_dry_run_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert_eq!(contents(&fs), before);
    assert!(dry.dry_run && dry.rebuilt && dry.lost_anything());
    let real = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert_eq!(dry.files, real.files);
    assert_eq!(dry.new_segments, real.new_segments);
    assert_ne!(contents(&fs), before);
}

#[test]
fn a_locked_directory_and_one_without_a_database_are_refused() {
    let built = build(60);
    let fs = copy(&built.image);
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let before = contents(&fs);
    for dry_run in [false, true] {
        let result = if dry_run {
            repair_dry_run_with_fs(DB, options(), fs.fs_ref())
        } else {
            repair_with_fs(DB, options(), fs.fs_ref())
        };
        assert!(matches!(result, Err(Error::Locked { .. })), "{result:?}");
    }
    assert_eq!(contents(&fs), before);
    db.close().unwrap();

    let empty = SimFs::new();
    empty.fs_ref().create_dir_all(Path::new("/empty")).unwrap();
    let err = repair_with_fs("/empty", options(), empty.fs_ref()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(
        empty.file_names(Path::new("/empty")).is_empty(),
        "LOCK created"
    );
    assert!(repair_with_fs("/nowhere", options(), empty.fs_ref()).is_err());
    assert!(!empty.fs_ref().exists(Path::new("/nowhere")));
}
