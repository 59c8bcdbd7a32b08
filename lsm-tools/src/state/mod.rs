//! A read-only picture of a database directory, taken without the lock.
//!
//! The tools read the files directly instead of opening the database, so they work
//! beside a running process. That is safe because of how the engine writes: segments
//! are written under a temporary name and never modified once renamed; the manifest is
//! appended to, or replaced whole by an atomic rename; WALs are only appended to. The
//! one race is deletion: compaction removes a segment the manifest we just read still
//! lists. So [`DbState::load`] opens every live segment right after reading the
//! manifest (an open file stays readable after it is unlinked) and starts over, up to
//! a few times, when one is already gone.
//!
//! Beside a running writer (its lock held, `lsm_core::is_locked`) the directory
//! changes all the time, so a load starts over, up to many times, until the manifest
//! is the same after the read as before it, and judges the files the manifest does
//! not list with the engine's own audit (`lsm_core::audit_files`) inside that same
//! window. [`DbState::writer_running`] then tells the checks that the newest WAL's
//! tail is being appended to.

pub mod manifest;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use lsm_format::manifest::SegmentMeta;
use lsm_format::segment::ReadOptions;
use lsm_format::wal::{replay_wal, WalReplay};
use lsm_format::SegmentReader;

use crate::error::{Error, Result};
use crate::files::{segment_name, wal_name, FileName};
pub use manifest::{ManifestEdit, ManifestState};

/// How many times [`DbState::load`] starts over when a file vanishes under it.
const LOAD_ATTEMPTS: usize = 5;

/// How many times it starts over beside a running writer, which flushes and
/// compacts while the directory is read.
const LOAD_ATTEMPTS_BESIDE_WRITER: usize = 50;

/// A file found in the directory.
#[derive(Debug, Clone)]
pub struct DirFile {
    /// Its name.
    pub name: String,
    /// What the name says it is.
    pub kind: FileName,
    /// Its size in bytes.
    pub size: u64,
}

/// A live segment, opened.
#[derive(Debug)]
pub struct LiveSegment {
    /// Its level.
    pub level: usize,
    /// What the manifest records about it.
    pub meta: SegmentMeta,
    /// Its path.
    pub path: PathBuf,
    /// Its size on disk when opened.
    pub size: u64,
    file: File,
}

impl LiveSegment {
    /// The file name, `NNNNNN.seg`.
    pub fn name(&self) -> String {
        segment_name(self.meta.file_number)
    }

    /// Reads the whole file (through the handle opened at load time, so it works even
    /// if the file has been deleted since).
    ///
    /// # Errors
    /// I/O errors.
    pub fn read(&self) -> Result<Bytes> {
        let mut data = Vec::with_capacity(self.size as usize);
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&self.path, e))?;
        f.read_to_end(&mut data)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Bytes::from(data))
    }

    /// Reads and opens the segment.
    ///
    /// # Errors
    /// I/O errors, and format errors when the footer or metadata blocks are damaged.
    pub fn open(&self) -> Result<SegmentReader> {
        open_segment_bytes(self.read()?, self.meta.file_number, &self.path)
    }
}

/// Opens a segment over bytes already read, naming it in errors.
///
/// # Errors
/// Format errors from [`SegmentReader::open`].
pub fn open_segment_bytes(data: Bytes, number: u64, path: &Path) -> Result<SegmentReader> {
    // No file name in the reader's messages: ours put the path in front of them.
    let options = ReadOptions {
        segment_id: number,
        file_name: None,
    };
    SegmentReader::open(data, options).map_err(|e| Error::format(path, e))
}

/// A live WAL: numbered at or above the manifest's `log_number`, so its batches are
/// the memtable's contents.
#[derive(Debug)]
pub struct LiveWal {
    /// File number.
    pub number: u64,
    /// Its path.
    pub path: PathBuf,
    /// Bytes read.
    pub size: u64,
    /// The file as read.
    pub data: Bytes,
    /// The replay, or the corruption that stopped it.
    pub replay: std::result::Result<WalReplay, lsm_format::Error>,
}

impl LiveWal {
    /// The file name, `NNNNNN.wal`.
    pub fn name(&self) -> String {
        wal_name(self.number)
    }
}

/// The directory as the manifest and the files describe it.
#[derive(Debug)]
pub struct DbState {
    /// The directory.
    pub dir: PathBuf,
    /// The manifest as read.
    pub manifest_bytes: Bytes,
    /// The replayed manifest.
    pub manifest: ManifestState,
    /// Every file in the directory, by name.
    pub files: Vec<DirFile>,
    /// Live segments, level by level, opened.
    pub segments: Vec<LiveSegment>,
    /// Live WALs in file-number order, replayed.
    pub wals: Vec<LiveWal>,
    /// Live segments the manifest names but that are missing (only when they were
    /// still missing after several attempts: a real problem).
    pub missing: Vec<(usize, SegmentMeta)>,
    /// The engine's judgement of the directory's files (`lsm_core::audit_files`),
    /// made while this picture was taken, or why it could not be made.
    pub audit: std::result::Result<lsm_core::FileAudit, lsm_core::Error>,
    /// True when the database's lock was held when the load started: a writer is
    /// running, and the newest WAL's tail may be a record being appended.
    pub writer_running: bool,
}

impl DbState {
    /// Reads the directory: manifest, file list, live segments (opened) and live WALs
    /// (replayed). Starts over when a file vanishes under it; after a few attempts
    /// missing segments are reported in [`DbState::missing`].
    ///
    /// # Errors
    /// When `dir` holds no `MANIFEST`, or on I/O errors.
    pub fn load(dir: &Path) -> Result<DbState> {
        // A probe that fails is taken as "not locked": the stricter reading.
        let writer_running = lsm_core::is_locked(dir).unwrap_or(false);
        let attempts = if writer_running {
            LOAD_ATTEMPTS_BESIDE_WRITER
        } else {
            LOAD_ATTEMPTS
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::load_once(dir, writer_running, attempt == attempts) {
                Err(Error::FileGone(_)) if attempt < attempts => continue,
                other => return other,
            }
        }
    }

    fn load_once(dir: &Path, writer_running: bool, last_attempt: bool) -> Result<DbState> {
        let manifest_path = dir.join("MANIFEST");
        let data = match std::fs::read(&manifest_path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Usage(format!(
                    "{} holds no MANIFEST: not a database directory",
                    dir.display()
                )))
            }
            Err(e) => return Err(Error::io(&manifest_path, e)),
        };
        let manifest = manifest::replay(&data, "MANIFEST");
        let files = list_dir(dir)?;
        let mut segments = Vec::new();
        let mut missing = Vec::new();
        for (level, meta) in manifest.live() {
            let path = dir.join(segment_name(meta.file_number));
            let opened = File::open(&path).and_then(|f| Ok((f.metadata()?.len(), f)));
            match opened {
                Ok((size, file)) => segments.push(LiveSegment {
                    level,
                    meta: meta.clone(),
                    path,
                    size,
                    file,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && last_attempt => {
                    missing.push((level, meta.clone()))
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        let mut wals = Vec::new();
        for f in &files {
            if let FileName::Wal(number) = f.kind {
                if number >= manifest.log_number {
                    let path = dir.join(&f.name);
                    let data = Bytes::from(crate::error::read_file(&path)?);
                    wals.push(LiveWal {
                        number,
                        size: data.len() as u64,
                        replay: replay_wal(&data),
                        data,
                        path,
                    });
                }
            }
        }
        wals.sort_by_key(|w| w.number);
        let audit = lsm_core::audit_files(dir);
        // Beside a writer, the audit's own read may meet a file removed under it, or
        // a state it catches between two steps of the writer: the whole picture is
        // taken again, as `Db::open_read_only` does.
        if writer_running && !last_attempt && audit.is_err() {
            return Err(Error::FileGone(dir.to_path_buf()));
        }
        // A flush or compaction that finished while we read may have deleted a WAL or
        // segment our copy of the manifest still needed, or added one it lacks: if the
        // manifest changed, our picture may be incomplete, so start over.
        let again = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
        if again != data && !last_attempt {
            return Err(Error::FileGone(manifest_path));
        }
        Ok(DbState {
            dir: dir.to_path_buf(),
            manifest_bytes: Bytes::from(data),
            manifest,
            files,
            segments,
            wals,
            missing,
            audit,
            writer_running,
        })
    }

    /// Files that are neither live nor the manifest or lock: segments and blob
    /// files the manifest does not list, WALs below `log_number`, leftovers (`*.tmp`), unknown names.
    pub fn orphans(&self) -> Vec<&DirFile> {
        self.files
            .iter()
            .filter(|f| match f.kind {
                FileName::Segment(n) => {
                    !self.segments.iter().any(|s| s.meta.file_number == n)
                        && !self.missing.iter().any(|(_, m)| m.file_number == n)
                }
                FileName::Wal(n) => n < self.manifest.log_number,
                FileName::Blob(n) => !self.manifest.blob_files.contains_key(&n),
                FileName::Temp | FileName::Other => true,
                FileName::Manifest | FileName::Lock => false,
            })
            .collect()
    }

    /// Number of put and delete operations in the live WALs.
    pub fn wal_ops(&self) -> usize {
        self.wals
            .iter()
            .filter_map(|w| w.replay.as_ref().ok())
            .flat_map(|r| &r.batches)
            .map(|b| b.ops.len())
            .sum()
    }
}

/// Lists a directory's files with their sizes, sorted by name.
///
/// # Errors
/// I/O errors on the directory.
pub fn list_dir(dir: &Path) -> Result<Vec<DirFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // A file listed and then removed before we stat it simply is not there.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            files.push(DirFile {
                kind: FileName::parse(&name),
                name,
                size: meta.len(),
            });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}
