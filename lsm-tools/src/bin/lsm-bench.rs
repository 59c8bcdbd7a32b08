//! `lsm-bench`: a db_bench-style benchmark of the engine.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use lsm_core::{Compression, Options};
use lsm_tools::bench::{run_bench, BenchConfig, Workload, DEFAULT_WORKLOADS};

/// Benchmark the engine, db_bench style: run workloads in order, and print for each
/// the operations per second, MB/s, latency percentiles, write amplification and
/// on-disk against logical size. Uses a temporary directory unless --db is given.
#[derive(Debug, Parser)]
#[command(name = "lsm-bench", version)]
struct Args {
    /// Workloads to run, in order, comma-separated.
    #[arg(long, alias = "workloads", value_enum, value_delimiter = ',', default_values_t = DEFAULT_WORKLOADS.to_vec())]
    benchmarks: Vec<Workload>,
    /// Number of keys: fillseq and fillrandom write each once.
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Operations of each read workload (default: --num / 10).
    #[arg(long)]
    reads: Option<u64>,
    /// Operations of overwrite and deleterandom (default: --num / 10).
    #[arg(long)]
    writes: Option<u64>,
    /// Writes of fillsync (each one synced).
    #[arg(long, default_value_t = 1000)]
    sync_num: u64,
    /// Key size in bytes (keys are zero-padded decimal indexes).
    #[arg(long, default_value_t = 16)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Fraction of its size a value compresses to.
    #[arg(long, default_value_t = 0.5)]
    compression_ratio: f64,
    /// Reader threads of read workloads (readwhilewriting adds one writer); writer
    /// threads of fillsync.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Database directory (fill workloads erase the database files in it); a
    /// temporary directory, removed at the end, by default.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Engine: memtable size in bytes (default 64 MiB).
    #[arg(long)]
    memtable_size: Option<usize>,
    /// Engine: target segment size in bytes (default 64 MiB).
    #[arg(long)]
    segment_size: Option<usize>,
    /// Engine: data block size in bytes (default 4096).
    #[arg(long)]
    block_size: Option<usize>,
    /// Engine: Bloom filter bits per key below level 0 (default 14).
    #[arg(long)]
    bloom_bits_per_key: Option<u8>,
    /// Engine: Bloom filter bits per key of level-0 segments (default 24).
    #[arg(long)]
    level0_bloom_bits_per_key: Option<u8>,
    /// Engine: block cache size in bytes (default 128 MiB).
    #[arg(long)]
    block_cache_size: Option<usize>,
    /// Engine: segment bytes whose data blocks are read through the memory mapping;
    /// beyond it, with one `pread` per block-cache miss (default 0).
    #[arg(long)]
    mmap_read_budget: Option<u64>,
    /// Engine: compression of data blocks (default lz4).
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// Engine: sync the WAL on every write, in every workload.
    #[arg(long)]
    sync: bool,
    /// Engine: level-0 segments that trigger a compaction (default 4).
    #[arg(long)]
    level0_compaction_trigger: Option<usize>,
    /// Print the results as one JSON document.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompressionArg {
    None,
    Lz4,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let mut options = Options::default();
    let set = |target: &mut usize, v: Option<usize>| {
        if let Some(v) = v {
            *target = v;
        }
    };
    set(&mut options.memtable_size, a.memtable_size);
    set(&mut options.segment_size, a.segment_size);
    set(&mut options.block_size, a.block_size);
    set(&mut options.block_cache_size, a.block_cache_size);
    set(
        &mut options.level0_compaction_trigger,
        a.level0_compaction_trigger,
    );
    if let Some(b) = a.bloom_bits_per_key {
        options.bloom_bits_per_key = b;
    }
    if let Some(b) = a.level0_bloom_bits_per_key {
        options.level0_bloom_bits_per_key = b;
    }
    if let Some(b) = a.mmap_read_budget {
        options.mmap_read_budget = b;
    }
    if let Some(c) = a.compression {
        options.compression = match c {
            CompressionArg::None => Compression::None,
            CompressionArg::Lz4 => Compression::Lz4,
        };
    }
    options.sync_writes = a.sync;
    let cfg = BenchConfig {
        workloads: a.benchmarks.clone(),
        num: a.num,
        reads: a.reads.unwrap_or((a.num / 10).max(1)),
        writes: a.writes.unwrap_or((a.num / 10).max(1)),
        sync_num: a.sync_num,
        key_size: a.key_size,
        value_size: a.value_size,
        compression_ratio: a.compression_ratio,
        threads: a.threads,
        seed: a.seed,
        db: a.db.clone(),
        options,
        progress: !a.quiet && std::io::stderr().is_terminal(),
    };
    let report = match run_bench(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lsm-bench: {e}");
            return ExitCode::from(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let printed = if a.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        report.print_text(&mut out)
    };
    match printed.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsm-bench: {e}");
            ExitCode::from(1)
        }
    }
}
