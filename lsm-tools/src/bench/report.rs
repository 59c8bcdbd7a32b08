//! The benchmark's results: one row per workload, as a table or JSON.

use std::io::Write;
use std::path::Path;

use lsm_core::Stats;
use serde::Serialize;

use super::ranges::Detail;
use super::workload::{Measured, Workload};
use super::BenchConfig;
use crate::display::human_bytes;
use crate::table::Align;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The figures of one workload.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadResult {
    /// The workload.
    pub workload: Workload,
    /// Its database: the name of its directory under the base directory.
    pub database: String,
    /// Operations timed.
    pub ops: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Megabytes (10^6 bytes) of keys and values per second.
    pub mb_per_sec: f64,
    /// Per-operation latency.
    pub latency_us: Latency,
    /// Reads that found their key (read workloads).
    pub found: Option<u64>,
    /// Writes by the background writer (`readwhilewriting`).
    pub background_writes: Option<u64>,
    /// Bytes the engine wrote (WAL, flushes, compactions) per user byte written during
    /// the workload, from `Db::stats()` (write workloads).
    pub write_amplification: Option<f64>,
    /// Bytes of all files in the directory afterwards.
    pub disk_bytes: u64,
    /// Key and value bytes of the live keys afterwards, when known.
    pub logical_bytes: Option<u64>,
    /// Figures beyond the columns (`deleteprefix`, `queue`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
    /// The process's peak resident memory during the workload, in bytes (Linux,
    /// where the kernel lets the peak be reset before it; otherwise absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl WorkloadResult {
    /// Builds the result of `w` from what was measured and the engine's counters before
    /// and after it.
    pub fn new(
        w: Workload,
        cfg: &BenchConfig,
        m: Measured,
        before: &Stats,
        after: &Stats,
        disk_bytes: u64,
        live_keys: Option<u64>,
    ) -> Self {
        let secs = m.seconds.max(1e-9);
        let user = after
            .user_bytes_written
            .saturating_sub(before.user_bytes_written);
        let disk = (after.wal_bytes_written + after.bytes_flushed + after.bytes_compacted_written)
            .saturating_sub(
                before.wal_bytes_written + before.bytes_flushed + before.bytes_compacted_written,
            );
        let mut details = m.details;
        if w.writes() {
            details.extend(stall_details(before, after));
            details.extend(rotation_details(before, after));
            details.extend(compaction_details(before, after));
            details.extend(blob_details(before, after));
        }
        WorkloadResult {
            workload: w,
            database: w.name().to_string(),
            ops: m.ops,
            seconds: m.seconds,
            ops_per_sec: m.ops as f64 / secs,
            mb_per_sec: m.bytes as f64 / secs / 1e6,
            latency_us: Latency {
                p50: us(m.hist.quantile(0.5)),
                p99: us(m.hist.quantile(0.99)),
                p999: us(m.hist.quantile(0.999)),
                max: us(m.hist.max()),
                mean: m.hist.mean() / 1000.0,
            },
            found: m.found,
            background_writes: m.background_writes,
            write_amplification: (w.writes() && user > 0).then(|| disk as f64 / user as f64),
            disk_bytes,
            logical_bytes: live_keys.map(|n| n * (cfg.key_size + cfg.value_size) as u64),
            details,
            peak_rss_bytes: None,
        }
    }
}

/// The writer stalls of a workload by cause, and the time they took, when there
/// were any (`Stats`, after minus before).
fn stall_details(before: &Stats, after: &Stats) -> Vec<Detail> {
    let diff = |f: fn(&Stats) -> u64| f(after).saturating_sub(f(before));
    if diff(|s| s.write_stalls) == 0 {
        return Vec::new();
    }
    let causes = [
        (
            "writer stalls at the level-0 stop",
            diff(|s| s.write_stalls_level0_stop),
        ),
        (
            "writer stalls slowed at the level-0 threshold",
            diff(|s| s.write_stalls_level0_slowdown),
        ),
        (
            "writer stalls waiting for a flush",
            diff(|s| s.write_stalls_memtables),
        ),
    ];
    let mut out: Vec<Detail> = causes
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(name, n)| Detail {
            name: name.to_string(),
            value: n as f64,
            unit: "",
        })
        .collect();
    out.push(Detail {
        name: "time writers spent stalled".to_string(),
        value: diff(|s| s.write_stall_micros) as f64 / 1000.0,
        unit: "ms",
    });
    out
}

/// The WAL rotations of a workload (memtable switches, whose fsync writers wait
/// for) and their time, when there were any (`Stats`, after minus before).
fn rotation_details(before: &Stats, after: &Stats) -> Vec<Detail> {
    let diff = |f: fn(&Stats) -> u64| f(after).saturating_sub(f(before));
    if diff(|s| s.wal_rotations) == 0 {
        return Vec::new();
    }
    vec![
        Detail {
            name: "WAL rotations".to_string(),
            value: diff(|s| s.wal_rotations) as f64,
            unit: "",
        },
        Detail {
            name: "time writers waited for them".to_string(),
            value: diff(|s| s.wal_rotation_micros) as f64 / 1000.0,
            unit: "ms",
        },
    ]
}

/// The compactions of a workload, the key ranges they were split into
/// (subcompactions) and their wall time, when there were any (`Stats`, after
/// minus before).
fn compaction_details(before: &Stats, after: &Stats) -> Vec<Detail> {
    let diff = |f: fn(&Stats) -> u64| f(after).saturating_sub(f(before));
    if diff(|s| s.compactions) == 0 {
        return Vec::new();
    }
    let detail = |name: &str, value: f64, unit| Detail {
        name: name.to_string(),
        value,
        unit,
    };
    vec![
        detail("compactions", diff(|s| s.compactions) as f64, ""),
        detail(
            "key ranges of split compactions",
            diff(|s| s.subcompactions) as f64,
            "",
        ),
        detail(
            "compaction time",
            diff(|s| s.compaction_micros) as f64 / 1e6,
            "s",
        ),
    ]
}

/// The blob files after a workload and the values blob GC rewrote during it, when
/// the database keeps values out of its segments (`--blob-threshold`).
fn blob_details(before: &Stats, after: &Stats) -> Vec<Detail> {
    let relocated = after
        .blob_values_relocated
        .saturating_sub(before.blob_values_relocated);
    if after.blob_files == 0 && relocated == 0 {
        return Vec::new();
    }
    let detail = |name: &str, value: f64, unit| Detail {
        name: name.to_string(),
        value,
        unit,
    };
    vec![
        detail("blob files afterwards", after.blob_files as f64, ""),
        detail("blob bytes afterwards", after.blob_bytes as f64 / 1e6, "MB"),
        detail("values relocated by blob GC", relocated as f64, ""),
    ]
}

/// The configuration as reported.
#[derive(Debug, Clone, Serialize)]
pub struct ReportConfig {
    /// Keys.
    pub num: u64,
    /// Read operations per read workload.
    pub reads: u64,
    /// Operations of overwrite and deleterandom.
    pub writes: u64,
    /// Writes of fillsync.
    pub sync_num: u64,
    /// Key size.
    pub key_size: usize,
    /// Value size.
    pub value_size: usize,
    /// Compression ratio of values.
    pub compression_ratio: f64,
    /// Reader threads.
    pub threads: usize,
    /// Seed.
    pub seed: u64,
    /// The directory holding one database per fill workload.
    pub db: String,
    /// True when the directory was temporary and is gone.
    pub temporary: bool,
    /// Engine options, as Rust debug text.
    pub options: String,
}

/// The whole benchmark's results.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// What ran.
    pub config: ReportConfig,
    /// One entry per workload, in order.
    pub results: Vec<WorkloadResult>,
}

impl BenchReport {
    /// Bundles the results.
    pub fn new(
        cfg: &BenchConfig,
        dir: &Path,
        temporary: bool,
        results: Vec<WorkloadResult>,
    ) -> Self {
        BenchReport {
            config: ReportConfig {
                num: cfg.num,
                reads: cfg.reads,
                writes: cfg.writes,
                sync_num: cfg.sync_num,
                key_size: cfg.key_size,
                value_size: cfg.value_size,
                compression_ratio: cfg.compression_ratio,
                threads: cfg.threads,
                seed: cfg.seed,
                db: dir.display().to_string(),
                temporary,
                options: format!("{:?}", cfg.options),
            },
            results,
        }
    }

    /// Prints the header and the results table: what [`print_header`] and
    /// [`print_row`] print while the benchmark runs.
    ///
    /// # Errors
    /// Errors of `out`.
    pub fn print_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        print_header(&self.config, out)?;
        for r in &self.results {
            print_row(r, out)?;
        }
        Ok(())
    }
}

/// The columns of the results table: header, width, alignment. Widths are fixed so
/// that each row can be printed as its workload finishes; a wider cell pushes the
/// rest of its row right.
const COLUMNS: [(&str, usize, Align); 12] = [
    ("workload", 16, Align::Left),
    ("ops", 9, Align::Right),
    ("secs", 7, Align::Right),
    ("ops/s", 9, Align::Right),
    ("MB/s", 6, Align::Right),
    ("p50 µs", 8, Align::Right),
    ("p99 µs", 8, Align::Right),
    ("p99.9 µs", 9, Align::Right),
    ("write amp", 9, Align::Right),
    ("disk", 10, Align::Right),
    ("logical", 10, Align::Right),
    ("notes", 0, Align::Left),
];

fn line(cells: &[String], out: &mut dyn Write) -> std::io::Result<()> {
    let mut text = String::new();
    for (i, (cell, (_, width, align))) in cells.iter().zip(COLUMNS).enumerate() {
        if i > 0 {
            text.push_str("  ");
        }
        let pad = width.saturating_sub(cell.chars().count());
        match align {
            Align::Left => {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            }
            Align::Right => {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            }
        }
    }
    writeln!(out, "{}", text.trim_end())?;
    // Rows arrive seconds apart: show each one now, not when a buffer fills.
    out.flush()
}

/// Prints what ran and the table's header line.
///
/// # Errors
/// Errors of `out`.
pub fn print_header(c: &ReportConfig, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "lsm-bench: {} keys, {} reads, {} writes, keys {} B, values {} B (compressible to {:.0} %), {} reader thread(s), seed {}",
        c.num,
        c.reads,
        c.writes,
        c.key_size,
        c.value_size,
        c.compression_ratio * 100.0,
        c.threads,
        c.seed
    )?;
    let place = if c.temporary {
        "temporary, removed"
    } else {
        "kept for inspection"
    };
    writeln!(
        out,
        "databases: {}/<fill workload> ({place})",
        c.db.trim_end_matches('/')
    )?;
    let header: Vec<String> = COLUMNS.iter().map(|(h, _, _)| h.to_string()).collect();
    line(&header, out)
}

/// Prints one row of the results table.
///
/// # Errors
/// Errors of `out`.
pub fn print_row(r: &WorkloadResult, out: &mut dyn Write) -> std::io::Result<()> {
    let notes = match (r.found, r.background_writes) {
        (Some(f), Some(w)) => format!("{f} of {} found; {w} writes meanwhile", r.ops),
        (Some(f), None) => format!("{f} of {} found", r.ops),
        _ => String::new(),
    };
    line(
        &[
            r.workload.name().to_string(),
            r.ops.to_string(),
            format!("{:.2}", r.seconds),
            format!("{:.0}", r.ops_per_sec),
            format!("{:.1}", r.mb_per_sec),
            format!("{:.1}", r.latency_us.p50),
            format!("{:.1}", r.latency_us.p99),
            format!("{:.1}", r.latency_us.p999),
            r.write_amplification
                .map_or("-".into(), |w| format!("{w:.2}")),
            human_bytes(r.disk_bytes),
            r.logical_bytes.map_or("-".into(), human_bytes),
            notes,
        ],
        out,
    )?;
    for d in &r.details {
        let value = match d.unit {
            "bytes" => format!("{} ({})", d.value as u64, human_bytes(d.value as u64)),
            "x" => format!("{:.2} x", d.value),
            "" => format!("{}", d.value as u64),
            unit => format!("{:.1} {unit}", d.value),
        };
        writeln!(out, "    {}: {value}", d.name)?;
    }
    if let Some(bytes) = r.peak_rss_bytes {
        writeln!(
            out,
            "    peak RSS of the process: {:.1} MB",
            bytes as f64 / 1e6
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod stall_tests {
    use super::*;

    #[test]
    fn stalls_of_a_workload_are_the_difference_by_cause() {
        let mut before = Stats::default();
        before.write_stalls = 2;
        before.write_stalls_memtables = 2;
        before.write_stall_micros = 500;
        assert!(stall_details(&before, &before).is_empty());
        let mut after = before.clone();
        after.write_stalls = 5;
        after.write_stalls_level0_stop = 1;
        after.write_stalls_memtables = 4;
        after.write_stall_micros = 3_500;
        let got: Vec<(String, f64)> = stall_details(&before, &after)
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect();
        after.compactions = 3;
        after.subcompactions = 4;
        after.compaction_micros = 2_500_000;
        let compactions: Vec<(String, f64)> = compaction_details(&before, &after)
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect();
        assert_eq!(
            compactions,
            [
                ("compactions".to_string(), 3.0),
                ("key ranges of split compactions".to_string(), 4.0),
                ("compaction time".to_string(), 2.5),
            ]
        );
        assert!(compaction_details(&before, &before).is_empty());
        assert_eq!(
            got,
            [
                ("writer stalls at the level-0 stop".to_string(), 1.0),
                ("writer stalls waiting for a flush".to_string(), 2.0),
                ("time writers spent stalled".to_string(), 3.0),
            ]
        );
    }
}
