//! `explain KEY`: how a point lookup proceeds through the memtables and the levels,
//! as the engine reports it (`Db::explain`, the same view and files a `get` reads).
//! This module only renders the trace: the memtables newest first, then each level
//! with the segments whose key range covers the key (newest first in level 0), what
//! each Bloom filter says, which index entry names the block a read loads, what the
//! block holds, and where the lookup stops.
//!
//! The engine's trace does not apply range tombstones: when `get` does not return
//! the put the trace found, [`hidden_by`] names the range tombstone that hides it,
//! read from the directory's live files (segments' range-tombstone blocks and the
//! live WALs' range deletes).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use lsm_core::{FilterAnswer, FoundVersion, LookupStep, LookupTrace, VersionKind};
use lsm_format::range_del::RangeTombstone;

use crate::display::{plural, show, utc_time, Style};
use crate::dump::show_end;
use crate::files::{segment_name, wal_name};
use crate::state::DbState;

/// Why a put the lookup found is not what `get` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden {
    /// A newer range tombstone covers the key, in the file named.
    RangeTombstone {
        /// The tombstone (a fragment of it as a segment stores it).
        tombstone: RangeTombstone,
        /// `NNNNNN.seg`, or `the memtable (WAL NNNNNN.wal)`.
        place: String,
    },
    /// No range tombstone of the live files explains it (it was read from the files
    /// after the lookup, so a compaction in between can hide it).
    Unexplained,
}

/// The newest range tombstone of the live files of `dir` that covers `key` with a
/// sequence number in `(found_seq, read_seq]`: the one that hides the version at
/// `found_seq` from a reader at `read_seq`.
pub fn hidden_by(dir: &Path, key: &[u8], found_seq: u64, read_seq: u64) -> Hidden {
    let Ok(state) = DbState::load(dir) else {
        return Hidden::Unexplained;
    };
    let hides = |t: &RangeTombstone| t.contains(key) && t.seq > found_seq && t.seq <= read_seq;
    let mut best: Option<(RangeTombstone, String)> = None;
    let mut consider = |t: RangeTombstone, place: &dyn Fn() -> String| {
        if hides(&t) && best.as_ref().is_none_or(|(b, _)| t.seq > b.seq) {
            best = Some((t, place()));
        }
    };
    for seg in &state.segments {
        if let Ok(reader) = seg.open() {
            for t in reader.range_tombstones().tombstones() {
                consider(t, &|| seg.name());
            }
        }
    }
    for wal in &state.wals {
        let Ok(replay) = &wal.replay else { continue };
        for batch in &replay.batches {
            for (i, op) in batch.ops.iter().enumerate() {
                if op.kind == lsm_format::EntryKind::RangeDelete {
                    let t = RangeTombstone::new(
                        op.key.clone(),
                        op.value.clone(),
                        batch.first_seq + i as u64,
                    );
                    consider(t, &|| format!("the memtable (WAL {})", wal.name()));
                }
            }
        }
    }
    match best {
        Some((tombstone, place)) => Hidden::RangeTombstone { tombstone, place },
        None => Hidden::Unexplained,
    }
}

fn kind(v: &FoundVersion) -> String {
    match (v.kind, v.expires_at) {
        (VersionKind::Put, Some(at)) => format!("put expiring {}", time(at)),
        (VersionKind::Put, None) => "put".to_string(),
        _ => "delete".to_string(),
    }
}

/// A time as UTC and Unix milliseconds.
fn time(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    format!("{} ({ms} ms)", utc_time(ms))
}

/// The lines that describe `trace`; `hidden` when `get` does not return the put the
/// trace found.
pub fn explain(trace: &LookupTrace, hidden: Option<&Hidden>, style: Style) -> Vec<String> {
    let whole = style.whole();
    let mut lines = vec![
        format!("lookup of {}", show(&trace.key, whole)),
        format!(
            "path (reported by the engine, reading at seq {}):",
            trace.sequence
        ),
    ];
    let mut place = String::new();
    for step in &trace.steps {
        match step {
            LookupStep::Memtable {
                immutable,
                wal_number,
                found,
            } => {
                let which = match immutable {
                    None => format!("memtable (WAL {})", wal_name(*wal_number)),
                    Some(i) => format!(
                        "immutable memtable {i} (WAL {}, waiting for flush)",
                        wal_name(*wal_number)
                    ),
                };
                lines.push(match found {
                    Some(v) => {
                        place = format!("the {}", which.split(" (").next().unwrap_or("memtable"));
                        format!("  {which}: {} at seq {}: stop here", kind(v), v.sequence)
                    }
                    None => format!("  {which}: no version of the key"),
                });
            }
            LookupStep::Level {
                level,
                segments,
                out_of_range,
            } => {
                let order = if *level == 0 { ", newest first" } else { "" };
                lines.push(format!(
                    "  level {level} ({}{order}):",
                    plural(*segments as u64, "segment")
                ));
                if *out_of_range > 0 {
                    lines.push(format!(
                        "    {} skipped: key range does not cover the key",
                        plural(*out_of_range as u64, "segment")
                    ));
                }
            }
            LookupStep::Segment {
                level,
                file_number,
                smallest_key,
                largest_key,
                filter,
                block,
                found,
            } => {
                lines.push(format!(
                    "    {}: key range {} ..= {} covers the key",
                    segment_name(*file_number),
                    show(smallest_key, whole),
                    show(largest_key, whole)
                ));
                lines.push(
                    match filter {
                        FilterAnswer::NoFilter => "      no Bloom filter in this segment",
                        FilterAnswer::Absent => "      Bloom filter: absent; segment skipped",
                        _ => "      Bloom filter: maybe present",
                    }
                    .to_string(),
                );
                if *filter == FilterAnswer::Absent {
                    continue;
                }
                let Some((i, offset, len)) = block else {
                    lines.push("      the key is past the last block: no block read".into());
                    continue;
                };
                lines.push(format!(
                    "      index entry {i} names the block at offset {offset} ({len} bytes)"
                ));
                lines.push(match found {
                    Some(v) => {
                        place = format!("{} (level {level})", segment_name(*file_number));
                        format!(
                            "      block read: {} at seq {}: stop here",
                            kind(v),
                            v.sequence
                        )
                    }
                    None => "      block read: key absent (the Bloom filter gave a false positive)"
                        .into(),
                });
            }
            LookupStep::NotConsulted { in_level, deeper } => {
                let mut parts = Vec::new();
                if *in_level > 0 {
                    parts.push(format!(
                        "{} in this level",
                        plural(*in_level as u64, "older segment")
                    ));
                }
                if *deeper > 0 {
                    parts.push(format!(
                        "{} in {} levels",
                        plural(*deeper as u64, "segment"),
                        if place.contains("memtable") {
                            "the"
                        } else {
                            "deeper"
                        }
                    ));
                }
                if !parts.is_empty() {
                    lines.push(format!(
                        "  not consulted: {} (the newest version was found)",
                        parts.join(", ")
                    ));
                }
            }
            _ => {}
        }
    }
    lines.push(match (&trace.found, hidden) {
        (
            Some(v),
            Some(Hidden::RangeTombstone {
                tombstone: t,
                place: at,
            }),
        ) => format!(
            "answer: not found (the put at seq {} in {place} is hidden by the range \
             tombstone [{}, {}) at seq {} in {at})",
            v.sequence,
            show(&t.start, whole),
            show_end(&t.end, whole),
            t.seq
        ),
        (Some(v), Some(Hidden::Unexplained)) => format!(
            "answer: not found (the put at seq {} in {place} is hidden: a get does not \
             return it)",
            v.sequence
        ),
        (Some(v), None) if v.kind == VersionKind::Put && trace.value().is_none() => format!(
            "answer: not found (the put at seq {} in {place} expired at {}; the lookup \
             reads at {})",
            v.sequence,
            v.expires_at.map_or_else(|| "?".to_string(), time),
            time(trace.read_time)
        ),
        (Some(v), None) if v.kind == VersionKind::Put => format!(
            "answer: {} (put, seq {}) from {place}",
            show(&v.value, style),
            v.sequence
        ),
        (Some(v), None) => format!(
            "answer: not found (deleted by the tombstone at seq {} in {place})",
            v.sequence
        ),
        (None, _) => "answer: not found (no version anywhere)".to_string(),
    });
    lines
}
