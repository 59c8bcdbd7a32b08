//! Log framing shared by the write-ahead log and the manifest: `docs/format.md`
//! section 4.
//!
//! [`LogWriter`] frames records into 32 KiB blocks of checksummed fragments, appending
//! to a caller-owned buffer so the engine can write a whole commit group with one
//! write call. [`read_log`] walks the fragments of a whole file and describes any
//! damage precisely enough for the caller to tell a torn tail from corruption.

pub mod reader;
pub mod writer;

pub use reader::{read_log, LogContents, LogDamage, LogDamageKind, LogRecord};
pub use writer::LogWriter;

/// Size of a log block.
pub const LOG_BLOCK_SIZE: usize = 32 * 1024;
/// Size of a fragment header: checksum u64, length u16, type u8.
pub const LOG_HEADER_LEN: usize = 11;
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
