//! Versions: the immutable set of live segments per level, and how a point lookup
//! walks them.
//!
//! A [`Version`] is never modified; applying a manifest edit builds a new one
//! (`edit.rs`), which [`set::VersionSet`] records in the manifest before the engine
//! installs it. Readers hold an `Arc<Version>` (inside a `SuperVersion`), so the files
//! they read stay alive however the tree changes meanwhile.
//!
//! Invariants:
//! - level 0 is ordered newest first (largest sequence number descending): its files
//!   overlap and the first one holding a key has its newest version;
//! - every level >= 1 is sorted by key, its files do not overlap, and the versions of
//!   one user key are never split between two of its files.

pub(crate) mod control;
mod edit;
pub(crate) mod manifest;
pub(crate) mod set;

use std::sync::Arc;

use bytes::Bytes;
use lsm_format::manifest::MAX_LEVELS;
use lsm_format::segment::FilterAnswer;
use lsm_format::{EntryKind, Probe};

use crate::blob::BlobSet;
use crate::error::{Error, Result};
use crate::memtable::Found;
use crate::metrics::{bump, Metrics};
use crate::prefetch::prefetch;
use crate::segment::file::SegmentFile;

pub(crate) use control::VersionControl;

/// The current [`Version`] of every live keyspace, by id.
pub(crate) type Versions =
    std::collections::BTreeMap<lsm_format::keyspace::KeyspaceId, Arc<Version>>;
pub(crate) use set::VersionSet;

/// The live segments of every level, and the live blob files their pointer
/// entries point into.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    levels: Vec<Vec<Arc<SegmentFile>>>,
    /// The keyspace's live blob files: a reader resolves the pointers it meets
    /// through the version it read them from, which keeps the files.
    blobs: BlobSet,
    /// How many of the files hold range tombstones: scans of a tree with none
    /// skip looking for them.
    range_tombstone_files: usize,
}

impl Default for Version {
    fn default() -> Self {
        Version {
            levels: vec![Vec::new(); MAX_LEVELS],
            blobs: BlobSet::default(),
            range_tombstone_files: 0,
        }
    }
}

impl Version {
    /// The files of `level` (empty beyond the last level).
    pub fn level(&self, level: usize) -> &[Arc<SegmentFile>] {
        self.levels.get(level).map_or(&[], |l| l.as_slice())
    }

    pub fn levels(&self) -> &[Vec<Arc<SegmentFile>>] {
        &self.levels
    }

    /// The live blob files.
    pub fn blobs(&self) -> &BlobSet {
        &self.blobs
    }

    /// The value `stored`, a blob pointer entry of `key` read from this version,
    /// points to.
    ///
    /// # Errors
    /// `Corruption` naming the blob file and offset; `Io`.
    pub fn resolve_blob(&self, key: &[u8], stored: &[u8]) -> Result<Bytes> {
        crate::blob::file::resolve(&self.blobs, key, stored, crate::blob::BlobRead::Cached)
    }

    /// As [`resolve_blob`](Self::resolve_blob), for a one-pass reader
    /// (compaction): the value is not added to the cache.
    ///
    /// # Errors
    /// As [`resolve_blob`](Self::resolve_blob).
    pub fn resolve_blob_once(&self, key: &[u8], stored: &[u8]) -> Result<Bytes> {
        crate::blob::file::resolve(&self.blobs, key, stored, crate::blob::BlobRead::OnePass)
    }

    /// Whether some file holds range tombstones.
    pub fn has_range_tombstones(&self) -> bool {
        self.range_tombstone_files > 0
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.level(level).iter().map(|f| f.size()).sum()
    }

    /// The deepest level holding a file, if any.
    pub fn deepest_non_empty(&self) -> Option<usize> {
        self.levels.iter().rposition(|l| !l.is_empty())
    }

    /// The newest version of `key` with sequence number `<= seq` in the segments,
    /// `None` when there is none or a range tombstone hides it. `covered` is the
    /// newest range tombstone over `key` the memtables hold (visible at `seq`).
    ///
    /// A range tombstone hides the versions older than it. Sources are asked newest
    /// first, and every version of a key in a later source is older than every
    /// range tombstone over it in an earlier one (level 0's files hold disjoint
    /// sequence number ranges, newest first; a deeper level's versions of a key
    /// passed through the levels above before the tombstone could reach them), so
    /// once a tombstone covers the key, only the source it came from can still hold
    /// a newer version.
    ///
    /// # Errors
    /// `Corruption` (logged) or `Io` from a segment read; never a wrong value.
    /// `hash` is `key`'s [`key_hash`](lsm_format::segment::bloom::key_hash), computed
    /// once by the caller for every filter probed.
    pub fn get(
        &self,
        key: &[u8],
        hash: u64,
        seq: u64,
        covered: Option<u64>,
        metrics: &Metrics,
    ) -> Result<Option<Found>> {
        if covered.is_some() {
            return Ok(None);
        }
        self.lookup(key, hash, seq, true, metrics)
    }

    /// The newest version of `key` with sequence number `<= seq` as the entries
    /// alone say, range tombstones ignored: what holds which version (open's file
    /// audit), not what a reader sees.
    ///
    /// # Errors
    /// As [`Version::get`].
    pub fn get_ignoring_range_tombstones(
        &self,
        key: &[u8],
        hash: u64,
        seq: u64,
        metrics: &Metrics,
    ) -> Result<Option<Found>> {
        self.lookup(key, hash, seq, false, metrics)
    }

    fn lookup(
        &self,
        key: &[u8],
        hash: u64,
        seq: u64,
        range_tombstones: bool,
        metrics: &Metrics,
    ) -> Result<Option<Found>> {
        // Start loading every candidate's filter block first, so that their cache
        // misses (one per file: the filters of a large database do not fit the CPU
        // caches) overlap instead of following one another.
        for file in self.candidates(key) {
            if let Some(block) = file.reader.filter().probe_target(hash) {
                prefetch(block.as_ptr());
            }
        }
        let key_probe = Probe::with_hash(key, hash, seq);
        for file in self.candidates(key) {
            let covered = if range_tombstones {
                file.reader.range_tombstones().covering_seq(key, seq)
            } else {
                None
            };
            let found = probe(file, &key_probe, metrics)?;
            if let Some(found) = resolve(found, covered) {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The files that may hold `key`, newest first: every level-0 file whose range
    /// holds it, then the one file per deeper level whose range does.
    fn candidates<'a>(&'a self, key: &'a [u8]) -> impl Iterator<Item = &'a SegmentFile> + 'a {
        let level0 = self.level(0).iter().filter(move |f| f.contains_key(key));
        let deeper = self.levels.iter().skip(1).filter_map(move |files| {
            let i = files.partition_point(|f| f.largest() < key);
            files.get(i).filter(|f| f.smallest() <= key)
        });
        level0.chain(deeper).map(|f| &**f)
    }
}

/// What one source's answer means, given the newest range tombstone over the key
/// visible in that source and the ones before it: `Some(answer)` when the lookup
/// ends here (a version, or `None` for a key deleted), `None` to ask older sources.
pub(crate) fn resolve(found: Option<Found>, covered: Option<u64>) -> Option<Option<Found>> {
    match (found, covered) {
        (Some(f), Some(t)) if f.seq < t => Some(None),
        (Some(f), _) => Some(Some(f)),
        (None, Some(_)) => Some(None),
        (None, None) => None,
    }
}

/// Looks `probe`'s key up in one file (Bloom filter first), counting what the
/// filter was worth.
fn probe(file: &SegmentFile, probe: &Probe<'_>, metrics: &Metrics) -> Result<Option<Found>> {
    let lookup = file.reader.lookup(probe).map_err(|e| {
        let err = Error::from_format(&file.path, e);
        if err.is_corruption() {
            log::error!("{err}");
        }
        err
    })?;
    match (lookup.found, lookup.filter) {
        (Some(found), _) => Ok(Some(Found {
            seq: found.seq,
            kind: found.kind,
            value: match found.kind {
                EntryKind::Put | EntryKind::ExpiringPut | EntryKind::BlobPointer => found.value,
                EntryKind::Tombstone | EntryKind::RangeDelete => Bytes::new(),
            },
        })),
        (None, FilterAnswer::Absent) => {
            bump(&metrics.bloom_useful, 1);
            Ok(None)
        }
        (None, FilterAnswer::MayContain) => {
            bump(&metrics.bloom_false_positives, 1);
            Ok(None)
        }
        (None, _) => Ok(None),
    }
}
