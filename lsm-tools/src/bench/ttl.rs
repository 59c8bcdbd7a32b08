//! The `ttl` workload: values written with a time to live, on a manual clock, then
//! the clock moved past their expiry and a full compaction that reclaims them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use lsm_core::{Db, ManualClock};

use super::data::{key, ValueGen};
use super::ranges::{detail, live_bytes};
use super::workload::Measured;
use super::BenchConfig;
use crate::error::{Error, Result};

/// The time to live of the workload's puts. The clock is manual, so only its
/// relation to the advance matters.
pub const TTL: Duration = Duration::from_secs(10);

/// `ttl`: `num` puts in key order, each with [`TTL`], on the database's manual
/// `clock`; a flush; the bytes on disk; the clock moved one second past the expiry;
/// `reads` gets of random keys and a scan of everything (all must come back empty:
/// the workload fails otherwise); a full `compact` (timed); the bytes on disk
/// again, and what was reclaimed.
///
/// # Errors
/// Engine errors; `Usage` when a read returns an expired value.
pub(super) fn ttl(
    db: &Db,
    dir: &Path,
    clock: &Arc<ManualClock>,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
) -> Result<Measured> {
    let mut m = Measured::default();
    let mut values = ValueGen::new(seed, cfg.compression_ratio, cfg.value_size);
    let mut k = Vec::with_capacity(cfg.key_size);
    for i in 0..cfg.num {
        key(i, cfg.key_size, &mut k);
        let v = values.next(cfg.value_size);
        let t = Instant::now();
        db.put_with_ttl(&k, v, TTL)?;
        m.hist.record(t.elapsed().as_nanos() as u64);
        m.ops += 1;
        m.bytes += (k.len() + v.len()) as u64;
        bar.inc(1);
    }
    db.flush()?;
    let before = live_bytes(db, dir);
    detail(&mut m, "disk bytes before expiry", before as f64, "bytes");
    clock.advance(TTL + Duration::from_secs(1));
    let step = (cfg.num / cfg.reads.max(1)).max(1);
    let mut i = seed % step;
    while i < cfg.num {
        key(i, cfg.key_size, &mut k);
        if db.get(&k)?.is_some() {
            return Err(Error::Usage(format!(
                "ttl: key {} was read after its expiry",
                String::from_utf8_lossy(&k)
            )));
        }
        i += step;
    }
    let t = Instant::now();
    let left = db.iter().count();
    detail(
        &mut m,
        "full scan after expiry",
        t.elapsed().as_nanos() as f64 / 1000.0,
        "µs",
    );
    if left > 0 {
        return Err(Error::Usage(format!(
            "ttl: a scan after expiry returned {left} keys"
        )));
    }
    let expired_before = db.stats().expired_versions;
    let t = Instant::now();
    db.compact()?;
    detail(
        &mut m,
        "compact duration",
        t.elapsed().as_secs_f64() * 1e6,
        "µs",
    );
    let after = live_bytes(db, dir);
    detail(&mut m, "disk bytes after compact", after as f64, "bytes");
    detail(
        &mut m,
        "bytes reclaimed",
        before.saturating_sub(after) as f64,
        "bytes",
    );
    detail(
        &mut m,
        "expired versions dropped by compaction",
        db.stats().expired_versions.saturating_sub(expired_before) as f64,
        "",
    );
    Ok(m)
}
