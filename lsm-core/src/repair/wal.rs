//! Reading what can be read of a WAL: every record that passes its checksum and
//! decodes, before the first damage and after it (the log reader resynchronises at
//! later blocks), and which sequence numbers are missing in between.
//!
//! The commit leader gives each write group consecutive sequence numbers and the next
//! group continues where it ended, so the sequence numbers of a WAL's records follow
//! each other without gaps: a gap between two readable records is exactly the
//! operations of the records lost between them.

use std::borrow::Cow;

use bytes::Bytes;
use lsm_format::log::{LogDamageKind, LogRecord};
use lsm_format::wal::{read_wal_log, WalFormat, WalRecord, WalRecordDecoder};

use super::report::SeqRange;
use super::salvage::Item;

/// One readable batch.
pub(crate) struct Batch {
    pub offset: u64,
    pub first_seq: u64,
    pub items: Vec<Item>,
}

/// What a WAL file holds, as far as it can be read.
#[derive(Default)]
pub(crate) struct WalScan {
    /// The readable batches, in file order with increasing sequence numbers.
    pub batches: Vec<Batch>,
    /// Where the first damage starts, and what it is.
    pub damage: Option<(u64, String)>,
    /// A keyspace other than 0 that a readable op writes to, if any: a repair
    /// restores keyspace 0 only, and refuses such a WAL rather than misplace it.
    pub other_keyspace: Option<u32>,
}

impl WalScan {
    /// The largest sequence number read, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.batches
            .iter()
            .rev()
            .find(|b| !b.items.is_empty())
            .map(|b| b.first_seq + b.items.len() as u64 - 1)
    }

    /// True when records after the damage were read: `Db::open` would drop them
    /// with a torn tail, a repair keeps them.
    pub fn read_after_damage(&self) -> bool {
        self.damage
            .as_ref()
            .is_some_and(|(at, _)| self.batches.iter().any(|b| b.offset > *at))
    }

    /// Operations read.
    pub fn ops(&self) -> u64 {
        self.batches.iter().map(|b| b.items.len() as u64).sum()
    }

    /// The sequence numbers lost: gaps between readable records, the start of the
    /// file when the damage comes before its first readable record (from `floor`, the
    /// first number nothing earlier holds), and the rest of the file when nothing
    /// after the damage could be read (up to `ceiling`, the last number before the
    /// next WAL's first record, when there is one).
    pub fn lost_sequences(&self, floor: u64, ceiling: Option<u64>) -> Vec<SeqRange> {
        let Some((at, _)) = self.damage else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut expected = match self.batches.first() {
            Some(b) if b.offset < at => None,
            _ => Some(floor),
        };
        for b in &self.batches {
            if let Some(e) = expected.filter(|&e| b.first_seq > e) {
                out.push(SeqRange::new(e, Some(b.first_seq - 1)));
            }
            expected = Some(b.first_seq + b.items.len() as u64);
        }
        if !self.batches.iter().any(|b| b.offset > at) {
            let from = expected.unwrap_or(floor);
            match ceiling {
                None => out.push(SeqRange::new(from, None)),
                Some(c) if c >= from => out.push(SeqRange::new(from, Some(c))),
                Some(_) => {}
            }
        }
        out
    }
}

/// Reads every readable batch of `data`, a whole WAL file. `Err` when not even the
/// log framing can be told.
pub(crate) fn scan(data: Vec<u8>) -> Result<WalScan, String> {
    let shared = Bytes::from(data);
    let log = read_wal_log(&shared).map_err(|e| e.to_string())?;
    let mut out = WalScan::default();
    let mut decoder = log
        .format
        .map_or_else(WalRecordDecoder::new, WalRecordDecoder::with_format);
    let mut next_seq = 0u64;
    let mut take = |decoder: &mut WalRecordDecoder, rec: &LogRecord<'_>, out: &mut WalScan| {
        let payload = match &rec.payload {
            Cow::Borrowed(p) => shared.slice_ref(p),
            Cow::Owned(joined) => Bytes::copy_from_slice(joined),
        };
        match decoder.decode(rec.offset, &payload) {
            Ok(WalRecord::Header(_)) => {}
            Ok(WalRecord::Batch(batch)) if batch.first_seq >= next_seq => {
                next_seq = batch.next_seq();
                if let Some(op) = batch.ops.iter().find(|op| op.keyspace != 0) {
                    out.other_keyspace.get_or_insert(op.keyspace);
                }
                let items = (batch.first_seq..)
                    .zip(&batch.ops)
                    .map(|(seq, op)| Item {
                        key: payload.slice_ref(op.key),
                        seq,
                        kind: op.kind,
                        value: payload.slice_ref(op.value),
                    })
                    .collect();
                out.batches.push(Batch {
                    offset: rec.offset,
                    first_seq: batch.first_seq,
                    items,
                });
            }
            Ok(WalRecord::Batch(_)) => note(out, rec.offset, "sequence numbers out of order"),
            Err(e) => note(out, rec.offset, &e.to_string()),
        }
    };
    for rec in &log.contents.records {
        take(&mut decoder, rec, &mut out);
    }
    // Zeros to the end of the file with nothing readable after them are where the
    // writer stopped (the file is preallocated): the normal end, as replay treats it.
    let damage = log.contents.damage.as_ref().filter(|d| {
        d.kind != LogDamageKind::Zeroed
            || !d.records_after.is_empty()
            || !log.narrow_records_after.is_empty()
    });
    if let Some(damage) = damage {
        note(
            &mut out,
            damage.offset,
            &format!("{:?} record", damage.kind),
        );
        // After damage that hid the header, the format is unknown: the writer's
        // current format for records in its framing, format 2 for the others.
        let (mut wide, mut narrow) = match decoder.format() {
            Some(f) => (WalRecordDecoder::with_format(f), None),
            None => (
                WalRecordDecoder::with_format(WalFormat::V2),
                Some(WalRecordDecoder::with_format(WalFormat::V5)),
            ),
        };
        for rec in &damage.records_after {
            take(&mut wide, rec, &mut out);
        }
        if let Some(narrow) = &mut narrow {
            for rec in &log.narrow_records_after {
                take(narrow, rec, &mut out);
            }
        }
    }
    if log.contents.records.is_empty() && out.damage.is_none() {
        // Not even a header: emptied or zeroed (a WAL starts with its header record).
        note(
            &mut out,
            0,
            "no record at all (the file is empty or zeroed)",
        );
    }
    out.batches.sort_by_key(|b| b.first_seq);
    Ok(out)
}

/// Records the first damage.
fn note(out: &mut WalScan, offset: u64, what: &str) {
    match &out.damage {
        Some((at, _)) if *at <= offset => {}
        _ => out.damage = Some((offset, format!("{what} at offset {offset}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(batches: &[(u64, u64, u64)], damage: Option<u64>) -> WalScan {
        WalScan {
            batches: batches
                .iter()
                .map(|&(offset, first_seq, n)| Batch {
                    offset,
                    first_seq,
                    items: (0..n)
                        .map(|i| Item {
                            key: Bytes::from(format!("k{i}")),
                            seq: first_seq + i,
                            kind: lsm_format::EntryKind::Put,
                            value: Bytes::new(),
                        })
                        .collect(),
                })
                .collect(),
            damage: damage.map(|d| (d, String::new())),
            other_keyspace: None,
        }
    }

    #[test]
    fn a_gap_across_the_damage_is_exactly_the_lost_numbers() {
        let s = scan_of(&[(10, 5, 2), (40, 7, 1), (200, 12, 3)], Some(60));
        assert_eq!(s.lost_sequences(1, None), vec![SeqRange::new(8, Some(11))]);
        assert_eq!(s.last_seq(), Some(14));
        assert_eq!(s.ops(), 6);
    }

    #[test]
    fn a_lost_tail_runs_to_the_next_wal_or_is_open_ended() {
        let s = scan_of(&[(10, 5, 2)], Some(60));
        assert_eq!(s.lost_sequences(1, None), vec![SeqRange::new(7, None)]);
        assert_eq!(
            s.lost_sequences(1, Some(9)),
            vec![SeqRange::new(7, Some(9))]
        );
        // The next WAL starts right after: nothing was lost.
        assert_eq!(s.lost_sequences(1, Some(6)), vec![]);
    }

    #[test]
    fn damage_before_the_first_record_starts_at_the_floor() {
        let s = scan_of(&[(300, 20, 1)], Some(0));
        assert_eq!(
            s.lost_sequences(11, None),
            vec![SeqRange::new(11, Some(19))]
        );
        let empty = scan_of(&[], Some(0));
        assert_eq!(
            empty.lost_sequences(11, None),
            vec![SeqRange::new(11, None)]
        );
        assert_eq!(scan_of(&[(0, 1, 1)], None).lost_sequences(1, None), vec![]);
    }

    #[test]
    fn a_real_wal_with_a_flipped_record_loses_that_record_only() {
        use lsm_format::log::LogWriter;
        use lsm_format::wal::{encode_batch_header, encode_op, start_wal, WalFormat};
        let mut file = Vec::new();
        let mut log: LogWriter = start_wal(WalFormat::CURRENT, &mut file);
        let mut offsets = Vec::new();
        for seq in 1..=40u64 {
            let mut payload = Vec::new();
            encode_batch_header(&mut payload, seq, 0, 1);
            encode_op(
                &mut payload,
                lsm_format::EntryKind::Put,
                b"key",
                &[7u8; 900],
            );
            offsets.push(file.len());
            log.add_record(&payload, &mut file);
        }
        file[offsets[20] + 12] ^= 1;
        let s = scan(file).unwrap();
        assert_eq!(s.ops(), 39);
        assert_eq!(s.lost_sequences(1, None), vec![SeqRange::new(21, Some(21))]);
    }
}
