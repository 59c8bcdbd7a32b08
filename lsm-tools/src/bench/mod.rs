//! `lsm-bench`: a db_bench-style benchmark of the engine.
//!
//! [`run_bench`] runs a list of [`Workload`]s in order (each fill workload writes a
//! new database in its own directory, which later workloads use; see
//! [`database_names`]), timing every operation into a [`Histogram`],
//! and after each workload reads `Db::stats()` for the write amplification and lists
//! the directory for the on-disk size, compared with the logical size of the live
//! keys and values. [`BenchReport`] prints the results table or JSON.

pub mod data;
pub mod histogram;
pub mod live;
mod ops;
mod peak_rss;
pub mod ranges;
pub mod report;
mod ttl;
pub mod txn;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use lsm_core::{Db, Options};

pub use histogram::Histogram;
pub use live::LiveSet;
pub use report::{BenchReport, ReportConfig, WorkloadResult};
pub use workload::Workload;

use crate::dump::out_err;
use crate::error::{Error, Result};
use crate::files::FileName;

/// The default workloads: every one but `seekrandom_reuse`, `deleteprefix`, `queue`,
/// `ttl` and `txn_readmodifywrite`, which are asked for by name. With the default sizes (one million keys
/// filled, a tenth of that for reads, overwrites and deletes, a thousand synced
/// writes) the run takes well under a minute on two cores in a release build.
pub const DEFAULT_WORKLOADS: [Workload; 11] = [
    Workload::Fillseq,
    Workload::Fillrandom,
    Workload::Overwrite,
    Workload::Readrandom,
    Workload::Readmissing,
    Workload::Readseq,
    Workload::Readreverse,
    Workload::Seekrandom,
    Workload::Deleterandom,
    Workload::Readwhilewriting,
    Workload::Fillsync,
];

/// What to run and how.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Workloads, in order.
    pub workloads: Vec<Workload>,
    /// Number of keys: the fill workloads write each once. Default 1 000 000.
    pub num: u64,
    /// Operations of read workloads. Default 100 000 (`num / 10`).
    pub reads: u64,
    /// Operations of `overwrite` and `deleterandom`. Default 100 000 (`num / 10`).
    pub writes: u64,
    /// Writes of `fillsync`. Default 1000.
    pub sync_num: u64,
    /// Key size in bytes. Default 16.
    pub key_size: usize,
    /// Value size in bytes. Default 100.
    pub value_size: usize,
    /// Fraction of its size a value compresses to. Default 0.5.
    pub compression_ratio: f64,
    /// Reader threads of read workloads; writer threads of fillsync. Default 1.
    pub threads: usize,
    /// Seed of every random choice. Default 42.
    pub seed: u64,
    /// Directory holding one database per fill workload (see [`database_names`]),
    /// kept afterwards; a temporary one (removed afterwards) when `None`.
    pub db: Option<PathBuf>,
    /// An existing database (a path) for the workloads before the first fill, e.g.
    /// one a fill of an earlier run left: opened with its lock, never created or
    /// deleted. Default `None`: the list must start with a fill.
    pub use_existing: Option<PathBuf>,
    /// Engine options.
    pub options: Options,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            workloads: DEFAULT_WORKLOADS.to_vec(),
            num: 1_000_000,
            reads: 100_000,
            writes: 100_000,
            sync_num: 1000,
            key_size: 16,
            value_size: 100,
            compression_ratio: 0.5,
            threads: 1,
            seed: 42,
            db: None,
            use_existing: None,
            options: Options::default(),
            progress: false,
        }
    }
}

/// A directory removed when dropped: the benchmark's database when none was given.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("lsm-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes of all files in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    crate::state::list_dir(dir).map_or(0, |files| files.iter().map(|f| f.size).sum())
}

fn bar(cfg: &BenchConfig, w: Workload, total: u64) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {rate} eta {eta}")
            .map(|s| {
                s.progress_chars("=> ").with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} ops/s", state.per_sec());
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(w.name());
    bar
}

/// What [`run_bench_with`] reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The configuration, before the first workload.
    Started(&'a ReportConfig),
    /// A workload finished.
    Finished(&'a WorkloadResult),
}

/// The database directory of each workload, by position: a fill workload starts a
/// new database named after it under the base directory (`fillseq`, or `fillseq-2`
/// when the list names it twice); the others run in the database of the last fill
/// before them. `None` for the workloads before the first fill: they run in an
/// existing database ([`BenchConfig::use_existing`]).
pub fn database_names(workloads: &[Workload]) -> Vec<Option<String>> {
    let mut names = Vec::with_capacity(workloads.len());
    let mut current: Option<String> = None;
    let mut seen: Vec<Workload> = Vec::new();
    for &w in workloads {
        if w.fresh() {
            seen.push(w);
            let n = seen.iter().filter(|&&s| s == w).count();
            current = Some(match n {
                1 => w.name().to_string(),
                _ => format!("{}-{n}", w.name()),
            });
        }
        names.push(current.clone());
    }
    names
}

/// Refuses a base directory that is itself a database: `--db` names a directory
/// that holds one database per fill workload, never one to write into.
fn check_base(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Missing: created below; unreadable: the creation or the open says why.
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = matches!(
            FileName::parse(&name),
            FileName::Manifest | FileName::Lock | FileName::Segment(_) | FileName::Wal(_)
        );
        if ours {
            return Err(Error::Usage(format!(
                "{} holds {name}: it is a database directory, and --db names a directory \
                 in which lsm-bench makes one database per fill workload ({}/fillseq, ...); \
                 give another directory",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Removes the database in `dir` through [`lsm_core::destroy`], which takes its lock
/// and refuses a directory that holds anything else.
fn destroy(dir: &Path) -> Result<()> {
    lsm_core::destroy(dir).map_err(|e| match e {
        lsm_core::Error::Locked { path } => Error::Usage(format!(
            "{} is locked: another process has the database open; lsm-bench will not \
             replace it",
            path.display()
        )),
        lsm_core::Error::InvalidArgument {
            kind: lsm_core::InvalidArgumentKind::ForeignFiles,
            message,
        } => Error::Usage(message),
        other => Error::Db(other),
    })
}

/// Runs the benchmark.
///
/// # Errors
/// As [`run_bench_with`].
pub fn run_bench(cfg: &BenchConfig) -> Result<BenchReport> {
    run_bench_with(cfg, &mut |_| Ok(()))
}

/// Runs the benchmark, calling `on_event` before the first workload and after each
/// one (to print rows as they come); an error from it stops the run.
///
/// Each fill workload writes a new database in its own directory under `cfg.db`
/// (see [`database_names`]), deleting one left there by an earlier run with
/// [`lsm_core::destroy`] first, so every database is left for inspection. With a
/// temporary base directory, a database is deleted as soon as the next fill starts.
///
/// # Errors
/// `Usage` for a configuration that cannot work (a key size too small for `num`, a
/// list that does not start with a fill, a `cfg.db` that is itself a database, a
/// database directory that is locked or holds other files); engine errors; errors of
/// `on_event` (as `Io` on `<output>`).
pub fn run_bench_with(
    cfg: &BenchConfig,
    on_event: &mut dyn FnMut(Event<'_>) -> std::io::Result<()>,
) -> Result<BenchReport> {
    let needed = data::digits(cfg.num.saturating_mul(2));
    if cfg.key_size < needed {
        return Err(Error::Usage(format!(
            "--key-size {} cannot hold {} distinct keys plus as many missing ones: use at least {needed}",
            cfg.key_size, cfg.num
        )));
    }
    if cfg.num == 0 {
        return Err(Error::Usage("--num must be at least 1".into()));
    }
    let names = database_names(&cfg.workloads);
    if let (Some(None), None) = (names.first(), &cfg.use_existing) {
        let first = cfg.workloads.first().map_or("", |w| w.name());
        return Err(Error::Usage(format!(
            "{first} needs a database: start the list with a fill workload (fillseq, \
             fillrandom or fillsync), or name an existing database with --use-existing"
        )));
    }
    let temp = match &cfg.db {
        Some(dir) => {
            check_base(dir)?;
            None
        }
        None => Some(TempDir::new()?),
    };
    let base = cfg
        .db
        .clone()
        .or_else(|| temp.as_ref().map(|t| t.0.clone()))
        .unwrap_or_default();
    let mut report = BenchReport::new(cfg, &base, temp.is_some(), Vec::new());
    on_event(Event::Started(&report.config)).map_err(out_err)?;
    let live = LiveSet::new(cfg.num);
    // The logical size is known once a fill has started from an empty database.
    let mut live_known = false;
    let mut db: Option<Db> = None;
    // The last database this run made, deleted when the next fill starts if the
    // base directory is temporary. Never an existing database.
    let mut previous: Option<PathBuf> = None;
    for (i, (&w, name)) in cfg.workloads.iter().zip(&names).enumerate() {
        let existing = cfg.use_existing.as_ref().filter(|_| name.is_none());
        let dir = match (existing, name) {
            (Some(path), _) => path.clone(),
            (None, name) => base.join(name.as_deref().unwrap_or_default()),
        };
        // Checked before `Db::open`, which takes the lock (creating `LOCK`) before it
        // refuses a directory without a manifest.
        if existing.is_some() && !dir.join("MANIFEST").is_file() {
            return Err(Error::Usage(format!(
                "{} holds no database (no MANIFEST) for --use-existing",
                dir.display()
            )));
        }
        let mut options = cfg.options.clone();
        // An existing database is opened, never created or replaced.
        options.create_if_missing = existing.is_none();
        // `ttl` moves its database's clock past the expiry of what it wrote.
        let clock = (w == Workload::Ttl)
            .then(|| Arc::new(lsm_core::ManualClock::new(std::time::SystemTime::now())));
        if let Some(c) = &clock {
            // A fresh workload: the database is opened anew below, with this clock.
            options = options.with_clock(c.clone());
        }
        if w.fresh() {
            if let Some(old) = db.take() {
                old.close()?;
            }
            if let (Some(_), Some(prev)) = (&temp, previous.take()) {
                destroy(&prev)?;
            }
            destroy(&dir)?;
            live.clear();
            live_known = true;
            options.sync_writes = options.sync_writes || w == Workload::Fillsync;
        }
        let handle = match db.take() {
            Some(d) => d,
            None => Db::open(&dir, options).map_err(|e| match e {
                lsm_core::Error::Locked { path } => Error::Usage(format!(
                    "{} is locked: another process has the database open",
                    path.display()
                )),
                other => Error::Db(other),
            })?,
        };
        if existing.is_none() {
            previous = Some(dir.clone());
        }
        let total = match w {
            Workload::Fillseq | Workload::Fillrandom | Workload::Deleteprefix | Workload::Ttl => {
                cfg.num
            }
            Workload::Queue => (cfg.num / 10).max(1) * 10,
            Workload::Overwrite | Workload::Deleterandom | Workload::TxnReadmodifywrite => {
                cfg.writes
            }
            Workload::Fillsync => cfg.sync_num,
            _ => cfg.reads,
        };
        let pb = bar(cfg, w, total);
        let before = handle.stats();
        let peak_reset = peak_rss::reset();
        let measured = workload::run(w, &handle, &dir, clock.as_ref(), cfg, &live, &pb, i as u64)?;
        pb.finish_and_clear();
        let after = handle.stats();
        let live_keys = measured
            .live_keys
            .or_else(|| live_known.then(|| live.count()));
        let mut result = WorkloadResult::new(
            w,
            cfg,
            measured,
            &before,
            &after,
            dir_bytes(&dir),
            live_keys,
        );
        result.peak_rss_bytes = peak_reset.then(peak_rss::read).flatten();
        result.database = match name {
            Some(name) => name.clone(),
            None => dir.display().to_string(),
        };
        // A sync-every-write database is not what later workloads measure.
        if w == Workload::Fillsync {
            handle.close()?;
        } else {
            db = Some(handle);
        }
        on_event(Event::Finished(&result)).map_err(out_err)?;
        report.results.push(result);
    }
    if let Some(d) = db {
        d.close()?;
    }
    Ok(report)
}
