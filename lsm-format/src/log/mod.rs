//! Log framing shared by the write-ahead log and the manifest: `docs/format.md`
//! section 4.
//!
//! [`LogWriter`] frames records into 32 KiB blocks of checksummed fragments, appending
//! to a caller-owned buffer so the engine can write a whole commit group with one
//! write call. [`read_log`] walks the fragments of a whole file and describes any
//! damage precisely enough for the caller to tell a torn tail from corruption.
//!
//! Fragments come in two [`LogFraming`]s that differ only in the checksum's width:
//! the manifest and WALs up to format 2 use [`LogFraming::Wide`] throughout; a
//! WAL of format 3 or later uses it for its header record and [`LogFraming::Narrow`] after it.

pub mod reader;
pub mod writer;

pub use reader::{read_log, read_log_from, LogContents, LogDamage, LogDamageKind, LogRecord};
pub use writer::LogWriter;

/// Size of a log block.
pub const LOG_BLOCK_SIZE: usize = 32 * 1024;
/// Size of a [`LogFraming::Wide`] fragment header: checksum u64, length u16, type u8.
pub const LOG_HEADER_LEN: usize = 11;
/// Size of a [`LogFraming::Narrow`] fragment header: checksum u32, length u16, type u8.
pub const NARROW_LOG_HEADER_LEN: usize = 7;

/// The layout of a fragment header: `checksum len:u16 type:u8`, where the checksum
/// is XXH3-64 of `len || type || payload`, stored whole or cut to its low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFraming {
    /// `checksum:u64`: the manifest, and WALs up to format 2 (11-byte headers).
    #[default]
    Wide,
    /// `checksum:u32`, the low half of the XXH3-64: the records of a WAL of format 3 or later
    /// after its header (7-byte headers, 4 bytes less per write). A random error
    /// passes it with probability 2^-32, the strength of the CRC-32C LevelDB and
    /// RocksDB use for their logs.
    Narrow,
}

impl LogFraming {
    /// Bytes of the checksum field.
    pub const fn checksum_len(self) -> usize {
        match self {
            LogFraming::Wide => 8,
            LogFraming::Narrow => 4,
        }
    }

    /// Bytes of a fragment header.
    pub const fn header_len(self) -> usize {
        self.checksum_len() + 3
    }

    /// The checksum field's value for the XXH3-64 `sum` of `len || type || payload`.
    pub const fn stored_checksum(self, sum: u64) -> u64 {
        match self {
            LogFraming::Wide => sum,
            LogFraming::Narrow => sum & 0xffff_ffff,
        }
    }

    /// The fields of a fragment header in this framing: the stored checksum (as
    /// [`stored_checksum`](Self::stored_checksum) gives it), the payload length and
    /// the type byte. `header` holds [`header_len`](Self::header_len) bytes; fields
    /// it is too short for read as zero.
    pub fn split_header(self, header: &[u8]) -> (u64, usize, u8) {
        let c = self.checksum_len();
        let mut sum = [0u8; 8];
        let mut len = [0u8; 2];
        let mut ty = 0;
        if let (Some(s), Some(l), Some(&t)) =
            (header.get(..c), header.get(c..c + 2), header.get(c + 2))
        {
            if let Some(low) = sum.get_mut(..c) {
                low.copy_from_slice(s);
            }
            len.copy_from_slice(l);
            ty = t;
        }
        (
            u64::from_le_bytes(sum),
            usize::from(u16::from_le_bytes(len)),
            ty,
        )
    }
}
/// Largest record a log holds (1 GiB).
pub const MAX_LOG_RECORD_LEN: usize = 1 << 30;

/// Fragment types, written to disk and frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FragmentType {
    /// A whole record.
    Full = 1,
    /// The first fragment of a record.
    First = 2,
    /// A middle fragment.
    Middle = 3,
    /// The last fragment.
    Last = 4,
}
