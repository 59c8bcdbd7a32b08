//! `lsm`'s operation commands: `checkpoint`, `backup`, `restore`, `backups`,
//! `verify-backup`, `delete-backup`, `purge-backups`: their outputs and exit codes,
//! their refusals, the rule that tells an operation from a database directory, and
//! a killed operation never leaving anything that looks complete.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const LSM: &str = env!("CARGO_BIN_EXE_lsm");

/// Runs `lsm ARGS` in `dir` (so every path in the output is relative).
fn lsm(dir: &Path, args: &[&str]) -> Output {
    Command::new(LSM)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run lsm")
}

/// Hides what changes from run to run: checksums (16 hex digits; segments record
/// their creation time, so their bytes differ) and creation times.
fn redact(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let alnum = |i: usize| c.get(i).is_some_and(|ch| ch.is_ascii_alphanumeric());
    let hex = |ch: &char| ch.is_ascii_digit() || ('a'..='f').contains(ch);
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let time = c.get(i..i + 24).is_some_and(|w| {
            w[..4].iter().all(char::is_ascii_digit) && w[4] == '-' && w[10] == 'T' && w[23] == 'Z'
        });
        if time {
            out.push_str("[time]                  ");
            i += 24;
            continue;
        }
        let start_of_word = i == 0 || !alnum(i - 1);
        if start_of_word && c.get(i..i + 16).is_some_and(|w| w.iter().all(hex)) && !alnum(i + 16) {
            out.push_str("[checksum]");
            i += 16;
            continue;
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// A `# title` line, then for each run `$ lsm ARGS`, its standard output and
/// error, and its exit status.
fn transcript(dir: &Path, title: &str, runs: &[&[&str]]) -> String {
    let mut out = format!("# {title}\n");
    for args in runs {
        let o = lsm(dir, args);
        out.push_str(&format!("$ lsm {}\n", args.join(" ")));
        out.push_str(&String::from_utf8_lossy(&o.stdout));
        out.push_str(&String::from_utf8_lossy(&o.stderr));
        out.push_str(&format!(
            "[exit status {}]\n",
            o.status.code().unwrap_or(-1)
        ));
    }
    redact(&out)
}

#[test]
fn backup_restore_and_checkpoint_print_what_they_did() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (k, v) in [("apple", "red"), ("banana", "yellow")] {
        assert!(lsm(d, &["db", "--create", "put", k, v]).status.success());
    }
    let first = transcript(
        d,
        "db holds apple and banana; backups, restored and copy do not exist yet",
        &[
            &["backup", "db", "backups"],
            &["db", "put", "cherry", "dark red"],
            &["backup", "db", "backups"],
            &["backup", "db", "backups"],
            &["backups", "backups"],
            &["verify-backup", "backups", "2"],
            &["restore", "backups", "1", "restored"],
            &["restored", "scan"],
            &["checkpoint", "db", "copy"],
            &["copy", "scan"],
            &["delete-backup", "backups", "1"],
            &["purge-backups", "backups", "--keep", "1"],
            &["backups", "backups"],
        ],
    );
    insta::assert_snapshot!("backup_session", first);
}

/// A backup of a database with values in blob files names both kinds of file it
/// holds, and restores them.
#[test]
fn a_backup_names_its_segments_and_blob_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Above the default blob threshold (1 KiB): the value goes to a blob file.
    let large = "x".repeat(1500);
    assert!(lsm(d, &["db", "--create", "put", "large", &large])
        .status
        .success());
    let out = transcript(
        d,
        "db holds one 1500-byte value",
        &[
            &["backup", "db", "backups"],
            &["verify-backup", "backups", "1"],
            &["restore", "backups", "1", "restored"],
            &["restored", "scan"],
            &["delete-backup", "backups", "1"],
        ],
    );
    insta::assert_snapshot!("backup_with_blob_files", out);
}

#[test]
fn refusals_are_clear_and_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert!(lsm(d, &["db", "--create", "put", "k", "v"])
        .status
        .success());
    assert!(lsm(d, &["backup", "db", "backups"]).status.success());
    std::fs::create_dir(d.join("taken")).unwrap();
    std::fs::create_dir(d.join("plain")).unwrap();
    std::fs::write(d.join("plain/notes.txt"), "mine").unwrap();
    let out = transcript(
        d,
        "db is a database with backup 1 in backups; taken is an empty directory, \
         plain holds notes.txt",
        &[
            &["checkpoint", "missing", "copy"],
            &["checkpoint", "plain", "copy"],
            &["checkpoint", "db", "taken"],
            &["backup", "db", "plain"],
            &["restore", "backups", "7", "new"],
            &["restore", "backups", "1", "taken"],
            &["backups", "plain"],
            &["backup", "db"],
        ],
    );
    insta::assert_snapshot!("refusals", out);
    for gone in ["missing", "copy", "new"] {
        assert!(!d.join(gone).exists(), "{gone} was created");
    }
    let plain: Vec<_> = std::fs::read_dir(d.join("plain")).unwrap().collect();
    assert_eq!(plain.len(), 1, "the foreign directory was written to");

    // A database another process has open: refused, and its lock names the way.
    let db = lsm_core::Db::open(d.join("db"), lsm_core::Options::default()).unwrap();
    let out = transcript(
        d,
        "another process has db open",
        &[&["checkpoint", "db", "copy"], &["backup", "db", "backups"]],
    );
    insta::assert_snapshot!("locked", out);
    assert!(!d.join("copy").exists());
    // The process that holds it takes them through the library.
    db.checkpoint(d.join("copy")).unwrap();
    db.backup(d.join("backups")).unwrap();
}

#[test]
fn damage_in_a_backup_fails_verify_and_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert!(lsm(d, &["db", "--create", "put", "k", "v"])
        .status
        .success());
    assert!(lsm(d, &["backup", "db", "backups"]).status.success());
    let shared = d.join("backups/shared");
    let file = std::fs::read_dir(&shared)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[10] ^= 0x40;
    std::fs::write(&file, bytes).unwrap();
    let out = transcript(
        d,
        "a bit of the segment in backup 1 flipped",
        &[
            &["verify-backup", "backups", "1"],
            &["restore", "backups", "1", "restored"],
        ],
    );
    insta::assert_snapshot!("damaged", out);
    assert!(!d.join("restored").exists());
}

#[test]
fn an_operation_word_first_is_an_operation_and_dot_slash_is_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = transcript(
        d,
        "a database directory named like an operation",
        &[
            &["./backup", "--create", "put", "k", "v"],
            &["./backup", "get", "k"],
            &["backup", "get", "k"],
        ],
    );
    insta::assert_snapshot!("operation_or_directory", out);
}

/// Kills `lsm ARGS` after `delay` (as Ctrl-C or a crash would stop it).
fn killed(dir: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(LSM)
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().unwrap();
    status.success()
}

#[test]
fn a_killed_backup_or_checkpoint_leaves_nothing_that_looks_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    {
        let options = lsm_core::Options::default().with_segment_size(64 << 10);
        let db = lsm_core::Db::open(d.join("db"), options).unwrap();
        // Values that do not compress, so the copies take a while to kill.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000 {
            let value: String = (0..25)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{:08x}", x as u32)
                })
                .collect();
            db.put(format!("key{i:06}"), value).unwrap();
        }
        db.close().unwrap();
    }
    let mut listed = 0;
    for (round, ms) in [0u64, 5, 10, 15, 25, 50, 100, 200, 400]
        .into_iter()
        .enumerate()
    {
        let finished = killed(d, &["backup", "db", "backups"], Duration::from_millis(ms));
        let cp = format!("cp{round}");
        let cp_finished = killed(d, &["checkpoint", "db", &cp], Duration::from_millis(ms));
        println!(
            "killed after {ms} ms: backup finished {finished}, checkpoint finished {cp_finished}"
        );
        // Every backup listed is whole.
        let list = lsm(d, &["backups", "backups"]);
        if d.join("backups/meta").exists() {
            assert!(list.status.success(), "{list:?}");
            let ids: Vec<u64> = lsm_core::backups(d.join("backups"))
                .unwrap()
                .iter()
                .map(|b| b.id)
                .collect();
            if finished {
                assert!(!ids.is_empty());
            }
            for id in &ids {
                lsm_core::verify_backup(d.join("backups"), *id).unwrap();
            }
            listed = ids.len();
        }
        // A checkpoint is absent or opens with every key; a leftover staging
        // directory beside it (`.cpN.staging-PID-N`) is allowed.
        if d.join(&cp).exists() {
            let scan = lsm(d, &[&cp, "scan", "--limit", "1"]);
            assert!(scan.status.success(), "{cp}: {scan:?}");
            let options = lsm_core::Options::default().with_create_if_missing(false);
            let db = lsm_core::Db::open(d.join(&cp), options)
                .unwrap_or_else(|e| panic!("{cp} exists but does not open: {e}"));
            assert_eq!(db.iter().count(), 20_000, "{cp}");
        } else {
            assert!(!cp_finished, "{cp}: the checkpoint finished but is gone");
        }
        let staging = std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.starts_with(&format!(".{cp}.staging-"))
            })
            .count();
        println!("{cp}: {staging} staging directories left beside it");
    }
    // After it all, a backup runs, and cleans what the killed ones left.
    assert!(lsm(d, &["backup", "db", "backups"]).status.success());
    let infos = lsm_core::backups(d.join("backups")).unwrap();
    assert!(infos.len() >= listed.max(1));
    let referenced: std::collections::BTreeSet<String> = infos
        .iter()
        .flat_map(|b| b.files.iter().map(|f| f.shared_name()))
        .collect();
    let present: std::collections::BTreeSet<String> = std::fs::read_dir(d.join("backups/shared"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(present, referenced, "leftovers of killed backups");
}
