//! `lsm-bench`: a db_bench-style benchmark of the engine.
//!
//! [`run_bench`] runs a list of [`Workload`]s in order against one database (fill
//! workloads start from an empty one), timing every operation into a [`Histogram`],
//! and after each workload reads `Db::stats()` for the write amplification and lists
//! the directory for the on-disk size, compared with the logical size of the live
//! keys and values. [`BenchReport`] prints the results table or JSON.

pub mod data;
pub mod histogram;
pub mod live;
mod ops;
pub mod report;
pub mod workload;

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use lsm_core::{Db, Options};

pub use histogram::Histogram;
pub use live::LiveSet;
pub use report::{BenchReport, WorkloadResult};
pub use workload::Workload;

use crate::error::{Error, Result};
use crate::files::FileName;

/// The default workloads: every one. With the default sizes (one million keys filled,
/// a tenth of that for reads, overwrites and deletes, a thousand synced writes) the
/// run takes well under a minute on two cores in a release build.
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
    /// Database directory; a temporary one (removed afterwards) when `None`.
    pub db: Option<PathBuf>,
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

/// Removes the database files (and only those) from `dir`, so a fill starts empty.
///
/// # Errors
/// `Usage` when `dir` holds files that are not database files: the benchmark will not
/// delete what it did not write.
pub fn wipe_db_files(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let files = crate::state::list_dir(dir)?;
    if let Some(f) = files.iter().find(|f| f.kind == FileName::Other) {
        return Err(Error::Usage(format!(
            "{} holds {}, which is not a database file: refusing to wipe it for a fill workload",
            dir.display(),
            f.name
        )));
    }
    for f in files {
        let path = dir.join(&f.name);
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
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

/// Runs the benchmark.
///
/// # Errors
/// `Usage` for a configuration that cannot work (a key size too small for `num`);
/// engine errors.
pub fn run_bench(cfg: &BenchConfig) -> Result<BenchReport> {
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
    let temp = match &cfg.db {
        Some(_) => None,
        None => Some(TempDir::new()?),
    };
    let dir = cfg
        .db
        .clone()
        .or_else(|| temp.as_ref().map(|t| t.0.clone()))
        .unwrap_or_default();
    let live = LiveSet::new(cfg.num);
    // The logical size is known once a fill has started from an empty database.
    let mut live_known = false;
    let mut results = Vec::new();
    let mut db: Option<Db> = None;
    for (i, &w) in cfg.workloads.iter().enumerate() {
        let mut options = cfg.options.clone();
        if w.fresh() {
            if let Some(old) = db.take() {
                old.close()?;
            }
            wipe_db_files(&dir)?;
            live.clear();
            live_known = true;
            options.sync_writes = options.sync_writes || w == Workload::Fillsync;
        }
        let handle = match db.take() {
            Some(d) => d,
            None => Db::open(&dir, options)?,
        };
        let total = match w {
            Workload::Fillseq | Workload::Fillrandom => cfg.num,
            Workload::Overwrite | Workload::Deleterandom => cfg.writes,
            Workload::Fillsync => cfg.sync_num,
            _ => cfg.reads,
        };
        let pb = bar(cfg, w, total);
        let before = handle.stats();
        let measured = workload::run(w, &handle, cfg, &live, &pb, i as u64)?;
        pb.finish_and_clear();
        let after = handle.stats();
        let live_keys = live_known.then(|| live.count());
        results.push(WorkloadResult::new(
            w,
            cfg,
            measured,
            &before,
            &after,
            dir_bytes(&dir),
            live_keys,
        ));
        // A sync-every-write database is not what later workloads measure.
        if w == Workload::Fillsync {
            handle.close()?;
        } else {
            db = Some(handle);
        }
    }
    if let Some(d) = db {
        d.close()?;
    }
    Ok(BenchReport::new(cfg, &dir, temp.is_some(), results))
}
