//! The `lsm` shell: a scripted session on standard input, one-shot commands, hex
//! keys, errors and the lock.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{redact_dir, run, stdout};

const LSM: &str = env!("CARGO_BIN_EXE_lsm");

/// Runs `lsm DIR` with `script` on standard input; returns (status code, stdout).
fn session(dir: &std::path::Path, script: &str) -> (Option<i32>, String) {
    let mut child = Command::new(LSM)
        .arg(dir)
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
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), redact_dir(&stdout(&out), dir))
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
    assert_eq!(code, Some(0), "{out}");
    insta::assert_snapshot!("session", out);
    // The data outlives the session.
    let out = run(LSM, &[tmp.path().to_str().unwrap(), "get", "cherry"]);
    assert_eq!(stdout(&out), "dark red\n");
}

#[test]
fn one_shot_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    assert_eq!(stdout(&run(LSM, &[d, "put", "k", "v"])), "ok\n");
    assert_eq!(stdout(&run(LSM, &[d, "get", "k"])), "v\n");
    assert_eq!(stdout(&run(LSM, &[d, "--hex", "get", "k"])), "0x76\n");
    assert_eq!(stdout(&run(LSM, &[d, "scan"])), "k = v\n(1 key)\n");
    assert_eq!(stdout(&run(LSM, &[d, "delete", "k"])), "ok\n");
    assert_eq!(stdout(&run(LSM, &[d, "get", "k"])), "(not found)\n");
    assert_eq!(stdout(&run(LSM, &[d, "compact"])), "compacted\n");
    let stats = stdout(&run(LSM, &[d, "stats"]));
    assert!(stats.contains("write amplification"), "{stats}");
    assert!(stats.contains("of segments read through mmap"), "{stats}");
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
fn a_locked_directory_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    let out = run(LSM, &[tmp.path().to_str().unwrap(), "get", "k"]);
    assert_eq!(out.status.code(), Some(1));
    let err = redact_dir(&String::from_utf8_lossy(&out.stderr), tmp.path());
    insta::assert_snapshot!("locked", err);
    db.close().unwrap();
}
