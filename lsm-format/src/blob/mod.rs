//! Blob files: `docs/format.md` section 8. Key-value separation (as in WiscKey and
//! RocksDB's integrated BlobDB): values at or above a size threshold are written,
//! at flush and compaction time, to immutable blob files, and the segment stores a
//! small [`BlobPointer`] in their place.
//!
//! ```text
//! blob_file := header record* footer
//! header    := magic[8] format_version:u32 keyspace:u32 compression:u8 checksum:u64
//! record    := compression:u8 key_len:varint32 value_len:varint32
//!              [stored_len:varint32]            ; when the record's compression is 1
//!              key[key_len] stored_value checksum:u64
//! footer    := record_count:u64 value_bytes:u64 records_end:u64 magic[8] checksum:u64
//! ```
//!
//! A [`BlobPointer`] (file number, offset and length of one record, and the value's
//! length) is enough to read one value with one positional read: the reader checks
//! the record's checksum, that it is exactly one record, and that its value has the
//! pointer's length. Every record keeps its key, so that garbage collection can walk
//! a file ([`BlobReader::iter`]) and ask the LSM which records are still live. A
//! file cut short by a crash has no valid footer, so [`BlobReader::open`] refuses
//! it; [`BlobIter::recover`] still hands back its complete records.
//!
//! One file per concept: `header`, `footer` and `record` (the bytes), `pointer`,
//! `properties`, `writer`, `reader` (with its byte or positional `source`) and
//! `iter`. This module only declares them, states the constants and re-exports.
//!
//! ```
//! use lsm_format::blob::{BlobReadOptions, BlobWriterOptions};
//! use lsm_format::{BlobPointer, BlobReader, BlobWriter, Compression};
//!
//! let options = BlobWriterOptions { file_number: 12, keyspace: 0, compression: Compression::Lz4 };
//! let mut writer = BlobWriter::new(Vec::new(), options)?;
//! let pointer = writer.add(b"user:1", &[b'x'; 1000])?;
//! let file = writer.finish()?.into_inner();
//!
//! // The LSM stores the encoded pointer as the key's value.
//! let stored = pointer.to_vec();
//! let pointer = BlobPointer::decode(&stored)?;
//! assert_eq!(pointer.value_len, 1000);
//!
//! let reader = BlobReader::open(file.into(), BlobReadOptions::for_file(12))?;
//! assert_eq!(reader.get(&pointer)?, vec![b'x'; 1000]);
//! reader.verify()?;
//! # Ok::<(), lsm_format::Error>(())
//! ```

mod footer;
mod header;
mod iter;
mod pointer;
mod properties;
mod reader;
mod record;
mod source;
mod writer;

pub use footer::BlobFooter;
pub use header::BlobHeader;
pub use iter::{BlobIter, BlobRecord};
pub use pointer::BlobPointer;
pub use properties::BlobProperties;
pub use reader::{BlobReadOptions, BlobReader};
pub use writer::{BlobFinished, BlobWriter, BlobWriterOptions};

use crate::entry::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// The magic number at the start (header) and near the end (footer) of every blob
/// file.
pub const BLOB_MAGIC: [u8; 8] = *b"LSMBLB01";

/// Length of the header in bytes; the first record starts here.
pub const BLOB_HEADER_LEN: usize = 25;

/// Length of the footer in bytes: the last bytes of a finished file.
pub const BLOB_FOOTER_LEN: usize = 40;

/// Version byte that starts every encoded [`BlobPointer`].
pub const BLOB_POINTER_VERSION: u8 = 1;

/// Bytes of the checksum that ends every record.
const RECORD_CHECKSUM_LEN: usize = 8;

/// Shortest record: compression byte, two one-byte varints, empty key and value,
/// checksum.
pub const MIN_RECORD_LEN: u32 = 3 + RECORD_CHECKSUM_LEN as u32;

/// Longest record head: the compression byte and three varint32s.
const MAX_RECORD_HEAD_LEN: usize = 1 + 3 * 5;

/// Longest record: a maximal key and value (a compressed value is stored shorter
/// than its length).
pub const MAX_RECORD_LEN: u32 =
    (MAX_RECORD_HEAD_LEN + MAX_KEY_LEN + MAX_VALUE_LEN + RECORD_CHECKSUM_LEN) as u32;

/// Adds the file's name to a corruption error, so that every error a blob reader
/// returns names the file and the offset.
fn name_file(e: crate::Error, name: &str) -> crate::Error {
    match e {
        crate::Error::Corruption { offset, reason } => crate::Error::Corruption {
            offset,
            reason: format!("{name}: {reason}"),
        },
        e => e,
    }
}
