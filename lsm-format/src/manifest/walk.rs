//! Walking a whole manifest file: leniently (every violation collected) or strictly
//! (the engine's replay).

use super::{ManifestState, VersionEdit};
use crate::error::{Error, Result};
use crate::log::{read_log, LogDamageKind, LOG_HEADER_LEN};
use crate::{FORMAT_VERSION, MIN_FORMAT_VERSION};

/// One record of a manifest, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedRecord {
    /// File offset of the record's header.
    pub offset: u64,
    /// The edit it holds (an empty one for a commit marker).
    pub edit: VersionEdit,
}

/// Where the log walk of a manifest stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkDamage {
    /// Offset where the unreadable part starts.
    pub offset: u64,
    /// Why the walk stopped.
    pub kind: LogDamageKind,
    /// Complete, valid records found after it. None: a torn tail, dropped by the
    /// commit rule of section 6. Any: corruption.
    pub records_after: usize,
}

/// A whole manifest walked leniently: every record that decodes, the state every
/// rule-abiding part of them builds, and every violation of the format's rules, in
/// file order. [`replay_manifest`] is the strict policy over it: the first violation
/// is the error.
#[derive(Debug, Default)]
pub struct ManifestWalk {
    /// The records that decoded, in order; the walk stops at the first that does not.
    pub records: Vec<WalkedRecord>,
    /// What applying them gives, skipping the parts that break a rule.
    pub state: ManifestState,
    /// Where the log itself stopped early, if it did.
    pub damage: Option<WalkDamage>,
    /// Everything wrong, in file order: damage followed by valid records, an
    /// undecodable record, a first record without a readable format version, edits
    /// that break the live-set rules, a file with no complete record.
    pub violations: Vec<Error>,
}

/// Walks a whole manifest file leniently: see [`ManifestWalk`]. Never fails; what is
/// wrong is in [`ManifestWalk::violations`].
///
/// # Examples
///
/// ```
/// use lsm_format::log::LogWriter;
/// use lsm_format::manifest::{walk_manifest, VersionEdit};
///
/// let mut file = Vec::new();
/// let mut log = LogWriter::new(0);
/// for edit in [
///     VersionEdit { format_version: Some(2), log_number: Some(5), ..VersionEdit::default() },
///     VersionEdit { deleted_segments: vec![(0, 9).into()], ..VersionEdit::default() },
/// ] {
///     let mut payload = Vec::new();
///     edit.encode(&mut payload);
///     log.add_record(&payload, &mut file);
/// }
/// let walk = walk_manifest(&file);
/// assert_eq!(walk.records.len(), 2);
/// assert_eq!(walk.state.log_number, 5);
/// // Segment 9 was never live: one violation, and the rest of the edit applied.
/// assert_eq!(walk.violations.len(), 1);
/// assert!(lsm_format::manifest::replay_manifest(&file).is_err());
/// ```
pub fn walk_manifest(data: &[u8]) -> ManifestWalk {
    let mut walk = ManifestWalk::default();
    let log = match read_log(data) {
        Ok(log) => log,
        Err(e) => {
            walk.violations.push(e);
            return walk;
        }
    };
    if let Some(damage) = &log.damage {
        walk.damage = Some(WalkDamage {
            offset: damage.offset,
            kind: damage.kind,
            records_after: damage.records_after.len(),
        });
        if damage.records_after.is_empty() {
            walk.state.torn_tail = Some(damage.offset);
            walk.state.torn_kind = Some(damage.kind);
        } else {
            walk.violations.push(Error::corruption(
                damage.offset,
                format!(
                    "manifest damaged ({:?}) with {} valid records after it",
                    damage.kind,
                    damage.records_after.len()
                ),
            ));
        }
    }
    let mut clean_len = log.clean_len();
    for rec in &log.records {
        let edit = match VersionEdit::decode(&rec.payload, rec.offset + LOG_HEADER_LEN as u64) {
            Ok(edit) => edit,
            Err(e) => {
                walk.violations.push(e);
                clean_len = rec.offset;
                break;
            }
        };
        if walk.state.record_count == 0 {
            match edit.format_version {
                Some(v) if (MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&v) => {}
                Some(found) => walk.violations.push(Error::UnsupportedVersion {
                    found,
                    supported: FORMAT_VERSION,
                }),
                None => walk.violations.push(Error::corruption(
                    rec.offset,
                    "first manifest record has no format_version",
                )),
            }
        }
        let broken = walk.state.apply_lenient(&edit, rec.offset);
        walk.violations.extend(broken);
        walk.records.push(WalkedRecord {
            offset: rec.offset,
            edit,
        });
    }
    if walk.state.record_count == 0 {
        walk.violations
            .push(Error::corruption(0, "manifest holds no complete record"));
    }
    walk.state.clean_len = clean_len;
    walk
}

/// Replays a whole manifest file into the state it describes: the strict policy over
/// [`walk_manifest`], which the engine opens with.
///
/// The first record must carry a `format_version` from [`MIN_FORMAT_VERSION`] to
/// [`FORMAT_VERSION`] (version 1 is version 2 without tag 7). Damage of any kind with
/// no valid record after it is a torn tail: it is dropped and reported in
/// [`ManifestState::torn_tail`] (safe because of the commit rule of section 6: no file
/// is deleted on the strength of a manifest's last record). Empty records (commit
/// markers) replay as empty edits.
///
/// # Errors
/// The first of the walk's violations: `Corruption` with the offset for damage
/// followed by a valid record, an undecodable edit, an edit that breaks the live-set
/// rules, or a file with no complete record; `UnsupportedVersion` when the first
/// record names another format version.
pub fn replay_manifest(data: &[u8]) -> Result<ManifestState> {
    let walk = walk_manifest(data);
    match walk.violations.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(walk.state),
    }
}
