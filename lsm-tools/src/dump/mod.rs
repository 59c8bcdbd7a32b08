//! `lsm-dump`: print what a segment, WAL, manifest, blob file or database directory
//! holds.
//!
//! Each file kind has its own module that reads the file with `lsm-format` and
//! prints it either as text for people or as one JSON document for scripts (JSON
//! lines for `--entries` of a directory). The `lsm-dump` binary only parses flags and
//! calls [`dump`].

pub mod blob;
pub mod dir;
pub mod manifest;
pub mod segment;
pub mod wal;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::display::{show, Style};
use crate::error::{Error, Result};
use crate::files::{detect, Target};

/// What to print and how.
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// How keys and values are rendered.
    pub style: Style,
    /// One JSON document instead of text.
    pub json: bool,
    /// On a segment: also print every region with its offset and length.
    pub layout: bool,
    /// On a directory: print every live key instead of the summary.
    pub entries: bool,
    /// With `entries`: the keyspace listed (`None`: the default keyspace).
    pub keyspace: Option<String>,
    /// Only entries within this range.
    pub range: KeyRange,
    /// At most this many entries.
    pub limit: Option<usize>,
}

impl DumpOptions {
    /// True when `key` lies within the selected range.
    pub fn in_range(&self, key: &[u8]) -> bool {
        self.range.from.as_deref().is_none_or(|from| key >= from)
            && self.range.to.as_deref().is_none_or(|to| key < to)
    }
}

/// Dumps `path`, whose kind is told by [`detect`] (or forced by `forced`).
///
/// # Errors
/// `Usage` when `--layout` is asked of anything but a segment (a directory has no
/// layout, and ignoring the flag would look like an answer); when the path cannot be
/// read or is not one of ours, or when `out` fails.
pub fn dump(
    path: &Path,
    forced: Option<Target>,
    options: &DumpOptions,
    out: &mut dyn Write,
) -> Result<()> {
    let target = detect(path, forced)?;
    if options.layout && target != Target::Segment {
        return Err(Error::Usage(format!(
            "--layout applies to a segment file, and {} is a {}; give one of its \
             NNNNNN.seg files",
            path.display(),
            match target {
                Target::Dir => "directory",
                Target::Wal => "write-ahead log",
                Target::Manifest => "manifest",
                Target::Segment => "segment",
                Target::Blob => "blob file",
            }
        )));
    }
    if options.keyspace.is_some() && !(target == Target::Dir && options.entries) {
        return Err(Error::Usage(
            "--keyspace applies to --entries of a database directory (the summary \
             and the files show every keyspace)"
                .to_string(),
        ));
    }
    match target {
        Target::Dir => dir::dump_dir(path, options, out),
        Target::Segment => segment::dump_segment(path, options, out),
        Target::Wal => wal::dump_wal(path, options, out),
        Target::Manifest => manifest::dump_manifest(path, options, out),
        Target::Blob => blob::dump_blob(path, options, out),
    }
}

/// A key/value pair as JSON: readable strings (see [`crate::display`]) and the value
/// length, never shortened.
#[derive(Debug, Clone, Serialize)]
pub struct JsonEntry {
    /// The key.
    pub key: String,
    /// Sequence number, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// `put`, `delete`, `delete-range` or `put-expiring`, when the entry is a
    /// version rather than a live pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The value (absent for a delete; the user's value, without its expiry, for an
    /// expiring put).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Length of the value in bytes (of an expiring put: the user's value).
    pub value_len: usize,
    /// The end (exclusive) of a range delete, whose key is the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// When an expiring put expires, in Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// The same time, ISO 8601 in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The keyspace of a WAL op, when it is not keyspace 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<u32>,
}

/// The word for an entry kind.
pub fn kind_name(kind: lsm_format::EntryKind) -> &'static str {
    match kind {
        lsm_format::EntryKind::Put => "put",
        lsm_format::EntryKind::Tombstone => "delete",
        lsm_format::EntryKind::RangeDelete => "delete-range",
        lsm_format::EntryKind::ExpiringPut => "put-expiring",
        lsm_format::EntryKind::BlobPointer => "put-blob",
    }
}

/// Where a blob pointer entry's value is, in words, or why its stored bytes are
/// not a pointer.
///
/// ```
/// let stored = [0x01, 0x07, 0x19, 0x78, 0x64];
/// assert_eq!(
///     lsm_tools::dump::blob_pointer_cell(&stored),
///     "-> 000007.blob at 25, record of 120 bytes, value of 100 bytes"
/// );
/// ```
pub fn blob_pointer_cell(stored: &[u8]) -> String {
    match lsm_format::BlobPointer::decode(stored) {
        Ok(p) => format!(
            "-> {} at {}, record of {} bytes, value of {} bytes",
            lsm_format::file_name::blob_name(p.file_number),
            p.offset,
            p.len,
            p.value_len
        ),
        Err(e) => format!("damaged blob pointer of {} bytes: {e}", stored.len()),
    }
}

/// One version as JSON.
pub fn json_version(
    key: &[u8],
    seq: u64,
    kind: lsm_format::EntryKind,
    value: &[u8],
    style: Style,
) -> JsonEntry {
    use lsm_format::EntryKind;
    let whole = style.whole();
    let mut entry = JsonEntry {
        key: show(key, whole),
        seq: Some(seq),
        kind: Some(kind_name(kind)),
        value: None,
        value_len: value.len(),
        end: None,
        expires_at_ms: None,
        expires: None,
        keyspace: None,
    };
    match kind {
        EntryKind::Put => entry.value = Some(show(value, whole)),
        EntryKind::Tombstone => {}
        EntryKind::RangeDelete => {
            entry.end = Some(show_end(value, whole));
            entry.value_len = 0;
        }
        EntryKind::ExpiringPut => match lsm_format::entry::decode_expiring(value) {
            Some((at, user)) => {
                entry.value = Some(show(user, whole));
                entry.value_len = user.len();
                entry.expires_at_ms = Some(at);
                entry.expires = Some(crate::display::utc_time(at));
            }
            None => entry.value = Some(show(value, whole)),
        },
        EntryKind::BlobPointer => entry.value = Some(blob_pointer_cell(value)),
    }
    entry
}

/// The end of a range: a key, or `END` for [`lsm_format::range_del::END_OF_KEYS`]
/// (the end of `delete_prefix` of an empty prefix or of 0xff bytes: past every key).
pub fn show_end(end: &[u8], style: Style) -> String {
    if end == lsm_format::range_del::END_OF_KEYS {
        "END".to_string()
    } else {
        show(end, style)
    }
}

/// The value cell of a version: the value of a put, `-> END` of a range delete, the
/// user's value and expiry of an expiring put, nothing for a delete.
pub fn value_cell(kind: lsm_format::EntryKind, value: &[u8], style: Style) -> String {
    use lsm_format::EntryKind;
    match kind {
        EntryKind::Put => show(value, style),
        EntryKind::Tombstone => String::new(),
        EntryKind::RangeDelete => format!("up to {} (excluded)", show_end(value, style.whole())),
        EntryKind::BlobPointer => blob_pointer_cell(value),
        EntryKind::ExpiringPut => match lsm_format::entry::decode_expiring(value) {
            Some((at, user)) => format!(
                "{} (expires {} = {at} ms)",
                show(user, style),
                crate::display::utc_time(at)
            ),
            None => format!(
                "damaged: {} bytes, shorter than the 8-byte expiry",
                value.len()
            ),
        },
    }
}

/// One version as table cells: key, seq, kind, value (see [`value_cell`]).
pub fn version_row(
    key: &[u8],
    seq: u64,
    kind: lsm_format::EntryKind,
    value: &[u8],
    style: Style,
) -> Vec<String> {
    vec![
        show(key, style.whole()),
        seq.to_string(),
        kind_name(kind).to_string(),
        value_cell(kind, value, style),
    ]
}

/// Writes `value` as pretty JSON followed by a newline.
///
/// # Errors
/// Errors of `out`.
pub fn write_json(out: &mut dyn Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(json_err)?;
    writeln!(out).map_err(out_err)
}

/// Writes `value` as one line of JSON.
///
/// # Errors
/// Errors of `out`.
pub fn write_json_line(out: &mut dyn Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(json_err)?;
    writeln!(out).map_err(out_err)
}

/// An error of the JSON writer: the output's own errors (a closed pipe) stay I/O
/// errors on the output.
fn json_err(e: serde_json::Error) -> Error {
    if e.is_io() {
        out_err(e.into())
    } else {
        Error::Usage(format!("cannot write JSON: {e}"))
    }
}

/// An error writing to the output (a closed pipe, a full disk).
pub fn out_err(e: std::io::Error) -> Error {
    Error::Io {
        path: "<output>".into(),
        source: e,
    }
}

/// Bounds of `lsm-dump --entries`: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct KeyRange {
    /// First key included.
    pub from: Option<Vec<u8>>,
    /// First key excluded.
    pub to: Option<Vec<u8>>,
}
