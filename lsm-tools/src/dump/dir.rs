//! Dumping a database directory: a summary of levels, files, key ranges and the
//! memtable (live WALs), or with `--entries` every live key in order.
//!
//! The directory is read without taking its lock (see [`crate::state`]), so this
//! works beside a process that has the database open; the entries come from the
//! engine's read-only view (`Db::open_read_only`), the same pairs `Db::scan` returns.

use std::io::Write;
use std::ops::Bound;
use std::path::Path;

use serde::Serialize;

use super::manifest::{json_keyspaces, segment_table_with, JsonKeyspace, JsonSegmentMeta};
use super::{out_err, write_json, write_json_line, DumpOptions};
use crate::display::{human_bytes, plural, show, Style};
use crate::error::{Error, Result};
use crate::files::FileName;
use crate::state::DbState;
use crate::table::{Align, Table};
use lsm_format::manifest::SegmentMeta;

/// Figures of one level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelSummary {
    /// The keyspace whose level this is (each keyspace has levels of its own).
    pub keyspace: u32,
    /// The level.
    pub level: usize,
    /// Live segments.
    pub files: usize,
    /// Their bytes (as recorded in the manifest).
    pub bytes: u64,
    /// Their entries.
    pub entries: u64,
    /// Their tombstones.
    pub tombstones: u64,
    /// Their range tombstones (from each segment's properties).
    pub range_tombstones: u64,
    /// Smallest key of the level.
    pub smallest_key: Option<String>,
    /// Largest key of the level.
    pub largest_key: Option<String>,
}

/// A live WAL's state.
#[derive(Debug, Clone, Serialize)]
pub struct WalSummary {
    /// File name.
    pub file: String,
    /// Bytes.
    pub bytes: u64,
    /// Batches replayed.
    pub batches: usize,
    /// Operations replayed (puts, deletes, range deletes).
    pub ops: usize,
    /// Of those, range deletes.
    pub range_deletes: usize,
    /// Sequence numbers of the ops, when any.
    pub seqs: Option<(u64, u64)>,
    /// `clean`, `torn tail at N` or the corruption.
    pub state: String,
}

/// A live blob file: what the manifest records about it, and how much of it the
/// live segments still point to.
#[derive(Debug, Clone, Serialize)]
pub struct BlobSummary {
    /// The keyspace whose values it holds.
    pub keyspace: u32,
    /// File number (`NNNNNN.blob`).
    pub file_number: u64,
    /// Bytes.
    pub file_size: u64,
    /// Records (values) in it.
    pub records: u64,
    /// Sum of the lengths of their values.
    pub value_bytes: u64,
    /// Live segments pointing into it.
    pub segments: u64,
    /// Value bytes those segments point to: the rest is garbage, which a
    /// compaction rewrites away once it reaches `Options::blob_gc_ratio`.
    pub live_value_bytes: u64,
}

/// The directory summary.
#[derive(Debug, Clone, Serialize)]
pub struct DirSummary {
    /// The directory.
    pub dir: String,
    /// Bytes of the manifest.
    pub manifest_bytes: u64,
    /// Edits in it.
    pub manifest_edits: usize,
    /// WALs numbered below this are obsolete.
    pub log_number: u64,
    /// Next file number.
    pub next_file_number: u64,
    /// Last sequence number recorded in the manifest.
    pub last_sequence: u64,
    /// The live keyspaces.
    pub keyspaces: Vec<JsonKeyspace>,
    /// The id the next keyspace created would get.
    pub next_keyspace_id: u32,
    /// Levels with their figures.
    pub levels: Vec<LevelSummary>,
    /// Every live segment.
    pub segments: Vec<JsonSegmentMeta>,
    /// Every live blob file, by keyspace and number (absent when there is none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blob_files: Vec<BlobSummary>,
    /// The live WALs: the memtable.
    pub wals: Vec<WalSummary>,
    /// Files that are neither live nor the manifest nor the lock.
    pub other_files: Vec<String>,
    /// Problems met while reading the manifest.
    pub problems: Vec<String>,
}

/// The table of `levels` (one keyspace's), with a total row.
fn level_table(levels: &[&LevelSummary]) -> Table {
    let mut t = Table::new(&[
        ("level", Align::Right),
        ("files", Align::Right),
        ("bytes", Align::Right),
        ("entries", Align::Right),
        ("tombstones", Align::Right),
        ("range dels", Align::Right),
        ("keys", Align::Left),
    ])
    .indent(2);
    for l in levels {
        let keys = match (&l.smallest_key, &l.largest_key) {
            (Some(a), Some(b)) => format!("{a} ..= {b}"),
            _ => "-".into(),
        };
        t.row(vec![
            l.level.to_string(),
            l.files.to_string(),
            human_bytes(l.bytes),
            l.entries.to_string(),
            l.tombstones.to_string(),
            l.range_tombstones.to_string(),
            keys,
        ]);
    }
    let sum = |f: fn(&LevelSummary) -> u64| levels.iter().map(|l| f(l)).sum::<u64>();
    t.row(vec![
        "all".into(),
        sum(|l| l.files as u64).to_string(),
        human_bytes(sum(|l| l.bytes)),
        sum(|l| l.entries).to_string(),
        sum(|l| l.tombstones).to_string(),
        sum(|l| l.range_tombstones).to_string(),
        String::new(),
    ]);
    t
}

/// The figures of one keyspace's level made of `segs`.
fn level_summary(
    keyspace: u32,
    level: usize,
    segs: &[SegmentMeta],
    range_dels: &std::collections::HashMap<u64, u64>,
    whole: Style,
) -> LevelSummary {
    LevelSummary {
        keyspace,
        level,
        files: segs.len(),
        bytes: segs.iter().map(|s| s.file_size).sum(),
        entries: segs.iter().map(|s| s.entry_count).sum(),
        tombstones: segs.iter().map(|s| s.tombstone_count).sum(),
        range_tombstones: segs
            .iter()
            .filter_map(|s| range_dels.get(&s.file_number))
            .sum(),
        smallest_key: segs
            .iter()
            .map(|s| &s.smallest_key)
            .min()
            .map(|k| show(k, whole)),
        largest_key: segs
            .iter()
            .map(|s| &s.largest_key)
            .max()
            .map(|k| show(k, whole)),
    }
}

/// Builds the summary of a loaded directory.
pub fn summarize(state: &DbState, style: Style) -> DirSummary {
    let whole = style.whole();
    let m = &state.manifest;
    let range_dels = range_del_counts(state);
    // Per keyspace, its levels down to its deepest with a file (every level of
    // the database when there is one keyspace, as the manifest lists them).
    let single = m.keyspaces.len() <= 1;
    let levels = m
        .keyspaces
        .keys()
        .flat_map(|&keyspace| {
            let of = |segs: &Vec<SegmentMeta>| -> Vec<SegmentMeta> {
                segs.iter()
                    .filter(|s| s.keyspace == keyspace)
                    .cloned()
                    .collect()
            };
            let per_level: Vec<Vec<SegmentMeta>> = m.levels.iter().map(of).collect();
            let depth = if single {
                per_level.len()
            } else {
                per_level
                    .iter()
                    .rposition(|l| !l.is_empty())
                    .map_or(1, |d| d + 1)
            };
            per_level
                .into_iter()
                .take(depth)
                .enumerate()
                .map(|(level, segs)| level_summary(keyspace, level, &segs, &range_dels, whole))
                .collect::<Vec<_>>()
        })
        .collect();
    let newest = state.wals.last().map(|w| w.number);
    let wals = state
        .wals
        .iter()
        .map(|w| match &w.replay {
            Ok(r) => {
                let first = r
                    .batches
                    .iter()
                    .find(|b| !b.ops.is_empty())
                    .map(|b| b.first_seq);
                WalSummary {
                    file: w.name(),
                    bytes: w.size,
                    batches: r.batches.len(),
                    ops: r.batches.iter().map(|b| b.ops.len()).sum(),
                    range_deletes: r
                        .batches
                        .iter()
                        .flat_map(|b| &b.ops)
                        .filter(|op| op.kind == lsm_format::EntryKind::RangeDelete)
                        .count(),
                    seqs: first.zip(r.last_sequence()),
                    state: match r.torn_tail {
                        None => "clean".into(),
                        Some(at) if state.writer_running && Some(w.number) == newest => {
                            format!("being written by the running writer at offset {at}")
                        }
                        Some(at) => format!("torn tail at offset {at} (dropped on recovery)"),
                    },
                }
            }
            Err(e) => WalSummary {
                file: w.name(),
                bytes: w.size,
                batches: 0,
                ops: 0,
                range_deletes: 0,
                seqs: None,
                state: format!("corrupt: {e}"),
            },
        })
        .collect();
    // The engine's own judgement of the files the manifest does not list (the rule
    // `Db::open` applies before it deletes anything).
    let audit = &state.audit;
    let other_files = state
        .orphans()
        .iter()
        .map(|f| {
            let why = match (f.kind, audit) {
                (FileName::Segment(n), Ok(a)) if a.leftover_segments.contains(&n) => {
                    "segment not in the manifest, every entry held by live files; open removes it"
                }
                (FileName::Segment(n), Ok(a)) if a.obsolete_segments.contains(&n) => {
                    "segment recorded dead by the manifest; open removes it"
                }
                (FileName::Segment(n), Ok(a))
                    if a.unexplained_segments.iter().any(|u| u.number == n) =>
                {
                    "segment not in the manifest holding data found nowhere else"
                }
                (FileName::Segment(_), _) => "segment not in the manifest",
                (FileName::Blob(n), Ok(a)) if a.obsolete_blobs.contains(&n) => {
                    "blob file recorded dead by the manifest; open removes it"
                }
                (FileName::Blob(_), _) => "blob file not in the manifest; open removes it",
                (FileName::Wal(_), _) => "obsolete WAL",
                (FileName::Temp, _) => "unfinished temporary file",
                _ => "not a database file",
            };
            format!("{} ({why})", f.name)
        })
        .collect();
    let mut problems: Vec<String> = m.problems.iter().map(ToString::to_string).collect();
    // Every live segment's checksums, as lsm-verify checks them: a summary must not
    // describe a damaged database without a word.
    let mut checks = crate::verify::Report::default();
    for seg in &state.segments {
        match seg.read() {
            Ok(data) => {
                crate::verify::segment::verify_segment(data, &seg.name(), &mut checks);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    // Every live blob file, and every pointer into one (leaks are shown by the
    // table, not as warnings).
    crate::verify::blob::verify_blobs(state, &mut checks);
    problems.extend(checks.problems.iter().map(ToString::to_string));
    for (level, meta) in &state.missing {
        problems.push(format!(
            "level {level} segment {} is in the manifest but missing",
            crate::files::segment_name(meta.file_number)
        ));
    }
    match audit {
        Ok(a) if !a.unexplained_segments.is_empty() || a.missing_wal.is_some() => {
            let lines = a.problems();
            // Missing listed segments are reported above already.
            let skip = usize::from(!a.missing_segments.is_empty());
            problems.extend(lines.into_iter().skip(skip).map(|p| {
                format!(
                    "the manifest is behind its directory: {p}; the engine refuses to open \
                     this database"
                )
            }));
        }
        Ok(_) => {}
        Err(e) => problems.push(format!("the engine cannot open this database: {e}")),
    }
    DirSummary {
        dir: state.dir.display().to_string(),
        manifest_bytes: state.manifest_bytes.len() as u64,
        manifest_edits: m.edits.len(),
        log_number: m.log_number,
        next_file_number: m.next_file_number,
        last_sequence: m.last_sequence,
        keyspaces: json_keyspaces(m),
        next_keyspace_id: m.next_keyspace_id,
        levels,
        segments: m
            .live()
            .map(|(l, s)| JsonSegmentMeta {
                range_tombstones: range_dels.get(&s.file_number).copied(),
                ..JsonSegmentMeta::new(l as u32, s, style)
            })
            .collect(),
        blob_files: m
            .blob_files
            .values()
            .map(|b| {
                let used = m.blob_use(b.file_number);
                BlobSummary {
                    keyspace: b.keyspace,
                    file_number: b.file_number,
                    file_size: b.file_size,
                    records: b.record_count,
                    value_bytes: b.value_bytes,
                    segments: used.segments,
                    live_value_bytes: used.value_bytes,
                }
            })
            .collect(),
        wals,
        other_files,
        problems,
    }
}

/// The table of the live blob files: one row each, keyspace by keyspace, with a
/// total row for a keyspace of several.
fn blob_table(s: &DirSummary) -> Table {
    let mut t = Table::new(&[
        ("keyspace", Align::Right),
        ("file", Align::Left),
        ("bytes", Align::Right),
        ("records", Align::Right),
        ("value bytes", Align::Right),
        ("segments", Align::Right),
        ("live value bytes", Align::Right),
    ])
    .indent(2);
    let share = |live: u64, all: u64| match all {
        0 => "-".to_string(),
        _ => format!("{}%", live * 100 / all),
    };
    for k in &s.keyspaces {
        let files: Vec<&BlobSummary> = s.blob_files.iter().filter(|b| b.keyspace == k.id).collect();
        if files.is_empty() {
            continue;
        }
        for b in &files {
            t.row(vec![
                b.keyspace.to_string(),
                crate::files::blob_name(b.file_number),
                b.file_size.to_string(),
                b.records.to_string(),
                b.value_bytes.to_string(),
                b.segments.to_string(),
                format!(
                    "{} ({})",
                    b.live_value_bytes,
                    share(b.live_value_bytes, b.value_bytes)
                ),
            ]);
        }
        if files.len() == 1 {
            continue;
        }
        let sum = |f: fn(&BlobSummary) -> u64| files.iter().map(|b| f(b)).sum::<u64>();
        let (live, all) = (sum(|b| b.live_value_bytes), sum(|b| b.value_bytes));
        t.row(vec![
            k.id.to_string(),
            format!("all {}", files.len()),
            sum(|b| b.file_size).to_string(),
            sum(|b| b.records).to_string(),
            all.to_string(),
            String::new(),
            format!("{live} ({})", share(live, all)),
        ]);
    }
    t
}

/// The range tombstones of each live segment by file number, from its properties;
/// a segment that cannot be opened is left out (its damage is reported by the
/// checks of [`summarize`]).
pub fn range_del_counts(state: &DbState) -> std::collections::HashMap<u64, u64> {
    state
        .segments
        .iter()
        .filter_map(|s| {
            let reader = s.open().ok()?;
            Some((s.meta.file_number, reader.properties().range_del_count))
        })
        .collect()
}

/// Dumps the directory at `dir`: the summary, or the live entries.
///
/// # Errors
/// When the directory is not a database, when a file cannot be read, and errors of
/// `out`; [`Error::Warnings`] after printing a summary that carries warnings (damage
/// or files the manifest cannot explain).
pub fn dump_dir(dir: &Path, options: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let state = DbState::load(dir)?;
    if options.entries {
        return dump_entries(&state, options, out);
    }
    let summary = summarize(&state, options.style);
    if options.json {
        write_json(out, &summary)?;
    } else {
        print_summary(out, &state, &summary, options.style).map_err(out_err)?;
    }
    match summary.problems.len() {
        0 => Ok(()),
        n => Err(Error::Warnings(n)),
    }
}

fn print_summary(
    o: &mut dyn Write,
    state: &DbState,
    s: &DirSummary,
    style: Style,
) -> std::io::Result<()> {
    writeln!(o, "database {}", s.dir)?;
    for p in &s.problems {
        writeln!(o, "warning: {p}")?;
    }
    writeln!(
        o,
        "manifest: {} bytes, {}; log_number {}, next_file_number {}, last_sequence {}",
        s.manifest_bytes,
        plural(s.manifest_edits as u64, "record"),
        s.log_number,
        s.next_file_number,
        s.last_sequence
    )?;
    let keyspaces: Vec<String> = s
        .keyspaces
        .iter()
        .map(|k| {
            let segments = s.segments.iter().filter(|m| m.keyspace == k.id).count();
            format!(
                "{} {:?} ({})",
                k.id,
                k.name,
                plural(segments as u64, "segment")
            )
        })
        .collect();
    writeln!(
        o,
        "keyspaces: {}; next_keyspace_id {}",
        keyspaces.join(", "),
        s.next_keyspace_id
    )?;
    // One table per keyspace: levels are a keyspace's own (one table, titled
    // plainly, when the database has only the default keyspace).
    for k in &s.keyspaces {
        let levels: Vec<&LevelSummary> = s.levels.iter().filter(|l| l.keyspace == k.id).collect();
        if s.keyspaces.len() == 1 {
            writeln!(o, "\nlevels")?;
        } else {
            writeln!(o, "\nlevels of keyspace {} {:?}", k.id, k.name)?;
        }
        level_table(&levels).print(o)?;
    }
    writeln!(o, "\nsegments")?;
    let counts: std::collections::HashMap<u64, u64> = s
        .segments
        .iter()
        .filter_map(|m| Some((m.file_number, m.range_tombstones?)))
        .collect();
    segment_table_with(&state.manifest, Some(&counts), style).print(o)?;
    if !s.blob_files.is_empty() {
        writeln!(o, "\nblob files (values kept out of the segments)")?;
        blob_table(s).print(o)?;
    }
    writeln!(o, "\nmemtable (live WALs, numbered from {})", s.log_number)?;
    let mut t = Table::new(&[
        ("file", Align::Left),
        ("bytes", Align::Right),
        ("batches", Align::Right),
        ("ops", Align::Right),
        ("range dels", Align::Right),
        ("seqs", Align::Left),
        ("state", Align::Left),
    ])
    .indent(2);
    for w in &s.wals {
        t.row(vec![
            w.file.clone(),
            w.bytes.to_string(),
            w.batches.to_string(),
            w.ops.to_string(),
            w.range_deletes.to_string(),
            w.seqs.map_or("-".into(), |(a, b)| format!("{a} ..= {b}")),
            w.state.clone(),
        ]);
    }
    t.print(o)?;
    if !s.other_files.is_empty() {
        writeln!(o, "\nother files")?;
        for f in &s.other_files {
            writeln!(o, "  {f}")?;
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct JsonPair {
    key: String,
    value: String,
    value_len: usize,
}

fn dump_entries(state: &DbState, options: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    // The engine's own read-only view: the pairs `Db::scan` returns. It refuses a
    // database whose view would silently lack data (a damaged live WAL, a missing
    // live segment, a manifest behind its directory), as `Db::open` does.
    let db = lsm_core::Db::open_read_only(&state.dir, lsm_core::Options::default())?;
    let from = options
        .range
        .from
        .as_deref()
        .map_or(Bound::Unbounded, Bound::Included);
    let to = options
        .range
        .to
        .as_deref()
        .map_or(Bound::Unbounded, Bound::Excluded);
    let view = match options.keyspace.as_deref() {
        None | Some("default") => db.scan::<&[u8], _>((from, to)),
        Some(name) => db.keyspace(name)?.scan::<&[u8], _>((from, to)),
    };
    let style = options.style;
    for (n, item) in view.enumerate() {
        if options.limit.is_some_and(|l| n >= l) {
            break;
        }
        let (key, value) = item?;
        if options.json {
            let pair = JsonPair {
                key: show(&key, style.whole()),
                value: show(&value, style.whole()),
                value_len: value.len(),
            };
            write_json_line(out, &pair)?;
        } else {
            writeln!(
                out,
                "{} = {}",
                show(&key, style.whole()),
                show(&value, style)
            )
            .map_err(out_err)?;
        }
    }
    Ok(())
}
