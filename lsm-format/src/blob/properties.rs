//! What a blob file says about itself: its header and footer together
//! (`docs/format.md` sections 8.1 and 8.3).

use crate::blob::{BlobFooter, BlobHeader};
use crate::keyspace::KeyspaceId;
use crate::segment::Compression;

/// The properties of a blob file: what its header and footer hold, and its size.
///
/// ```
/// use lsm_format::blob::BlobWriterOptions;
/// use lsm_format::{BlobWriter, Compression};
///
/// let mut w = BlobWriter::new(Vec::new(), BlobWriterOptions::default())?;
/// w.add(b"k", b"value")?;
/// let p = w.finish()?.properties;
/// assert_eq!((p.record_count, p.value_bytes), (1, 5));
/// assert_eq!(p.file_size, p.records_end + 40);
/// # Ok::<(), lsm_format::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobProperties {
    /// Blob format version ([`crate::BLOB_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The keyspace whose values the file holds.
    pub keyspace: KeyspaceId,
    /// Whether records may be LZ4-compressed.
    pub compression: Compression,
    /// Number of records.
    pub record_count: u64,
    /// Sum of the (uncompressed) value lengths: what the values take in memory.
    pub value_bytes: u64,
    /// Offset where the records end (and the footer starts). The records take
    /// `records_end - BLOB_HEADER_LEN` bytes, which garbage collection weighs the
    /// dead records' bytes against.
    pub records_end: u64,
    /// Length of the file.
    pub file_size: u64,
}

impl BlobProperties {
    /// The properties a header and footer give, for a file of `file_size` bytes.
    pub fn new(header: BlobHeader, footer: BlobFooter, file_size: u64) -> Self {
        BlobProperties {
            format_version: header.format_version,
            keyspace: header.keyspace,
            compression: header.compression,
            record_count: footer.record_count,
            value_bytes: footer.value_bytes,
            records_end: footer.records_end,
            file_size,
        }
    }
}
