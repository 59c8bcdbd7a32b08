//! `lsm-bench`'s range-delete and TTL workloads on a tiny configuration:
//! `deleteprefix` reports its figures and checks its scans, `queue` keeps its disk
//! size bounded, `ttl` reclaims what expired, `txn_readmodifywrite` counts its
//! conflicts; none is in the default list.

use lsm_tools::bench::{run_bench, BenchConfig, Workload, DEFAULT_WORKLOADS};

fn tiny(workloads: Vec<Workload>) -> BenchConfig {
    BenchConfig {
        workloads,
        num: 4000,
        value_size: 100,
        options: lsm_core::Options::default()
            .with_memtable_size(32 << 10)
            .with_segment_size(16 << 10)
            .with_level1_size(64 << 10),
        ..BenchConfig::default()
    }
}

fn figure(r: &lsm_tools::bench::WorkloadResult, name: &str) -> f64 {
    r.details
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no figure {name:?} in {:?}", r.details))
        .value
}

#[test]
fn range_workloads_are_not_in_the_default_list() {
    assert!(!DEFAULT_WORKLOADS.contains(&Workload::Deleteprefix));
    assert!(!DEFAULT_WORKLOADS.contains(&Workload::Queue));
    assert!(!DEFAULT_WORKLOADS.contains(&Workload::Ttl));
    assert!(!DEFAULT_WORKLOADS.contains(&Workload::TxnReadmodifywrite));
}

#[test]
fn txn_readmodifywrite_reports_its_conflict_rate() {
    let mut cfg = tiny(vec![Workload::TxnReadmodifywrite]);
    cfg.writes = 2000;
    let report = run_bench(&cfg).unwrap();
    let r = &report.results[0];
    assert_eq!(r.workload, Workload::TxnReadmodifywrite);
    assert_eq!(r.ops, 2000);
    let attempts = figure(r, "commit attempts");
    let conflicts = figure(r, "conflicts");
    // The workload itself checks that the counters add up to the commits.
    assert_eq!(
        attempts - conflicts,
        2000.0 - figure(r, "transactions that gave up after 16 attempts")
    );
    let rate = figure(r, "conflict rate (conflicts per attempt)");
    assert!((0.0..100.0).contains(&rate), "{rate}");
    assert_eq!(rate, 100.0 * conflicts / attempts);
}

#[test]
fn ttl_reclaims_the_expired_values() {
    let report = run_bench(&tiny(vec![Workload::Ttl])).unwrap();
    let r = &report.results[0];
    assert_eq!(r.ops, 4000);
    assert_eq!(r.logical_bytes, Some(0));
    let before = figure(r, "disk bytes before expiry");
    let after = figure(r, "disk bytes after compact");
    assert!(
        after < before / 4.0,
        "compaction reclaims: {before} -> {after}"
    );
    assert_eq!(figure(r, "bytes reclaimed"), before - after);
    assert!(figure(r, "expired versions dropped by compaction") > 0.0);
}

#[test]
fn deleteprefix_reclaims_the_prefix_after_compact_range() {
    let report = run_bench(&tiny(vec![Workload::Deleteprefix])).unwrap();
    let r = &report.results[0];
    // 4000 keys under the prefix, 400 on each side.
    assert_eq!(r.ops, 4800);
    assert_eq!(r.logical_bytes, Some(800 * 116));
    let before = figure(r, "disk bytes before compact_range");
    let after = figure(r, "disk bytes after compact_range");
    assert!(
        after < before / 2.0,
        "compact_range reclaims the prefix: {before} -> {after}"
    );
    assert!(figure(r, "delete_prefix latency") > 0.0);
    for phase in ["before", "after"] {
        figure(
            r,
            &format!("empty scan of the deleted range, {phase} compact_range"),
        );
        figure(
            r,
            &format!("first key of a scan from inside it, {phase} compact_range"),
        );
    }
}

#[test]
fn queue_disk_size_stays_bounded() {
    let report = run_bench(&tiny(vec![Workload::Queue])).unwrap();
    let r = &report.results[0];
    assert_eq!(r.ops, 4000);
    assert_eq!(
        figure(r, "live data (window of entries)"),
        (400 * 116) as f64
    );
    assert!(figure(r, "range deletes") >= 9.0);
    assert_eq!(figure(r, "size samples"), 100.0);
    // Ten times the live data was written: a store that kept it all would hold
    // about that; the range deletes let compaction drop the head.
    let written = figure(r, "written in total");
    let max = figure(r, "max segments + WAL");
    assert!(
        max < 0.8 * written,
        "max segments + WAL is {max} bytes of {written} written"
    );
    assert!(figure(r, "final / live data") <= figure(r, "max / live data"));
    // The text report prints the figures under the row.
    let mut text = Vec::new();
    report.print_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("    max / live data: "), "{text}");
}
