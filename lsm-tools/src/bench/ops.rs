//! The operation loops of the workloads: writes, point reads and seeks split over
//! threads, scans, and reads under a concurrent writer. Every operation is timed into
//! the workload's histogram.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::ProgressBar;
use lsm_core::Db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::data::{key, ValueGen};
use super::live::LiveSet;
use super::workload::Measured;
use super::BenchConfig;
use crate::error::Result;

/// Progress is reported in chunks to keep the shared counter cold.
const PROGRESS_CHUNK: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pattern {
    Sequential,
    Random,
    Delete,
}

pub(super) fn write(
    db: &Db,
    cfg: &BenchConfig,
    live: &LiveSet,
    bar: &ProgressBar,
    seed: u64,
    ops: u64,
    pattern: Pattern,
) -> Result<Measured> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = ValueGen::new(seed, cfg.compression_ratio, cfg.value_size);
    let mut m = Measured::default();
    let mut k = Vec::with_capacity(cfg.key_size);
    for n in 0..ops {
        let i = match pattern {
            Pattern::Sequential => n,
            Pattern::Random | Pattern::Delete => rng.gen_range(0..cfg.num),
        };
        key(i, cfg.key_size, &mut k);
        let t = Instant::now();
        if pattern == Pattern::Delete {
            db.delete(&k)?;
        } else {
            db.put(&k, values.next(cfg.value_size))?;
        }
        m.hist.record(t.elapsed().as_nanos() as u64);
        live.set(i, pattern != Pattern::Delete);
        m.bytes += (k.len()
            + if pattern == Pattern::Delete {
                0
            } else {
                cfg.value_size
            }) as u64;
        m.ops += 1;
        if n % PROGRESS_CHUNK == PROGRESS_CHUNK - 1 {
            bar.inc(PROGRESS_CHUNK);
        }
    }
    Ok(m)
}

/// Runs `job(seed + t, share)` on `cfg.threads` threads, the `total` operations
/// split as evenly as possible, and merges what they measured (`found` is summed
/// when any thread counts it).
fn split_over_threads(
    cfg: &BenchConfig,
    seed: u64,
    total: u64,
    what: &str,
    job: impl Fn(u64, u64) -> Result<Measured> + Sync,
) -> Result<Measured> {
    let threads = cfg.threads.max(1) as u64;
    let job = &job;
    let results: Vec<Result<Measured>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = total / threads + u64::from(t < total % threads);
                s.spawn(move || job(seed.wrapping_add(t), share))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(crate::Error::Usage(format!("{what} thread panicked"))))
            })
            .collect()
    });
    let mut m = Measured::default();
    for r in results {
        let r = r?;
        m.ops += r.ops;
        m.bytes += r.bytes;
        if let Some(found) = r.found {
            m.found = Some(m.found.unwrap_or(0) + found);
        }
        m.hist.merge(&r.hist);
    }
    Ok(m)
}

/// Random writes split over `cfg.threads` writer threads (fillsync: the measure of
/// group commit, where concurrent synced writers share one fsync).
pub(super) fn parallel_writes(
    db: &Db,
    cfg: &BenchConfig,
    live: &LiveSet,
    bar: &ProgressBar,
    seed: u64,
    total: u64,
) -> Result<Measured> {
    split_over_threads(cfg, seed, total, "writer", |seed, share| {
        write(db, cfg, live, bar, seed, share, Pattern::Random)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    Present,
    Missing,
    /// A new scan per seek.
    Seek,
    /// One scan per thread, repositioned by `Scan::seek` for each seek.
    SeekReuse,
}

/// Random point reads or seeks split over `cfg.threads` threads.
pub(super) fn parallel_reads(
    db: &Db,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
    total: u64,
    lookup: Lookup,
) -> Result<Measured> {
    split_over_threads(cfg, seed, total, "reader", |seed, share| {
        reads(db, cfg, bar, seed, share, lookup)
    })
}

fn reads(
    db: &Db,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
    ops: u64,
    lookup: Lookup,
) -> Result<Measured> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Measured::default();
    let mut found = 0;
    let mut k = Vec::with_capacity(cfg.key_size);
    // Made before the clock starts: what `SeekReuse` measures is the seeks.
    let mut reused = (lookup == Lookup::SeekReuse).then(|| db.iter());
    for n in 0..ops {
        // Missing keys are indexes past the written range: same length, never written.
        let i = match lookup {
            Lookup::Missing => cfg.num + rng.gen_range(0..cfg.num),
            _ => rng.gen_range(0..cfg.num),
        };
        key(i, cfg.key_size, &mut k);
        let t = Instant::now();
        match lookup {
            Lookup::Present | Lookup::Missing => {
                if let Some(v) = db.get(&k)? {
                    found += 1;
                    m.bytes += (k.len() + v.len()) as u64;
                }
            }
            Lookup::Seek | Lookup::SeekReuse => {
                let mut fresh;
                let scan = match reused.as_mut() {
                    Some(scan) => {
                        scan.seek(&k);
                        scan
                    }
                    None => {
                        fresh = db.scan(k.as_slice()..);
                        &mut fresh
                    }
                };
                let mut got = 0;
                for pair in scan.take(10) {
                    let (pk, pv) = pair?;
                    m.bytes += (pk.len() + pv.len()) as u64;
                    got += 1;
                }
                if got > 0 {
                    found += 1;
                }
            }
        }
        m.hist.record(t.elapsed().as_nanos() as u64);
        m.ops += 1;
        if n % PROGRESS_CHUNK == PROGRESS_CHUNK - 1 {
            bar.inc(PROGRESS_CHUNK);
        }
    }
    m.found = Some(found);
    Ok(m)
}

/// A full scan, forward or backward, over at most `cfg.reads` entries; each `next`
/// is one timed operation.
pub(super) fn scan(
    db: &Db,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    reverse: bool,
) -> Result<Measured> {
    let mut m = Measured::default();
    let all = db.scan::<&[u8], _>(..);
    let mut it: Box<dyn Iterator<Item = lsm_core::Result<_>>> = if reverse {
        Box::new(all.rev())
    } else {
        Box::new(all)
    };
    loop {
        if m.ops >= cfg.reads {
            break;
        }
        let t = Instant::now();
        let Some(pair) = it.next() else { break };
        let (k, v) = pair?;
        m.hist.record(t.elapsed().as_nanos() as u64);
        m.bytes += (k.len() + v.len()) as u64;
        m.ops += 1;
        if m.ops % PROGRESS_CHUNK == 0 {
            bar.inc(PROGRESS_CHUNK);
        }
    }
    m.found = Some(m.ops);
    Ok(m)
}

/// `cfg.threads` readers do `cfg.reads` random reads between them while one writer
/// overwrites random keys until they finish. The readers' figures are reported (as
/// db_bench does), with the writer's count beside them.
pub(super) fn read_while_writing(
    db: &Db,
    cfg: &BenchConfig,
    live: &LiveSet,
    bar: &ProgressBar,
    seed: u64,
) -> Result<Measured> {
    let done = AtomicBool::new(false);
    // The readers start once the writer is running, so they always read under writes.
    let started = std::sync::Barrier::new(2);
    let (readers, writer) = std::thread::scope(|s| {
        let writer = s.spawn(|| -> Result<u64> {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
            let mut values = ValueGen::new(seed ^ 0x5eed, cfg.compression_ratio, cfg.value_size);
            let mut k = Vec::with_capacity(cfg.key_size);
            let mut written = 0;
            loop {
                let i = rng.gen_range(0..cfg.num);
                key(i, cfg.key_size, &mut k);
                let put = db.put(&k, values.next(cfg.value_size));
                if written == 0 {
                    started.wait();
                }
                put?;
                live.set(i, true);
                written += 1;
                if done.load(Ordering::Relaxed) {
                    return Ok(written);
                }
            }
        });
        started.wait();
        let readers = parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Present);
        done.store(true, Ordering::Relaxed);
        let writer = writer
            .join()
            .unwrap_or_else(|_| Err(crate::Error::Usage("writer thread panicked".into())));
        (readers, writer)
    });
    let mut m = readers?;
    m.background_writes = Some(writer?);
    Ok(m)
}
