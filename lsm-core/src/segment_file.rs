//! An open, live segment file shared by versions, iterators and snapshots.
//!
//! Invariant that makes deleting files safe: a segment's file is removed only by the
//! `Drop` of its last [`SegmentFile`] handle, and only after the engine marked it
//! obsolete, which it does once a manifest edit that no longer references the file
//! is durable. Every version, scan and snapshot that may still read the file holds an
//! `Arc<SegmentFile>`, so no file disappears under a reader (and the mapping stays
//! valid until the handle is dropped; see `fs/real.rs`).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lsm_format::manifest::SegmentMeta;
use lsm_format::{BlockCache, ReadOptions, SegmentReader};

use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::{FsRef, MappedFile};

pub(crate) struct SegmentFile {
    pub meta: SegmentMeta,
    pub reader: SegmentReader,
    pub path: PathBuf,
    mapping: MappedFile,
    fs: FsRef,
    obsolete: AtomicBool,
}

impl SegmentFile {
    /// Maps and opens the finished segment `meta.file_number` in `dir`.
    ///
    /// # Errors
    /// `Io` when the file cannot be mapped; `Corruption` when its footer or metadata
    /// blocks are damaged or its size differs from the manifest's.
    pub fn open(
        fs: &FsRef,
        dir: &Path,
        meta: SegmentMeta,
        cache: Option<Arc<dyn BlockCache>>,
    ) -> Result<Arc<SegmentFile>> {
        let path = filenames::segment_path(dir, meta.file_number);
        let mapping = fs.map(&path).map_err(|e| Error::io(&path, e))?;
        let data = mapping.bytes.clone();
        if data.len() as u64 != meta.file_size {
            return Err(Error::Corruption {
                file: path,
                offset: data.len() as u64,
                reason: format!(
                    "segment is {} bytes but the manifest records {}",
                    data.len(),
                    meta.file_size
                ),
            });
        }
        let options = ReadOptions {
            segment_id: meta.file_number,
            cache,
            file_name: Some(filenames::segment_name(meta.file_number)),
        };
        let reader =
            SegmentReader::open(data, options).map_err(|e| Error::from_format(&path, e))?;
        Ok(Arc::new(SegmentFile {
            meta,
            reader,
            path,
            mapping,
            fs: fs.clone(),
            obsolete: AtomicBool::new(false),
        }))
    }

    pub fn number(&self) -> u64 {
        self.meta.file_number
    }

    pub fn size(&self) -> u64 {
        self.meta.file_size
    }

    pub fn smallest(&self) -> &[u8] {
        &self.meta.smallest_key
    }

    pub fn largest(&self) -> &[u8] {
        &self.meta.largest_key
    }

    /// True when `key` lies within the file's key range.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.smallest() <= key && key <= self.largest()
    }

    /// Lets the pages of `range` leave the process's resident set (a one-pass
    /// reader is done with them; they stay readable). See `fs::ResidentPages`.
    pub fn release_pages(&self, range: Range<usize>) {
        self.mapping.release(range);
    }

    /// Marks the file for deletion once the last handle is dropped. Call only after
    /// a durable manifest edit stopped referencing it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            match self.fs.remove(&self.path) {
                Ok(()) => log::debug!("removed obsolete segment {}", self.path.display()),
                // A reopened instance may have removed it as an orphan already.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log::warn!(
                    "could not remove obsolete segment {}: {e} (it is removed at next open)",
                    self.path.display()
                ),
            }
        }
    }
}

impl std::fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentFile")
            .field("number", &self.meta.file_number)
            .field("size", &self.meta.file_size)
            .finish()
    }
}
