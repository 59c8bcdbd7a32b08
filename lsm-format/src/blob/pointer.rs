//! The pointer to a value in a blob file, which the LSM stores in place of the
//! value: `docs/format.md` section 8.4.
//!
//! ```text
//! pointer := version:u8 file_number:varint64 offset:varint64 len:varint32 value_len:varint32
//! ```

use crate::blob::{BLOB_HEADER_LEN, BLOB_POINTER_VERSION, MAX_RECORD_LEN, MIN_RECORD_LEN};
use crate::coding::{put_varint32, put_varint64, varint_len, Decoder};
use crate::entry::MAX_VALUE_LEN;
use crate::error::{Error, Result};

/// Where one value is: the blob file, the offset and length of its record, and the
/// value's own length (so that a value's length is known without reading it).
///
/// ```
/// use lsm_format::BlobPointer;
///
/// let p = BlobPointer { file_number: 7, offset: 25, len: 120, value_len: 100 };
/// let bytes = p.to_vec();
/// assert_eq!(bytes, [0x01, 0x07, 0x19, 0x78, 0x64]);
/// assert_eq!(BlobPointer::decode(&bytes)?, p);
/// assert!(BlobPointer::decode(&bytes[..4]).is_err());
/// # Ok::<(), lsm_format::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobPointer {
    /// Number of the blob file (`NNNNNN.blob`).
    pub file_number: u64,
    /// Offset of the record's first byte in the file.
    pub offset: u64,
    /// Length of the whole record, checksum included.
    pub len: u32,
    /// Length of the value (uncompressed).
    pub value_len: u32,
}

impl BlobPointer {
    /// Appends the encoded pointer to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(BLOB_POINTER_VERSION);
        put_varint64(out, self.file_number);
        put_varint64(out, self.offset);
        put_varint32(out, self.len);
        put_varint32(out, self.value_len);
    }

    /// The encoded pointer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Bytes [`encode`](Self::encode) writes: 5 to 31.
    pub fn encoded_len(&self) -> usize {
        1 + varint_len(self.file_number)
            + varint_len(self.offset)
            + varint_len(u64::from(self.len))
            + varint_len(u64::from(self.value_len))
    }

    /// Decodes a pointer that fills `bytes` exactly. Never panics.
    ///
    /// # Errors
    /// `Corruption` (at the offset within `bytes`) for an unknown version byte, a
    /// truncated or overlong varint, trailing bytes, an offset inside the header, a
    /// record length outside `MIN_RECORD_LEN ..= MAX_RECORD_LEN`, or a value length
    /// over [`MAX_VALUE_LEN`].
    pub fn decode(bytes: &[u8]) -> Result<BlobPointer> {
        let mut d = Decoder::new(bytes, 0);
        let version = d.u8("blob pointer version")?;
        if version != BLOB_POINTER_VERSION {
            return Err(Error::corruption(
                0,
                format!("unknown blob pointer version {version} (expected {BLOB_POINTER_VERSION})"),
            ));
        }
        let file_number = d.varint64("blob file number")?;
        let at = d.offset();
        let offset = d.varint64("blob record offset")?;
        if offset < BLOB_HEADER_LEN as u64 {
            return Err(Error::corruption(
                at,
                format!("blob record offset {offset} is inside the {BLOB_HEADER_LEN}-byte header"),
            ));
        }
        let at = d.offset();
        let len = d.varint32("blob record length")?;
        if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
            return Err(Error::corruption(
                at,
                format!("blob record length {len} outside {MIN_RECORD_LEN}..={MAX_RECORD_LEN}"),
            ));
        }
        let at = d.offset();
        let value_len = d.varint32("blob value length")?;
        if value_len as usize > MAX_VALUE_LEN {
            return Err(Error::corruption(
                at,
                format!("blob value length {value_len} exceeds {MAX_VALUE_LEN}"),
            ));
        }
        d.finish("blob pointer")?;
        Ok(BlobPointer {
            file_number,
            offset,
            len,
            value_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_round_trip() {
        for p in [
            BlobPointer {
                file_number: 0,
                offset: BLOB_HEADER_LEN as u64,
                len: MIN_RECORD_LEN,
                value_len: 0,
            },
            BlobPointer {
                file_number: u64::MAX,
                offset: u64::MAX,
                len: MAX_RECORD_LEN,
                value_len: MAX_VALUE_LEN as u32,
            },
        ] {
            // The shortest and the longest encodings.
            let bytes = p.to_vec();
            assert_eq!(bytes.len(), p.encoded_len());
            assert!((5..=31).contains(&bytes.len()), "{p:?}");
            assert_eq!(BlobPointer::decode(&bytes).unwrap(), p);
        }
    }

    #[test]
    fn bad_pointers_are_typed_corruption() {
        let good = [1u8, 7, 25, 11, 0];
        BlobPointer::decode(&good).unwrap();
        for (bytes, at) in [
            (&[][..], 0),
            (&[2, 7, 25, 11, 0], 0),
            (&[1, 7, 24, 11, 0], 2),
            (&[1, 7, 25, 10, 0], 3),
            (&[1, 7, 25, 11, 0x80, 0x80, 0x80, 0x80, 0x02], 4),
            (&[1, 7, 25, 11, 0, 0], 5),
            (&[1, 7, 25, 11], 4),
        ] {
            let e = BlobPointer::decode(bytes).unwrap_err();
            assert!(e.is_corruption(), "{bytes:?}: {e}");
            assert_eq!(e.offset(), Some(at), "{bytes:?}: {e}");
        }
    }
}
