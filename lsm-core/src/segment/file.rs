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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use lsm_format::manifest::SegmentMeta;
use lsm_format::{BlockCacheKey, BlockRead, BlockSource, ReadAt, ReadOptions, SegmentReader};

use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::{FsRef, MappedFile};
use crate::segment::block_cache::LruBlockCache;

/// What the open segments of one database share: the block cache, and the budget
/// of segment bytes whose data blocks are read through the memory mapping.
#[derive(Clone)]
pub(crate) struct SegmentContext {
    pub cache: Option<Arc<LruBlockCache>>,
    pub mapped_reads: Arc<MappedReadBudget>,
}

impl SegmentContext {
    /// No cache, and every segment read through its mapping (tests, and
    /// `audit_files`, which reads a few entries once).
    pub fn unbounded() -> Self {
        SegmentContext {
            cache: None,
            mapped_reads: Arc::new(MappedReadBudget::new(u64::MAX)),
        }
    }
}

/// `Options::mmap_read_budget`: segment bytes whose data blocks may be read through
/// the memory mapping at once. Reading a block through a mapping costs no system
/// call, but leaves its pages (on Linux, the whole page-cache folio, up to 2 MiB) in
/// the process's resident set until the segment is closed; beyond the budget a
/// segment's data blocks are read with one positional read each into the block
/// cache, and resident memory stays the cache's size however large the database.
/// A segment takes its share at its first block read that finds room (so the budget
/// goes to the files being read, and a file opened while the budget was full takes
/// it once compaction has deleted others) and keeps it until it is closed.
pub(crate) struct MappedReadBudget {
    limit: u64,
    used: AtomicU64,
}

impl MappedReadBudget {
    pub fn new(limit: u64) -> Self {
        MappedReadBudget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Takes `bytes` of the budget if they fit.
    fn try_take(&self, bytes: u64) -> bool {
        // A plain load first: a full budget is the common case of a large database,
        // and failing without a write keeps the counter's cache line shared.
        if self.used.load(Ordering::Relaxed).saturating_add(bytes) > self.limit {
            return false;
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes of the budget in use.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// The positional reads of one segment, which switch to the mapping for good once
/// the segment holds `size` bytes of the budget.
struct BudgetedReadAt {
    file: Arc<dyn ReadAt>,
    budget: Arc<MappedReadBudget>,
    size: u64,
    holds_budget: AtomicBool,
}

impl BudgetedReadAt {
    /// True when data blocks are read through the mapping: the segment holds its
    /// share of the budget, or takes it now.
    fn read_through_mapping(&self) -> bool {
        if self.holds_budget.load(Ordering::Relaxed) {
            return true;
        }
        // Two threads may both take a share here; the loser gives its back.
        if self.budget.try_take(self.size) {
            if self.holds_budget.swap(true, Ordering::AcqRel) {
                self.budget.give_back(self.size);
            }
            return true;
        }
        false
    }
}

/// Where one segment's data blocks come from, and which the block cache keeps: the
/// engine's policy, which `lsm-format`'s reader applies. Blocks are read through the
/// mapping while the segment holds its share of [`MappedReadBudget`] (or the file
/// system offers no positional reads), with one positional read each otherwise.
/// Every block built enters the cache except those of one-pass reads
/// ([`BlockRead::OnePass`], a compaction's input): a compaction would otherwise
/// evict the blocks point reads and scans keep hitting, for blocks nobody reads
/// again.
pub(crate) struct SegmentBlocks {
    cache: Option<Arc<LruBlockCache>>,
    positional: Option<BudgetedReadAt>,
}

impl BlockSource for SegmentBlocks {
    #[inline]
    fn positional(&self) -> Option<&dyn ReadAt> {
        let budgeted = self.positional.as_ref()?;
        if budgeted.read_through_mapping() {
            return None;
        }
        Some(&*budgeted.file)
    }

    #[inline]
    fn cached(&self, key: &BlockCacheKey) -> Option<Bytes> {
        self.cache.as_ref()?.get(key)
    }

    #[inline]
    fn built(&self, key: BlockCacheKey, block: &Bytes, read: BlockRead) {
        if let Some(cache) = self.cache.as_ref().filter(|_| read != BlockRead::OnePass) {
            cache.insert(key, block.clone());
        }
    }

    #[inline]
    fn buffer(&self, key: &BlockCacheKey) -> BytesMut {
        self.cache
            .as_ref()
            .map_or_else(BytesMut::new, |c| c.recycled_buffer(key))
    }
}

impl Drop for BudgetedReadAt {
    fn drop(&mut self) {
        if *self.holds_budget.get_mut() {
            self.budget.give_back(self.size);
        }
    }
}

pub(crate) struct SegmentFile {
    pub meta: SegmentMeta,
    pub reader: SegmentReader<SegmentBlocks>,
    pub path: PathBuf,
    mapping: MappedFile,
    fs: FsRef,
    obsolete: AtomicBool,
}

impl SegmentFile {
    /// Maps and opens the finished segment `meta.file_number` in `dir`. Its data
    /// blocks are read through the mapping once the file holds its share of
    /// `ctx.mapped_reads` (or when the file system offers no positional reads), and
    /// with positional reads until then.
    ///
    /// # Errors
    /// `Io` when the file cannot be mapped; `Corruption` when its footer or metadata
    /// blocks are damaged or its size differs from the manifest's.
    pub fn open(
        fs: &FsRef,
        dir: &Path,
        meta: SegmentMeta,
        ctx: &SegmentContext,
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
        let blocks = SegmentBlocks {
            cache: ctx.cache.clone(),
            positional: mapping.read_at().map(|file| BudgetedReadAt {
                file: file.clone(),
                budget: ctx.mapped_reads.clone(),
                size: meta.file_size,
                holds_budget: AtomicBool::new(false),
            }),
        };
        let options = ReadOptions {
            segment_id: meta.file_number,
            file_name: Some(filenames::segment_name(meta.file_number)),
        };
        let reader = SegmentReader::open_with(data, options, blocks)
            .map_err(|e| Error::from_format(&path, e))?;
        Ok(Arc::new(SegmentFile {
            meta,
            reader,
            path,
            mapping,
            fs: fs.clone(),
            obsolete: AtomicBool::new(false),
        }))
    }

    /// True when its data blocks are read through the mapping (it holds its share of
    /// the budget, or there are no positional reads).
    pub fn reads_through_mapping(&self) -> bool {
        (self.reader.source().positional.as_ref())
            .is_none_or(|b| b.holds_budget.load(Ordering::Relaxed))
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
            .field("reads_through_mapping", &self.reads_through_mapping())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use lsm_format::EntryKind;

    use super::*;
    use crate::fs::{FaultFs, FaultKind, FaultMode, SimFs};
    use crate::options::Options;
    use crate::segment::builder::SegmentBuilder;

    /// Writes segment `keys` (values `v<key>`) and returns its metadata.
    fn write(fs: &FsRef, next: &AtomicU64, keys: std::ops::Range<u32>) -> SegmentMeta {
        let mut b = SegmentBuilder::new(fs, Path::new("/db"), &Options::default(), 1, next);
        for k in keys {
            let key = format!("key{k:06}");
            b.add(
                key.as_bytes(),
                1,
                EntryKind::Put,
                format!("v{key}").as_bytes(),
            )
            .unwrap();
        }
        b.finish().unwrap().pop().unwrap()
    }

    /// Creates `/db` on `fs`; returns the file-number counter for its segments.
    fn db_dir(fs: &FsRef) -> AtomicU64 {
        fs.create_dir_all(Path::new("/db")).unwrap();
        AtomicU64::new(1)
    }

    fn context(limit: u64) -> SegmentContext {
        SegmentContext {
            cache: None,
            mapped_reads: Arc::new(MappedReadBudget::new(limit)),
        }
    }

    fn value(seg: &SegmentFile, k: u32) -> Vec<u8> {
        let key = format!("key{k:06}");
        seg.reader
            .get(key.as_bytes(), 9)
            .unwrap()
            .unwrap()
            .value
            .to_vec()
    }

    #[test]
    fn segments_read_through_the_mapping_while_they_fit_in_the_budget() {
        let fs = SimFs::new().fs_ref();
        let next = db_dir(&fs);
        let metas: Vec<_> = (0..3)
            .map(|i| write(&fs, &next, i * 500..i * 500 + 500))
            .collect();
        let size = metas[0].file_size;
        // Room for any one of them, not for two.
        let ctx = context(size + metas[1].file_size - 1);
        let open =
            |m: &SegmentMeta| SegmentFile::open(&fs, Path::new("/db"), m.clone(), &ctx).unwrap();
        let a = open(&metas[0]);
        let b = open(&metas[1]);
        assert_eq!(ctx.mapped_reads.used(), 0, "opening takes nothing");
        // The first read takes a share; the budget has room for one file only.
        assert_eq!(value(&a, 7), b"vkey000007");
        assert_eq!(value(&b, 700), b"vkey000700");
        assert!(a.reads_through_mapping(), "the first file read fits");
        assert!(!b.reads_through_mapping(), "the second does not");
        assert_eq!(ctx.mapped_reads.used(), size);
        // Closing the mapped one gives its share back, and the next read of a file
        // still on positional reads takes it.
        drop(a);
        assert_eq!(ctx.mapped_reads.used(), 0);
        assert_eq!(value(&b, 701), b"vkey000701");
        assert!(b.reads_through_mapping());
        let c = open(&metas[2]);
        assert_eq!(value(&c, 1200), b"vkey001200");
        assert!(!c.reads_through_mapping());
        drop((b, c));
        assert_eq!(ctx.mapped_reads.used(), 0);
    }

    #[test]
    fn the_cache_keeps_blocks_of_lookups_and_scans_not_of_one_pass_reads() {
        let fs = SimFs::new().fs_ref();
        let next = db_dir(&fs);
        let meta = write(&fs, &next, 0..2000); // LZ4, the default
        for budget in [0, u64::MAX] {
            let cache = Arc::new(LruBlockCache::new(16 << 20));
            let ctx = SegmentContext {
                cache: Some(cache.clone()),
                mapped_reads: Arc::new(MappedReadBudget::new(budget)),
            };
            let seg = SegmentFile::open(&fs, Path::new("/db"), meta.clone(), &ctx).unwrap();
            let mut it = seg.reader.iter();
            it.set_block_read(BlockRead::OnePass);
            it.seek_to_first().unwrap();
            let mut n = 0;
            while it.valid() {
                n += 1;
                it.next().unwrap();
            }
            assert_eq!(n, 2000);
            assert_eq!(
                cache.used(),
                0,
                "budget {budget}: a one-pass read keeps nothing"
            );
            assert_eq!(value(&seg, 1234), b"vkey001234");
            let one = cache.used();
            assert!(one > 0, "budget {budget}: a lookup's block is kept");
            assert_eq!(seg.reader.entries().count(), 2000);
            assert!(
                cache.used() > one,
                "budget {budget}: a scan's blocks are kept"
            );
        }
    }

    #[test]
    fn racing_first_reads_take_one_share() {
        let fs = SimFs::new().fs_ref();
        let next = db_dir(&fs);
        let meta = write(&fs, &next, 0..2000);
        let ctx = context(u64::MAX);
        let seg = SegmentFile::open(&fs, Path::new("/db"), meta.clone(), &ctx).unwrap();
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let seg = &seg;
                s.spawn(move || {
                    for k in (t..2000).step_by(97) {
                        assert_eq!(value(seg, k), format!("vkey{k:06}").as_bytes());
                    }
                });
            }
        });
        assert!(seg.reads_through_mapping());
        assert_eq!(ctx.mapped_reads.used(), meta.file_size);
        drop(seg);
        assert_eq!(ctx.mapped_reads.used(), 0);
    }

    #[test]
    fn a_failed_positional_read_is_an_io_error_naming_the_file() {
        let faults = FaultFs::new(SimFs::new().fs_ref());
        let fs = faults.fs_ref();
        let next = db_dir(&fs);
        let meta = write(&fs, &next, 0..500);
        let seg = SegmentFile::open(&fs, Path::new("/db"), meta, &context(0)).unwrap();
        assert_eq!(value(&seg, 3), b"vkey000003");
        faults.fail(FaultKind::Read, 1, FaultMode::Once);
        let err = seg.reader.get(b"key000004", 9).unwrap_err();
        let err = Error::from_format(&seg.path, err);
        assert!(
            matches!(&err, Error::Io { path, .. } if path == &seg.path),
            "{err:?}"
        );
        assert_eq!(value(&seg, 4), b"vkey000004", "the next read succeeds");
    }
}
