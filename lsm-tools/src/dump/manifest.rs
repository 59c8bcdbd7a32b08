//! Dumping a manifest: each version edit, then the live segments per level that
//! replaying them gives.

use std::io::Write;
use std::path::Path;

use lsm_format::manifest::{BlobFileMeta, BlobRef, SegmentMeta, VersionEdit};
use serde::Serialize;

use super::{out_err, write_json, DumpOptions};
use crate::display::{plural, show, Style};
use crate::error::{read_file, Result};
use crate::files::{blob_name, segment_name};
use crate::state::manifest::{replay, ManifestState};
use crate::table::{Align, Table};

/// A segment's manifest record as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct JsonSegmentMeta {
    /// Keyspace.
    pub keyspace: u32,
    /// Level.
    pub level: u32,
    /// File number.
    pub file_number: u64,
    /// Size in bytes.
    pub file_size: u64,
    /// First key.
    pub smallest_key: String,
    /// Last key.
    pub largest_key: String,
    /// Smallest sequence number.
    pub smallest_seq: u64,
    /// Largest sequence number.
    pub largest_seq: u64,
    /// Entries.
    pub entry_count: u64,
    /// Tombstones.
    pub tombstone_count: u64,
    /// Range tombstones, read from the segment's properties (the manifest does not
    /// record them; only the directory summary reads the segments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_tombstones: Option<u64>,
    /// The blob files its pointers point into, with the value bytes of each (tag
    /// 16; absent for a segment without pointers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blob_refs: Vec<JsonBlobRef>,
}

/// One blob file a segment points into, as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct JsonBlobRef {
    /// The blob file's number.
    pub blob_file: u64,
    /// Value bytes of the segment's pointers into it.
    pub value_bytes: u64,
}

impl JsonBlobRef {
    /// Converts a manifest record.
    pub fn new(r: &BlobRef) -> Self {
        JsonBlobRef {
            blob_file: r.blob_file,
            value_bytes: r.value_bytes,
        }
    }
}

/// A blob file's manifest record (tag 14) as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct JsonBlobFileMeta {
    /// Keyspace whose values it holds.
    pub keyspace: u32,
    /// File number.
    pub file_number: u64,
    /// Size in bytes.
    pub file_size: u64,
    /// Records.
    pub record_count: u64,
    /// Sum of the lengths of their values.
    pub value_bytes: u64,
}

impl JsonBlobFileMeta {
    /// Converts a manifest record.
    pub fn new(b: &BlobFileMeta) -> Self {
        JsonBlobFileMeta {
            keyspace: b.keyspace,
            file_number: b.file_number,
            file_size: b.file_size,
            record_count: b.record_count,
            value_bytes: b.value_bytes,
        }
    }
}

impl JsonSegmentMeta {
    /// Converts a manifest record, rendering keys with `style`.
    pub fn new(level: u32, m: &SegmentMeta, style: Style) -> Self {
        JsonSegmentMeta {
            keyspace: m.keyspace,
            level,
            file_number: m.file_number,
            file_size: m.file_size,
            smallest_key: show(&m.smallest_key, style.whole()),
            largest_key: show(&m.largest_key, style.whole()),
            smallest_seq: m.smallest_seq,
            largest_seq: m.largest_seq,
            entry_count: m.entry_count,
            tombstone_count: m.tombstone_count,
            range_tombstones: None,
            blob_refs: m.blob_refs.iter().map(JsonBlobRef::new).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonEdit {
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    format_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_file_number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_sequence: Option<u64>,
    deleted_segments: Vec<JsonDeleted>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    obsolete_segments: Vec<u64>,
    added_segments: Vec<JsonSegmentMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_keyspace_id: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    added_keyspaces: Vec<JsonKeyspace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropped_keyspaces: Vec<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keyspace_log_numbers: Vec<JsonKeyspaceLog>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    added_blob_files: Vec<JsonBlobFileMeta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deleted_blob_files: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct JsonDeleted {
    keyspace: u32,
    level: u32,
    file_number: u64,
}

/// A keyspace as JSON: its id, its name and (in the replayed state) its log number.
#[derive(Debug, Clone, Serialize)]
pub struct JsonKeyspace {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// The oldest WAL that may hold data of it not in its segments (the state only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_number: Option<u64>,
}

#[derive(Debug, Serialize)]
struct JsonKeyspaceLog {
    keyspace: u32,
    log_number: u64,
}

/// The live keyspaces of `state` as JSON, with the log number each replays from.
pub fn json_keyspaces(state: &ManifestState) -> Vec<JsonKeyspace> {
    state
        .keyspaces
        .iter()
        .map(|(&id, k)| JsonKeyspace {
            id,
            name: k.name.clone(),
            log_number: Some(k.log_number.max(state.log_number)),
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct JsonManifest {
    file: String,
    size: u64,
    edits: Vec<JsonEdit>,
    log_number: u64,
    next_file_number: u64,
    last_sequence: u64,
    keyspaces: Vec<JsonKeyspace>,
    next_keyspace_id: u32,
    live: Vec<JsonSegmentMeta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    live_blob_files: Vec<JsonBlobFileMeta>,
    torn_tail: Option<u64>,
    problems: Vec<String>,
}

/// Dumps the manifest at `path`.
///
/// # Errors
/// I/O errors and errors of `out`; damage is printed.
pub fn dump_manifest(path: &Path, options: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let data = read_file(path)?;
    let name = path.display().to_string();
    let state = replay(&data, &name);
    let style = options.style;
    if options.json {
        let doc = JsonManifest {
            file: name,
            size: data.len() as u64,
            edits: state
                .edits
                .iter()
                .map(|e| json_edit(e.offset, &e.edit, style))
                .collect(),
            log_number: state.log_number,
            next_file_number: state.next_file_number,
            last_sequence: state.last_sequence,
            keyspaces: json_keyspaces(&state),
            next_keyspace_id: state.next_keyspace_id,
            live: state
                .live()
                .map(|(l, m)| JsonSegmentMeta::new(l as u32, m, style))
                .collect(),
            live_blob_files: state
                .blob_files
                .values()
                .map(JsonBlobFileMeta::new)
                .collect(),
            torn_tail: state.torn_tail.map(|(o, _)| o),
            problems: state.problems.iter().map(ToString::to_string).collect(),
        };
        return write_json(out, &doc);
    }
    let o = &mut *out;
    writeln!(
        o,
        "manifest {name} ({} bytes, {})",
        data.len(),
        plural(state.edits.len() as u64, "record")
    )
    .map_err(out_err)?;
    for e in &state.edits {
        print_edit(o, e.offset, &e.edit, style).map_err(out_err)?;
    }
    print_state(o, &state, style).map_err(out_err)
}

fn json_edit(offset: u64, e: &VersionEdit, style: Style) -> JsonEdit {
    JsonEdit {
        offset,
        format_version: e.format_version,
        log_number: e.log_number,
        next_file_number: e.next_file_number,
        last_sequence: e.last_sequence,
        deleted_segments: e
            .deleted_segments
            .iter()
            .map(|d| JsonDeleted {
                keyspace: d.keyspace,
                level: d.level,
                file_number: d.file_number,
            })
            .collect(),
        obsolete_segments: e.obsolete_segments.clone(),
        added_segments: e
            .added_segments
            .iter()
            .map(|(l, m)| JsonSegmentMeta::new(*l, m, style))
            .collect(),
        next_keyspace_id: e.next_keyspace_id,
        added_keyspaces: e
            .added_keyspaces
            .iter()
            .map(|(id, name)| JsonKeyspace {
                id: *id,
                name: name.clone(),
                log_number: None,
            })
            .collect(),
        dropped_keyspaces: e.dropped_keyspaces.clone(),
        keyspace_log_numbers: e
            .keyspace_log_numbers
            .iter()
            .map(|&(keyspace, log_number)| JsonKeyspaceLog {
                keyspace,
                log_number,
            })
            .collect(),
        added_blob_files: e
            .added_blob_files
            .iter()
            .map(JsonBlobFileMeta::new)
            .collect(),
        deleted_blob_files: e.deleted_blob_files.clone(),
    }
}

fn print_edit(
    o: &mut dyn Write,
    offset: u64,
    e: &VersionEdit,
    style: Style,
) -> std::io::Result<()> {
    if *e == VersionEdit::default() {
        // Section 6, commit rule: an empty record after each edit.
        return writeln!(o, "commit marker at offset {offset} (empty record)");
    }
    writeln!(o, "edit at offset {offset}")?;
    let counters = [
        ("format_version", e.format_version.map(u64::from)),
        ("log_number", e.log_number),
        ("next_file_number", e.next_file_number),
        ("last_sequence", e.last_sequence),
        ("next_keyspace_id", e.next_keyspace_id.map(u64::from)),
    ];
    for (name, value) in counters {
        if let Some(v) = value {
            writeln!(o, "  {name} {v}")?;
        }
    }
    for d in &e.deleted_segments {
        writeln!(
            o,
            "  delete {}L{} {}",
            keyspace_prefix(d.keyspace),
            d.level,
            segment_name(d.file_number)
        )?;
    }
    for number in &e.obsolete_segments {
        writeln!(
            o,
            "  obsolete {} (dead; its file may still exist)",
            segment_name(*number)
        )?;
    }
    for number in &e.deleted_blob_files {
        writeln!(o, "  delete blob file {}", blob_name(*number))?;
    }
    for id in &e.dropped_keyspaces {
        writeln!(o, "  drop keyspace {id}")?;
    }
    for (id, name) in &e.added_keyspaces {
        writeln!(o, "  create keyspace {id} {name:?}")?;
    }
    for b in &e.added_blob_files {
        writeln!(
            o,
            "  add blob file {}{}",
            keyspace_prefix(b.keyspace),
            describe_blob_file(b)
        )?;
    }
    for (level, m) in &e.added_segments {
        writeln!(
            o,
            "  add {}L{level} {}",
            keyspace_prefix(m.keyspace),
            describe_segment(m, style)
        )?;
        if !m.blob_refs.is_empty() {
            writeln!(o, "    points into {}", describe_blob_refs(&m.blob_refs))?;
        }
    }
    for (id, log_number) in &e.keyspace_log_numbers {
        writeln!(o, "  keyspace {id} log_number {log_number}")?;
    }
    Ok(())
}

/// `keyspace N ` before a level for a segment of keyspace `N` other than 0;
/// nothing for keyspace 0, the only one most databases have.
fn keyspace_prefix(keyspace: u32) -> String {
    if keyspace == 0 {
        String::new()
    } else {
        format!("keyspace {keyspace} ")
    }
}

/// One line about a segment: name, size, key and sequence ranges, counts.
pub fn describe_segment(m: &SegmentMeta, style: Style) -> String {
    let whole = style.whole();
    format!(
        "{} {} bytes, keys {} ..= {}, seqs {} ..= {}, {} ({})",
        segment_name(m.file_number),
        m.file_size,
        show(&m.smallest_key, whole),
        show(&m.largest_key, whole),
        m.smallest_seq,
        m.largest_seq,
        plural(m.entry_count, "entry"),
        plural(m.tombstone_count, "tombstone")
    )
}

/// One line about a blob file: name, size, records and value bytes.
///
/// ```
/// use lsm_format::manifest::BlobFileMeta;
///
/// let b = BlobFileMeta { keyspace: 0, file_number: 7, file_size: 400, record_count: 3, value_bytes: 300 };
/// assert_eq!(
///     lsm_tools::dump::manifest::describe_blob_file(&b),
///     "000007.blob 400 bytes, 3 records of 300 value bytes"
/// );
/// ```
pub fn describe_blob_file(b: &BlobFileMeta) -> String {
    format!(
        "{} {} bytes, {} of {} value bytes",
        blob_name(b.file_number),
        b.file_size,
        plural(b.record_count, "record"),
        b.value_bytes
    )
}

/// A segment's blob references (tag 16) in words: each blob file with the value
/// bytes the segment's pointers into it name.
///
/// ```
/// use lsm_format::manifest::BlobRef;
///
/// let refs = [BlobRef { blob_file: 7, value_bytes: 300 }, BlobRef { blob_file: 9, value_bytes: 64 }];
/// assert_eq!(
///     lsm_tools::dump::manifest::describe_blob_refs(&refs),
///     "000007.blob (300 value bytes), 000009.blob (64 value bytes)"
/// );
/// ```
pub fn describe_blob_refs(refs: &[BlobRef]) -> String {
    refs.iter()
        .map(|r| format!("{} ({} value bytes)", blob_name(r.blob_file), r.value_bytes))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table of the live segments, level by level.
pub fn segment_table(state: &ManifestState, style: Style) -> Table {
    segment_table_with(state, None, style)
}

/// [`segment_table`] with a `range dels` column: the range tombstones of each file
/// by file number (`-` where unknown, e.g. an unreadable file).
pub fn segment_table_with(
    state: &ManifestState,
    range_dels: Option<&std::collections::HashMap<u64, u64>>,
    style: Style,
) -> Table {
    let whole = style.whole();
    let mut columns = vec![
        ("level", Align::Right),
        ("keyspace", Align::Right),
        ("file", Align::Left),
        ("bytes", Align::Right),
        ("entries", Align::Right),
        ("tombstones", Align::Right),
    ];
    if range_dels.is_some() {
        columns.push(("range dels", Align::Right));
    }
    columns.extend([("seqs", Align::Left), ("keys", Align::Left)]);
    let mut t = Table::new(&columns).indent(2);
    for (level, m) in state.live() {
        let mut row = vec![
            level.to_string(),
            m.keyspace.to_string(),
            segment_name(m.file_number),
            m.file_size.to_string(),
            m.entry_count.to_string(),
            m.tombstone_count.to_string(),
        ];
        if let Some(counts) = range_dels {
            row.push(
                counts
                    .get(&m.file_number)
                    .map_or("-".into(), u64::to_string),
            );
        }
        row.extend([
            format!("{} ..= {}", m.smallest_seq, m.largest_seq),
            format!(
                "{} ..= {}",
                show(&m.smallest_key, whole),
                show(&m.largest_key, whole)
            ),
        ]);
        t.row(row);
    }
    t
}

/// Prints the replayed state: counters, live segments per level, torn tail, problems.
///
/// # Errors
/// Errors of `o`.
pub fn print_state(o: &mut dyn Write, state: &ManifestState, style: Style) -> std::io::Result<()> {
    writeln!(
        o,
        "\nstate: log_number {}, next_file_number {}, last_sequence {}",
        state.log_number, state.next_file_number, state.last_sequence
    )?;
    let keyspaces: Vec<String> = state
        .keyspaces
        .iter()
        .map(|(id, k)| {
            let log = k.log_number.max(state.log_number);
            if log == state.log_number {
                format!("{id} {:?}", k.name)
            } else {
                format!("{id} {:?} (log_number {log})", k.name)
            }
        })
        .collect();
    writeln!(
        o,
        "keyspaces: {}; next_keyspace_id {}",
        keyspaces.join(", "),
        state.next_keyspace_id
    )?;
    writeln!(o, "live segments ({})", state.live_count())?;
    segment_table(state, style).print(o)?;
    if !state.blob_files.is_empty() {
        writeln!(o, "live blob files ({})", state.blob_files.len())?;
        for b in state.blob_files.values() {
            let used = state.blob_use(b.file_number);
            writeln!(
                o,
                "  {}{}; live segments point to {} of them ({})",
                keyspace_prefix(b.keyspace),
                describe_blob_file(b),
                used.value_bytes,
                plural(used.segments, "segment")
            )?;
        }
    }
    if let Some((offset, kind)) = state.torn_tail {
        writeln!(
            o,
            "torn tail at offset {offset} ({kind:?}): the last edit was cut short and is ignored"
        )?;
    }
    for p in &state.problems {
        writeln!(o, "problem: {p}")?;
    }
    Ok(())
}
