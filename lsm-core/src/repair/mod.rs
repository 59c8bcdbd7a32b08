//! Repairing a database that does not open: [`repair`] rebuilds a manifest from the
//! files that verify, salvages every verifiable block of a damaged segment and every
//! readable record of a damaged WAL, sets damaged files aside in `lost/` (it never
//! deletes one), and reports exactly what was lost ([`RepairReport`]).
//!
//! How the rebuilt state is chosen, so that no key gets a value it never had or an
//! older one than the files still hold (`docs/durability.md`, promise 8):
//! - the manifest's own state, walked leniently up to its damage
//!   (`lsm_format::manifest::walk_manifest`), is the base: its levels, the segments it
//!   records dead (never brought back: a dead compaction input could resurrect a key
//!   whose tombstone a later compaction dropped), its `log_number`, counters;
//! - every segment it lists that verifies stays as it is, at its level; a damaged one
//!   is replaced by the blocks of it that verify, at the same level (a subset of a
//!   level's file cannot overlap its neighbours; lost entries let a lookup fall
//!   through to an older version, within the key ranges reported), with its range
//!   tombstones when the block holding them verifies. When that block is damaged,
//!   the deletes it held are lost and a key they hid may read an older version
//!   again: the file's whole key range is reported ([`Loss::range_deletes`]);
//! - every entry and range delete of the WALs from `log_number` on and of the
//!   segments the manifest does not list is a *candidate*. A candidate range
//!   tombstone that no base segment holds (at the same sequence number, over its
//!   whole range) is restored, with its own sequence number when that is above every
//!   number the base holds (the usual case: a WAL's range deletes) — a tombstone
//!   hides only what is older than it;
//! - a candidate entry that a range tombstone with a higher sequence number covers
//!   (one of the base's segments, a salvaged segment's, or a candidate) was deleted:
//!   it is never restored, in particular never under a new number, which would put
//!   it above the tombstone and bring it back;
//! - for each key the newest remaining candidate is kept when it is newer than every
//!   version the base holds, and those are written to new level-0 segments with the
//!   restored range tombstones. When one of them is not newer than everything in the
//!   base, all of them get new sequence numbers above every number in use (each is
//!   its key's newest version, so the visible value of every key stays the same),
//!   because level 0 is read newest file first and a restored entry must not hide
//!   behind, or shadow, an older file's version;
//! - the same reading order binds a restored range tombstone whose number is not
//!   above every number the base holds (an unlisted compaction output, say): a lookup
//!   stops at the first file whose tombstones cover its key. So the keys the base
//!   holds a newer version of are cut out of it; then no version of any key it still
//!   covers is newer than it, and it takes a new number above every number in use,
//!   which hides exactly the versions its own did while keeping level 0's files in
//!   sequence order (`plan/range_tombstones.rs`);
//! - an unlisted segment none of whose entries or range tombstones is kept is
//!   redundant (the output of an interrupted flush or compaction): nothing is lost.
//! - with no readable manifest every segment is a candidate, so a dead compaction
//!   input still on disk may bring back an old version; the report names the files.
//!
//! Crash safety: the new segments are written under temporary names, fsynced, renamed
//! and the directory fsynced (`SegmentBuilder`); the old manifest is copied into
//! `lost/` before the new one replaces it (temporary file, fsync, rename, directory
//! fsync), and the new one records every file about to be moved as dead; only then
//! are files moved into `lost/`. A crash before the new manifest is in place leaves the
//! old state plus unlisted new segments, which a second repair finds redundant or
//! restores again with the same values; a crash after it leaves files the new
//! manifest records dead, which a second repair moves and `Db::open` would remove.

mod manifest_rebuild;
mod plan;
mod report;
mod salvage;
mod wal;

use std::io;
use std::path::Path;
use std::sync::Arc;

pub use report::{
    FileFinding, FileStatus, KeyRange, Loss, ManifestFinding, RepairReport, SeqRange,
};

use crate::error::{Error, Result};
use crate::filenames::{LOCK, MANIFEST};
use crate::fs::{FileLock, FsRef, RealFs};
use crate::options::Options;
use crate::recovery::listing::Listing;
use plan::Plan;

/// The subdirectory damaged and set-aside files are moved into.
pub const LOST_DIR: &str = "lost";

/// Repairs the database in `path`, which need not open: see the [module
/// documentation](self) for what it keeps and why. `options` shape the segments it
/// writes (block size, compression, segment size, Bloom filter bits). Takes the
/// database lock; never creates a database.
///
/// A database that opens as it is (at most a torn WAL tail or files open removes) is
/// left unchanged; the report then says so ([`RepairReport::rebuilt`] is false) and
/// still names a torn WAL tail as a possible loss.
///
/// # Errors
/// - [`Error::Locked`] when the database is open, in this process or another;
/// - [`Error::Io`] of kind `NotFound` when `path` holds no database (no manifest, no
///   segment, no WAL), and `Io` when a file cannot be read or written;
/// - [`Error::Corruption`] when the manifest names a format version this build does
///   not read (nothing is changed).
///
/// # Examples
///
/// ```
/// use lsm_core::{repair, Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put("k", "v")?;
/// db.close()?;
/// std::fs::remove_file(dir.path().join("MANIFEST"))?; // Db::open refuses this now
///
/// let report = repair(dir.path(), Options::default())?;
/// // Without the manifest, no file can be proved live or retired: the report says
/// // every key may be affected, though here nothing was retired and all is there.
/// assert!(report.rebuilt && report.judged_by_contents_alone(), "{report}");
/// let db = Db::open(dir.path(), Options::default())?;
/// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
/// # Ok(())
/// # }
/// ```
pub fn repair(path: impl AsRef<Path>, options: Options) -> Result<RepairReport> {
    repair_with_fs(path, options, Arc::new(RealFs))
}

/// [`repair`] on another file system (the simulated one in tests).
///
/// # Errors
/// As [`repair`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use lsm_core::fs::SimFs;
/// use lsm_core::{repair_with_fs, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let fs = Arc::new(SimFs::new());
/// Db::open_with_fs("/db", Options::default(), fs.clone())?.close()?;
/// assert!(repair_with_fs("/db", Options::default(), fs)?.nothing_to_repair());
/// # Ok(())
/// # }
/// ```
pub fn repair_with_fs(path: impl AsRef<Path>, options: Options, fs: FsRef) -> Result<RepairReport> {
    run(path.as_ref(), &options, &fs, false)
}

/// Reports what [`repair`] would do and lose, changing nothing: no file is written,
/// moved or created. It takes the lock only when `LOCK` exists (so that a database
/// some process has open is refused), since taking it would create the file.
///
/// # Errors
/// As [`repair`].
///
/// # Examples
///
/// ```
/// use lsm_core::{repair_dry_run, Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// Db::open(dir.path(), Options::default())?.close()?;
/// std::fs::remove_file(dir.path().join("MANIFEST"))?;
/// let report = repair_dry_run(dir.path(), Options::default())?;
/// assert!(report.dry_run && report.rebuilt);
/// assert!(!dir.path().join("MANIFEST").exists()); // nothing changed
/// # Ok(())
/// # }
/// ```
pub fn repair_dry_run(path: impl AsRef<Path>, options: Options) -> Result<RepairReport> {
    repair_dry_run_with_fs(path, options, Arc::new(RealFs))
}

/// [`repair_dry_run`] on another file system.
///
/// # Errors
/// As [`repair`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use lsm_core::fs::SimFs;
/// use lsm_core::{repair_dry_run_with_fs, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let fs = Arc::new(SimFs::new());
/// Db::open_with_fs("/db", Options::default(), fs.clone())?.close()?;
/// assert!(repair_dry_run_with_fs("/db", Options::default(), fs)?.nothing_to_repair());
/// # Ok(())
/// # }
/// ```
pub fn repair_dry_run_with_fs(
    path: impl AsRef<Path>,
    options: Options,
    fs: FsRef,
) -> Result<RepairReport> {
    run(path.as_ref(), &options, &fs, true)
}

fn no_database(dir: &Path) -> Error {
    Error::io(
        dir.join(MANIFEST),
        io::Error::new(io::ErrorKind::NotFound, "no database here"),
    )
}

fn run(dir: &Path, opts: &Options, fs: &FsRef, dry_run: bool) -> Result<RepairReport> {
    opts.validate()?;
    if !fs.exists(dir) {
        return Err(no_database(dir));
    }
    // Before the lock: taking it creates `LOCK`, which must not appear in a directory
    // that holds no database.
    let listing = Listing::read(fs, dir)?;
    if !listing.manifest && listing.segments.is_empty() && listing.wals.is_empty() {
        return Err(no_database(dir));
    }
    let _lock = lock(fs, dir, dry_run)?;
    let listing = Listing::read(fs, dir)?;
    let mut plan = Plan::inspect(fs, dir, &listing)?;
    plan.report.dry_run = dry_run;
    if plan.report.rebuilt && !dry_run {
        manifest_rebuild::apply(fs, dir, opts, &listing, &mut plan)?;
    } else if plan.report.rebuilt {
        plan.report.new_segments = plan.planned_new_segments(&listing);
    }
    Ok(plan.report)
}

fn lock(fs: &FsRef, dir: &Path, dry_run: bool) -> Result<Option<Box<dyn FileLock>>> {
    let path = dir.join(LOCK);
    if dry_run && !fs.exists(&path) {
        return Ok(None);
    }
    fs.lock(&path).map(Some).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            Error::Locked {
                path: dir.to_path_buf(),
            }
        } else {
            Error::io(path, e)
        }
    })
}
