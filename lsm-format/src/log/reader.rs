//! Reading a whole log and describing damage: `docs/format.md` section 4.
//!
//! The walk has two phases. Before any damage, fragments must follow each other
//! exactly as the writer lays them out. At the first bad fragment the walk records a
//! [`LogDamage`] and switches to resynchronising: it continues at the next block
//! boundary, skips MIDDLE / LAST fragments of a record that began before, and collects
//! every complete record whose fragments all check out. Callers use those later
//! records to tell a torn tail (nothing valid was written after the damage, or nothing
//! that had been synced) from corruption. This module holds the strict walk; the
//! `resync` module holds resynchronisation and how it finds records written after
//! the damage in the same block.
//!
//! Memory is bounded by the input: payloads of one-fragment records are borrowed, and
//! joined records never exceed the bytes they were read from.

use std::borrow::Cow;

use super::{FragmentType, LogFraming, LOG_BLOCK_SIZE, MAX_LOG_RECORD_LEN};
use crate::checksum::checksum;
use crate::error::Result;

mod resync;
use resync::{resume_after_damage, resynchronise};

/// One complete record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// File offset of the record's first fragment header.
    pub offset: u64,
    /// File offset just past the record's last fragment.
    pub end: u64,
    /// The record's bytes: borrowed when it had one fragment, joined otherwise.
    pub payload: Cow<'a, [u8]>,
}

/// Why the walk of a log stopped before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDamageKind {
    /// A header or payload runs past the end of the file, or the file ends inside a
    /// record (after its FIRST fragment).
    Incomplete,
    /// The bad fragment starts a run of zero bytes that lasts to the end of the file,
    /// or to the end of its block with nothing valid after it.
    Zeroed,
    /// A fragment whose checksum does not match.
    BadChecksum,
    /// A fragment with an unknown type, a length that overruns its block, or non-zero
    /// bytes where the writer pads a block tail.
    BadType,
    /// Fragments out of sequence (MIDDLE or LAST without FIRST, FIRST or FULL inside a
    /// record), or a record joined past [`MAX_LOG_RECORD_LEN`].
    BadSequence,
}

/// Damage met while walking a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDamage<'a> {
    /// Offset where the unreadable part starts: the first byte of the bad fragment, or
    /// of the record it broke when that record began in an earlier fragment.
    /// Truncating the file here leaves exactly [`LogContents::records`].
    pub offset: u64,
    /// What was wrong with the fragment that stopped the walk.
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

impl LogContents<'_> {
    /// Offset just past the last record before any damage (0 when there is none):
    /// where a writer resumes after truncating a torn tail.
    pub fn clean_len(&self) -> u64 {
        self.records.last().map_or(0, |r| r.end)
    }
}

/// Walks every fragment of `data` (a whole log file of [`LogFraming::Wide`]
/// fragments).
///
/// # Errors
/// None today: bad bytes, including a record over [`MAX_LOG_RECORD_LEN`], are
/// described in [`LogContents::damage`]. The `Result` is kept so that a reader over a
/// file system can report I/O errors in the future.
pub fn read_log(data: &[u8]) -> Result<LogContents<'_>> {
    read_log_from(data, 0, LogFraming::Wide)
}

/// Walks the `framing` fragments of `data` (a whole log file) from offset `start`,
/// where a record begins, to the end. Offsets stay file offsets: block boundaries
/// are those of the file.
///
/// # Errors
/// As [`read_log`].
pub fn read_log_from(data: &[u8], start: usize, framing: LogFraming) -> Result<LogContents<'_>> {
    let f = framing;
    let mut records = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut pos = start;
    let stop = loop {
        match next_fragment(data, pos, f) {
            Fragment::End => match pending {
                // The file ends inside a record: its remaining fragments are missing.
                Some(p) => {
                    break Stop {
                        kind: LogDamageKind::Incomplete,
                        at: p.offset,
                        pos,
                        resume: pos,
                    }
                }
                None => {
                    return Ok(LogContents {
                        records,
                        damage: None,
                    });
                }
            },
            Fragment::Padding { next } => pos = next,
            Fragment::Bad { kind, skip } => {
                let at = pending.as_ref().map_or(pos, |p| p.offset);
                break Stop {
                    kind,
                    at,
                    pos,
                    resume: resume_after_damage(data, pos, skip, f),
                };
            }
            Fragment::Good { ty, payload, next } => match (ty, pending.take()) {
                (FragmentType::Full, None) => {
                    records.push(record(pos, next, Cow::Borrowed(payload)));
                    pos = next;
                }
                (FragmentType::First, None) => {
                    pending = Some(Pending::start(pos, payload));
                    pos = next;
                }
                (FragmentType::Middle, Some(mut p)) => {
                    if !p.push(payload) {
                        break Stop {
                            kind: LogDamageKind::BadSequence,
                            at: p.offset,
                            pos,
                            resume: next,
                        };
                    }
                    pending = Some(p);
                    pos = next;
                }
                (FragmentType::Last, Some(mut p)) => {
                    if !p.push(payload) {
                        break Stop {
                            kind: LogDamageKind::BadSequence,
                            at: p.offset,
                            pos,
                            resume: next,
                        };
                    }
                    records.push(record(p.offset, next, Cow::Owned(p.bytes)));
                    pos = next;
                }
                // A new record inside an unfinished one: the unfinished one is broken,
                // but this fragment is intact, so resynchronisation starts with it.
                (FragmentType::Full | FragmentType::First, Some(p)) => {
                    break Stop {
                        kind: LogDamageKind::BadSequence,
                        at: p.offset,
                        pos,
                        resume: pos,
                    };
                }
                (FragmentType::Middle | FragmentType::Last, None) => {
                    break Stop {
                        kind: LogDamageKind::BadSequence,
                        at: pos,
                        pos,
                        resume: next,
                    };
                }
            },
        }
    };
    let records_after = resynchronise(data, stop.resume, f);
    // A walk that stopped at the very end of the file (inside a record) read no bad
    // bytes at all: that stays `Incomplete`.
    let kind = if stop.pos < data.len() && zeroed_from(data, stop.pos, &records_after) {
        LogDamageKind::Zeroed
    } else {
        stop.kind
    };
    let damage = LogDamage {
        offset: stop.at as u64,
        kind,
        records_after,
    };
    Ok(LogContents {
        records,
        damage: Some(damage),
    })
}

/// Where and why the first walk stopped.
struct Stop {
    kind: LogDamageKind,
    /// Reported damage offset (start of the broken record).
    at: usize,
    /// Position of the fragment that stopped the walk.
    pos: usize,
    /// Where resynchronisation starts.
    resume: usize,
}

/// A record whose FIRST fragment was read and whose LAST was not yet.
struct Pending {
    offset: usize,
    bytes: Vec<u8>,
}

impl Pending {
    fn start(offset: usize, payload: &[u8]) -> Self {
        Pending {
            offset,
            bytes: payload.to_vec(),
        }
    }

    /// Appends a fragment; false when the record would exceed the limit.
    fn push(&mut self, payload: &[u8]) -> bool {
        if self.bytes.len() + payload.len() > MAX_LOG_RECORD_LEN {
            return false;
        }
        self.bytes.extend_from_slice(payload);
        true
    }
}

fn record(offset: usize, end: usize, payload: Cow<'_, [u8]>) -> LogRecord<'_> {
    LogRecord {
        offset: offset as u64,
        end: end as u64,
        payload,
    }
}

/// One step of the walk.
enum Fragment<'a> {
    /// `pos` is at the end of the file.
    End,
    /// Zero padding at a block tail (possibly cut short by the end of the file).
    Padding { next: usize },
    /// A fragment whose header and checksum are right.
    Good {
        ty: FragmentType,
        payload: &'a [u8],
        next: usize,
    },
    /// Something unreadable starts at `pos`. `skip` is where the fragment would end
    /// if its header's length is right and fits the block.
    Bad {
        kind: LogDamageKind,
        skip: Option<usize>,
    },
}

fn next_block(pos: usize) -> usize {
    (pos / LOG_BLOCK_SIZE + 1) * LOG_BLOCK_SIZE
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Reads the fragment (or padding) at `pos`.
fn next_fragment(data: &[u8], pos: usize, f: LogFraming) -> Fragment<'_> {
    use LogDamageKind::{BadChecksum, BadType, Incomplete};
    let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) else {
        return Fragment::End;
    };
    let header_len = f.header_len();
    let block_end = next_block(pos);
    let left_in_block = block_end - pos;
    if left_in_block < header_len {
        let tail = rest.get(..left_in_block).unwrap_or(rest);
        return if all_zero(tail) {
            Fragment::Padding { next: block_end }
        } else {
            Fragment::Bad {
                kind: BadType,
                skip: None,
            }
        };
    }
    let Some((header, body)) = rest.split_at_checked(header_len) else {
        return Fragment::Bad {
            kind: Incomplete,
            skip: None,
        };
    };
    let (sum, len, ty) = f.split_header(header);
    if header_len + len > left_in_block {
        return Fragment::Bad {
            kind: BadType,
            skip: None,
        };
    }
    // A zero header is preallocated or never-written space, not a fragment to step
    // over.
    let skip = (!all_zero(header)).then_some(pos + header_len + len);
    let Some(ty) = fragment_type(ty) else {
        return Fragment::Bad {
            kind: BadType,
            skip,
        };
    };
    let Some(payload) = body.get(..len) else {
        return Fragment::Bad {
            kind: Incomplete,
            skip: None,
        };
    };
    // The checksum covers len, type and payload: the bytes after the checksum field.
    match rest.get(f.checksum_len()..header_len + len) {
        Some(covered) if f.stored_checksum(checksum(covered)) == sum => Fragment::Good {
            ty,
            payload,
            next: pos + header_len + len,
        },
        _ => Fragment::Bad {
            kind: BadChecksum,
            skip,
        },
    }
}

fn fragment_type(b: u8) -> Option<FragmentType> {
    match b {
        1 => Some(FragmentType::Full),
        2 => Some(FragmentType::First),
        3 => Some(FragmentType::Middle),
        4 => Some(FragmentType::Last),
        _ => None,
    }
}

/// Whether the damage at `pos` is zeroed space rather than garbage: zeros from `pos`
/// to the end of the file, or to the end of its block with no valid record after.
fn zeroed_from(data: &[u8], pos: usize, records_after: &[LogRecord<'_>]) -> bool {
    let rest = data.get(pos..).unwrap_or_default();
    if all_zero(rest) {
        return true;
    }
    let block = rest.get(..next_block(pos) - pos).unwrap_or(rest);
    records_after.is_empty() && all_zero(block)
}
