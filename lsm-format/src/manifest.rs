//! Version edits as stored in manifest records: `docs/format.md` section 6.
//!
//! ```text
//! edit  := field*
//! field := tag:varint32 data
//! ```
//!
//! Tags (frozen; a retired tag stays reserved): 1 format_version, 2 log_number,
//! 3 next_file_number, 4 last_sequence, 5 delete_segment, 6 add_segment,
//! 7 obsolete_segment (format version 2).
//!
//! [`replay_manifest`] applies every edit of a manifest file to a [`ManifestState`],
//! with the manifest's rule for damage: damage with no valid record after it is a
//! torn tail (safe thanks to the commit rule: an edit is followed by an empty commit
//! marker before any file it obsoletes is deleted); damage followed by a valid record
//! is corruption.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

use crate::coding::{put_length_prefixed, put_varint32, put_varint64, Decoder};
use crate::entry::MAX_KEY_LEN;
use crate::error::{Error, Result};
use crate::log::{read_log, LogDamageKind, LOG_HEADER_LEN};
use crate::{FORMAT_VERSION, MIN_FORMAT_VERSION};

/// Number of levels the format allows.
pub const MAX_LEVELS: usize = 16;

/// On-disk field tags, frozen.
mod tag {
    pub const FORMAT_VERSION: u32 = 1;
    pub const LOG_NUMBER: u32 = 2;
    pub const NEXT_FILE_NUMBER: u32 = 3;
    pub const LAST_SEQUENCE: u32 = 4;
    pub const DELETE_SEGMENT: u32 = 5;
    pub const ADD_SEGMENT: u32 = 6;
    pub const OBSOLETE_SEGMENT: u32 = 7;
}

/// A segment added to a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    /// File number: the file is `NNNNNN.seg`.
    pub file_number: u64,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// First user key.
    pub smallest_key: Bytes,
    /// Last user key.
    pub largest_key: Bytes,
    /// Smallest sequence number.
    pub smallest_seq: u64,
    /// Largest sequence number.
    pub largest_seq: u64,
    /// Entries in the file.
    pub entry_count: u64,
    /// Tombstones in the file.
    pub tombstone_count: u64,
}

/// A change to the live state, as one manifest record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionEdit {
    /// Present in the first record of a manifest.
    pub format_version: Option<u32>,
    /// WAL files numbered below this are obsolete.
    pub log_number: Option<u64>,
    /// Next file number to allocate.
    pub next_file_number: Option<u64>,
    /// Last sequence number used.
    pub last_sequence: Option<u64>,
    /// Segments removed: (level, file number).
    pub deleted_segments: Vec<(u32, u64)>,
    /// Segments added: (level, metadata).
    pub added_segments: Vec<(u32, SegmentMeta)>,
    /// Segments that are not live and whose files may still exist: deleted by an
    /// earlier edit whose record a rewritten manifest no longer holds (the file was
    /// still open for a reader), or left unreferenced by an interrupted job. A reader
    /// may remove these files; a file that is not live and not recorded dead is
    /// evidence that records are missing (`docs/format.md` section 6).
    pub obsolete_segments: Vec<u64>,
}

impl VersionEdit {
    /// Appends the encoding of this edit to `out`: scalar fields in tag order, then
    /// deletions, then obsolete segments, then additions. The caller keeps levels below [`MAX_LEVELS`] and
    /// keys within [`MAX_KEY_LEN`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(v) = self.format_version {
            put_varint32(out, tag::FORMAT_VERSION);
            put_varint32(out, v);
        }
        let scalars = [
            (tag::LOG_NUMBER, self.log_number),
            (tag::NEXT_FILE_NUMBER, self.next_file_number),
            (tag::LAST_SEQUENCE, self.last_sequence),
        ];
        for (t, v) in scalars {
            if let Some(v) = v {
                put_varint32(out, t);
                put_varint64(out, v);
            }
        }
        for &(level, file_number) in &self.deleted_segments {
            put_varint32(out, tag::DELETE_SEGMENT);
            put_varint32(out, level);
            put_varint64(out, file_number);
        }
        for &file_number in &self.obsolete_segments {
            put_varint32(out, tag::OBSOLETE_SEGMENT);
            put_varint64(out, file_number);
        }
        for (level, m) in &self.added_segments {
            debug_assert!((*level as usize) < MAX_LEVELS);
            debug_assert!(
                m.smallest_key.len() <= MAX_KEY_LEN && m.largest_key.len() <= MAX_KEY_LEN
            );
            put_varint32(out, tag::ADD_SEGMENT);
            put_varint32(out, *level);
            put_varint64(out, m.file_number);
            put_varint64(out, m.file_size);
            put_length_prefixed(out, &m.smallest_key);
            put_length_prefixed(out, &m.largest_key);
            put_varint64(out, m.smallest_seq);
            put_varint64(out, m.largest_seq);
            put_varint64(out, m.entry_count);
            put_varint64(out, m.tombstone_count);
        }
    }

    /// Decodes an edit whose first byte is at file offset `offset` (for errors).
    ///
    /// # Errors
    /// `Corruption` for an unknown tag, a scalar field given twice, a level
    /// `>= MAX_LEVELS`, truncated fields or lengths over the limits.
    pub fn decode(payload: &[u8], offset: u64) -> Result<Self> {
        let mut d = Decoder::new(payload, offset);
        let mut edit = VersionEdit::default();
        while !d.is_empty() {
            let at = d.offset();
            let t = d.varint32("edit tag")?;
            match t {
                tag::FORMAT_VERSION => {
                    set_once(&mut edit.format_version, d.varint32("format_version")?, at)?
                }
                tag::LOG_NUMBER => set_once(&mut edit.log_number, d.varint64("log_number")?, at)?,
                tag::NEXT_FILE_NUMBER => set_once(
                    &mut edit.next_file_number,
                    d.varint64("next_file_number")?,
                    at,
                )?,
                tag::LAST_SEQUENCE => {
                    set_once(&mut edit.last_sequence, d.varint64("last_sequence")?, at)?
                }
                tag::DELETE_SEGMENT => {
                    let level = level(&mut d)?;
                    edit.deleted_segments
                        .push((level, d.varint64("delete file_number")?));
                }
                tag::ADD_SEGMENT => {
                    let level = level(&mut d)?;
                    let meta = SegmentMeta {
                        file_number: d.varint64("add file_number")?,
                        file_size: d.varint64("add file_size")?,
                        smallest_key: Bytes::copy_from_slice(
                            d.length_prefixed(MAX_KEY_LEN, "smallest_key")?,
                        ),
                        largest_key: Bytes::copy_from_slice(
                            d.length_prefixed(MAX_KEY_LEN, "largest_key")?,
                        ),
                        smallest_seq: d.varint64("smallest_seq")?,
                        largest_seq: d.varint64("largest_seq")?,
                        entry_count: d.varint64("entry_count")?,
                        tombstone_count: d.varint64("tombstone_count")?,
                    };
                    edit.added_segments.push((level, meta));
                }
                tag::OBSOLETE_SEGMENT => {
                    edit.obsolete_segments
                        .push(d.varint64("obsolete file_number")?);
                }
                other => {
                    return Err(Error::corruption(
                        at,
                        format!("unknown version edit tag {other}"),
                    ))
                }
            }
        }
        Ok(edit)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, at: u64) -> Result<()> {
    if slot.is_some() {
        return Err(Error::corruption(at, "version edit field given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn level(d: &mut Decoder<'_>) -> Result<u32> {
    let at = d.offset();
    let level = d.varint32("level")?;
    if level as usize >= MAX_LEVELS {
        return Err(Error::corruption(
            at,
            format!("level {level} is not below {MAX_LEVELS}"),
        ));
    }
    Ok(level)
}

/// The live state a manifest describes: what replaying its edits gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestState {
    /// Live segments of each level (always [`MAX_LEVELS`] entries), in the order they
    /// were added. A file number is live in at most one level.
    pub levels: Vec<Vec<SegmentMeta>>,
    /// WAL files numbered below this are obsolete.
    pub log_number: u64,
    /// Next file number to allocate.
    pub next_file_number: u64,
    /// Last sequence number used.
    pub last_sequence: u64,
    /// Records applied, commit markers included.
    pub record_count: u64,
    /// Offset of a torn tail that was dropped, if any. The engine rewrites the
    /// manifest (from [`snapshot_edit`](Self::snapshot_edit)) before appending to it.
    pub torn_tail: Option<u64>,
    /// Why the tail was torn, when it was.
    pub torn_kind: Option<LogDamageKind>,
    /// Offset just past the last replayed record: where the file is clean up to. Set
    /// by [`replay_manifest`]; [`apply`](Self::apply) leaves it alone.
    pub clean_len: u64,
    /// Segments this manifest records as dead (deleted by an edit, or named
    /// obsolete) that were not found gone yet: their files may still exist and may
    /// be removed. [`snapshot_edit`](Self::snapshot_edit) carries them over, so a
    /// rewrite never forgets that a file is dead; the engine drops the numbers of
    /// files it has seen gone ([`forget_obsolete`](Self::forget_obsolete)).
    pub obsolete: BTreeSet<u64>,
    /// Level of each live file number.
    live: HashMap<u64, u32>,
}

impl Default for ManifestState {
    fn default() -> Self {
        ManifestState {
            levels: vec![Vec::new(); MAX_LEVELS],
            log_number: 0,
            next_file_number: 0,
            last_sequence: 0,
            record_count: 0,
            torn_tail: None,
            torn_kind: None,
            clean_len: 0,
            obsolete: BTreeSet::new(),
            live: HashMap::new(),
        }
    }
}

impl ManifestState {
    /// The level where `file_number` is live, if it is.
    pub fn level_of(&self, file_number: u64) -> Option<u32> {
        self.live.get(&file_number).copied()
    }

    /// Number of live segments over all levels.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Applies one edit (deletions, then obsolete segments, then additions), as replay
    /// does for each record after the first. `offset` names the record in errors. The engine uses this to
    /// keep its in-memory copy in step with the edits it appends.
    ///
    /// # Errors
    /// `Corruption` when the edit deletes a segment that is not live at that level,
    /// names a live segment obsolete, adds one that is live already or was recorded
    /// dead (file numbers are never reused), or carries a format version; the state
    /// is then partly updated and must be discarded.
    pub fn apply(&mut self, edit: &VersionEdit, offset: u64) -> Result<()> {
        if edit.format_version.is_some() && self.record_count > 0 {
            return Err(Error::corruption(
                offset,
                "format_version in a record other than the first",
            ));
        }
        for &(level, file_number) in &edit.deleted_segments {
            if self.live.get(&file_number) != Some(&level) {
                return Err(Error::corruption(
                    offset,
                    format!(
                        "edit deletes segment {file_number} which is not live in level {level}"
                    ),
                ));
            }
            self.live.remove(&file_number);
            if let Some(files) = self.levels.get_mut(level as usize) {
                files.retain(|m| m.file_number != file_number);
            }
            self.obsolete.insert(file_number);
        }
        for &file_number in &edit.obsolete_segments {
            if let Some(level) = self.live.get(&file_number) {
                return Err(Error::corruption(
                    offset,
                    format!("edit names segment {file_number} obsolete, but it is live in level {level}"),
                ));
            }
            self.obsolete.insert(file_number);
        }
        for (level, meta) in &edit.added_segments {
            if let Some(at) = self.live.get(&meta.file_number) {
                return Err(Error::corruption(
                    offset,
                    format!(
                        "edit adds segment {} which is already live in level {at}",
                        meta.file_number
                    ),
                ));
            }
            // A file deleted and added back by the same edit was moved between
            // levels: it stays live.
            let moved = edit
                .deleted_segments
                .iter()
                .any(|&(_, n)| n == meta.file_number);
            if moved {
                self.obsolete.remove(&meta.file_number);
            } else if self.obsolete.contains(&meta.file_number) {
                return Err(Error::corruption(
                    offset,
                    format!(
                        "edit adds segment {} which an earlier edit recorded dead",
                        meta.file_number
                    ),
                ));
            }
            let files = self.levels.get_mut(*level as usize).ok_or_else(|| {
                Error::corruption(offset, format!("level {level} is not below {MAX_LEVELS}"))
            })?;
            files.push(meta.clone());
            self.live.insert(meta.file_number, *level);
        }
        if let Some(v) = edit.log_number {
            self.log_number = v;
        }
        if let Some(v) = edit.next_file_number {
            self.next_file_number = v;
        }
        if let Some(v) = edit.last_sequence {
            self.last_sequence = v;
        }
        self.record_count += 1;
        Ok(())
    }

    /// True when this manifest records `file_number` as a dead segment (deleted by
    /// an edit or named obsolete) whose file may still exist.
    pub fn is_obsolete(&self, file_number: u64) -> bool {
        self.obsolete.contains(&file_number)
    }

    /// Drops from [`obsolete`](Self::obsolete) every number for which `gone` is true:
    /// call it with "the file no longer exists" before a rewrite, so that a snapshot
    /// does not carry dead numbers forever. Never pass a number whose file exists.
    pub fn forget_obsolete(&mut self, mut gone: impl FnMut(u64) -> bool) {
        self.obsolete.retain(|&n| !gone(n));
    }

    /// The single edit a rewritten manifest starts with: the format version, the
    /// counters, every segment still recorded dead, and every live segment, level by
    /// level in insertion order.
    pub fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            format_version: Some(FORMAT_VERSION),
            log_number: Some(self.log_number),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            deleted_segments: Vec::new(),
            obsolete_segments: self.obsolete.iter().copied().collect(),
            added_segments: (0u32..)
                .zip(&self.levels)
                .flat_map(|(level, files)| files.iter().map(move |m| (level, m.clone())))
                .collect(),
        }
    }
}

/// Replays a whole manifest file into the state it describes.
///
/// The first record must carry a `format_version` from [`MIN_FORMAT_VERSION`] to
/// [`FORMAT_VERSION`] (version 1 is version 2 without tag 7). Damage of any kind with no valid
/// record after it is a torn tail: it is dropped and reported in
/// [`ManifestState::torn_tail`] (safe because of the commit rule of section 6: no file
/// is deleted on the strength of a manifest's last record). Empty records (commit
/// markers) replay as empty edits.
///
/// # Errors
/// `Corruption` with the offset for damage followed by a valid record, an
/// undecodable edit, an edit that breaks the live-set rules, or a file with no
/// complete record; `UnsupportedVersion` when the first record names another format
/// version.
pub fn replay_manifest(data: &[u8]) -> Result<ManifestState> {
    let log = read_log(data)?;
    let mut state = ManifestState::default();
    if let Some(damage) = &log.damage {
        if !damage.records_after.is_empty() {
            return Err(Error::corruption(
                damage.offset,
                format!(
                    "manifest damaged ({:?}) with {} valid records after it",
                    damage.kind,
                    damage.records_after.len()
                ),
            ));
        }
        state.torn_tail = Some(damage.offset);
        state.torn_kind = Some(damage.kind);
    }
    for rec in &log.records {
        let edit = VersionEdit::decode(&rec.payload, rec.offset + LOG_HEADER_LEN as u64)?;
        if state.record_count == 0 {
            match edit.format_version {
                Some(v) if (MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&v) => {}
                Some(found) => {
                    return Err(Error::UnsupportedVersion {
                        found,
                        supported: FORMAT_VERSION,
                    })
                }
                None => {
                    return Err(Error::corruption(
                        rec.offset,
                        "first manifest record has no format_version",
                    ))
                }
            }
        }
        state.apply(&edit, rec.offset)?;
    }
    if state.record_count == 0 {
        return Err(Error::corruption(0, "manifest holds no complete record"));
    }
    state.clean_len = log.clean_len();
    Ok(state)
}
