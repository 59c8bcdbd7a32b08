//! A point lookup, step by step: which memtables and segments it consults, what each
//! key-range check and Bloom filter says, which block it reads, and where it stops.
//! The engine's own walk over its current view (the `SuperVersion` a `get` reads),
//! in the order `SuperVersion::get` and `Version::get` use, for tools (`explain` in
//! the `lsm` shell) and for understanding a read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lsm_format::segment::{self, bloom::key_hash};
use lsm_format::{EntryKind, Probe};

use crate::clock::{expires_at, value_at};
use crate::error::{Error, Result};
use crate::memtable::Found;
use crate::read_path::SuperVersion;
use crate::segment::file::SegmentFile;
use crate::version::Version;

/// The steps of one point lookup: see [`Db::explain`](crate::Db::explain).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookupTrace {
    /// The key looked up.
    pub key: Bytes,
    /// The sequence number the lookup reads at (the newest visible write).
    pub sequence: u64,
    /// The time the lookup judges expiry at (the clock when it started, to the
    /// millisecond).
    pub read_time: SystemTime,
    /// What the lookup consulted, in order.
    pub steps: Vec<LookupStep>,
    /// The version it stopped at (a put or a tombstone), or `None` when no version
    /// exists anywhere.
    pub found: Option<FoundVersion>,
    /// The newest range tombstone over the key visible at
    /// [`sequence`](Self::sequence) that the lookup met, if any. It hides
    /// [`found`](Self::found) when it is newer; a lookup stops at the first source
    /// that holds one, as `get` does (older sources hold only older versions).
    pub range_tombstone: Option<CoveringTombstone>,
}

/// A range tombstone a lookup met: the piece of it over the key (as fragmented with
/// the others of its source), its sequence number, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoveringTombstone {
    /// First key of the piece.
    pub start: Bytes,
    /// First key past the piece (exclusive; possibly the end of keys,
    /// `lsm_format::range_del::END_OF_KEYS`).
    pub end: Bytes,
    /// Sequence number of the range delete.
    pub sequence: u64,
    /// Where it is.
    pub source: TombstoneSource,
}

/// Where a [`CoveringTombstone`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TombstoneSource {
    /// A memtable, whose writes the WAL numbered `wal_number` holds.
    Memtable {
        /// The WAL file number.
        wal_number: u64,
    },
    /// A segment.
    Segment {
        /// Its level.
        level: usize,
        /// Its file number.
        file_number: u64,
    },
}

impl CoveringTombstone {
    fn from_piece(
        piece: &lsm_format::range_del::Fragment,
        sequence: u64,
        source: TombstoneSource,
    ) -> Self {
        CoveringTombstone {
            start: piece.start.clone(),
            end: piece.end.clone(),
            sequence,
            source,
        }
    }
}

impl LookupTrace {
    /// Whether [`range_tombstone`](Self::range_tombstone) hides `version`.
    fn hidden_by_range(&self, version: &FoundVersion) -> bool {
        self.range_tombstone
            .as_ref()
            .is_some_and(|t| t.sequence > version.sequence)
    }

    /// The range tombstone that hides [`found`](Self::found), or the key when no
    /// version was found, if one does.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("log/7", "entry")?;
    /// db.delete_prefix("log/")?;
    /// let trace = db.explain("log/7")?;
    /// assert!(trace.value().is_none());
    /// let t = trace.hiding_range_tombstone().unwrap();
    /// assert_eq!((&t.start[..], &t.end[..]), (&b"log/"[..], &b"log0"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hiding_range_tombstone(&self) -> Option<&CoveringTombstone> {
        let t = self.range_tombstone.as_ref()?;
        match &self.found {
            Some(v) if !self.hidden_by_range(v) => None,
            _ => Some(t),
        }
    }

    /// The value a `get` returns: the found put's value, `None` for a tombstone, a
    /// value expired at [`read_time`](Self::read_time), or no version.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// db.put("gone", "x")?;
    /// db.delete("gone")?;
    /// assert_eq!(db.explain("k")?.value().map(|v| &v[..]), Some(&b"v"[..]));
    /// let trace = db.explain("gone")?;
    /// assert!(trace.found.is_some() && trace.value().is_none()); // a tombstone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value(&self) -> Option<&Bytes> {
        self.found
            .as_ref()
            .filter(|f| f.kind == VersionKind::Put)
            .filter(|f| !self.hidden_by_range(f))
            .filter(|f| f.expires_at.is_none_or(|t| t > self.read_time))
            .map(|f| &f.value)
    }
}

/// A version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundVersion {
    /// Its sequence number.
    pub sequence: u64,
    /// Put or tombstone.
    pub kind: VersionKind,
    /// The value (empty for a tombstone; for a put written with a TTL, the value
    /// without its expiry).
    pub value: Bytes,
    /// When a put written with a TTL expires (to the millisecond); `None` for
    /// other versions.
    pub expires_at: Option<SystemTime>,
    /// Where the value is when the version keeps it in a blob file (key-value
    /// separation, `Options::blob_threshold`): the segment holds this pointer and
    /// [`value`](Self::value) is what was read through it. `None` for a value
    /// kept with its key.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let options = lsm_core::Options::default().with_blob_threshold(Some(64));
    /// let db = lsm_core::Db::open(dir.path(), options)?;
    /// db.put("big", vec![b'x'; 100])?;
    /// db.put("small", "v")?;
    /// db.flush()?;
    /// let trace = db.explain("big")?;
    /// let found = trace.found.as_ref().unwrap();
    /// let pointer = found.blob.unwrap();
    /// assert_eq!(pointer.value_len, 100);
    /// assert_eq!(found.value, vec![b'x'; 100]);
    /// assert!(db.explain("small")?.found.unwrap().blob.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub blob: Option<lsm_format::BlobPointer>,
}

impl FoundVersion {
    /// A version as stored: user value split from its expiry.
    pub(crate) fn from_stored(sequence: u64, kind: EntryKind, stored: Bytes) -> FoundVersion {
        let expires_at = expires_at(kind, &stored);
        let (kind, value) = match kind {
            // A pointer's value is resolved by the caller (`resolve_pointer`).
            EntryKind::Put | EntryKind::BlobPointer => (VersionKind::Put, stored),
            EntryKind::ExpiringPut => (
                VersionKind::Put,
                value_at(kind, stored, 0).unwrap_or_default(),
            ),
            EntryKind::Tombstone | EntryKind::RangeDelete => (VersionKind::Tombstone, Bytes::new()),
        };
        FoundVersion {
            sequence,
            kind,
            value,
            expires_at: expires_at.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
            blob: None,
        }
    }

    /// The version of `key` a segment of `version` stores as `stored`: for a blob
    /// pointer entry, the value read through the pointer (as `get` reads it), with
    /// the pointer.
    ///
    /// # Errors
    /// As `Version::resolve_blob`: a pointer that does not decode, names a blob
    /// file that is not live, or a record that does not check.
    fn from_segment(
        version: &Version,
        key: &[u8],
        sequence: u64,
        kind: EntryKind,
        stored: Bytes,
    ) -> Result<FoundVersion> {
        if kind != EntryKind::BlobPointer {
            return Ok(FoundVersion::from_stored(sequence, kind, stored));
        }
        let pointer = crate::blob::file::decode_pointer(key, &stored)?;
        let value = version.resolve_blob(key, &stored)?;
        Ok(FoundVersion {
            blob: Some(pointer),
            ..FoundVersion::from_stored(sequence, EntryKind::Put, value)
        })
    }
}

/// Whether a version sets or deletes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionKind {
    /// Sets the key.
    Put,
    /// Deletes the key.
    Tombstone,
}

/// What a Bloom filter said about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterAnswer {
    /// The segment was written without a filter.
    NoFilter,
    /// The key may be present: the block is read.
    MayContain,
    /// The key is certainly absent: the segment is skipped.
    Absent,
}

/// One step of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupStep {
    /// A memtable was searched: the active one (`immutable: None`) or an immutable
    /// one waiting for flush (its position, 0 = the newest).
    Memtable {
        /// Which immutable memtable, or `None` for the active one.
        immutable: Option<usize>,
        /// The number of the WAL that holds its writes.
        wal_number: u64,
        /// The newest version it holds, if any.
        found: Option<FoundVersion>,
    },
    /// A level is entered: how many segments it has, and how many of them were
    /// passed over because their key range does not cover the key.
    Level {
        /// The level.
        level: usize,
        /// Its live segments.
        segments: usize,
        /// Segments whose key range does not cover the key.
        out_of_range: usize,
    },
    /// A segment whose key range covers the key was consulted.
    Segment {
        /// Its level.
        level: usize,
        /// Its file number (`NNNNNN.seg`).
        file_number: u64,
        /// Its first key.
        smallest_key: Bytes,
        /// Its last key.
        largest_key: Bytes,
        /// What its Bloom filter said.
        filter: FilterAnswer,
        /// The block the index named: (entry index, offset, length); `None` when the
        /// filter excluded the key or the key is past the last block.
        block: Option<(usize, u64, u64)>,
        /// The newest version the block holds, if any.
        found: Option<FoundVersion>,
    },
    /// The lookup stopped: segments it did not consult, in the level where it
    /// stopped (older level-0 files) and in deeper levels.
    NotConsulted {
        /// Older segments of the same level that cover the key.
        in_level: usize,
        /// Segments of deeper levels.
        deeper: usize,
    },
}

fn version(f: Found) -> FoundVersion {
    FoundVersion::from_stored(f.seq, f.kind, f.value)
}

/// Traces the lookup of `key` at `seq` and time `now_ms` in `sv`.
pub(crate) fn trace(sv: &SuperVersion, key: &[u8], seq: u64, now_ms: u64) -> Result<LookupTrace> {
    let hash = key_hash(key);
    let mut trace = LookupTrace {
        key: Bytes::copy_from_slice(key),
        sequence: seq,
        read_time: UNIX_EPOCH + Duration::from_millis(now_ms),
        steps: Vec::new(),
        found: None,
        range_tombstone: None,
    };
    let levels = sv.version.levels();
    let segments_below = |level: usize| -> usize { levels.iter().skip(level).map(Vec::len).sum() };
    let imm = sv.imm.iter().rev().enumerate().map(|(i, m)| (Some(i), m));
    for (immutable, mem) in std::iter::once((None, &sv.mem)).chain(imm) {
        let found = mem.get(key, hash, seq).map(version);
        if let Some(t) = mem.range_tombstones() {
            let source = TombstoneSource::Memtable {
                wal_number: mem.wal_number(),
            };
            meet(&mut trace, &t, key, seq, source);
        }
        trace.steps.push(LookupStep::Memtable {
            immutable,
            wal_number: mem.wal_number(),
            found: found.clone(),
        });
        if found.is_some() || trace.range_tombstone.is_some() {
            trace.steps.push(LookupStep::NotConsulted {
                in_level: 0,
                deeper: segments_below(0),
            });
            trace.found = found;
            return Ok(trace);
        }
    }
    for (level, files) in levels.iter().enumerate() {
        if files.is_empty() {
            continue;
        }
        let covering: Vec<&SegmentFile> = files
            .iter()
            .filter(|f| f.contains_key(key))
            .map(|f| &**f)
            .collect();
        trace.steps.push(LookupStep::Level {
            level,
            segments: files.len(),
            out_of_range: files.len() - covering.len(),
        });
        for (i, file) in covering.iter().enumerate() {
            let source = TombstoneSource::Segment {
                level,
                file_number: file.number(),
            };
            meet(&mut trace, file.reader.range_tombstones(), key, seq, source);
            let found = segment_step(&mut trace, &sv.version, level, file, key, hash, seq)?;
            if found.is_some() || trace.range_tombstone.is_some() {
                trace.steps.push(LookupStep::NotConsulted {
                    in_level: covering.len() - i - 1,
                    deeper: segments_below(level + 1),
                });
                trace.found = found;
                return Ok(trace);
            }
        }
    }
    Ok(trace)
}

/// Records the newest tombstone of `tombstones` over `key` visible at `seq`, when it
/// is newer than the one met so far.
fn meet(
    trace: &mut LookupTrace,
    tombstones: &lsm_format::range_del::Fragments,
    key: &[u8],
    seq: u64,
    source: TombstoneSource,
) {
    let Some(piece) = tombstones.fragment_at(key) else {
        return;
    };
    let Some(t) = piece.visible_seq(seq) else {
        return;
    };
    if trace
        .range_tombstone
        .as_ref()
        .is_none_or(|m| t > m.sequence)
    {
        trace.range_tombstone = Some(CoveringTombstone::from_piece(piece, t, source));
    }
}

/// Consults one segment with the lookup `version::probe` makes, recording what it
/// answered.
fn segment_step(
    trace: &mut LookupTrace,
    version: &Version,
    level: usize,
    file: &SegmentFile,
    key: &[u8],
    hash: u64,
    seq: u64,
) -> Result<Option<FoundVersion>> {
    let lookup = file
        .reader
        .lookup(&Probe::with_hash(key, hash, seq))
        .map_err(|e| Error::from_format(&file.path, e))?;
    let filter = match lookup.filter {
        segment::FilterAnswer::Absent => FilterAnswer::Absent,
        segment::FilterAnswer::MayContain => FilterAnswer::MayContain,
        segment::FilterAnswer::NoFilter | segment::FilterAnswer::NotConsulted => {
            FilterAnswer::NoFilter
        }
    };
    // The block the index named: the only one that can hold the version asked for
    // (`docs/format.md` section 3.3).
    let block = (lookup.block).map(|b| (b.index, b.handle.offset, u64::from(b.handle.len)));
    let found = lookup
        .found
        .map(|f| FoundVersion::from_segment(version, key, f.seq, f.kind, f.value))
        .transpose()?;
    trace.steps.push(LookupStep::Segment {
        level,
        file_number: file.number(),
        smallest_key: file.meta.smallest_key.clone(),
        largest_key: file.meta.largest_key.clone(),
        filter,
        block,
        found: found.clone(),
    });
    Ok(found)
}
