//! `explain KEY`: how a point lookup proceeds through the memtable and the levels.
//!
//! The engine has no explain API, so the tool replays the lookup rules on the files
//! it reads itself (without the lock, [`crate::state`]): the memtable is the contents
//! of the live WALs; level 0 segments are consulted newest first, each one whose key
//! range covers the key; in deeper levels at most one segment covers it. For each
//! segment it shows the key-range check, what the Bloom filter says, which index entry
//! names the block a read would load, and what that block holds. The first version
//! found (a put or a tombstone) is the answer. Every line is derived from the files,
//! and the output says so and compares the result with the engine's own answer.

use std::cmp::Ordering;
use std::path::Path;

use lsm_format::entry::compare_internal;
use lsm_format::{Entry, EntryKind, MAX_SEQUENCE};

use crate::display::{plural, show, Style};
use crate::error::{Error, Result};
use crate::merge::memtable_entries;
use crate::state::{DbState, LiveSegment};

/// Where a version was found.
struct Found {
    place: String,
    entry: Entry,
}

/// Describes the lookup of `key` in the database in `dir`, given the engine's answer
/// (`engine`: the value, or `None` when absent). Returns the lines to print.
///
/// # Errors
/// When the directory or a live file cannot be read.
pub fn explain(dir: &Path, key: &[u8], engine: Option<&[u8]>, style: Style) -> Result<Vec<String>> {
    let state = DbState::load(dir)?;
    let k = show(key, style.whole());
    let mut lines = vec![
        format!("lookup of {k}"),
        format!(
            "engine answer (Db::get): {}",
            engine.map_or("not found".to_string(), |v| show(v, style))
        ),
        "path (derived by lsm from the files on disk, not reported by the engine; memtable = \
         live WALs):"
            .to_string(),
    ];
    let found = match memtable(&state, key, &mut lines) {
        Some(f) => {
            let deeper = state.segments.len();
            if deeper > 0 {
                lines.push(format!(
                    "  levels not consulted ({}): the newest version was found",
                    plural(deeper as u64, "segment")
                ));
            }
            Some(f)
        }
        None => levels(&state, key, style, &mut lines)?,
    };
    let derived = match &found {
        Some(f) if f.entry.kind == EntryKind::Put => {
            lines.push(format!(
                "answer: {} (put, seq {}) from {}",
                show(&f.entry.value, style),
                f.entry.seq,
                f.place
            ));
            Some(&f.entry.value[..])
        }
        Some(f) => {
            lines.push(format!(
                "answer: not found (deleted by the tombstone at seq {} in {})",
                f.entry.seq, f.place
            ));
            None
        }
        None => {
            lines.push("answer: not found (no version anywhere)".to_string());
            None
        }
    };
    lines.push(if derived == engine {
        "the derived answer agrees with the engine's".to_string()
    } else {
        "the derived answer DIFFERS from the engine's: the database changed between the two \
         reads, or the files on disk do not yet show a write the engine holds in memory"
            .to_string()
    });
    Ok(lines)
}

/// Step 1: the memtable, i.e. the operations of the live WALs.
fn memtable(state: &DbState, key: &[u8], lines: &mut Vec<String>) -> Option<Found> {
    let wals: Vec<String> = state.wals.iter().map(|w| w.name()).collect();
    let names = if wals.is_empty() {
        "none".to_string()
    } else {
        wals.join(", ")
    };
    let entries = memtable_entries(state);
    // Internal order puts the newest version of the key first.
    let newest = entries.iter().find(|e| e.key.as_ref() == key).cloned();
    match newest {
        Some(entry) => {
            lines.push(format!(
                "  memtable (live WALs: {names}): {} at seq {}: stop here",
                crate::dump::kind_name(entry.kind),
                entry.seq
            ));
            Some(Found {
                place: "the memtable".into(),
                entry,
            })
        }
        None => {
            lines.push(format!(
                "  memtable (live WALs: {names}): no version of the key"
            ));
            None
        }
    }
}

/// Step 2: the levels, top down, until a version is found.
fn levels(
    state: &DbState,
    key: &[u8],
    style: Style,
    lines: &mut Vec<String>,
) -> Result<Option<Found>> {
    let max_level = state.segments.iter().map(|s| s.level).max();
    let Some(max_level) = max_level else {
        lines.push("  no live segments".to_string());
        return Ok(None);
    };
    for level in 0..=max_level {
        let mut segs: Vec<&LiveSegment> =
            state.segments.iter().filter(|s| s.level == level).collect();
        if level == 0 {
            // Newest first: the one with the newest data shadows the others.
            segs.sort_by(|a, b| {
                (b.meta.largest_seq, b.meta.file_number)
                    .cmp(&(a.meta.largest_seq, a.meta.file_number))
            });
        }
        let order = if level == 0 { ", newest first" } else { "" };
        lines.push(format!(
            "  level {level} ({}{order}):",
            plural(segs.len() as u64, "segment")
        ));
        let covering: Vec<&LiveSegment> = segs
            .iter()
            .copied()
            .filter(|s| s.meta.smallest_key.as_ref() <= key && key <= s.meta.largest_key.as_ref())
            .collect();
        let skipped = segs.len() - covering.len();
        if skipped > 0 {
            lines.push(format!(
                "    {} skipped: key range does not cover the key",
                plural(skipped as u64, "segment")
            ));
        }
        for (i, seg) in covering.iter().enumerate() {
            if let Some(entry) = segment(seg, key, style, lines)? {
                let place = format!("{} (level {level})", seg.name());
                // Older level-0 segments covering the key, and every deeper level.
                let older = covering.len() - i - 1;
                let deeper = state.segments.iter().filter(|s| s.level > level).count();
                if older + deeper > 0 {
                    lines.push(format!(
                        "  not consulted: {} in this level, {} in deeper levels (the newest \
                         version was found)",
                        plural(older as u64, "older segment"),
                        plural(deeper as u64, "segment")
                    ));
                }
                return Ok(Some(Found { place, entry }));
            }
        }
    }
    Ok(None)
}

/// One segment: key range (already checked), Bloom filter, index entry, block.
fn segment(
    seg: &LiveSegment,
    key: &[u8],
    style: Style,
    lines: &mut Vec<String>,
) -> Result<Option<Entry>> {
    let whole = style.whole();
    let reader = seg.open()?;
    let fmt = |e| Error::format(seg.path.clone(), e);
    lines.push(format!(
        "    {}: key range {} ..= {} covers the key",
        seg.name(),
        show(&seg.meta.smallest_key, whole),
        show(&seg.meta.largest_key, whole)
    ));
    if reader.properties().bloom_bits_per_key == 0 {
        lines.push("      no Bloom filter in this segment".into());
    } else if reader.may_contain(key) {
        lines.push("      Bloom filter: maybe present".into());
    } else {
        lines.push("      Bloom filter: absent; segment skipped".into());
        return Ok(None);
    }
    // Section 3.3: the first index entry at or after (key, newest) names the only block
    // that can hold the key.
    let index = reader.index_entries().map_err(fmt)?;
    let block = index.iter().enumerate().find(|(_, e)| {
        compare_internal(&e.last_key, e.last_seq, key, MAX_SEQUENCE) != Ordering::Less
    });
    let Some((i, entry)) = block else {
        lines.push("      the key is past the last block: no block read".into());
        return Ok(None);
    };
    lines.push(format!(
        "      index entry {i} (last key {}) names the block at offset {} ({} bytes)",
        show(&entry.last_key, whole),
        entry.handle.offset,
        entry.handle.len
    ));
    let found = reader.get_unfiltered(key, MAX_SEQUENCE).map_err(fmt)?;
    lines.push(match &found {
        Some(e) => format!(
            "      block read: {} at seq {}: stop here",
            crate::dump::kind_name(e.kind),
            e.seq
        ),
        None => "      block read: key absent (the Bloom filter gave a false positive)".into(),
    });
    Ok(found)
}
