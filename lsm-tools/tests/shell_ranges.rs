//! The `lsm` shell's range commands: `delete-range`, `delete-prefix`,
//! `compact-range`, and `explain` of a key a range tombstone hides; refused in
//! read-only mode.

mod common;

use common::{lsm_session, run, stdout};

const LSM: &str = env!("CARGO_BIN_EXE_lsm");

#[test]
fn range_commands_in_a_lsm_session() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "\
put log/001 a
put log/002 b
put log/003 c
put session/x 1
put session/y 2
put settings on
flush
delete-range log/001 log/003
scan
explain log/002
explain log/003
delete-prefix session/
scan
explain session/x
flush
explain session/y
compact-range log/ log0
explain log/001
delete-range b a
compact-range z a
delete-range onlystart
scan
";
    let (code, out) = lsm_session(tmp.path(), &["--create"], script);
    assert_eq!(
        code,
        Some(1),
        "the backward ranges and the usage error fail: {out}"
    );
    // The hidden puts are named with the tombstone that hides them.
    assert!(
        out.contains("by the range tombstone [log/001, log/003) at seq 7"),
        "{out}"
    );
    assert!(out.contains("the memtable (WAL"), "{out}");
    insta::assert_snapshot!("range_session", out);
    let d = tmp.path().to_str().unwrap();
    assert_eq!(
        stdout(&run(LSM, &[d, "scan"])),
        "log/003 = c\nsettings = on\n(2 keys)\n"
    );
}

#[test]
fn range_commands_are_refused_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    assert_eq!(stdout(&run(LSM, &[d, "--create", "put", "k", "v"])), "ok\n");
    let (code, out) = lsm_session(
        tmp.path(),
        &["--read-only"],
        "delete-range a z\ndelete-prefix k\ncompact-range a z\nget k\n",
    );
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("range_read_only", out);
    assert_eq!(stdout(&run(LSM, &[d, "get", "k"])), "v\n");
}

#[test]
fn session_stats_count_what_range_deletes_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "put a 1\nput b 2\nput c 3\nflush\ndelete-range a c\ncompact\nstats\n";
    let (code, out) = lsm_session(tmp.path(), &["--create"], script);
    assert_eq!(code, Some(0), "{out}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("range deletes"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("2 versions hidden dropped"), "{line}");
    assert!(out.contains("expiry and filter"), "{out}");
    // The compaction dropped two of three values: its output is smaller.
    let reclaimed = out.lines().find(|l| l.contains("reclaimed")).unwrap();
    assert!(!reclaimed.contains(" 0 B "), "{reclaimed}");
}
