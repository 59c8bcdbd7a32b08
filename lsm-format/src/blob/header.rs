//! The fixed-size header of a blob file: `docs/format.md` section 8.1.
//!
//! ```text
//! header := magic[8] format_version:u32 keyspace:u32 compression:u8 checksum:u64
//! checksum = xxh3_64(first 17 bytes of the header)
//! ```

use crate::blob::{BLOB_HEADER_LEN, BLOB_MAGIC};
use crate::checksum::checksum;
use crate::coding::Decoder;
use crate::error::{Error, Result};
use crate::keyspace::{check_keyspace_id, KeyspaceId};
use crate::segment::Compression;
use crate::BLOB_FORMAT_VERSION;

/// Bytes of the header covered by its checksum.
const CHECKED_LEN: usize = 17;

/// The decoded header of a blob file.
///
/// ```
/// use lsm_format::blob::BlobHeader;
/// use lsm_format::Compression;
///
/// let header = BlobHeader::new(7, Compression::Lz4);
/// let bytes = header.encode();
/// assert_eq!(&bytes[..8], b"LSMBLB01");
/// assert_eq!(BlobHeader::decode(&bytes)?, header);
/// # Ok::<(), lsm_format::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    /// Blob format version of the file ([`BLOB_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The keyspace whose values the file holds.
    pub keyspace: KeyspaceId,
    /// Whether records may be LZ4-compressed: with [`Compression::None`] none is.
    /// Never [`Compression::Zstd`] in a file (blob files know no zstd).
    pub compression: Compression,
}

impl BlobHeader {
    /// A header of the current format version.
    pub fn new(keyspace: KeyspaceId, compression: Compression) -> Self {
        BlobHeader {
            format_version: BLOB_FORMAT_VERSION,
            keyspace,
            compression,
        }
    }

    /// The header's bytes, checksum included.
    pub fn encode(&self) -> [u8; BLOB_HEADER_LEN] {
        let mut out = [0u8; BLOB_HEADER_LEN];
        let mut v = Vec::with_capacity(BLOB_HEADER_LEN);
        v.extend_from_slice(&BLOB_MAGIC);
        v.extend_from_slice(&self.format_version.to_le_bytes());
        v.extend_from_slice(&self.keyspace.to_le_bytes());
        v.push(self.compression as u8);
        let sum = checksum(&v);
        v.extend_from_slice(&sum.to_le_bytes());
        out.copy_from_slice(&v);
        out
    }

    /// Decodes the header from the first bytes of a file (`file` may be longer).
    ///
    /// # Errors
    /// `Truncated` when `file` is shorter than the header; `Corruption` for a wrong
    /// magic or checksum; `UnsupportedVersion` for a version other than
    /// [`BLOB_FORMAT_VERSION`]; `Corruption` for a keyspace id over the limit or an
    /// unknown compression; checked in that order.
    pub fn decode(file: &[u8]) -> Result<BlobHeader> {
        let Some(bytes) = file.get(..BLOB_HEADER_LEN) else {
            return Err(Error::Truncated {
                len: file.len() as u64,
                needed: BLOB_HEADER_LEN as u64,
            });
        };
        let mut d = Decoder::new(bytes, 0);
        if d.bytes(8, "magic")? != BLOB_MAGIC {
            return Err(Error::corruption(
                0,
                "bad magic number: not a blob file (expected LSMBLB01)",
            ));
        }
        let format_version = d.u32("format version")?;
        let keyspace = d.u32("keyspace")?;
        let compression = d.u8("compression")?;
        let stored = d.u64("header checksum")?;
        let computed = checksum(bytes.get(..CHECKED_LEN).unwrap_or_default());
        if stored != computed {
            return Err(Error::corruption(
                CHECKED_LEN as u64,
                format!(
                    "blob header checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
                ),
            ));
        }
        if format_version != BLOB_FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: format_version,
                supported: BLOB_FORMAT_VERSION,
            });
        }
        let keyspace = check_keyspace_id(keyspace, 12)?;
        // Blob files know no zstd (section 8.1): 2 is as unknown here as 200.
        let compression = Compression::from_u8(compression)
            .filter(|&c| c != Compression::Zstd)
            .ok_or_else(|| Error::corruption(16, format!("unknown compression {compression}")))?;
        Ok(BlobHeader {
            format_version,
            keyspace,
            compression,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flip_refused() {
        let header = BlobHeader::new(0x0102, Compression::Lz4);
        let bytes = header.encode();
        assert_eq!(BlobHeader::decode(&bytes).unwrap(), header);
        for i in 0..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 0x20;
            let e = BlobHeader::decode(&bad).unwrap_err();
            assert!(e.is_corruption(), "flip at {i}: {e}");
        }
        assert!(matches!(
            BlobHeader::decode(&bytes[..24]),
            Err(Error::Truncated { len: 24, .. })
        ));
    }

    #[test]
    fn intact_headers_with_bad_fields() {
        let mut h = BlobHeader::new(0, Compression::None);
        h.format_version = 2;
        assert!(matches!(
            BlobHeader::decode(&h.encode()),
            Err(Error::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        ));
        let mut h = BlobHeader::new(crate::keyspace::MAX_KEYSPACE_ID + 1, Compression::None);
        assert_eq!(
            BlobHeader::decode(&h.encode()).unwrap_err().offset(),
            Some(12)
        );
        h.keyspace = 0;
        let mut bytes = h.encode();
        bytes[16] = 9;
        let sum = checksum(&bytes[..17]);
        bytes[17..].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(BlobHeader::decode(&bytes).unwrap_err().offset(), Some(16));
    }
}
