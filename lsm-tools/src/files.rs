//! Telling what a path given on the command line is. The names of the files in a
//! database directory are the format's (`lsm_format::file_name`), re-exported here.

use std::path::Path;

use crate::error::{Error, Result};
use lsm_format::blob::BLOB_MAGIC;
use lsm_format::segment::{FOOTER_LEN, SEGMENT_MAGIC};

pub use lsm_format::file_name::{blob_name, segment_name, wal_name, FileName};

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
    /// A blob file (values kept out of the segments).
    Blob,
}

/// Decides what `path` is: a directory, or a file by its name (`NNNNNN.seg`,
/// `NNNNNN.wal`, `NNNNNN.blob`, `MANIFEST`, also `*.seg` / `*.wal` / `*.blob` /
/// `MANIFEST*` for copies), or a segment by the magic number at its end, a blob
/// file by the one at its start. `forced` (the `--type` flag) wins.
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
        FileName::Blob(_) => return Ok(Target::Blob),
        _ => {}
    }
    if name.ends_with(".seg") {
        return Ok(Target::Segment);
    }
    if name.ends_with(".wal") {
        return Ok(Target::Wal);
    }
    if name.ends_with(".blob") {
        return Ok(Target::Blob);
    }
    if name.starts_with("MANIFEST") {
        return Ok(Target::Manifest);
    }
    let data = crate::error::read_file(path)?;
    if data.len() >= FOOTER_LEN && data.ends_with(&SEGMENT_MAGIC) {
        return Ok(Target::Segment);
    }
    if data.starts_with(&BLOB_MAGIC) {
        return Ok(Target::Blob);
    }
    Err(Error::Usage(format!(
        "cannot tell what {} is from its name; pass --type segment|wal|manifest|blob",
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
