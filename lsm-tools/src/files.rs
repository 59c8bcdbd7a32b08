//! Names of the files in a database directory (`docs/format.md` section 2) and
//! telling what a path given on the command line is.

use std::path::Path;

use crate::error::{Error, Result};
use lsm_format::segment::{FOOTER_LEN, SEGMENT_MAGIC};

/// What a file in a database directory is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileName {
    /// `NNNNNN.seg`.
    Segment(u64),
    /// `NNNNNN.wal`.
    Wal(u64),
    /// `MANIFEST`.
    Manifest,
    /// `LOCK`.
    Lock,
    /// `*.tmp`: a file being written, never live.
    Temp,
    /// Anything else.
    Other,
}

impl FileName {
    /// Classifies a file name (not a path).
    pub fn parse(name: &str) -> FileName {
        let numbered = |stem: &str| {
            (stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()))
                .then(|| stem.parse::<u64>().ok())
                .flatten()
        };
        if name == "MANIFEST" {
            FileName::Manifest
        } else if name == "LOCK" {
            FileName::Lock
        } else if name.ends_with(".tmp") {
            FileName::Temp
        } else if let Some(n) = name.strip_suffix(".seg").and_then(numbered) {
            FileName::Segment(n)
        } else if let Some(n) = name.strip_suffix(".wal").and_then(numbered) {
            FileName::Wal(n)
        } else {
            FileName::Other
        }
    }
}

/// The name of segment number `n`.
pub fn segment_name(n: u64) -> String {
    format!("{n:06}.seg")
}

/// The name of WAL number `n`.
pub fn wal_name(n: u64) -> String {
    format!("{n:06}.wal")
}

/// What a path given to a tool holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// A database directory.
    Dir,
    /// A segment file.
    Segment,
    /// A write-ahead log file.
    Wal,
    /// A manifest file.
    Manifest,
}

/// Decides what `path` is: a directory, or a file by its name (`NNNNNN.seg`,
/// `NNNNNN.wal`, `MANIFEST`, also `*.seg` / `*.wal` / `MANIFEST*` for copies), or a
/// segment by the magic number at its end. `forced` (the `--type` flag) wins.
///
/// # Errors
/// When the path cannot be read or its kind cannot be told.
pub fn detect(path: &Path, forced: Option<Target>) -> Result<Target> {
    // A path the user named is not "gone" (Error::io's reading) but simply wrong.
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Ok(Target::Dir);
    }
    if let Some(t) = forced {
        return Ok(t);
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    match FileName::parse(name) {
        FileName::Segment(_) => return Ok(Target::Segment),
        FileName::Wal(_) => return Ok(Target::Wal),
        FileName::Manifest => return Ok(Target::Manifest),
        _ => {}
    }
    if name.ends_with(".seg") {
        return Ok(Target::Segment);
    }
    if name.ends_with(".wal") {
        return Ok(Target::Wal);
    }
    if name.starts_with("MANIFEST") {
        return Ok(Target::Manifest);
    }
    if meta.len() >= FOOTER_LEN as u64 {
        let data = crate::error::read_file(path)?;
        if data.ends_with(&SEGMENT_MAGIC) {
            return Ok(Target::Segment);
        }
    }
    Err(Error::Usage(format!(
        "cannot tell what {} is from its name; pass --type segment|wal|manifest",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(FileName::parse("000012.seg"), FileName::Segment(12));
        assert_eq!(FileName::parse("1234567.wal"), FileName::Wal(1234567));
        assert_eq!(FileName::parse("12.seg"), FileName::Other);
        assert_eq!(FileName::parse("MANIFEST"), FileName::Manifest);
        assert_eq!(FileName::parse("MANIFEST.tmp"), FileName::Temp);
        assert_eq!(FileName::parse("000001.seg.tmp"), FileName::Temp);
        assert_eq!(FileName::parse("LOCK"), FileName::Lock);
        assert_eq!(FileName::parse("notes.txt"), FileName::Other);
        assert_eq!(segment_name(7), "000007.seg");
        assert_eq!(wal_name(1234567), "1234567.wal");
    }
}
