//! `lsm-verify`: check every checksum and invariant of a segment, WAL, manifest or
//! whole database directory, and report each problem as one [`Problem`] line.
//!
//! Verification is stricter than recovery. Recovery drops a damaged log tail when
//! the rules of `docs/format.md` section 4 say nothing durable was lost; verify
//! reports any damaged bytes as a problem (saying what recovery would do), and keeps
//! quiet only about a tail that is *cut short* (a file ending inside a record, or
//! zeroed), which is what a crash while appending leaves behind. That way a single
//! flipped byte anywhere in a checksummed region is always reported.

pub mod blob;
pub mod dir;
pub mod log;
pub mod segment;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::display::plural;
use crate::dump::{out_err, write_json};
use crate::error::Result;
use crate::files::{detect, Target};
use crate::problem::Problem;

/// What a verification looked at and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Files checked.
    pub files_checked: usize,
    /// Segment blocks checked (data, index, filter, properties).
    pub blocks_checked: u64,
    /// Log records checked (WAL batches, manifest edits).
    pub records_checked: u64,
    /// Range tombstones read from segments' range-tombstone blocks (fragments, as
    /// the properties count them), each block checked against its checksum, its
    /// fragment order and the properties.
    pub range_tombstones_checked: u64,
    /// Segments holding at least one range tombstone.
    pub segments_with_range_tombstones: u64,
    /// Problems found; any makes the tool exit with status 1.
    pub problems: Vec<Problem>,
    /// Waste that loses nothing (a live blob file no live segment points into):
    /// printed, but the exit status stays 0.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
    /// Facts worth knowing that are not problems (a torn log tail, a file being
    /// written by a running process).
    pub notes: Vec<String>,
    /// The keyspaces the manifest records (a directory only), each with the live
    /// segments of it that were checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keyspaces: Vec<KeyspaceLine>,
}

/// A keyspace of a verified directory.
#[derive(Debug, Clone, Serialize)]
pub struct KeyspaceLine {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Its live segments found in the directory.
    pub segments: usize,
}

impl Report {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Prints one line per problem and note, then the summary line.
    ///
    /// # Errors
    /// Errors of `out`.
    pub fn print_text(&self, out: &mut dyn Write) -> Result<()> {
        for p in &self.problems {
            writeln!(out, "{p}").map_err(out_err)?;
        }
        for w in &self.warnings {
            writeln!(out, "warning: {w}").map_err(out_err)?;
        }
        for n in &self.notes {
            writeln!(out, "note: {n}").map_err(out_err)?;
        }
        if !self.keyspaces.is_empty() {
            let list: Vec<String> = self
                .keyspaces
                .iter()
                .map(|k| {
                    format!(
                        "{} {:?} ({})",
                        k.id,
                        k.name,
                        plural(k.segments as u64, "segment")
                    )
                })
                .collect();
            writeln!(out, "keyspaces: {}", list.join(", ")).map_err(out_err)?;
        }
        if self.range_tombstones_checked > 0 {
            writeln!(
                out,
                "{} checked in {}",
                plural(self.range_tombstones_checked, "range tombstone"),
                plural(self.segments_with_range_tombstones, "segment")
            )
            .map_err(out_err)?;
        }
        let warnings = match self.warnings.len() {
            0 => String::new(),
            n => format!(", {}", plural(n as u64, "warning")),
        };
        writeln!(
            out,
            "{} checked, {} checked, {} checked, {} found{warnings}",
            plural(self.files_checked as u64, "file"),
            plural(self.blocks_checked, "block"),
            plural(self.records_checked, "record"),
            plural(self.problems.len() as u64, "problem")
        )
        .map_err(out_err)
    }

    /// Prints the report as one JSON document.
    ///
    /// # Errors
    /// Errors of `out`.
    pub fn print_json(&self, out: &mut dyn Write) -> Result<()> {
        write_json(out, self)
    }
}

/// Verifies `path`: a directory, or a single file whose kind is told by
/// [`detect`] or forced.
///
/// # Errors
/// When the path cannot be read at all (problems inside files are in the report).
pub fn verify_path(path: &Path, forced: Option<Target>) -> Result<Report> {
    let mut report = Report::default();
    let name = path.display().to_string();
    match detect(path, forced)? {
        Target::Dir => dir::verify_dir(path, &mut report)?,
        Target::Segment => {
            let data = crate::error::read_file(path)?;
            segment::verify_segment(bytes::Bytes::from(data), &name, &mut report);
        }
        Target::Wal => {
            let data = crate::error::read_file(path)?;
            log::verify_wal(&data, &name, &mut report);
        }
        Target::Manifest => {
            let data = crate::error::read_file(path)?;
            log::verify_manifest(&data, &name, &mut report);
        }
        Target::Blob => {
            let data = crate::error::read_file(path)?;
            let number = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            blob::verify_blob(bytes::Bytes::from(data), number, &name, &mut report);
        }
    }
    Ok(report)
}
