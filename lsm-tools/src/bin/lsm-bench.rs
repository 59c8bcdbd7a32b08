//! `lsm-bench`: a db_bench-style benchmark of the engine.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lsm_core::Options;
use lsm_tools::bench::report::{print_header, print_row};
use lsm_tools::bench::{run_bench_with, BenchConfig, Event, Workload, DEFAULT_WORKLOADS};
use lsm_tools::flags::CompressionArg;
use lsm_tools::units::{format_size, parse_count, parse_size, parse_size_usize};

/// Benchmark the engine, db_bench style: run workloads in order, and print for each,
/// as it finishes, the operations per second, MB/s, latency percentiles, write
/// amplification and on-disk against logical size. Each fill workload writes a new
/// database in its own directory (DIR/fillseq, DIR/fillrandom, ...), which the
/// workloads after it use. Counts and sizes take units: 1M, 64KiB, 128MiB.
#[derive(Debug, Parser)]
#[command(name = "lsm-bench", version)]
struct Args {
    /// Workloads to run, in order, comma-separated; the first must be a fill unless
    /// --use-existing is given.
    #[arg(long, alias = "workloads", value_enum, value_delimiter = ',', default_values_t = DEFAULT_WORKLOADS.to_vec())]
    benchmarks: Vec<Workload>,
    /// Number of keys: fillseq and fillrandom write each once.
    #[arg(long, default_value = "1M", value_parser = parse_count)]
    num: u64,
    /// Operations of each read workload (default: --num / 10).
    #[arg(long, value_parser = parse_count)]
    reads: Option<u64>,
    /// Operations of overwrite and deleterandom (default: --num / 10).
    #[arg(long, value_parser = parse_count)]
    writes: Option<u64>,
    /// Writes of fillsync (each one synced).
    #[arg(long, default_value = "1000", value_parser = parse_count)]
    sync_num: u64,
    /// Key size in bytes (keys are zero-padded decimal indexes).
    #[arg(long, default_value = "16", value_parser = parse_size_usize)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value = "100", value_parser = parse_size_usize)]
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
    /// Directory for the databases, one per fill workload, kept for inspection; a
    /// database left there by an earlier run is replaced (unless another process has
    /// it open, or it holds files that are not a database's). Default: a temporary
    /// directory, removed at the end.
    #[arg(long)]
    db: Option<PathBuf>,
    /// An existing database for the workloads before the first fill (e.g.
    /// DIR/fillrandom of an earlier run): opened with its lock, never created,
    /// replaced or deleted.
    #[arg(long, value_name = "DB")]
    use_existing: Option<PathBuf>,
    #[arg(long, value_parser = parse_size_usize, help = engine("memtable size in bytes", bytes(defaults().memtable_size)))]
    memtable_size: Option<usize>,
    #[arg(long, value_parser = parse_size_usize, help = engine("target segment size in bytes", bytes(defaults().segment_size)))]
    segment_size: Option<usize>,
    #[arg(long, value_parser = parse_size_usize, help = engine("data block size in bytes", bytes(defaults().block_size)))]
    block_size: Option<usize>,
    #[arg(long, help = engine("Bloom filter bits per key below level 0", defaults().bloom_bits_per_key))]
    bloom_bits_per_key: Option<u8>,
    #[arg(long, help = engine("Bloom filter bits per key of level-0 segments", defaults().level0_bloom_bits_per_key))]
    level0_bloom_bits_per_key: Option<u8>,
    #[arg(long, alias = "cache", value_parser = parse_size_usize, help = engine("block cache size in bytes", bytes(defaults().block_cache_size)))]
    block_cache_size: Option<usize>,
    #[arg(long, value_parser = parse_size, help = engine(
        "segment bytes whose data blocks are read through the memory mapping; beyond \
         it, with one `pread` per block-cache miss",
        bytes(defaults().mmap_read_budget),
    ))]
    mmap_read_budget: Option<u64>,
    #[arg(long, value_parser = parse_size, help = engine(
        "written WAL bytes, neither synced nor being written back, that start the OS's \
         writeback of them (0: off)",
        bytes(defaults().wal_bytes_per_sync),
    ))]
    wal_bytes_per_sync: Option<u64>,
    #[arg(long, value_enum, help = engine("compression of data blocks", format!("{:?}", defaults().compression).to_lowercase()))]
    compression: Option<CompressionArg>,
    /// Engine: compression of data blocks that compactions write to the bottom level
    /// (default: as --compression).
    #[arg(long, value_enum)]
    bottommost_compression: Option<CompressionArg>,
    /// Engine: keep values of at least this many bytes in blob files, out of the
    /// segments (key-value separation; default: off).
    #[arg(long, value_name = "BYTES", value_parser = parse_size_usize)]
    blob_threshold: Option<usize>,
    #[arg(long, value_name = "RATIO", help = engine(
        "the garbage share of a blob file from which compactions rewrite its live values",
        defaults().blob_gc_ratio,
    ))]
    blob_gc_ratio: Option<f64>,
    #[arg(long, value_name = "N", help = engine(
        "the most key ranges (threads) one compaction is split into",
        defaults().max_subcompactions,
    ))]
    max_subcompactions: Option<usize>,
    /// Engine: sync the WAL on every write, in every workload.
    #[arg(long)]
    sync: bool,
    #[arg(long, help = engine("level-0 segments that trigger a compaction", defaults().level0_compaction_trigger))]
    level0_compaction_trigger: Option<usize>,
    #[arg(long, value_parser = parse_size, help = engine(
        "target size of level 1 (static level sizing), or the most the level level 0 \
         compacts into aims for (dynamic)",
        bytes(defaults().level1_size),
    ))]
    level1_size: Option<u64>,
    #[arg(long, value_name = "true|false", help = engine(
        "level sizes derived from the bottom level rather than grown from level 1",
        defaults().dynamic_level_bytes,
    ))]
    dynamic_level_bytes: Option<bool>,
    /// Print the results as one JSON document, at the end.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

fn defaults() -> Options {
    Options::default()
}

/// Help text of an engine option, with the engine's own default (so it cannot drift).
fn engine(what: &str, default: impl std::fmt::Display) -> String {
    format!("Engine: {what} (default {default})")
}

/// A byte count for help text, in the syntax the flags accept.
fn bytes(n: impl TryInto<u64>) -> String {
    format_size(n.try_into().unwrap_or(u64::MAX))
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
    if let Some(b) = a.wal_bytes_per_sync {
        options.wal_bytes_per_sync = b;
    }
    if let Some(c) = a.compression {
        options.compression = c.into();
    }
    if let Some(c) = a.bottommost_compression {
        options.bottommost_compression = Some(c.into());
    }
    if a.blob_threshold.is_some() {
        options.blob_threshold = a.blob_threshold;
    }
    if let Some(r) = a.blob_gc_ratio {
        options.blob_gc_ratio = r;
    }
    set(&mut options.max_subcompactions, a.max_subcompactions);
    if let Some(b) = a.level1_size {
        options.level1_size = b;
    }
    if let Some(d) = a.dynamic_level_bytes {
        options.dynamic_level_bytes = d;
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
        use_existing: a.use_existing.clone(),
        options,
        progress: !a.quiet && std::io::stderr().is_terminal(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let json = a.json;
    let result = run_bench_with(&cfg, &mut |event| match event {
        _ if json => Ok(()),
        Event::Started(config) => print_header(config, &mut out),
        Event::Finished(row) => print_row(row, &mut out),
    });
    let report = match result {
        Ok(r) => r,
        // The reader of the output went away (`| head`): stop quietly.
        Err(e) if e.is_broken_pipe() => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsm-bench: {e}");
            return ExitCode::from(1);
        }
    };
    if !json {
        return ExitCode::SUCCESS;
    }
    let printed = serde_json::to_writer_pretty(&mut out, &report)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsm-bench: {e}");
            ExitCode::from(1)
        }
    }
}
