//! The `lsm` shell: a scripted session on standard input, one-shot commands, hex
//! keys, errors and the lock.

mod common;

use std::process::{Command, Stdio};

use common::{lsm_session, redact_dir, run, stdout};

const LSM: &str = env!("CARGO_BIN_EXE_lsm");

/// Runs `lsm DIR --create --echo` with `script` on standard input; returns
/// (status code, stdout).
fn session(dir: &std::path::Path, script: &str) -> (Option<i32>, String) {
    lsm_session(dir, &["--create"], script)
}

#[test]
fn scripted_session() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "\
# a comment, then the basics
put apple red
put banana yellow
put cherry \"dark red\"
get apple
get durian
delete banana
get banana
scan
scan --reverse --limit 2
scan --from b --to d
put 0x00ff 0x0102
get 0x00ff
scan --prefix 0x00
put p1 one
put p2 two
scan --prefix p
flush
put apple green
get apple
explain apple
explain banana
explain cherry
explain blueberry
explain zebra
quit
get never-run
";
    let (code, out) = session(tmp.path(), script);
    assert_eq!(code, Some(1), "the gets of missing keys fail: {out}");
    insta::assert_snapshot!("session", out);
    // The data outlives the session.
    let out = run(LSM, &[tmp.path().to_str().unwrap(), "get", "cherry"]);
    assert_eq!(stdout(&out), "dark red\n");
}

#[test]
fn one_shot_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    assert_eq!(stdout(&run(LSM, &[d, "--create", "put", "k", "v"])), "ok\n");
    assert_eq!(stdout(&run(LSM, &[d, "get", "k"])), "v\n");
    assert_eq!(stdout(&run(LSM, &[d, "--hex", "get", "k"])), "0x76\n");
    assert_eq!(stdout(&run(LSM, &[d, "scan"])), "k = v\n(1 key)\n");
    assert_eq!(stdout(&run(LSM, &[d, "delete", "k"])), "ok\n");
    assert_eq!(stdout(&run(LSM, &[d, "compact"])), "compacted\n");
    let bad = run(LSM, &[d, "get", "0xzz"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not valid hex"));
    let usage = run(LSM, &[d, "put", "only-a-key"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn errors_in_a_session_are_printed_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = session(tmp.path(), "bogus\nput k\nget 0xabc\nput k v\nget k\n");
    assert_eq!(code, Some(1), "failed lines make the exit status 1");
    insta::assert_snapshot!("session_errors", out);
}

#[test]
fn a_write_to_a_locked_directory_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    let out = run(LSM, &[tmp.path().to_str().unwrap(), "put", "k", "v"]);
    assert_eq!(out.status.code(), Some(1));
    let err = redact_dir(&String::from_utf8_lossy(&out.stderr), tmp.path());
    insta::assert_snapshot!("locked", err);
    db.close().unwrap();
}

#[test]
fn a_missing_database_is_not_created_without_create() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo");
    let out = run(LSM, &[typo.to_str().unwrap(), "get", "k"]);
    assert_eq!(out.status.code(), Some(1));
    let err = redact_dir(&String::from_utf8_lossy(&out.stderr), tmp.path());
    assert_eq!(
        err,
        "lsm: DIR/typo does not exist; pass --create to create a database there\n"
    );
    assert!(!typo.exists());
    // An existing directory that is not a database: refused, and left as it was.
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let out = run(LSM, &[tmp.path().to_str().unwrap(), "put", "k", "v"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no database (no MANIFEST)"));
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    // --create makes one, and later commands find it without the flag.
    let out = run(LSM, &[typo.to_str().unwrap(), "--create", "put", "k", "v"]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&run(LSM, &[typo.to_str().unwrap(), "get", "k"])),
        "v\n"
    );
}

#[test]
fn get_of_a_missing_key_fails_and_get_prints_whole_values() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let long = "v".repeat(100);
    assert!(run(LSM, &[d, "--create", "put", "long", &long])
        .status
        .success());
    let out = run(LSM, &[d, "get", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "",
        "nothing on stdout, so no value can be mistaken"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lsm: key not found: missing\n"
    );
    // A stored value that reads like the old message is just a value.
    assert!(run(LSM, &[d, "put", "k", "(not found)"]).status.success());
    let out = run(LSM, &[d, "get", "k"]);
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(0), "(not found)\n".into())
    );
    assert_eq!(stdout(&run(LSM, &[d, "get", "long"])), format!("{long}\n"));
    // scan still shortens, and says so.
    let scan = stdout(&run(LSM, &[d, "scan", "--prefix", "long"]));
    assert_eq!(
        scan,
        format!("long = {}… (100 bytes)\n(1 key)\n", "v".repeat(64))
    );
}

#[test]
fn one_shot_stats_shows_the_database_and_says_why_counters_are_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    assert!(run(LSM, &[d, "--create", "put", "k", "v"]).status.success());
    assert!(run(LSM, &[d, "flush"]).status.success());
    let stats = stdout(&run(LSM, &[d, "stats"]));
    insta::assert_snapshot!("one_shot_stats", stats);
    // In a session, the counters cover the commands run so far.
    let (code, out) = session(tmp.path(), "put a b\nstats\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("this session (counters since the database was opened)"),
        "{out}"
    );
    assert!(out.contains("user bytes written   2 B"), "{out}");
}

#[test]
fn a_closed_output_pipe_ends_the_tools_quietly() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    // Far more output than a pipe buffers, so the tool is still writing when the
    // reader goes away.
    let value = "x".repeat(200);
    for i in 0..5000 {
        db.put(format!("key{i:05}"), &value).unwrap();
    }
    db.close().unwrap();
    let d = tmp.path().to_str().unwrap();
    let dump = env!("CARGO_BIN_EXE_lsm-dump");
    for (bin, args) in [
        (LSM, vec![d, "--full", "scan"]),
        (dump, vec![d, "--entries", "--full"]),
        (dump, vec![d, "--entries", "--json"]),
    ] {
        let mut child = Command::new(bin)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("key00000"), "{first}");
        // The reader is dropped here, as `head -1` exits.
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned()
            ),
            (Some(0), String::new()),
            "{bin} {args:?}"
        );
    }
}
