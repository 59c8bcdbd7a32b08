//! Dumping a segment file: footer, properties, index, range tombstones, entries and
//! (`--layout`) every region with its offset, so an offset from `lsm-verify` can be
//! located.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use lsm_format::range_del::RangeTombstone;
use lsm_format::{Footer, IndexEntry, Properties, Region, SegmentReader, MAX_SEQUENCE};
use serde::Serialize;

use super::{json_version, out_err, show_end, version_row, write_json, DumpOptions, JsonEntry};
use crate::display::{human_bytes, plural, show, Style};
use crate::error::{read_file, Error, Result};
use crate::state::open_segment_bytes;
use crate::table::{Align, Table};

/// The footer as JSON.
#[derive(Debug, Serialize)]
struct JsonFooter {
    index_offset: u64,
    index_len: u32,
    filter_offset: u64,
    filter_len: u32,
    properties_offset: u64,
    properties_len: u32,
    format_version: u32,
    checksum: String,
}

/// The properties as JSON.
#[derive(Debug, Serialize)]
struct JsonProperties {
    format_version: u32,
    entry_count: u64,
    tombstone_count: u64,
    smallest_seq: u64,
    largest_seq: u64,
    smallest_key: String,
    largest_key: String,
    data_size: u64,
    data_block_count: u64,
    raw_key_size: u64,
    raw_value_size: u64,
    created_unix_ms: u64,
    /// The same time, ISO 8601 in UTC.
    created: String,
    compression: String,
    bloom_bits_per_key: u8,
    creator: String,
    range_del_count: u64,
    /// The keyspace the segment belongs to (0 in files before format 5).
    keyspace: u32,
}

/// One range tombstone (a fragment of the range-tombstone block) as JSON.
#[derive(Debug, Serialize)]
pub struct JsonRangeTombstone {
    /// First key covered.
    pub start: String,
    /// First key past the range (`END`: past every key).
    pub end: String,
    /// Sequence number of the delete.
    pub seq: u64,
}

impl JsonRangeTombstone {
    /// Renders `t` with `style` (keys always whole).
    pub fn new(t: &RangeTombstone, style: Style) -> Self {
        JsonRangeTombstone {
            start: show(&t.start, style.whole()),
            end: show_end(&t.end, style.whole()),
            seq: t.seq,
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonIndexEntry {
    last_key: String,
    last_seq: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug, Serialize)]
struct JsonRegion {
    kind: &'static str,
    offset: u64,
    len: u64,
}

#[derive(Debug, Serialize)]
struct JsonSegment {
    file: String,
    size: u64,
    footer: JsonFooter,
    properties: JsonProperties,
    index: Vec<JsonIndexEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<Vec<JsonRegion>>,
    range_tombstones: Vec<JsonRangeTombstone>,
    entries: Vec<JsonEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Name of a compression byte as stored in properties.
pub fn compression_name(byte: u8) -> String {
    match byte {
        0 => "none".into(),
        1 => "lz4".into(),
        2 => "zstd".into(),
        other => format!("unknown ({other})"),
    }
}

/// Reads and opens the segment at `path` (file number from its name, or 0).
///
/// # Errors
/// I/O and format errors.
pub fn open_segment(path: &Path) -> Result<SegmentReader> {
    let data = Bytes::from(read_file(path)?);
    let number = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    open_segment_bytes(data, number, path)
}

/// The selected entries of `reader` (range and limit of `options`), as owned entries.
fn selected_entries(
    reader: &SegmentReader,
    options: &DumpOptions,
) -> (Vec<lsm_format::Entry>, Option<lsm_format::Error>) {
    let mut entries = Vec::new();
    let mut it = reader.iter();
    let positioned = match &options.range.from {
        Some(from) => it.seek(from, MAX_SEQUENCE),
        None => it.seek_to_first(),
    };
    if let Err(e) = positioned {
        return (entries, Some(e));
    }
    while it.valid() && options.limit.is_none_or(|l| entries.len() < l) {
        if !options.in_range(it.key()) {
            break;
        }
        entries.push(it.entry());
        if let Err(e) = it.next() {
            return (entries, Some(e));
        }
    }
    (entries, None)
}

/// The range tombstones of `reader` (its fragments, one per sequence number) that
/// overlap the selected range.
fn selected_tombstones(reader: &SegmentReader, options: &DumpOptions) -> Vec<RangeTombstone> {
    let from = options.range.from.as_deref();
    let to = options.range.to.as_deref();
    reader
        .range_tombstones()
        .tombstones()
        .filter(|t| to.is_none_or(|to| &t.start[..] < to) && from.is_none_or(|f| &t.end[..] > f))
        .collect()
}

/// Dumps the segment at `path`.
///
/// A damaged data block stops the entries where it starts; everything else (footer,
/// properties, index, layout) is still printed, with the error, so that the damaged
/// region can be located.
///
/// # Errors
/// I/O and format errors (a damaged footer or metadata block stops the dump; run
/// `lsm-verify` to locate damage), and errors of `out`.
pub fn dump_segment(path: &Path, options: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let reader = open_segment(path)?;
    let fmt = |e| Error::format(path, e);
    let index = reader.index_entries().map_err(fmt)?;
    let layout = if options.layout {
        Some(reader.layout().map_err(fmt)?)
    } else {
        None
    };
    let tombstones = selected_tombstones(&reader, options);
    let (entries, damaged) = selected_entries(&reader, options);
    let damaged = damaged.map(|e| Error::format(path, e));
    let name = path.display().to_string();
    let size = reader.data().len() as u64;
    let style = options.style;
    if options.json {
        let doc = JsonSegment {
            file: name,
            size,
            footer: json_footer(reader.footer()),
            properties: json_properties(reader.properties(), style),
            index: index
                .iter()
                .map(|e| JsonIndexEntry {
                    last_key: show(&e.last_key, style.whole()),
                    last_seq: e.last_seq,
                    offset: e.handle.offset,
                    len: e.handle.len,
                })
                .collect(),
            layout: layout.map(|l| {
                l.iter()
                    .map(|r| JsonRegion {
                        kind: r.kind,
                        offset: r.offset,
                        len: r.len,
                    })
                    .collect()
            }),
            range_tombstones: tombstones
                .iter()
                .map(|t| JsonRangeTombstone::new(t, style))
                .collect(),
            entries: entries
                .iter()
                .map(|e| json_version(&e.key, e.seq, e.kind, &e.value, style))
                .collect(),
            error: damaged.as_ref().map(ToString::to_string),
        };
        write_json(out, &doc)?;
        return damaged.map_or(Ok(()), Err);
    }
    let o = &mut *out;
    writeln!(o, "segment {name} ({size} bytes)").map_err(out_err)?;
    print_footer(o, reader.footer()).map_err(out_err)?;
    print_properties(o, reader.properties(), style).map_err(out_err)?;
    print_index(o, &index, style).map_err(out_err)?;
    print_tombstones(o, &tombstones, reader.properties(), style).map_err(out_err)?;
    if let Some(layout) = &layout {
        print_layout(o, layout).map_err(out_err)?;
    }
    writeln!(o, "\nentries ({} shown)", entries.len()).map_err(out_err)?;
    let mut t = Table::new(&[
        ("key", Align::Left),
        ("seq", Align::Right),
        ("kind", Align::Left),
        ("value", Align::Left),
    ])
    .indent(2);
    for e in &entries {
        t.row(version_row(&e.key, e.seq, e.kind, &e.value, style));
    }
    t.print(o).map_err(out_err)?;
    match damaged {
        Some(e) => {
            writeln!(o, "  (stopped: {e})").map_err(out_err)?;
            Err(e)
        }
        None => Ok(()),
    }
}

fn json_footer(f: &Footer) -> JsonFooter {
    JsonFooter {
        index_offset: f.index.offset,
        index_len: f.index.len,
        filter_offset: f.filter.offset,
        filter_len: f.filter.len,
        properties_offset: f.properties.offset,
        properties_len: f.properties.len,
        format_version: f.format_version,
        checksum: format!("{:#018x}", f.checksum),
    }
}

fn json_properties(p: &Properties, style: Style) -> JsonProperties {
    JsonProperties {
        format_version: p.format_version,
        entry_count: p.entry_count,
        tombstone_count: p.tombstone_count,
        smallest_seq: p.smallest_seq,
        largest_seq: p.largest_seq,
        smallest_key: show(&p.smallest_key, style.whole()),
        largest_key: show(&p.largest_key, style.whole()),
        data_size: p.data_size,
        data_block_count: p.data_block_count,
        raw_key_size: p.raw_key_size,
        raw_value_size: p.raw_value_size,
        created_unix_ms: p.created_unix_ms,
        created: crate::display::utc_time(p.created_unix_ms),
        compression: compression_name(p.compression),
        bloom_bits_per_key: p.bloom_bits_per_key,
        creator: p.creator.clone(),
        range_del_count: p.range_del_count,
        keyspace: p.keyspace,
    }
}

fn print_footer(o: &mut dyn Write, f: &Footer) -> std::io::Result<()> {
    writeln!(o, "\nfooter")?;
    let mut t = Table::new(&[
        ("block", Align::Left),
        ("offset", Align::Right),
        ("len", Align::Right),
    ])
    .indent(2);
    for (name, h) in [
        ("index", f.index),
        ("filter", f.filter),
        ("properties", f.properties),
    ] {
        t.row(vec![name.into(), h.offset.to_string(), h.len.to_string()]);
    }
    t.print(o)?;
    writeln!(
        o,
        "  format version {}, checksum {:#018x}",
        f.format_version, f.checksum
    )
}

fn print_properties(o: &mut dyn Write, p: &Properties, style: Style) -> std::io::Result<()> {
    let whole = style.whole();
    writeln!(o, "\nproperties")?;
    let lines = [
        ("format version", p.format_version.to_string()),
        (
            "entries",
            format!(
                "{} ({})",
                p.entry_count,
                plural(p.tombstone_count, "tombstone")
            ),
        ),
        (
            "sequence range",
            format!("{} ..= {}", p.smallest_seq, p.largest_seq),
        ),
        (
            "key range",
            format!(
                "{} ..= {}",
                show(&p.smallest_key, whole),
                show(&p.largest_key, whole)
            ),
        ),
        (
            "data size",
            format!(
                "{} bytes in {}",
                p.data_size,
                plural(p.data_block_count, "block")
            ),
        ),
        ("raw key bytes", p.raw_key_size.to_string()),
        ("raw value bytes", p.raw_value_size.to_string()),
        ("created", crate::display::utc_time(p.created_unix_ms)),
        ("compression", compression_name(p.compression)),
        ("bloom bits/key", p.bloom_bits_per_key.to_string()),
        ("creator", p.creator.clone()),
        ("range deletes", p.range_del_count.to_string()),
        ("keyspace", p.keyspace.to_string()),
    ];
    for (name, value) in lines {
        writeln!(o, "  {name:<16} {value}")?;
    }
    Ok(())
}

fn print_index(o: &mut dyn Write, index: &[IndexEntry], style: Style) -> std::io::Result<()> {
    writeln!(o, "\nindex ({})", plural(index.len() as u64, "data block"))?;
    let mut t = Table::new(&[
        ("block", Align::Right),
        ("offset", Align::Right),
        ("len", Align::Right),
        ("last key", Align::Left),
        ("last seq", Align::Right),
    ])
    .indent(2);
    for (i, e) in index.iter().enumerate() {
        t.row(vec![
            i.to_string(),
            e.handle.offset.to_string(),
            e.handle.len.to_string(),
            show(&e.last_key, style.whole()),
            e.last_seq.to_string(),
        ]);
    }
    t.print(o)
}

fn print_tombstones(
    o: &mut dyn Write,
    tombstones: &[RangeTombstone],
    p: &Properties,
    style: Style,
) -> std::io::Result<()> {
    let total: u64 = p.range_del_count;
    if total == 0 && tombstones.is_empty() {
        return Ok(());
    }
    writeln!(
        o,
        "\nrange tombstones ({} shown of {total}; each hides older versions of keys start <= k < end)",
        tombstones.len()
    )?;
    if tombstones.is_empty() {
        return Ok(());
    }
    let mut t = Table::new(&[
        ("start", Align::Left),
        ("end", Align::Left),
        ("seq", Align::Right),
    ])
    .indent(2);
    for r in tombstones {
        t.row(vec![
            show(&r.start, style.whole()),
            show_end(&r.end, style.whole()),
            r.seq.to_string(),
        ]);
    }
    t.print(o)
}

fn print_layout(o: &mut dyn Write, layout: &[Region]) -> std::io::Result<()> {
    writeln!(o, "\nlayout ({})", plural(layout.len() as u64, "region"))?;
    let mut t = Table::new(&[
        ("offset", Align::Right),
        ("end", Align::Right),
        ("len", Align::Right),
        ("region", Align::Left),
    ])
    .indent(2);
    let mut data_block = 0;
    for r in layout {
        let what = if r.kind == "data" {
            data_block += 1;
            format!("data block {}", data_block - 1)
        } else {
            r.kind.to_string()
        };
        t.row(vec![
            r.offset.to_string(),
            (r.offset + r.len).to_string(),
            r.len.to_string(),
            what,
        ]);
    }
    t.print(o)?;
    let total: u64 = layout.iter().map(|r| r.len).sum();
    writeln!(o, "  total {} ({})", total, human_bytes(total))
}
