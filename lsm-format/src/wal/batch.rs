//! Write batches, the payload of every WAL record but the header:
//! `docs/format.md` section 5.

use crate::coding::{put_length_prefixed, put_varint32, put_varint64, Decoder};
use crate::entry::{EntryKind, EXPIRY_LEN, MAX_KEY_LEN, MAX_SEQUENCE, MAX_VALUE_LEN};
use crate::error::{Error, Result};
use crate::keyspace::{check_keyspace_id, KeyspaceId, DEFAULT_KEYSPACE};

use super::WalFormat;

/// The bit of an op's kind byte (WAL format 5) that says a keyspace id follows it;
/// the kind is the byte without it. An op without it belongs to keyspace 0.
pub const KEYSPACE_FLAG: u8 = 0x80;

/// Bytes of a format-1 batch header: first_seq u64, synced_offset u64, count u32.
/// (Format 2 writes the same three fields as varints, usually 3 to 12 bytes.)
pub const BATCH_HEADER_V1_LEN: usize = 20;

/// One operation of a batch, borrowed from the decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOp<'a> {
    /// The keyspace the op writes to (0 unless the op names another, format 5).
    pub keyspace: KeyspaceId,
    /// Put, delete, range delete or expiring put.
    pub kind: EntryKind,
    /// The key; a range delete's start.
    pub key: &'a [u8],
    /// The value: empty for a delete, the (exclusive) end for a range delete, the
    /// expiry time and the value for an expiring put.
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

    /// Encodes this batch in the current format, as [`encode_batch_header`] and
    /// [`encode_op`] would.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_batch_header(
            out,
            self.first_seq,
            self.synced_offset,
            self.ops.len() as u32,
        );
        for op in &self.ops {
            encode_op_in(out, op.keyspace, op.kind, op.key, op.value);
        }
    }
}

/// Encodes a format-2 batch header; the caller appends ops with [`encode_op`] and
/// must write exactly `count` of them.
pub fn encode_batch_header(out: &mut Vec<u8>, first_seq: u64, synced_offset: u64, count: u32) {
    put_varint64(out, first_seq);
    put_varint64(out, synced_offset);
    put_varint32(out, count);
}

/// Encodes a format-1 batch header (fixed-width little-endian fields). The engine
/// no longer writes format 1; this exists so that tests can build the files older
/// versions wrote.
pub fn encode_batch_header_v1(out: &mut Vec<u8>, first_seq: u64, synced_offset: u64, count: u32) {
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&synced_offset.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
}

/// Appends one op of keyspace 0 to a batch being encoded (the same in every
/// format), as [`encode_op_in`] does for keyspace 0. The value is
/// written for every kind but a delete: a put's value, a range delete's end, an
/// expiring put's stored value (expiry first). The caller keeps keys and values
/// within [`MAX_KEY_LEN`] and [`MAX_VALUE_LEN`] (a range delete's end within
/// `MAX_KEY_LEN` and after its start; an expiring put's value at least
/// [`EXPIRY_LEN`] bytes), and writes kinds 2 and 3 only to files of format 4 or later.
///
/// ```
/// use lsm_format::wal::encode_op;
/// use lsm_format::EntryKind;
///
/// let mut out = Vec::new();
/// encode_op(&mut out, EntryKind::RangeDelete, b"a", b"c");
/// encode_op(&mut out, EntryKind::Tombstone, b"k", b"");
/// assert_eq!(out, [2, 1, b'a', 1, b'c', 0, 1, b'k']);
/// ```
pub fn encode_op(out: &mut Vec<u8>, kind: EntryKind, key: &[u8], value: &[u8]) {
    encode_op_in(out, DEFAULT_KEYSPACE, kind, key, value);
}

/// Appends one op of `keyspace` to a batch being encoded: as [`encode_op`], with
/// the kind byte's [`KEYSPACE_FLAG`] set and the id after it when `keyspace` is
/// not 0 (WAL format 5 only; keyspace 0 is written without the id in every
/// format). The caller keeps `keyspace` within
/// [`MAX_KEYSPACE_ID`](crate::keyspace::MAX_KEYSPACE_ID).
///
/// ```
/// use lsm_format::wal::encode_op_in;
/// use lsm_format::EntryKind;
///
/// let mut out = Vec::new();
/// encode_op_in(&mut out, 0, EntryKind::Put, b"k", b"v");
/// encode_op_in(&mut out, 300, EntryKind::Put, b"k", b"v");
/// assert_eq!(out, [1, 1, b'k', 1, b'v', 0x81, 0xac, 0x02, 1, b'k', 1, b'v']);
/// ```
pub fn encode_op_in(
    out: &mut Vec<u8>,
    keyspace: KeyspaceId,
    kind: EntryKind,
    key: &[u8],
    value: &[u8],
) {
    debug_assert!(keyspace <= crate::keyspace::MAX_KEYSPACE_ID);
    debug_assert!(key.len() <= MAX_KEY_LEN && value.len() <= MAX_VALUE_LEN);
    debug_assert!(match kind {
        EntryKind::Tombstone => value.is_empty(),
        EntryKind::Put => true,
        EntryKind::RangeDelete => key < value && crate::range_del::is_valid_end(value),
        EntryKind::ExpiringPut => value.len() >= EXPIRY_LEN,
        // The WAL keeps whole values: flushes and compactions make pointers.
        EntryKind::BlobPointer => false,
    });
    if keyspace == DEFAULT_KEYSPACE {
        out.push(kind as u8);
    } else {
        out.push(kind as u8 | KEYSPACE_FLAG);
        put_varint32(out, keyspace);
    }
    put_length_prefixed(out, key);
    if kind != EntryKind::Tombstone {
        put_length_prefixed(out, value);
    }
}

/// Decodes a batch of WAL format `format` whose first byte is at file offset
/// `offset` (for errors).
///
/// # Errors
/// `Corruption` for a truncated record, a malformed varint, an unknown kind (kinds
/// 2 and 3 are unknown before format 4, a kind byte with [`KEYSPACE_FLAG`] before
/// format 5), a keyspace id that is 0 or over
/// [`MAX_KEYSPACE_ID`](crate::keyspace::MAX_KEYSPACE_ID) after the flag, a key or
/// value over the limits, a range
/// delete whose end is not after its start, an expiring put shorter than its
/// expiry, sequence numbers past [`MAX_SEQUENCE`], or trailing bytes.
pub fn decode_batch(payload: &[u8], offset: u64, format: WalFormat) -> Result<WalBatch<'_>> {
    let mut d = Decoder::new(payload, offset);
    let (first_seq, synced_offset, count) = match format {
        WalFormat::V1 => (
            d.u64("batch first_seq")?,
            d.u64("batch synced_offset")?,
            d.u32("batch count")?,
        ),
        WalFormat::V2 | WalFormat::V3 | WalFormat::V4 | WalFormat::V5 => (
            d.varint64("batch first_seq")?,
            d.varint64("batch synced_offset")?,
            d.varint32("batch count")?,
        ),
    };
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
    let v4 = matches!(format, WalFormat::V4 | WalFormat::V5);
    let v5 = format == WalFormat::V5;
    for _ in 0..count {
        let at = d.offset();
        let kind_byte = d.u8("op kind")?;
        let named = v5 && kind_byte & KEYSPACE_FLAG != 0;
        let bare = if named {
            kind_byte & !KEYSPACE_FLAG
        } else {
            kind_byte
        };
        let kind = EntryKind::from_u8(bare)
            .filter(|&k| k != EntryKind::BlobPointer)
            .filter(|k| v4 || matches!(k, EntryKind::Put | EntryKind::Tombstone))
            .ok_or_else(|| Error::corruption(at, format!("unknown op kind {kind_byte}")))?;
        let keyspace = if named {
            let id_at = d.offset();
            let id = check_keyspace_id(d.varint32("op keyspace")?, id_at)?;
            if id == DEFAULT_KEYSPACE {
                // Keyspace 0 is written without the flag: one encoding per op.
                return Err(Error::corruption(
                    id_at,
                    "op names keyspace 0, which is written without an id",
                ));
            }
            id
        } else {
            DEFAULT_KEYSPACE
        };
        let key = d.length_prefixed(MAX_KEY_LEN, "op key")?;
        let value = match kind {
            EntryKind::Tombstone => &[],
            EntryKind::Put => d.length_prefixed(MAX_VALUE_LEN, "op value")?,
            EntryKind::RangeDelete => {
                let end = d.length_prefixed(MAX_KEY_LEN + 1, "range delete end")?;
                if !crate::range_del::is_valid_end(end) {
                    return Err(Error::corruption(
                        at,
                        "range delete end is neither a key nor the end of keys",
                    ));
                }
                if end <= key {
                    return Err(Error::corruption(
                        at,
                        "range delete whose end is not after its start",
                    ));
                }
                end
            }
            EntryKind::ExpiringPut => {
                let value = d.length_prefixed(MAX_VALUE_LEN, "op value")?;
                if value.len() < EXPIRY_LEN {
                    return Err(Error::corruption(
                        at,
                        format!(
                            "expiring put with a {}-byte value (at least {EXPIRY_LEN})",
                            value.len()
                        ),
                    ));
                }
                value
            }
            // Refused with the unknown kinds above; kept an error, never a panic.
            EntryKind::BlobPointer => {
                return Err(Error::corruption(at, "a blob pointer is not a WAL op"));
            }
        };
        ops.push(WalOp {
            keyspace,
            kind,
            key,
            value,
        });
    }
    d.finish("batch")?;
    Ok(WalBatch {
        first_seq,
        synced_offset,
        ops,
    })
}
