//! `lsm`'s operation commands: whole-database operations that name their directories
//! after the command (`lsm checkpoint DIR DEST`, `lsm backup DIR BACKUP_DIR`,
//! `lsm restore BACKUP_DIR ID DEST`, `lsm backups BACKUP_DIR`, ...), as opposed to
//! the shell's commands, which come after the database (`lsm DIR get KEY`).
//!
//! Which form a command line is: when its first argument is one of
//! [`OPERATIONS`], it is an operation; anything else is a database directory. A
//! database directory literally named like an operation is reached through a path
//! that is not the bare word (`lsm ./backup get k`).
//!
//! Each operation is a thin call of the engine's: [`Db::checkpoint`],
//! [`Db::backup`], [`lsm_core::restore`], [`lsm_core::backups`],
//! [`lsm_core::verify_backup`], [`lsm_core::delete_backup`],
//! [`lsm_core::purge_old_backups`].

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use lsm_core::{BackupFile, BackupFileKind, BackupInfo, Db, Options};

use crate::display::{human_bytes, plural, utc_time};
use crate::dump::out_err;
use crate::error::{Error, Result};

/// The first words that make a command line an operation.
pub const OPERATIONS: &[&str] = &[
    "checkpoint",
    "backup",
    "restore",
    "backups",
    "verify-backup",
    "delete-backup",
    "purge-backups",
];

/// True when `first`, the first argument of a command line, names an operation.
pub fn is_operation(first: &std::ffi::OsStr) -> bool {
    first.to_str().is_some_and(|w| OPERATIONS.contains(&w))
}

/// The command line of an operation: `lsm OPERATION ARGS...`.
#[derive(Debug, Parser)]
#[command(name = "lsm", version)]
pub struct OperationLine {
    /// The operation.
    #[command(subcommand)]
    pub operation: Operation,
}

/// A whole-database operation of `lsm`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Operation {
    /// Write a consistent copy of the database in DIR to the new directory DEST,
    /// which opens as a database of its own. Takes DIR's lock: a database another
    /// process has open is refused (that process must take the checkpoint).
    Checkpoint {
        /// The database directory.
        dir: PathBuf,
        /// The new directory; must not exist.
        dest: PathBuf,
    },
    /// Add a backup of the database in DIR to BACKUP_DIR (created if missing),
    /// copying only the files (segments, blob files) BACKUP_DIR lacks. Takes DIR's lock.
    Backup {
        /// The database directory.
        dir: PathBuf,
        /// The backup directory.
        backup_dir: PathBuf,
    },
    /// Restore backup ID of BACKUP_DIR into the new directory DEST.
    Restore {
        /// The backup directory.
        backup_dir: PathBuf,
        /// The backup's number (see `lsm backups`).
        id: u64,
        /// The new database directory; must not exist.
        dest: PathBuf,
    },
    /// List the backups in BACKUP_DIR.
    Backups {
        /// The backup directory.
        backup_dir: PathBuf,
    },
    /// Check backup ID: its catalog and the size and checksum of each of its files.
    VerifyBackup {
        /// The backup directory.
        backup_dir: PathBuf,
        /// The backup's number.
        id: u64,
    },
    /// Delete backup ID, and the files no other backup uses.
    DeleteBackup {
        /// The backup directory.
        backup_dir: PathBuf,
        /// The backup's number.
        id: u64,
    },
    /// Delete the oldest backups until KEEP remain.
    PurgeBackups {
        /// The backup directory.
        backup_dir: PathBuf,
        /// How many of the newest backups to keep.
        #[arg(long)]
        keep: usize,
    },
}

/// Runs `operation`, printing what it did to `out`.
///
/// # Errors
/// `Usage` for a missing, foreign or locked database directory and for a
/// destination that exists; engine errors (`Db`), among them corruption found in a
/// backup; errors of `out`.
pub fn run_operation(operation: &Operation, out: &mut dyn Write) -> Result<()> {
    match operation {
        Operation::Checkpoint { dir, dest } => {
            refuse_existing(dest)?;
            let db = open(dir, "checkpoint")?;
            db.checkpoint(dest).map_err(engine)?;
            db.close().map_err(engine)?;
            writeln!(
                out,
                "checkpoint of {} written to {}",
                dir.display(),
                dest.display()
            )
            .map_err(out_err)
        }
        Operation::Backup { dir, backup_dir } => {
            let db = open(dir, "backup")?;
            let new = db.backup(backup_dir).map_err(engine)?;
            db.close().map_err(engine)?;
            let info = &new.info;
            writeln!(
                out,
                "backup {} of {}: {} ({}), sequence {}; copied {} ({})",
                info.id,
                dir.display(),
                files_phrase(&info.files),
                human_bytes(info.size()),
                info.sequence,
                plural(new.copied_files as u64, "file"),
                human_bytes(new.copied_bytes),
            )
            .map_err(out_err)
        }
        Operation::Restore {
            backup_dir,
            id,
            dest,
        } => {
            refuse_existing(dest)?;
            let info = lsm_core::restore(backup_dir, *id, dest).map_err(engine)?;
            writeln!(
                out,
                "backup {id} restored to {}: {} ({}), sequence {}",
                dest.display(),
                files_phrase(&info.files),
                human_bytes(info.size()),
                info.sequence
            )
            .map_err(out_err)
        }
        Operation::Backups { backup_dir } => {
            let list = lsm_core::backups(backup_dir).map_err(engine)?;
            print_backups(&list, out)
        }
        Operation::VerifyBackup { backup_dir, id } => {
            let info = lsm_core::verify_backup(backup_dir, *id).map_err(engine)?;
            writeln!(
                out,
                "backup {id} is intact: {} ({}) match their checksums",
                files_phrase(&info.files),
                human_bytes(info.size())
            )
            .map_err(out_err)
        }
        Operation::DeleteBackup { backup_dir, id } => {
            let removed = lsm_core::delete_backup(backup_dir, *id).map_err(engine)?;
            writeln!(
                out,
                "backup {id} deleted; removed {} that no other backup uses",
                plural(removed as u64, "file")
            )
            .map_err(out_err)
        }
        Operation::PurgeBackups { backup_dir, keep } => {
            let deleted = lsm_core::purge_old_backups(backup_dir, *keep).map_err(engine)?;
            let ids: Vec<String> = deleted.iter().map(u64::to_string).collect();
            match ids.is_empty() {
                true => writeln!(out, "nothing to delete"),
                false => writeln!(
                    out,
                    "deleted {}: {}",
                    plural(ids.len() as u64, "backup"),
                    ids.join(", ")
                ),
            }
            .map_err(out_err)
        }
    }
}

/// "3 segments", or "3 segments and 1 blob file": the files of a backup by kind.
fn files_phrase(files: &[BackupFile]) -> String {
    let blobs = files
        .iter()
        .filter(|f| f.kind == BackupFileKind::Blob)
        .count() as u64;
    let segments = plural(files.len() as u64 - blobs, "segment");
    match blobs {
        0 => segments,
        n => format!("{segments} and {}", plural(n, "blob file")),
    }
}

/// The listing of `lsm backups`: one line per backup, oldest first.
fn print_backups(list: &[BackupInfo], out: &mut dyn Write) -> Result<()> {
    if list.is_empty() {
        return writeln!(out, "no backups").map_err(out_err);
    }
    writeln!(
        out,
        "{:>4}  {:<24}  {:>10}  {:>8}  {:>10}",
        "id", "created (UTC)", "sequence", "files", "size"
    )
    .map_err(out_err)?;
    for b in list {
        writeln!(
            out,
            "{:>4}  {:<24}  {:>10}  {:>8}  {:>10}",
            b.id,
            utc_time(b.created_unix_secs.saturating_mul(1000)),
            b.sequence,
            b.files.len(),
            human_bytes(b.size())
        )
        .map_err(out_err)?;
    }
    Ok(())
}

/// An engine error for the user: a refusal (a missing backup, a directory that is
/// not a backup directory, one in use) is said plainly, with its path; anything else
/// as the engine words it.
fn engine(e: lsm_core::Error) -> Error {
    use std::io::ErrorKind::{AlreadyExists, NotFound, WouldBlock};
    match e {
        lsm_core::Error::Io { path, source }
            if matches!(source.kind(), NotFound | AlreadyExists | WouldBlock) =>
        {
            Error::Usage(format!("{}: {source}", path.display()))
        }
        other => Error::Db(other),
    }
}

fn refuse_existing(dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(Error::Usage(format!(
            "{} exists; give a new directory",
            dest.display()
        )));
    }
    Ok(())
}

/// Opens the database in `dir` for `what`, refusing clearly a directory that holds
/// no database (without creating anything) and one another process has open.
fn open(dir: &Path, what: &str) -> Result<Db> {
    if !dir.join("MANIFEST").is_file() {
        let why = if dir.is_dir() {
            "holds no database (no MANIFEST)"
        } else {
            "does not exist"
        };
        let hint = match dir.is_dir() {
            true => String::new(),
            false => format!(
                " (usage: lsm {what} DIR ...; a database directory named `{what}` is \
                 given as `./{what}`)"
            ),
        };
        return Err(Error::Usage(format!("{} {why}{hint}", dir.display())));
    }
    let options = Options::default().with_create_if_missing(false);
    Db::open(dir, options).map_err(|e| match e {
        lsm_core::Error::Locked { path } => Error::Usage(format!(
            "{} is locked: another process has the database open; a {what} of a running \
             database must be taken by the process that has it open (`Db::{what}`)",
            path.display()
        )),
        other => Error::Db(other),
    })
}
