//! The records of a backup directory: a backup's catalog (`meta/ID`) and the intent
//! record of a backup in progress (`meta/ID.pending`).
//!
//! Both are short UTF-8 text files, one field per line, each line ending in `\n`,
//! closed by the checksum of every byte before it:
//!
//! ```text
//! catalog  = "lsm-backup 2\n"
//!            "id " ID "\n"                   backup number, decimal, >= 1
//!            "created " SECS "\n"            Unix time of the backup, seconds
//!            "sequence " SEQ "\n"            last sequence number it holds
//!            "manifest " HEX "\n"            the encoded manifest edit (docs/format.md
//!                                            section 6) the restored MANIFEST holds
//!            *( "file " NUMBER " " SIZE " " CHECKSUM "\n" )   one per segment
//!            *( "blob " NUMBER " " SIZE " " CHECKSUM "\n" )   one per blob file
//!            "checksum " CHECKSUM "\n"       XXH3-64 of every byte before this line
//! pending  = "lsm-backup-pending 1\n"
//!            "id " ID "\n"
//!            *( "shared " NAME "\n" )        shared files this backup may add
//!            "checksum " CHECKSUM "\n"
//! NUMBER, SIZE, SEQ, SECS = decimal; CHECKSUM = 16 lowercase hex digits of the
//! file's XXH3-64; HEX = lowercase hex, two digits a byte
//! ```
//!
//! Catalogs of version 1 (`"lsm-backup 1\n"`, written before blob files existed)
//! have no `blob` lines and are still read.
//!
//! A segment's shared name is `NUMBER-SIZE-CHECKSUM.seg` (`NUMBER` six digits or
//! more), a blob file's `NUMBER-SIZE-CHECKSUM.blob`: two different files that share
//! a number (from two databases, or from a database restored and written again) get
//! different names.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use lsm_format::checksum::checksum;
use lsm_format::manifest::VersionEdit;

use crate::error::{Error, Result};

const CATALOG_HEADER: &str = "lsm-backup 2";
/// The header of catalogs written before blob files existed: no `blob` lines.
const CATALOG_HEADER_V1: &str = "lsm-backup 1";
const PENDING_HEADER: &str = "lsm-backup-pending 1";

/// One file of a backup, a segment or a blob file ([`BackupFileKind`]): the
/// database's file `number`, its size and the XXH3-64 checksum of its bytes.
///
/// ```
/// use lsm_core::{BackupFile, BackupFileKind};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = lsm_core::Db::open(dir.path().join("db"), lsm_core::Options::default())?;
/// db.put("k", "v")?;
/// let backup = db.backup(dir.path().join("backups"))?;
/// let file: &BackupFile = &backup.info.files[0];
/// assert_eq!(file.kind, BackupFileKind::Segment);
/// assert!(file.shared_name().ends_with(".seg"));
/// assert!(dir.path().join("backups/shared").join(file.shared_name()).exists());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct BackupFile {
    /// What the file is; it orders a backup's files (segments first).
    pub kind: BackupFileKind,
    /// The file's number (its name in the database: `NNNNNN.seg` or
    /// `NNNNNN.blob`).
    pub number: u64,
    /// Its size in bytes.
    pub size: u64,
    /// XXH3-64 of its bytes.
    pub checksum: u64,
}

/// What a [`BackupFile`] is in the database it was copied from.
///
/// ```
/// use lsm_core::{BackupFileKind, Db, Options};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path().join("db"), Options::default().with_blob_threshold(Some(8)))?;
/// db.put("k", "a value kept in a blob file")?;
/// let info = db.backup(dir.path().join("backups"))?.info;
/// let kinds: Vec<BackupFileKind> = info.files.iter().map(|f| f.kind).collect();
/// assert_eq!(kinds, [BackupFileKind::Segment, BackupFileKind::Blob]);
/// assert!(info.files[1].shared_name().ends_with(".blob"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BackupFileKind {
    /// A segment, `NNNNNN.seg`.
    Segment,
    /// A blob file, `NNNNNN.blob`: values kept out of the segments.
    Blob,
}

impl BackupFileKind {
    /// The file name extension, without the dot.
    fn extension(self) -> &'static str {
        match self {
            BackupFileKind::Segment => "seg",
            BackupFileKind::Blob => "blob",
        }
    }

    /// The word that starts the file's catalog line.
    fn catalog_field(self) -> &'static str {
        match self {
            BackupFileKind::Segment => "file",
            BackupFileKind::Blob => "blob",
        }
    }
}

impl BackupFile {
    pub(crate) fn new(kind: BackupFileKind, number: u64, size: u64, checksum: u64) -> BackupFile {
        BackupFile {
            kind,
            number,
            size,
            checksum,
        }
    }

    /// Its name in the backup directory's `shared/` folder:
    /// `NNNNNN-SIZE-CHECKSUM.seg` for a segment, `NNNNNN-SIZE-CHECKSUM.blob` for a
    /// blob file.
    pub fn shared_name(&self) -> String {
        format!(
            "{:06}-{}-{:016x}.{}",
            self.number,
            self.size,
            self.checksum,
            self.kind.extension()
        )
    }

    /// Its name in a database directory: `NNNNNN.seg` or `NNNNNN.blob`.
    pub(crate) fn path_in(&self, dir: &Path) -> std::path::PathBuf {
        match self.kind {
            BackupFileKind::Segment => crate::filenames::segment_path(dir, self.number),
            BackupFileKind::Blob => crate::blob::output::blob_path(dir, self.number),
        }
    }
}

/// A backup's catalog, as written in `meta/ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Catalog {
    pub id: u64,
    pub created: u64,
    pub sequence: u64,
    /// The encoded `VersionEdit` the restored manifest holds.
    pub manifest: Vec<u8>,
    /// Its segments, then its blob files.
    pub files: Vec<BackupFile>,
}

impl Catalog {
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!(
            "{CATALOG_HEADER}\nid {}\ncreated {}\nsequence {}\nmanifest ",
            self.id, self.created, self.sequence
        );
        for b in &self.manifest {
            let _ = write!(s, "{b:02x}");
        }
        s.push('\n');
        for f in &self.files {
            let field = f.kind.catalog_field();
            let _ = writeln!(s, "{field} {} {} {:016x}", f.number, f.size, f.checksum);
        }
        seal(s)
    }

    /// Parses and checks a catalog read from `path`.
    ///
    /// # Errors
    /// `Corruption` naming `path` when the checksum, the grammar or the manifest does
    /// not hold (see [`Catalog::edit`]).
    pub fn decode(path: &Path, data: &[u8]) -> Result<Catalog> {
        let (mut lines, header) = Lines::open(path, data, &[CATALOG_HEADER, CATALOG_HEADER_V1])?;
        let id = lines.number("id")?;
        let created = lines.number("created")?;
        let sequence = lines.number("sequence")?;
        let manifest = unhex(lines.field("manifest")?).ok_or_else(|| lines.bad("manifest"))?;
        let kinds: &[BackupFileKind] = if header == CATALOG_HEADER_V1 {
            &[BackupFileKind::Segment]
        } else {
            &[BackupFileKind::Segment, BackupFileKind::Blob]
        };
        let mut files = Vec::new();
        for &kind in kinds {
            let field = kind.catalog_field();
            while let Some(rest) = lines.next_field(field) {
                let mut parts = rest.split(' ');
                let mut next = || parts.next().ok_or_else(|| lines.bad(field));
                let number = next()?.parse().map_err(|_| lines.bad(field))?;
                let size = next()?.parse().map_err(|_| lines.bad(field))?;
                let sum = u64::from_str_radix(next()?, 16).map_err(|_| lines.bad(field))?;
                if parts.next().is_some() {
                    return Err(lines.bad(field));
                }
                files.push(BackupFile::new(kind, number, size, sum));
            }
        }
        lines.finish()?;
        let catalog = Catalog {
            id,
            created,
            sequence,
            manifest,
            files,
        };
        catalog.edit(path)?;
        Ok(catalog)
    }

    /// The manifest edit, checked against the file list: it must name exactly the
    /// catalog's segments and blob files with their sizes, and its last sequence
    /// number must be the catalog's. This is what makes a backup's manifest verified: a restore writes
    /// nothing a catalog does not vouch for.
    ///
    /// # Errors
    /// `Corruption` naming `path`.
    pub fn edit(&self, path: &Path) -> Result<VersionEdit> {
        let edit = VersionEdit::decode(&self.manifest, 0).map_err(|e| corrupt(path, &e))?;
        let segments = edit
            .added_segments
            .iter()
            .map(|(_, m)| (BackupFileKind::Segment, m.file_number, m.file_size));
        let blobs = (edit.added_blob_files.iter())
            .map(|b| (BackupFileKind::Blob, b.file_number, b.file_size));
        let listed: BTreeSet<(BackupFileKind, u64, u64)> = segments.chain(blobs).collect();
        let files: BTreeSet<(BackupFileKind, u64, u64)> = (self.files.iter())
            .map(|f| (f.kind, f.number, f.size))
            .collect();
        if listed != files
            || files.len() != self.files.len()
            || listed.len() != edit.added_segments.len() + edit.added_blob_files.len()
        {
            return Err(corrupt(path, "the manifest and the file list disagree"));
        }
        if edit.last_sequence != Some(self.sequence)
            || !edit.deleted_segments.is_empty()
            || !edit.deleted_blob_files.is_empty()
        {
            return Err(corrupt(path, "the manifest does not describe the backup"));
        }
        Ok(edit)
    }
}

/// The intent record of a backup in progress: the shared files it may add. It is
/// durable before the first of them is created, so a crash leaves a record naming
/// every file the interrupted backup may have left.
pub(crate) fn encode_pending(id: u64, shared: &[String]) -> Vec<u8> {
    let mut s = format!("{PENDING_HEADER}\nid {id}\n");
    for name in shared {
        let _ = writeln!(s, "shared {name}");
    }
    seal(s)
}

/// The shared names of a pending record read from `path`.
///
/// # Errors
/// `Corruption` naming `path`.
pub(crate) fn decode_pending(path: &Path, data: &[u8]) -> Result<Vec<String>> {
    let (mut lines, _) = Lines::open(path, data, &[PENDING_HEADER])?;
    lines.number("id")?;
    let mut names = Vec::new();
    while let Some(name) = lines.next_field("shared") {
        if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(lines.bad("shared"));
        }
        names.push(name.to_string());
    }
    lines.finish()?;
    Ok(names)
}

fn seal(mut s: String) -> Vec<u8> {
    let sum = checksum(s.as_bytes());
    let _ = writeln!(s, "checksum {sum:016x}");
    s.into_bytes()
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Corruption {
        file: path.to_path_buf(),
        offset: 0,
        reason: format!("backup record: {reason}"),
    }
}

/// The lines of a checked record, consumed field by field.
struct Lines<'a> {
    path: &'a Path,
    lines: std::iter::Peekable<std::str::Lines<'a>>,
}

impl<'a> Lines<'a> {
    /// Checks the trailing checksum and the header line, which must be one of
    /// `headers`; returns it too.
    fn open(
        path: &'a Path,
        data: &'a [u8],
        headers: &[&'static str],
    ) -> Result<(Lines<'a>, &'static str)> {
        let text = std::str::from_utf8(data).map_err(|_| corrupt(path, "not UTF-8"))?;
        let body_end = text
            .trim_end_matches('\n')
            .rfind('\n')
            .map(|i| i + 1)
            .ok_or_else(|| corrupt(path, "too short"))?;
        let (body, last) = text.split_at(body_end);
        let stored = last
            .strip_prefix("checksum ")
            .and_then(|s| s.strip_suffix('\n'))
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or_else(|| corrupt(path, "no checksum line (a torn write?)"))?;
        if stored != checksum(body.as_bytes()) {
            return Err(corrupt(path, "checksum mismatch"));
        }
        let mut lines = body.lines().peekable();
        let first = lines.next();
        let Some(&header) = headers.iter().find(|&&h| Some(h) == first) else {
            return Err(corrupt(
                path,
                format!("does not start with `{}`", headers.join("` or `")),
            ));
        };
        Ok((Lines { path, lines }, header))
    }

    fn bad(&self, field: &str) -> Error {
        corrupt(self.path, format!("bad `{field}` line"))
    }

    fn field(&mut self, name: &str) -> Result<&'a str> {
        self.next_field(name).ok_or_else(|| self.bad(name))
    }

    fn next_field(&mut self, name: &str) -> Option<&'a str> {
        let rest = self.lines.peek()?.strip_prefix(name)?.strip_prefix(' ')?;
        self.lines.next();
        Some(rest)
    }

    fn number(&mut self, name: &str) -> Result<u64> {
        self.field(name)?.parse().map_err(|_| self.bad(name))
    }

    fn finish(mut self) -> Result<()> {
        match self.lines.next() {
            None => Ok(()),
            Some(line) => Err(corrupt(self.path, format!("unexpected line `{line}`"))),
        }
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsm_format::manifest::{BlobFileMeta, SegmentMeta};

    fn sample() -> Catalog {
        let meta = SegmentMeta {
            keyspace: 0,
            file_number: 7,
            file_size: 4096,
            smallest_key: "a".into(),
            largest_key: "z".into(),
            smallest_seq: 1,
            largest_seq: 9,
            entry_count: 9,
            tombstone_count: 0,
            blob_refs: vec![lsm_format::manifest::BlobRef {
                blob_file: 6,
                value_bytes: 900,
            }],
        };
        let edit = VersionEdit {
            format_version: Some(4),
            log_number: Some(10),
            next_file_number: Some(10),
            last_sequence: Some(9),
            added_segments: vec![(0, meta)],
            added_blob_files: vec![BlobFileMeta {
                keyspace: 0,
                file_number: 6,
                file_size: 1000,
                record_count: 3,
                value_bytes: 900,
            }],
            ..VersionEdit::default()
        };
        let mut manifest = Vec::new();
        edit.encode(&mut manifest);
        Catalog {
            id: 3,
            created: 1_700_000_000,
            sequence: 9,
            manifest,
            files: vec![
                BackupFile::new(BackupFileKind::Segment, 7, 4096, 0xdead_beef),
                BackupFile::new(BackupFileKind::Blob, 6, 1000, 0xfeed),
            ],
        }
    }

    /// A catalog of version 1: one segment, no blob files.
    fn sample_v1() -> (Catalog, Vec<u8>) {
        let meta = SegmentMeta {
            keyspace: 0,
            file_number: 7,
            file_size: 4096,
            smallest_key: "a".into(),
            largest_key: "z".into(),
            smallest_seq: 1,
            largest_seq: 9,
            entry_count: 9,
            tombstone_count: 0,
            blob_refs: Vec::new(),
        };
        let edit = VersionEdit {
            format_version: Some(1),
            log_number: Some(10),
            next_file_number: Some(10),
            last_sequence: Some(9),
            added_segments: vec![(0, meta)],
            ..VersionEdit::default()
        };
        let mut manifest = Vec::new();
        edit.encode(&mut manifest);
        let mut text =
            format!("{CATALOG_HEADER_V1}\nid 3\ncreated 1700000000\nsequence 9\nmanifest ");
        for b in &manifest {
            let _ = write!(text, "{b:02x}");
        }
        text.push_str("\nfile 7 4096 00000000deadbeef\n");
        let catalog = Catalog {
            id: 3,
            created: 1_700_000_000,
            sequence: 9,
            manifest,
            files: vec![BackupFile::new(
                BackupFileKind::Segment,
                7,
                4096,
                0xdead_beef,
            )],
        };
        (catalog, seal(text))
    }

    #[test]
    fn a_catalog_round_trips() {
        let c = sample();
        let bytes = c.encode();
        assert_eq!(Catalog::decode(Path::new("meta/3"), &bytes).unwrap(), c);
        assert_eq!(c.files[0].shared_name(), "000007-4096-00000000deadbeef.seg");
        assert_eq!(
            c.files[1].shared_name(),
            "000006-1000-000000000000feed.blob"
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("lsm-backup 2\n"), "{text}");
        assert!(text.contains("\nblob 6 1000 000000000000feed\n"), "{text}");
    }

    #[test]
    fn a_version_1_catalog_is_still_read() {
        let (catalog, bytes) = sample_v1();
        assert_eq!(
            Catalog::decode(Path::new("meta/3"), &bytes).unwrap(),
            catalog
        );
        // A `blob` line is not part of version 1.
        let text = String::from_utf8(bytes).unwrap();
        let body = &text[..text.rfind("checksum ").unwrap()];
        let bad = seal(format!("{body}blob 6 1000 000000000000feed\n"));
        assert!(Catalog::decode(Path::new("meta/3"), &bad).is_err());
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_caught() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let err = Catalog::decode(Path::new("meta/3"), &bad).unwrap_err();
            assert!(err.is_corruption(), "byte {i}: {err}");
            let err = Catalog::decode(Path::new("meta/3"), &bytes[..i]).unwrap_err();
            assert!(err.is_corruption(), "cut at {i}: {err}");
        }
    }

    #[test]
    fn a_file_list_that_disagrees_with_the_manifest_is_refused() {
        let mut c = sample();
        c.files[0].size = 4095;
        let err = Catalog::decode(Path::new("meta/3"), &c.encode()).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
        let mut c = sample();
        c.files
            .push(BackupFile::new(BackupFileKind::Segment, 8, 1, 1));
        assert!(Catalog::decode(Path::new("meta/3"), &c.encode()).is_err());
        // A blob file the manifest lists, missing from the list, or listed as a
        // segment.
        let mut c = sample();
        c.files.pop();
        assert!(Catalog::decode(Path::new("meta/3"), &c.encode()).is_err());
        let mut c = sample();
        c.files[1].kind = BackupFileKind::Segment;
        c.files.sort();
        assert!(Catalog::decode(Path::new("meta/3"), &c.encode()).is_err());
    }

    #[test]
    fn pending_records_round_trip_and_refuse_paths() {
        let names = vec!["000007-4096-00000000deadbeef.seg".to_string()];
        let bytes = encode_pending(4, &names);
        assert_eq!(decode_pending(Path::new("p"), &bytes).unwrap(), names);
        let bytes = encode_pending(4, &["../escape".to_string()]);
        assert!(decode_pending(Path::new("p"), &bytes).is_err());
    }
}
