//! Names of the files in a database directory (`docs/format.md` section 2).

use std::path::{Path, PathBuf};

pub(crate) const MANIFEST: &str = "MANIFEST";
pub(crate) const MANIFEST_TMP: &str = "MANIFEST.tmp";
pub(crate) const LOCK: &str = "LOCK";
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// What a directory entry is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Segment(u64),
    Wal(u64),
    Manifest,
    Lock,
    Temp,
    Other,
}

pub(crate) fn segment_name(number: u64) -> String {
    format!("{number:06}.seg")
}

pub(crate) fn wal_name(number: u64) -> String {
    format!("{number:06}.wal")
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

fn number(stem: &str) -> Option<u64> {
    if stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok()
    } else {
        None
    }
}

pub(crate) fn classify(name: &str) -> FileKind {
    if name == MANIFEST {
        return FileKind::Manifest;
    }
    if name == LOCK {
        return FileKind::Lock;
    }
    if name.ends_with(TMP_SUFFIX) {
        return FileKind::Temp;
    }
    if let Some(n) = name.strip_suffix(".seg").and_then(number) {
        return FileKind::Segment(n);
    }
    if let Some(n) = name.strip_suffix(".wal").and_then(number) {
        return FileKind::Wal(n);
    }
    FileKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(7), "000007.seg");
        assert_eq!(wal_name(1234567), "1234567.wal");
        assert_eq!(classify("000007.seg"), FileKind::Segment(7));
        assert_eq!(classify("1234567.wal"), FileKind::Wal(1234567));
        assert_eq!(classify("000007.seg.tmp"), FileKind::Temp);
        assert_eq!(classify("MANIFEST.tmp"), FileKind::Temp);
        assert_eq!(classify("MANIFEST"), FileKind::Manifest);
        assert_eq!(classify("LOCK"), FileKind::Lock);
        assert_eq!(classify("7.seg"), FileKind::Other);
        assert_eq!(classify("00000x.seg"), FileKind::Other);
        assert_eq!(classify("notes.txt"), FileKind::Other);
    }
}
