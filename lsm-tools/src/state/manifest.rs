//! Replaying a manifest (`docs/format.md` section 6) the way a tool needs it: every
//! edit kept with its offset for dumps, the resulting live segments per level, and
//! every inconsistency collected as a [`Problem`] instead of stopping at the first.
//!
//! The engine's replay refuses a bad manifest outright; a tool wants to show as much
//! as it can and name everything that is wrong. Both are policies over the format's
//! one walk, `lsm_format::manifest::walk_manifest`.

use lsm_format::log::LogDamageKind;
use std::collections::BTreeMap;

use lsm_format::manifest::{
    walk_manifest, BlobFileMeta, BlobUse, KeyspaceMeta, SegmentMeta, VersionEdit,
};

use crate::problem::Problem;

/// One decoded record of the manifest.
#[derive(Debug, Clone)]
pub struct ManifestEdit {
    /// File offset of the record.
    pub offset: u64,
    /// The decoded edit.
    pub edit: VersionEdit,
}

/// The state a manifest describes, plus what was wrong with it.
#[derive(Debug, Clone, Default)]
pub struct ManifestState {
    /// Every record that decoded, in order (replay stops at the first that does not).
    pub edits: Vec<ManifestEdit>,
    /// Live segments: index is the level. Level 0 is sorted by file number (oldest
    /// first), deeper levels by smallest key.
    pub levels: Vec<Vec<SegmentMeta>>,
    /// `format_version` of the first record.
    pub format_version: Option<u32>,
    /// WAL files numbered below this are obsolete.
    pub log_number: u64,
    /// Next file number the engine would allocate.
    pub next_file_number: u64,
    /// Last sequence number recorded.
    pub last_sequence: u64,
    /// The live keyspaces by id (keyspace 0, `default`, always).
    pub keyspaces: BTreeMap<u32, KeyspaceMeta>,
    /// The id the next keyspace created would get.
    pub next_keyspace_id: u32,
    /// A torn tail that was ignored: offset and why (not a problem: the last record
    /// was being written when the writer stopped).
    pub torn_tail: Option<(u64, LogDamageKind)>,
    /// The first damage met by the log walk, torn tail or not.
    pub damage: Option<Damage>,
    /// Corruption and inconsistencies found.
    pub problems: Vec<Problem>,
    /// The live blob files, by file number (manifest format 4).
    pub blob_files: BTreeMap<u64, BlobFileMeta>,
    /// How the live segments point into each live blob file, as their recorded
    /// blob references say (`lsm_format::manifest::ManifestState::blob_use`; all
    /// zero for a file no live segment points into).
    pub blob_uses: BTreeMap<u64, BlobUse>,
}

/// Damage met while walking a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damage {
    /// Where the unreadable part starts.
    pub offset: u64,
    /// Why the walk stopped.
    pub kind: LogDamageKind,
    /// Valid records found after it.
    pub records_after: usize,
}

impl ManifestState {
    /// Every live segment with its level, level by level.
    pub fn live(&self) -> impl Iterator<Item = (usize, &SegmentMeta)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, segs)| segs.iter().map(move |s| (l, s)))
    }

    /// Number of live segments.
    pub fn live_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// How the live segments point into live blob file `number` (all zero when
    /// none does, or the file is not live).
    pub fn blob_use(&self, number: u64) -> BlobUse {
        self.blob_uses.get(&number).copied().unwrap_or_default()
    }
}

/// Replays the manifest bytes `data`; `file` names it in problems. The walk and its
/// rules are the format's (`lsm_format::manifest::walk_manifest`, the same walk the
/// engine's strict replay is a policy over); this only arranges the result for
/// display.
pub fn replay(data: &[u8], file: &str) -> ManifestState {
    let walk = walk_manifest(data);
    let torn_tail = walk
        .damage
        .filter(|d| d.records_after == 0)
        .map(|d| (d.offset, d.kind));
    let levels = walk
        .state
        .levels
        .iter()
        .enumerate()
        .map(|(level, segs)| {
            let mut segs = segs.clone();
            if level == 0 {
                segs.sort_by_key(|s| s.file_number);
            } else {
                segs.sort_by(|a, b| a.smallest_key.cmp(&b.smallest_key));
            }
            segs
        })
        .collect::<Vec<_>>();
    let blob_uses = walk
        .state
        .blob_files
        .keys()
        .map(|&n| (n, walk.state.blob_use(n)))
        .collect();
    let mut state = ManifestState {
        blob_files: walk.state.blob_files.clone(),
        blob_uses,
        format_version: walk.records.first().and_then(|r| r.edit.format_version),
        log_number: walk.state.log_number,
        next_file_number: walk.state.next_file_number,
        last_sequence: walk.state.last_sequence,
        keyspaces: walk.state.keyspaces.clone(),
        next_keyspace_id: walk.state.next_keyspace_id,
        torn_tail,
        damage: walk.damage.map(|d| Damage {
            offset: d.offset,
            kind: d.kind,
            records_after: d.records_after,
        }),
        problems: walk
            .violations
            .iter()
            .map(|e| Problem::from_format(file, e))
            .collect(),
        edits: walk
            .records
            .into_iter()
            .map(|r| ManifestEdit {
                offset: r.offset,
                edit: r.edit,
            })
            .collect(),
        levels,
    };
    while state.levels.last().is_some_and(Vec::is_empty) {
        state.levels.pop();
    }
    state
}
