//! `lsm-repair`: the report of a damaged database as text and JSON (snapshots), the
//! exit statuses, a repaired database that opens and passes `lsm-verify`, a dry run
//! that changes no byte, and the refusals (a locked directory, a directory with no
//! database, bad usage).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use common::{run, stdout};
use lsm_core::{Compression, Db, Options};
use lsm_format::{ReadOptions, SegmentReader};

const REPAIR: &str = env!("CARGO_BIN_EXE_lsm-repair");
const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");

fn key(i: usize) -> String {
    format!("key{i:03}")
}

/// 120 keys compacted into one level-1 segment, 12 of them overwritten in a level-0
/// segment; then one byte of the level-1 segment's second data block is flipped.
fn damaged_db(dir: &Path) {
    let options = Options::default()
        .with_block_size(256)
        .with_compression(Compression::None);
    let db = Db::open(dir, options).unwrap();
    for i in 0..120 {
        db.put(key(i), format!("value-{i}")).unwrap();
    }
    db.compact().unwrap();
    for i in (0..120).step_by(10) {
        db.put(key(i), "new").unwrap();
    }
    db.close().unwrap();
    let largest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&largest).unwrap();
    let reader = SegmentReader::open(Bytes::from(bytes.clone()), ReadOptions::default()).unwrap();
    let block = reader.index_entries().unwrap()[1].handle;
    bytes[block.offset as usize + 2] ^= 0x10;
    std::fs::write(&largest, bytes).unwrap();
}

/// Every file under `dir` (recursively) with a digest of its bytes.
fn digests(dir: &Path) -> BTreeMap<String, (usize, u64)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let digest = lsm_format::checksum::checksum(&data);
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            out.insert(name, (data.len(), digest));
        }
    }
    out
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_damaged_database_is_repaired_reports_its_loss_and_then_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    damaged_db(dir);

    let out = run(REPAIR, &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    insta::assert_snapshot!("repair_text", text);

    // The damaged file is in lost/, the database opens, every key outside the
    // reported range reads its value, and lsm-verify passes.
    assert!(dir.join("lost").read_dir().unwrap().count() == 1);
    let db = Db::open(dir, Options::default()).unwrap();
    let mut lost = 0;
    for i in 0..120 {
        let want = if i % 10 == 0 {
            "new".to_string()
        } else {
            format!("value-{i}")
        };
        match db.get(key(i)).unwrap() {
            Some(v) if v == want.as_bytes() => {}
            None => lost += 1,
            Some(v) => panic!("{}: {v:?}", key(i)),
        }
    }
    assert!(lost > 0, "the damaged block held keys");
    db.close().unwrap();
    let verify = run(VERIFY, &[dir.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", stdout(&verify));

    // Nothing more to do.
    let again = run(REPAIR, &[dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("nothing to repair"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn the_json_report_names_the_lost_range() {
    let tmp = tempfile::tempdir().unwrap();
    damaged_db(tmp.path());
    let out = run(REPAIR, &[tmp.path().to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["files"][0]["lost"]["key_ranges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    insta::assert_snapshot!("repair_json", stdout(&out));
}

#[test]
fn a_dry_run_changes_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    damaged_db(dir);
    let before = digests(dir);
    let out = run(REPAIR, &["--dry-run", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("dry run: nothing was changed"), "{text}");
    insta::assert_snapshot!("repair_dry_run_text", text);
    assert_eq!(digests(dir), before);
    // Without LOCK (a copy of the files), a dry run does not create it either.
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    let before = digests(dir);
    let out = run(REPAIR, &["--dry-run", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(digests(dir), before);
}

#[test]
fn a_healthy_database_has_nothing_to_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    let before = digests(tmp.path());
    let out = run(REPAIR, &[tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("repair_healthy_text", stdout(&out));
    assert_eq!(digests(tmp.path()), before);
}

#[test]
fn a_locked_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    damaged_db(tmp.path());
    let before = digests(tmp.path());
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    let before_open = digests(tmp.path());
    for args in [vec![], vec!["--dry-run"]] {
        let mut all = args.clone();
        all.push(tmp.path().to_str().unwrap());
        let out = run(REPAIR, &all);
        assert_eq!(out.status.code(), Some(3));
        assert!(stderr(&out).contains("is locked"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    assert_eq!(digests(tmp.path()), before_open);
    drop(db);
    assert_ne!(before, before_open, "open rewrote the manifest");
}

#[test]
fn a_directory_without_a_database_is_refused_and_nothing_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let out = run(REPAIR, &[tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("holds no database"),
        "{}",
        stderr(&out)
    );
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);

    let missing = tmp.path().join("nowhere");
    let out = run(REPAIR, &[missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!missing.exists());
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(run(REPAIR, &[]).status.code(), Some(2));
    assert_eq!(run(REPAIR, &["--frobnicate", "x"]).status.code(), Some(2));
}

/// A database with a live WAL: 200 keys compacted to level 1, 40 overwrites flushed
/// to level 0, 30 more left in the WAL (the process "killed": the database is
/// leaked, its WAL synced).
fn db_with_wal(dir: &Path) {
    let options = Options::default()
        .with_block_size(256)
        .with_compression(Compression::None);
    let db = Db::open(dir, options).unwrap();
    for i in 0..200 {
        db.put(key(i), format!("value-{i}")).unwrap();
    }
    db.compact().unwrap();
    for i in (0..200).step_by(5) {
        db.put(key(i), "second").unwrap();
    }
    db.flush().unwrap();
    for i in (0..200).step_by(7) {
        db.put(key(i), "third").unwrap();
    }
    db.sync().unwrap();
    // Copy the files while the database is open: what a killed process leaves.
    let copy = dir.with_extension("copy");
    common::copy_dir(dir, &copy);
    db.close().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::rename(&copy, dir).unwrap();
    std::fs::remove_file(dir.join("LOCK")).ok();
}

fn names_with(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// A way to damage a database directory.
type Damage = Box<dyn Fn(&Path)>;

#[test]
fn every_kind_of_damage_repairs_to_a_directory_that_verifies_and_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    db_with_wal(&base);
    let damages: Vec<(&str, Damage)> = vec![
        (
            "manifest deleted",
            Box::new(|d| std::fs::remove_file(d.join("MANIFEST")).unwrap()),
        ),
        (
            "manifest cut in half",
            Box::new(|d| {
                let m = std::fs::read(d.join("MANIFEST")).unwrap();
                std::fs::write(d.join("MANIFEST"), &m[..m.len() / 2]).unwrap();
            }),
        ),
        (
            "segment truncated",
            Box::new(|d| {
                let seg = names_with(d, "seg").remove(0);
                let data = std::fs::read(&seg).unwrap();
                std::fs::write(&seg, &data[..data.len() - 10]).unwrap();
            }),
        ),
        (
            "segment block flipped",
            Box::new(|d| {
                for seg in names_with(d, "seg") {
                    let mut data = std::fs::read(&seg).unwrap();
                    data[40] ^= 0x04;
                    std::fs::write(&seg, data).unwrap();
                }
            }),
        ),
        (
            "WAL record flipped",
            Box::new(|d| {
                let wal = names_with(d, "wal").pop().unwrap();
                let mut data = std::fs::read(&wal).unwrap();
                data[100] ^= 0x01;
                std::fs::write(&wal, data).unwrap();
            }),
        ),
        (
            "segment deleted",
            Box::new(|d| std::fs::remove_file(names_with(d, "seg").remove(0)).unwrap()),
        ),
    ];
    for (what, damage) in damages {
        let dir = tmp.path().join(what.replace(' ', "-"));
        common::copy_dir(&base, &dir);
        damage(&dir);
        let out = run(REPAIR, &[dir.to_str().unwrap()]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{what}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("\nrebuilt: "),
            "{what}: {}",
            stdout(&out)
        );
        let verify = run(VERIFY, &[dir.to_str().unwrap()]);
        assert!(verify.status.success(), "{what}: {}", stdout(&verify));
        let db = Db::open(&dir, Options::default()).unwrap();
        assert!(db.iter().all(|item| item.is_ok()), "{what}");
        db.close().unwrap();
        let verify = run(VERIFY, &[dir.to_str().unwrap()]);
        assert!(
            verify.status.success(),
            "{what} after open: {}",
            stdout(&verify)
        );
    }
}
