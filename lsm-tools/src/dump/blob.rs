//! Dumping a blob file (`NNNNNN.blob`, `docs/format.md` section 8): its header,
//! every record (offset, length, key, value length, whether LZ4 compressed it) and
//! its footer.
//!
//! The records are walked as recovery walks a file cut short
//! (`lsm_format::BlobIter::recover`), so a file whose footer is damaged still
//! shows its whole records; the first damage stops the walk and is returned as a
//! typed corruption error naming the file and offset, after the dump is printed.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use lsm_format::blob::{
    BlobFooter, BlobHeader, BlobIter, BlobReadOptions, BlobRecord, BLOB_FOOTER_LEN,
};
use serde::Serialize;

use super::{out_err, write_json, DumpOptions};
use crate::display::{plural, show};
use crate::dump::segment::compression_name;
use crate::error::{read_file, Error, Result};
use crate::table::{Align, Table};

/// What a blob file holds, as read: the header, the records up to the first that
/// does not check, the footer, and the first damage met.
#[derive(Debug)]
pub struct BlobContents {
    /// The header.
    pub header: BlobHeader,
    /// The whole records, in file order.
    pub records: Vec<BlobRecordLine>,
    /// The footer, or why it is not one.
    pub footer: std::result::Result<BlobFooter, lsm_format::Error>,
    /// The first damage met among the records (or a footer that does not check,
    /// or disagrees with the records).
    pub damage: Option<lsm_format::Error>,
}

/// One record of a blob file: where it is and what it holds.
#[derive(Debug, Clone)]
pub struct BlobRecordLine {
    /// The record (its pointer: offset and length).
    pub record: BlobRecord,
    /// Whether the value is stored LZ4-compressed, and then in how many bytes.
    pub compressed: bool,
}

/// Reads blob file `data` (numbered `number`, named `name` in errors, whose own
/// messages then do not repeat it).
///
/// # Errors
/// A damaged header: nothing in the file can be read without it.
///
/// ```
/// use lsm_format::blob::BlobWriterOptions;
/// use lsm_format::{BlobWriter, Compression};
///
/// let options = BlobWriterOptions { compression: Compression::Lz4, ..Default::default() };
/// let mut w = BlobWriter::new(Vec::new(), options)?;
/// w.add(b"key", &[b'v'; 100])?;
/// let mut file = w.finish()?.into_inner();
/// let contents = lsm_tools::dump::blob::read_blob(file.clone().into(), 0, "000000.blob")?;
/// assert_eq!(contents.records.len(), 1);
/// assert!(contents.records[0].compressed && contents.damage.is_none());
/// let at = file.len() - 1;
/// file[at] ^= 1; // the footer's checksum
/// let contents = lsm_tools::dump::blob::read_blob(file.into(), 0, "000000.blob")?;
/// assert_eq!(contents.records.len(), 1);
/// assert!(contents.damage.unwrap().is_corruption());
/// # Ok::<(), lsm_format::Error>(())
/// ```
pub fn read_blob(data: Bytes, number: u64, name: &str) -> lsm_format::Result<BlobContents> {
    let options = BlobReadOptions {
        file_number: number,
        file_name: Some(name.to_string()),
    };
    let header = BlobHeader::decode(&data)?;
    let footer = data
        .len()
        .checked_sub(BLOB_FOOTER_LEN)
        .and_then(|at| data.get(at..))
        .map_or_else(
            || {
                Err(lsm_format::Error::Truncated {
                    len: data.len() as u64,
                    needed: (lsm_format::blob::BLOB_HEADER_LEN + BLOB_FOOTER_LEN) as u64,
                })
            },
            |bytes| BlobFooter::decode(bytes, data.len() as u64),
        );
    let mut records = Vec::new();
    let mut broken = None;
    for record in BlobIter::recover(data.clone(), options).map_err(|e| unname(e, name))? {
        match record {
            Ok(record) => {
                let at = usize::try_from(record.pointer.offset).unwrap_or(usize::MAX);
                // A record's first byte is its compression (section 8.2).
                let compressed = data.get(at).is_some_and(|&c| c != 0);
                records.push(BlobRecordLine { record, compressed });
            }
            Err(e) => broken = Some(unname(e, name)),
        }
    }
    // Without a footer the walk reads on into the last bytes and stops there: the
    // footer's own error says more.
    let footer_at = (data.len() as u64).saturating_sub(BLOB_FOOTER_LEN as u64);
    let damage = match (broken, &footer) {
        (Some(e), Err(f)) if e.offset().is_none_or(|at| at >= footer_at) => Some(clone_error(f)),
        (Some(e), _) => Some(e),
        (None, Err(f)) => Some(clone_error(f)),
        (None, Ok(f)) => {
            let count = records.len() as u64;
            let bytes: u64 = records
                .iter()
                .map(|r| u64::from(r.record.pointer.value_len))
                .sum();
            ((count, bytes) != (f.record_count, f.value_bytes)).then(|| {
                lsm_format::Error::corruption(
                    f.records_end,
                    format!(
                        "the footer counts {} records of {} value bytes, the file holds \
                         {count} of {bytes}",
                        f.record_count, f.value_bytes
                    ),
                )
            })
        }
    };
    Ok(BlobContents {
        header,
        records,
        footer,
        damage,
    })
}

/// The error without the file name the blob reader put in front of its reason:
/// the tools name the file themselves.
pub fn unname(e: lsm_format::Error, name: &str) -> lsm_format::Error {
    match e {
        lsm_format::Error::Corruption { offset, reason } => {
            let prefix = format!("{name}: ");
            let reason = reason
                .strip_prefix(&prefix)
                .map(str::to_string)
                .unwrap_or(reason);
            lsm_format::Error::Corruption { offset, reason }
        }
        e => e,
    }
}

/// A copy of a footer's error (`lsm_format::Error` holds an `io::Error`, so it is
/// not `Clone`; a footer's errors are corruption or truncation).
fn clone_error(e: &lsm_format::Error) -> lsm_format::Error {
    match e {
        lsm_format::Error::Corruption { offset, reason } => lsm_format::Error::Corruption {
            offset: *offset,
            reason: reason.clone(),
        },
        lsm_format::Error::Truncated { len, needed } => lsm_format::Error::Truncated {
            len: *len,
            needed: *needed,
        },
        other => lsm_format::Error::corruption(0, other.to_string()),
    }
}

#[derive(Debug, Serialize)]
struct JsonHeader {
    format_version: u32,
    keyspace: u32,
    compression: String,
}

#[derive(Debug, Serialize)]
struct JsonRecord {
    offset: u64,
    len: u32,
    key: String,
    value_len: u32,
    compressed: bool,
}

#[derive(Debug, Serialize)]
struct JsonFooter {
    record_count: u64,
    value_bytes: u64,
    records_end: u64,
}

#[derive(Debug, Serialize)]
struct JsonBlob {
    file: String,
    size: u64,
    header: JsonHeader,
    records: Vec<JsonRecord>,
    footer: Option<JsonFooter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Dumps the blob file at `path` (numbered by its name, or 0).
///
/// # Errors
/// I/O errors; a damaged header stops the dump; other damage is printed, then
/// returned as the first corruption met (file and offset).
pub fn dump_blob(path: &Path, options: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let data = Bytes::from(read_file(path)?);
    let number = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let name = path.display().to_string();
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let contents =
        read_blob(data.clone(), number, &file_name).map_err(|e| Error::format(path, e))?;
    let shown: Vec<&BlobRecordLine> = contents
        .records
        .iter()
        .filter(|r| options.in_range(&r.record.key))
        .take(options.limit.unwrap_or(usize::MAX))
        .collect();
    let damage = contents.damage.map(|e| Error::format(path, e));
    let h = &contents.header;
    let whole = options.style.whole();
    if options.json {
        let doc = JsonBlob {
            file: name,
            size: data.len() as u64,
            header: JsonHeader {
                format_version: h.format_version,
                keyspace: h.keyspace,
                compression: compression_name(h.compression as u8),
            },
            records: shown
                .iter()
                .map(|r| JsonRecord {
                    offset: r.record.pointer.offset,
                    len: r.record.pointer.len,
                    key: show(&r.record.key, whole),
                    value_len: r.record.pointer.value_len,
                    compressed: r.compressed,
                })
                .collect(),
            footer: contents.footer.as_ref().ok().map(|f| JsonFooter {
                record_count: f.record_count,
                value_bytes: f.value_bytes,
                records_end: f.records_end,
            }),
            error: damage.as_ref().map(ToString::to_string),
        };
        write_json(out, &doc)?;
        return damage.map_or(Ok(()), Err);
    }
    let o = &mut *out;
    let mut text = || -> std::io::Result<()> {
        writeln!(o, "blob file {name} ({} bytes)", data.len())?;
        writeln!(o, "\nheader")?;
        writeln!(o, "  {:<16} {}", "format version", h.format_version)?;
        writeln!(o, "  {:<16} {}", "keyspace", h.keyspace)?;
        writeln!(
            o,
            "  {:<16} {}",
            "compression",
            compression_name(h.compression as u8)
        )?;
        writeln!(
            o,
            "\nrecords ({} shown of {})",
            shown.len(),
            contents.records.len()
        )?;
        let mut t = Table::new(&[
            ("offset", Align::Right),
            ("len", Align::Right),
            ("key", Align::Left),
            ("value bytes", Align::Right),
            ("stored", Align::Left),
        ])
        .indent(2);
        for r in &shown {
            let p = r.record.pointer;
            t.row(vec![
                p.offset.to_string(),
                p.len.to_string(),
                show(&r.record.key, whole),
                p.value_len.to_string(),
                if r.compressed { "lz4" } else { "plain" }.to_string(),
            ]);
        }
        t.print(o)?;
        match &contents.footer {
            Ok(f) => {
                writeln!(o, "\nfooter at offset {}", f.records_end)?;
                writeln!(o, "  {:<16} {}", "records", f.record_count)?;
                writeln!(o, "  {:<16} {}", "value bytes", f.value_bytes)?;
            }
            Err(e) => writeln!(o, "\nfooter: none ({e})")?,
        }
        let value_bytes: u64 = contents
            .records
            .iter()
            .map(|r| u64::from(r.record.pointer.value_len))
            .sum();
        writeln!(
            o,
            "{} of {} value bytes, {} compressed",
            plural(contents.records.len() as u64, "record"),
            value_bytes,
            contents.records.iter().filter(|r| r.compressed).count()
        )
    };
    text().map_err(out_err)?;
    match damage {
        Some(e) => {
            writeln!(out, "  (stopped: {e})").map_err(out_err)?;
            Err(e)
        }
        None => Ok(()),
    }
}
