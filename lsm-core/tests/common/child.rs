//! Simulating a killed process on the real file system: the test re-runs its own
//! binary, filtered to itself, with an environment variable that makes it play the
//! child's part; the child works on the database and leaves with
//! `std::process::exit`, which runs no destructor, so the database is neither
//! flushed nor closed and background threads stop wherever they are.

use std::path::Path;
use std::process::Command;

const ROLE: &str = "LSM_TEST_CHILD_DIR";

/// Exit code of a child that finished its part.
pub const CHILD_DONE: i32 = 77;

/// In the child, the directory it must work in; `None` in the parent.
pub fn child_dir() -> Option<std::path::PathBuf> {
    std::env::var_os(ROLE).map(Into::into)
}

/// Ends the child abruptly (no destructor runs).
pub fn exit_child() -> ! {
    std::process::exit(CHILD_DONE)
}

/// Runs test `test_name` of this binary as a child working in `dir`, with extra
/// environment `env`, and waits for it. Panics unless the child exits with
/// [`CHILD_DONE`], printing its output.
pub fn run_child(test_name: &str, dir: &Path, env: &[(&str, String)]) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn child test process");
    assert_eq!(
        out.status.code(),
        Some(CHILD_DONE),
        "child {test_name} did not finish its part: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
