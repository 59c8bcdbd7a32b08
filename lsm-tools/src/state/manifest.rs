//! Replaying a manifest (`docs/format.md` section 6) the way a tool needs it: every
//! edit kept with its offset for dumps, the resulting live segments per level, and
//! every inconsistency collected as a [`Problem`] instead of stopping at the first.
//!
//! The engine has its own replay, which refuses a bad manifest outright; a tool wants
//! to show as much as it can and name everything that is wrong.

use std::collections::BTreeMap;

use lsm_format::log::{read_log, LogDamageKind, LOG_HEADER_LEN};
use lsm_format::manifest::{SegmentMeta, VersionEdit, MAX_LEVELS};

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
    /// A torn tail that was ignored: offset and why (not a problem: the last record
    /// was being written when the writer stopped).
    pub torn_tail: Option<(u64, LogDamageKind)>,
    /// The first damage met by the log walk, torn tail or not.
    pub damage: Option<Damage>,
    /// Corruption and inconsistencies found.
    pub problems: Vec<Problem>,
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
}

/// Replays the manifest bytes `data`; `file` names it in problems.
pub fn replay(data: &[u8], file: &str) -> ManifestState {
    let mut state = ManifestState::default();
    let log = match read_log(data) {
        Ok(log) => log,
        Err(e) => {
            state.problems.push(Problem::from_format(file, &e));
            return state;
        }
    };
    let mut live: Vec<BTreeMap<u64, SegmentMeta>> = vec![BTreeMap::new(); MAX_LEVELS];
    for (i, rec) in log.records.iter().enumerate() {
        let edit = match VersionEdit::decode(&rec.payload, rec.offset + LOG_HEADER_LEN as u64) {
            Ok(edit) => edit,
            Err(e) => {
                state.problems.push(Problem::from_format(file, &e));
                break;
            }
        };
        apply(&mut state, &mut live, i, rec.offset, &edit, file);
        state.edits.push(ManifestEdit {
            offset: rec.offset,
            edit,
        });
    }
    if log.records.is_empty() && log.damage.is_none() {
        state
            .problems
            .push(Problem::file(file, "manifest holds no record"));
    }
    if let Some(damage) = &log.damage {
        state.damage = Some(Damage {
            offset: damage.offset,
            kind: damage.kind,
            records_after: damage.records_after.len(),
        });
        // Section 4/6: damage with no valid record after it is a torn tail (the commit
        // rule makes dropping it safe); damage followed by a valid record is corruption.
        if damage.records_after.is_empty() {
            state.torn_tail = Some((damage.offset, damage.kind));
        } else {
            state.problems.push(Problem::at(
                file,
                damage.offset,
                format!(
                    "damaged record ({:?}) followed by {} that recovery cannot use",
                    damage.kind,
                    crate::display::plural(damage.records_after.len() as u64, "valid record")
                ),
            ));
        }
    }
    state.levels = live
        .into_iter()
        .enumerate()
        .map(|(level, segs)| {
            let mut segs: Vec<SegmentMeta> = segs.into_values().collect();
            if level > 0 {
                segs.sort_by(|a, b| a.smallest_key.cmp(&b.smallest_key));
            }
            segs
        })
        .collect();
    while state.levels.last().is_some_and(Vec::is_empty) {
        state.levels.pop();
    }
    state
}

/// Applies one edit: deletions first, then additions (section 6).
fn apply(
    state: &mut ManifestState,
    live: &mut [BTreeMap<u64, SegmentMeta>],
    index: usize,
    offset: u64,
    edit: &VersionEdit,
    file: &str,
) {
    match (index, edit.format_version) {
        (0, Some(v)) => {
            state.format_version = Some(v);
            if !(lsm_format::MIN_FORMAT_VERSION..=lsm_format::FORMAT_VERSION).contains(&v) {
                state.problems.push(Problem::at(
                    file,
                    offset,
                    format!(
                        "format_version {v}, this build reads {} to {}",
                        lsm_format::MIN_FORMAT_VERSION,
                        lsm_format::FORMAT_VERSION
                    ),
                ));
            }
        }
        (0, None) => state.problems.push(Problem::at(
            file,
            offset,
            "first record has no format_version",
        )),
        (_, Some(_)) => state.problems.push(Problem::at(
            file,
            offset,
            "format_version in a record other than the first",
        )),
        (_, None) => {}
    }
    if let Some(n) = edit.log_number {
        state.log_number = n;
    }
    if let Some(n) = edit.next_file_number {
        state.next_file_number = n;
    }
    if let Some(n) = edit.last_sequence {
        state.last_sequence = n;
    }
    for &(level, number) in &edit.deleted_segments {
        let removed = live.get_mut(level as usize).and_then(|l| l.remove(&number));
        if removed.is_none() {
            state.problems.push(Problem::at(
                file,
                offset,
                format!("deletes segment {number} from level {level}, where it is not live"),
            ));
        }
    }
    for (level, meta) in &edit.added_segments {
        let already = live.iter().position(|l| l.contains_key(&meta.file_number));
        match (already, live.get_mut(*level as usize)) {
            (Some(at), _) => state.problems.push(Problem::at(
                file,
                offset,
                format!(
                    "adds segment {} to level {level}, already live in level {at}",
                    meta.file_number
                ),
            )),
            (None, Some(l)) => {
                l.insert(meta.file_number, meta.clone());
            }
            (None, None) => state.problems.push(Problem::at(
                file,
                offset,
                format!(
                    "adds segment {} to level {level}, beyond the last level",
                    meta.file_number
                ),
            )),
        }
    }
}
