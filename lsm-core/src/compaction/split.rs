//! Splitting one compaction into key ranges merged side by side (subcompactions).
//!
//! A range is the user keys `k` with `lo <= k < hi`, each limit either open or
//! `p + [0]` for a key `p`: the smallest key after `p`. That is the form the
//! segment builder cuts range tombstones with between two files, whose key bound
//! the format rounds down to `p` exactly (`lsm_format::range_del::bound_of_end`), so
//! the outputs of neighbouring ranges never overlap, not even by a tombstone. Every
//! version of a user key lands in one range: a range never splits a key.
//!
//! The limits are chosen from *anchors*: the last key of a run of data blocks of
//! an input file, with the bytes of that run. The bytes of an anchor lie at keys at
//! or before its key, so cutting after the anchor where the running sum of bytes
//! (over every input, in key order) first reaches `k / n` of the total gives `n`
//! ranges of about the same input bytes, whatever the files' shapes: level-0 files
//! that each span the whole key space are cut inside, through their index.
//! RocksDB chooses its subcompaction boundaries in the same spirit (anchor keys
//! sampled from each input's index, sized by the bytes between them).

use std::sync::Arc;

use bytes::Bytes;
use lsm_format::MAX_KEY_LEN;

use crate::segment::file::SegmentFile;

/// Anchors taken per input file at most: enough to cut within a file to about
/// 1/64 of its size, few enough that choosing costs nothing beside the merge.
const ANCHORS_PER_FILE: usize = 64;

/// One compaction's share of key space: user keys in `[lo, hi)`, `None` open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub lo: Option<Vec<u8>>,
    pub hi: Option<Vec<u8>>,
}

impl KeyRange {
    /// Whether `key` lies past the range's end.
    pub fn is_past(&self, key: &[u8]) -> bool {
        self.hi.as_deref().is_some_and(|hi| key >= hi)
    }

    /// Whether a file holding keys `[smallest, largest]` may hold a key of the
    /// range.
    pub fn meets(&self, smallest: &[u8], largest: &[u8]) -> bool {
        self.lo.as_deref().is_none_or(|lo| largest >= lo)
            && self.hi.as_deref().is_none_or(|hi| smallest < hi)
    }
}

/// How many ranges a compaction of `input_bytes` is split into, at most `max`.
///
/// Each range ends in its own last output file, which is usually not full: a range
/// should hold at least a segment's worth of input, or the split leaves small files
/// behind for little parallel work. So a task below two segments runs as one, and
/// a larger one gets at most one range per segment of input.
pub(crate) fn range_count(input_bytes: u64, segment_size: u64, max: usize) -> usize {
    let segment_size = segment_size.max(1);
    if max <= 1 || input_bytes < segment_size.saturating_mul(2) {
        return 1;
    }
    let by_size = usize::try_from(input_bytes / segment_size).unwrap_or(usize::MAX);
    max.min(by_size)
}

/// A key and the input bytes at or before it since the previous anchor of its
/// file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub key: Bytes,
    pub bytes: u64,
}

/// Up to [`ANCHORS_PER_FILE`] anchors of `file`, from its index: runs of equal
/// numbers of data blocks.
pub(crate) fn file_anchors(file: &SegmentFile) -> Vec<Anchor> {
    let Ok(index) = file.reader.index_entries() else {
        return Vec::new();
    };
    let step = index.len().div_ceil(ANCHORS_PER_FILE).max(1);
    let mut anchors = Vec::with_capacity(index.len() / step + 1);
    for run in index.chunks(step) {
        if let Some(last) = run.last() {
            let bytes = run.iter().map(|e| e.handle.end() - e.handle.offset).sum();
            anchors.push(Anchor {
                key: last.last_key.clone(),
                bytes,
            });
        }
    }
    anchors
}

/// The ranges of a compaction of `inputs` into at most `count` parts.
pub(crate) fn split_inputs<'a>(
    inputs: impl IntoIterator<Item = &'a Arc<SegmentFile>>,
    count: usize,
) -> Vec<KeyRange> {
    if count <= 1 {
        return vec![KeyRange::default()];
    }
    let anchors = inputs.into_iter().flat_map(|f| file_anchors(f)).collect();
    split(anchors, count)
}

/// Cuts the key space into at most `count` ranges of about equal anchor bytes;
/// fewer when the anchors do not allow as many distinct cuts. The ranges are in
/// key order, cover all keys, and every limit is a key followed by a 0 byte.
pub(crate) fn split(mut anchors: Vec<Anchor>, count: usize) -> Vec<KeyRange> {
    anchors.sort_by(|a, b| a.key.cmp(&b.key));
    let total: u64 = anchors.iter().map(|a| a.bytes).sum();
    let mut ends: Vec<Vec<u8>> = Vec::new();
    let mut sum = 0u64;
    let mut next = 1usize;
    let last_key = anchors.last().map(|a| a.key.clone());
    for (i, a) in anchors.iter().enumerate() {
        sum += a.bytes;
        if next >= count {
            break;
        }
        // Every anchor of one key is summed before cutting after it.
        if anchors.get(i + 1).is_some_and(|b| b.key == a.key) {
            continue;
        }
        // A cut after the last key would leave the last range empty; a key of
        // the maximum length has no `p + [0]` to end a range with.
        if Some(&a.key) == last_key.as_ref() || a.key.len() >= MAX_KEY_LEN {
            continue;
        }
        let target = (u128::from(total) * next as u128).div_ceil(count as u128);
        if u128::from(sum) >= target {
            let mut end = a.key.to_vec();
            end.push(0);
            ends.push(end);
            // A large anchor may cross several targets: skip those it covers.
            while next < count
                && u128::from(sum) >= (u128::from(total) * next as u128).div_ceil(count as u128)
            {
                next += 1;
            }
        }
    }
    let mut ranges = Vec::with_capacity(ends.len() + 1);
    let mut lo = None;
    for end in ends {
        ranges.push(KeyRange {
            lo: lo.take(),
            hi: Some(end.clone()),
        });
        lo = Some(end);
    }
    ranges.push(KeyRange { lo, hi: None });
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(key: &str, bytes: u64) -> Anchor {
        Anchor {
            key: Bytes::copy_from_slice(key.as_bytes()),
            bytes,
        }
    }

    /// The bytes of `anchors` in each range.
    fn bytes_per_range(anchors: &[Anchor], ranges: &[KeyRange]) -> Vec<u64> {
        ranges
            .iter()
            .map(|r| {
                anchors
                    .iter()
                    .filter(|a| r.meets(&a.key, &a.key))
                    .map(|a| a.bytes)
                    .sum()
            })
            .collect()
    }

    /// The ranges follow one another, cover everything, and each limit is a key
    /// plus a 0 byte.
    fn assert_tiles(ranges: &[KeyRange]) {
        assert_eq!(ranges.first().unwrap().lo, None);
        assert_eq!(ranges.last().unwrap().hi, None);
        for pair in ranges.windows(2) {
            let hi = pair[0].hi.as_ref().unwrap();
            assert_eq!(Some(hi), pair[1].lo.as_ref());
            assert_eq!(hi.last(), Some(&0));
            if let Some(lo) = &pair[0].lo {
                assert!(lo < hi, "{pair:?}");
            }
        }
    }

    #[test]
    fn small_tasks_run_as_one_range() {
        assert_eq!(range_count(100, 64, 4), 1);
        assert_eq!(range_count(127, 64, 4), 1);
        assert_eq!(range_count(128, 64, 4), 2);
        assert_eq!(range_count(64 * 3, 64, 4), 3);
        assert_eq!(range_count(64 * 100, 64, 4), 4);
        assert_eq!(range_count(64 * 100, 64, 1), 1);
        assert_eq!(range_count(u64::MAX, 0, 2), 2);
        assert_eq!(split(vec![anchor("a", 10)], 1), vec![KeyRange::default()]);
    }

    #[test]
    fn ranges_hold_about_equal_bytes() {
        // Two "files" over the same keys (as level-0 files are) and one dense
        // region: 100 anchors of 10 bytes, then 10 anchors of 100 bytes.
        let mut anchors: Vec<Anchor> = (0..100)
            .flat_map(|i| {
                let key = format!("k{i:03}");
                [anchor(&key, 5), anchor(&key, 5)]
            })
            .collect();
        anchors.extend((0..10).map(|i| anchor(&format!("z{i}"), 100)));
        let total: u64 = anchors.iter().map(|a| a.bytes).sum();
        for count in [2, 3, 4] {
            let ranges = split(anchors.clone(), count);
            assert_eq!(ranges.len(), count);
            assert_tiles(&ranges);
            let per = bytes_per_range(&anchors, &ranges);
            assert_eq!(per.iter().sum::<u64>(), total, "{per:?}");
            let fair = total / count as u64;
            for b in &per {
                // Off by at most one anchor (100 bytes) from a fair share.
                assert!(b.abs_diff(fair) <= 100, "{count}: {per:?}");
            }
        }
    }

    #[test]
    fn a_key_is_never_cut_between_ranges() {
        // Most bytes sit at one key, in two files: its anchors stay together, in
        // one range, and no cut falls after the last key.
        let anchors = vec![
            anchor("a", 1000),
            anchor("m", 1000),
            anchor("m", 1000),
            anchor("z", 10),
        ];
        let ranges = split(anchors.clone(), 4);
        assert_tiles(&ranges);
        assert_eq!(ranges.len(), 3, "{ranges:?}");
        let holding_m: Vec<_> = ranges.iter().filter(|r| r.meets(b"m", b"m")).collect();
        assert_eq!(holding_m.len(), 1, "{ranges:?}");
        assert_eq!(bytes_per_range(&anchors, &ranges), vec![1000, 2000, 10]);
        // A single key: one range.
        assert_eq!(split(vec![anchor("k", 10), anchor("k", 10)], 3).len(), 1);
        assert_eq!(split(Vec::new(), 3), vec![KeyRange::default()]);
    }

    #[test]
    fn a_limit_sits_right_after_a_key() {
        let ranges = split(vec![anchor("a", 10), anchor("b", 10)], 2);
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].hi.as_deref(), Some(&b"a\0"[..]));
        assert!(!ranges[0].is_past(b"a"));
        assert!(ranges[0].is_past(b"a\0") && ranges[0].is_past(b"aa"));
        assert!(ranges[1].meets(b"a\0", b"a\0") && !ranges[1].meets(b"a", b"a"));
        // A key of the largest length cannot be cut after: the cut moves on.
        let long = "x".repeat(MAX_KEY_LEN);
        let anchors = vec![
            anchor("a", 1),
            anchor(&long, 10),
            anchor("y", 10),
            anchor("z", 10),
        ];
        let ranges = split(anchors, 2);
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].hi.as_deref(), Some(&b"y\0"[..]));
    }
}
