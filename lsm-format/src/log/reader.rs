//! Reading a whole log and describing damage: `docs/format.md` section 4.

use crate::error::Result;

/// One complete record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// File offset of the record's first fragment header.
    pub offset: u64,
    /// File offset just past the record's last fragment.
    pub end: u64,
    /// The record's bytes: borrowed when it had one fragment, joined otherwise.
    pub payload: std::borrow::Cow<'a, [u8]>,
}

/// Why the walk of a log stopped before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDamageKind {
    /// A header or payload runs past the end of the file.
    Incomplete,
    /// The rest of the file from the damage on is zero bytes.
    Zeroed,
    /// A fragment whose checksum does not match.
    BadChecksum,
    /// A fragment with an unknown type or a length that overruns its block.
    BadType,
    /// Fragments out of sequence (MIDDLE or LAST without FIRST, FIRST inside a record).
    BadSequence,
}

/// Damage met while walking a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDamage<'a> {
    /// Offset of the first byte of the first bad fragment (or of the record it broke).
    pub offset: u64,
    /// What was wrong.
    pub kind: LogDamageKind,
    /// Complete, valid records found after resynchronising at later block boundaries.
    pub records_after: Vec<LogRecord<'a>>,
}

/// The result of walking a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogContents<'a> {
    /// Every complete record before the first damage, in order.
    pub records: Vec<LogRecord<'a>>,
    /// The first damage, if the walk did not reach the end of the file cleanly.
    pub damage: Option<LogDamage<'a>>,
}

/// Walks every fragment of `data` (a whole log file).
///
/// Never fails on bad bytes: damage is described in [`LogContents::damage`]. The
/// `Result` is for records over [`super::MAX_LOG_RECORD_LEN`].
pub fn read_log(data: &[u8]) -> Result<LogContents<'_>> {
    let _ = data;
    todo!()
}
