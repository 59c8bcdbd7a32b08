//! The workloads, each a loop of timed operations against an open `Db`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use indicatif::ProgressBar;
use lsm_core::Db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::data::{key, ValueGen};
use super::histogram::Histogram;
use super::BenchConfig;
use crate::error::Result;

/// A db_bench workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Write `num` keys in key order into a fresh database.
    Fillseq,
    /// Write `num` random keys into a fresh database.
    Fillrandom,
    /// Write `writes` random keys over the existing ones.
    Overwrite,
    /// Read `reads` random keys (present if a fill ran), on `threads` threads.
    Readrandom,
    /// Read `reads` keys that were never written, on `threads` threads.
    Readmissing,
    /// Scan forward over up to `reads` entries.
    Readseq,
    /// Scan backward over up to `reads` entries.
    Readreverse,
    /// `reads` times: seek to a random key and read the next 10, on `threads` threads.
    Seekrandom,
    /// Delete `writes` random keys.
    Deleterandom,
    /// `threads` threads read random keys while one thread writes random keys.
    Readwhilewriting,
    /// Write `sync_num` random keys into a fresh database, syncing every write.
    Fillsync,
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Fillseq => "fillseq",
            Workload::Fillrandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::Readrandom => "readrandom",
            Workload::Readmissing => "readmissing",
            Workload::Readseq => "readseq",
            Workload::Readreverse => "readreverse",
            Workload::Seekrandom => "seekrandom",
            Workload::Deleterandom => "deleterandom",
            Workload::Readwhilewriting => "readwhilewriting",
            Workload::Fillsync => "fillsync",
        }
    }

    /// True for workloads that start from an empty database.
    pub fn fresh(self) -> bool {
        matches!(
            self,
            Workload::Fillseq | Workload::Fillrandom | Workload::Fillsync
        )
    }

    /// True for workloads that write.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::Fillseq
                | Workload::Fillrandom
                | Workload::Overwrite
                | Workload::Deleterandom
                | Workload::Readwhilewriting
                | Workload::Fillsync
        )
    }
}

/// Which key indexes are live, shared between threads: the logical size of the data.
#[derive(Debug)]
pub struct LiveSet {
    bits: Vec<AtomicU64>,
    count: AtomicU64,
}

impl LiveSet {
    /// An empty set for indexes below `n`.
    pub fn new(n: u64) -> Self {
        LiveSet {
            bits: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }

    /// Marks `i` live or dead.
    pub fn set(&self, i: u64, live: bool) {
        let Some(word) = self.bits.get((i / 64) as usize) else {
            return;
        };
        let bit = 1u64 << (i % 64);
        let old = if live {
            word.fetch_or(bit, Ordering::Relaxed)
        } else {
            word.fetch_and(!bit, Ordering::Relaxed)
        };
        match (old & bit != 0, live) {
            (false, true) => {
                self.count.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Number of live indexes.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for w in &self.bits {
            w.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
    }
}

/// What one run of a workload measured (before the engine figures are added).
#[derive(Debug, Default)]
pub struct Measured {
    /// Operations timed.
    pub ops: u64,
    /// Key and value bytes written or read.
    pub bytes: u64,
    /// Reads that found their key.
    pub found: Option<u64>,
    /// Latency of each operation.
    pub hist: Histogram,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Writes done by the background writer of `readwhilewriting`.
    pub background_writes: Option<u64>,
}

/// Progress is reported in chunks to keep the shared counter cold.
const PROGRESS_CHUNK: u64 = 256;

/// Runs one workload. The database must be fresh for fill workloads (the caller
/// arranges it).
///
/// # Errors
/// Engine errors.
pub fn run(
    w: Workload,
    db: &Db,
    cfg: &BenchConfig,
    live: &LiveSet,
    bar: &ProgressBar,
    salt: u64,
) -> Result<Measured> {
    let start = Instant::now();
    let seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(salt);
    let mut m = match w {
        Workload::Fillseq => write(db, cfg, live, bar, seed, cfg.num, Pattern::Sequential)?,
        Workload::Fillrandom => write(db, cfg, live, bar, seed, cfg.num, Pattern::Random)?,
        Workload::Overwrite => write(db, cfg, live, bar, seed, cfg.writes, Pattern::Random)?,
        Workload::Fillsync => write(db, cfg, live, bar, seed, cfg.sync_num, Pattern::Random)?,
        Workload::Deleterandom => write(db, cfg, live, bar, seed, cfg.writes, Pattern::Delete)?,
        Workload::Readrandom => parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Present)?,
        Workload::Readmissing => parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Missing)?,
        Workload::Seekrandom => parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Seek)?,
        Workload::Readseq => scan(db, cfg, bar, false)?,
        Workload::Readreverse => scan(db, cfg, bar, true)?,
        Workload::Readwhilewriting => read_while_writing(db, cfg, live, bar, seed)?,
    };
    m.seconds = start.elapsed().as_secs_f64();
    Ok(m)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    Sequential,
    Random,
    Delete,
}

fn write(
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    Present,
    Missing,
    Seek,
}

/// Random point reads or seeks split over `cfg.threads` threads.
fn parallel_reads(
    db: &Db,
    cfg: &BenchConfig,
    bar: &ProgressBar,
    seed: u64,
    total: u64,
    lookup: Lookup,
) -> Result<Measured> {
    let threads = cfg.threads.max(1) as u64;
    let results: Vec<Result<Measured>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = total / threads + u64::from(t < total % threads);
                s.spawn(move || reads(db, cfg, bar, seed.wrapping_add(t), share, lookup))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(crate::Error::Usage("reader thread panicked".into())))
            })
            .collect()
    });
    let mut m = Measured {
        found: Some(0),
        ..Measured::default()
    };
    for r in results {
        let r = r?;
        m.ops += r.ops;
        m.bytes += r.bytes;
        m.found = Some(m.found.unwrap_or(0) + r.found.unwrap_or(0));
        m.hist.merge(&r.hist);
    }
    Ok(m)
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
            Lookup::Seek => {
                let mut got = 0;
                for pair in db.scan(k.as_slice()..).take(10) {
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
fn scan(db: &Db, cfg: &BenchConfig, bar: &ProgressBar, reverse: bool) -> Result<Measured> {
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
fn read_while_writing(
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
