//! Names of the files in a database directory: `docs/format.md` section 2.
//!
//! ```text
//! NNNNNN.seg     segment number N (at least 6 decimal digits, zero-padded)
//! NNNNNN.wal     write-ahead log number N
//! NNNNNN.blob    blob file number N (values kept out of the segments)
//! MANIFEST       the manifest
//! LOCK           the lock file (empty)
//! *.tmp          a file being written, renamed into place once complete; never live
//! ```
//!
//! Segments, WALs and blob files share one sequence of file numbers, never reused.

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST";

/// Where a new manifest is written before it is renamed over [`MANIFEST`].
pub const MANIFEST_TMP: &str = "MANIFEST.tmp";

/// The lock file's name.
pub const LOCK: &str = "LOCK";

/// Suffix of files being written; such a file is never live.
pub const TMP_SUFFIX: &str = ".tmp";

/// What a directory entry is, by its name alone.
///
/// # Examples
///
/// ```
/// use lsm_format::file_name::FileName;
///
/// assert_eq!(FileName::parse("000007.seg"), FileName::Segment(7));
/// assert_eq!(FileName::parse("1234567.wal"), FileName::Wal(1234567));
/// assert_eq!(FileName::parse("000009.blob"), FileName::Blob(9));
/// assert_eq!(FileName::parse("000007.seg.tmp"), FileName::Temp);
/// assert_eq!(FileName::parse("7.seg"), FileName::Other); // fewer than 6 digits
/// assert_eq!(FileName::Segment(7).to_string(), "000007.seg");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileName {
    /// `NNNNNN.seg`.
    Segment(u64),
    /// `NNNNNN.wal`.
    Wal(u64),
    /// `NNNNNN.blob`: values stored out of the segments (`docs/format.md` section 8).
    Blob(u64),
    /// `MANIFEST`.
    Manifest,
    /// `LOCK`.
    Lock,
    /// `*.tmp`: a file being written, never live.
    Temp,
    /// Anything else: not a database file.
    Other,
}

impl FileName {
    /// Classifies a file name (not a path).
    pub fn parse(name: &str) -> FileName {
        if name == MANIFEST {
            FileName::Manifest
        } else if name == LOCK {
            FileName::Lock
        } else if name.ends_with(TMP_SUFFIX) {
            FileName::Temp
        } else if let Some(n) = name.strip_suffix(".seg").and_then(number) {
            FileName::Segment(n)
        } else if let Some(n) = name.strip_suffix(".wal").and_then(number) {
            FileName::Wal(n)
        } else if let Some(n) = name.strip_suffix(".blob").and_then(number) {
            FileName::Blob(n)
        } else {
            FileName::Other
        }
    }

    /// The file number a segment, WAL or blob file, or a temporary one of them
    /// (`NNNNNN.seg.tmp`, `NNNNNN.blob.tmp`) carries: numbers are never reused, so a reader allocating
    /// new ones must skip these too.
    ///
    /// # Examples
    ///
    /// ```
    /// use lsm_format::file_name::FileName;
    ///
    /// assert_eq!(FileName::number_in("000012.seg.tmp"), Some(12));
    /// assert_eq!(FileName::number_in("000013.blob.tmp"), Some(13));
    /// assert_eq!(FileName::number_in("MANIFEST.tmp"), None);
    /// ```
    pub fn number_in(name: &str) -> Option<u64> {
        let stem = name.strip_suffix(TMP_SUFFIX).unwrap_or(name);
        match FileName::parse(stem) {
            FileName::Segment(n) | FileName::Wal(n) | FileName::Blob(n) => Some(n),
            _ => None,
        }
    }

    /// True for the files a database directory may hold: everything but
    /// [`FileName::Other`].
    ///
    /// # Examples
    ///
    /// ```
    /// use lsm_format::file_name::FileName;
    ///
    /// assert!(FileName::parse("LOCK").is_ours());
    /// assert!(!FileName::parse("notes.txt").is_ours());
    /// ```
    pub fn is_ours(self) -> bool {
        self != FileName::Other
    }
}

impl std::fmt::Display for FileName {
    /// The canonical name; `Temp` and `Other` have none and print as `*.tmp` and `?`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileName::Segment(n) => write!(f, "{}", segment_name(*n)),
            FileName::Wal(n) => write!(f, "{}", wal_name(*n)),
            FileName::Blob(n) => write!(f, "{}", blob_name(*n)),
            FileName::Manifest => f.write_str(MANIFEST),
            FileName::Lock => f.write_str(LOCK),
            FileName::Temp => write!(f, "*{TMP_SUFFIX}"),
            FileName::Other => f.write_str("?"),
        }
    }
}

/// The name of segment number `n`.
///
/// # Examples
///
/// ```
/// assert_eq!(lsm_format::file_name::segment_name(42), "000042.seg");
/// ```
pub fn segment_name(n: u64) -> String {
    format!("{n:06}.seg")
}

/// The name of WAL number `n`.
///
/// # Examples
///
/// ```
/// assert_eq!(lsm_format::file_name::wal_name(1234567), "1234567.wal");
/// ```
pub fn wal_name(n: u64) -> String {
    format!("{n:06}.wal")
}

/// The name of blob file number `n`.
///
/// # Examples
///
/// ```
/// assert_eq!(lsm_format::file_name::blob_name(42), "000042.blob");
/// ```
pub fn blob_name(n: u64) -> String {
    format!("{n:06}.blob")
}

/// The number in a stem of at least 6 decimal digits.
fn number(stem: &str) -> Option<u64> {
    if stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in [0, 7, 999_999, 1_000_000, u64::MAX] {
            assert_eq!(FileName::parse(&segment_name(n)), FileName::Segment(n));
            assert_eq!(FileName::parse(&wal_name(n)), FileName::Wal(n));
            assert_eq!(FileName::parse(&blob_name(n)), FileName::Blob(n));
            assert_eq!(FileName::Blob(n).to_string(), blob_name(n));
        }
        assert_eq!(FileName::parse("MANIFEST"), FileName::Manifest);
        assert_eq!(FileName::parse(MANIFEST_TMP), FileName::Temp);
        assert_eq!(FileName::parse("LOCK"), FileName::Lock);
    }

    #[test]
    fn near_misses_are_other() {
        for name in [
            "",
            "seg",
            ".seg",
            "00007.seg",
            "0000a7.seg",
            "000007.sst",
            "000007.seg.bak",
            "00007.blob",
            "000007.blb",
            "000007.blob.bak",
            "manifest",
            "MANIFEST-000001",
            "lock",
            "99999999999999999999999.seg",
        ] {
            assert_eq!(FileName::parse(name), FileName::Other, "{name:?}");
        }
    }
}
