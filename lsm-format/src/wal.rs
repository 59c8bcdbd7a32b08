//! Write batches as stored in write-ahead log records: `docs/format.md` section 5.

use crate::entry::EntryKind;
use crate::error::Result;

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

/// Encodes a batch header; the caller appends ops with [`encode_op`] and must write
/// exactly `count` of them.
pub fn encode_batch_header(out: &mut Vec<u8>, first_seq: u64, synced_offset: u64, count: u32) {
    let _ = (out, first_seq, synced_offset, count);
    todo!()
}

/// Appends one op to a batch being encoded.
pub fn encode_op(out: &mut Vec<u8>, kind: EntryKind, key: &[u8], value: &[u8]) {
    let _ = (out, kind, key, value);
    todo!()
}

/// Decodes a batch record whose first byte is at file offset `offset` (for errors).
///
/// # Errors
/// `Corruption` for a truncated record, an unknown kind, a key or value over the
/// limits, or trailing bytes.
pub fn decode_batch(payload: &[u8], offset: u64) -> Result<WalBatch<'_>> {
    let _ = (payload, offset);
    todo!()
}
