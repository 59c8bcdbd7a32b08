//! `explain KEY`: how a point lookup proceeds through the memtables and the levels,
//! as the engine reports it (`Db::explain`, the same view and files a `get` reads).
//! This module only renders the trace: the memtables newest first, then each level
//! with the segments whose key range covers the key (newest first in level 0), what
//! each Bloom filter says, which index entry names the block a read loads, what the
//! block holds, and where the lookup stops.
//!
//! A version whose value is kept in a blob file (key-value separation) is shown
//! as the blob pointer the segment holds, with the blob file and offset the value
//! was read from.
//!
//! The trace also names the range tombstone over the key the lookup met
//! (`LookupTrace::hiding_range_tombstone`), so the answer says which range delete
//! hides the key, and where it is.

use std::time::{SystemTime, UNIX_EPOCH};

use lsm_core::{
    CoveringTombstone, FilterAnswer, FoundVersion, LookupStep, LookupTrace, TombstoneSource,
    VersionKind,
};

use crate::display::{plural, show, utc_time, Style};
use crate::dump::show_end;
use crate::files::{blob_name, segment_name, wal_name};

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

/// Where a range tombstone is, in words.
fn tombstone_place(t: &CoveringTombstone) -> String {
    match t.source {
        TombstoneSource::Memtable { wal_number } => {
            format!("the memtable (WAL {})", wal_name(wal_number))
        }
        TombstoneSource::Segment { file_number, .. } => segment_name(file_number),
        _ => "an unknown place".to_string(),
    }
}

/// The lines that describe `trace`.
pub fn explain(trace: &LookupTrace, style: Style) -> Vec<String> {
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
                match found {
                    Some(v) => {
                        place = format!("{} (level {level})", segment_name(*file_number));
                        let what = if v.blob.is_some() {
                            ", a blob pointer"
                        } else {
                            ""
                        };
                        lines.push(format!(
                            "      block read: {} at seq {}{what}: stop here",
                            kind(v),
                            v.sequence
                        ));
                        if let Some(p) = &v.blob {
                            place = format!("{place} through its blob pointer");
                            lines.push(format!(
                                "      value read from {} at offset {} (record of {} bytes, \
                                 value of {} bytes)",
                                blob_name(p.file_number),
                                p.offset,
                                p.len,
                                p.value_len
                            ));
                        }
                    }
                    None => lines.push(
                        "      block read: key absent (the Bloom filter gave a false positive)"
                            .into(),
                    ),
                }
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
                    let why = if trace.found.is_none() {
                        "a range tombstone covers the key: older files hold only older versions"
                    } else {
                        "the newest version was found"
                    };
                    lines.push(format!("  not consulted: {} ({why})", parts.join(", ")));
                }
            }
            _ => {}
        }
    }
    let hidden = trace.hiding_range_tombstone();
    let by_range = |t: &CoveringTombstone| {
        format!(
            "the range tombstone [{}, {}) at seq {} in {}",
            show(&t.start, whole),
            show_end(&t.end, whole),
            t.sequence,
            tombstone_place(t)
        )
    };
    lines.push(match (&trace.found, hidden) {
        (Some(v), Some(t)) => format!(
            "answer: not found (the {} at seq {} in {place} is hidden by {})",
            if v.kind == VersionKind::Put {
                "put"
            } else {
                "tombstone"
            },
            v.sequence,
            by_range(t)
        ),
        (None, Some(t)) => format!("answer: not found (deleted by {})", by_range(t)),
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
        (None, None) => "answer: not found (no version anywhere)".to_string(),
    });
    lines
}
