//! Manual compactions: what `Db::compact`, `Db::compact_into` and
//! `Db::compact_range` ask for, turned into a task on the current version.

use super::level_targets::LevelTargets;
use super::picker::{overlapping, range, FileInfo, PickerConfig, Task};

/// A manual compaction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Manual {
    /// Every file into one level: the given one, or the bottom of the tree
    /// ([`LevelTargets::bottom`]: the last level under dynamic sizing, else the
    /// deepest non-empty level, at least 1).
    Full(Option<usize>),
    /// The files that may hold a key of `[start, end)`, and every file their
    /// merge must take with them, into the deepest level among them (at least the
    /// base level).
    Range(Vec<u8>, Vec<u8>),
}

/// The task for `request`, or `None` when there is nothing to compact.
pub(crate) fn pick_manual<F: FileInfo>(
    levels: &[Vec<F>],
    request: &Manual,
    cfg: &PickerConfig,
) -> Option<Task<F>> {
    let targets = LevelTargets::of(levels, cfg);
    match request {
        Manual::Full(target) => pick_full(levels, target.unwrap_or(targets.bottom(levels, cfg))),
        Manual::Range(start, end) => pick_range(levels, start, end, targets.base),
    }
}

/// A full compaction: every file into `target`. Every non-empty level is an
/// input, so the output level may be any level.
fn pick_full<F: FileInfo>(levels: &[Vec<F>], target: usize) -> Option<Task<F>> {
    levels.iter().rposition(|l| !l.is_empty())?;
    Some(Task {
        inputs: levels
            .iter()
            .enumerate()
            .filter(|(_, files)| !files.is_empty())
            .map(|(n, files)| (n, files.clone()))
            .collect(),
        output_level: target,
        trivial_move: false,
        manual: true,
    })
}

/// The files of every level whose range meets `[start, end)`, closed under
/// overlap: a file overlapping what is taken is taken too, until nothing changes.
/// Only then may the merge go to the deepest level taken, or any deeper one: a
/// file left out above it holds no key of the output, so no newer version ends up
/// below an older one, and the files left out of the output level do not overlap
/// the output. It goes at least to the `base` level (level 0's output), so that
/// ranges of level 0 alone take the way of the tree's other level-0 data.
fn pick_range<F: FileInfo>(
    levels: &[Vec<F>],
    start: &[u8],
    end: &[u8],
    base: usize,
) -> Option<Task<F>> {
    let meets = |f: &F| f.smallest() < end && f.largest() >= start;
    let mut taken: Vec<Vec<F>> = levels
        .iter()
        .map(|files| files.iter().filter(|f| meets(f)).cloned().collect())
        .collect();
    loop {
        let all: Vec<F> = taken.iter().flatten().cloned().collect();
        let (lo, hi) = range(&all)?;
        let (lo, hi) = (lo.to_vec(), hi.to_vec());
        let grown: Vec<Vec<F>> = levels
            .iter()
            .map(|files| overlapping(files, &lo, &hi))
            .collect();
        let count = |v: &Vec<Vec<F>>| v.iter().map(Vec::len).sum::<usize>();
        let done = count(&grown) == count(&taken);
        taken = grown;
        if done {
            break;
        }
    }
    let deepest = taken.iter().rposition(|l| !l.is_empty())?;
    Some(Task {
        inputs: taken
            .into_iter()
            .enumerate()
            .filter(|(_, files)| !files.is_empty())
            .collect(),
        output_level: deepest.max(base).max(1),
        trivial_move: false,
        manual: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use lsm_format::manifest::{SegmentMeta, MAX_LEVELS};

    fn f(number: u64, smallest: &str, largest: &str) -> SegmentMeta {
        SegmentMeta {
            keyspace: 0,
            file_number: number,
            file_size: 10,
            smallest_key: Bytes::copy_from_slice(smallest.as_bytes()),
            largest_key: Bytes::copy_from_slice(largest.as_bytes()),
            smallest_seq: 1,
            largest_seq: 1,
            entry_count: 1,
            tombstone_count: 0,
            blob_refs: Vec::new(),
        }
    }

    fn levels(mut v: Vec<Vec<SegmentMeta>>) -> Vec<Vec<SegmentMeta>> {
        v.resize(MAX_LEVELS, Vec::new());
        v
    }

    fn sizing(dynamic_level_bytes: bool) -> PickerConfig {
        PickerConfig {
            level0_trigger: 4,
            level1_size: 1000,
            multiplier: 10,
            dynamic_level_bytes,
        }
    }

    fn fixed() -> PickerConfig {
        sizing(false)
    }

    fn numbers(t: &Task<SegmentMeta>) -> Vec<(usize, Vec<u64>)> {
        t.inputs
            .iter()
            .map(|(l, files)| (*l, files.iter().map(|m| m.file_number).collect()))
            .collect()
    }

    #[test]
    fn full_compaction_targets_the_bottom_level() {
        let l = levels(vec![vec![f(1, "a", "b")]]);
        let t = pick_manual(&l, &Manual::Full(None), &fixed()).unwrap();
        assert_eq!(t.output_level, 1);
        // Under dynamic sizing the bottom is the last level, whatever holds data.
        let t = pick_manual(&l, &Manual::Full(None), &sizing(true)).unwrap();
        assert_eq!(t.output_level, 6);
        let t = pick_manual(&l, &Manual::Full(Some(2)), &sizing(true)).unwrap();
        assert_eq!(t.output_level, 2);
        let l = levels(vec![
            vec![f(1, "a", "b")],
            vec![],
            vec![],
            vec![f(2, "a", "b")],
        ]);
        let t = pick_manual(&l, &Manual::Full(None), &fixed()).unwrap();
        assert_eq!(t.output_level, 3);
        assert_eq!(t.inputs.len(), 2);
        let t = pick_manual(&l, &Manual::Full(None), &sizing(true)).unwrap();
        assert_eq!(t.output_level, 6);
        assert_eq!(t.inputs.len(), 2);
        for cfg in [fixed(), sizing(true)] {
            let none = pick_manual::<SegmentMeta>(&levels(vec![]), &Manual::Full(None), &cfg);
            assert!(none.is_none());
        }
    }

    #[test]
    fn a_range_takes_what_it_meets_and_what_that_overlaps() {
        let l = levels(vec![
            vec![f(10, "c", "k")],
            vec![
                f(1, "a", "b"),
                f(2, "c", "d"),
                f(3, "j", "m"),
                f(4, "x", "z"),
            ],
            vec![f(5, "l", "p"), f(6, "q", "r")],
        ]);
        // [c, d) meets file 10 (c..k), which overlaps file 3 (j..m), which
        // overlaps file 5 (l..p); file 6 stays.
        let t = pick_manual(&l, &Manual::Range(b"c".to_vec(), b"d".to_vec()), &fixed()).unwrap();
        assert_eq!(
            numbers(&t),
            vec![(0, vec![10]), (1, vec![2, 3]), (2, vec![5])]
        );
        assert_eq!(t.output_level, 2);
        // The end is exclusive; nothing at all is no task.
        let t = pick_manual(&l, &Manual::Range(b"s".to_vec(), b"x".to_vec()), &fixed());
        assert!(t.is_none());
        let t = pick_manual(&l, &Manual::Range(b"y".to_vec(), b"yz".to_vec()), &fixed()).unwrap();
        assert_eq!(numbers(&t), vec![(1, vec![4])]);
        assert_eq!(t.output_level, 1);
    }

    #[test]
    fn a_range_of_level0_alone_goes_to_the_base_level() {
        let mut l = levels(vec![vec![f(10, "c", "k")]]);
        let range = Manual::Range(b"c".to_vec(), b"d".to_vec());
        let t = pick_manual(&l, &range, &fixed()).unwrap();
        assert_eq!(t.output_level, 1);
        let t = pick_manual(&l, &range, &sizing(true)).unwrap();
        assert_eq!(t.output_level, 6, "an empty tree's base level is the last");
        // With data elsewhere, the base level it gives; what the range takes
        // deeper down is the output level.
        l[6] = vec![f(11, "x", "z")];
        l[6][0].file_size = 50_000;
        l[5] = vec![f(12, "j", "j")];
        let t = pick_manual(&l, &range, &sizing(true)).unwrap();
        assert_eq!(numbers(&t), vec![(0, vec![10]), (5, vec![12])]);
        assert_eq!(t.output_level, 5);
        let t = pick_manual(
            &l,
            &Manual::Range(b"a".to_vec(), b"b".to_vec()),
            &sizing(true),
        );
        assert!(t.is_none());
        l[0][0].largest_key = Bytes::from_static(b"d");
        let t = pick_manual(&l, &range, &sizing(true)).unwrap();
        assert_eq!(numbers(&t), vec![(0, vec![10])]);
        assert_eq!(t.output_level, 4, "needs 5000 at level 5, 500 at level 4");
    }
}
