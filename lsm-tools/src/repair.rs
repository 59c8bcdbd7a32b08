//! `lsm-repair`: repairing a database that does not open.
//!
//! The work is the engine's ([`lsm_core::repair()`], [`lsm_core::repair_dry_run`]): it
//! takes the database lock, refuses a directory that holds no database, rebuilds the
//! manifest from what verifies, moves damaged files into `lost/` and returns a
//! [`RepairReport`] naming exactly what was lost. This module runs it, prints the
//! report and turns it into the tool's exit status.

use std::io::Write;
use std::path::Path;

use lsm_core::{Options, RepairReport};

/// Exit status: nothing was lost (or there was nothing to repair).
pub const EXIT_NOTHING_LOST: u8 = 0;
/// Exit status: the repair (or, with `--dry-run`, a repair) lost data; the report
/// names it.
pub const EXIT_DATA_LOST: u8 = 1;
/// Exit status: bad command-line usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the directory could not be repaired (locked, no database there, an
/// I/O error, a format this build does not read); nothing was changed, or the
/// directory is left in a state a second run repairs.
pub const EXIT_FAILED: u8 = 3;

/// Repairs the database in `dir` (or reports what a repair would do, with
/// `dry_run`), writing new segments with the engine's default options.
///
/// # Errors
/// What [`lsm_core::repair()`] returns, with a message for the user: see
/// [`describe_error`].
pub fn run(dir: &Path, dry_run: bool) -> Result<RepairReport, String> {
    let result = if dry_run {
        lsm_core::repair_dry_run(dir, Options::default())
    } else {
        lsm_core::repair(dir, Options::default())
    };
    result.map_err(|e| describe_error(dir, &e))
}

/// The exit status a report gives: [`EXIT_DATA_LOST`] when anything was lost.
pub fn exit_status(report: &RepairReport) -> u8 {
    if report.lost_anything() {
        EXIT_DATA_LOST
    } else {
        EXIT_NOTHING_LOST
    }
}

/// A message for an error of the engine's repair.
pub fn describe_error(dir: &Path, e: &lsm_core::Error) -> String {
    match e {
        lsm_core::Error::Locked { .. } => format!(
            "{} is locked: a process has the database open; close it first (nothing was \
             changed)",
            dir.display()
        ),
        lsm_core::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            format!(
                "{} holds no database (no MANIFEST, segment or WAL file): nothing to repair, \
                 nothing was created",
                dir.display()
            )
        }
        other => format!("could not repair {}: {other}", dir.display()),
    }
}

/// Prints `report` as text, or as one JSON document.
///
/// # Errors
/// From writing to `out`.
pub fn print(report: &RepairReport, json: bool, out: &mut impl Write) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()
}
