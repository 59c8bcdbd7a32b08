//! The fixed-size footer of a finished blob file: `docs/format.md` section 8.3.
//!
//! ```text
//! footer := record_count:u64 value_bytes:u64 records_end:u64 magic[8] checksum:u64
//! checksum = xxh3_64(first 32 bytes of the footer)
//! ```
//!
//! The writer writes it last, so a file cut short has none: that is how a crash
//! while writing is told from a finished file.

use crate::blob::{BLOB_FOOTER_LEN, BLOB_HEADER_LEN, BLOB_MAGIC, MIN_RECORD_LEN};
use crate::checksum::checksum;
use crate::coding::Decoder;
use crate::entry::MAX_VALUE_LEN;
use crate::error::{Error, Result};

/// Bytes of the footer covered by its checksum.
const CHECKED_LEN: usize = 32;

/// The decoded footer of a blob file.
///
/// ```
/// use lsm_format::blob::BlobFooter;
///
/// let footer = BlobFooter { record_count: 0, value_bytes: 0, records_end: 25 };
/// let bytes = footer.encode();
/// assert_eq!(BlobFooter::decode(&bytes, 25 + 40)?, footer);
/// assert!(BlobFooter::decode(&bytes, 26 + 40).is_err()); // not where the file ends
/// # Ok::<(), lsm_format::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobFooter {
    /// Number of records in the file.
    pub record_count: u64,
    /// Sum of the (uncompressed) lengths of their values.
    pub value_bytes: u64,
    /// Offset where the records end and the footer starts.
    pub records_end: u64,
}

impl BlobFooter {
    /// The footer's bytes, checksum included.
    pub fn encode(&self) -> [u8; BLOB_FOOTER_LEN] {
        let mut v = Vec::with_capacity(BLOB_FOOTER_LEN);
        v.extend_from_slice(&self.record_count.to_le_bytes());
        v.extend_from_slice(&self.value_bytes.to_le_bytes());
        v.extend_from_slice(&self.records_end.to_le_bytes());
        v.extend_from_slice(&BLOB_MAGIC);
        let sum = checksum(&v);
        v.extend_from_slice(&sum.to_le_bytes());
        let mut out = [0u8; BLOB_FOOTER_LEN];
        out.copy_from_slice(&v);
        out
    }

    /// Decodes `bytes`, the last [`BLOB_FOOTER_LEN`] bytes of a file of `file_len`
    /// bytes, and checks that the footer fits that file.
    ///
    /// # Errors
    /// `Corruption` (at the footer's offset, or the field's) for a length other than
    /// [`BLOB_FOOTER_LEN`], a wrong magic (a file cut short has none), a checksum
    /// mismatch, a `records_end` other than where the footer starts, or counts the
    /// records cannot hold; checked in that order.
    pub fn decode(bytes: &[u8], file_len: u64) -> Result<BlobFooter> {
        let base = file_len.saturating_sub(BLOB_FOOTER_LEN as u64);
        if bytes.len() != BLOB_FOOTER_LEN || file_len < (BLOB_HEADER_LEN + BLOB_FOOTER_LEN) as u64 {
            return Err(Error::corruption(
                base,
                format!("a blob file of {file_len} bytes has no room for its footer"),
            ));
        }
        let mut d = Decoder::new(bytes, base);
        let record_count = d.u64("record count")?;
        let value_bytes = d.u64("value bytes")?;
        let records_end = d.u64("records end")?;
        if d.bytes(8, "magic")? != BLOB_MAGIC {
            return Err(Error::corruption(
                base + 24,
                "no blob footer (bad magic number): the file was cut short while being \
                 written, or is not a blob file",
            ));
        }
        let stored = d.u64("footer checksum")?;
        let computed = checksum(bytes.get(..CHECKED_LEN).unwrap_or_default());
        if stored != computed {
            return Err(Error::corruption(
                base + CHECKED_LEN as u64,
                format!(
                    "blob footer checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
                ),
            ));
        }
        if records_end != base {
            return Err(Error::corruption(
                base + 16,
                format!("footer says the records end at {records_end}, but it starts at {base}"),
            ));
        }
        let room = (records_end - BLOB_HEADER_LEN as u64) / u64::from(MIN_RECORD_LEN);
        let most_bytes = record_count.saturating_mul(MAX_VALUE_LEN as u64);
        if record_count > room || value_bytes > most_bytes {
            return Err(Error::corruption(
                base,
                format!(
                    "footer counts {record_count} records of {value_bytes} value bytes, more \
                     than {} bytes of records can hold",
                    records_end - BLOB_HEADER_LEN as u64
                ),
            ));
        }
        Ok(BlobFooter {
            record_count,
            value_bytes,
            records_end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flip_and_impossible_counts_are_refused() {
        let f = BlobFooter {
            record_count: 2,
            value_bytes: 300,
            records_end: 100,
        };
        let bytes = f.encode();
        assert_eq!(BlobFooter::decode(&bytes, 140).unwrap(), f);
        for i in 0..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 0x04;
            assert!(BlobFooter::decode(&bad, 140).is_err(), "flip at {i}");
        }
        assert!(BlobFooter::decode(&bytes[1..], 140).is_err());
        assert!(BlobFooter::decode(&bytes, 64).is_err());
        for (count, value_bytes) in [(7, 0), (1, MAX_VALUE_LEN as u64 + 1)] {
            let bad = BlobFooter {
                record_count: count,
                value_bytes,
                records_end: 100,
            };
            let e = BlobFooter::decode(&bad.encode(), 140).unwrap_err();
            assert_eq!(e.offset(), Some(100), "{e}");
        }
        assert!(BlobFooter::decode(&f.encode(), 141).is_err());
    }
}
