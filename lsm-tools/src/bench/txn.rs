//! The `txn_readmodifywrite` workload: optimistic transactions that contend for a
//! small set of counters, so that some of them conflict and are retried.

use std::time::Instant;

use indicatif::ProgressBar;
use lsm_core::{Db, Error as DbError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::data::key;
use super::ranges::detail;
use super::workload::Measured;
use super::BenchConfig;
use crate::error::{Error, Result};

/// The counters the transactions contend for: few enough that concurrent
/// transactions often read the same one.
pub const TXN_KEYS: u64 = 16;
/// Threads running transactions.
pub const TXN_THREADS: u64 = 4;

/// What one thread did.
#[derive(Default)]
struct Tally {
    m: Measured,
    /// Runs of the closure: commit attempts.
    attempts: u64,
    /// Transactions that still conflicted after every retry.
    gave_up: u64,
}

fn counter(v: Option<lsm_core::Bytes>) -> u64 {
    v.and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
        .map_or(0, u64::from_le_bytes)
}

/// `txn_readmodifywrite`: [`TXN_KEYS`] counters set to 0 (not timed); then
/// [`TXN_THREADS`] threads run `writes` transactions in all, each a
/// `Db::transaction` that reads a random counter and writes it back incremented
/// (one timed operation: the whole `Db::transaction` call, retries included).
/// Reports the conflict rate (conflicts per commit attempt) and checks that the
/// counters add up to the transactions that committed (the workload fails
/// otherwise).
///
/// # Errors
/// Engine errors other than conflicts; `Usage` when the counters do not add up.
pub(super) fn txn_readmodifywrite(
    db: &Db,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
) -> Result<Measured> {
    let mut k = Vec::with_capacity(cfg.key_size);
    for i in 0..TXN_KEYS {
        key(i, cfg.key_size, &mut k);
        db.put(&k, 0u64.to_le_bytes())?;
    }
    let total = cfg.writes;
    let results: Vec<Result<Tally>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..TXN_THREADS)
            .map(|t| {
                let share = total / TXN_THREADS + u64::from(t < total % TXN_THREADS);
                s.spawn(move || worker(db, cfg, bar, seed.wrapping_add(t), share))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Usage("transaction thread panicked".into())))
            })
            .collect()
    });
    let mut m = Measured::default();
    let (mut attempts, mut gave_up) = (0, 0);
    for r in results {
        let r = r?;
        m.ops += r.m.ops;
        m.bytes += r.m.bytes;
        m.hist.merge(&r.m.hist);
        attempts += r.attempts;
        gave_up += r.gave_up;
    }
    let committed = m.ops - gave_up;
    let mut sum = 0u64;
    for i in 0..TXN_KEYS {
        key(i, cfg.key_size, &mut k);
        sum += counter(db.get(&k)?);
    }
    if sum != committed {
        return Err(Error::Usage(format!(
            "txn_readmodifywrite: the counters add up to {sum}, but {committed} transactions committed"
        )));
    }
    let conflicts = attempts - committed;
    detail(&mut m, "commit attempts", attempts as f64, "");
    detail(&mut m, "conflicts", conflicts as f64, "");
    detail(
        &mut m,
        "conflict rate (conflicts per attempt)",
        if attempts == 0 {
            0.0
        } else {
            100.0 * conflicts as f64 / attempts as f64
        },
        "%",
    );
    detail(
        &mut m,
        "transactions that gave up after 16 attempts",
        gave_up as f64,
        "",
    );
    m.live_keys = Some(TXN_KEYS);
    Ok(m)
}

fn worker(db: &Db, cfg: &BenchConfig, bar: &ProgressBar, seed: u64, ops: u64) -> Result<Tally> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let mut k = Vec::with_capacity(cfg.key_size);
    for _ in 0..ops {
        key(rng.gen_range(0..TXN_KEYS), cfg.key_size, &mut k);
        let t = Instant::now();
        let attempts = &mut tally.attempts;
        let r = db.transaction(|txn| {
            *attempts += 1;
            let n = counter(txn.get(&k)?);
            txn.put(&k, (n + 1).to_le_bytes())
        });
        tally.m.hist.record(t.elapsed().as_nanos() as u64);
        match r {
            Ok(()) => {}
            Err(DbError::Conflict { .. }) => tally.gave_up += 1,
            Err(e) => return Err(e.into()),
        }
        tally.m.ops += 1;
        tally.m.bytes += (k.len() + 8) as u64;
        bar.inc(1);
    }
    Ok(tally)
}
