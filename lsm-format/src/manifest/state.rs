//! The state a manifest describes, and the rules each edit must follow.

use std::collections::{BTreeSet, HashMap};

use super::{SegmentMeta, VersionEdit, MAX_LEVELS};
use crate::error::{Error, Result};
use crate::log::LogDamageKind;
use crate::FORMAT_VERSION;

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
    /// by [`replay_manifest`](super::replay_manifest); [`apply`](Self::apply) leaves it alone.
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
    /// does for each record after the first. `offset` names the record in errors. The
    /// engine uses this to keep its in-memory copy in step with the edits it appends.
    ///
    /// # Errors
    /// The first of [`apply_lenient`](Self::apply_lenient)'s violations; the state is
    /// then partly updated and must be discarded.
    pub fn apply(&mut self, edit: &VersionEdit, offset: u64) -> Result<()> {
        match self.apply_lenient(edit, offset).into_iter().next() {
            None => Ok(()),
            Some(violation) => Err(violation),
        }
    }

    /// Applies every part of `edit` that follows the rules and returns a
    /// `Corruption` error for each part that does not (which is skipped): a format
    /// version in a record other than the first, a deletion of a segment that is not
    /// live at that level, a live segment named obsolete, an addition of a segment
    /// that is live already or was recorded dead (file numbers are never reused). The
    /// tools use this to show everything wrong with a manifest; the engine's
    /// [`apply`](Self::apply) stops at the first.
    pub fn apply_lenient(&mut self, edit: &VersionEdit, offset: u64) -> Vec<Error> {
        let mut violations = Vec::new();
        if edit.format_version.is_some() && self.record_count > 0 {
            violations.push(Error::corruption(
                offset,
                "format_version in a record other than the first",
            ));
        }
        for &(level, file_number) in &edit.deleted_segments {
            if self.live.get(&file_number) != Some(&level) {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit deletes segment {file_number} which is not live in level {level}"
                    ),
                ));
                continue;
            }
            self.live.remove(&file_number);
            if let Some(files) = self.levels.get_mut(level as usize) {
                files.retain(|m| m.file_number != file_number);
            }
            self.obsolete.insert(file_number);
        }
        for &file_number in &edit.obsolete_segments {
            if let Some(level) = self.live.get(&file_number) {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit names segment {file_number} obsolete, but it is live in level \
                         {level}"
                    ),
                ));
                continue;
            }
            self.obsolete.insert(file_number);
        }
        for (level, meta) in &edit.added_segments {
            if let Some(at) = self.live.get(&meta.file_number) {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit adds segment {} which is already live in level {at}",
                        meta.file_number
                    ),
                ));
                continue;
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
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit adds segment {} which an earlier edit recorded dead",
                        meta.file_number
                    ),
                ));
                continue;
            }
            let Some(files) = self.levels.get_mut(*level as usize) else {
                violations.push(Error::corruption(
                    offset,
                    format!("level {level} is not below {MAX_LEVELS}"),
                ));
                continue;
            };
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
        violations
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
