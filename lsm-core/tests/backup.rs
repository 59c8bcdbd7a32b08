//! Incremental backups: `Db::backup`, `backups`, `verify_backup`, `delete_backup`,
//! `purge_old_backups` and `restore`. A backup copies only the segments the backup
//! directory lacks, restores to exactly the state of its call, survives the deletion
//! of other backups, is refused when damaged, and a power cut at any file operation
//! of a backup, a delete or a restore never leaves anything that opens wrong.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::small_options;
use lsm_core::fs::{CrashMode, FaultFs, FaultKind, FaultMode, FsRef, SimFs};
use lsm_core::{BackupInfo, Db, Error, Options};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn all(db: &Db) -> Map {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

/// Writes `range` to `db` and `model`: overwrites of 400 keys, every ninth a delete.
fn write(db: &Db, range: std::ops::Range<u64>, model: &mut Map) {
    for i in range {
        let k = key(i % 400);
        if i % 9 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let v = format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes();
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
}

fn no_create() -> Options {
    small_options().with_create_if_missing(false)
}

/// The shared files and their sizes.
fn shared(fs: &FsRef, dir: &Path) -> BTreeMap<String, u64> {
    let shared = dir.join("shared");
    fs.list(&shared)
        .unwrap()
        .into_iter()
        .map(|n| {
            let size = fs.size(&shared.join(&n)).unwrap();
            (n, size)
        })
        .collect()
}

fn names(info: &BackupInfo) -> BTreeSet<String> {
    info.files.iter().map(|f| f.shared_name()).collect()
}

/// Restores backup `id` to a new directory and returns what it opens to.
fn restored(fs: &FsRef, backups: &Path, id: u64, dest: &Path) -> Map {
    lsm_core::restore_with_fs(backups, id, dest, fs.clone()).unwrap();
    let db = Db::open_with_fs(dest, no_create(), fs.clone()).unwrap();
    all(&db)
}

#[test]
fn a_second_backup_copies_only_the_segments_the_first_lacks() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let backups = Path::new("/backups");
    // No compaction, so which segments the two backups share does not depend on
    // the timing of background work: the second only adds level-0 files.
    let options = small_options()
        .with_level0_compaction_trigger(10_000)
        .with_level0_stop_writes(20_000);
    let db = Db::open_with_fs("/db", options, fs.clone()).unwrap();
    let mut model = Map::new();
    write(&db, 0..3000, &mut model);
    let first = db.backup(backups).unwrap();
    let after_first = shared(&fs, backups);
    assert_eq!(first.copied_files, first.info.files.len());
    assert_eq!(first.copied_bytes, first.info.size());
    assert_eq!(after_first.len(), first.info.files.len());

    write(&db, 3000..3300, &mut model);
    let second = db.backup(backups).unwrap();
    let after_second = shared(&fs, backups);
    let (one, two) = (names(&first.info), names(&second.info));
    let new: BTreeSet<_> = two.difference(&one).cloned().collect();
    assert!(
        !one.is_disjoint(&two),
        "the workload left no segment in common: the test shows nothing"
    );
    assert!(!new.is_empty());
    // Counted by the backup and, independently, by the files that appeared.
    assert_eq!(second.copied_files, new.len());
    let appeared: BTreeMap<_, _> = after_second
        .iter()
        .filter(|(n, _)| !after_first.contains_key(*n))
        .collect();
    assert_eq!(appeared.len(), new.len());
    assert_eq!(
        second.copied_bytes,
        appeared.values().copied().sum::<u64>(),
        "bytes copied"
    );
    assert!(second.copied_bytes < second.info.size());

    // Nothing written since: nothing copied.
    let third = db.backup(backups).unwrap();
    assert_eq!((third.copied_files, third.copied_bytes), (0, 0));
    assert_eq!(shared(&fs, backups), after_second);
    let ids: Vec<u64> = lsm_core::backups_with_fs(backups, fs.clone())
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[test]
fn a_restore_opens_to_exactly_the_state_at_the_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let db = Db::open(tmp.path().join("db"), small_options()).unwrap();
    let mut model = Map::new();
    let mut states = Vec::new();
    for round in 0..4u64 {
        write(&db, round * 1000..(round + 1) * 1000, &mut model);
        if round == 2 {
            db.compact().unwrap();
        }
        let id = db.backup(&backups).unwrap().info.id;
        states.push((id, model.clone()));
    }
    write(&db, 4000..4500, &mut model); // after the last backup: in no backup
    for (id, state) in &states {
        let dest = tmp.path().join(format!("restored-{id}"));
        let info = lsm_core::restore(&backups, *id, &dest).unwrap();
        assert_eq!(info.id, *id);
        let copy = Db::open(&dest, no_create()).unwrap();
        assert!(
            all(&copy) == *state,
            "backup {id} restored to another state"
        );
        // The restored database lives on its own: compacting it (which deletes its
        // segments) must not reach the backup's files.
        copy.put("new", "write").unwrap();
        copy.compact().unwrap();
        copy.close().unwrap();
        lsm_core::verify_backup(&backups, *id).unwrap();
    }
    // Restored twice, the same state.
    let again = tmp.path().join("again");
    let (id, state) = &states[1];
    lsm_core::restore(&backups, *id, &again).unwrap();
    assert!(all(&Db::open(&again, no_create()).unwrap()) == *state);
}

/// A writer puts keys 0, 1, 2, ... in order while flushes and compactions run; the
/// main thread takes backups. Each restores to exactly keys `0..n` with `n` at least
/// what was acknowledged before its call.
#[test]
fn backups_beside_a_writer_flushes_and_compactions_restore_to_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let db = Arc::new(Db::open(tmp.path().join("live"), small_options()).unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, written, done) = (db.clone(), written.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..4000u64 {
                db.put(key(i), format!("value-{i}")).unwrap();
                written.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut taken = Vec::new();
    while !done.load(Ordering::SeqCst) || taken.is_empty() {
        let acknowledged = written.load(Ordering::SeqCst);
        let info = db.backup(&backups).unwrap().info;
        taken.push((info.id, acknowledged));
    }
    writer.join().unwrap();
    for (id, acknowledged) in &taken {
        let dest = tmp.path().join(format!("r{id}"));
        lsm_core::restore(&backups, *id, &dest).unwrap();
        let got = all(&Db::open(&dest, no_create()).unwrap());
        assert!(got.len() as u64 >= *acknowledged, "backup {id}");
        for (i, (k, v)) in got.iter().enumerate() {
            assert_eq!(*k, key(i as u64), "a hole in backup {id}");
            assert_eq!(*v, format!("value-{i}").into_bytes());
        }
    }
    println!("{} backups", taken.len());
}

#[test]
fn deleting_a_backup_keeps_the_others_and_removes_only_unreferenced_files() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let backups = Path::new("/backups");
    let db = Db::open_with_fs("/db", small_options(), fs.clone()).unwrap();
    let mut model = Map::new();
    let mut infos = Vec::new();
    for round in 0..3u64 {
        write(&db, round * 1500..(round + 1) * 1500, &mut model);
        db.compact().unwrap();
        infos.push((db.backup(backups).unwrap().info, model.clone()));
    }
    // A file nobody's catalog names: not the delete's to remove.
    disk.write_file_raw(&backups.join("shared").join("notes.txt"), b"mine")
        .unwrap();

    let before = shared(&fs, backups);
    let removed = lsm_core::delete_backup_with_fs(backups, 2, fs.clone()).unwrap();
    let after = shared(&fs, backups);
    let keep: BTreeSet<String> = names(&infos[0].0)
        .union(&names(&infos[2].0))
        .cloned()
        .collect();
    let only_two: BTreeSet<String> = names(&infos[1].0).difference(&keep).cloned().collect();
    assert!(!only_two.is_empty(), "backup 2 had no file of its own");
    assert_eq!(removed, only_two.len());
    let mut expected: BTreeSet<String> = keep.clone();
    expected.insert("notes.txt".into());
    assert_eq!(after.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(before.len() - after.len(), only_two.len());

    let ids: Vec<u64> = lsm_core::backups_with_fs(backups, fs.clone())
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [1, 3]);
    for (info, state) in [&infos[0], &infos[2]] {
        let dest = format!("/restored-{}", info.id);
        assert!(restored(&fs, backups, info.id, Path::new(&dest)) == *state);
    }
    let err = lsm_core::delete_backup_with_fs(backups, 2, fs.clone()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(err.to_string().contains("no backup 2"), "{err}");

    // The next backup gets a new id, never a deleted one's.
    assert_eq!(db.backup(backups).unwrap().info.id, 4);
    assert_eq!(
        lsm_core::purge_old_backups_with_fs(backups, 1, fs.clone()).unwrap(),
        [1, 3]
    );
    let last = lsm_core::backups_with_fs(backups, fs.clone()).unwrap();
    assert_eq!(last.len(), 1);
    let mut expected = names(&last[0]);
    expected.insert("notes.txt".into());
    assert_eq!(
        shared(&fs, backups)
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        expected
    );
    assert!(restored(&fs, backups, 4, Path::new("/restored-4")) == model);
}

#[test]
fn a_damaged_backup_is_caught_by_verify_and_refused_by_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let db = Db::open(tmp.path().join("db"), small_options()).unwrap();
    let mut model = Map::new();
    write(&db, 0..2000, &mut model);
    let info = db.backup(&backups).unwrap().info;
    lsm_core::verify_backup(&backups, info.id).unwrap();
    let victim = backups.join("shared").join(info.files[0].shared_name());
    let original = std::fs::read(&victim).unwrap();

    let expect_corruption = |what: &str| {
        let err = lsm_core::verify_backup(&backups, info.id).unwrap_err();
        assert!(err.is_corruption(), "{what}: verify said {err}");
        assert!(
            err.to_string().contains(&info.files[0].shared_name()),
            "{err}"
        );
        let dest = tmp.path().join("restored");
        let err = lsm_core::restore(&backups, info.id, &dest).unwrap_err();
        assert!(err.is_corruption(), "{what}: restore said {err}");
        assert!(
            !dest.exists(),
            "{what}: a refused restore left {}",
            dest.display()
        );
    };
    // One bit in the middle of the file.
    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x10;
    std::fs::write(&victim, &flipped).unwrap();
    expect_corruption("a flipped bit");
    // A byte short.
    std::fs::write(&victim, &original[..original.len() - 1]).unwrap();
    expect_corruption("a truncated file");
    // Missing: a clear not-found, not a wrong restore.
    std::fs::remove_file(&victim).unwrap();
    let err = lsm_core::verify_backup(&backups, info.id).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    std::fs::write(&victim, &original).unwrap();
    lsm_core::verify_backup(&backups, info.id).unwrap();

    // A damaged catalog: listing, verify and restore all refuse it.
    let catalog = backups.join("meta").join(info.id.to_string());
    let text = std::fs::read(&catalog).unwrap();
    let mut bad = text.clone();
    let at = bad.len() / 3;
    bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&catalog, &bad).unwrap();
    assert!(lsm_core::backups(&backups).unwrap_err().is_corruption());
    assert!(lsm_core::verify_backup(&backups, info.id)
        .unwrap_err()
        .is_corruption());
    let dest = tmp.path().join("restored");
    assert!(lsm_core::restore(&backups, info.id, &dest)
        .unwrap_err()
        .is_corruption());
    assert!(!dest.exists());
    std::fs::write(&catalog, &text).unwrap();
    lsm_core::restore(&backups, info.id, &dest).unwrap();
    assert!(all(&Db::open(&dest, no_create()).unwrap()) == model);
}

#[test]
fn refusals_write_nothing() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let db = Db::open_with_fs("/db", small_options(), fs.clone()).unwrap();
    db.put("k", "v").unwrap();

    // Someone else's directory.
    fs.create_dir_all(Path::new("/other-app")).unwrap();
    disk.write_file_raw(Path::new("/other-app/notes.txt"), b"mine")
        .unwrap();
    let err = db.backup("/other-app").unwrap_err();
    assert!(err.to_string().contains("not a backup directory"), "{err}");
    assert_eq!(fs.list(Path::new("/other-app")).unwrap(), ["notes.txt"]);

    // Inside the database directory.
    let err = db.backup("/db/backups").unwrap_err();
    assert!(
        err.to_string().contains("inside the database directory"),
        "{err}"
    );
    assert!(!fs.exists(Path::new("/db/backups")));

    // A backup directory whose creation was cut short (only `shared/` made) is
    // taken up again.
    fs.create_dir_all(Path::new("/half/shared")).unwrap();
    assert_eq!(db.backup("/half").unwrap().info.id, 1);

    db.backup("/b").unwrap();
    // An existing destination.
    fs.create_dir_all(Path::new("/dest")).unwrap();
    let err = lsm_core::restore_with_fs("/b", 1, "/dest", fs.clone()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists),
        "{err}"
    );
    // No such backup, no such backup directory.
    let err = lsm_core::restore_with_fs("/b", 9, "/new", fs.clone()).unwrap_err();
    assert!(err.to_string().contains("no backup 9"), "{err}");
    assert!(!fs.exists(Path::new("/new")));
    let err = lsm_core::backups_with_fs("/db", fs.clone()).unwrap_err();
    assert!(err.to_string().contains("not a backup directory"), "{err}");
    // One backup, restore or delete at a time.
    let held = fs.lock(Path::new("/b/LOCK")).unwrap();
    let err = db.backup("/b").unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock),
        "{err}"
    );
    assert!(lsm_core::delete_backup_with_fs("/b", 1, fs.clone()).is_err());
    drop(held);
    assert_eq!(
        lsm_core::backups_with_fs("/b", fs.clone()).unwrap().len(),
        1
    );
}

/// The names in `shared/` are exactly those some catalog references.
fn assert_no_leftovers(fs: &FsRef, backups: &Path, when: &str) {
    let referenced: BTreeSet<String> = lsm_core::backups_with_fs(backups, fs.clone())
        .unwrap()
        .iter()
        .flat_map(names)
        .collect();
    let present: BTreeSet<String> = shared(fs, backups).into_keys().collect();
    assert_eq!(present, referenced, "{when}: leftovers in shared/");
    let meta = fs.list(&backups.join("meta")).unwrap();
    assert!(
        meta.iter().all(|n| n.bytes().all(|b| b.is_ascii_digit())),
        "{when}: leftover records {meta:?}"
    );
}

/// A database with backup 1 taken, then more writes and a compaction, closed: the
/// starting disk of the crash tests. Returns the disk and the states of backup 1 and
/// of the database at the end.
fn crash_setup() -> (SimFs, Map, Map) {
    let disk = SimFs::new();
    let mut model = Map::new();
    let db = Db::open_with_fs("/db", small_options(), disk.fs_ref()).unwrap();
    write(&db, 0..1200, &mut model);
    db.backup("/b").unwrap();
    let first = model.clone();
    write(&db, 1200..1600, &mut model);
    db.compact().unwrap();
    db.close().unwrap();
    (disk, first, model)
}

/// A power cut at every file operation of a backup: backup 1 stays restorable, the
/// new backup is either complete (listed and restoring to the state of the call) or
/// absent, and the next backup cleans what the cut one left.
#[test]
fn a_crash_at_every_operation_of_a_backup_leaves_earlier_backups_whole() {
    let (disk, first, last) = crash_setup();
    let backups = Path::new("/b");
    let (mut absent, mut present) = (0, 0);
    for ops in 0.. {
        let run = disk.crash(CrashMode::DropUnsynced, 0);
        let db = Db::open_with_fs("/db", small_options(), run.fs_ref()).unwrap();
        run.power_off_after(ops);
        let result = db.backup(backups);
        let finished = !run.is_powered_off();
        drop(db);
        assert!(
            result.is_ok() || !finished,
            "a backup failed without a crash"
        );
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let image = run.crash(mode, ops);
            let fs = image.fs_ref();
            let listed = lsm_core::backups_with_fs(backups, fs.clone())
                .unwrap_or_else(|e| panic!("cut after {ops}: {e}"));
            let ids: Vec<u64> = listed.iter().map(|b| b.id).collect();
            assert!(
                ids == [1] || ids == [1, 2],
                "cut after {ops}: backups {ids:?}"
            );
            assert!(restored(&fs, backups, 1, Path::new("/r1")) == first);
            if ids == [1, 2] {
                assert!(restored(&fs, backups, 2, Path::new("/r2")) == last);
                present += 1;
            } else {
                assert!(!finished, "a finished backup is missing");
                absent += 1;
            }
            // What the cut backup left is provably its own: a delete's cleaning (of
            // nothing) removes it, before a backup could adopt a file of the same
            // contents.
            lsm_core::purge_old_backups_with_fs(backups, usize::MAX, fs.clone()).unwrap();
            assert_no_leftovers(&fs, backups, &format!("cut after {ops}, cleaned"));
            // And the next backup (of the database as the cut left it) works.
            let db = Db::open_with_fs("/db", small_options(), fs.clone()).unwrap();
            assert!(all(&db) == last, "cut after {ops}: the source lost data");
            db.backup(backups).unwrap();
            drop(db);
            assert_no_leftovers(&fs, backups, &format!("cut after {ops}"));
        }
        if finished {
            break;
        }
    }
    assert!(absent > 0 && present > 0);
    println!("{absent} cut backups absent, {present} complete");
}

/// A power cut at every file operation of a delete: the other backup stays
/// restorable, the deleted one is listed whole or not at all, and the next delete
/// or backup removes what the cut one left.
#[test]
fn a_crash_at_every_operation_of_a_delete_keeps_the_other_backups() {
    let (disk, first, last) = crash_setup();
    let backups = Path::new("/b");
    {
        let db = Db::open_with_fs("/db", small_options(), disk.fs_ref()).unwrap();
        db.backup(backups).unwrap();
        db.close().unwrap();
    }
    for ops in 0.. {
        let run = disk.crash(CrashMode::DropUnsynced, 0);
        run.power_off_after(ops);
        let result = lsm_core::delete_backup_with_fs(backups, 1, run.fs_ref());
        let finished = !run.is_powered_off();
        assert!(
            result.is_ok() || !finished,
            "a delete failed without a crash"
        );
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let image = run.crash(mode, ops);
            let fs = image.fs_ref();
            let ids: Vec<u64> = lsm_core::backups_with_fs(backups, fs.clone())
                .unwrap()
                .iter()
                .map(|b| b.id)
                .collect();
            assert!(ids == [2] || ids == [1, 2], "cut after {ops}: {ids:?}");
            assert!(!(finished && ids == [1, 2]), "a finished delete undone");
            assert!(restored(&fs, backups, 2, Path::new("/r2")) == last);
            if ids == [1, 2] {
                assert!(restored(&fs, backups, 1, Path::new("/r1")) == first);
            }
            lsm_core::purge_old_backups_with_fs(backups, 1, fs.clone()).unwrap();
            assert_no_leftovers(&fs, backups, &format!("cut after {ops}"));
        }
        if finished {
            break;
        }
    }
}

/// The names in `/` besides the database, the backups, `dest` and staging
/// directories of `dest`.
fn strays(fs: &FsRef, dest: &str) -> Vec<String> {
    let staging = format!(".{dest}.staging-");
    fs.list(Path::new("/"))
        .unwrap()
        .into_iter()
        .filter(|n| !["db", "b", dest].contains(&n.as_str()) && !n.starts_with(&staging))
        .collect()
}

/// A power cut at every file operation of a restore, each crashed in the 4 modes:
/// the destination is absent or, opened with the default options (which create a
/// missing database), holds exactly the backed-up state; a finished restore always
/// opens. Nothing but the destination and a staging directory appears beside it,
/// and a new restore on the crashed disk removes that staging directory.
#[test]
fn a_crash_at_every_operation_of_a_restore_leaves_no_dest_or_an_exact_one() {
    let (disk, first, _) = crash_setup();
    let (mut absent, mut whole, mut staged) = (0, 0, 0);
    for ops in 0.. {
        let run = disk.crash(CrashMode::DropUnsynced, 0);
        run.power_off_after(ops);
        let result = lsm_core::restore_with_fs("/b", 1, "/dest", run.fs_ref());
        let finished = !run.is_powered_off();
        assert!(
            result.is_ok() || !finished,
            "a restore failed without a crash"
        );
        for mode in CrashMode::ALL {
            let image = run.crash(mode, ops);
            let fs = image.fs_ref();
            assert_eq!(strays(&fs, "dest"), Vec::<String>::new(), "cut after {ops}");
            let names = fs.list(Path::new("/")).unwrap();
            staged += usize::from(names.iter().any(|n| n.starts_with(".dest.staging-")));
            if fs.exists(Path::new("/dest")) {
                let db = Db::open_with_fs("/dest", small_options(), fs.clone())
                    .unwrap_or_else(|e| panic!("cut after {ops}, {mode:?}: does not open: {e}"));
                assert!(
                    all(&db) == first,
                    "cut after {ops}, {mode:?}: opened to a wrong state"
                );
                whole += 1;
            } else {
                assert!(!finished, "a finished restore left no dest ({mode:?})");
                absent += 1;
                if mode == CrashMode::DropUnsynced {
                    // The next restore succeeds and sweeps the leftover.
                    lsm_core::restore_with_fs("/b", 1, "/dest", fs.clone()).unwrap();
                    assert_eq!(
                        fs.list(Path::new("/")).unwrap(),
                        ["b", "db", "dest"],
                        "cut after {ops}: a leftover stays"
                    );
                    let db = Db::open_with_fs("/dest", no_create(), fs.clone()).unwrap();
                    assert!(all(&db) == first);
                }
            }
            // The backup itself is untouched by a restore.
            lsm_core::verify_backup_with_fs("/b", 1, image.fs_ref()).unwrap();
        }
        if finished {
            break;
        }
    }
    assert!(whole > 0 && absent > 0 && staged > 0);
    println!(
        "{absent} absent destinations ({staged} images with a staging directory), {whole} whole"
    );
}

/// An I/O error at every file operation of a restore, of each kind in turn: the
/// call fails and leaves no destination (and no staging directory, unless the fault
/// hit its removal), or the destination opens to exactly the backed-up state (also
/// when only the final fsync of the parent failed); the next restore succeeds.
#[test]
fn an_io_error_at_any_operation_of_a_restore_leaves_no_dest_or_an_exact_one() {
    let (disk, first, _) = crash_setup();
    let mut injected = 0;
    for kind in FaultKind::ALL {
        for k in 1.. {
            let run = disk.crash(CrashMode::DropUnsynced, 0);
            let faulty = FaultFs::new(run.fs_ref());
            faulty.fail(kind, k, FaultMode::Once);
            let result = lsm_core::restore_with_fs("/b", 1, "/dest", faulty.fs_ref());
            let hit = faulty.injected() > 0;
            faulty.clear();
            let when = format!("{kind:?} #{k}: {result:?}");
            assert!(hit || result.is_ok(), "{when}: failed with no fault");
            let fs = run.fs_ref();
            assert_eq!(strays(&fs, "dest"), Vec::<String>::new(), "{when}");
            if fs.exists(Path::new("/dest")) {
                let db = Db::open_with_fs("/dest", no_create(), fs.clone())
                    .unwrap_or_else(|e| panic!("{when}: does not open: {e}"));
                assert!(all(&db) == first, "{when}: opened to a wrong state");
            } else {
                assert!(result.is_err(), "{when}: Ok without a dest");
                let cleanup = [FaultKind::List, FaultKind::Remove, FaultKind::RemoveDir];
                if !cleanup.contains(&kind) {
                    assert_eq!(fs.list(Path::new("/")).unwrap(), ["b", "db"], "{when}");
                }
                lsm_core::restore_with_fs("/b", 1, "/dest", fs.clone()).unwrap();
                assert_eq!(
                    fs.list(Path::new("/")).unwrap(),
                    ["b", "db", "dest"],
                    "{when}"
                );
                let db = Db::open_with_fs("/dest", no_create(), fs.clone()).unwrap();
                assert!(all(&db) == first, "{when}: the retried restore is wrong");
            }
            lsm_core::verify_backup_with_fs("/b", 1, fs).unwrap();
            if !hit {
                break;
            }
            injected += 1;
        }
    }
    assert!(injected > 10, "only {injected} faults hit");
    println!("{injected} faults injected");
}

/// An I/O error at every file operation of a backup, of each kind in turn: the call
/// fails (or, for the removal of its pending record after the commit, succeeds),
/// the earlier backup stays restorable, the new one is listed only whole, and the
/// next backup and a cleaning leave no unreferenced file.
#[test]
fn an_io_error_at_any_operation_of_a_backup_leaves_earlier_backups_whole() {
    let (disk, first, last) = crash_setup();
    let backups = Path::new("/b");
    let mut injected = 0;
    for kind in FaultKind::ALL {
        for k in 1.. {
            let run = disk.crash(CrashMode::DropUnsynced, 0);
            let faulty = FaultFs::new(run.fs_ref());
            let fs = faulty.fs_ref();
            let db = Db::open_with_fs("/db", small_options(), fs.clone()).unwrap();
            faulty.fail(kind, k, FaultMode::Once);
            let result = db.backup(backups);
            let hit = faulty.injected() > 0;
            faulty.clear();
            let when = format!("{kind:?} #{k}: {result:?}");
            let ids: Vec<u64> = lsm_core::backups_with_fs(backups, fs.clone())
                .unwrap()
                .iter()
                .map(|b| b.id)
                .collect();
            assert!(ids == [1] || ids == [1, 2], "{when}: {ids:?}");
            assert!(
                result.is_err() || ids == [1, 2],
                "{when}: Ok but not listed"
            );
            assert!(hit || result.is_ok(), "{when}: failed with no fault");
            assert!(
                restored(&fs, backups, 1, Path::new("/r1")) == first,
                "{when}"
            );
            if ids == [1, 2] {
                assert!(
                    restored(&fs, backups, 2, Path::new("/r2")) == last,
                    "{when}"
                );
            }
            db.backup(backups).unwrap();
            drop(db);
            lsm_core::purge_old_backups_with_fs(backups, usize::MAX, fs.clone()).unwrap();
            assert_no_leftovers(&fs, backups, &when);
            if !hit {
                break;
            }
            injected += 1;
        }
    }
    assert!(injected > 20, "only {injected} faults hit");
    println!("{injected} faults injected");
}

/// A damaged catalog stops listings and backups (nothing proves which files it
/// references) until it is deleted: set aside, its files kept, the others usable.
#[test]
fn a_backup_with_a_damaged_catalog_can_be_deleted_and_its_files_are_kept() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let backups = Path::new("/b");
    let db = Db::open_with_fs("/db", small_options(), fs.clone()).unwrap();
    let mut model = Map::new();
    write(&db, 0..800, &mut model);
    let one = db.backup(backups).unwrap().info;
    write(&db, 800..1600, &mut model);
    db.compact().unwrap();
    db.backup(backups).unwrap();
    let before = shared(&fs, backups);

    let catalog = Path::new("/b/meta/1");
    let mut bytes = disk.read_file(catalog).unwrap();
    bytes[20] ^= 0x01;
    disk.write_file_raw(catalog, &bytes).unwrap();
    assert!(lsm_core::backups_with_fs(backups, fs.clone())
        .unwrap_err()
        .is_corruption());
    assert!(db.backup(backups).unwrap_err().is_corruption());

    assert_eq!(
        lsm_core::delete_backup_with_fs(backups, 1, fs.clone()).unwrap(),
        0
    );
    let ids: Vec<u64> = lsm_core::backups_with_fs(backups, fs.clone())
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [2]);
    assert_eq!(
        shared(&fs, backups),
        before,
        "a file was removed without proof"
    );
    assert!(names(&one).iter().all(|n| before.contains_key(n)));
    assert!(restored(&fs, backups, 2, Path::new("/r2")) == model);
    assert_eq!(db.backup(backups).unwrap().info.id, 3);
    assert!(fs.exists(Path::new("/b/meta/1.damaged")));
}

/// Options keeping values of 200 bytes or more in blob files, with no background
/// compaction (so which files two backups share does not depend on its timing).
fn blob_options() -> Options {
    small_options()
        .with_blob_threshold(Some(200))
        .with_level0_compaction_trigger(10_000)
        .with_level0_stop_writes(20_000)
}

/// The value of key `i` written in `round`: every fourth one small (inline), the
/// others large (in blob files).
fn big_value(i: u64, round: u64) -> Vec<u8> {
    let len = if i.is_multiple_of(4) {
        40
    } else {
        300 + (i as usize % 5) * 60
    };
    let mut v = format!("{i:05}-{round:03}-").into_bytes();
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

/// Puts keys `range` with their `round` values into `ks` and `model`.
fn write_big(ks: &lsm_core::Keyspace, range: std::ops::Range<u64>, round: u64, model: &mut Map) {
    for i in range {
        let v = big_value(i, round);
        ks.put(key(i), &v).unwrap();
        model.insert(key(i), v);
    }
}

/// Every key and value of keyspace `name` of `db`.
fn all_in(db: &Db, name: &str) -> Map {
    db.keyspace(name)
        .unwrap()
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The shared names of the blob files of a backup.
fn blob_names(info: &BackupInfo) -> BTreeSet<String> {
    (info.files.iter())
        .filter(|f| f.kind == lsm_core::BackupFileKind::Blob)
        .map(|f| f.shared_name())
        .collect()
}

/// A database whose values live in blob files in two keyspaces backs up and
/// restores to exactly its state: the blob files are cataloged, stored in
/// `shared/` as `.blob`, and restored as `NNNNNN.blob`.
#[test]
fn a_backup_with_blob_files_restores_every_value() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let backups = Path::new("/backups");
    let db = Db::open_with_fs("/db", blob_options(), fs.clone()).unwrap();
    let other = db
        .keyspace_with(
            "other",
            lsm_core::KeyspaceOptions::default().with_blob_threshold(Some(100)),
        )
        .unwrap();
    let (mut main, mut second) = (Map::new(), Map::new());
    write_big(&db.keyspace("default").unwrap(), 0..150, 0, &mut main);
    write_big(&other, 0..150, 1, &mut second);
    let info = db.backup(backups).unwrap().info;
    let blobs = blob_names(&info);
    let live_blobs = (fs.list(Path::new("/db")).unwrap().into_iter())
        .filter(|n| n.ends_with(".blob"))
        .count();
    assert!(live_blobs >= 2, "the database has {live_blobs} blob files");
    assert_eq!(blobs.len(), live_blobs, "{info:?}");
    assert!(blobs.iter().all(|n| shared(&fs, backups).contains_key(n)));
    lsm_core::verify_backup_with_fs(backups, info.id, fs.clone()).unwrap();

    lsm_core::restore_with_fs(backups, info.id, "/restored", fs.clone()).unwrap();
    let restored_blobs = (fs.list(Path::new("/restored")).unwrap().into_iter())
        .filter(|n| n.ends_with(".blob"))
        .count();
    assert_eq!(restored_blobs, live_blobs);
    let copy = Db::open_with_fs("/restored", no_create(), fs.clone()).unwrap();
    assert!(all(&copy) == main, "keyspace default differs");
    assert!(all_in(&copy, "other") == second, "keyspace other differs");
    for i in (0..150).step_by(7) {
        assert_eq!(copy.get(key(i)).unwrap(), Some(big_value(i, 0).into()));
    }
}

/// A second backup copies only the blob files the first lacks; the ones they share
/// are stored once.
#[test]
fn a_second_backup_copies_only_the_blob_files_the_first_lacks() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let backups = Path::new("/backups");
    let db = Db::open_with_fs("/db", blob_options(), fs.clone()).unwrap();
    let ks = db.keyspace("default").unwrap();
    let mut model = Map::new();
    write_big(&ks, 0..150, 0, &mut model);
    let first = db.backup(backups).unwrap();
    write_big(&ks, 150..250, 0, &mut model);
    let second = db.backup(backups).unwrap();

    let (one, two) = (blob_names(&first.info), blob_names(&second.info));
    assert!(!one.is_empty() && one.is_subset(&two), "{one:?} {two:?}");
    let new: BTreeSet<_> = names(&second.info)
        .difference(&names(&first.info))
        .cloned()
        .collect();
    assert!(new.iter().any(|n| n.ends_with(".blob")), "{new:?}");
    assert_eq!(second.copied_files, new.len());
    let new_bytes: u64 = (second.info.files.iter())
        .filter(|f| new.contains(&f.shared_name()))
        .map(|f| f.size)
        .sum();
    assert_eq!(second.copied_bytes, new_bytes);
    let all_names: BTreeSet<String> = names(&first.info)
        .union(&names(&second.info))
        .cloned()
        .collect();
    assert_eq!(
        shared(&fs, backups)
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        all_names
    );
    let first_model: Map = model
        .range(..key(150))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(restored(&fs, backups, 1, Path::new("/r1")) == first_model);
    assert!(restored(&fs, backups, 2, Path::new("/r2")) == model);
}

/// A damaged or missing shared blob file is caught by verify and refused by
/// restore, naming the file, with no destination left behind.
#[test]
fn a_damaged_shared_blob_file_is_refused_at_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let db = Db::open(tmp.path().join("db"), blob_options()).unwrap();
    let mut model = Map::new();
    write_big(&db.keyspace("default").unwrap(), 0..100, 0, &mut model);
    let info = db.backup(&backups).unwrap().info;
    let name = blob_names(&info).into_iter().next().expect("a blob file");
    let victim = backups.join("shared").join(&name);
    let original = std::fs::read(&victim).unwrap();
    let dest = tmp.path().join("restored");

    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x04;
    for (what, bytes) in [
        ("a flipped bit", &flipped[..]),
        ("a cut", &original[..original.len() - 3]),
    ] {
        std::fs::write(&victim, bytes).unwrap();
        let err = lsm_core::verify_backup(&backups, info.id).unwrap_err();
        assert!(
            err.is_corruption() && err.to_string().contains(&name),
            "{what}: {err}"
        );
        let err = lsm_core::restore(&backups, info.id, &dest).unwrap_err();
        assert!(err.is_corruption(), "{what}: restore said {err}");
        assert!(err.to_string().contains(&name), "{what}: {err}");
        assert!(
            !dest.exists(),
            "{what}: a refused restore left {}",
            dest.display()
        );
    }
    std::fs::remove_file(&victim).unwrap();
    let err = lsm_core::restore(&backups, info.id, &dest).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(!dest.exists());
    std::fs::write(&victim, &original).unwrap();
    lsm_core::restore(&backups, info.id, &dest).unwrap();
    assert!(all(&Db::open(&dest, no_create()).unwrap()) == model);
}

/// Purging old backups removes a blob file only when no remaining backup needs
/// it: one shared by a purged and a kept backup stays.
#[test]
fn purging_keeps_the_shared_blob_files_still_needed() {
    let disk = SimFs::new();
    let fs = disk.fs_ref();
    let backups = Path::new("/backups");
    let db = Db::open_with_fs("/db", blob_options(), fs.clone()).unwrap();
    let ks = db.keyspace("default").unwrap();
    let mut model = Map::new();
    write_big(&ks, 0..120, 0, &mut model);
    let first = db.backup(backups).unwrap().info;
    write_big(&ks, 120..200, 0, &mut model);
    let second = db.backup(backups).unwrap().info;
    let second_model = model.clone();
    // Every value rewritten and compacted: the third backup shares no blob file.
    write_big(&ks, 0..200, 1, &mut model);
    db.compact().unwrap();
    let third = db.backup(backups).unwrap().info;
    let (one, two, three) = (blob_names(&first), blob_names(&second), blob_names(&third));
    assert!(!one.is_empty() && one.is_subset(&two), "{one:?} {two:?}");
    assert!(two.is_disjoint(&three), "{two:?} {three:?}");

    let shared_blobs = |fs: &FsRef| -> BTreeSet<String> {
        (shared(fs, backups).into_keys())
            .filter(|n| n.ends_with(".blob"))
            .collect()
    };
    assert_eq!(
        lsm_core::purge_old_backups_with_fs(backups, 2, fs.clone()).unwrap(),
        [1]
    );
    // Backup 1's blob files are all backup 2's too.
    let kept: BTreeSet<String> = two.union(&three).cloned().collect();
    assert_eq!(shared_blobs(&fs), kept);
    lsm_core::verify_backup_with_fs(backups, 2, fs.clone()).unwrap();
    assert!(restored(&fs, backups, 2, Path::new("/r2")) == second_model);

    assert_eq!(
        lsm_core::purge_old_backups_with_fs(backups, 1, fs.clone()).unwrap(),
        [2]
    );
    assert_eq!(shared_blobs(&fs), three);
    assert!(restored(&fs, backups, 3, Path::new("/r3")) == model);
}
