//! `lsm-compact`: offline full compaction of a database directory.
//!
//! The work is the engine's: [`compact`] opens the directory with `Db::open` (which
//! takes the lock, so a directory another process has open is refused), flushes the
//! memtable, runs `Db::compact` and closes. Crash safety is the engine's too: every
//! step is recorded in the manifest before old files are deleted, so killing the tool
//! at any point leaves a directory that opens with all its data.
//!
//! Around that, the tool measures the directory before and after by listing files and
//! reading the manifest, and [`dry_run`] computes what a full compaction would
//! reclaim by reading every stored version through the engine's read-only view
//! (`ReadOnlyDb::versions`) without writing.

use std::path::Path;
use std::time::{Duration, Instant};

use lsm_core::{Compression, Db, Options, VersionKind};
use lsm_format::EntryKind;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::DbState;

/// Engine options for the compaction's output.
#[derive(Debug, Clone, Default)]
pub struct CompactOptions {
    /// Target size of each output segment in bytes (`Options::segment_size`); the
    /// engine's default when `None`.
    pub segment_size: Option<usize>,
    /// Target data block size (`Options::block_size`).
    pub block_size: Option<usize>,
    /// Compression of data blocks (`Options::compression`).
    pub compression: Option<Compression>,
    /// Bloom filter bits per key (`Options::bloom_bits_per_key`).
    pub bloom_bits_per_key: Option<u8>,
    /// Level (1 ..= 15) to put all data in; `None`: the bottom level, as
    /// `Db::compact` (level 6 or deeper under dynamic level sizing, else the
    /// deepest level that holds data).
    pub level: Option<usize>,
    /// Level sizing (`Options::dynamic_level_bytes`), which decides the bottom
    /// level when `level` is `None`. When `None`: the engine's default, or static
    /// sizing when `level` is set (so the data stays in that level while the
    /// tool runs; a database run with dynamic sizing moves it down later).
    pub dynamic_level_bytes: Option<bool>,
}

/// The steps of a compaction, reported to a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Measuring the directory before.
    MeasuringBefore,
    /// Opening the database (recovery replays the WALs).
    Opening,
    /// Writing the memtable out as segments.
    Flushing,
    /// The full compaction.
    Compacting,
    /// Closing (background work stops, obsolete files go).
    Closing,
    /// Measuring the directory after.
    MeasuringAfter,
}

impl Phase {
    /// A short description for a progress line.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::MeasuringBefore => "measuring the directory",
            Phase::Opening => "opening the database (replaying the write-ahead logs)",
            Phase::Flushing => "flushing the memtable",
            Phase::Compacting => "compacting every level into the last",
            Phase::Closing => "closing",
            Phase::MeasuringAfter => "measuring the result",
        }
    }
}

/// Figures of a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Measure {
    /// Files in the directory.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Live segments.
    pub segments: usize,
    /// Their bytes.
    pub segment_bytes: u64,
    /// Bytes of the live WALs.
    pub wal_bytes: u64,
    /// Versions stored: segment entries plus WAL operations.
    pub versions: u64,
    /// Tombstones among them.
    pub tombstones: u64,
}

/// Measures `state`: files listed, live segments from the manifest, WAL operations.
pub fn measure_state(state: &DbState) -> Measure {
    let mut m = Measure {
        files: state.files.len(),
        bytes: state.files.iter().map(|f| f.size).sum(),
        ..Measure::default()
    };
    for (_, meta) in state.manifest.live() {
        m.segments += 1;
        m.segment_bytes += meta.file_size;
        m.versions += meta.entry_count;
        m.tombstones += meta.tombstone_count;
    }
    for wal in &state.wals {
        m.wal_bytes += wal.size;
        for batch in wal.replay.iter().flat_map(|r| &r.batches) {
            m.versions += batch.ops.len() as u64;
            m.tombstones += batch
                .ops
                .iter()
                .filter(|o| o.kind == EntryKind::Tombstone)
                .count() as u64;
        }
    }
    m
}

/// Measures the directory `dir`.
///
/// # Errors
/// As [`DbState::load`].
pub fn measure(dir: &Path) -> Result<Measure> {
    Ok(measure_state(&DbState::load(dir)?))
}

/// What a compaction did, or (dry run) would do.
#[derive(Debug, Clone, Serialize)]
pub struct CompactReport {
    /// The directory.
    pub dir: String,
    /// True for `--dry-run`: nothing was written.
    pub dry_run: bool,
    /// Before.
    pub before: Measure,
    /// After (real run only).
    pub after: Option<Measure>,
    /// Live keys kept.
    pub keys_kept: u64,
    /// Older values dropped (puts shadowed by a newer version).
    pub versions_dropped: u64,
    /// Tombstones dropped.
    pub tombstones_dropped: u64,
    /// Dry run: estimated bytes of live segments after a full compaction.
    pub estimated_bytes_after: Option<u64>,
    /// Wall-clock time, in seconds.
    pub seconds: f64,
}

/// Runs a full compaction of `dir`, calling `progress` at each phase.
///
/// # Errors
/// `Usage` when `dir` is not a database or another process holds its lock; engine
/// errors otherwise.
pub fn compact(
    dir: &Path,
    options: &CompactOptions,
    progress: &mut dyn FnMut(Phase),
) -> Result<CompactReport> {
    let start = Instant::now();
    progress(Phase::MeasuringBefore);
    // Also refuses a directory without a MANIFEST before the engine could create one.
    let before = measure(dir)?;
    progress(Phase::Opening);
    let mut engine = Options::default().with_create_if_missing(false);
    if let Some(v) = options.segment_size {
        engine.segment_size = v;
    }
    if let Some(v) = options.block_size {
        engine.block_size = v;
    }
    if let Some(v) = options.compression {
        engine.compression = v;
    }
    if let Some(v) = options.bloom_bits_per_key {
        engine.bloom_bits_per_key = v;
    }
    // Into a chosen level: static sizing unless told otherwise, or the background
    // would drain a level above where the data belongs while the tool runs.
    engine.dynamic_level_bytes = options
        .dynamic_level_bytes
        .unwrap_or(options.level.is_none() && engine.dynamic_level_bytes);
    let db = Db::open(dir, engine).map_err(|e| match e {
        lsm_core::Error::Locked { path } => Error::Usage(format!(
            "{} is locked: another process has the database open; stop it first, or call \
             `Db::compact` from within that process",
            path.display()
        )),
        other => Error::Db(other),
    })?;
    progress(Phase::Flushing);
    db.flush()?;
    progress(Phase::Compacting);
    match options.level {
        Some(level) => db.compact_into(level)?,
        None => db.compact()?,
    }
    progress(Phase::Closing);
    db.close()?;
    progress(Phase::MeasuringAfter);
    let after = measure(dir)?;
    let tombstones_dropped = before.tombstones.saturating_sub(after.tombstones);
    let keys_kept = after.versions.saturating_sub(after.tombstones);
    Ok(CompactReport {
        dir: dir.display().to_string(),
        dry_run: false,
        versions_dropped: (before.versions - before.tombstones).saturating_sub(keys_kept),
        keys_kept,
        tombstones_dropped,
        before,
        after: Some(after),
        estimated_bytes_after: None,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Computes what a full compaction of `dir` would keep and drop, reading the live
/// files without the lock and without writing.
///
/// # Errors
/// As [`DbState::load`], and when a live file cannot be read.
pub fn dry_run(dir: &Path) -> Result<CompactReport> {
    let start = Instant::now();
    let state = DbState::load(dir)?;
    let before = measure_state(&state);
    let (mut kept, mut versions_dropped, mut tombstones_dropped) = (0u64, 0u64, 0u64);
    let (mut kept_raw, mut segment_raw) = (0u64, 0u64);
    let mut last: Option<bytes::Bytes> = None;
    // Every stored version, newest first within a key, through the engine's own
    // read-only view (its merge, its rules for what shadows what).
    let view = lsm_core::Db::open_read_only(dir, lsm_core::Options::default())?;
    for entry in view.versions() {
        let (key, version) = entry?;
        let newest = last.as_ref() != Some(&key);
        match (newest, version.kind) {
            // The newest put of a key is kept unless a read does not return it: a
            // range delete hides it (or it expired). The view's own `get` decides,
            // since `versions` lists what is stored, range tombstones aside.
            (true, VersionKind::Put) if view.get(&key)?.is_none() => versions_dropped += 1,
            (true, VersionKind::Put) => {
                kept += 1;
                kept_raw += (key.len() + version.value.len()) as u64;
            }
            (false, VersionKind::Put) => versions_dropped += 1,
            _ => tombstones_dropped += 1,
        }
        if newest {
            last = Some(key);
        }
    }
    for seg in &state.segments {
        if let Ok(reader) = seg.open() {
            let p = reader.properties();
            segment_raw += p.raw_key_size + p.raw_value_size;
        }
    }
    // Bytes per raw byte in today's segments (compression and overhead); a directory
    // without segments gets a typical uncompressed overhead.
    let ratio = if segment_raw > 0 {
        before.segment_bytes as f64 / segment_raw as f64
    } else {
        1.1
    };
    Ok(CompactReport {
        dir: dir.display().to_string(),
        dry_run: true,
        before,
        after: None,
        keys_kept: kept,
        versions_dropped,
        tombstones_dropped,
        estimated_bytes_after: Some((kept_raw as f64 * ratio).round() as u64),
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl CompactReport {
    /// Prints the report for people.
    ///
    /// # Errors
    /// Errors of `out`.
    pub fn print_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        use crate::display::{human_bytes as h, plural};
        let b = &self.before;
        if self.dry_run {
            writeln!(out, "dry run on {} (nothing written)", self.dir)?;
            writeln!(
                out,
                "now: {} files, {} ({} segments, {}; live WALs {})",
                b.files,
                h(b.bytes),
                b.segments,
                h(b.segment_bytes),
                h(b.wal_bytes)
            )?;
            writeln!(
                out,
                "a full compaction would keep {} and drop {} and {}",
                plural(self.keys_kept, "key"),
                plural(self.versions_dropped, "older version"),
                plural(self.tombstones_dropped, "tombstone")
            )?;
            if let Some(est) = self.estimated_bytes_after {
                let now = b.segment_bytes + b.wal_bytes;
                writeln!(
                    out,
                    "estimated segment bytes after: {} (reclaims about {} of {} in segments and WALs)",
                    h(est),
                    h(now.saturating_sub(est)),
                    h(now)
                )?;
            }
            return Ok(());
        }
        writeln!(out, "compacted {} in {}", self.dir, seconds(self.seconds))?;
        let mut t = crate::table::Table::new(&[
            ("", crate::table::Align::Left),
            ("before", crate::table::Align::Right),
            ("after", crate::table::Align::Right),
        ])
        .indent(2);
        let a = self.after.clone().unwrap_or_default();
        t.row(vec![
            "files".into(),
            b.files.to_string(),
            a.files.to_string(),
        ]);
        t.row(vec!["bytes".into(), h(b.bytes), h(a.bytes)]);
        t.row(vec![
            "segments".into(),
            b.segments.to_string(),
            a.segments.to_string(),
        ]);
        t.row(vec![
            "segment bytes".into(),
            h(b.segment_bytes),
            h(a.segment_bytes),
        ]);
        t.row(vec!["WAL bytes".into(), h(b.wal_bytes), h(a.wal_bytes)]);
        t.row(vec![
            "versions".into(),
            b.versions.to_string(),
            a.versions.to_string(),
        ]);
        t.row(vec![
            "tombstones".into(),
            b.tombstones.to_string(),
            a.tombstones.to_string(),
        ]);
        t.print(out)?;
        writeln!(
            out,
            "keys kept {}, older versions dropped {}, tombstones dropped {}",
            self.keys_kept, self.versions_dropped, self.tombstones_dropped
        )
    }
}

/// `0.42 s` or `1 m 3.2 s`.
pub fn seconds(s: f64) -> String {
    let d = Duration::from_secs_f64(s.max(0.0));
    if d.as_secs() >= 60 {
        format!(
            "{} m {:.1} s",
            d.as_secs() / 60,
            (d.as_secs() % 60) as f64 + f64::from(d.subsec_millis()) / 1000.0
        )
    } else {
        format!("{s:.2} s")
    }
}
