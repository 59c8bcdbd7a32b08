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
//! Given a blob threshold ([`SegmentBuilder::set_blob_threshold`]), a put whose
//! value reaches it goes to the job's blob files (`crate::blob::BlobOutput`) and
//! the segment gets a blob pointer entry; the open blob file is finished (fsynced
//! and renamed into place) before each segment, so a segment's pointers only name
//! complete files, and the one directory sync covers both kinds of file.
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
use lsm_format::{Compression, EntryKind, SegmentWriter, WriterOptions};

use crate::blob::BlobOutput;
use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::{FsRef, WritableFile};
use crate::options::Options;
use crate::segment::file::{SegmentContext, SegmentFile};
use lsm_format::manifest::{BlobFileMeta, BlobRef};

/// Bytes buffered before a write call.
pub(crate) const WRITE_BUFFER: usize = 256 << 10;

/// `io::Write` over a [`WritableFile`].
pub(crate) struct FileOut(pub(crate) Box<dyn WritableFile>);

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

/// Where a compaction's outputs land in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputDepth {
    /// No deeper level holds a file: the outputs are the bottom of the tree.
    Bottom,
    /// A deeper level holds files (and flushes to level 0, always).
    AboveDeeperFiles,
}

/// The compression of data blocks written at `depth`: `bottommost_compression` at
/// the bottom when set, `compression` everywhere else.
pub(crate) fn output_compression(opts: &Options, depth: OutputDepth) -> Compression {
    match (depth, opts.bottommost_compression) {
        (OutputDepth::Bottom, Some(c)) => c,
        _ => opts.compression,
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
    /// Where values at or above the blob threshold go; `None`: all stay inline.
    blobs: Option<BlobOutput<'a>>,
    /// The open segment's pointers: value bytes per blob file (the segment's
    /// blob references, recorded with it in the manifest).
    refs: std::collections::BTreeMap<u64, u64>,
}

/// What a builder wrote: segments, and the blob files their pointers name.
#[derive(Debug, Default)]
pub(crate) struct BuiltFiles {
    /// The segments, in key order.
    pub segments: Vec<SegmentMeta>,
    /// The blob files, in the order written.
    pub blobs: Vec<BlobFileMeta>,
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
            blobs: None,
            refs: std::collections::BTreeMap::new(),
        }
    }

    /// Moves the values of puts of at least `threshold` bytes to blob files (of the
    /// builder's keyspace, compressed as its segments, each rolled at the segment
    /// size); `None` keeps every value inline. Called after
    /// [`set_keyspace`](Self::set_keyspace), before the first entry; the files are
    /// then handed over by [`finish_with_blobs`](Self::finish_with_blobs).
    pub fn set_blob_threshold(&mut self, threshold: Option<usize>) {
        debug_assert!(self.current.is_none() && self.done.is_empty());
        self.blobs = threshold.map(|t| {
            BlobOutput::new(
                self.fs,
                self.dir,
                self.next_file,
                self.options.keyspace,
                self.options.compression,
                t,
                self.segment_size,
            )
        });
    }

    /// Sets where the files land (flushes and the builder's default: above deeper
    /// files), which decides their compression ([`output_compression`]). Called
    /// before the first entry and before [`set_blob_threshold`](Self::set_blob_threshold).
    pub fn set_output_depth(&mut self, opts: &Options, depth: OutputDepth) {
        debug_assert!(self.current.is_none() && self.done.is_empty() && self.blobs.is_none());
        self.options.compression = output_compression(opts, depth);
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
        let pointer = match &mut self.blobs {
            Some(blobs) if blobs.separates(kind, value) => match blobs.add(key, value) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.current = Some(open);
                    return Err(e);
                }
            },
            _ => None,
        };
        let stored;
        let (kind, value) = match &pointer {
            Some(p) => {
                stored = p.to_vec();
                (EntryKind::BlobPointer, &stored[..])
            }
            None => (kind, value),
        };
        if kind == EntryKind::BlobPointer {
            // A new pointer, or one a compaction keeps: either way the segment
            // points into that file.
            let p = match pointer {
                Some(p) => p,
                None => match crate::blob::file::decode_pointer(key, value) {
                    Ok(p) => p,
                    Err(e) => {
                        self.current = Some(open);
                        return Err(e);
                    }
                },
            };
            *self.refs.entry(p.file_number).or_default() += u64::from(p.value_len);
        }
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
        // The blob file this segment points into is complete and durable first.
        if let Some(blobs) = &mut self.blobs {
            if let Err(e) = blobs.finish_current() {
                self.current = Some(open);
                return Err(e);
            }
        }
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
            blob_refs: std::mem::take(&mut self.refs)
                .into_iter()
                .map(|(blob_file, value_bytes)| BlobRef {
                    blob_file,
                    value_bytes,
                })
                .collect(),
        });
        Ok(())
    }

    /// Completes the last file and makes every file's name durable: for a builder
    /// without a blob threshold, which writes segments only (the unit tests' files;
    /// the engine and repair record blob references, through `finish_with_blobs`).
    ///
    /// # Errors
    /// `Io`; the files written are then removed (best effort).
    #[cfg(test)]
    pub fn finish(self) -> Result<Vec<SegmentMeta>> {
        debug_assert!(self.blobs.is_none(), "blob files would go unrecorded");
        debug_assert!(self.refs.is_empty(), "blob references would go unrecorded");
        Ok(self.finish_with_blobs()?.segments)
    }

    /// Completes the last segment and blob file and makes every file's name
    /// durable (one directory sync), so the caller can record them all in one
    /// manifest edit.
    ///
    /// # Errors
    /// `Io`; the files written are then removed (best effort).
    pub fn finish_with_blobs(mut self) -> Result<BuiltFiles> {
        let rest = self
            .range_tombstones
            .clipped(self.range_from.as_deref(), None);
        if self.current.is_none() && !rest.is_empty() {
            // Tombstones and no entry after them: a file of tombstones only.
            let open = self.open_new()?;
            self.current = Some(open);
        }
        self.finish_current(None)?;
        // Every blob file was finished with the segment pointing into it; the
        // output takes none along.
        // A failure leaves the blob output in place, so that the drop removes
        // the segments before their blob files.
        let blobs = match self.blobs.as_mut() {
            Some(blobs) => blobs.finish()?,
            None => Vec::new(),
        };
        if !self.done.is_empty() || !blobs.is_empty() {
            if let Err(e) = self.fs.sync_dir(self.dir) {
                // Segments first: another thread's directory sync may make any
                // moment of this durable, and a segment must never outlive the
                // blob file it points into (open would refuse the directory).
                self.remove_segments();
                for meta in &blobs {
                    let _ = self
                        .fs
                        .remove(&crate::blob::output::blob_path(self.dir, meta.file_number));
                }
                return Err(Error::io(self.dir, e));
            }
        }
        self.finished = true;
        Ok(BuiltFiles {
            segments: std::mem::take(&mut self.done),
            blobs,
        })
    }

    /// Removes the segments completed so far (a failed job's: no manifest lists
    /// them).
    fn remove_segments(&mut self) {
        for meta in std::mem::take(&mut self.done) {
            let _ = self
                .fs
                .remove(&filenames::segment_path(self.dir, meta.file_number));
        }
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
        // The blob output, a field, is dropped (and its files removed) after
        // this: segments go before the blob files they point into.
        self.remove_segments();
    }
}

/// The opened outputs of a flush or compaction: segments, and the blob files
/// they point into.
#[derive(Debug, Default)]
pub(crate) struct OpenedFiles {
    pub segments: Vec<Arc<SegmentFile>>,
    pub blobs: Vec<Arc<crate::blob::BlobFile>>,
}

impl OpenedFiles {
    /// Marks every file for deletion: outputs never recorded (their keyspace was
    /// dropped meanwhile).
    pub fn mark_obsolete(&self) {
        self.segments.iter().for_each(|f| f.mark_obsolete());
        self.blobs.iter().for_each(|b| b.mark_obsolete());
    }

    /// Bytes written: segments and blob files.
    pub fn bytes(&self) -> u64 {
        let segments: u64 = self.segments.iter().map(|f| f.size()).sum();
        segments + self.blobs.iter().map(|b| b.meta.file_size).sum::<u64>()
    }

    /// The blob files, as the manifest records them.
    pub fn blob_metas(&self) -> Vec<BlobFileMeta> {
        self.blobs.iter().map(|b| b.meta.clone()).collect()
    }
}

/// Opens what a builder wrote (segments and blob files); on failure removes them
/// all, since no version references them yet.
///
/// # Errors
/// As [`SegmentFile::open`] and [`crate::blob::BlobFile::open`].
pub(crate) fn open_built_files(
    fs: &FsRef,
    dir: &Path,
    ctx: &SegmentContext,
    built: BuiltFiles,
) -> Result<OpenedFiles> {
    let blob_numbers: Vec<u64> = built.blobs.iter().map(|m| m.file_number).collect();
    let mut blobs = Vec::with_capacity(built.blobs.len());
    for meta in built.blobs {
        match crate::blob::BlobFile::open(fs, dir, meta, ctx.cache.clone()) {
            Ok(b) => blobs.push(b),
            Err(e) => {
                for m in &built.segments {
                    let _ = fs.remove(&filenames::segment_path(dir, m.file_number));
                }
                for &n in &blob_numbers {
                    let _ = fs.remove(&crate::blob::output::blob_path(dir, n));
                }
                return Err(e);
            }
        }
    }
    match open_built(fs, dir, ctx, built.segments) {
        Ok(segments) => Ok(OpenedFiles { segments, blobs }),
        Err(e) => {
            for &n in &blob_numbers {
                let _ = fs.remove(&crate::blob::output::blob_path(dir, n));
            }
            Err(e)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use bytes::Bytes;
    use lsm_format::blob::BlobReadOptions;
    use lsm_format::{BlobPointer, BlobReader, ReadOptions, SegmentReader};

    use super::*;
    use crate::blob::output::blob_path;
    use crate::fs::SimFs;

    fn value_of(i: u32) -> Vec<u8> {
        // Every third value is large; the rest stay below the threshold.
        let len = if i.is_multiple_of(3) {
            300 + i as usize
        } else {
            40
        };
        (0..len).map(|j| (i as usize * 7 + j) as u8).collect()
    }

    /// Large puts become pointer entries into complete blob files that hold their
    /// values; small puts, tombstones and expiring puts stay inline; blob files
    /// roll with the segments and at the size target; no `.tmp` file is left.
    #[test]
    fn large_values_go_to_blob_files_that_the_pointers_name() {
        let sim = SimFs::new();
        let fs: FsRef = Arc::new(sim.clone());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let next = AtomicU64::new(1);
        let opts = Options::default()
            .with_segment_size(1024)
            .with_compression(lsm_format::Compression::None);
        let mut b = SegmentBuilder::new(&fs, dir, &opts, 0, &next);
        b.set_keyspace(3);
        b.set_blob_threshold(Some(300));
        for i in 0..150u32 {
            let key = format!("key{i:04}");
            b.add(key.as_bytes(), 100, EntryKind::Put, &value_of(i))
                .unwrap();
            if i.is_multiple_of(10) {
                b.add(key.as_bytes(), 50, EntryKind::Tombstone, b"")
                    .unwrap();
            }
        }
        let built = b.finish_with_blobs().unwrap();
        assert!(built.segments.len() > 1, "{:?}", built.segments.len());
        assert!(built.blobs.len() >= built.segments.len(), "{built:?}");
        let names = fs.list(dir).unwrap();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        let mut readers = std::collections::BTreeMap::new();
        for meta in &built.blobs {
            assert_eq!(meta.keyspace, 3);
            let bytes = sim.read_file(&blob_path(dir, meta.file_number)).unwrap();
            assert_eq!(bytes.len() as u64, meta.file_size);
            let reader =
                BlobReader::open(bytes.into(), BlobReadOptions::for_file(meta.file_number))
                    .unwrap();
            reader.verify().unwrap();
            assert_eq!(reader.properties().record_count, meta.record_count);
            readers.insert(meta.file_number, reader);
        }
        let (mut pointers, mut inline) = (0, 0);
        for seg in &built.segments {
            let bytes = sim
                .read_file(&filenames::segment_path(dir, seg.file_number))
                .unwrap();
            let reader = SegmentReader::open(Bytes::from(bytes), ReadOptions::default()).unwrap();
            assert_eq!(reader.properties().keyspace, 3);
            for e in reader.entries() {
                let e = e.unwrap();
                let i: u32 = std::str::from_utf8(&e.key[3..]).unwrap().parse().unwrap();
                match e.kind {
                    EntryKind::BlobPointer => {
                        assert!(i.is_multiple_of(3));
                        let p = BlobPointer::decode(&e.value).unwrap();
                        // A file of this job, complete (it verified above).
                        let record = readers[&p.file_number].get_record(&p).unwrap();
                        assert_eq!(
                            (&record.key[..], &record.value[..]),
                            (&e.key[..], &value_of(i)[..])
                        );
                        pointers += 1;
                    }
                    EntryKind::Put => {
                        assert!(!i.is_multiple_of(3));
                        assert_eq!(&e.value[..], &value_of(i)[..]);
                        inline += 1;
                    }
                    EntryKind::Tombstone => assert!(i.is_multiple_of(10)),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!((pointers, inline), (50, 100));
        let records: u64 = built.blobs.iter().map(|m| m.record_count).sum();
        assert_eq!(records, 50);
    }

    fn small_segments() -> Options {
        Options::default().with_segment_size(1024)
    }

    /// A builder in `dir` (created) with a 100-byte blob threshold, given `puts`
    /// values of 400 bytes: blob files and, past a few dozen, segments.
    fn builder_of_large_values<'a>(
        fs: &'a FsRef,
        dir: &'a Path,
        opts: &'a Options,
        next: &'a AtomicU64,
        puts: u32,
    ) -> SegmentBuilder<'a> {
        fs.create_dir_all(dir).unwrap();
        let mut b = SegmentBuilder::new(fs, dir, opts, 0, next);
        b.set_blob_threshold(Some(100));
        for i in 0..puts {
            b.add(format!("k{i:03}").as_bytes(), 1, EntryKind::Put, &[7; 400])
                .unwrap();
        }
        b
    }

    /// A builder dropped unfinished (a failed job) leaves no blob file behind,
    /// finished or not.
    #[test]
    fn an_unfinished_job_removes_its_blob_files() {
        let fs: FsRef = Arc::new(SimFs::new());
        let dir = Path::new("/db");
        let (next, opts) = (AtomicU64::new(1), small_segments());
        let b = builder_of_large_values(&fs, dir, &opts, &next, 40);
        assert!(fs.list(dir).unwrap().iter().any(|n| n.ends_with(".blob")));
        drop(b);
        assert_eq!(fs.list(dir).unwrap(), Vec::<String>::new());
    }

    /// A file system on which another job syncs the directory after every
    /// removal (as a concurrent subcompaction may), keeping each durable state
    /// reached, and whose next directory sync can be made to fail.
    struct SyncedRemovals {
        sim: Arc<SimFs>,
        fail_sync_dir: std::sync::atomic::AtomicBool,
        images: parking_lot::Mutex<Vec<Vec<String>>>,
    }

    impl crate::fs::FileSystem for SyncedRemovals {
        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            self.sim.create_dir_all(path)
        }
        fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
            self.sim.create(path)
        }
        fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
            self.sim.open_append(path)
        }
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.sim.read(path)
        }
        fn map(&self, path: &Path) -> io::Result<crate::fs::MappedFile> {
            self.sim.map(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.sim.rename(from, to)
        }
        fn remove(&self, path: &Path) -> io::Result<()> {
            let dir = path.parent().unwrap();
            if self.images.lock().is_empty() {
                // The state the removals start from.
                self.images.lock().push(self.sim.list(dir)?);
            }
            self.sim.remove(path)?;
            self.sim.sync_dir(dir)?;
            let crashed = self.sim.crash(crate::fs::CrashMode::DropUnsynced, 0);
            self.images.lock().push(crashed.list(dir)?);
            Ok(())
        }
        fn sync_dir(&self, path: &Path) -> io::Result<()> {
            if self.fail_sync_dir.swap(false, Ordering::SeqCst) {
                return Err(io::Error::other("injected"));
            }
            self.sim.sync_dir(path)
        }
        fn list(&self, path: &Path) -> io::Result<Vec<String>> {
            self.sim.list(path)
        }
        fn exists(&self, path: &Path) -> bool {
            self.sim.exists(path)
        }
        fn size(&self, path: &Path) -> io::Result<u64> {
            self.sim.size(path)
        }
        fn lock(&self, path: &Path) -> io::Result<Box<dyn crate::fs::FileLock>> {
            self.sim.lock(path)
        }
    }

    /// A failed job removes its segments before the blob files they point into,
    /// so no durable state between two removals has a segment whose blob file is
    /// gone (open refuses such a directory): both when the final directory sync
    /// fails and when the builder is dropped unfinished.
    #[test]
    fn a_failed_job_removes_segments_before_their_blob_files() {
        for fail_the_sync in [true, false] {
            let observed = Arc::new(SyncedRemovals {
                sim: Arc::new(SimFs::new()),
                fail_sync_dir: false.into(),
                images: Default::default(),
            });
            let fs: FsRef = observed.clone();
            let dir = Path::new("/db");
            let (next, opts) = (AtomicU64::new(1), small_segments());
            let b = builder_of_large_values(&fs, dir, &opts, &next, 400);
            fs.sync_dir(dir).unwrap();
            let written = fs.list(dir).unwrap();
            assert!(written.iter().any(|n| n.ends_with(".seg")), "{written:?}");
            if fail_the_sync {
                observed.fail_sync_dir.store(true, Ordering::SeqCst);
                assert!(b.finish_with_blobs().is_err());
            } else {
                drop(b);
            }
            let images = observed.images.lock().clone();
            let blobs = images[0].iter().filter(|n| n.ends_with(".blob")).count();
            assert!(blobs >= 2, "{:?}", images[0]);
            for image in &images {
                let segments = image.iter().filter(|n| n.ends_with(".seg")).count();
                let left = image.iter().filter(|n| n.ends_with(".blob")).count();
                assert!(
                    segments == 0 || left == blobs,
                    "a segment outlives its blob files: {image:?}"
                );
            }
            assert!(images
                .last()
                .unwrap()
                .iter()
                .all(|n| !n.ends_with(".seg") && !n.ends_with(".blob")));
        }
    }
}
