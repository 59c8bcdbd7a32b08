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
/// default 3). Every run exits 0:
/// - `lsm-dump DIR --entries --json` and `lsm DIR scan` list exactly `key000000 ..
///   key{n-1}` (no hole) with `n` at least what was acknowledged before they started;
/// - `lsm DIR get` of an acknowledged key prints its value, and says on stderr that
///   it opened the database read-only because another process holds it;
/// - `lsm-dump DIR`, `lsm-verify DIR` and `lsm-compact DIR --dry-run` report no
///   problem;
/// - `lsm DIR put` is refused (exit 1, naming the lock), and `lsm --read-only DIR
///   get` reads without the lock.
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
            for (tool, args) in [
                (env!("CARGO_BIN_EXE_lsm-compact"), vec![db, "--dry-run"]),
                (env!("CARGO_BIN_EXE_lsm-dump"), vec![db]),
                (env!("CARGO_BIN_EXE_lsm-verify"), vec![db]),
            ] {
                let out = run(tool, &args);
                assert!(out.status.success(), "{tool} {args:?}: {}", text(&out));
            }
            let acked = get(&p, 0) as usize;
            let out = run(env!("CARGO_BIN_EXE_lsm"), &[db, "scan"]);
            assert!(out.status.success(), "lsm scan: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err.lines().count(), 1, "lsm scan: {}", text(&out));
            assert!(err.contains("opened read-only"), "lsm scan: {}", text(&out));
            let lines = String::from_utf8(out.stdout).unwrap();
            let mut n = 0usize;
            for (i, line) in lines.lines().enumerate() {
                if line.starts_with('(') {
                    assert_eq!(line, format!("({i} keys)"), "lsm scan");
                    break;
                }
                assert_eq!(line, format!("key{i:06} = value-{i}"), "lsm scan: line {i}");
                n += 1;
            }
            assert!(
                n >= acked,
                "lsm scan: {n} keys, {acked} acknowledged before"
            );
            let key = format!("key{:06}", acked - 1);
            let out = run(env!("CARGO_BIN_EXE_lsm"), &[db, "get", &key]);
            assert!(out.status.success(), "lsm get: {}", text(&out));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("value-{}\n", acked - 1)
            );
            rounds += 1;
        }
        let out = run(
            env!("CARGO_BIN_EXE_lsm"),
            &[db, "--read-only", "get", "key000000"],
        );
        assert!(out.status.success(), "lsm --read-only get: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "value-0\n");
        assert!(out.stderr.is_empty(), "lsm --read-only get: {}", text(&out));
        let out = run(env!("CARGO_BIN_EXE_lsm"), &[db, "put", "k", "v"]);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            out.status.code() == Some(1) && err.contains("lock"),
            "lsm put beside a writer: {}",
            text(&out)
        );
        set(&p, 1, 1);
        let out = writer.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(DONE), "the writer: {}", text(&out));
        println!(
            "{rounds} rounds beside a writer process: lsm-dump --entries (up to {most} keys), \
             lsm-dump, lsm-verify, lsm-compact --dry-run, lsm scan and lsm get exit 0 every \
             time"
        );
    }
}
