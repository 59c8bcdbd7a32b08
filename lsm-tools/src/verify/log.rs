//! Verifying the two logs: a WAL (`docs/format.md` sections 4 and 5) and a manifest
//! (sections 4 and 6).

use lsm_format::checksum::checksum_parts;
use lsm_format::log::{LogDamageKind, LogFraming, LOG_BLOCK_SIZE};
use lsm_format::wal::{read_wal_log, replay_wal, WalRecord, WalRecordDecoder};

use super::Report;
use crate::problem::Problem;
use crate::state::manifest::{replay, Damage, ManifestState};

/// Sequence numbers a sound WAL used.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalSeqs {
    /// First sequence number of the first non-empty batch.
    pub first: Option<u64>,
    /// Sequence number after the last op.
    pub next: u64,
}

/// Whether a WAL may be in the middle of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalTail {
    /// Nobody writes it (no writer, or not the newest WAL): damage at its end is
    /// judged as a crash left it.
    AtRest,
    /// The newest WAL of a database whose writer is running: damage after its last
    /// valid record, with nothing valid after it, is the record being appended.
    BeingWritten,
}

/// Verifies a WAL file's bytes, adding to `report`. Returns the sequence numbers it
/// holds, for checks across files.
pub fn verify_wal(data: &[u8], name: &str, report: &mut Report) -> WalSeqs {
    verify_wal_tail(data, name, WalTail::AtRest, report)
}

/// [`verify_wal`] for a WAL whose tail may be being written (`tail`).
pub fn verify_wal_tail(data: &[u8], name: &str, tail: WalTail, report: &mut Report) -> WalSeqs {
    report.files_checked += 1;
    let mut seqs = WalSeqs::default();
    let wal = match read_wal_log(data) {
        Ok(wal) => wal,
        Err(e) => {
            report.problems.push(Problem::from_format(name, &e));
            return seqs;
        }
    };
    let log = &wal.contents;
    report.records_checked += log.records.len() as u64;
    let mut decoder = WalRecordDecoder::new();
    for rec in &log.records {
        match decoder.decode(rec.offset, &rec.payload) {
            Ok(WalRecord::Header(_)) => {}
            Ok(WalRecord::Batch(batch)) => {
                if batch.first_seq < seqs.next {
                    report.problems.push(Problem::at(
                        name,
                        rec.offset,
                        format!(
                            "batch first seq {} is below the previous batch's next seq {}",
                            batch.first_seq, seqs.next
                        ),
                    ));
                }
                if batch.synced_offset > rec.offset {
                    report.problems.push(Problem::at(
                        name,
                        rec.offset,
                        format!(
                            "batch certifies synced offset {} past its own offset",
                            batch.synced_offset
                        ),
                    ));
                }
                if !batch.ops.is_empty() && seqs.first.is_none() {
                    seqs.first = Some(batch.first_seq);
                }
                seqs.next = seqs.next.max(batch.next_seq());
            }
            Err(e) => report.problems.push(Problem::from_format(name, &e)),
        }
    }
    if let Some(d) = &log.damage {
        let damage = Damage {
            offset: d.offset,
            kind: d.kind,
            records_after: d.records_after.len() + wal.narrow_records_after.len(),
        };
        // Damage past a valid header is in the batches' framing; at offset 0 it is in
        // the header's, which every format frames wide.
        let framing = match wal.format {
            Some(format) if d.offset > 0 => format.framing(),
            _ => LogFraming::Wide,
        };
        // The engine's verdict: replay_wal refuses damage that a later record certifies
        // had been synced.
        let refused = replay_wal(data).is_err();
        if tail == WalTail::BeingWritten && damage.records_after == 0 && !refused {
            report.notes.push(format!(
                "{name}: offset {}: the record there is being appended by the running writer",
                damage.offset
            ));
            return seqs;
        }
        let recovery = if refused {
            "recovery refuses to open the database"
        } else {
            "recovery drops it as a torn tail"
        };
        classify_damage(data, name, damage, framing, recovery, report);
    }
    seqs
}

/// Verifies a manifest file's bytes, adding to `report`, and returns the replayed
/// state.
pub fn verify_manifest(data: &[u8], name: &str, report: &mut Report) -> ManifestState {
    report.files_checked += 1;
    let state = replay(data, name);
    report.records_checked += state.edits.len() as u64;
    report.problems.extend(state.problems.iter().cloned());
    if let Some(d) = state.damage {
        // A damaged record followed by valid ones is already among the problems.
        if d.records_after == 0 {
            let recovery = "recovery drops it as a torn tail";
            classify_damage(data, name, d, LogFraming::Wide, recovery, report);
        }
    }
    state
}

/// Reports damage met in a log. A tail cut short (the file ends inside a record, or
/// zeros to the end) is what a crash while appending leaves: a note. Anything else
/// means bytes were changed after they were written: a problem, even when recovery
/// would drop it.
fn classify_damage(
    data: &[u8],
    name: &str,
    d: Damage,
    framing: LogFraming,
    recovery: &str,
    report: &mut Report,
) {
    let cut_short = matches!(d.kind, LogDamageKind::Incomplete | LogDamageKind::Zeroed)
        && d.records_after == 0
        && !length_field_damaged(data, d.offset, framing);
    if cut_short {
        report.notes.push(format!(
            "{name}: offset {}: torn tail ({:?}): the last write was cut short; {recovery}",
            d.offset, d.kind
        ));
        return;
    }
    let kind = match d.kind {
        LogDamageKind::Incomplete => "fragment length runs past the end of the file but the \
                                      checksum matches a shorter length: damaged length field"
            .to_string(),
        other => format!("{other:?}"),
    };
    report.problems.push(Problem::at(
        name,
        d.offset,
        format!(
            "damaged log record ({kind}), {} after it; {recovery}",
            crate::display::plural(d.records_after as u64, "valid record")
        ),
    ));
}

/// True when the fragment that runs past the end of the file is complete after all:
/// its stored checksum matches the bytes that are there with their actual length, so
/// its length field was damaged. A real torn write leaves a prefix whose checksum
/// cannot match.
fn length_field_damaged(data: &[u8], from: u64, framing: LogFraming) -> bool {
    let header_len = framing.header_len();
    let mut pos = from as usize;
    loop {
        let left_in_block = LOG_BLOCK_SIZE - pos % LOG_BLOCK_SIZE;
        if left_in_block < header_len {
            pos += left_in_block;
            continue;
        }
        let Some(header) = data.get(pos..pos + header_len) else {
            return false;
        };
        let (stored, len, ty) = framing.split_header(header);
        let start = pos + header_len;
        if start + len <= data.len() {
            pos = start + len;
            continue;
        }
        let payload = data.get(start..).unwrap_or_default();
        let Ok(actual) = u16::try_from(payload.len()) else {
            return false;
        };
        let sum = checksum_parts(&[&actual.to_le_bytes(), &[ty], payload]);
        return framing.stored_checksum(sum) == stored;
    }
}
