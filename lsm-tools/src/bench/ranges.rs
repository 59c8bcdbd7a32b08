//! The workloads of range deletes: `deleteprefix` (one `delete_prefix` over a filled
//! prefix, and what scans over the deleted range cost before and after
//! `compact_range`) and `queue` (a FIFO queue whose head is dropped by
//! `delete_range`, to show the disk size stays bounded). Each reports its own
//! figures as [`Detail`]s beside the usual row (whose operations are its puts).

use std::ops::Bound;
use std::path::Path;
use std::time::Instant;

use indicatif::ProgressBar;
use lsm_core::Db;
use serde::Serialize;

use super::data::{key, ValueGen};
use super::workload::Measured;
use super::BenchConfig;
use crate::error::{Error, Result};

/// One figure of a workload beyond the table's columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    /// What was measured.
    pub name: String,
    /// The figure.
    pub value: f64,
    /// Its unit (`µs`, `bytes`, `x`, ...).
    pub unit: &'static str,
}

pub(super) fn detail(m: &mut Measured, name: &str, value: f64, unit: &'static str) {
    m.details.push(Detail {
        name: name.to_string(),
        value,
        unit,
    });
}

/// `prefix` followed by the key of `i` (one byte shorter than the key size, so the
/// whole key keeps the configured size).
fn prefixed(prefix: u8, i: u64, cfg: &BenchConfig, buf: &mut Vec<u8>) {
    key(i, cfg.key_size.saturating_sub(1), buf);
    buf.insert(0, prefix);
}

/// Times one put into the workload's histogram.
fn timed_put(db: &Db, m: &mut Measured, k: &[u8], v: &[u8]) -> Result<()> {
    let t = Instant::now();
    db.put(k, v)?;
    m.hist.record(t.elapsed().as_nanos() as u64);
    m.ops += 1;
    m.bytes += (k.len() + v.len()) as u64;
    Ok(())
}

/// Microseconds to the first result of a scan over `(lo, hi)`, and that result's key.
fn first_result(db: &Db, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<(f64, Option<Vec<u8>>)> {
    let t = Instant::now();
    let first = db.scan::<&[u8], _>((lo, hi)).next().transpose()?;
    let us = t.elapsed().as_nanos() as f64 / 1000.0;
    Ok((us, first.map(|(k, _)| k.to_vec())))
}

/// Bytes of the live segments (`Db::stats`) plus the WALs in `dir`. A WAL counts
/// with the bytes written into it ([`written_len`]), not its file size: the engine
/// preallocates WAL files with zeros.
pub(super) fn live_bytes(db: &Db, dir: &Path) -> u64 {
    let wals: u64 = crate::state::list_dir(dir).map_or(0, |files| {
        files
            .iter()
            .filter(|f| matches!(f.kind, crate::files::FileName::Wal(_)))
            .map(|f| written_len(&dir.join(&f.name), f.size).unwrap_or(f.size))
            .sum()
    });
    db.stats().total_segment_bytes() + wals
}

/// The length of the written prefix of a preallocated file of `len` bytes: up to
/// its last non-zero byte, found by bisection over 4 KiB pages (the writer appends,
/// so the zeros past the written part are whole pages; a page of zeros inside the
/// written part, which the benchmark's values never make, would cut it short).
fn written_len(path: &Path, len: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    const PAGE: u64 = 4096;
    let file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; PAGE as usize];
    let page = |i: u64, buf: &mut Vec<u8>| -> std::io::Result<Option<usize>> {
        let n = (len - i * PAGE).min(PAGE) as usize;
        buf.truncate(n);
        file.read_exact_at(buf, i * PAGE)?;
        Ok(buf.iter().rposition(|&b| b != 0))
    };
    // Pages below `lo` hold data; pages from `hi` on are zeros.
    let (mut lo, mut hi) = (0, len.div_ceil(PAGE));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        buf.resize(PAGE as usize, 0);
        match page(mid, &mut buf)? {
            Some(_) => lo = mid + 1,
            None => hi = mid,
        }
    }
    if lo == 0 {
        return Ok(0);
    }
    buf.resize(PAGE as usize, 0);
    let last = page(lo - 1, &mut buf)?.map_or(0, |i| i as u64 + 1);
    Ok((lo - 1) * PAGE + last)
}

/// `deleteprefix`: `num` keys under the prefix `d` and `num / 10` on each side of
/// it (prefixes `a` and `z`), flushed; then `delete_prefix("d")` in one write; then,
/// before and after `compact_range("d", "e")`, the time to the first result of a
/// scan over the deleted range (which must be empty) and of a scan starting in it
/// (whose first key must be the first `z` key), and the bytes on disk.
///
/// # Errors
/// Engine errors; `Usage` when a scan returns a deleted key (a wrong result is
/// not a figure).
pub(super) fn deleteprefix(
    db: &Db,
    dir: &Path,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
) -> Result<Measured> {
    let mut m = Measured::default();
    let mut values = ValueGen::new(seed, cfg.compression_ratio, cfg.value_size);
    let mut k = Vec::with_capacity(cfg.key_size);
    let outside = (cfg.num / 10).max(1);
    for i in 0..outside {
        prefixed(b'a', i, cfg, &mut k);
        timed_put(db, &mut m, &k, values.next(cfg.value_size))?;
    }
    for i in 0..cfg.num {
        prefixed(b'd', i, cfg, &mut k);
        timed_put(db, &mut m, &k, values.next(cfg.value_size))?;
        bar.inc(1);
    }
    for i in 0..outside {
        prefixed(b'z', i, cfg, &mut k);
        timed_put(db, &mut m, &k, values.next(cfg.value_size))?;
    }
    db.flush()?;
    let mut first_z = Vec::new();
    prefixed(b'z', 0, cfg, &mut first_z);
    let mut middle = Vec::new();
    prefixed(b'd', cfg.num / 2, cfg, &mut middle);
    detail(
        &mut m,
        "disk bytes after the fill",
        live_bytes(db, dir) as f64,
        "bytes",
    );
    let t = Instant::now();
    db.delete_prefix(b"d")?;
    detail(
        &mut m,
        "delete_prefix latency",
        t.elapsed().as_nanos() as f64 / 1000.0,
        "µs",
    );
    for phase in ["before", "after"] {
        if phase == "after" {
            let t = Instant::now();
            db.compact_range(b"d", b"e")?;
            detail(
                &mut m,
                "compact_range duration",
                t.elapsed().as_secs_f64() * 1e6,
                "µs",
            );
        }
        let (us, found) = first_result(db, Bound::Included(b"d"), Bound::Excluded(b"e"))?;
        if let Some(k) = found {
            return Err(Error::Usage(format!(
                "deleteprefix: a scan of the deleted range returned {}",
                String::from_utf8_lossy(&k)
            )));
        }
        detail(
            &mut m,
            &format!("empty scan of the deleted range, {phase} compact_range"),
            us,
            "µs",
        );
        let (us, found) = first_result(db, Bound::Included(&middle), Bound::Unbounded)?;
        if found.as_deref() != Some(&first_z[..]) {
            return Err(Error::Usage(format!(
                "deleteprefix: a scan from inside the deleted range started at {:?}",
                found.map(|k| String::from_utf8_lossy(&k).into_owned())
            )));
        }
        detail(
            &mut m,
            &format!("first key of a scan from inside it, {phase} compact_range"),
            us,
            "µs",
        );
        detail(
            &mut m,
            &format!("disk bytes {phase} compact_range"),
            live_bytes(db, dir) as f64,
            "bytes",
        );
    }
    Ok(m)
}

/// How many size samples `queue` takes over its run.
const QUEUE_SAMPLES: u64 = 100;

/// `queue`: a FIFO queue of `window = max(num / 10, 1)` live entries. Entries are
/// put at the tail (increasing keys under the prefix `q`); every `window / 10` puts,
/// one `delete_range` drops the head so that `window` entries stay live; in all
/// `10 * window` entries are put, ten times the live data. The bytes of the live
/// segments plus the WAL are sampled every `1 / QUEUE_SAMPLES` of the run and
/// reported against the live data (`window * (key + value size)`): they must stay
/// bounded by a constant factor, not grow with the bytes written.
///
/// # Errors
/// Engine errors.
pub(super) fn queue(
    db: &Db,
    dir: &Path,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
) -> Result<Measured> {
    let mut m = Measured::default();
    let mut values = ValueGen::new(seed, cfg.compression_ratio, cfg.value_size);
    let window = (cfg.num / 10).max(1);
    let total = window * 10;
    let step = (window / 10).max(1);
    let sample_every = (total / QUEUE_SAMPLES).max(1);
    let live_data = window * (cfg.key_size + cfg.value_size) as u64;
    let (mut k, mut head_key, mut new_head_key) = (Vec::new(), Vec::new(), Vec::new());
    let mut head = 0u64;
    let mut range_deletes = hist_new();
    let (mut max_bytes, mut samples) = (0u64, 0u64);
    for i in 0..total {
        prefixed(b'q', i, cfg, &mut k);
        timed_put(db, &mut m, &k, values.next(cfg.value_size))?;
        let tail = i + 1;
        if tail - head >= window + step {
            let new_head = tail - window;
            prefixed(b'q', head, cfg, &mut head_key);
            prefixed(b'q', new_head, cfg, &mut new_head_key);
            let t = Instant::now();
            db.delete_range(&head_key, &new_head_key)?;
            range_deletes.record(t.elapsed().as_nanos() as u64);
            head = new_head;
        }
        if tail % sample_every == 0 {
            max_bytes = max_bytes.max(live_bytes(db, dir));
            samples += 1;
        }
        bar.inc(1);
    }
    let final_bytes = live_bytes(db, dir);
    max_bytes = max_bytes.max(final_bytes);
    let ratio = |b: u64| b as f64 / live_data.max(1) as f64;
    detail(
        &mut m,
        "live data (window of entries)",
        live_data as f64,
        "bytes",
    );
    detail(
        &mut m,
        "written in total",
        (total * (cfg.key_size + cfg.value_size) as u64) as f64,
        "bytes",
    );
    detail(&mut m, "range deletes", range_deletes.count() as f64, "");
    detail(
        &mut m,
        "delete_range latency p50",
        range_deletes.quantile(0.5) as f64 / 1000.0,
        "µs",
    );
    detail(&mut m, "size samples", samples as f64, "");
    detail(&mut m, "max segments + WAL", max_bytes as f64, "bytes");
    detail(&mut m, "final segments + WAL", final_bytes as f64, "bytes");
    detail(&mut m, "max / live data", ratio(max_bytes), "x");
    detail(&mut m, "final / live data", ratio(final_bytes), "x");
    Ok(m)
}

fn hist_new() -> super::Histogram {
    super::Histogram::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_len_finds_the_end_of_the_data_before_the_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        for (data, zeros) in [
            (0, 0),
            (0, 9000),
            (1, 0),
            (5000, 20000),
            (8192, 4096),
            (4097, 1),
        ] {
            let mut bytes = vec![7u8; data];
            bytes.resize(data + zeros, 0);
            std::fs::write(&path, &bytes).unwrap();
            let len = bytes.len() as u64;
            assert_eq!(
                written_len(&path, len).unwrap(),
                data as u64,
                "{data} + {zeros}"
            );
        }
    }
}
