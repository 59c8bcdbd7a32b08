//! Replaying a whole WAL file: `docs/format.md` sections 4 and 5.
//!
//! [`replay_wal`] applies the rule that tells a torn tail (dropped) from corruption
//! (refused): damage is corruption exactly when a valid later record certifies,
//! through its `synced_offset`, that the damaged bytes had been made durable.

use std::borrow::Cow;

use bytes::Bytes;

use crate::entry::EntryKind;
use crate::error::{Error, Result};
use crate::log::{LogContents, LogDamageKind};

use super::batch::WalBatch;
use super::file::{read_wal_log, WalLog};
use super::header::{WalFormat, WalRecord, WalRecordDecoder};

/// One operation of a replayed batch, sharing the bytes of the WAL copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedWalOp {
    /// The keyspace the op writes to (0 unless the op names another, format 5).
    pub keyspace: crate::keyspace::KeyspaceId,
    /// Put, delete, range delete or expiring put.
    pub kind: EntryKind,
    /// The key.
    pub key: Bytes,
    /// The value: empty for a delete, the (exclusive) end for a range delete, the
    /// expiry time and the value for an expiring put.
    pub value: Bytes,
}

/// A batch returned by [`replay_wal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedWalBatch {
    /// File offset of the record holding the batch.
    pub offset: u64,
    /// File offset just past that record.
    pub end: u64,
    /// Sequence number of the first op.
    pub first_seq: u64,
    /// Bytes of the WAL file certified durable when this record was written.
    pub synced_offset: u64,
    /// The ops, in order; op `i` has sequence number `first_seq + i`.
    pub ops: Vec<OwnedWalOp>,
}

/// The outcome of [`replay_wal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalReplay {
    /// Every batch before the first damage, in file order, with increasing sequence
    /// numbers.
    pub batches: Vec<OwnedWalBatch>,
    /// Offset of a torn tail that was dropped: the file holds nothing usable from
    /// there on. The engine truncates the file here before appending to it again.
    pub torn_tail: Option<u64>,
    /// Why the tail was torn, when it was.
    pub torn_kind: Option<LogDamageKind>,
    /// Complete, valid records found after the torn tail and dropped with it (none
    /// certified the damaged bytes durable). Tools report them.
    pub records_after_damage: usize,
    /// Offset just past the last replayed record (0 when none): the clean length.
    pub clean_len: u64,
}

impl WalReplay {
    /// The largest sequence number used by a replayed op, if any op was replayed.
    pub fn last_sequence(&self) -> Option<u64> {
        self.batches
            .iter()
            .filter(|b| !b.ops.is_empty())
            .map(|b| b.first_seq + b.ops.len() as u64 - 1)
            .max()
    }
}

/// Replays a whole WAL file: decodes every batch and applies the section 4/5 rule.
///
/// Damage at offset `d` is a torn tail (dropped, reported in
/// [`WalReplay::torn_tail`]) unless a valid record after it certifies
/// `synced_offset > d`. Keys and values share one copy of `data`.
///
/// # Errors
/// `Corruption` at `d` for damage that had been synced; `Corruption` at a record for
/// a record that passes its checksum but is not a valid batch, whose sequence numbers
/// do not increase, or whose `synced_offset` lies past its own offset.
pub fn replay_wal(data: &[u8]) -> Result<WalReplay> {
    let shared = Bytes::copy_from_slice(data);
    let WalLog {
        contents,
        narrow_records_after,
        ..
    } = read_wal_log(&shared)?;
    let clean_len = contents.clean_len();
    let LogContents { records, damage } = contents;
    let mut batches = Vec::with_capacity(records.len());
    let mut next_seq = 0u64;
    let mut decoder = WalRecordDecoder::new();
    for rec in records {
        let (offset, end) = (rec.offset, rec.end);
        // One-fragment payloads lie inside `shared`; joined ones become their own buffer.
        let buf = match rec.payload {
            Cow::Borrowed(payload) => shared.slice_ref(payload),
            Cow::Owned(joined) => Bytes::from(joined),
        };
        let Some(batch) = decode_record(&mut decoder, &buf, offset)? else {
            continue;
        };
        if batch.first_seq < next_seq {
            return Err(Error::corruption(
                offset,
                format!(
                    "batch first_seq {} is below the next sequence number {next_seq}",
                    batch.first_seq
                ),
            ));
        }
        next_seq = batch.next_seq();
        let ops = batch
            .ops
            .iter()
            .map(|op| OwnedWalOp {
                keyspace: op.keyspace,
                kind: op.kind,
                key: buf.slice_ref(op.key),
                value: buf.slice_ref(op.value),
            })
            .collect();
        batches.push(OwnedWalBatch {
            offset,
            end,
            first_seq: batch.first_seq,
            synced_offset: batch.synced_offset,
            ops,
        });
    }
    let (torn_tail, torn_kind, records_after_damage) = match damage {
        None => (None, None, 0),
        Some(damage) => {
            // Records in the file's framing, then (when the first record was lost)
            // those only the narrow framing reveals, decoded as format 5, which
            // reads every format-3 and -4 batch too.
            let in_framing = damage.records_after.iter().map(|r| (decoder.format(), r));
            let narrow = narrow_records_after
                .iter()
                .map(|r| (Some(WalFormat::V5), r));
            for (format, rec) in in_framing.chain(narrow) {
                let synced_offset = certified_synced_offset(format, rec.offset, &rec.payload)?;
                if synced_offset > damage.offset {
                    return Err(Error::corruption(
                        damage.offset,
                        format!(
                            "WAL damaged ({:?}) in bytes that the record at offset {} certifies \
                             were synced (synced_offset {synced_offset})",
                            damage.kind, rec.offset
                        ),
                    ));
                }
            }
            (
                Some(damage.offset),
                Some(damage.kind),
                damage.records_after.len() + narrow_records_after.len(),
            )
        }
    };
    Ok(WalReplay {
        batches,
        torn_tail,
        torn_kind,
        records_after_damage,
        clean_len,
    })
}

/// Decodes the record at `offset` and checks what a batch can say about itself;
/// `None` for the header record.
fn decode_record<'a>(
    decoder: &mut WalRecordDecoder,
    payload: &'a [u8],
    offset: u64,
) -> Result<Option<WalBatch<'a>>> {
    let WalRecord::Batch(batch) = decoder.decode(offset, payload)? else {
        return Ok(None);
    };
    check_synced_offset(batch.synced_offset, offset)?;
    Ok(Some(batch))
}

/// A record cannot certify bytes at or after its own start.
fn check_synced_offset(synced_offset: u64, offset: u64) -> Result<()> {
    if synced_offset > offset {
        return Err(Error::corruption(
            offset,
            format!("record certifies synced_offset {synced_offset} past its own offset"),
        ));
    }
    Ok(())
}

/// The `synced_offset` a valid record found after damage certifies. When the damage
/// hid the file's first record, its format is unknown: the record is decoded in
/// every format, and the largest certification any decoding gives counts, so that
/// doubt refuses to open rather than drops data that had been synced.
fn certified_synced_offset(format: Option<WalFormat>, offset: u64, payload: &[u8]) -> Result<u64> {
    let formats = match &format {
        Some(format) => std::slice::from_ref(format),
        None => &[WalFormat::V2, WalFormat::V1],
    };
    let mut certified = None;
    let mut first_error = None;
    for &format in formats {
        match WalRecordDecoder::with_format(format).decode(offset, payload) {
            Ok(WalRecord::Batch(batch)) => {
                check_synced_offset(batch.synced_offset, offset)?;
                certified = certified.max(Some(batch.synced_offset));
            }
            Ok(WalRecord::Header(_)) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (certified, first_error) {
        (Some(synced), _) => Ok(synced),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(0),
    }
}
