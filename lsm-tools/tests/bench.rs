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
        Value::Object(m) => m.iter_mut().for_each(|(k, v)| redact(v, k)),
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
    redact(&mut json, "");
    insta::assert_json_snapshot!("bench_json", json);
    let out = std::process::Command::new(bin).args(args).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .skip(2)
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
