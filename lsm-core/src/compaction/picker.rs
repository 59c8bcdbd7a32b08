//! Compaction policy: a pure function of an immutable version (plus the
//! round-robin pointers), so it can be tested on metadata alone.
//!
//! Leveled policy, over the targets and the base level of
//! [`LevelTargets`](super::level_targets) (static or dynamic sizing):
//! - level 0 (overlapping flush outputs) is compacted into the base level when it
//!   holds `level0_compaction_trigger` files: every level-0 file plus the
//!   base-level files they overlap (the levels between are empty);
//! - a level `n >= 1` above the last is compacted when its bytes exceed its target,
//!   or when it is a level the shape has no room for (drained with priority): one
//!   file, the first that is mostly deletes if any, else chosen round-robin by key
//!   (after the previous pick's largest key), plus the files of level `n + 1` it
//!   overlaps;
//! - the level with the highest score (size over target, or file count over trigger
//!   for level 0) goes first; a score below 1 means nothing to do;
//! - a single input file with nothing to merge with below is moved, not rewritten.
//!
//! Because levels >= 1 never split a user key between files, the overlapping files
//! of the next level are exactly the ones whose range meets the inputs' range, and
//! the output cannot overlap the files left out.

use std::sync::Arc;

use lsm_format::manifest::{SegmentMeta, MAX_LEVELS};

use super::level_targets::{LevelTargets, DRAIN_SCORE};
use crate::segment::file::SegmentFile;

/// What the picker needs to know about a file.
pub(crate) trait FileInfo: Clone {
    fn size(&self) -> u64;
    fn smallest(&self) -> &[u8];
    fn largest(&self) -> &[u8];
    /// Whether the file is mostly deletes: it holds a range tombstone, or at least
    /// half its entries are tombstones.
    fn mostly_deletes(&self) -> bool;
}

/// True when at least half of `entries` are `tombstones` (and there is one).
fn tombstone_heavy(tombstones: u64, entries: u64) -> bool {
    tombstones > 0 && tombstones * 2 >= entries
}

impl FileInfo for Arc<SegmentFile> {
    fn size(&self) -> u64 {
        self.meta.file_size
    }
    fn smallest(&self) -> &[u8] {
        &self.meta.smallest_key
    }
    fn largest(&self) -> &[u8] {
        &self.meta.largest_key
    }
    fn mostly_deletes(&self) -> bool {
        !self.reader.range_tombstones().is_empty()
            || tombstone_heavy(self.meta.tombstone_count, self.meta.entry_count)
    }
}

impl FileInfo for SegmentMeta {
    fn size(&self) -> u64 {
        self.file_size
    }
    fn smallest(&self) -> &[u8] {
        &self.smallest_key
    }
    fn largest(&self) -> &[u8] {
        &self.largest_key
    }
    fn mostly_deletes(&self) -> bool {
        tombstone_heavy(self.tombstone_count, self.entry_count)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PickerConfig {
    pub level0_trigger: usize,
    pub level1_size: u64,
    pub multiplier: u64,
    /// Level targets derived from the bottom (`Options::dynamic_level_bytes`).
    pub dynamic_level_bytes: bool,
}

impl PickerConfig {
    /// The configuration `opts` asks for.
    pub fn from_options(opts: &crate::options::Options) -> Self {
        PickerConfig {
            level0_trigger: opts.level0_compaction_trigger,
            level1_size: opts.level1_size,
            multiplier: opts.level_size_multiplier as u64,
            dynamic_level_bytes: opts.dynamic_level_bytes,
        }
    }
}

/// A compaction to run: merge `inputs` (per level) into `output_level`.
#[derive(Debug, Clone)]
pub(crate) struct Task<F> {
    pub inputs: Vec<(usize, Vec<F>)>,
    pub output_level: usize,
    /// One file, nothing to merge with: re-file it in `output_level` unchanged.
    pub trivial_move: bool,
    /// Requested by `Db::compact`: everything into one level.
    pub manual: bool,
}

impl<F: FileInfo> Task<F> {
    pub fn input_count(&self) -> usize {
        self.inputs.iter().map(|(_, f)| f.len()).sum()
    }

    pub fn input_bytes(&self) -> u64 {
        self.inputs
            .iter()
            .flat_map(|(_, f)| f.iter())
            .map(|f| f.size())
            .sum()
    }
}

/// The last level there is: never compacted further.
pub(crate) const LAST_LEVEL: usize = MAX_LEVELS - 1;

pub(crate) fn overlapping<F: FileInfo>(files: &[F], smallest: &[u8], largest: &[u8]) -> Vec<F> {
    files
        .iter()
        .filter(|f| f.largest() >= smallest && f.smallest() <= largest)
        .cloned()
        .collect()
}

pub(crate) fn range<F: FileInfo>(files: &[F]) -> Option<(&[u8], &[u8])> {
    let smallest = files.iter().map(|f| f.smallest()).min()?;
    let largest = files.iter().map(|f| f.largest()).max()?;
    Some((smallest, largest))
}

/// The level that needs compaction most and its score (size over target, or file
/// count over trigger for level 0; at least [`DRAIN_SCORE`] for a non-empty level
/// the shape has no room for): the tree's need of compaction, which is pressing
/// from 1 on. The background thread compacts the keyspace of the highest score
/// first.
pub(crate) fn neediest_level<F: FileInfo>(levels: &[Vec<F>], cfg: &PickerConfig) -> (usize, f64) {
    neediest_with(levels, cfg, &LevelTargets::of(levels, cfg))
}

fn neediest_with<F: FileInfo>(
    levels: &[Vec<F>],
    cfg: &PickerConfig,
    targets: &LevelTargets,
) -> (usize, f64) {
    let level0 = levels.first().map_or(0, Vec::len);
    let mut best = (0usize, level0 as f64 / cfg.level0_trigger.max(1) as f64);
    for (n, files) in levels.iter().enumerate().take(targets.last).skip(1) {
        let bytes: u64 = files.iter().map(|f| f.size()).sum();
        if bytes == 0 {
            continue;
        }
        let target = targets.target(n);
        // A level without a target (above the base level) holds nothing by
        // construction; if it ever did, it would be drained like an unnecessary one.
        let score = if target == 0 {
            DRAIN_SCORE
        } else if targets.must_drain(n) {
            (bytes as f64 / target as f64).max(DRAIN_SCORE)
        } else {
            bytes as f64 / target as f64
        };
        if score > best.1 {
            best = (n, score);
        }
    }
    best
}

/// The compaction the tree needs most, if any. `pointers[n]` is the largest key of
/// the previous pick at level `n`; the caller updates it from the returned task.
pub(crate) fn pick<F: FileInfo>(
    levels: &[Vec<F>],
    cfg: &PickerConfig,
    pointers: &[Option<Vec<u8>>],
) -> Option<Task<F>> {
    let targets = LevelTargets::of(levels, cfg);
    let (level, score) = neediest_with(levels, cfg, &targets);
    if score < 1.0 {
        return pick_for_deletes(levels);
    }
    let output_level = if level == 0 { targets.base } else { level + 1 };
    debug_assert!(
        levels
            .iter()
            .take(output_level)
            .skip(level + 1)
            .all(Vec::is_empty),
        "no level between a compaction's input and output level holds data"
    );
    let empty = Vec::new();
    let next = levels.get(output_level).unwrap_or(&empty);
    let inputs: Vec<F> = if level == 0 {
        levels.first()?.clone()
    } else {
        let files = levels.get(level)?;
        let after = pointers.get(level).and_then(|p| p.as_deref());
        // A file that is mostly deletes goes first: merged down, it frees the
        // space of what it deletes there; round-robin otherwise.
        let chosen = files
            .iter()
            .find(|f| f.mostly_deletes())
            .or_else(|| after.and_then(|p| files.iter().find(|f| f.smallest() > p)))
            .or_else(|| files.first())?;
        vec![chosen.clone()]
    };
    let (smallest, largest) = range(&inputs)?;
    let below = overlapping(next, smallest, largest);
    let trivial_move = inputs.len() == 1 && below.is_empty();
    Some(Task {
        inputs: vec![(level, inputs), (output_level, below)],
        output_level,
        trivial_move,
        manual: false,
    })
}

/// When no level is over its size: the shallowest file of a level above the
/// deepest non-empty one that is mostly deletes, with the files below it overlaps.
/// Pushing deletes down is what frees the space of the versions they hide (the
/// versions are dropped where a delete meets them, and the deletes themselves at
/// the bottom); without this, a tree that stops growing keeps them for ever. Each
/// such compaction moves the deletes one level deeper, so it ends at the bottom.
fn pick_for_deletes<F: FileInfo>(levels: &[Vec<F>]) -> Option<Task<F>> {
    let deepest = levels.iter().rposition(|l| !l.is_empty())?;
    for level in 1..deepest {
        let files = levels.get(level)?;
        if let Some(file) = files.iter().find(|f| f.mostly_deletes()) {
            let below = levels.get(level + 1).map_or_else(Vec::new, |next| {
                overlapping(next, file.smallest(), file.largest())
            });
            return Some(Task {
                trivial_move: below.is_empty(),
                inputs: vec![(level, vec![file.clone()]), (level + 1, below)],
                output_level: level + 1,
                manual: false,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn f(number: u64, smallest: &str, largest: &str, size: u64) -> SegmentMeta {
        with_tombstones(number, smallest, largest, size, 0)
    }

    fn with_tombstones(
        number: u64,
        smallest: &str,
        largest: &str,
        size: u64,
        tombstones: u64,
    ) -> SegmentMeta {
        SegmentMeta {
            keyspace: 0,
            file_number: number,
            file_size: size,
            smallest_key: Bytes::copy_from_slice(smallest.as_bytes()),
            largest_key: Bytes::copy_from_slice(largest.as_bytes()),
            smallest_seq: 1,
            largest_seq: 1,
            entry_count: 10,
            tombstone_count: tombstones,
            blob_refs: Vec::new(),
        }
    }

    fn cfg() -> PickerConfig {
        PickerConfig {
            level0_trigger: 2,
            level1_size: 1000,
            multiplier: 10,
            dynamic_level_bytes: false,
        }
    }

    fn dynamic() -> PickerConfig {
        PickerConfig {
            dynamic_level_bytes: true,
            ..cfg()
        }
    }

    fn numbers(files: &[SegmentMeta]) -> Vec<u64> {
        files.iter().map(|m| m.file_number).collect()
    }

    fn levels(v: Vec<Vec<SegmentMeta>>) -> Vec<Vec<SegmentMeta>> {
        let mut v = v;
        v.resize(MAX_LEVELS, Vec::new());
        v
    }

    #[test]
    fn nothing_to_do_below_every_threshold() {
        let l = levels(vec![vec![f(1, "a", "z", 10)], vec![f(2, "a", "m", 900)]]);
        assert!(pick(&l, &cfg(), &[]).is_none());
        assert!(pick::<SegmentMeta>(&levels(vec![]), &cfg(), &[]).is_none());
    }

    #[test]
    fn level0_takes_all_its_files_and_the_overlapping_level1_files() {
        let l = levels(vec![
            vec![f(5, "c", "f", 10), f(4, "e", "h", 10)],
            vec![
                f(1, "a", "b", 10),
                f(2, "d", "g", 10),
                f(3, "h", "k", 10),
                f(6, "x", "z", 10),
            ],
        ]);
        let t = pick(&l, &cfg(), &[]).unwrap();
        assert_eq!(t.output_level, 1);
        assert_eq!(numbers(&t.inputs[0].1), vec![5, 4]);
        assert_eq!(numbers(&t.inputs[1].1), vec![2, 3]);
        assert!(!t.trivial_move);
        assert_eq!(t.input_count(), 4);
        assert_eq!(t.input_bytes(), 40);
    }

    #[test]
    fn an_oversized_level_gives_one_file_round_robin() {
        let l = levels(vec![
            vec![],
            vec![
                f(1, "a", "c", 600),
                f(2, "d", "f", 600),
                f(3, "g", "i", 600),
            ],
            vec![f(7, "e", "e", 10)],
        ]);
        let t = pick(&l, &cfg(), &[]).unwrap();
        assert_eq!((t.inputs[0].0, numbers(&t.inputs[0].1)), (1, vec![1]));
        assert!(t.trivial_move, "nothing below overlaps a..c");
        let pointers = vec![None, Some(b"c".to_vec())];
        let t = pick(&l, &cfg(), &pointers).unwrap();
        assert_eq!(numbers(&t.inputs[0].1), vec![2]);
        assert_eq!(numbers(&t.inputs[1].1), vec![7]);
        assert!(!t.trivial_move);
        // Past the last file the pointer wraps around.
        let pointers = vec![None, Some(b"i".to_vec())];
        assert_eq!(
            numbers(&pick(&l, &cfg(), &pointers).unwrap().inputs[0].1),
            vec![1]
        );
    }

    #[test]
    fn the_highest_score_wins_and_targets_grow_by_the_multiplier() {
        let l = levels(vec![
            vec![f(1, "a", "b", 1), f(2, "a", "b", 1)], // score 1
            vec![f(3, "a", "b", 3000)],                 // score 3
        ]);
        assert_eq!(pick(&l, &cfg(), &[]).unwrap().inputs[0].0, 1);
    }

    #[test]
    fn files_of_deletes_sink_when_no_level_is_over_size() {
        let l = levels(vec![
            vec![],
            vec![f(1, "a", "c", 10), with_tombstones(2, "d", "f", 10, 5)],
            vec![f(3, "e", "e", 10), f(4, "x", "z", 10)],
        ]);
        let t = pick(&l, &cfg(), &[]).unwrap();
        assert_eq!((t.inputs[0].0, numbers(&t.inputs[0].1)), (1, vec![2]));
        assert_eq!(numbers(&t.inputs[1].1), vec![3]);
        assert_eq!(t.output_level, 2);
        // In the deepest level they stay: nothing below to free.
        let l = levels(vec![vec![], vec![with_tombstones(2, "d", "f", 10, 9)]]);
        assert!(pick(&l, &cfg(), &[]).is_none());
        // A few deletes are no reason to compact.
        let l = levels(vec![
            vec![],
            vec![with_tombstones(2, "d", "f", 10, 4)],
            vec![f(4, "x", "z", 10)],
        ]);
        assert!(pick(&l, &cfg(), &[]).is_none());
    }

    #[test]
    fn an_oversized_level_gives_a_file_of_deletes_first() {
        let l = levels(vec![
            vec![],
            vec![
                f(1, "a", "c", 600),
                f(2, "d", "f", 600),
                with_tombstones(3, "g", "i", 600, 9),
            ],
            vec![f(7, "h", "h", 10)],
        ]);
        let t = pick(&l, &cfg(), &[]).unwrap();
        assert_eq!(numbers(&t.inputs[0].1), vec![3]);
        assert_eq!(numbers(&t.inputs[1].1), vec![7]);
    }

    #[test]
    fn dynamic_sizing_sends_level0_to_the_base_level() {
        // An empty tree: straight into the last level.
        let l = levels(vec![vec![f(1, "a", "c", 10), f(2, "b", "d", 10)]]);
        let t = pick(&l, &dynamic(), &[]).unwrap();
        assert_eq!(t.output_level, 6);
        assert_eq!(t.inputs[1].0, 6);
        // 50 000 bytes at the bottom: needs 5000 at level 5, 500 at level 4.
        let mut l = levels(vec![vec![f(1, "a", "c", 10), f(2, "b", "d", 10)]]);
        l[4] = vec![f(3, "a", "b", 400), f(4, "x", "z", 100)];
        l[5] = vec![f(5, "a", "z", 4000)];
        l[6] = vec![f(6, "a", "z", 50_000)];
        let t = pick(&l, &dynamic(), &[]).unwrap();
        assert_eq!(t.output_level, 4);
        assert_eq!((t.inputs[1].0, numbers(&t.inputs[1].1)), (4, vec![3]));
        // The same tree under static sizing: level 4 is far under its target,
        // level 0 goes to level 1 (empty).
        let t = pick(&l, &cfg(), &[]).unwrap();
        assert_eq!(t.output_level, 1);
        assert!(t.inputs[1].1.is_empty());
    }

    #[test]
    fn dynamic_sizing_drains_unnecessary_levels_first() {
        // 9000 bytes at the bottom need 900 at level 5 and nothing above: the
        // 50 bytes of level 1 are drained, one level down at a time, although
        // level 1 is far under any target and level 0 is over its trigger.
        let mut l = levels(vec![vec![
            f(1, "a", "b", 1),
            f(2, "a", "b", 1),
            f(7, "a", "b", 1),
        ]]);
        l[1] = vec![f(3, "c", "d", 50)];
        l[5] = vec![f(4, "a", "z", 900)];
        l[6] = vec![f(5, "a", "z", 9000)];
        let (level, score) = neediest_level(&l, &dynamic());
        assert_eq!((level, score), (1, DRAIN_SCORE));
        let t = pick(&l, &dynamic(), &[]).unwrap();
        assert_eq!((t.inputs[0].0, t.output_level), (1, 2));
        assert!(t.trivial_move);
        // Level 0 at twice its trigger goes first.
        l[0].push(f(8, "a", "b", 1));
        assert_eq!(neediest_level(&l, &dynamic()).0, 0);
        let t = pick(&l, &dynamic(), &[]).unwrap();
        assert_eq!(t.output_level, 1, "never past a level that holds data");
        // Static sizing sees nothing to drain.
        l[0].truncate(1);
        assert!(pick(&l, &cfg(), &[]).is_none());
    }

    #[test]
    fn the_last_level_is_never_compacted_by_size() {
        let mut l = levels(vec![]);
        l[6] = vec![f(1, "a", "z", 10u64.pow(9))];
        assert!(pick(&l, &dynamic(), &[]).is_none());
        // A static tree with files deeper than level 6: the deepest is the last.
        let mut l = levels(vec![]);
        l[8] = vec![f(1, "a", "z", 10u64.pow(9))];
        assert!(pick(&l, &dynamic(), &[]).is_none());
    }
}
