//! Manual compactions: what `Db::compact`, `Db::compact_into` and
//! `Db::compact_range` ask for, turned into a task on the current version.

use super::picker::{overlapping, range, FileInfo, Task};

/// A manual compaction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Manual {
    /// Every file into one level: the given one, or the deepest non-empty one (at
    /// least 1).
    Full(Option<usize>),
    /// The files that may hold a key of `[start, end)`, and every file their
    /// merge must take with them, into the deepest level among them.
    Range(Vec<u8>, Vec<u8>),
}

/// The task for `request`, or `None` when there is nothing to compact.
pub(crate) fn pick_manual<F: FileInfo>(levels: &[Vec<F>], request: &Manual) -> Option<Task<F>> {
    match request {
        Manual::Full(target) => pick_full(levels, *target),
        Manual::Range(start, end) => pick_range(levels, start, end),
    }
}

/// A full compaction: every file into `target`, or when `None` into the deepest
/// non-empty level (at least 1). Every non-empty level is an input, so the output
/// level is the bottom of the tree whatever its number.
fn pick_full<F: FileInfo>(levels: &[Vec<F>], target: Option<usize>) -> Option<Task<F>> {
    let deepest = levels.iter().rposition(|l| !l.is_empty())?;
    Some(Task {
        inputs: levels
            .iter()
            .enumerate()
            .filter(|(_, files)| !files.is_empty())
            .map(|(n, files)| (n, files.clone()))
            .collect(),
        output_level: target.unwrap_or(deepest.max(1)),
        trivial_move: false,
        manual: true,
    })
}

/// The files of every level whose range meets `[start, end)`, closed under
/// overlap: a file overlapping what is taken is taken too, until nothing changes.
/// Only then may the merge go to the deepest level taken: a file left out above it
/// holds no key of the output, so no newer version ends up below an older one, and
/// the output level's files left out do not overlap the output.
fn pick_range<F: FileInfo>(levels: &[Vec<F>], start: &[u8], end: &[u8]) -> Option<Task<F>> {
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
        output_level: deepest.max(1),
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

    fn numbers(t: &Task<SegmentMeta>) -> Vec<(usize, Vec<u64>)> {
        t.inputs
            .iter()
            .map(|(l, files)| (*l, files.iter().map(|m| m.file_number).collect()))
            .collect()
    }

    #[test]
    fn full_compaction_targets_the_deepest_level() {
        let l = levels(vec![vec![f(1, "a", "b")]]);
        let t = pick_manual(&l, &Manual::Full(None)).unwrap();
        assert_eq!(t.output_level, 1);
        let l = levels(vec![
            vec![f(1, "a", "b")],
            vec![],
            vec![],
            vec![f(2, "a", "b")],
        ]);
        let t = pick_manual(&l, &Manual::Full(None)).unwrap();
        assert_eq!(t.output_level, 3);
        assert_eq!(t.inputs.len(), 2);
        assert!(pick_manual::<SegmentMeta>(&levels(vec![]), &Manual::Full(None)).is_none());
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
        let t = pick_manual(&l, &Manual::Range(b"c".to_vec(), b"d".to_vec())).unwrap();
        assert_eq!(
            numbers(&t),
            vec![(0, vec![10]), (1, vec![2, 3]), (2, vec![5])]
        );
        assert_eq!(t.output_level, 2);
        // The end is exclusive; nothing at all is no task.
        let t = pick_manual(&l, &Manual::Range(b"s".to_vec(), b"x".to_vec()));
        assert!(t.is_none());
        let t = pick_manual(&l, &Manual::Range(b"y".to_vec(), b"yz".to_vec())).unwrap();
        assert_eq!(numbers(&t), vec![(1, vec![4])]);
        assert_eq!(t.output_level, 1);
    }
}
