//! Dumping a write-ahead log: each record (offset, first sequence number, its puts
//! and deletes) and where a torn tail starts.

use std::io::Write;
use std::path::Path;

use lsm_format::wal::{read_wal_log, replay_wal, WalBatch, WalRecord, WalRecordDecoder};
use serde::Serialize;

use super::{json_version, out_err, version_row, write_json, DumpOptions, JsonEntry};
use crate::display::plural;
use crate::error::{read_file, Error, Result};
use crate::problem::Problem;
use crate::table::{Align, Table};

#[derive(Debug, Serialize)]
struct JsonRecord {
    offset: u64,
    len: u64,
    /// The WAL format a header record names (only the first record of a format-2 file).
    #[serde(skip_serializing_if = "Option::is_none")]
    format_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    synced_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    op_count: Option<usize>,
    ops: Vec<JsonEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Damage met in a log, with the torn-tail verdict.
#[derive(Debug, Serialize)]
pub struct JsonDamage {
    /// Where the unreadable part starts.
    pub offset: u64,
    /// Why the walk stopped (`Incomplete`, `Zeroed`, `BadChecksum`, ...).
    pub kind: String,
    /// Complete, valid records found after the damage.
    pub valid_records_after: usize,
    /// `torn tail` or `corruption`.
    pub verdict: &'static str,
    /// The corruption, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
struct JsonWal {
    file: String,
    size: u64,
    records: Vec<JsonRecord>,
    damage: Option<JsonDamage>,
}

/// Text output, built while decoding.
enum Text {
    Line(String),
    Table(Table),
}

fn ops_table() -> Table {
    Table::new(&[
        ("key", Align::Left),
        ("seq", Align::Right),
        ("op", Align::Left),
        ("value", Align::Left),
    ])
    .indent(2)
}

fn keyspace_ops_table() -> Table {
    Table::new(&[
        ("keyspace", Align::Right),
        ("key", Align::Left),
        ("seq", Align::Right),
        ("op", Align::Left),
        ("value", Align::Left),
    ])
    .indent(2)
}

/// Dumps the WAL at `path`.
///
/// # Errors
/// I/O errors and errors of `out`. Damage is printed, not returned.
pub fn dump_wal(path: &Path, options: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let data = read_file(path)?;
    let name = path.display().to_string();
    let wal = read_wal_log(&data).map_err(|e| Error::format(path, e))?;
    let log = &wal.contents;
    let style = options.style;
    let mut text: Vec<Text> = Vec::new();
    let mut records = Vec::new();
    let mut shown = 0usize;
    let mut decoder = WalRecordDecoder::new();
    for rec in &log.records {
        let len = rec.end - rec.offset;
        let mut record = JsonRecord {
            offset: rec.offset,
            len,
            format_version: None,
            first_seq: None,
            synced_offset: None,
            op_count: None,
            ops: Vec::new(),
            error: None,
        };
        match decoder.decode(rec.offset, &rec.payload) {
            Ok(WalRecord::Header(format)) => {
                record.format_version = Some(format.version());
                text.push(Text::Line(format!(
                    "record at offset {} ({len} bytes): header, WAL format {}",
                    rec.offset,
                    format.version()
                )));
            }
            Ok(WalRecord::Batch(batch)) => {
                let WalBatch {
                    first_seq,
                    synced_offset,
                    ref ops,
                } = batch;
                record.first_seq = Some(first_seq);
                record.synced_offset = Some(synced_offset);
                record.op_count = Some(ops.len());
                text.push(Text::Line(format!(
                    "record at offset {} ({len} bytes): first seq {first_seq}, synced offset \
                     {synced_offset}, {}",
                    rec.offset,
                    plural(ops.len() as u64, "op")
                )));
                // A keyspace column only for a batch that writes to a keyspace other
                // than 0 (most databases have keyspace 0 alone).
                let keyspaces = ops.iter().any(|op| op.keyspace != 0);
                let mut table = if keyspaces {
                    keyspace_ops_table()
                } else {
                    ops_table()
                };
                for (i, op) in ops.iter().enumerate() {
                    if options.in_range(op.key) && options.limit.is_none_or(|l| shown < l) {
                        shown += 1;
                        let seq = first_seq + i as u64;
                        let mut json = json_version(op.key, seq, op.kind, op.value, style);
                        json.keyspace = (op.keyspace != 0).then_some(op.keyspace);
                        record.ops.push(json);
                        let mut row = version_row(op.key, seq, op.kind, op.value, style);
                        if keyspaces {
                            row.insert(0, op.keyspace.to_string());
                        }
                        table.row(row);
                    }
                }
                if !table.is_empty() {
                    text.push(Text::Table(table));
                }
            }
            Err(e) => {
                let p = Problem::from_format(&name, &e).to_string();
                text.push(Text::Line(format!(
                    "record at offset {} ({len} bytes): undecodable: {p}",
                    rec.offset
                )));
                record.error = Some(p);
            }
        }
        records.push(record);
    }
    // The verdict (torn tail or corruption) is the engine's rule, applied by replay_wal.
    let damage = log.damage.as_ref().map(|d| {
        let problem = replay_wal(&data)
            .err()
            .map(|e| Problem::from_format(&name, &e).to_string());
        JsonDamage {
            offset: d.offset,
            kind: format!("{:?}", d.kind),
            valid_records_after: d.records_after.len() + wal.narrow_records_after.len(),
            verdict: if problem.is_some() {
                "corruption"
            } else {
                "torn tail"
            },
            problem,
        }
    });
    if options.json {
        return write_json(
            out,
            &JsonWal {
                file: name,
                size: data.len() as u64,
                records,
                damage,
            },
        );
    }
    let o = &mut *out;
    writeln!(
        o,
        "wal {name} ({} bytes, {})",
        data.len(),
        plural(records.len() as u64, "record")
    )
    .map_err(out_err)?;
    for t in text {
        match t {
            Text::Line(line) => writeln!(o, "{line}").map_err(out_err)?,
            Text::Table(table) => table.print(o).map_err(out_err)?,
        }
    }
    print_damage(o, damage.as_ref()).map_err(out_err)
}

/// Prints the end-of-log line shared by WAL and manifest dumps.
///
/// # Errors
/// Errors of `o`.
pub fn print_damage(o: &mut dyn Write, damage: Option<&JsonDamage>) -> std::io::Result<()> {
    match damage {
        None => writeln!(o, "end of log: clean"),
        Some(d) => {
            let what = match d.verdict {
                "torn tail" => "a torn tail: the last write was cut short; recovery drops it",
                _ => "corruption",
            };
            writeln!(
                o,
                "damage at offset {} ({}), {} after it: {what}",
                d.offset,
                d.kind,
                plural(d.valid_records_after as u64, "valid record")
            )?;
            if let Some(p) = &d.problem {
                writeln!(o, "  {p}")?;
            }
            Ok(())
        }
    }
}
