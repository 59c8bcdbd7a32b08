//! Writing sorted entries out as segment files, rolling to a new file at
//! `segment_size`. Shared by flush and compaction.
//!
//! Crash-consistency: each file is written as `NNNNNN.seg.tmp`, fsynced, renamed to
//! `NNNNNN.seg`, and the directory is fsynced once all are in place, before the
//! caller records them in the manifest. A crash before the manifest edit leaves
//! `.tmp` files or unreferenced segments, which the next open deletes.
//!
//! A file is only cut between two user keys, never between two versions of one key,
//! so the files of a level >= 1 never share a user key.
//!
//! Range tombstones are cut with the files: a file that ends with key `p` takes the
//! part of every tombstone below `p + [0]` (the smallest key after `p`), and the next
//! file the rest. Since a file's key range covers its tombstones (the format rounds
//! an end `p + [0]` down to `p`), neighbouring files of a level still never overlap,
//! and no key between them is left uncovered.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lsm_format::manifest::SegmentMeta;
use lsm_format::range_del::Fragments;
use lsm_format::segment::writer::Finished;
use lsm_format::{EntryKind, SegmentWriter, WriterOptions};

use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::{FsRef, WritableFile};
use crate::options::Options;
use crate::segment::file::{SegmentContext, SegmentFile};

/// Bytes buffered before a write call.
const WRITE_BUFFER: usize = 256 << 10;

/// `io::Write` over a [`WritableFile`].
struct FileOut(Box<dyn WritableFile>);

impl Write for FileOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct OpenFile {
    number: u64,
    tmp: PathBuf,
    writer: SegmentWriter<BufWriter<FileOut>>,
}

/// The segment writer settings derived from the database options, for segments
/// of `level`.
pub(crate) fn writer_options(opts: &Options, level: usize) -> WriterOptions {
    WriterOptions {
        block_size: opts.block_size,
        bloom_bits_per_key: if level == 0 {
            opts.level0_bloom_bits_per_key
        } else {
            opts.bloom_bits_per_key
        },
        compression: opts.compression,
        creator: concat!("lsm-core ", env!("CARGO_PKG_VERSION")).to_string(),
        ..WriterOptions::default()
    }
}

pub(crate) struct SegmentBuilder<'a> {
    fs: &'a FsRef,
    dir: &'a Path,
    options: WriterOptions,
    segment_size: u64,
    next_file: &'a AtomicU64,
    current: Option<OpenFile>,
    done: Vec<SegmentMeta>,
    finished: bool,
    /// Range tombstones to write: the part from `range_from` on is not written yet.
    range_tombstones: Fragments,
    range_from: Option<Vec<u8>>,
}

impl<'a> SegmentBuilder<'a> {
    /// A builder of segments for `level` (which sets their Bloom filter's bits per
    /// key).
    pub fn new(
        fs: &'a FsRef,
        dir: &'a Path,
        opts: &Options,
        level: usize,
        next_file: &'a AtomicU64,
    ) -> Self {
        SegmentBuilder {
            fs,
            dir,
            options: writer_options(opts, level),
            segment_size: opts.segment_size as u64,
            next_file,
            current: None,
            done: Vec::new(),
            finished: false,
            range_tombstones: Fragments::new(),
            range_from: None,
        }
    }

    /// Sets the keyspace the files belong to (recorded in their properties); 0
    /// unless set. Called before the first entry.
    pub fn set_keyspace(&mut self, keyspace: lsm_format::keyspace::KeyspaceId) {
        debug_assert!(self.current.is_none() && self.done.is_empty());
        self.options.keyspace = keyspace;
    }

    /// Sets the range tombstones the files get, each the part of its key range;
    /// called before the first entry.
    pub fn set_range_tombstones(&mut self, tombstones: Fragments) {
        self.range_tombstones = tombstones;
    }

    /// Appends one entry; entries arrive in internal order.
    ///
    /// # Errors
    /// `Io` from the file system.
    pub fn add(&mut self, key: &[u8], seq: u64, kind: EntryKind, value: &[u8]) -> Result<()> {
        if let Some(open) = &self.current {
            let full = open.writer.estimated_size() >= self.segment_size;
            if full && open.writer.last_key() != Some(key) {
                let mut cut = open.writer.last_key().unwrap_or_default().to_vec();
                cut.push(0);
                self.finish_current(Some(cut))?;
            }
        }
        let open = match self.current.take() {
            Some(open) => open,
            None => self.open_new()?,
        };
        let open = self.current.insert(open);
        open.writer
            .add(key, seq, kind, value)
            .map_err(|e| Error::from_format(&open.tmp, e))
    }

    fn open_new(&mut self) -> Result<OpenFile> {
        let number = self.next_file.fetch_add(1, Ordering::SeqCst);
        let tmp = filenames::segment_tmp_path(self.dir, number);
        let file = self.fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let out = BufWriter::with_capacity(WRITE_BUFFER, FileOut(file));
        Ok(OpenFile {
            number,
            tmp,
            writer: SegmentWriter::new(out, self.options.clone()),
        })
    }

    /// Completes the open file; its range tombstones are the unwritten ones below
    /// `cut` (all of them when `None`).
    fn finish_current(&mut self, cut: Option<Vec<u8>>) -> Result<()> {
        let Some(mut open) = self.current.take() else {
            return Ok(());
        };
        let part = self
            .range_tombstones
            .clipped(self.range_from.as_deref(), cut.as_deref());
        self.range_from = cut;
        open.writer
            .add_range_tombstones(part)
            .map_err(|e| Error::from_format(&open.tmp, e))?;
        let tmp = open.tmp;
        let Finished {
            out,
            properties,
            file_size,
        } = open
            .writer
            .finish()
            .map_err(|e| Error::from_format(&tmp, e))?;
        let FileOut(mut file) = out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync().map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        let path = filenames::segment_path(self.dir, open.number);
        self.fs
            .rename(&tmp, &path)
            .map_err(|e| Error::io(&path, e))?;
        self.done.push(SegmentMeta {
            keyspace: properties.keyspace,
            file_number: open.number,
            file_size,
            smallest_key: properties.smallest_key,
            largest_key: properties.largest_key,
            smallest_seq: properties.smallest_seq,
            largest_seq: properties.largest_seq,
            entry_count: properties.entry_count,
            tombstone_count: properties.tombstone_count,
        });
        Ok(())
    }

    /// Completes the last file and makes every file's name durable.
    ///
    /// # Errors
    /// `Io`; the files written are then removed (best effort).
    pub fn finish(mut self) -> Result<Vec<SegmentMeta>> {
        let rest = self
            .range_tombstones
            .clipped(self.range_from.as_deref(), None);
        if self.current.is_none() && !rest.is_empty() {
            // Tombstones and no entry after them: a file of tombstones only.
            let open = self.open_new()?;
            self.current = Some(open);
        }
        self.finish_current(None)?;
        if !self.done.is_empty() {
            self.fs
                .sync_dir(self.dir)
                .map_err(|e| Error::io(self.dir, e))?;
        }
        self.finished = true;
        Ok(std::mem::take(&mut self.done))
    }
}

impl Drop for SegmentBuilder<'_> {
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
            let _ = self
                .fs
                .remove(&filenames::segment_path(self.dir, meta.file_number));
        }
    }
}

/// Opens freshly built segments (flush and compaction outputs); on failure removes
/// them all, since no version references them yet.
pub(crate) fn open_built(
    fs: &FsRef,
    dir: &Path,
    ctx: &SegmentContext,
    metas: Vec<SegmentMeta>,
) -> Result<Vec<Arc<SegmentFile>>> {
    let numbers: Vec<u64> = metas.iter().map(|m| m.file_number).collect();
    let mut files = Vec::with_capacity(metas.len());
    for meta in metas {
        match SegmentFile::open(fs, dir, meta, ctx) {
            Ok(f) => files.push(f),
            Err(e) => {
                for n in numbers {
                    let _ = fs.remove(&filenames::segment_path(dir, n));
                }
                return Err(e);
            }
        }
    }
    Ok(files)
}
