//! `lsm-compact`: offline full compaction of a database directory.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use lsm_core::Compression;
use lsm_tools::compact::{compact, dry_run, CompactOptions, CompactReport, Phase};
use lsm_tools::flags::CompressionArg;
use lsm_tools::units::{format_size, parse_size_usize};

/// Compact a database directory offline: afterwards it holds only the newest value
/// of each key, no tombstones and no obsolete files, as `Db::compact` leaves it.
/// Refuses a directory that another process has open. Safe to interrupt: the
/// directory always reopens with all its data.
#[derive(Debug, Parser)]
#[command(name = "lsm-compact", version)]
struct Args {
    /// The database directory.
    dir: PathBuf,
    /// Report what a full compaction would reclaim, without writing anything (and
    /// without taking the lock).
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_parser = parse_size_usize, help = engine(
        "Target size of each output segment, in bytes; units accepted",
        format_size(defaults().segment_size as u64),
    ))]
    segment_size: Option<usize>,
    #[arg(long, value_parser = parse_size_usize, help = engine(
        "Target data block size, in bytes; units accepted",
        format_size(defaults().block_size as u64),
    ))]
    block_size: Option<usize>,
    #[arg(long, value_enum, help = engine(
        "Compression of the output's data blocks",
        format!("{:?}", defaults().compression).to_lowercase(),
    ))]
    compression: Option<CompressionArg>,
    // The output goes to level 1 or deeper, so the engine's below-level-0 setting
    // is the one that applies.
    #[arg(long, help = engine(
        "Bloom filter bits per key of the output",
        defaults().bloom_bits_per_key,
    ))]
    bloom_bits_per_key: Option<u8>,
    /// Level (1..=15) to put all data in (default: the bottom level: level 6 or
    /// deeper under dynamic level sizing, else the deepest level that holds data).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=15))]
    level: Option<u8>,
    #[arg(long, value_name = "true|false", help = engine(
        "Level sizes derived from the bottom level, which puts the data in level 6 \
         or deeper; static sizing puts it in the deepest level that holds data",
        defaults().dynamic_level_bytes,
    ))]
    dynamic_level_bytes: Option<bool>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,
}

fn defaults() -> lsm_core::Options {
    lsm_core::Options::default()
}

/// Help text of an engine option, with the engine's own default (so it cannot drift).
fn engine(what: &str, default: impl std::fmt::Display) -> String {
    format!("{what} (engine default: {default})")
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.dry_run {
        dry_run(&args.dir)
    } else {
        run(&args)
    };
    match result
        .map_err(anyhow::Error::from)
        .and_then(|r| print(&r, args.json))
    {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the output went away (`| head`): stop quietly.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsm-compact: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> lsm_tools::Result<CompactReport> {
    let options = CompactOptions {
        segment_size: args.segment_size,
        block_size: args.block_size,
        compression: args.compression.map(Compression::from),
        bloom_bits_per_key: args.bloom_bits_per_key,
        level: args.level.map(usize::from),
        dynamic_level_bytes: args.dynamic_level_bytes,
    };
    // `compact()` is one engine call, so a spinner with the current phase is the
    // honest progress display.
    let bar = if args.quiet || !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal()
    {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    };
    let mut step = 0;
    let report = compact(&args.dir, &options, &mut |phase: Phase| {
        step += 1;
        bar.set_message(format!("{step}/6 {}", phase.describe()));
    });
    bar.finish_and_clear();
    report
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            == pipe
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == pipe
    })
}

fn print(report: &CompactReport, json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        report.print_text(&mut out)?;
    }
    out.flush()?;
    Ok(())
}
