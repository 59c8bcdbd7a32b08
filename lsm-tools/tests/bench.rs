//! `lsm-bench` on a tiny configuration: every workload runs and reports sensible
//! counts; the JSON and text reports have the expected shape (timings redacted).

use lsm_tools::bench::{run_bench, BenchConfig, Workload, DEFAULT_WORKLOADS};
use serde_json::Value;

fn tiny() -> BenchConfig {
    BenchConfig {
        num: 2000,
        reads: 500,
        writes: 300,
        sync_num: 20,
        value_size: 40,
        ..BenchConfig::default()
    }
}

#[test]
fn every_workload_runs_with_sensible_counts() {
    let report = run_bench(&tiny()).unwrap();
    assert_eq!(report.results.len(), DEFAULT_WORKLOADS.len());
    let by = |w: Workload| report.results.iter().find(|r| r.workload == w).unwrap();
    assert_eq!(by(Workload::Fillseq).ops, 2000);
    assert_eq!(by(Workload::Fillseq).logical_bytes, Some(2000 * (16 + 40)));
    assert_eq!(by(Workload::Overwrite).ops, 300);
    assert_eq!(by(Workload::Fillsync).ops, 20);
    // After fillrandom + overwrite most keys exist; missing keys never do.
    assert!(by(Workload::Readrandom).found.unwrap() > 0);
    assert_eq!(by(Workload::Readmissing).found, Some(0));
    // A full scan sees exactly the live keys.
    let live = by(Workload::Overwrite).logical_bytes.unwrap() / (16 + 40);
    assert_eq!(by(Workload::Readseq).ops, live.min(500));
    assert_eq!(by(Workload::Readreverse).ops, live.min(500));
    assert!(by(Workload::Readwhilewriting).background_writes.unwrap() >= 1);
    for r in &report.results {
        assert!(r.latency_us.p50 <= r.latency_us.p99 && r.latency_us.p99 <= r.latency_us.p999);
        assert_eq!(
            r.write_amplification.is_some(),
            r.workload.writes(),
            "{:?}",
            r.workload
        );
    }
}

/// `seekrandom_reuse` (one scan per thread, repositioned by `Scan::seek`) seeks the
/// same keys as `seekrandom` at the same place in the list, and finds as many.
#[test]
fn seekrandom_reuse_finds_what_seekrandom_finds() {
    let run = |w: Workload| {
        let cfg = BenchConfig {
            workloads: vec![Workload::Fillrandom, Workload::Deleterandom, w],
            num: 3000,
            reads: 800,
            writes: 1500,
            threads: 2,
            ..tiny()
        };
        let report = run_bench(&cfg).unwrap();
        let r = report.results.iter().find(|r| r.workload == w).unwrap();
        (r.ops, r.found)
    };
    let fresh = run(Workload::Seekrandom);
    assert_eq!(fresh.0, 800);
    assert!(fresh.1.unwrap() > 0);
    assert_eq!(run(Workload::SeekrandomReuse), fresh);
}

/// Replaces the numbers that depend on timing or on the engine's background work by
/// 0; counts that the fixed seed decides stay.
fn redact(v: &mut Value, key: &str) {
    const KEEP: [&str; 13] = [
        "ops",
        "found",
        "logical_bytes",
        "num",
        "reads",
        "writes",
        "sync_num",
        "key_size",
        "value_size",
        "threads",
        "seed",
        "compression_ratio",
        "temporary",
    ];
    match v {
        Value::Number(_) if !KEEP.contains(&key) => *v = Value::from(0),
        Value::Object(m) => {
            // Present only where the system lets the peak be reset (Linux).
            m.remove("peak_rss_bytes");
            m.iter_mut().for_each(|(k, v)| redact(v, k));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| redact(v, key)),
        Value::String(_) if key == "db" || key == "options" => *v = Value::from("[redacted]"),
        _ => {}
    }
}

#[test]
fn binary_json_and_text() {
    let bin = env!("CARGO_BIN_EXE_lsm-bench");
    let args = [
        "--num",
        "500",
        "--sync-num",
        "5",
        "--benchmarks",
        "fillseq,readrandom,fillsync",
    ];
    let out = std::process::Command::new(bin)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut json: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Where this process may reset its peak resident memory, so may the child: each
    // workload then reports its peak.
    if cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok() {
        for r in json["results"].as_array().unwrap() {
            let peak = r["peak_rss_bytes"].as_u64().unwrap_or(0);
            assert!(peak > 1 << 20, "{r}");
        }
    }
    redact(&mut json, "");
    insta::assert_json_snapshot!("bench_json", json);
    let out = std::process::Command::new(bin).args(args).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // Rows, without the indented figures below some of them.
    let rows: Vec<&str> = text
        .lines()
        .skip(2)
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        rows,
        ["workload", "fillseq", "readrandom", "fillsync"],
        "{text}"
    );
    let bad = std::process::Command::new(bin)
        .args(["--key-size", "2", "--num", "1000"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--key-size 2 cannot hold"));
}

const BENCH: &str = env!("CARGO_BIN_EXE_lsm-bench");
const LSM: &str = env!("CARGO_BIN_EXE_lsm");

fn bench(args: &[&str]) -> std::process::Output {
    std::process::Command::new(BENCH)
        .args(["--num", "200", "--sync-num", "5", "--quiet"])
        .args(args)
        .output()
        .unwrap()
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    n.sort();
    n
}

/// `lsm DIR` reading commands from a pipe: it holds the database open until its
/// standard input closes. Returns once it has answered a first command, so the
/// lock is surely taken (no sleeping).
struct Holder {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Holder {
    fn open(dir: &std::path::Path, create: bool) -> Holder {
        use std::io::{BufRead, Write};
        let mut cmd = std::process::Command::new(LSM);
        cmd.arg(dir);
        if create {
            cmd.arg("--create");
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, "put held-by-lsm yes").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ok\n");
        Holder { child, stdout }
    }

    fn close(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success());
        drop(self.stdout);
    }
}

fn get(dir: &std::path::Path, key: &str) -> String {
    common_stdout(
        &std::process::Command::new(LSM)
            .arg(dir)
            .args(["get", key])
            .output()
            .unwrap(),
    )
}

fn common_stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_database_another_process_has_open_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    // The user's database, open in the shell; lsm-bench pointed straight at it.
    let holder = Holder::open(&dir, true);
    let before = names(&dir);
    let out = bench(&["--db", dir.to_str().unwrap(), "--benchmarks", "fillseq"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is a database directory"), "{err}");
    assert_eq!(names(&dir), before);
    holder.close();
    assert_eq!(get(&dir, "held-by-lsm"), "yes\n");

    // A database of an earlier run, open in the shell while the run is repeated.
    let base = tmp.path().join("runs");
    assert!(
        bench(&["--db", base.to_str().unwrap(), "--benchmarks", "fillseq"])
            .status
            .success()
    );
    let fillseq = base.join("fillseq");
    let holder = Holder::open(&fillseq, false);
    let before = names(&fillseq);
    let out = bench(&["--db", base.to_str().unwrap(), "--benchmarks", "fillseq"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is locked"), "{err}");
    assert_eq!(names(&fillseq), before);
    holder.close();
    assert_eq!(get(&fillseq, "held-by-lsm"), "yes\n");
}

#[test]
fn a_database_directory_with_foreign_files_is_never_emptied() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    assert!(
        bench(&["--db", base.to_str().unwrap(), "--benchmarks", "fillseq"])
            .status
            .success()
    );
    std::fs::write(base.join("fillseq/notes.txt"), "mine").unwrap();
    let before = names(&base.join("fillseq"));
    let out = bench(&["--db", base.to_str().unwrap(), "--benchmarks", "fillseq"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("notes.txt, which is not a database file"),
        "{err}"
    );
    assert_eq!(names(&base.join("fillseq")), before);
}

#[test]
fn every_fill_leaves_its_database_for_inspection() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let out = bench(&["--db", base.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(names(base), ["fillrandom", "fillseq", "fillsync"]);
    // fillseq's database holds every key, written once.
    let scan = common_stdout(
        &std::process::Command::new(LSM)
            .arg(base.join("fillseq"))
            .args(["scan", "--limit", "1"])
            .output()
            .unwrap(),
    );
    assert!(scan.starts_with("0000000000000000 = "), "{scan}");
    // A second run replaces them (they are lsm-bench's own databases).
    assert!(bench(&[
        "--db",
        base.to_str().unwrap(),
        "--benchmarks",
        "fillseq,fillseq"
    ])
    .status
    .success());
    assert_eq!(
        names(base),
        ["fillrandom", "fillseq", "fillseq-2", "fillsync"]
    );
}

#[test]
fn a_list_must_start_with_a_fill() {
    let out = bench(&["--benchmarks", "readrandom,fillseq"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("readrandom needs a database"));
}

#[test]
fn rows_are_reported_as_each_workload_finishes() {
    use lsm_tools::bench::{run_bench_with, Event};
    let tmp = tempfile::tempdir().unwrap();
    let cfg = BenchConfig {
        workloads: vec![Workload::Fillseq, Workload::Readrandom, Workload::Fillsync],
        db: Some(tmp.path().to_path_buf()),
        ..tiny()
    };
    let mut seen = Vec::new();
    run_bench_with(&cfg, &mut |event| {
        match event {
            Event::Started(_) => seen.push("started".to_string()),
            Event::Finished(r) => {
                // fillseq's row comes before fillsync's database exists.
                let later = tmp.path().join("fillsync").exists();
                seen.push(format!("{} {later}", r.workload.name()));
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [
            "started",
            "fillseq false",
            "readrandom false",
            "fillsync true"
        ]
    );
}

#[test]
fn counts_and_sizes_take_units() {
    let out = std::process::Command::new(BENCH)
        .args(["--num", "1k", "--reads", "0.1k", "--cache", "2MiB"])
        .args(["--benchmarks", "fillseq,readrandom", "--json", "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["config"]["num"], 1000);
    assert_eq!(json["results"][1]["ops"], 100);
    assert!(json["config"]["options"]
        .as_str()
        .unwrap()
        .contains("block_cache_size: 2097152"));
    let bad = std::process::Command::new(BENCH)
        .args(["--num", "lots"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a count"));
}

#[test]
fn read_workloads_can_run_in_an_existing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("runs");
    let filled = base.join("fillrandom");
    assert!(
        bench(&["--db", base.to_str().unwrap(), "--benchmarks", "fillrandom"])
            .status
            .success()
    );
    let before = names(&filled);
    let out = bench(&[
        "--use-existing",
        filled.to_str().unwrap(),
        "--benchmarks",
        "readrandom,fillseq",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["results"][0]["found"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["results"][0]["database"], filled.to_str().unwrap());
    // Read, never replaced; the fill after it went to a database of its own.
    assert!(names(&filled)
        .iter()
        .all(|n| before.contains(n) || n.ends_with(".wal")));
    // A directory that is not a database is refused, and left without a LOCK.
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let out = bench(&[
        "--use-existing",
        plain.to_str().unwrap(),
        "--benchmarks",
        "readrandom",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(names(&plain).is_empty());
}
