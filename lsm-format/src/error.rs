//! The error type of every decoder and encoder in this crate.

use std::io;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while encoding or decoding.
///
/// Offsets are byte offsets within the file (or byte slice) being decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not follow `docs/format.md`: bad checksum, impossible length,
    /// unknown tag, keys out of order, and so on.
    #[error("corruption at offset {offset}: {reason}")]
    Corruption {
        /// Byte offset within the file where the bad bytes start.
        offset: u64,
        /// What is wrong, in words a user can act on.
        reason: String,
    },
    /// A segment footer whose magic number is not `LSMSEG01`: not a segment file.
    #[error("not a segment file: bad magic number at offset {offset}")]
    BadMagic {
        /// Offset of the magic number.
        offset: u64,
    },
    /// A file written by a format version this crate does not read.
    #[error("unsupported format version {found} (this build reads versions up to {supported})")]
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
        /// Newest version of that file kind this crate reads (and the one it writes).
        supported: u32,
    },
    /// A file too short to hold its fixed-size footer (or header).
    #[error("file truncated: {len} bytes is shorter than the {needed}-byte footer")]
    Truncated {
        /// Length of the file.
        len: u64,
        /// Minimum length required.
        needed: u64,
    },
    /// A caller passed something the format cannot store (key too large, keys out of
    /// order, sequence number out of range).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An I/O error from the underlying writer.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// Builds an [`Error::Corruption`].
    pub fn corruption(offset: u64, reason: impl Into<String>) -> Self {
        Error::Corruption {
            offset,
            reason: reason.into(),
        }
    }

    /// True for every variant that means the bytes on disk are damaged or not ours
    /// (`Corruption`, `BadMagic`, `UnsupportedVersion`, `Truncated`).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corruption { .. }
                | Error::BadMagic { .. }
                | Error::UnsupportedVersion { .. }
                | Error::Truncated { .. }
        )
    }

    /// The file offset this error points at, if it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Corruption { offset, .. } | Error::BadMagic { offset } => Some(*offset),
            _ => None,
        }
    }
}
