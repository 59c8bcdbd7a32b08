//! The workloads of the benchmark and how each one is run.

use std::path::Path;
use std::time::Instant;

use indicatif::ProgressBar;
use lsm_core::Db;

use super::histogram::Histogram;
use super::live::LiveSet;
use super::ops::{
    parallel_reads, parallel_writes, read_while_writing, scan, write, Lookup, Pattern,
};
use super::ranges::{self, Detail};
use super::ttl;
use super::txn;
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
    /// As `seekrandom`, but each thread makes one scan and repositions it with
    /// `Scan::seek` for every seek instead of making a new scan. Not in the default
    /// list.
    #[value(name = "seekrandom_reuse")]
    #[serde(rename = "seekrandom_reuse")]
    SeekrandomReuse,
    /// Delete `writes` random keys.
    Deleterandom,
    /// `threads` threads read random keys while one thread writes random keys.
    Readwhilewriting,
    /// Write `sync_num` random keys into a fresh database, syncing every write, on
    /// `threads` writer threads (their syncs are shared by group commit).
    Fillsync,
    /// Into a fresh database: `num` keys under one prefix and `num / 10` on each
    /// side, flushed; one `delete_prefix` (its latency); then, before and after
    /// `compact_range` of the prefix, the time to the first result of a scan over
    /// the deleted range (empty) and of one starting inside it, and the disk bytes.
    /// Not in the default list.
    Deleteprefix,
    /// Into a fresh database: a queue of `num / 10` live entries, put at the tail
    /// and dropped from the head by `delete_range`, `num` puts in all (ten times the
    /// live data); the bytes of live segments plus WAL, sampled 100 times, against
    /// the live data (max and final). Not in the default list.
    Queue,
    /// Into a fresh database on a manual clock: `num` puts with a 10 s TTL, flushed;
    /// the clock moved past their expiry; `reads` gets and a full scan (all empty);
    /// a full compaction: the bytes it reclaimed. Not in the default list.
    Ttl,
    /// Into a fresh database: 16 counters; 4 threads run `writes` transactions in
    /// all, each reading a random counter and writing it back incremented
    /// (`Db::transaction`, retried on conflict); the conflict rate. Not in the
    /// default list.
    #[value(name = "txn_readmodifywrite")]
    #[serde(rename = "txn_readmodifywrite")]
    TxnReadmodifywrite,
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
            Workload::SeekrandomReuse => "seekrandom_reuse",
            Workload::Deleterandom => "deleterandom",
            Workload::Readwhilewriting => "readwhilewriting",
            Workload::Fillsync => "fillsync",
            Workload::Deleteprefix => "deleteprefix",
            Workload::Queue => "queue",
            Workload::Ttl => "ttl",
            Workload::TxnReadmodifywrite => "txn_readmodifywrite",
        }
    }

    /// True for workloads that start from an empty database.
    pub fn fresh(self) -> bool {
        matches!(
            self,
            Workload::Fillseq
                | Workload::Fillrandom
                | Workload::Fillsync
                | Workload::Deleteprefix
                | Workload::Queue
                | Workload::Ttl
                | Workload::TxnReadmodifywrite
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
                | Workload::Deleteprefix
                | Workload::Queue
                | Workload::Ttl
                | Workload::TxnReadmodifywrite
        )
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
    /// Figures beyond the table's columns (`deleteprefix`, `queue`, `ttl`,
    /// `txn_readmodifywrite`).
    pub details: Vec<Detail>,
    /// Live keys afterwards, for workloads that do not track them in the
    /// [`LiveSet`].
    pub live_keys: Option<u64>,
}

/// Runs one workload. The database must be fresh for fill workloads (the caller
/// arranges it).
///
/// # Errors
/// Engine errors.
#[allow(
    clippy::too_many_arguments,
    reason = "the workload's inputs, passed through from one call site"
)]
pub fn run(
    w: Workload,
    db: &Db,
    dir: &Path,
    clock: Option<&std::sync::Arc<lsm_core::ManualClock>>,
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
        Workload::Fillsync => parallel_writes(db, cfg, live, bar, seed, cfg.sync_num)?,
        Workload::Deleterandom => write(db, cfg, live, bar, seed, cfg.writes, Pattern::Delete)?,
        Workload::Readrandom => parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Present)?,
        Workload::Readmissing => parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Missing)?,
        Workload::Seekrandom => parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::Seek)?,
        Workload::SeekrandomReuse => {
            parallel_reads(db, cfg, bar, seed, cfg.reads, Lookup::SeekReuse)?
        }
        Workload::Readseq => scan(db, cfg, bar, false)?,
        Workload::Readreverse => scan(db, cfg, bar, true)?,
        Workload::Readwhilewriting => read_while_writing(db, cfg, live, bar, seed)?,
        Workload::Deleteprefix => {
            let mut m = ranges::deleteprefix(db, dir, cfg, bar, seed)?;
            m.live_keys = Some(2 * (cfg.num / 10).max(1));
            m
        }
        Workload::Queue => {
            let mut m = ranges::queue(db, dir, cfg, bar, seed)?;
            m.live_keys = Some((cfg.num / 10).max(1));
            m
        }
        Workload::Ttl => {
            let clock = clock
                .ok_or_else(|| crate::error::Error::Usage("ttl runs on a manual clock".into()))?;
            let mut m = ttl::ttl(db, dir, clock, cfg, bar, seed)?;
            m.live_keys = Some(0);
            m
        }
        Workload::TxnReadmodifywrite => txn::txn_readmodifywrite(db, cfg, bar, seed)?,
    };
    m.seconds = start.elapsed().as_secs_f64();
    Ok(m)
}
