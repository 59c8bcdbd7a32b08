//! The error type of the tools library. Binaries wrap it in `anyhow` for printing.

use std::fmt;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What stopped a tool from doing its job (as opposed to problems a check *found*,
/// which are data: see [`crate::Problem`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a file or directory.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file listed in the directory or named by the manifest disappeared before it
    /// could be read: a process that has the database open compacted it away.
    FileGone(PathBuf),
    /// Bytes that do not follow `docs/format.md`.
    Format {
        /// The file.
        path: PathBuf,
        /// What the decoder said (with the offset).
        source: lsm_format::Error,
    },
    /// The engine refused an operation.
    Db(lsm_core::Error),
    /// A request the tool cannot carry out, in words for the user.
    Usage(String),
    /// A looked-up key is not in the database (the key, in the tools' display
    /// syntax).
    KeyNotFound(String),
    /// A dump was printed, with warnings about damage or inconsistency it met (how
    /// many): the output is not the whole truth about the database.
    Warnings(usize),
}

impl Error {
    /// An I/O error on `path`, turning "not found" into [`Error::FileGone`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::FileGone(path)
        } else {
            Error::Io { path, source }
        }
    }

    /// True when the output was closed by its reader (`lsm-dump DIR | head`): the
    /// tool should stop quietly instead of reporting an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A format error met while decoding `path`.
    pub fn format(path: impl Into<PathBuf>, source: lsm_format::Error) -> Self {
        Error::Format {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::FileGone(path) => write!(
                f,
                "{} vanished while being read (a process that has the database open probably \
                 compacted it away); run the tool again",
                path.display()
            ),
            Error::Format { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Db(e) => write!(f, "{e}"),
            Error::Usage(s) => f.write_str(s),
            Error::KeyNotFound(key) => write!(f, "key not found: {key}"),
            Error::Warnings(n) => write!(
                f,
                "{n} warning{} printed above; run lsm-verify for a full check",
                if *n == 1 { "" } else { "s" }
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Format { source, .. } => Some(source),
            Error::Db(e) => Some(e),
            Error::FileGone(_) | Error::Usage(_) | Error::KeyNotFound(_) | Error::Warnings(_) => {
                None
            }
        }
    }
}

impl From<lsm_core::Error> for Error {
    fn from(e: lsm_core::Error) -> Self {
        Error::Db(e)
    }
}

/// Reads a whole file, reporting a vanished file as [`Error::FileGone`].
///
/// # Errors
/// As [`Error::io`].
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}
