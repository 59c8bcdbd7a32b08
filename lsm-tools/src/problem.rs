//! A problem a check found in a file: what `lsm-verify` prints, one per line.

use std::fmt;

use serde::Serialize;

/// One thing wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (its name inside the database directory, or the path given).
    pub file: String,
    /// Byte offset of the damage within the file, when it has one.
    pub offset: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl Problem {
    /// A problem at `offset` of `file`.
    pub fn at(file: &str, offset: u64, what: impl Into<String>) -> Self {
        Problem {
            file: file.to_string(),
            offset: Some(offset),
            what: what.into(),
        }
    }

    /// A problem with `file` as a whole.
    pub fn file(file: &str, what: impl Into<String>) -> Self {
        Problem {
            file: file.to_string(),
            offset: None,
            what: what.into(),
        }
    }

    /// A problem from a decoding error of `file`, at the offset the error names.
    pub fn from_format(file: &str, err: &lsm_format::Error) -> Self {
        let what = match err {
            lsm_format::Error::Corruption { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        Problem {
            file: file.to_string(),
            offset: err.offset(),
            what,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{}: offset {offset}: {}", self.file, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}
