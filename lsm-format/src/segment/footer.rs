//! The fixed-size footer: `docs/format.md` section 3.6.
//!
//! ```text
//! footer := index_offset:u64 index_len:u32 filter_offset:u64 filter_len:u32
//!           properties_offset:u64 properties_len:u32
//!           format_version:u32 footer_checksum:u64 magic[8]
//! footer_checksum = xxh3_64(first 40 bytes of the footer)
//! ```

use crate::checksum::checksum;
use crate::coding::Decoder;
use crate::error::{Error, Result};
use crate::segment::BLOCK_TRAILER_LEN;
use crate::{MIN_SEGMENT_FORMAT_VERSION, SEGMENT_FORMAT_VERSION};

/// Length of the footer in bytes.
pub const FOOTER_LEN: usize = 56;
/// The magic number at the end of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"LSMSEG01";
/// Bytes of the footer covered by its checksum.
const CHECKED_LEN: usize = 40;

/// Where a block is: offset of its first byte and length of its contents (without
/// the trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockHandle {
    /// Offset of the block's first byte in the file.
    pub offset: u64,
    /// Length of the block's contents, trailer excluded.
    pub len: u32,
}

impl BlockHandle {
    /// Offset just past the block's trailer.
    pub fn end(&self) -> u64 {
        self.offset
            .saturating_add(u64::from(self.len) + BLOCK_TRAILER_LEN as u64)
    }
}

/// The decoded footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: BlockHandle,
    /// The filter block.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
    /// Format version of the file.
    pub format_version: u32,
    /// The stored footer checksum.
    pub checksum: u64,
}

impl Footer {
    /// A footer for the current segment format version, [`SEGMENT_FORMAT_VERSION`]
    /// (the checksum is computed on encode).
    pub fn new(index: BlockHandle, filter: BlockHandle, properties: BlockHandle) -> Self {
        Footer {
            index,
            filter,
            properties,
            format_version: SEGMENT_FORMAT_VERSION,
            checksum: 0,
        }
    }

    /// The 56 footer bytes, with the checksum computed over the first 40.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        for h in [self.index, self.filter, self.properties] {
            out.extend_from_slice(&h.offset.to_le_bytes());
            out.extend_from_slice(&h.len.to_le_bytes());
        }
        out.extend_from_slice(&self.format_version.to_le_bytes());
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(&SEGMENT_MAGIC);
        let mut footer = [0u8; FOOTER_LEN];
        footer.copy_from_slice(&out);
        footer
    }

    /// Decodes the footer at the end of `file` and checks that every handle lies
    /// before it.
    ///
    /// # Errors
    /// `Truncated` for a file shorter than the footer, `BadMagic`, `Corruption` for a
    /// bad checksum or a handle past the footer, `UnsupportedVersion` for a version
    /// outside `MIN_SEGMENT_FORMAT_VERSION ..= SEGMENT_FORMAT_VERSION`; checked in
    /// that order.
    pub fn decode(file: &[u8]) -> Result<Footer> {
        let len = file.len();
        let Some(start) = len.checked_sub(FOOTER_LEN) else {
            return Err(Error::Truncated {
                len: len as u64,
                needed: FOOTER_LEN as u64,
            });
        };
        let base = start as u64;
        let bytes = file.get(start..).unwrap_or_default();
        let checked = bytes.get(..CHECKED_LEN).unwrap_or_default();
        let mut d = Decoder::new(bytes, base);
        let mut handle = |what: &str| -> Result<BlockHandle> {
            Ok(BlockHandle {
                offset: d.u64(what)?,
                len: d.u32(what)?,
            })
        };
        let (index, filter, properties) =
            (handle("index")?, handle("filter")?, handle("properties")?);
        let format_version = d.u32("format version")?;
        let stored = d.u64("footer checksum")?;
        if d.bytes(8, "magic")? != SEGMENT_MAGIC {
            return Err(Error::BadMagic { offset: base + 48 });
        }
        let computed = checksum(checked);
        if stored != computed {
            return Err(Error::corruption(
                base + CHECKED_LEN as u64,
                format!(
                    "footer checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
                ),
            ));
        }
        if !(MIN_SEGMENT_FORMAT_VERSION..=SEGMENT_FORMAT_VERSION).contains(&format_version) {
            return Err(Error::UnsupportedVersion {
                found: format_version,
                supported: SEGMENT_FORMAT_VERSION,
            });
        }
        for (what, h, at) in [
            ("index", index, 0),
            ("filter", filter, 12),
            ("properties", properties, 24),
        ] {
            if h.offset
                .checked_add(u64::from(h.len) + BLOCK_TRAILER_LEN as u64)
                .is_none_or(|e| e > base)
            {
                return Err(Error::corruption(
                    base + at,
                    format!(
                        "{what} block at {} of {} bytes does not end before the footer at {base}",
                        h.offset, h.len
                    ),
                ));
            }
        }
        Ok(Footer {
            index,
            filter,
            properties,
            format_version,
            checksum: stored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut file = vec![0u8; 100];
        let h = |offset, len| BlockHandle { offset, len };
        file.extend_from_slice(&Footer::new(h(60, 30), h(0, 20), h(30, 20)).encode());
        file
    }

    #[test]
    fn round_trip() {
        let file = sample();
        let f = Footer::decode(&file).unwrap();
        assert_eq!(
            f.index,
            BlockHandle {
                offset: 60,
                len: 30
            }
        );
        assert_eq!(f.filter.end(), 30);
        assert_eq!(&file[file.len() - 8..], b"LSMSEG01");
    }

    #[test]
    fn distinct_errors() {
        assert!(matches!(
            Footer::decode(&[0; 55]),
            Err(Error::Truncated {
                len: 55,
                needed: 56
            })
        ));
        let mut bad = sample();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(matches!(
            Footer::decode(&bad),
            Err(Error::BadMagic { offset: 148 })
        ));
        for i in 0..48 {
            let mut bad = sample();
            bad[100 + i] ^= 0x10;
            let e = Footer::decode(&bad).unwrap_err();
            assert!(matches!(e, Error::Corruption { .. }), "byte {i}: {e}");
        }
        // A valid footer of a future version, or with a handle past the footer.
        let mut f = Footer::new(
            BlockHandle::default(),
            BlockHandle::default(),
            BlockHandle::default(),
        );
        for (version, readable) in [
            (0, false),
            (1, true),
            (2, true),
            (3, true),
            (4, true),
            (5, true),
            (6, true),
            (7, true),
            (8, false),
        ] {
            f.format_version = version;
            let mut file = vec![0u8; 10];
            file.extend_from_slice(&f.encode());
            match Footer::decode(&file) {
                Ok(d) => assert!(readable && d.format_version == version),
                Err(Error::UnsupportedVersion { found, supported }) => {
                    assert!(!readable);
                    assert_eq!((found, supported), (version, 7));
                }
                Err(e) => panic!("version {version}: {e}"),
            }
        }
        let far = BlockHandle { offset: 1, len: 0 };
        let mut file = vec![0u8; 10];
        file.extend_from_slice(
            &Footer::new(far, BlockHandle::default(), BlockHandle::default()).encode(),
        );
        assert_eq!(Footer::decode(&file).unwrap_err().offset(), Some(10));
    }
}
