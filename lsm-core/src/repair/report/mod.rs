//! What a repair found and did: [`RepairReport`], one [`FileFinding`] per file that
//! was damaged, missing or set aside, and exactly what was lost (key ranges and entry
//! counts of segments, the key ranges of lost range deletes, sequence numbers of WAL
//! records).

mod text;

use bytes::Bytes;

/// The outcome of [`repair`](crate::repair()) or [`repair_dry_run`](crate::repair_dry_run):
/// what was found, what was (or, in a dry run, would be) done, and what was lost.
///
/// `Display` prints it as text, one line per finding (the `lsm-repair` tool's output);
/// with the `serde` feature it is `Serialize` (its `--json` output).
///
/// # Examples
///
/// ```
/// use lsm_core::{repair, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// Db::open(dir.path(), Options::default())?.close()?;
/// let report = repair(dir.path(), Options::default())?;
/// assert!(report.nothing_to_repair());
/// assert!(!report.lost_anything());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RepairReport {
    /// True when nothing was changed because this was a dry run: the report says
    /// what a repair would do.
    pub dry_run: bool,
    /// True when the directory was (or would be) rewritten: a new manifest, and
    /// damaged files moved into `lost/`. False when the database needed no repair.
    pub rebuilt: bool,
    /// What the manifest was found to be.
    pub manifest: ManifestFinding,
    /// Every segment or WAL file that was damaged, missing, unlisted or set aside,
    /// in file-name order.
    pub files: Vec<FileFinding>,
    /// Segments the manifest listed that verified and were kept as they are.
    pub kept_segments: usize,
    /// Segments written by the repair (salvaged blocks and restored entries), by
    /// name.
    pub new_segments: Vec<String>,
    /// Entries written to new level-0 segments from WALs and from segments the
    /// manifest did not list (only those newer than every other version of their
    /// key).
    pub restored_entries: u64,
    /// Range tombstones (range deletes) written to the new level-0 segments from
    /// WALs and from segments the manifest did not list: those no kept segment
    /// holds. Left out of the JSON output when 0.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "is_zero"))]
    pub restored_range_tombstones: u64,
    /// The last sequence number of the repaired database.
    pub last_sequence: u64,
}

/// The state of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "state"))]
#[non_exhaustive]
pub enum ManifestFinding {
    /// Every record read and followed the rules (a torn final record, which a crash
    /// leaves, counts as sound).
    Sound,
    /// Damaged or breaking a rule: the state of the records before the damage was
    /// used (`records_used` of them; 0 when nothing was readable, and the files were
    /// judged by their contents alone). The old file is kept in `lost/`.
    Damaged {
        /// The first thing wrong with it.
        problem: String,
        /// Records whose state was used.
        records_used: u64,
    },
    /// There was no manifest: the files were judged by their contents alone.
    Missing,
}

/// What a file was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum FileStatus {
    /// Partly readable: every block (or record) that verified was kept.
    Damaged,
    /// Nothing in it could be located (its footer or index, or its header, is
    /// damaged, or it is truncated).
    Unreadable,
    /// The manifest lists it (or, for a WAL, names it as the oldest live one) but the
    /// directory lacks it.
    Missing,
    /// Not listed by the manifest, and every entry in it is held by a newer or equal
    /// version elsewhere: set aside, nothing lost.
    Redundant,
    /// Not listed by the manifest, holding entries found nowhere else: those were
    /// restored.
    Restored,
}

/// One file a repair found damaged, missing or not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FileFinding {
    /// Its name in the database directory (`NNNNNN.seg`, `NNNNNN.wal`).
    pub file: String,
    /// The level the manifest lists it at (segments the manifest lists only).
    pub level: Option<u32>,
    /// What it was found to be.
    pub status: FileStatus,
    /// What is wrong with it, or why it was set aside.
    pub detail: String,
    /// Where it was (or would be) moved: `lost/NAME`. `None` for a missing file and
    /// for a WAL kept for open to remove.
    pub moved_to: Option<String>,
    /// Entries (segment) or operations (WAL) read from it and kept.
    pub salvaged_entries: u64,
    /// What was lost with it, if anything.
    pub lost: Loss,
}

/// What was lost with one file. Empty ([`Loss::is_empty`]) when nothing was; the
/// default is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Loss {
    /// User-key ranges (both ends included) of the unreadable blocks: from the index
    /// entry before each block to its own. A key outside them lost nothing.
    pub key_ranges: Vec<KeyRange>,
    /// True when not even the keys can be told (an unlisted segment whose index is
    /// unreadable, or whose range-tombstone block and properties both are): any key
    /// may have lost its newest version.
    pub keys_unknown: bool,
    /// Entries (or WAL operations) lost; `None` when the number cannot be told.
    pub entries: Option<u64>,
    /// Sequence numbers of dropped WAL records (or of a missing WAL). A dropped
    /// record may have held a range delete, whose keys cannot be told.
    pub sequences: Vec<SeqRange>,
    /// Key ranges over which range deletes were lost (a segment whose
    /// range-tombstone block is damaged: its whole key range). A key there that a
    /// range delete had deleted may read an older value again; its other versions
    /// are as the rest of the report says. Left out of the JSON output when empty.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub range_deletes: Vec<KeyRange>,
}

impl Default for Loss {
    fn default() -> Self {
        Loss {
            key_ranges: Vec::new(),
            keys_unknown: false,
            entries: Some(0),
            sequences: Vec::new(),
            range_deletes: Vec::new(),
        }
    }
}

impl Loss {
    /// True when nothing was lost.
    ///
    /// ```
    /// assert!(lsm_core::repair::Loss::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.key_ranges.is_empty()
            && !self.keys_unknown
            && self.entries.unwrap_or(1) == 0
            && self.sequences.is_empty()
            && self.range_deletes.is_empty()
    }

    /// True when a version of `key` (at sequence number `seq`, if known) may be
    /// among what was lost.
    ///
    /// ```
    /// use lsm_core::repair::{KeyRange, Loss};
    ///
    /// let mut loss = Loss::default();
    /// loss.key_ranges.push(KeyRange::new("b", "d"));
    /// assert!(loss.covers(b"c", None));
    /// assert!(!loss.covers(b"e", None));
    /// ```
    pub fn covers(&self, key: &[u8], seq: Option<u64>) -> bool {
        self.keys_unknown
            || self.key_ranges.iter().any(|r| r.contains(key))
            || self.range_deletes.iter().any(|r| r.contains(key))
            || seq.is_some_and(|s| self.sequences.iter().any(|r| r.contains(s)))
    }
}

/// User keys from `first` to `last`, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct KeyRange {
    /// Smallest key of the range.
    #[cfg_attr(feature = "serde", serde(serialize_with = "key_text"))]
    pub first: Bytes,
    /// Largest key of the range.
    #[cfg_attr(feature = "serde", serde(serialize_with = "key_text"))]
    pub last: Bytes,
}

impl KeyRange {
    /// The keys from `first` to `last`, both included.
    ///
    /// ```
    /// let r = lsm_core::repair::KeyRange::new("a", "c");
    /// assert!(r.contains(b"b"));
    /// ```
    pub fn new(first: impl Into<Bytes>, last: impl Into<Bytes>) -> Self {
        KeyRange {
            first: first.into(),
            last: last.into(),
        }
    }

    /// True when `key` lies in the range.
    ///
    /// ```
    /// let r = lsm_core::repair::KeyRange::new("a", "c");
    /// assert!(r.contains(b"c") && !r.contains(b"d"));
    /// ```
    pub fn contains(&self, key: &[u8]) -> bool {
        self.first.as_ref() <= key && key <= self.last.as_ref()
    }
}

/// Sequence numbers from `first` to `last` (both included); `last` is `None` when
/// the range runs to an end that cannot be told (the rest of a WAL whose tail is
/// unreadable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SeqRange {
    /// First sequence number dropped.
    pub first: u64,
    /// Last one dropped, when known.
    pub last: Option<u64>,
}

impl SeqRange {
    /// The sequence numbers from `first` to `last` (open-ended when `None`).
    ///
    /// ```
    /// let r = lsm_core::repair::SeqRange::new(5, None);
    /// assert!(r.contains(1_000) && !r.contains(4));
    /// ```
    pub fn new(first: u64, last: Option<u64>) -> Self {
        SeqRange { first, last }
    }

    /// True when `seq` lies in the range.
    ///
    /// ```
    /// let r = lsm_core::repair::SeqRange::new(5, Some(7));
    /// assert!(r.contains(7) && !r.contains(8));
    /// ```
    pub fn contains(&self, seq: u64) -> bool {
        seq >= self.first && self.last.is_none_or(|l| seq <= l)
    }

    /// How many sequence numbers it holds, when known.
    ///
    /// ```
    /// assert_eq!(lsm_core::repair::SeqRange::new(5, Some(7)).len(), Some(3));
    /// ```
    #[allow(
        clippy::len_without_is_empty,
        reason = "a range holds at least one number"
    )]
    pub fn len(&self) -> Option<u64> {
        self.last.map(|l| l.saturating_sub(self.first) + 1)
    }
}

impl RepairReport {
    /// True when something may have been lost: some file's [`Loss`] is not empty.
    ///
    /// ```
    /// assert!(!lsm_core::RepairReport::default().lost_anything());
    /// ```
    pub fn lost_anything(&self) -> bool {
        self.files.iter().any(|f| !f.lost.is_empty()) || self.judged_by_contents_alone()
    }

    /// True when no manifest state was available (the manifest was missing, or none
    /// of its records could be read), so the segments were judged by their contents
    /// alone. Then a segment a compaction had already retired, if it was still on
    /// disk, cannot be told from a live one: a key deleted before that compaction
    /// may read an older value again. Every key is then reported as possibly
    /// affected ([`may_have_lost`](Self::may_have_lost)), and
    /// [`lost_anything`](Self::lost_anything) is true.
    ///
    /// ```
    /// assert!(!lsm_core::RepairReport::default().judged_by_contents_alone());
    /// ```
    pub fn judged_by_contents_alone(&self) -> bool {
        matches!(
            self.manifest,
            ManifestFinding::Missing
                | ManifestFinding::Damaged {
                    records_used: 0,
                    ..
                }
        )
    }

    /// True when the database needed no repair and nothing was found amiss.
    ///
    /// ```
    /// assert!(lsm_core::RepairReport::default().nothing_to_repair());
    /// ```
    pub fn nothing_to_repair(&self) -> bool {
        !self.rebuilt && self.files.is_empty() && self.manifest == ManifestFinding::Sound
    }

    /// True when a version of `key` (written at sequence number `seq`, if known) may
    /// be among what was lost: it lies in a key range or sequence range some finding
    /// names. A key for which this is false kept its newest version.
    ///
    /// ```
    /// assert!(!lsm_core::RepairReport::default().may_have_lost(b"k", Some(3)));
    /// ```
    pub fn may_have_lost(&self, key: &[u8], seq: Option<u64>) -> bool {
        self.judged_by_contents_alone() || self.files.iter().any(|f| f.lost.covers(key, seq))
    }
}

impl Default for RepairReport {
    fn default() -> Self {
        RepairReport {
            dry_run: false,
            rebuilt: false,
            manifest: ManifestFinding::Sound,
            files: Vec::new(),
            kept_segments: 0,
            new_segments: Vec::new(),
            restored_entries: 0,
            restored_range_tombstones: 0,
            last_sequence: 0,
        }
    }
}

impl FileFinding {
    pub(crate) fn new(file: String, status: FileStatus, detail: String) -> Self {
        FileFinding {
            file,
            level: None,
            status,
            detail,
            moved_to: None,
            salvaged_entries: 0,
            lost: Loss::default(),
        }
    }
}

/// `key` as text: printable ASCII as is, other bytes as `\xNN`, in quotes.
pub(crate) fn show_key(key: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in key {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(feature = "serde")]
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(feature = "serde")]
fn key_text<S: serde::Serializer>(key: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    let text = show_key(key);
    s.serialize_str(text.get(1..text.len() - 1).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(status: FileStatus, lost: Loss) -> FileFinding {
        let mut f = FileFinding::new("000007.seg".into(), status, "why".into());
        f.lost = lost;
        f
    }

    #[test]
    fn a_report_loses_something_exactly_when_a_finding_does() {
        let mut report = RepairReport {
            rebuilt: true,
            ..RepairReport::default()
        };
        report
            .files
            .push(finding(FileStatus::Redundant, Loss::default()));
        assert!(!report.lost_anything() && !report.nothing_to_repair());
        assert!(!report.may_have_lost(b"a", Some(1)));
        let unknown = Loss {
            entries: None,
            ..Loss::default()
        };
        report.files.push(finding(FileStatus::Damaged, unknown));
        assert!(report.lost_anything());
        let wal = Loss {
            sequences: vec![SeqRange::new(10, Some(12))],
            entries: Some(3),
            ..Loss::default()
        };
        report.files = vec![finding(FileStatus::Damaged, wal)];
        assert!(report.may_have_lost(b"any", Some(11)));
        assert!(!report.may_have_lost(b"any", Some(13)));
        assert!(!report.may_have_lost(b"any", None));
    }

    #[test]
    fn the_text_names_files_ranges_and_sequences() {
        let mut report = RepairReport {
            rebuilt: true,
            kept_segments: 2,
            new_segments: vec!["000009.seg".into()],
            last_sequence: 40,
            ..RepairReport::default()
        };
        let mut seg = finding(
            FileStatus::Damaged,
            Loss {
                key_ranges: vec![KeyRange::new(&b"a\x01"[..], "c")],
                entries: Some(4),
                ..Loss::default()
            },
        );
        seg.level = Some(1);
        seg.salvaged_entries = 10;
        seg.moved_to = Some("lost/000007.seg".into());
        report.files.push(seg);
        let mut wal = finding(
            FileStatus::Damaged,
            Loss {
                sequences: vec![SeqRange::new(30, None)],
                entries: None,
                ..Loss::default()
            },
        );
        wal.file = "000008.wal".into();
        report.files.push(wal);
        let text = report.to_string();
        assert_eq!(
            text,
            "manifest: sound\n\
             000007.seg (level 1): damaged: why\n  kept: 10 entries\n  \
             lost: 4 entries; keys \"a\\x01\" ..= \"c\"\n  moved to lost/000007.seg\n\
             000008.wal: damaged: why\n  \
             lost: an unknown number of entries; sequence numbers 30 and after\n\
             rebuilt: 2 segment(s) kept, new segments: 000009.seg; 0 entries restored; \
             last sequence 40\n\
             data lost: yes, as listed above\n"
        );
        report.dry_run = true;
        assert!(report
            .to_string()
            .starts_with("dry run: nothing was changed"));
        assert!(report.to_string().contains("would move to lost/000007.seg"));
    }

    #[test]
    fn lost_range_deletes_cover_their_keys_and_are_printed() {
        let mut seg = finding(
            FileStatus::Damaged,
            Loss {
                range_deletes: vec![KeyRange::new("b", "m")],
                ..Loss::default()
            },
        );
        seg.level = Some(0);
        let mut report = RepairReport {
            rebuilt: true,
            restored_range_tombstones: 2,
            last_sequence: 9,
            ..RepairReport::default()
        };
        report.files.push(seg);
        assert!(report.lost_anything());
        assert!(report.may_have_lost(b"c", None) && !report.may_have_lost(b"n", None));
        let text = report.to_string();
        assert!(
            text.contains(
                "lost: 0 entries; range deletes over keys \"b\" ..= \"m\" (a key they \
                 deleted may read an older value)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("0 entries, 2 range tombstones restored; last sequence 9"),
            "{text}"
        );
    }

    #[test]
    fn nothing_to_repair_says_so() {
        assert_eq!(
            RepairReport::default().to_string(),
            "manifest: sound\nnothing to repair\n"
        );
    }
}
