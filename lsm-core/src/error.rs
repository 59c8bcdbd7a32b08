//! The engine's error type.

use std::io;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Damaged or foreign bytes in a database file. Never returned as data.
    #[error("corruption in {}: at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage within the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An operating-system I/O error on a file.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The directory is already open, by this process or another.
    #[error("database {} is locked by another open instance", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// An option value `open` refuses.
    #[error("invalid option `{field}`: {reason}")]
    InvalidOptions {
        /// The offending `Options` field.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// An argument the engine cannot store (e.g. a key over the size limit).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An earlier write or fsync of the WAL or manifest failed (or a background job
    /// did), so durability can no longer be promised: writes are refused until the
    /// database is reopened.
    #[error("database refuses writes after an earlier failure: {0}")]
    Poisoned(String),
    /// The database was closed.
    #[error("database is closed")]
    Closed,
}

impl Error {
    /// True for [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A copy of this error for another waiter of the same failed operation (the
    /// followers of a commit group): `io::Error` is not `Clone`, so its kind and
    /// message are carried over.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Corruption {
                file,
                offset,
                reason,
            } => Error::Corruption {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::Locked { path } => Error::Locked { path: path.clone() },
            Error::InvalidOptions { field, reason } => Error::InvalidOptions {
                field,
                reason: reason.clone(),
            },
            Error::InvalidArgument(s) => Error::InvalidArgument(s.clone()),
            Error::Poisoned(s) => Error::Poisoned(s.clone()),
            Error::Closed => Error::Closed,
        }
    }

    /// Converts a format error met while decoding `file`.
    pub fn from_format(file: impl Into<PathBuf>, err: lsm_format::Error) -> Self {
        let file = file.into();
        match err {
            lsm_format::Error::Io(source) => Error::Io { path: file, source },
            lsm_format::Error::InvalidArgument(s) => Error::InvalidArgument(s),
            other => {
                let offset = other.offset().unwrap_or(0);
                let reason = match &other {
                    lsm_format::Error::Corruption { reason, .. } => reason.clone(),
                    e => e.to_string(),
                };
                Error::Corruption {
                    file,
                    offset,
                    reason,
                }
            }
        }
    }
}
