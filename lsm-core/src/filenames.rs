//! Paths of the files in a database directory. The names themselves, and how a name
//! is classified, are the format's (`lsm_format::file_name`, `docs/format.md`
//! section 2); this module only joins them to a directory.

use std::path::{Path, PathBuf};

pub(crate) use lsm_format::file_name::{
    segment_name, wal_name, FileName as FileKind, LOCK, MANIFEST, MANIFEST_TMP, TMP_SUFFIX,
};

/// What a directory entry is, by its name (`FileName::parse`).
pub(crate) fn classify(name: &str) -> FileKind {
    FileKind::parse(name)
}

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(segment_name(number))
}

/// Where a segment is written before it is complete and renamed into place.
pub(crate) fn segment_tmp_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{}{TMP_SUFFIX}", segment_name(number)))
}

pub(crate) fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(wal_name(number))
}
