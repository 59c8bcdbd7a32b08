//! Writing the blob files of one flush or compaction output.
//!
//! Crash-consistency, as for segments: each file is written as
//! `NNNNNN.blob.tmp`, finished (footer), fsynced and renamed to `NNNNNN.blob`.
//! The segment builder finishes the open blob file before the segment whose
//! entries point into it, and syncs the directory once every file of the job is
//! in place, before the caller records them in the manifest. A crash before that
//! edit leaves `.tmp` files or blob files no live segment points into.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lsm_format::blob::{BlobFinished, BlobWriterOptions};
use lsm_format::file_name::blob_name;
use lsm_format::keyspace::KeyspaceId;
use lsm_format::manifest::BlobFileMeta;
use lsm_format::{BlobPointer, BlobWriter, Compression, EntryKind};

use crate::error::{Error, Result};
use crate::fs::FsRef;
use crate::segment::builder::{FileOut, WRITE_BUFFER};

/// Where blob file `number` of `dir` is written before it is complete.
pub(crate) fn blob_tmp_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!(
        "{}{}",
        blob_name(number),
        crate::filenames::TMP_SUFFIX
    ))
}

/// Where blob file `number` of `dir` lives.
pub(crate) fn blob_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(blob_name(number))
}

struct OpenBlob {
    number: u64,
    tmp: PathBuf,
    writer: BlobWriter<BufWriter<FileOut>>,
}

/// The blob files of one job output: values go to the open file, which is rolled
/// once it reaches `target_size`, and whenever the segment builder finishes a
/// segment (so a segment's pointers name files finished before it).
pub(crate) struct BlobOutput<'a> {
    fs: &'a FsRef,
    dir: &'a Path,
    next_file: &'a AtomicU64,
    options: BlobWriterOptions,
    threshold: usize,
    target_size: u64,
    current: Option<OpenBlob>,
    done: Vec<BlobFileMeta>,
    finished: bool,
}

impl<'a> BlobOutput<'a> {
    /// Blob files of `keyspace` in `dir`, numbered from `next_file`, for values of
    /// at least `threshold` bytes, each file rolled at about `target_size` bytes.
    pub fn new(
        fs: &'a FsRef,
        dir: &'a Path,
        next_file: &'a AtomicU64,
        keyspace: KeyspaceId,
        compression: Compression,
        threshold: usize,
        target_size: u64,
    ) -> Self {
        BlobOutput {
            fs,
            dir,
            next_file,
            options: BlobWriterOptions {
                file_number: 0,
                keyspace,
                compression,
            },
            threshold,
            target_size,
            current: None,
            done: Vec::new(),
            finished: false,
        }
    }

    /// Whether an entry of `kind` with `value` goes to a blob file: a put whose
    /// value is at least the threshold. An expiring put keeps its value inline
    /// (its expiry must stay readable from the segment); a blob pointer entry a
    /// compaction rewrites is one already.
    pub fn separates(&self, kind: EntryKind, value: &[u8]) -> bool {
        kind == EntryKind::Put && value.len() >= self.threshold
    }

    /// Appends `key`'s `value` to the open blob file (opening one, or rolling the
    /// full one first) and returns the pointer to it.
    ///
    /// # Errors
    /// `Io` from the file system.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<BlobPointer> {
        let full = self
            .current
            .as_ref()
            .is_some_and(|open| open.writer.file_size() >= self.target_size);
        if full {
            self.finish_current()?;
        }
        let open = match self.current.take() {
            Some(open) => open,
            None => self.open_new()?,
        };
        let open = self.current.insert(open);
        open.writer
            .add(key, value)
            .map_err(|e| Error::from_format(&open.tmp, e))
    }

    fn open_new(&mut self) -> Result<OpenBlob> {
        let number = self.next_file.fetch_add(1, Ordering::SeqCst);
        let tmp = blob_tmp_path(self.dir, number);
        let file = self.fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let out = BufWriter::with_capacity(WRITE_BUFFER, FileOut(file));
        let options = BlobWriterOptions {
            file_number: number,
            ..self.options
        };
        let writer = BlobWriter::new(out, options).map_err(|e| Error::from_format(&tmp, e))?;
        Ok(OpenBlob {
            number,
            tmp,
            writer,
        })
    }

    /// Finishes the open blob file, if any: footer, fsync, rename into place.
    ///
    /// # Errors
    /// `Io` from the file system.
    pub fn finish_current(&mut self) -> Result<()> {
        let Some(open) = self.current.take() else {
            return Ok(());
        };
        let tmp = open.tmp;
        let BlobFinished { out, properties } = open
            .writer
            .finish()
            .map_err(|e| Error::from_format(&tmp, e))?;
        let FileOut(mut file) = out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync().map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        let path = blob_path(self.dir, open.number);
        self.fs
            .rename(&tmp, &path)
            .map_err(|e| Error::io(&path, e))?;
        self.done.push(BlobFileMeta {
            keyspace: self.options.keyspace,
            file_number: open.number,
            file_size: properties.file_size,
            record_count: properties.record_count,
            value_bytes: properties.value_bytes,
        });
        Ok(())
    }

    /// Finishes the open file and hands over every file written. The caller syncs
    /// the directory (once for the segments and blob files of the job).
    ///
    /// # Errors
    /// `Io` from the file system; the files written are then removed.
    pub fn finish(&mut self) -> Result<Vec<BlobFileMeta>> {
        self.finish_current()?;
        self.finished = true;
        Ok(std::mem::take(&mut self.done))
    }
}

impl Drop for BlobOutput<'_> {
    /// On failure, nothing written here is referenced by the manifest: remove it.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(open) = self.current.take() {
            drop(open.writer);
            let _ = self.fs.remove(&open.tmp);
        }
        for meta in &self.done {
            let _ = self.fs.remove(&blob_path(self.dir, meta.file_number));
        }
    }
}
