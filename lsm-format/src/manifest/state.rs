//! The state a manifest describes, and the rules each edit must follow.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{BlobFileMeta, SegmentMeta, VersionEdit, MAX_LEVELS};
use crate::error::{Error, Result};
use crate::keyspace::{KeyspaceId, DEFAULT_KEYSPACE, DEFAULT_KEYSPACE_NAME};
use crate::log::LogDamageKind;
use crate::FORMAT_VERSION;

/// Format version from which a manifest may hold keyspace records (tags 8 to 13).
const KEYSPACE_FORMAT_VERSION: u32 = 3;

/// Format version from which a manifest may hold blob file records (tags 14 to 16).
const BLOB_FORMAT_VERSION: u32 = 4;

/// How the live segments point into one live blob file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobUse {
    /// Live segments with pointers into it.
    pub segments: u64,
    /// Sum of the value bytes those segments' pointers name (each segment's
    /// [`BlobRef::value_bytes`](super::BlobRef::value_bytes)).
    pub value_bytes: u64,
}

/// A live keyspace, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceMeta {
    /// Its name: non-empty, at most 255 bytes, unique among live keyspaces.
    pub name: String,
    /// The oldest WAL that may hold data of this keyspace not in its segments, as
    /// last recorded (tag 13); 0 when never recorded. The number that counts is
    /// [`ManifestState::keyspace_log_number`]: at least the global `log_number`.
    pub log_number: u64,
}

/// The live state a manifest describes: what replaying its edits gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestState {
    /// The manifest's format version, from its first record ([`FORMAT_VERSION`] for
    /// a state built without one). Keyspace records need 3 or above.
    pub format_version: u32,
    /// Live segments of each level (always [`MAX_LEVELS`] entries), in the order they
    /// were added, of every keyspace (each [`SegmentMeta`] names its own; see
    /// [`segments_of`](Self::segments_of)). A file number is live in at most one
    /// level.
    pub levels: Vec<Vec<SegmentMeta>>,
    /// The live keyspaces by id; keyspace 0, `"default"`, always.
    pub keyspaces: BTreeMap<KeyspaceId, KeyspaceMeta>,
    /// The id the next keyspace created gets: above every id ever created, so ids
    /// are never reused (1 while only keyspace 0 was ever there).
    pub next_keyspace_id: KeyspaceId,
    /// WAL files numbered below this are obsolete: the least of the live keyspaces'
    /// log numbers.
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
    /// The live blob files, by file number (format 4). A blob file is live from the
    /// edit that adds it to the edit that deletes it, which may only delete it
    /// once no live segment points into it.
    pub blob_files: BTreeMap<u64, BlobFileMeta>,
    /// Keyspace and level of each live file number.
    live: HashMap<u64, (KeyspaceId, u32)>,
    /// How the live segments point into each live blob file (absent: not at all).
    blob_uses: HashMap<u64, BlobUse>,
}

impl Default for ManifestState {
    fn default() -> Self {
        ManifestState {
            format_version: FORMAT_VERSION,
            levels: vec![Vec::new(); MAX_LEVELS],
            keyspaces: BTreeMap::from([(
                DEFAULT_KEYSPACE,
                KeyspaceMeta {
                    name: DEFAULT_KEYSPACE_NAME.to_string(),
                    log_number: 0,
                },
            )]),
            next_keyspace_id: DEFAULT_KEYSPACE + 1,
            log_number: 0,
            next_file_number: 0,
            last_sequence: 0,
            record_count: 0,
            torn_tail: None,
            torn_kind: None,
            clean_len: 0,
            obsolete: BTreeSet::new(),
            blob_files: BTreeMap::new(),
            live: HashMap::new(),
            blob_uses: HashMap::new(),
        }
    }
}

impl ManifestState {
    /// The level where `file_number` is live, if it is.
    pub fn level_of(&self, file_number: u64) -> Option<u32> {
        self.live.get(&file_number).map(|&(_, level)| level)
    }

    /// The keyspace where `file_number` is live, if it is.
    pub fn keyspace_of(&self, file_number: u64) -> Option<KeyspaceId> {
        self.live.get(&file_number).map(|&(keyspace, _)| keyspace)
    }

    /// The live segments of `keyspace`: (level, metadata), level by level in
    /// insertion order.
    pub fn segments_of(
        &self,
        keyspace: KeyspaceId,
    ) -> impl Iterator<Item = (u32, &SegmentMeta)> + '_ {
        (0u32..).zip(&self.levels).flat_map(move |(level, files)| {
            files
                .iter()
                .filter(move |m| m.keyspace == keyspace)
                .map(move |m| (level, m))
        })
    }

    /// The live keyspace named `name`.
    pub fn keyspace_named(&self, name: &str) -> Option<KeyspaceId> {
        self.keyspaces
            .iter()
            .find(|(_, k)| k.name == name)
            .map(|(&id, _)| id)
    }

    /// The oldest WAL that may hold data of live `keyspace` not in its segments:
    /// its recorded log number, or the global `log_number` when that is larger
    /// (WALs below it are gone). `None` for a keyspace that is not live: a WAL op
    /// of a keyspace that was created and dropped (below
    /// [`next_keyspace_id`](Self::next_keyspace_id)) is skipped at replay; one of
    /// a keyspace never created is corruption.
    pub fn keyspace_log_number(&self, keyspace: KeyspaceId) -> Option<u64> {
        self.keyspaces
            .get(&keyspace)
            .map(|k| k.log_number.max(self.log_number))
    }

    /// How the live segments point into blob file `file_number` (all zero for one
    /// no live segment points into, or one that is not live).
    pub fn blob_use(&self, file_number: u64) -> BlobUse {
        self.blob_uses
            .get(&file_number)
            .copied()
            .unwrap_or_default()
    }

    /// The live blob files of `keyspace`, by file number.
    pub fn blob_files_of(&self, keyspace: KeyspaceId) -> impl Iterator<Item = &BlobFileMeta> + '_ {
        self.blob_files
            .values()
            .filter(move |b| b.keyspace == keyspace)
    }

    /// The live blob files no live segment points into: what an interrupted
    /// job, or a bug, left behind. They hold nothing a reader can reach.
    pub fn unreferenced_blob_files(&self) -> impl Iterator<Item = &BlobFileMeta> + '_ {
        self.blob_files
            .values()
            .filter(|b| !self.blob_uses.contains_key(&b.file_number))
    }

    /// The live blob files `edit` leaves without a live segment pointing into
    /// them, not deleted by the edit itself: what the edit must delete too (tag
    /// 15) for the files to go once no reader needs them. Only blob files the
    /// edit's deleted segments pointed into are candidates.
    pub fn blob_files_freed_by(&self, edit: &VersionEdit) -> Vec<u64> {
        let mut change: BTreeMap<u64, i64> = BTreeMap::new();
        for d in &edit.deleted_segments {
            let meta = self
                .levels
                .get(d.level as usize)
                .and_then(|files| files.iter().find(|m| m.file_number == d.file_number));
            for r in meta.iter().flat_map(|m| &m.blob_refs) {
                *change.entry(r.blob_file).or_default() -= 1;
            }
        }
        for (_, m) in &edit.added_segments {
            for r in &m.blob_refs {
                if let Some(c) = change.get_mut(&r.blob_file) {
                    *c += 1;
                }
            }
        }
        change
            .into_iter()
            .filter(|&(n, c)| {
                self.blob_files.contains_key(&n)
                    && !edit.deleted_blob_files.contains(&n)
                    && self.blob_use(n).segments as i64 + c <= 0
            })
            .map(|(n, _)| n)
            .collect()
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
    /// version in a record other than the first, a keyspace record in a manifest of
    /// format 1 or 2, a deletion of a segment that is not live at that level of that
    /// keyspace, a live segment named obsolete, an addition of a segment that is live
    /// already, was recorded dead (file numbers are never reused), or belongs to a
    /// keyspace that is not live after the edit's drops and creations, a segment
    /// moved between keyspaces, the drop of keyspace 0 or of one not live, a drop
    /// that leaves a segment of the keyspace live (one edit drops a keyspace and
    /// deletes all its segments), a keyspace created with id 0, an id below
    /// `next_keyspace_id` (ids are never reused) or the name of a live keyspace, a
    /// log number for a keyspace not live, or a `next_keyspace_id` that moves
    /// backwards. The tools use this to show everything wrong with a manifest; the
    /// engine's [`apply`](Self::apply) stops at the first.
    ///
    /// Order: deletions, obsolete segments, dropped keyspaces, created keyspaces,
    /// additions, keyspace log numbers, then the counters.
    pub fn apply_lenient(&mut self, edit: &VersionEdit, offset: u64) -> Vec<Error> {
        let mut violations = Vec::new();
        if let Some(v) = edit.format_version {
            if self.record_count > 0 {
                violations.push(Error::corruption(
                    offset,
                    "format_version in a record other than the first",
                ));
            } else {
                self.format_version = v;
            }
        }
        if self.format_version < KEYSPACE_FORMAT_VERSION && edit.uses_keyspaces() {
            violations.push(Error::corruption(
                offset,
                format!(
                    "keyspace record in a manifest of format {} (keyspaces need format \
                     {KEYSPACE_FORMAT_VERSION})",
                    self.format_version
                ),
            ));
        }
        if self.format_version < BLOB_FORMAT_VERSION && edit.uses_blob_files() {
            violations.push(Error::corruption(
                offset,
                format!(
                    "blob file record in a manifest of format {} (blob files need format \
                     {BLOB_FORMAT_VERSION})",
                    self.format_version
                ),
            ));
        }
        for d in &edit.deleted_segments {
            let (keyspace, level, file_number) = (d.keyspace, d.level, d.file_number);
            if self.live.get(&file_number) != Some(&(keyspace, level)) {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit deletes segment {file_number} which is not live in level \
                         {level} of keyspace {keyspace}"
                    ),
                ));
                continue;
            }
            self.live.remove(&file_number);
            if let Some(files) = self.levels.get_mut(level as usize) {
                if let Some(at) = files.iter().position(|m| m.file_number == file_number) {
                    let meta = files.remove(at);
                    self.forget_blob_refs(&meta);
                }
            }
            self.obsolete.insert(file_number);
        }
        for &file_number in &edit.obsolete_segments {
            if let Some((_, level)) = self.live.get(&file_number) {
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
        self.delete_blob_files(edit, offset, &mut violations);
        self.apply_keyspaces(edit, offset, &mut violations);
        self.add_blob_files(edit, offset, &mut violations);
        for (level, meta) in &edit.added_segments {
            if !self.keyspaces.contains_key(&meta.keyspace) {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit adds segment {} to keyspace {}, which is not live",
                        meta.file_number, meta.keyspace
                    ),
                ));
                continue;
            }
            if let Some((_, at)) = self.live.get(&meta.file_number) {
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
                .find(|d| d.file_number == meta.file_number);
            if let Some(from) = moved.filter(|d| d.keyspace != meta.keyspace) {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit moves segment {} from keyspace {} to keyspace {}",
                        meta.file_number, from.keyspace, meta.keyspace
                    ),
                ));
                continue;
            }
            if moved.is_some() {
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
            if let Some(why) = self.blob_refs_violation(meta) {
                violations.push(Error::corruption(offset, why));
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
            self.live.insert(meta.file_number, (meta.keyspace, *level));
            for r in &meta.blob_refs {
                let used = self.blob_uses.entry(r.blob_file).or_default();
                used.segments += 1;
                used.value_bytes += r.value_bytes;
            }
        }
        for &(id, log_number) in &edit.keyspace_log_numbers {
            match self.keyspaces.get_mut(&id) {
                Some(k) => k.log_number = log_number,
                None => violations.push(Error::corruption(
                    offset,
                    format!("edit sets the log number of keyspace {id}, which is not live"),
                )),
            }
        }
        if let Some(next) = edit.next_keyspace_id {
            if next < self.next_keyspace_id {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "next_keyspace_id {next} is below {}, an id already used",
                        self.next_keyspace_id
                    ),
                ));
            } else {
                self.next_keyspace_id = next;
            }
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

    /// Why the blob references of `meta`, a segment about to be added, break the
    /// rules: each must name a live blob file of the segment's keyspace.
    fn blob_refs_violation(&self, meta: &SegmentMeta) -> Option<String> {
        meta.blob_refs
            .iter()
            .find_map(|r| match self.blob_files.get(&r.blob_file) {
                Some(b) if b.keyspace == meta.keyspace => None,
                Some(b) => Some(format!(
                    "edit adds segment {} of keyspace {}, pointing into blob file {} of \
                     keyspace {}",
                    meta.file_number, meta.keyspace, r.blob_file, b.keyspace
                )),
                None => Some(format!(
                    "edit adds segment {} pointing into blob file {}, which is not live",
                    meta.file_number, r.blob_file
                )),
            })
    }

    /// Takes the blob references of `meta`, a segment no longer live, out of the
    /// uses of the blob files it pointed into.
    fn forget_blob_refs(&mut self, meta: &SegmentMeta) {
        for r in &meta.blob_refs {
            if let Some(used) = self.blob_uses.get_mut(&r.blob_file) {
                used.segments = used.segments.saturating_sub(1);
                used.value_bytes = used.value_bytes.saturating_sub(r.value_bytes);
                if used.segments == 0 {
                    self.blob_uses.remove(&r.blob_file);
                }
            }
        }
    }

    /// Deletes the blob files `edit` deletes (after its segment deletions): each
    /// must be live, with no live segment left pointing into it.
    fn delete_blob_files(&mut self, edit: &VersionEdit, offset: u64, violations: &mut Vec<Error>) {
        for &file_number in &edit.deleted_blob_files {
            if !self.blob_files.contains_key(&file_number) {
                violations.push(Error::corruption(
                    offset,
                    format!("edit deletes blob file {file_number}, which is not live"),
                ));
                continue;
            }
            let used = self.blob_use(file_number);
            if used.segments > 0 {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit deletes blob file {file_number}, into which {} live segment(s) \
                         still point",
                        used.segments
                    ),
                ));
                continue;
            }
            self.blob_files.remove(&file_number);
            self.obsolete.insert(file_number);
        }
    }

    /// Adds the blob files `edit` adds (after its keyspace changes, before its
    /// segments): each of a live keyspace, its number neither live nor dead.
    fn add_blob_files(&mut self, edit: &VersionEdit, offset: u64, violations: &mut Vec<Error>) {
        for b in &edit.added_blob_files {
            let why = if !self.keyspaces.contains_key(&b.keyspace) {
                Some(format!(
                    "edit adds blob file {} to keyspace {}, which is not live",
                    b.file_number, b.keyspace
                ))
            } else if self.blob_files.contains_key(&b.file_number)
                || self.live.contains_key(&b.file_number)
            {
                Some(format!(
                    "edit adds blob file {}, a number already live",
                    b.file_number
                ))
            } else if self.obsolete.contains(&b.file_number) {
                Some(format!(
                    "edit adds blob file {}, which an earlier edit recorded dead",
                    b.file_number
                ))
            } else {
                None
            };
            match why {
                Some(why) => violations.push(Error::corruption(offset, why)),
                None => {
                    self.blob_files.insert(b.file_number, b.clone());
                }
            }
        }
    }

    /// Drops, then creates, the keyspaces `edit` names (after its deletions, before
    /// its additions).
    fn apply_keyspaces(&mut self, edit: &VersionEdit, offset: u64, violations: &mut Vec<Error>) {
        for &id in &edit.dropped_keyspaces {
            if id == DEFAULT_KEYSPACE {
                violations.push(Error::corruption(
                    offset,
                    "edit drops keyspace 0, which cannot be dropped",
                ));
                continue;
            }
            if !self.keyspaces.contains_key(&id) {
                violations.push(Error::corruption(
                    offset,
                    format!("edit drops keyspace {id}, which is not live"),
                ));
                continue;
            }
            // Crash safety: the drop and the deletion of every segment of the
            // keyspace are one record, so no state has the one without the other.
            let left = self.live.values().filter(|&&(k, _)| k == id).count();
            if left > 0 {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit drops keyspace {id} but leaves {left} of its segments live (the \
                         same edit must delete them)"
                    ),
                ));
                continue;
            }
            let blobs = self.blob_files_of(id).count();
            if blobs > 0 {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit drops keyspace {id} but leaves {blobs} of its blob files live (the \
                         same edit must delete them)"
                    ),
                ));
                continue;
            }
            self.keyspaces.remove(&id);
        }
        for (id, name) in &edit.added_keyspaces {
            let id = *id;
            if id == DEFAULT_KEYSPACE || id < self.next_keyspace_id {
                violations.push(Error::corruption(
                    offset,
                    format!(
                        "edit creates keyspace {id}, below next_keyspace_id {} (ids are never \
                         reused; 0 exists from the start)",
                        self.next_keyspace_id
                    ),
                ));
                continue;
            }
            if let Some(other) = self.keyspace_named(name) {
                violations.push(Error::corruption(
                    offset,
                    format!("edit creates keyspace {id} named {name:?}, the name of live keyspace {other}"),
                ));
                continue;
            }
            self.keyspaces.insert(
                id,
                KeyspaceMeta {
                    name: name.clone(),
                    log_number: 0,
                },
            );
            self.next_keyspace_id = id.saturating_add(1);
        }
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
    /// counters (`next_keyspace_id` included), every live keyspace but 0 (by id),
    /// every keyspace log number recorded, every file still recorded dead, every
    /// live blob file, and every live segment (with its blob references), level by
    /// level in insertion order.
    pub fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            format_version: Some(FORMAT_VERSION),
            log_number: Some(self.log_number),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            next_keyspace_id: Some(self.next_keyspace_id),
            added_keyspaces: self
                .keyspaces
                .iter()
                .filter(|(&id, _)| id != DEFAULT_KEYSPACE)
                .map(|(&id, k)| (id, k.name.clone()))
                .collect(),
            dropped_keyspaces: Vec::new(),
            keyspace_log_numbers: self
                .keyspaces
                .iter()
                .filter(|(_, k)| k.log_number != 0)
                .map(|(&id, k)| (id, k.log_number))
                .collect(),
            deleted_segments: Vec::new(),
            added_blob_files: self.blob_files.values().cloned().collect(),
            deleted_blob_files: Vec::new(),
            obsolete_segments: self.obsolete.iter().copied().collect(),
            added_segments: (0u32..)
                .zip(&self.levels)
                .flat_map(|(level, files)| files.iter().map(move |m| (level, m.clone())))
                .collect(),
        }
    }
}
