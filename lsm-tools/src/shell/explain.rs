//! `explain KEY`: how a point lookup proceeds through the memtables and the levels,
//! as the engine reports it (`Db::explain`, the same view and files a `get` reads).
//! This module only renders the trace: the memtables newest first, then each level
//! with the segments whose key range covers the key (newest first in level 0), what
//! each Bloom filter says, which index entry names the block a read loads, what the
//! block holds, and where the lookup stops.

use lsm_core::{FilterAnswer, FoundVersion, LookupStep, LookupTrace, VersionKind};

use crate::display::{plural, show, Style};
use crate::files::{segment_name, wal_name};

fn kind(v: &FoundVersion) -> &'static str {
    match v.kind {
        VersionKind::Put => "put",
        _ => "delete",
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
    lines.push(match &trace.found {
        Some(v) if v.kind == VersionKind::Put => format!(
            "answer: {} (put, seq {}) from {place}",
            show(&v.value, style),
            v.sequence
        ),
        Some(v) => format!(
            "answer: not found (deleted by the tombstone at seq {} in {place})",
            v.sequence
        ),
        None => "answer: not found (no version anywhere)".to_string(),
    });
    lines
}
