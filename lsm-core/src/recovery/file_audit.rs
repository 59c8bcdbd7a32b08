//! The rule for the files of a database directory at open: which ones the recovered
//! state proves dead (open may delete them), and which ones it cannot explain (open
//! refuses and deletes nothing). `docs/durability.md`, "Files at open", states it
//! for users.
//!
//! Deleting is the one operation no test can undo, so a file is removed only with
//! proof that nothing readable goes with it:
//! - a WAL numbered below the manifest's `log_number`: an edit recorded that its
//!   data is in segments;
//! - a segment the manifest records dead: deleted by an edit, or carried over as
//!   obsolete by a rewritten manifest (tag 7, `docs/format.md` section 6);
//! - a segment the manifest does not list, every entry of which the recovered state
//!   (the listed segments plus the replayed WALs) holds too: the output of a flush
//!   or compaction a crash interrupted before its edit was logged. Its data is still
//!   in the WAL or in the job's inputs. An entry is held when the recovered state has
//!   the same key at the same sequence number; an entry whose sequence number a
//!   compaction rewrote to 0 (the oldest version of its key, `compaction::retention`)
//!   is held when the recovered state has a put of that key with the same value,
//!   or, under a compaction filter, a put the filter turns into this entry (a value
//!   it changes into this one, or for a tombstone, a value it removes) when asked
//!   as a compaction into any level could ask it. The filter may rewrite a version
//!   renumbered before it was configured; a filter that answers differently for
//!   the same value leaves such a file unexplained, so open refuses, deleting
//!   nothing.
//!   A range tombstone is held when the recovered state's range tombstones at the
//!   same sequence number cover its whole range (flush and compaction cut them at
//!   file boundaries, never change their numbers).
//!
//! - a blob file the manifest records dead (deleted by an edit once no live segment
//!   pointed into it);
//! - a blob file the manifest does not list: the output of a flush or compaction
//!   a crash interrupted. No listed segment points into it (the manifest refuses
//!   a pointer into a blob file it does not list), and the unlisted segments that
//!   may point into it are removed only when their every entry is held elsewhere
//!   (above; an entry that points into a blob file is held as the value it points
//!   to), or else open refuses and removes nothing.
//!
//! Everything else is evidence that the manifest lost records (cut short, or an older
//! copy put back): a segment or blob file it lists that is missing, a segment it does not list
//! holding data found nowhere else, or WALs newer than the oldest live one it names
//! while that one is gone (a WAL is deleted only after an edit moved `log_number`
//! past it).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::entry::MAX_SEQUENCE;
use lsm_format::manifest::{ManifestState, MAX_LEVELS};
use lsm_format::range_del::Fragments;
use lsm_format::segment::bloom::key_hash;
use lsm_format::{EntryKind, ReadOptions, SegmentReader};

use super::listing::Listing;
use crate::compaction::filter::{CompactionFilter, FilterDecision};
use crate::error::{Error, Result};
use crate::filenames::{segment_name, segment_path, wal_name, MANIFEST};
use crate::fs::FsRef;
use crate::memtable::{Found, MemTable};
use crate::metrics::Metrics;
use std::collections::BTreeMap;

use lsm_format::keyspace::KeyspaceId;

use crate::version::{Version, Versions};

/// How many file names an error message lists before it says "and N more".
const NAMES_SHOWN: usize = 8;

/// What the files of a database directory are, judged against its manifest and
/// WALs: the evidence [`Db::open`](crate::Db::open) uses to decide what it may
/// delete, and what `lsm-verify` reports.
///
/// Obtain one with [`audit_files`](crate::audit_files).
///
/// # Examples
///
/// ```
/// use lsm_core::{audit_files, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = std::env::temp_dir().join(format!("lsm-audit-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let db = Db::open(&dir, Options::default())?;
/// db.put(b"k", b"v")?;
/// db.close()?;
/// let audit = audit_files(&dir)?;
/// assert!(audit.is_consistent());
/// assert!(audit.unexplained_segments.is_empty());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileAudit {
    /// Segments the manifest lists as live and the directory holds.
    pub live_segments: Vec<u64>,
    /// Segments the manifest lists as live that the directory lacks.
    pub missing_segments: Vec<u64>,
    /// Segments the manifest records dead that still exist (a crash or a reader
    /// kept them): removable.
    pub obsolete_segments: Vec<u64>,
    /// Segments the manifest does not list whose every entry the recovered state
    /// holds too (outputs of a flush or compaction that a crash interrupted):
    /// removable.
    pub leftover_segments: Vec<u64>,
    /// Segments the manifest does not list that hold data found nowhere else, or
    /// that cannot be read to tell: evidence that the manifest lost records.
    pub unexplained_segments: Vec<UnexplainedSegment>,
    /// WALs numbered from the manifest's `log_number` on: replayed at open.
    pub live_wals: Vec<u64>,
    /// WALs numbered below `log_number`: their data is in segments; removable.
    pub obsolete_wals: Vec<u64>,
    /// The oldest live WAL the manifest names, when it is missing although newer
    /// WALs exist (so it was deleted after an edit the manifest no longer holds).
    pub missing_wal: Option<u64>,
    /// Temporary files (`*.tmp`) a crash left: never live, removable.
    pub temp_files: Vec<String>,
    /// Blob files the manifest lists as live and the directory holds.
    pub live_blobs: Vec<u64>,
    /// Blob files the manifest lists as live that the directory lacks.
    pub missing_blobs: Vec<u64>,
    /// Blob files the manifest records dead that still exist: removable.
    pub obsolete_blobs: Vec<u64>,
    /// Blob files the manifest does not list (outputs of a flush or compaction a
    /// crash interrupted; no listed segment points into them): removable when the
    /// directory is otherwise consistent.
    pub leftover_blobs: Vec<u64>,
}

/// A segment the manifest does not list, with why it cannot be removed.
///
/// # Examples
///
/// ```
/// let s = lsm_core::UnexplainedSegment { number: 7, reason: "key \"a\" at sequence 9 is held nowhere else".into() };
/// assert_eq!(s.file_name(), "000007.seg");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexplainedSegment {
    /// Its file number (`NNNNNN.seg`).
    pub number: u64,
    /// The first entry held nowhere else, or why the file could not be read.
    pub reason: String,
}

impl UnexplainedSegment {
    /// The segment's file name.
    ///
    /// ```
    /// let s = lsm_core::UnexplainedSegment { number: 12, reason: String::new() };
    /// assert_eq!(s.file_name(), "000012.seg");
    /// ```
    pub fn file_name(&self) -> String {
        segment_name(self.number)
    }
}

impl FileAudit {
    /// True when every file is explained: nothing listed is missing, nothing unlisted
    /// holds data found nowhere else, and the WAL chain is whole. Open refuses a
    /// directory for which this is false.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// db.close()?;
    /// let segment = std::fs::read_dir(dir.path())?
    ///     .map(|e| e.unwrap().path())
    ///     .find(|p| p.extension().is_some_and(|e| e == "seg"))
    ///     .unwrap();
    /// std::fs::remove_file(segment)?; // a live segment removed by hand
    /// let audit = lsm_core::audit_files(dir.path())?;
    /// assert!(!audit.is_consistent());
    /// assert_eq!(audit.missing_segments.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_consistent(&self) -> bool {
        self.missing_segments.is_empty()
            && self.missing_blobs.is_empty()
            && self.unexplained_segments.is_empty()
            && self.missing_wal.is_none()
    }

    /// One line per inconsistency, naming the files (empty when consistent).
    ///
    /// ```
    /// let audit = lsm_core::FileAudit::default();
    /// assert!(audit.problems().is_empty());
    /// ```
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.missing_segments.is_empty() {
            out.push(format!(
                "{} listed in the manifest {} missing: {}",
                plural(self.missing_segments.len(), "segment"),
                if self.missing_segments.len() == 1 {
                    "is"
                } else {
                    "are"
                },
                names(self.missing_segments.iter().map(|&n| segment_name(n)))
            ));
        }
        if !self.missing_blobs.is_empty() {
            out.push(format!(
                "{} listed in the manifest {} missing: {}",
                plural(self.missing_blobs.len(), "blob file"),
                if self.missing_blobs.len() == 1 {
                    "is"
                } else {
                    "are"
                },
                names(
                    self.missing_blobs
                        .iter()
                        .map(|&n| lsm_format::file_name::blob_name(n))
                )
            ));
        }
        if let Some(first) = self.unexplained_segments.first() {
            out.push(format!(
                "{} not in the manifest {} data found nowhere else: {} ({}: {})",
                plural(self.unexplained_segments.len(), "segment"),
                if self.unexplained_segments.len() == 1 {
                    "holds"
                } else {
                    "hold"
                },
                names(self.unexplained_segments.iter().map(|s| s.file_name())),
                first.file_name(),
                first.reason
            ));
        }
        if let (Some(named), Some(&newer)) = (self.missing_wal, self.live_wals.first()) {
            out.push(format!(
                "the manifest names {} as the oldest live WAL, which is missing, while {} exists",
                wal_name(named),
                wal_name(newer)
            ));
        }
        out
    }

    /// The error open returns for an inconsistent directory, naming the manifest.
    pub(crate) fn refusal(&self, dir: &Path, manifest_len: u64) -> Option<Error> {
        if self.is_consistent() {
            return None;
        }
        Some(Error::Corruption {
            file: dir.join(MANIFEST),
            offset: manifest_len,
            reason: format!(
                "the manifest is behind its directory: it lost records (cut short, or an \
                 older copy put back) or files were removed by hand. {}. Nothing was \
                 deleted; keep a copy of the directory before repairing it",
                self.problems().join("; ")
            ),
        })
    }

    /// Judges every file in `listing` against the replayed manifest `state`, the
    /// listed segments it could open (`version`; `missing` are the listed ones the
    /// directory lacks) and the replayed WALs (`mem`), with each keyspace's
    /// compaction filter, by id (see the module documentation). Reads only.
    ///
    /// # Errors
    /// `Io` or `Corruption` from reading a listed segment while proving that an
    /// unlisted one is a leftover. An unlisted segment that cannot be read is not an
    /// error: it is unexplained.
    pub(crate) fn run(
        fs: &FsRef,
        dir: &Path,
        listing: &Listing,
        state: &ManifestState,
        (missing, missing_blobs): (Vec<u64>, Vec<u64>),
        (versions, mems): (&Versions, &BTreeMap<KeyspaceId, MemTable>),
        filters: &BTreeMap<KeyspaceId, Arc<dyn CompactionFilter>>,
    ) -> Result<FileAudit> {
        let mut audit = FileAudit {
            missing_segments: missing,
            missing_blobs,
            temp_files: listing.temps.clone(),
            ..FileAudit::default()
        };
        // Each keyspace's recovered state: an unlisted segment is checked against
        // that of the keyspace its properties name.
        let empty = MemTable::new(0);
        let recovered: BTreeMap<KeyspaceId, Recovered<'_>> = versions
            .iter()
            .map(|(id, version)| {
                let mem = mems.get(id).unwrap_or(&empty);
                let range_tombstones = Fragments::merge(
                    mem.range_tombstones().as_deref().into_iter().chain(
                        version
                            .levels()
                            .iter()
                            .flatten()
                            .map(|f| f.reader.range_tombstones()),
                    ),
                );
                let recovered = Recovered {
                    fs,
                    dir,
                    version,
                    mem,
                    range_tombstones,
                    filter: filters.get(id).map(|f| &**f),
                    metrics: Metrics::default(),
                };
                (*id, recovered)
            })
            .collect();
        for &n in &listing.segments {
            if state.level_of(n).is_some() {
                audit.live_segments.push(n);
            } else if state.is_obsolete(n) {
                audit.obsolete_segments.push(n);
            } else {
                match unheld_entry(&recovered, state, fs, dir, n)? {
                    None => audit.leftover_segments.push(n),
                    Some(reason) => audit
                        .unexplained_segments
                        .push(UnexplainedSegment { number: n, reason }),
                }
            }
        }
        for &n in &listing.blobs {
            if state.blob_files.contains_key(&n) {
                audit.live_blobs.push(n);
            } else if state.is_obsolete(n) {
                audit.obsolete_blobs.push(n);
            } else {
                audit.leftover_blobs.push(n);
            }
        }
        let (obsolete, live): (Vec<u64>, Vec<u64>) =
            listing.wals.iter().partition(|&&n| n < state.log_number);
        audit.obsolete_wals = obsolete;
        if live.first().is_some_and(|&n| n != state.log_number) {
            audit.missing_wal = Some(state.log_number);
        }
        audit.live_wals = live;
        Ok(audit)
    }
}

/// The recovered state an unlisted segment is checked against.
struct Recovered<'a> {
    fs: &'a FsRef,
    dir: &'a Path,
    version: &'a Version,
    mem: &'a MemTable,
    /// Every range tombstone of the WALs and the listed segments.
    range_tombstones: Fragments,
    /// The keyspace's compaction filter, which may have rewritten a version at 0.
    filter: Option<&'a dyn CompactionFilter>,
    metrics: Metrics,
}

/// `None` when every entry of unlisted segment `number` is held by the recovered
/// state of its keyspace (or its keyspace was dropped: its data is dead with it);
/// otherwise the first entry that is not (or why the file cannot be read).
fn unheld_entry(
    recovered: &BTreeMap<KeyspaceId, Recovered<'_>>,
    state: &ManifestState,
    fs: &FsRef,
    dir: &Path,
    number: u64,
) -> Result<Option<String>> {
    let path = segment_path(dir, number);
    let data = match fs.read(&path) {
        Ok(data) => Bytes::from(data),
        Err(e) => return Ok(Some(format!("cannot be read: {e}"))),
    };
    let reader = match SegmentReader::open(data, ReadOptions::default()) {
        Ok(r) => r,
        Err(e) => return Ok(Some(format!("damaged: {e}"))),
    };
    let keyspace = reader.properties().keyspace;
    match recovered.get(&keyspace) {
        Some(r) => r.unheld_entry(&reader),
        // Created and dropped: the drop's edit deleted everything of it.
        None if keyspace < state.next_keyspace_id => Ok(None),
        None => Ok(Some(format!(
            "of keyspace {keyspace}, which the manifest never created"
        ))),
    }
}

impl Recovered<'_> {
    /// `None` when every entry of `reader`'s segment is held by this recovered
    /// state; otherwise the first entry that is not (or why the file cannot be
    /// read).
    fn unheld_entry(&self, reader: &SegmentReader) -> Result<Option<String>> {
        for t in reader.range_tombstones().tombstones() {
            if !self.range_tombstones.holds(&t) {
                return Ok(Some(format!(
                    "range tombstone {}..{} at sequence {} is held nowhere else",
                    escaped(&t.start),
                    escaped(&t.end),
                    t.seq
                )));
            }
        }
        let mut it = reader.iter();
        it.set_block_read(lsm_format::BlockRead::OnePass);
        let mut step = it.seek_to_first();
        loop {
            if let Err(e) = step {
                return Ok(Some(format!("damaged: {e}")));
            }
            if !it.valid() {
                return Ok(None);
            }
            let (key, seq, mut kind) = (it.key(), it.seq(), it.kind());
            let mut value = Bytes::copy_from_slice(it.value_slice());
            if kind == EntryKind::BlobPointer && seq == 0 {
                // Held as the value it points to (a version a compaction
                // renumbered, written to a blob file it may not list).
                match crate::blob::file::resolve_in_dir(self.fs, self.dir, key, &value) {
                    Ok(v) => (kind, value) = (EntryKind::Put, v),
                    Err(e) => {
                        return Ok(Some(format!("its blob pointer of {}: {e}", escaped(key))))
                    }
                }
            }
            if !self.holds(key, seq, kind, &value)? {
                return Ok(Some(format!(
                    "key {} at sequence {seq} is held nowhere else",
                    escaped(key)
                )));
            }
            step = it.next();
        }
    }

    /// Whether the recovered state holds this entry (see the module documentation).
    fn holds(&self, key: &[u8], seq: u64, kind: EntryKind, value: &[u8]) -> Result<bool> {
        let hash = key_hash(key);
        if seq > 0 {
            return Ok(self.newest(key, hash, seq)?.is_some_and(|f| f.seq == seq));
        }
        if kind != EntryKind::Put && (kind != EntryKind::Tombstone || self.filter.is_none()) {
            return Ok(false);
        }
        // Walk the key's versions, newest first, for a put of the same value (or
        // one the filter turns into this entry).
        let mut at = MAX_SEQUENCE;
        while let Some(mut found) = self.newest(key, hash, at)? {
            if found.kind == EntryKind::BlobPointer {
                found.value = self.version.resolve_blob(key, &found.value)?;
                found.kind = EntryKind::Put;
            }
            if found.kind == EntryKind::Put
                && ((kind == EntryKind::Put && found.value.as_ref() == value)
                    || self.filter_made(key, &found.value, kind, value))
            {
                return Ok(true);
            }
            let Some(below) = found.seq.checked_sub(1) else {
                return Ok(false);
            };
            at = below;
        }
        Ok(false)
    }

    /// Whether the compaction filter, asked about `key` with `original` as a
    /// compaction into some level could ask, turns it into an entry of `kind` with
    /// `value`: changes it into `value`, or removes it (a tombstone).
    fn filter_made(&self, key: &[u8], original: &[u8], kind: EntryKind, value: &[u8]) -> bool {
        let Some(filter) = self.filter else {
            return false;
        };
        (0..MAX_LEVELS).any(|level| {
            [false, true].into_iter().any(|is_bottom| {
                match filter.filter(level, key, original, is_bottom) {
                    FilterDecision::ChangeValue(changed) => {
                        kind == EntryKind::Put && changed == value
                    }
                    FilterDecision::Remove => kind == EntryKind::Tombstone,
                    FilterDecision::Keep => false,
                }
            })
        })
    }

    /// The newest version of `key` at or below `seq`, in the WALs or the segments.
    fn newest(&self, key: &[u8], hash: u64, seq: u64) -> Result<Option<Found>> {
        let mem = self.mem.get(key, hash, seq);
        let seg = self
            .version
            .get_ignoring_range_tombstones(key, hash, seq, &self.metrics)?;
        Ok(match (mem, seg) {
            (Some(m), Some(s)) => Some(if m.seq >= s.seq { m } else { s }),
            (m, s) => m.or(s),
        })
    }
}

/// `key` as text for a message: printable ASCII as is, other bytes as `\xNN`, at
/// most 64 bytes of it.
fn escaped(key: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in key.iter().take(64) {
        match b {
            b'"' | b'\\' => out.push_str(&format!("\\{}", b as char)),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    if key.len() > 64 {
        out.push_str(&format!(" (first 64 of {} bytes)", key.len()));
    }
    out
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn names(all: impl ExactSizeIterator<Item = String>) -> String {
    let total = all.len();
    let mut shown: Vec<String> = all.take(NAMES_SHOWN).collect();
    if total > NAMES_SHOWN {
        shown.push(format!("and {} more", total - NAMES_SHOWN));
    }
    shown.join(", ")
}

impl fmt::Display for UnexplainedSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file_name(), self.reason)
    }
}
