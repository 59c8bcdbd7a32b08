//! Verifying a whole database directory: every file, plus the manifest's promises:
//! each live segment exists with the recorded size and properties, no level above 0
//! has overlapping key ranges, file numbers stay below `next_file_number`, and every
//! file the manifest does not list is one the engine can prove dead (judged by
//! `lsm_core::audit_files`, the rule `Db::open` applies; reported, never deleted).
//! Blob files and the pointers into them are checked by [`super::blob`].

use std::path::Path;

use lsm_core::FileAudit;
use lsm_format::manifest::SegmentMeta;
use lsm_format::Properties;

use super::log::{verify_manifest, verify_wal, verify_wal_tail, WalTail};
use super::segment::verify_segment;
use super::Report;
use crate::display::{show, Style};
use crate::error::Result;
use crate::files::{segment_name, FileName};
use crate::problem::Problem;
use crate::state::DbState;

/// Verifies the database in `dir`, without taking its lock.
///
/// # Errors
/// When `dir` is not a database directory or cannot be read.
pub fn verify_dir(dir: &Path, report: &mut Report) -> Result<()> {
    let state = DbState::load(dir)?;
    let manifest = verify_manifest(&state.manifest_bytes, "MANIFEST", report);
    report.keyspaces = manifest
        .keyspaces
        .iter()
        .map(|(&id, k)| super::KeyspaceLine {
            id,
            name: k.name.clone(),
            segments: state
                .segments
                .iter()
                .filter(|s| s.meta.keyspace == id)
                .count(),
        })
        .collect();
    let next_file = manifest.next_file_number;
    for seg in &state.segments {
        let name = seg.name();
        let data = match seg.read() {
            Ok(d) => d,
            Err(e) => {
                report.problems.push(Problem::file(&name, e.to_string()));
                continue;
            }
        };
        if data.len() as u64 != seg.meta.file_size {
            report.problems.push(Problem::file(
                &name,
                format!(
                    "size is {} bytes, the manifest records {}",
                    data.len(),
                    seg.meta.file_size
                ),
            ));
        }
        if let Some(props) = verify_segment(data, &name, report) {
            compare_with_manifest(&name, &seg.meta, &props, report);
        }
        if seg.meta.file_number >= next_file {
            report.problems.push(Problem::file(
                &name,
                format!("file number is not below the manifest's next_file_number {next_file}"),
            ));
        }
    }
    for (level, meta) in &state.missing {
        report.problems.push(Problem::file(
            &segment_name(meta.file_number),
            format!("live in level {level} according to the manifest, but missing"),
        ));
    }
    check_overlaps(&state, report);
    super::blob::verify_blobs(&state, report);
    let mut next_seq = 0;
    let newest = state.wals.last().map(|w| w.number);
    for wal in &state.wals {
        let name = wal.name();
        let live_tail = state.writer_running && Some(wal.number) == newest;
        let tail = if live_tail {
            WalTail::BeingWritten
        } else {
            WalTail::AtRest
        };
        let seqs = verify_wal_tail(&wal.data, &name, tail, report);
        if let Some(first) = seqs.first {
            if first < next_seq {
                report.problems.push(Problem::file(
                    &name,
                    format!("first sequence number {first} is below the previous WAL's {next_seq}"),
                ));
            }
        }
        next_seq = next_seq.max(seqs.next);
        if wal.number >= next_file && state.writer_running {
            // The running writer numbers a new WAL from its own counter and records
            // the counter with its next manifest edit.
            report.notes.push(format!(
                "{name}: created by the running writer after the manifest's last edit"
            ));
        } else if wal.number >= next_file {
            report.problems.push(Problem::file(
                &name,
                format!("file number is not below the manifest's next_file_number {next_file}"),
            ));
        }
    }
    let audit = match &state.audit {
        Ok(audit) => Some(audit),
        Err(e) => {
            report.notes.push(format!(
                "files not in the manifest could not be judged as the engine does: {e}"
            ));
            None
        }
    };
    if let Some(named) = audit.and_then(|a| a.missing_wal) {
        report.problems.push(Problem::file(
            "MANIFEST",
            format!(
                "behind its directory: it names {} as the oldest live WAL, which is missing, \
                 while newer WALs exist; the engine refuses to open this database",
                crate::files::wal_name(named)
            ),
        ));
    }
    for f in state.orphans() {
        match f.kind {
            FileName::Segment(n) => {
                judge_unlisted(&f.name, n, audit, state.writer_running, report);
                // Its bytes are checked too: every file of the directory is.
                if let Some(data) = read_unless_gone(dir, &f.name, report) {
                    verify_segment(data, &f.name, report);
                }
            }
            FileName::Wal(_) => {
                // The manifest records that its data is in segments (log_number moved
                // past it): a crash between that edit and the removal leaves it, and
                // the engine removes it on open.
                report.notes.push(format!(
                    "{}: obsolete WAL below log_number {}, not removed yet; the engine \
                     removes it on open",
                    f.name, manifest.log_number
                ));
                if let Some(data) = read_unless_gone(dir, &f.name, report) {
                    verify_wal(&data, &f.name, report);
                }
            }
            FileName::Blob(n) => {
                judge_unlisted_blob(&f.name, n, audit, state.writer_running, report);
                if let Some(data) = read_unless_gone(dir, &f.name, report) {
                    super::blob::verify_blob(data, n, &f.name, report);
                }
            }
            FileName::Temp => report.notes.push(format!(
                "{}: temporary file, being written by a running process or left by a crash \
                 (the engine removes it on open)",
                f.name
            )),
            _ => report
                .notes
                .push(format!("{}: not a database file, ignored", f.name)),
        }
    }
    Ok(())
}

/// Reports a segment the manifest does not list, as the engine judges it.
fn judge_unlisted(
    name: &str,
    number: u64,
    audit: Option<&FileAudit>,
    writer_running: bool,
    report: &mut Report,
) {
    let Some(audit) = audit else {
        report.problems.push(Problem::file(
            name,
            "orphan segment: not in the manifest (not deleted)",
        ));
        return;
    };
    if audit.leftover_segments.contains(&number) && writer_running {
        report.notes.push(format!(
            "{name}: not in the manifest yet, and every entry is held by live files (the \
             output of the running writer's flush or compaction)"
        ));
    } else if audit.leftover_segments.contains(&number) {
        report.notes.push(format!(
            "{name}: not in the manifest, and every entry is held by live files (left by an \
             interrupted flush or compaction); the engine removes it on open"
        ));
    } else if audit.obsolete_segments.contains(&number) {
        report.notes.push(format!(
            "{name}: recorded dead by the manifest but not removed yet; the engine removes \
             it on open"
        ));
    } else if let Some(u) = audit
        .unexplained_segments
        .iter()
        .find(|u| u.number == number)
    {
        report.problems.push(Problem::file(
            name,
            format!(
                "not in the manifest, and holds data found nowhere else ({}): the manifest \
                 is behind its directory; the engine refuses to open this database",
                u.reason
            ),
        ));
    } else {
        // Appeared after the audit listed the directory (a running writer).
        report.notes.push(format!(
            "{name}: not in the manifest; appeared while being checked"
        ));
    }
}

/// Reports a blob file the manifest does not list, as the engine judges it: one
/// recorded dead, or the output of an interrupted flush or compaction, is removed
/// by open. Pointers into it from live segments are reported with the segments.
fn judge_unlisted_blob(
    name: &str,
    number: u64,
    audit: Option<&FileAudit>,
    writer_running: bool,
    report: &mut Report,
) {
    let dead = audit.is_some_and(|a| a.obsolete_blobs.contains(&number));
    report.notes.push(if dead {
        format!(
            "{name}: recorded dead by the manifest but not removed yet; the engine removes \
             it on open"
        )
    } else if writer_running {
        format!(
            "{name}: not in the manifest yet (the output of the running writer's flush or \
             compaction, or left by an interrupted one)"
        )
    } else {
        format!(
            "{name}: blob file not in the manifest (left by an interrupted flush or \
             compaction); the engine removes it on open"
        )
    });
}

/// Reads a file that is not live; one that is gone by now (a running process removed
/// it) is a note, not a problem.
fn read_unless_gone(dir: &Path, name: &str, report: &mut Report) -> Option<bytes::Bytes> {
    match std::fs::read(dir.join(name)) {
        Ok(data) => Some(bytes::Bytes::from(data)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report
                .notes
                .push(format!("{name}: removed while being checked"));
            None
        }
        Err(e) => {
            report
                .problems
                .push(Problem::file(name, format!("cannot read: {e}")));
            None
        }
    }
}

/// The segment's properties must say what the manifest recorded about it.
fn compare_with_manifest(name: &str, meta: &SegmentMeta, props: &Properties, report: &mut Report) {
    let style = Style::default().whole();
    let mut differ = |what: &str, file: String, manifest: String| {
        if file != manifest {
            report.problems.push(Problem::file(
                name,
                format!("{what} is {file} in the file but {manifest} in the manifest"),
            ));
        }
    };
    differ(
        "smallest key",
        show(&props.smallest_key, style),
        show(&meta.smallest_key, style),
    );
    differ(
        "largest key",
        show(&props.largest_key, style),
        show(&meta.largest_key, style),
    );
    differ(
        "smallest seq",
        props.smallest_seq.to_string(),
        meta.smallest_seq.to_string(),
    );
    differ(
        "largest seq",
        props.largest_seq.to_string(),
        meta.largest_seq.to_string(),
    );
    differ(
        "entry count",
        props.entry_count.to_string(),
        meta.entry_count.to_string(),
    );
    differ(
        "tombstone count",
        props.tombstone_count.to_string(),
        meta.tombstone_count.to_string(),
    );
    differ(
        "keyspace",
        props.keyspace.to_string(),
        meta.keyspace.to_string(),
    );
}

/// Levels above 0 of each keyspace hold disjoint key ranges (sorted by smallest key
/// by the replay; keyspaces are separate key spaces, so they may overlap each other).
fn check_overlaps(state: &DbState, report: &mut Report) {
    let style = Style::default().whole();
    for (level, all) in state.manifest.levels.iter().enumerate().skip(1) {
        for &keyspace in state.manifest.keyspaces.keys() {
            let segs: Vec<&SegmentMeta> = all.iter().filter(|s| s.keyspace == keyspace).collect();
            for pair in segs.windows(2) {
                if let [a, b] = pair {
                    if a.largest_key >= b.smallest_key {
                        report.problems.push(Problem::file(
                            "MANIFEST",
                            format!(
                                "level {level}: {} (keys {} ..= {}) overlaps {} (keys {} ..= {})",
                                segment_name(a.file_number),
                                show(&a.smallest_key, style),
                                show(&a.largest_key, style),
                                segment_name(b.file_number),
                                show(&b.smallest_key, style),
                                show(&b.largest_key, style),
                            ),
                        ));
                    }
                }
            }
        }
    }
}
