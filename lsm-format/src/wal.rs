//! Write batches as stored in write-ahead log records: `docs/format.md` section 5.
//!
//! ```text
//! batch := first_seq:u64 synced_offset:u64 count:u32 op[count]
//! op    := kind:u8 key:bytes [value:bytes]     ; value only when kind = 1 (Put)
//! ```
//!
//! [`replay_wal`] reads a whole WAL file and applies the section 4/5 rule that tells
//! a torn tail (dropped) from corruption (refused): damage is corruption exactly when
//! a valid later record certifies, through its `synced_offset`, that the damaged
//! bytes had been made durable.

use std::borrow::Cow;

use bytes::Bytes;

use crate::coding::{put_length_prefixed, Decoder};
use crate::entry::{EntryKind, MAX_KEY_LEN, MAX_SEQUENCE, MAX_VALUE_LEN};
use crate::error::{Error, Result};
use crate::log::{read_log, LogContents, LogDamageKind, LOG_HEADER_LEN};

/// Bytes of the batch header: first_seq, synced_offset, count.
pub const BATCH_HEADER_LEN: usize = 20;

/// One operation of a batch, borrowed from the decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOp<'a> {
    /// Put or delete.
    pub kind: EntryKind,
    /// The key.
    pub key: &'a [u8],
    /// The value (empty for a delete).
    pub value: &'a [u8],
}

/// A decoded batch record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalBatch<'a> {
    /// Sequence number of the first op.
    pub first_seq: u64,
    /// Bytes of the WAL file certified durable when this record was written.
    pub synced_offset: u64,
    /// The ops, in order; op `i` has sequence number `first_seq + i`.
    pub ops: Vec<WalOp<'a>>,
}

impl WalBatch<'_> {
    /// The sequence number after this batch's last op (`first_seq` when empty).
    pub fn next_seq(&self) -> u64 {
        self.first_seq + self.ops.len() as u64
    }

    /// Encodes this batch, as [`encode_batch_header`] and [`encode_op`] would.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_batch_header(
            out,
            self.first_seq,
            self.synced_offset,
            self.ops.len() as u32,
        );
        for op in &self.ops {
            encode_op(out, op.kind, op.key, op.value);
        }
    }
}

/// Encodes a batch header; the caller appends ops with [`encode_op`] and must write
/// exactly `count` of them.
pub fn encode_batch_header(out: &mut Vec<u8>, first_seq: u64, synced_offset: u64, count: u32) {
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&synced_offset.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
}

/// Appends one op to a batch being encoded. The value is written only for a put; the
/// caller keeps keys and values within [`MAX_KEY_LEN`] and [`MAX_VALUE_LEN`].
pub fn encode_op(out: &mut Vec<u8>, kind: EntryKind, key: &[u8], value: &[u8]) {
    debug_assert!(key.len() <= MAX_KEY_LEN && value.len() <= MAX_VALUE_LEN);
    debug_assert!(kind == EntryKind::Put || value.is_empty());
    out.push(kind as u8);
    put_length_prefixed(out, key);
    if kind == EntryKind::Put {
        put_length_prefixed(out, value);
    }
}

/// Decodes a batch record whose first byte is at file offset `offset` (for errors).
///
/// # Errors
/// `Corruption` for a truncated record, an unknown kind, a key or value over the
/// limits, sequence numbers past [`MAX_SEQUENCE`], or trailing bytes.
pub fn decode_batch(payload: &[u8], offset: u64) -> Result<WalBatch<'_>> {
    let mut d = Decoder::new(payload, offset);
    let first_seq = d.u64("batch first_seq")?;
    let synced_offset = d.u64("batch synced_offset")?;
    let count = d.u32("batch count")?;
    // `first_seq + count - 1`, the last op's number, must be a valid sequence number.
    if first_seq
        .checked_add(u64::from(count))
        .is_none_or(|next| next > MAX_SEQUENCE + 1)
    {
        return Err(Error::corruption(
            offset,
            format!("batch sequence numbers {first_seq} + {count} exceed 2^56"),
        ));
    }
    // Every op takes at least two bytes, so this never over-allocates on a bad count.
    let mut ops = Vec::with_capacity((count as usize).min(d.remaining() / 2));
    for _ in 0..count {
        let at = d.offset();
        let kind = d.u8("op kind")?;
        let kind = EntryKind::from_u8(kind)
            .ok_or_else(|| Error::corruption(at, format!("unknown op kind {kind}")))?;
        let key = d.length_prefixed(MAX_KEY_LEN, "op key")?;
        let value = match kind {
            EntryKind::Put => d.length_prefixed(MAX_VALUE_LEN, "op value")?,
            EntryKind::Tombstone => &[],
        };
        ops.push(WalOp { kind, key, value });
    }
    d.finish("batch")?;
    Ok(WalBatch {
        first_seq,
        synced_offset,
        ops,
    })
}

/// One operation of a replayed batch, sharing the bytes of the WAL copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedWalOp {
    /// Put or delete.
    pub kind: EntryKind,
    /// The key.
    pub key: Bytes,
    /// The value (empty for a delete).
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
    let log = read_log(&shared)?;
    let clean_len = log.clean_len();
    let LogContents { records, damage } = log;
    let mut batches = Vec::with_capacity(records.len());
    let mut next_seq = 0u64;
    for rec in records {
        let (offset, end) = (rec.offset, rec.end);
        // One-fragment payloads lie inside `shared`; joined ones become their own buffer.
        let buf = match rec.payload {
            Cow::Borrowed(payload) => shared.slice_ref(payload),
            Cow::Owned(joined) => Bytes::from(joined),
        };
        let batch = decode_record(&buf, offset)?;
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
            for rec in &damage.records_after {
                let batch = decode_record(&rec.payload, rec.offset)?;
                if batch.synced_offset > damage.offset {
                    return Err(Error::corruption(
                        damage.offset,
                        format!(
                            "WAL damaged ({:?}) in bytes that the record at offset {} certifies \
                             were synced (synced_offset {})",
                            damage.kind, rec.offset, batch.synced_offset
                        ),
                    ));
                }
            }
            (
                Some(damage.offset),
                Some(damage.kind),
                damage.records_after.len(),
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

/// Decodes the batch of the record at `offset` and checks what a record can say about
/// itself.
fn decode_record(payload: &[u8], offset: u64) -> Result<WalBatch<'_>> {
    // Error offsets within a multi-fragment record are approximate past its first
    // fragment.
    let batch = decode_batch(payload, offset + LOG_HEADER_LEN as u64)?;
    if batch.synced_offset > offset {
        return Err(Error::corruption(
            offset,
            format!(
                "record certifies synced_offset {} past its own offset",
                batch.synced_offset
            ),
        ));
    }
    Ok(batch)
}
