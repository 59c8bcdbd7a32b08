//! Verifying blob files and the blob pointers of segments (key-value separation,
//! `docs/format.md` section 8).
//!
//! A blob file alone: `BlobReader::open` checks its header and footer and
//! `BlobReader::verify` every record against its checksum and the footer. In a
//! directory also the manifest's promises: each live blob file exists, with the
//! size, keyspace and counts recorded; every blob pointer entry of every live
//! segment decodes, names a live blob file of the segment's keyspace, and the record
//! there checks and is the entry's key; each segment's recorded blob references are
//! the pointers it holds. A live blob file no live segment points into is a leak
//! (a warning: nothing is lost, space is), an unlisted one is what open removes.

use std::collections::BTreeMap;

use bytes::Bytes;
use lsm_format::blob::BlobReadOptions;
use lsm_format::manifest::{BlobFileMeta, BlobRef};
use lsm_format::{BlobPointer, BlobReader, EntryKind, SegmentReader};

use super::Report;
use crate::display::{show, Style};
use crate::dump::blob::unname;
use crate::files::blob_name;
use crate::problem::Problem;
use crate::state::{DbState, LiveSegment};

/// Verifies blob file `data` (number `number`, named `name` in problems), adding to
/// `report`. Returns the reader when the file opened, for the pointers into it.
pub fn verify_blob(
    data: Bytes,
    number: u64,
    name: &str,
    report: &mut Report,
) -> Option<BlobReader> {
    report.files_checked += 1;
    let options = BlobReadOptions {
        file_number: number,
        file_name: Some(name.to_string()),
    };
    let reader = match BlobReader::open(data, options) {
        Ok(r) => r,
        Err(e) => {
            report
                .problems
                .push(Problem::from_format(name, &unname(e, name)));
            return None;
        }
    };
    match reader.verify() {
        Ok(()) => report.records_checked += reader.properties().record_count,
        Err(e) => report
            .problems
            .push(Problem::from_format(name, &unname(e, name))),
    }
    Some(reader)
}

/// A live blob file as found in the directory: its reader, or `None` when it is
/// missing or does not open (reported already).
type BlobReaders = BTreeMap<u64, Option<BlobReader>>;

/// Verifies every live blob file of `state` and every blob pointer of its live
/// segments; reports leaks and unlisted blob files.
pub fn verify_blobs(state: &DbState, report: &mut Report) {
    let mut readers = BlobReaders::new();
    for (&number, meta) in &state.manifest.blob_files {
        readers.insert(number, open_live(state, meta, report));
    }
    for seg in &state.segments {
        let Ok(data) = seg.read() else { continue };
        let Ok(reader) = crate::state::open_segment_bytes(data, seg.meta.file_number, &seg.path)
        else {
            continue; // reported by the segment's own checks
        };
        check_pointers(state, seg, &reader, &readers, report);
    }
    for meta in state.manifest.blob_files.values() {
        if state.manifest.blob_use(meta.file_number).segments == 0 {
            report.warnings.push(Problem::file(
                &blob_name(meta.file_number),
                format!(
                    "live in keyspace {} according to the manifest, but no live segment \
                     points into it: {} bytes leaked (nothing is lost)",
                    meta.keyspace, meta.file_size
                ),
            ));
        }
    }
}

/// Opens and verifies live blob file `meta`, and checks it against the manifest.
fn open_live(state: &DbState, meta: &BlobFileMeta, report: &mut Report) -> Option<BlobReader> {
    let name = blob_name(meta.file_number);
    let data = match std::fs::read(state.dir.join(&name)) {
        Ok(d) => Bytes::from(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.problems.push(Problem::file(
                &name,
                format!(
                    "live in keyspace {} according to the manifest, but missing; the engine \
                     refuses to open this database",
                    meta.keyspace
                ),
            ));
            return None;
        }
        Err(e) => {
            report
                .problems
                .push(Problem::file(&name, format!("cannot read: {e}")));
            return None;
        }
    };
    let reader = verify_blob(data, meta.file_number, &name, report)?;
    let p = reader.properties();
    let found = [
        ("size", p.file_size),
        ("keyspace", u64::from(p.keyspace)),
        ("record count", p.record_count),
        ("value bytes", p.value_bytes),
    ];
    let recorded = [
        meta.file_size,
        u64::from(meta.keyspace),
        meta.record_count,
        meta.value_bytes,
    ];
    for ((what, file), manifest) in found.into_iter().zip(recorded) {
        if file != manifest {
            report.problems.push(Problem::file(
                &name,
                format!("{what} is {file} in the file but {manifest} in the manifest"),
            ));
        }
    }
    Some(reader)
}

/// Pointers of one segment into one blob file that cannot be followed, counted
/// rather than listed one by one: the first key tells where to look.
struct Unreachable {
    first_key: Bytes,
    count: u64,
}

/// Checks every blob pointer entry of live segment `seg`, and its recorded blob
/// references against the pointers it holds.
fn check_pointers(
    state: &DbState,
    seg: &LiveSegment,
    reader: &SegmentReader,
    readers: &BlobReaders,
    report: &mut Report,
) {
    let name = seg.name();
    let style = Style::default().whole();
    let mut held: BTreeMap<u64, u64> = BTreeMap::new();
    let mut unreachable: BTreeMap<u64, Unreachable> = BTreeMap::new();
    let mut it = reader.iter();
    let mut step = it.seek_to_first();
    while step.is_ok() && it.valid() {
        if it.kind() == EntryKind::BlobPointer {
            let entry = it.entry();
            let key = show(&entry.key, style);
            match BlobPointer::decode(&entry.value) {
                Err(e) => report.problems.push(Problem::file(
                    &name,
                    format!("key {key}: the blob pointer does not decode: {e}"),
                )),
                Ok(p) => {
                    *held.entry(p.file_number).or_default() += u64::from(p.value_len);
                    let meta = state.manifest.blob_files.get(&p.file_number);
                    match (meta, readers.get(&p.file_number)) {
                        (Some(m), _) if m.keyspace != seg.meta.keyspace => {
                            report.problems.push(Problem::file(
                                &name,
                                format!(
                                    "key {key}: points into {} of keyspace {}, but the segment \
                                     is of keyspace {}",
                                    blob_name(p.file_number),
                                    m.keyspace,
                                    seg.meta.keyspace
                                ),
                            ));
                        }
                        (Some(_), Some(Some(blob))) => {
                            check_record(&name, &key, &entry.key, blob, &p, report)
                        }
                        _ => {
                            let u = unreachable.entry(p.file_number).or_insert(Unreachable {
                                first_key: entry.key.clone(),
                                count: 0,
                            });
                            u.count += 1;
                        }
                    }
                }
            }
        }
        step = it.next();
    }
    // A damaged block is reported by the segment's own checks.
    for (number, u) in unreachable {
        let why = if state.manifest.blob_files.contains_key(&number) {
            "which is missing or unreadable"
        } else {
            "which the manifest does not list as live"
        };
        report.problems.push(Problem::file(
            &name,
            format!(
                "{} (the first at key {}) point into {}, {why}: blob references that point \
                 nowhere",
                crate::display::plural(u.count, "blob pointer"),
                show(&u.first_key, style),
                blob_name(number)
            ),
        ));
    }
    let held: Vec<BlobRef> = held
        .into_iter()
        .map(|(blob_file, value_bytes)| BlobRef {
            blob_file,
            value_bytes,
        })
        .collect();
    if step.is_ok() && held != seg.meta.blob_refs {
        report.problems.push(Problem::file(
            &name,
            format!(
                "the manifest records blob references {}, the segment's pointers make {}",
                refs(&seg.meta.blob_refs),
                refs(&held)
            ),
        ));
    }
}

/// Reads the record `pointer` names and checks that it is `key`'s.
fn check_record(
    segment: &str,
    shown_key: &str,
    key: &[u8],
    blob: &BlobReader,
    pointer: &BlobPointer,
    report: &mut Report,
) {
    let blob_file = blob_name(pointer.file_number);
    match blob.get_record(pointer) {
        Ok(record) if &record.key[..] == key => {}
        Ok(record) => report.problems.push(Problem::file(
            segment,
            format!(
                "key {shown_key}: its blob pointer names the record of key {} in {blob_file} at \
                 offset {}",
                show(&record.key, Style::default().whole()),
                pointer.offset
            ),
        )),
        Err(e) => report.problems.push(Problem::file(
            segment,
            format!(
                "key {shown_key}: its blob pointer into {blob_file} at offset {} does not lead \
                 to its value: {}",
                pointer.offset,
                unname(e, &blob_file)
            ),
        )),
    }
}

/// Blob references in words: `none`, or `000007.blob (300 bytes), ...`.
fn refs(refs: &[BlobRef]) -> String {
    if refs.is_empty() {
        return "none".to_string();
    }
    refs.iter()
        .map(|r| format!("{} ({} bytes)", blob_name(r.blob_file), r.value_bytes))
        .collect::<Vec<_>>()
        .join(", ")
}
