//! The reading tools beside a process that has the database open and keeps writing,
//! flushing and compacting: without the lock they still see every acknowledged write.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lsm_tools::verify::verify_path;

#[test]
fn merged_view_sees_every_acknowledged_write_while_files_churn() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), common::small_options()).unwrap();
    let written = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let total = 6000u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..total {
                db.put(format!("key{i:06}"), format!("value-{i}")).unwrap();
                written.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut loads = 0;
        while !done.load(Ordering::SeqCst) || loads == 0 {
            let acknowledged = written.load(Ordering::SeqCst);
            // The view `lsm-dump --entries` prints: the engine's read-only open.
            let view =
                lsm_core::Db::open_read_only(tmp.path(), lsm_core::Options::default()).unwrap();
            let keys: Vec<_> = view.iter().map(|r| r.unwrap().0).collect();
            assert!(
                keys.len() as u64 >= acknowledged,
                "saw {} keys, {acknowledged} were acknowledged before the read",
                keys.len()
            );
            for (i, k) in keys.iter().enumerate().take(acknowledged as usize) {
                assert_eq!(&k[..], format!("key{i:06}").as_bytes());
            }
            loads += 1;
        }
    });
    db.close().unwrap();
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// The reading tools run as processes beside a writer process (this test binary
/// re-run in the writer's role), which writes `key000000, key000001, ...` in order,
/// flushes and compacts all the while (`LSM_SOAK_SECS` seconds of tool runs,
/// default 3):
/// - `lsm-dump DIR --entries --json` exits 0 and lists exactly `key000000 ..
///   key{n-1}` (no hole) with `n` at least what was acknowledged before it started;
/// - `lsm-compact DIR --dry-run` exits 0;
/// - `lsm-dump DIR` and `lsm-verify DIR` exit 0, except when they lose a race with
///   the writer (a known limitation, counted and printed: see the loop);
/// - `lsm DIR get` opens the database as its writer (`Db::open`), so beside a
///   running writer it is refused: exit 1 and a message naming the lock, never a
///   wrong answer.
#[cfg(unix)]
mod beside_a_writer_process {
    use std::fs::{File, OpenOptions};
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    const ROLE: &str = "LSM_TOOLS_WRITER_DIR";
    const DONE: i32 = 77;

    fn progress(dir: &Path) -> File {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("progress"))
            .unwrap();
        f.set_len(16).unwrap();
        f
    }

    /// Slot 0: writes acknowledged; slot 1: the parent asks the writer to stop.
    fn get(f: &File, slot: u64) -> u64 {
        let mut b = [0; 8];
        f.read_exact_at(&mut b, slot * 8).unwrap();
        u64::from_le_bytes(b)
    }

    fn set(f: &File, slot: u64, v: u64) {
        f.write_all_at(&v.to_le_bytes(), slot * 8).unwrap();
    }

    /// The writer's part; does nothing in the parent's run.
    #[test]
    fn writer_role() {
        let Some(dir) = std::env::var_os(ROLE).map(PathBuf::from) else {
            return;
        };
        let p = progress(&dir);
        let db = lsm_core::Db::open(dir.join("db"), super::common::small_options()).unwrap();
        let mut i = 0u64;
        while get(&p, 1) == 0 {
            db.put(format!("key{i:06}"), format!("value-{i}")).unwrap();
            i += 1;
            set(&p, 0, i);
            if i.is_multiple_of(3000) {
                db.compact().unwrap();
            }
        }
        let stats = db.stats();
        println!(
            "writer: {i} writes, {} flushes, {} compactions",
            stats.flushes, stats.compactions
        );
        db.close().unwrap();
        std::process::exit(DONE);
    }

    fn run(tool: &str, args: &[&str]) -> Output {
        Command::new(tool).args(args).output().unwrap()
    }

    fn text(out: &Output) -> String {
        format!(
            "{}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    #[test]
    fn the_reading_tools_work_beside_a_writer_process() {
        let tmp = tempfile::tempdir().unwrap();
        let p = progress(tmp.path());
        let writer = Command::new(std::env::current_exe().unwrap())
            .args([
                "beside_a_writer_process::writer_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while get(&p, 0) < 2000 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the writer is stuck"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let db = tmp.path().join("db");
        let db = db.to_str().unwrap();
        let secs: f64 = std::env::var("LSM_SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0);
        let start = Instant::now();
        let (mut rounds, mut most) = (0u64, 0usize);
        let mut lsm_refusals = 0u64;
        // Runs of `lsm-dump DIR` and `lsm-verify DIR` that exited 0, and that lost
        // a race with the writer (see below).
        let (mut clean, mut raced) = ([0u64; 2], [0u64; 2]);
        while start.elapsed() < Duration::from_secs_f64(secs) || rounds == 0 {
            let acked = get(&p, 0) as usize;
            let out = run(env!("CARGO_BIN_EXE_lsm-dump"), &[db, "--entries", "--json"]);
            assert!(out.status.success(), "lsm-dump --entries: {}", text(&out));
            let lines = String::from_utf8(out.stdout).unwrap();
            let mut n = 0usize;
            for (i, line) in lines.lines().enumerate() {
                let want = format!("{{\"key\":\"key{i:06}\",\"value\":\"value-{i}\"");
                assert!(
                    line.starts_with(&want),
                    "lsm-dump --entries: line {i} is {line}, want {want}..."
                );
                n += 1;
            }
            assert!(
                n >= acked,
                "lsm-dump --entries: {n} keys, {acked} acknowledged before"
            );
            most = most.max(n);
            let out = run(env!("CARGO_BIN_EXE_lsm-compact"), &[db, "--dry-run"]);
            assert!(
                out.status.success(),
                "lsm-compact --dry-run: {}",
                text(&out)
            );
            // `lsm-dump DIR` and `lsm-verify DIR` read the manifest and list the
            // directory themselves, once, without the retry of `open_read_only`: a
            // WAL the writer created after the manifest was read ("not below the
            // manifest's next_file_number") or a file it removed meanwhile ("No
            // such file or directory") fails them with exit 1, and `lsm-verify`
            // reports the record the writer is appending to its live WAL as a
            // damaged record ("recovery drops it as a torn tail"). Known limitation:
            // such a failure is counted; any other one fails the test.
            for (i, (tool, args)) in [
                (env!("CARGO_BIN_EXE_lsm-dump"), vec![db]),
                (env!("CARGO_BIN_EXE_lsm-verify"), vec![db]),
            ]
            .into_iter()
            .enumerate()
            {
                let out = run(tool, &args);
                if out.status.success() {
                    clean[i] += 1;
                    continue;
                }
                let all = text(&out);
                assert!(
                    out.status.code() == Some(1)
                        && (all.contains("No such file or directory")
                            || all.contains("is not below the manifest's next_file_number")
                            || all.contains("recovery drops it as a torn tail")),
                    "{tool} {args:?}: {all}"
                );
                raced[i] += 1;
            }
            let out = run(env!("CARGO_BIN_EXE_lsm"), &[db, "get", "key000000"]);
            let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
            assert!(
                out.status.code() == Some(1) && err.contains("lock"),
                "lsm get beside a writer: {}",
                text(&out)
            );
            lsm_refusals += 1;
            rounds += 1;
        }
        set(&p, 1, 1);
        let out = writer.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(DONE), "the writer: {}", text(&out));
        println!(
            "{rounds} rounds beside a writer process: lsm-dump --entries (up to {most} keys) \
             and lsm-compact --dry-run exit 0 every time; lsm-dump DIR {} clean, {} lost a \
             race with the writer; lsm-verify DIR {} clean, {} lost a race; lsm get refused \
             with the lock {lsm_refusals} times",
            clean[0], raced[0], clean[1], raced[1]
        );
        assert!(
            clean.iter().all(|&n| n > 0),
            "lsm-dump or lsm-verify never ran clean beside the writer: {clean:?} {raced:?}"
        );
    }
}
