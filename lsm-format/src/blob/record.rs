//! One record of a blob file: `docs/format.md` section 8.2.
//!
//! ```text
//! record := compression:u8 key_len:varint32 value_len:varint32
//!           [stored_len:varint32]           ; only when compression = 1 (LZ4)
//!           key[key_len] stored_value checksum:u64
//! stored_value = value[value_len]           ; compression 0
//!              | lz4_block[stored_len]      ; compression 1, stored_len < value_len
//! checksum = xxh3_64(every byte of the record before it)
//! ```
//!
//! The writer compresses a value only where that pays (the rule is
//! [`compress_value`]'s); the record's first byte says which it did.

use bytes::Bytes;

use crate::blob::{MIN_RECORD_LEN, RECORD_CHECKSUM_LEN};
use crate::checksum::checksum;
use crate::coding::{put_varint32, varint_len, Decoder};
use crate::entry::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::error::{Error, Result};
use crate::segment::Compression;

/// The fields before a record's key: how long each part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHead {
    pub compression: Compression,
    pub key_len: u32,
    pub value_len: u32,
    /// Bytes the value takes in the record: `value_len` unless compressed.
    pub stored_len: u32,
    /// Bytes of the head itself.
    pub head_len: usize,
}

impl RecordHead {
    /// A head for a record with these lengths.
    pub fn new(compression: Compression, key_len: u32, value_len: u32, stored_len: u32) -> Self {
        let varints = [u64::from(key_len), u64::from(value_len)]
            .into_iter()
            .chain((compression == Compression::Lz4).then_some(u64::from(stored_len)))
            .map(varint_len)
            .sum::<usize>();
        RecordHead {
            compression,
            key_len,
            value_len,
            stored_len,
            head_len: 1 + varints,
        }
    }

    /// Appends the head's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.compression as u8);
        put_varint32(out, self.key_len);
        put_varint32(out, self.value_len);
        if self.compression == Compression::Lz4 {
            put_varint32(out, self.stored_len);
        }
    }

    /// Decodes the head at the start of `bytes` (which may hold more), for a record
    /// at file offset `offset` in a file whose header allows `allowed`. Checks the
    /// limits, so that the record's length can be trusted for a read.
    pub fn decode(bytes: &[u8], offset: u64, allowed: Compression) -> Result<RecordHead> {
        let mut d = Decoder::new(bytes, offset);
        let byte = d.u8("record compression")?;
        let compression = match Compression::from_u8(byte) {
            Some(Compression::None) => Compression::None,
            Some(Compression::Lz4) if allowed == Compression::Lz4 => Compression::Lz4,
            _ => {
                return Err(Error::corruption(
                    offset,
                    format!(
                        "record compression {byte} in a blob file whose header allows {}",
                        allowed as u8
                    ),
                ))
            }
        };
        let at = d.offset();
        let key_len = d.varint32("key length")?;
        if key_len as usize > MAX_KEY_LEN {
            return Err(Error::corruption(
                at,
                format!("key length {key_len} exceeds {MAX_KEY_LEN}"),
            ));
        }
        let at = d.offset();
        let value_len = d.varint32("value length")?;
        if value_len as usize > MAX_VALUE_LEN {
            return Err(Error::corruption(
                at,
                format!("value length {value_len} exceeds {MAX_VALUE_LEN}"),
            ));
        }
        let stored_len = match compression {
            Compression::None | Compression::Zstd => value_len,
            Compression::Lz4 => {
                let at = d.offset();
                let stored = d.varint32("stored length")?;
                let bound = u64::from(stored) * 255 + 16;
                if stored >= value_len || u64::from(value_len) > bound {
                    return Err(Error::corruption(
                        at,
                        format!(
                            "LZ4 value of {value_len} bytes stored in {stored} (a compressed value \
                             is shorter than its value and at most 255 times as short, plus 16)"
                        ),
                    ));
                }
                stored
            }
        };
        Ok(RecordHead {
            compression,
            key_len,
            value_len,
            stored_len,
            head_len: d.position(),
        })
    }

    /// Bytes of the whole record: head, key, stored value and checksum.
    pub fn record_len(&self) -> u64 {
        self.head_len as u64
            + u64::from(self.key_len)
            + u64::from(self.stored_len)
            + RECORD_CHECKSUM_LEN as u64
    }
}

/// Checks `record`, exactly one record read from file offset `offset` of a file
/// whose header allows `allowed`: its checksum first (the checksum is its last 8
/// bytes), then that its head describes exactly these bytes, then its value (an LZ4
/// value must decompress to exactly `value_len` bytes). Returns the head, the key
/// and the value; an uncompressed value is a slice of `record`, without a copy.
pub(crate) fn check_record(
    record: &Bytes,
    offset: u64,
    allowed: Compression,
) -> Result<(RecordHead, Bytes, Bytes)> {
    let len = record.len();
    if len < MIN_RECORD_LEN as usize {
        return Err(Error::corruption(
            offset,
            format!("a blob record of {len} bytes is shorter than the shortest, {MIN_RECORD_LEN}"),
        ));
    }
    let covered_len = len - RECORD_CHECKSUM_LEN;
    let (covered, stored) = record.split_at(covered_len);
    let mut sum = [0u8; RECORD_CHECKSUM_LEN];
    sum.copy_from_slice(stored);
    let stored = u64::from_le_bytes(sum);
    let computed = checksum(covered);
    if stored != computed {
        return Err(Error::corruption(
            offset,
            format!(
                "blob record checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
            ),
        ));
    }
    let head = RecordHead::decode(covered, offset, allowed)?;
    if head.record_len() != len as u64 {
        return Err(Error::corruption(
            offset,
            format!(
                "blob record of {} bytes where {len} were expected",
                head.record_len()
            ),
        ));
    }
    let key_end = head.head_len + head.key_len as usize;
    let key = record.slice(head.head_len..key_end);
    let stored = record.slice(key_end..covered_len);
    let value = match head.compression {
        // `RecordHead::decode` never yields zstd.
        Compression::None | Compression::Zstd => stored,
        Compression::Lz4 => Bytes::from(decompress(&stored, head.value_len, offset)?),
    };
    Ok((head, key, value))
}

/// Decompresses an LZ4 block that must give exactly `value_len` bytes (bounded by
/// the head's checks before this allocation).
fn decompress(stored: &[u8], value_len: u32, offset: u64) -> Result<Vec<u8>> {
    let mut out = vec![0u8; value_len as usize];
    match lz4_flex::block::decompress_into(stored, &mut out) {
        Ok(n) if n == out.len() => Ok(out),
        Ok(n) => Err(Error::corruption(
            offset,
            format!("LZ4 value decompressed to {n} bytes, expected {value_len}"),
        )),
        Err(e) => Err(Error::corruption(
            offset,
            format!("LZ4 value does not decompress: {e}"),
        )),
    }
}

/// Compresses `value` into `out` (reused scratch) as an LZ4 block if that pays:
/// if the block and its `stored_len` varint take at most `len - len / 8` bytes
/// (integer division), the rule of segment blocks (`docs/format.md` section 3.1).
/// Returns whether it did; then the block is strictly shorter than the value.
pub(crate) fn compress_value(value: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.resize(lz4_flex::block::get_maximum_output_size(value.len()), 0);
    let Ok(n) = lz4_flex::block::compress_into(value, out) else {
        return false;
    };
    out.truncate(n);
    n + varint_len(n as u64) <= value.len() - value.len() / 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum_parts;

    fn record(c: Compression, key: &[u8], value_len: u32, stored: &[u8]) -> Bytes {
        let head = RecordHead::new(c, key.len() as u32, value_len, stored.len() as u32);
        let mut out = Vec::new();
        head.encode(&mut out);
        assert_eq!(out.len(), head.head_len);
        out.extend_from_slice(key);
        out.extend_from_slice(stored);
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(out.len() as u64, head.record_len());
        Bytes::from(out)
    }

    #[test]
    fn plain_and_compressed_records_read_back() {
        let r = record(Compression::None, b"key", 3, b"val");
        let (head, k, v) = check_record(&r, 25, Compression::None).unwrap();
        assert_eq!(
            (&k[..], &v[..], head.value_len),
            (&b"key"[..], &b"val"[..], 3)
        );
        let value = b"abcd".repeat(100);
        let mut lz4 = Vec::new();
        assert!(compress_value(&value, &mut lz4));
        let r = record(Compression::Lz4, b"k", 400, &lz4);
        assert_eq!(check_record(&r, 0, Compression::Lz4).unwrap().2, value);
        // An LZ4 record in a file whose header says none.
        assert!(check_record(&r, 0, Compression::None).is_err());
    }

    #[test]
    fn checksum_is_checked_before_the_head_and_covers_every_byte() {
        let r = record(Compression::None, b"key", 5, b"value");
        for i in 0..r.len() {
            let mut bad = r.to_vec();
            bad[i] ^= 0x01;
            let e = check_record(&Bytes::from(bad), 40, Compression::Lz4).unwrap_err();
            assert!(
                e.is_corruption() && e.offset() == Some(40),
                "flip at {i}: {e}"
            );
        }
        // A record one byte longer or shorter than the pointer says.
        assert!(check_record(&r.slice(..r.len() - 1), 0, Compression::None).is_err());
        let mut longer = r.to_vec();
        longer.insert(0, 0);
        assert!(check_record(&Bytes::from(longer), 0, Compression::None).is_err());
    }

    #[test]
    fn heads_with_impossible_lengths_are_refused_before_any_allocation() {
        let sum_of = |bytes: &[u8]| {
            let mut v = bytes.to_vec();
            v.extend_from_slice(&checksum_parts(&[bytes]).to_le_bytes());
            Bytes::from(v)
        };
        // value_len over the limit; stored_len not below value_len; value_len far
        // beyond what stored_len can decompress to; an unknown compression.
        for bytes in [
            &[0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f][..],
            &[1, 0, 5, 5, 1, 2, 3, 4, 5],
            &[1, 0, 0xff, 0xff, 0x03, 1, 0],
            &[2, 0, 0],
        ] {
            let e = check_record(&sum_of(bytes), 0, Compression::Lz4).unwrap_err();
            assert!(e.is_corruption(), "{bytes:?}: {e}");
        }
    }

    #[test]
    fn compression_pays_or_is_not_used() {
        let mut out = Vec::new();
        assert!(!compress_value(b"", &mut out));
        assert!(!compress_value(b"short", &mut out));
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..500)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(!compress_value(&noise, &mut out));
        assert!(compress_value(&[7; 64], &mut out));
        assert!(out.len() < 64 - 8);
    }
}
