//! The `lsm` shell on a database another process holds, and with `--read-only`:
//! read commands work on the engine's read-only view, write commands fail clearly,
//! and nothing in the directory is written.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{redact_dir, run};

const LSM: &str = env!("CARGO_BIN_EXE_lsm");

fn stderr(out: &Output, dir: &Path) -> String {
    redact_dir(&String::from_utf8_lossy(&out.stderr), dir)
}

/// Names, sizes and modification times of the directory's files.
fn files(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                m.len(),
                m.modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn read_commands_beside_a_writer_read_its_state_and_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    db.put("apple", "red").unwrap();
    db.flush().unwrap();
    db.put("banana", "yellow").unwrap(); // in the writer's WAL only
    let out = run(LSM, &[dir, "get", "banana"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out, tmp.path()));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "yellow\n");
    insta::assert_snapshot!("locked_read_only", stderr(&out, tmp.path()));
    let out = run(LSM, &[dir, "scan"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "apple = red\nbanana = yellow\n(2 keys)\n"
    );
    let out = run(LSM, &[dir, "scan", "--prefix", "app"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "apple = red\n(1 key)\n"
    );
    let out = run(LSM, &[dir, "explain", "apple"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out, tmp.path()));
    // A missing key is still exit 1, as without a writer.
    let out = run(LSM, &[dir, "get", "cherry"]);
    assert_eq!(out.status.code(), Some(1));
    // Every write command fails with exit 1 and says why.
    for args in [
        vec![dir, "put", "k", "v"],
        vec![dir, "delete", "apple"],
        vec![dir, "flush"],
        vec![dir, "compact"],
    ] {
        let out = run(LSM, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out, tmp.path());
        assert!(
            err.contains("another process holds the lock"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(db.get("apple").unwrap().as_deref(), Some(&b"red"[..]));
    db.close().unwrap();
}

#[test]
fn the_prompt_beside_a_writer_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    db.put("k", "v").unwrap();
    let mut child = Command::new(LSM)
        .arg(tmp.path())
        .arg("--echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"get k\nput k w\nget k\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "one command failed");
    insta::assert_snapshot!(
        "locked_prompt",
        redact_dir(&String::from_utf8_lossy(&out.stdout), tmp.path())
    );
    db.close().unwrap();
}

#[test]
fn read_only_flag_never_takes_the_lock_nor_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    let before = files(tmp.path());
    let out = run(LSM, &[dir, "--read-only", "get", "k"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out, tmp.path()));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v\n");
    assert_eq!(
        stderr(&out, tmp.path()),
        "",
        "nobody held the lock: no note"
    );
    let out = run(LSM, &[dir, "--read-only", "put", "k", "w"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("read_only_write", stderr(&out, tmp.path()));
    // The WAL a writer's open would have replayed and replaced is untouched.
    assert_eq!(files(tmp.path()), before);
    // With a writer holding the lock, --read-only reads too, without the note.
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    db.put("k", "w").unwrap();
    let out = run(LSM, &[dir, "--read-only", "get", "k"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "w\n");
    assert_eq!(stderr(&out, tmp.path()), "");
    db.close().unwrap();
    // --read-only never creates.
    let typo = tmp.path().join("typo");
    let out = run(LSM, &[typo.to_str().unwrap(), "--read-only", "get", "k"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!typo.exists());
}

#[test]
fn is_locked_tells_a_held_database_from_a_free_one() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(!lsm_core::is_locked(tmp.path()).unwrap());
    assert!(
        !tmp.path().join("LOCK").exists(),
        "the probe creates nothing"
    );
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    assert!(lsm_core::is_locked(tmp.path()).unwrap());
    db.close().unwrap();
    assert!(!lsm_core::is_locked(tmp.path()).unwrap());
    // The probe released what it took: a writer opens.
    lsm_core::Db::open(tmp.path(), lsm_core::Options::default())
        .unwrap()
        .close()
        .unwrap();
}
