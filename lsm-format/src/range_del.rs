//! Range tombstones and their fragmented form (`docs/format.md` section 3.8).
//!
//! A range tombstone `[start, end) @ seq` hides every version with a sequence
//! number below `seq` of every key `k` with `start <= k < end`. Tombstones may
//! overlap one another freely; to answer "which tombstones cover this key" with one
//! binary search, they are kept *fragmented*: cut at every start and end into
//! pieces that never overlap, each piece listing the sequence numbers of every
//! tombstone that covers it. Pebble and RocksDB keep them the same way.
//!
//! ```text
//! tombstones   [a, m) @ 5     [f, z) @ 9
//! fragments    [a, f) {5}   [f, m) {9, 5}   [m, z) {9}
//! ```
//!
//! The fragmenter lives here because the memtable, flush, compaction, reads, the
//! segment's range-tombstone block and the tools all use the one form.
//!
//! ```
//! use lsm_format::range_del::{Fragments, RangeTombstone};
//!
//! let f = Fragments::from_tombstones([
//!     RangeTombstone::new("a", "m", 5),
//!     RangeTombstone::new("f", "z", 9),
//! ]);
//! assert_eq!(f.fragments().len(), 3);
//! assert_eq!(f.covering_seq(b"g", u64::MAX), Some(9));
//! assert_eq!(f.covering_seq(b"g", 8), Some(5)); // a reader at seq 8 sees only @5
//! assert_eq!(f.covering_seq(b"z", u64::MAX), None); // the end is exclusive
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use bytes::Bytes;

/// A range end past every key the format stores: `MAX_KEY_LEN + 1` bytes of 0xff.
/// Deleting "everything from `start` on" (`delete_prefix` of an empty prefix, or of
/// a prefix of 0xff bytes only) ends here. A range end is the one key-like field
/// allowed to be this long (and only exactly this).
pub const END_OF_KEYS: &[u8] = &[0xff; crate::entry::MAX_KEY_LEN + 1];

/// Whether `end` may end a range: a key (at most `MAX_KEY_LEN` bytes) or
/// [`END_OF_KEYS`].
///
/// ```
/// use lsm_format::range_del::{is_valid_end, END_OF_KEYS};
/// assert!(is_valid_end(b"k") && is_valid_end(END_OF_KEYS));
/// assert!(!is_valid_end(&[b'k'; 65536]));
/// ```
pub fn is_valid_end(end: &[u8]) -> bool {
    end.len() <= crate::entry::MAX_KEY_LEN || end == END_OF_KEYS
}

/// The key bound of a range ending (exclusively) at `end`: the largest key below
/// `end` where that key exists, else `end` itself (one key wide of exact, so a
/// bound never falls short of what the range covers). Exact for [`END_OF_KEYS`]
/// (`MAX_KEY_LEN` bytes of 0xff) and for an end `p + [0]`, whose largest key
/// below is `p`: that is the end the engine gives a tombstone it cuts after key `p`
/// (`docs/format.md` section 3.5), so neighbouring files do not overlap.
///
/// ```
/// use lsm_format::range_del::bound_of_end;
/// assert_eq!(bound_of_end(b"ab\0"), b"ab");
/// assert_eq!(bound_of_end(b"ab"), b"ab");
/// ```
pub fn bound_of_end(end: &[u8]) -> &[u8] {
    if end == END_OF_KEYS {
        return END_OF_KEYS.get(..crate::entry::MAX_KEY_LEN).unwrap_or(end);
    }
    match end.split_last() {
        Some((0, before)) => before,
        _ => end,
    }
}

/// One range tombstone: every version older than `seq` of every key in
/// `[start, end)` is deleted.
///
/// ```
/// let t = lsm_format::range_del::RangeTombstone::new("a", "c", 7);
/// assert!(t.contains(b"b") && !t.contains(b"c"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RangeTombstone {
    /// First key covered.
    pub start: Bytes,
    /// First key past the range (exclusive).
    pub end: Bytes,
    /// Sequence number of the delete.
    pub seq: u64,
}

impl RangeTombstone {
    /// A tombstone over `[start, end)` at `seq`.
    ///
    /// ```
    /// let t = lsm_format::range_del::RangeTombstone::new(b"k1".to_vec(), b"k9".to_vec(), 3);
    /// assert_eq!(&t.start[..], b"k1");
    /// ```
    pub fn new(start: impl Into<Bytes>, end: impl Into<Bytes>, seq: u64) -> Self {
        RangeTombstone {
            start: start.into(),
            end: end.into(),
            seq,
        }
    }

    /// Whether `key` lies in `[start, end)`.
    ///
    /// ```
    /// let t = lsm_format::range_del::RangeTombstone::new("a", "b", 1);
    /// assert!(t.contains(b"a") && t.contains(b"aZZ") && !t.contains(b"b"));
    /// ```
    pub fn contains(&self, key: &[u8]) -> bool {
        &self.start[..] <= key && key < &self.end[..]
    }
}

/// A piece of key space `[start, end)` and the sequence numbers of the tombstones
/// covering all of it, newest first.
///
/// ```
/// use lsm_format::range_del::{Fragments, RangeTombstone};
/// let f = Fragments::from_tombstones([RangeTombstone::new("a", "b", 4)]);
/// let piece = &f.fragments()[0];
/// assert_eq!((&piece.start[..], &piece.end[..], &piece.seqs[..]), (&b"a"[..], &b"b"[..], &[4][..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// First key of the piece.
    pub start: Bytes,
    /// First key past the piece (exclusive); greater than `start`.
    pub end: Bytes,
    /// Sequence numbers, strictly descending, never empty.
    pub seqs: Vec<u64>,
}

impl Fragment {
    /// The newest sequence number at or below `read_seq`, if any: the tombstone a
    /// reader at `read_seq` sees here.
    ///
    /// ```
    /// let f = lsm_format::range_del::Fragment { start: "a".into(), end: "b".into(), seqs: vec![9, 4] };
    /// assert_eq!(f.visible_seq(5), Some(4));
    /// assert_eq!(f.visible_seq(3), None);
    /// ```
    pub fn visible_seq(&self, read_seq: u64) -> Option<u64> {
        self.seqs.iter().copied().find(|&s| s <= read_seq)
    }

    /// Whether `key` lies in `[start, end)`.
    ///
    /// ```
    /// let f = lsm_format::range_del::Fragment { start: "a".into(), end: "b".into(), seqs: vec![1] };
    /// assert!(f.contains(b"a") && !f.contains(b"b"));
    /// ```
    pub fn contains(&self, key: &[u8]) -> bool {
        &self.start[..] <= key && key < &self.end[..]
    }
}

/// Range tombstones in fragmented form: non-overlapping [`Fragment`]s sorted by
/// key. Cheap to clone? No: share it behind an `Arc`.
///
/// ```
/// use lsm_format::range_del::{Fragments, RangeTombstone};
/// let f = Fragments::from_tombstones([RangeTombstone::new("b", "d", 2)]);
/// assert_eq!(f.bounds(), Some((&b"b"[..], &b"d"[..])));
/// assert!(Fragments::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fragments {
    list: Vec<Fragment>,
}

impl Fragments {
    /// No tombstones.
    ///
    /// ```
    /// assert!(lsm_format::range_del::Fragments::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Fragments { list: Vec::new() }
    }

    /// Fragments `tombstones`, given in any order. Empty ranges (`start >= end`)
    /// cover nothing and are left out; a sequence number listed twice for one piece
    /// is kept once. Adjacent pieces covered by the same sequence numbers are joined.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([
    ///     RangeTombstone::new("c", "e", 1),
    ///     RangeTombstone::new("a", "c", 1), // touches the first: joined
    ///     RangeTombstone::new("x", "x", 9), // empty: covers nothing
    /// ]);
    /// assert_eq!(f.fragments().len(), 1);
    /// assert_eq!(f.bounds(), Some((&b"a"[..], &b"e"[..])));
    /// ```
    pub fn from_tombstones(tombstones: impl IntoIterator<Item = RangeTombstone>) -> Self {
        let mut items: Vec<RangeTombstone> =
            tombstones.into_iter().filter(|t| t.start < t.end).collect();
        if items.is_empty() {
            return Fragments::default();
        }
        items.sort_by(|a, b| a.start.cmp(&b.start));
        let mut bounds: Vec<Bytes> = items
            .iter()
            .flat_map(|t| [t.start.clone(), t.end.clone()])
            .collect();
        bounds.sort();
        bounds.dedup();

        // Sweep the boundaries left to right: `active` counts the covering
        // tombstones per sequence number, `ending` yields them back by end.
        let mut active: BTreeMap<u64, usize> = BTreeMap::new();
        let mut ending: BinaryHeap<Reverse<(Bytes, u64)>> = BinaryHeap::new();
        let mut next = 0;
        let mut list: Vec<Fragment> = Vec::new();
        for (i, at) in bounds.iter().enumerate() {
            while let Some(Reverse((end, seq))) = ending.peek() {
                if end > at {
                    break;
                }
                let seq = *seq;
                ending.pop();
                if let Some(n) = active.get_mut(&seq) {
                    *n -= 1;
                    if *n == 0 {
                        active.remove(&seq);
                    }
                }
            }
            while let Some(t) = items.get(next).filter(|t| t.start == at) {
                *active.entry(t.seq).or_insert(0) += 1;
                ending.push(Reverse((t.end.clone(), t.seq)));
                next += 1;
            }
            let Some(piece_end) = bounds.get(i + 1) else {
                break;
            };
            if active.is_empty() {
                continue;
            }
            let seqs: Vec<u64> = active.keys().rev().copied().collect();
            match list.last_mut() {
                Some(prev) if prev.end == *at && prev.seqs == seqs => prev.end = piece_end.clone(),
                _ => list.push(Fragment {
                    start: at.clone(),
                    end: piece_end.clone(),
                    seqs,
                }),
            }
        }
        Fragments { list }
    }

    /// Takes `list` as it is when it is already fragmented: sorted, each piece
    /// non-empty (`start < end`) with strictly descending, non-empty `seqs`, and no
    /// piece overlapping the next. `None` otherwise (a decoder turns that into
    /// corruption).
    ///
    /// ```
    /// use lsm_format::range_del::{Fragment, Fragments};
    /// let ok = vec![Fragment { start: "a".into(), end: "b".into(), seqs: vec![2, 1] }];
    /// assert!(Fragments::from_fragmented(ok).is_some());
    /// let overlapping = vec![
    ///     Fragment { start: "a".into(), end: "c".into(), seqs: vec![1] },
    ///     Fragment { start: "b".into(), end: "d".into(), seqs: vec![1] },
    /// ];
    /// assert!(Fragments::from_fragmented(overlapping).is_none());
    /// ```
    pub fn from_fragmented(list: Vec<Fragment>) -> Option<Self> {
        let pieces_ok = list
            .iter()
            .all(|f| f.start < f.end && !f.seqs.is_empty() && f.seqs.is_sorted_by(|a, b| a > b));
        let ordered = list.is_sorted_by(|a, b| a.end <= b.start);
        (pieces_ok && ordered).then_some(Fragments { list })
    }

    /// The pieces, sorted by key.
    ///
    /// ```
    /// assert!(lsm_format::range_del::Fragments::default().fragments().is_empty());
    /// ```
    pub fn fragments(&self) -> &[Fragment] {
        &self.list
    }

    /// True when no tombstone is held.
    ///
    /// ```
    /// assert!(lsm_format::range_del::Fragments::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number of (piece, sequence number) pairs: what the segment's properties
    /// count as range tombstones.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("a", "m", 5), RangeTombstone::new("f", "z", 9)]);
    /// assert_eq!(f.tombstone_count(), 4); // {5}, {9, 5}, {9}
    /// ```
    pub fn tombstone_count(&self) -> u64 {
        self.list.iter().map(|f| f.seqs.len() as u64).sum()
    }

    /// The first start and the last end, or `None` when empty.
    ///
    /// ```
    /// assert_eq!(lsm_format::range_del::Fragments::default().bounds(), None);
    /// ```
    pub fn bounds(&self) -> Option<(&[u8], &[u8])> {
        Some((&self.list.first()?.start[..], &self.list.last()?.end[..]))
    }

    /// The smallest and largest sequence numbers held, or `None` when empty.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("a", "m", 5), RangeTombstone::new("f", "z", 9)]);
    /// assert_eq!(f.seq_range(), Some((5, 9)));
    /// ```
    pub fn seq_range(&self) -> Option<(u64, u64)> {
        let seqs = self.list.iter().flat_map(|f| f.seqs.iter().copied());
        seqs.fold(None, |acc, s| match acc {
            None => Some((s, s)),
            Some((lo, hi)) => Some((lo.min(s), hi.max(s))),
        })
    }

    /// Index of the piece that contains `key`, if any.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("b", "d", 2)]);
    /// assert_eq!(f.find(b"c"), Some(0));
    /// assert_eq!(f.find(b"a"), None);
    /// ```
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let i = self
            .list
            .partition_point(|f| &f.start[..] <= key)
            .checked_sub(1)?;
        self.list.get(i).filter(|f| key < &f.end[..]).map(|_| i)
    }

    /// The piece that contains `key`, if any.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("b", "d", 2)]);
    /// assert_eq!(f.fragment_at(b"b").map(|p| &p.end[..]), Some(&b"d"[..]));
    /// ```
    pub fn fragment_at(&self, key: &[u8]) -> Option<&Fragment> {
        self.find(key).and_then(|i| self.list.get(i))
    }

    /// The newest tombstone sequence number at or below `read_seq` covering `key`:
    /// a version of `key` with a smaller sequence number is deleted for a reader at
    /// `read_seq`.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("a", "z", 10)]);
    /// assert_eq!(f.covering_seq(b"k", 10), Some(10));
    /// assert_eq!(f.covering_seq(b"k", 9), None); // a snapshot before the delete
    /// ```
    pub fn covering_seq(&self, key: &[u8], read_seq: u64) -> Option<u64> {
        self.fragment_at(key)?.visible_seq(read_seq)
    }

    /// Whether these tombstones hold `t`: pieces carrying `t.seq` cover all of
    /// `[t.start, t.end)`. Flush and compaction cut a tombstone at file boundaries
    /// but never change its number, so a tombstone some file holds is held by a set
    /// that holds that file's tombstones.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([
    ///     RangeTombstone::new("a", "f", 5),
    ///     RangeTombstone::new("f", "m", 5),
    /// ]);
    /// assert!(f.holds(&RangeTombstone::new("b", "k", 5)));
    /// assert!(!f.holds(&RangeTombstone::new("b", "k", 4))); // another number
    /// assert!(!f.holds(&RangeTombstone::new("b", "p", 5))); // past the end
    /// ```
    pub fn holds(&self, t: &RangeTombstone) -> bool {
        let mut at: &[u8] = &t.start;
        let first = self.list.partition_point(|p| p.end <= t.start);
        for piece in self.list.get(first..).unwrap_or_default() {
            if at >= &t.end[..] {
                break;
            }
            if &piece.start[..] > at || !piece.seqs.contains(&t.seq) {
                return false;
            }
            at = &piece.end;
        }
        at >= &t.end[..]
    }

    /// Every tombstone as (piece, sequence number) pairs, in key order.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("a", "b", 1)]);
    /// assert_eq!(f.tombstones().collect::<Vec<_>>(), vec![RangeTombstone::new("a", "b", 1)]);
    /// ```
    pub fn tombstones(&self) -> impl Iterator<Item = RangeTombstone> + '_ {
        self.list.iter().flat_map(|f| {
            f.seqs
                .iter()
                .map(|&seq| RangeTombstone::new(f.start.clone(), f.end.clone(), seq))
        })
    }

    /// The union of several fragmented sets.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let a = Fragments::from_tombstones([RangeTombstone::new("a", "m", 5)]);
    /// let b = Fragments::from_tombstones([RangeTombstone::new("f", "z", 9)]);
    /// let both = Fragments::merge([&a, &b]);
    /// assert_eq!(both.covering_seq(b"g", u64::MAX), Some(9));
    /// assert_eq!(both.covering_seq(b"b", u64::MAX), Some(5));
    /// ```
    pub fn merge<'a>(sets: impl IntoIterator<Item = &'a Fragments>) -> Fragments {
        Fragments::from_tombstones(sets.into_iter().flat_map(|s| s.tombstones()))
    }

    /// The part of these tombstones inside `[lo, hi)`; `None` leaves that side
    /// open. Pieces are cut at the limits.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("a", "z", 3)]);
    /// let cut = f.clipped(Some(b"c"), Some(b"f"));
    /// assert_eq!(cut.bounds(), Some((&b"c"[..], &b"f"[..])));
    /// ```
    pub fn clipped(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Fragments {
        let list = self
            .list
            .iter()
            .filter_map(|f| {
                let start = match lo {
                    Some(lo) if &f.start[..] < lo => Bytes::copy_from_slice(lo),
                    _ => f.start.clone(),
                };
                let end = match hi {
                    Some(hi) if &f.end[..] > hi => Bytes::copy_from_slice(hi),
                    _ => f.end.clone(),
                };
                (start < end).then(|| Fragment {
                    start,
                    end,
                    seqs: f.seqs.clone(),
                })
            })
            .collect();
        Fragments { list }
    }

    /// Whether some piece overlaps the inclusive key range `[lo, hi]`.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("b", "d", 1)]);
    /// assert!(f.overlaps(b"a", b"b"));
    /// assert!(!f.overlaps(b"d", b"e")); // d is past the end
    /// ```
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        let i = self.list.partition_point(|f| &f.end[..] <= lo);
        self.list.get(i).is_some_and(|f| &f.start[..] <= hi)
    }

    /// Keeps, per piece, only the sequence numbers `keep` accepts (called with the
    /// piece and each of its numbers, newest first); pieces left without any are
    /// removed and neighbours with equal numbers joined.
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// let f = Fragments::from_tombstones([RangeTombstone::new("a", "m", 5), RangeTombstone::new("f", "z", 9)]);
    /// let newer = f.retain(|_, seq| seq > 5);
    /// assert_eq!(newer.bounds(), Some((&b"f"[..], &b"z"[..])));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&Fragment, u64) -> bool) -> Fragments {
        let mut list: Vec<Fragment> = Vec::with_capacity(self.list.len());
        for f in &self.list {
            let seqs: Vec<u64> = f.seqs.iter().copied().filter(|&s| keep(f, s)).collect();
            if seqs.is_empty() {
                continue;
            }
            match list.last_mut() {
                Some(prev) if prev.end == f.start && prev.seqs == seqs => prev.end = f.end.clone(),
                _ => list.push(Fragment {
                    start: f.start.clone(),
                    end: f.end.clone(),
                    seqs,
                }),
            }
        }
        Fragments { list }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: u8) -> Bytes {
        Bytes::from(vec![b'a' + i])
    }

    /// Brute force: the newest seq <= read_seq among the tombstones containing key.
    fn model(ts: &[RangeTombstone], k: &[u8], read_seq: u64) -> Option<u64> {
        ts.iter()
            .filter(|t| t.contains(k) && t.seq <= read_seq)
            .map(|t| t.seq)
            .max()
    }

    fn tombstones() -> impl Strategy<Value = Vec<RangeTombstone>> {
        proptest::collection::vec((0u8..12, 0u8..12, 1u64..20), 0..12).prop_map(|v| {
            v.into_iter()
                .map(|(s, e, q)| RangeTombstone::new(key(s), key(e), q))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn fragments_answer_like_the_tombstones(ts in tombstones(), read_seq in 0u64..22) {
            let f = Fragments::from_tombstones(ts.clone());
            prop_assert!(Fragments::from_fragmented(f.fragments().to_vec()).is_some());
            for i in 0..13u8 {
                let k = key(i);
                prop_assert_eq!(f.covering_seq(&k, read_seq), model(&ts, &k, read_seq));
                // With a longer key between two letters too.
                let mut longer = k.to_vec();
                longer.push(0);
                prop_assert_eq!(f.covering_seq(&longer, read_seq), model(&ts, &longer, read_seq));
            }
            // Re-fragmenting, merging with itself and clipping to everything keep it.
            prop_assert_eq!(&Fragments::merge([&f, &f]), &f);
            prop_assert_eq!(&f.clipped(None, None), &f);
        }

        #[test]
        fn clipping_restricts_to_the_limits(ts in tombstones(), lo in 0u8..12, hi in 0u8..12) {
            let f = Fragments::from_tombstones(ts.clone());
            let cut = f.clipped(Some(&key(lo)), Some(&key(hi)));
            for i in 0..13u8 {
                let k = key(i);
                let want = if i >= lo && i < hi { model(&ts, &k, u64::MAX) } else { None };
                prop_assert_eq!(cut.covering_seq(&k, u64::MAX), want);
            }
            if lo <= hi {
                let want = ts.iter().any(|t| t.start < t.end && t.start <= key(hi) && t.end > key(lo));
                prop_assert_eq!(f.overlaps(&key(lo), &key(hi)), want);
            }
        }
    }

    #[test]
    fn a_tombstone_is_held_only_when_its_number_covers_all_of_it() {
        let held = Fragments::from_tombstones([
            RangeTombstone::new("a", "f", 5),
            RangeTombstone::new("f", "m", 5),
            RangeTombstone::new("c", "z", 9),
        ]);
        assert!(held.holds(&RangeTombstone::new("b", "k", 5)));
        assert!(held.holds(&RangeTombstone::new("d", "z", 9)));
        assert!(!held.holds(&RangeTombstone::new("b", "n", 5)));
        assert!(!held.holds(&RangeTombstone::new("b", "k", 6)));
        assert!(!Fragments::new().holds(&RangeTombstone::new("a", "b", 1)));
    }

    #[test]
    fn nested_and_touching_tombstones() {
        let f = Fragments::from_tombstones([
            RangeTombstone::new("a", "z", 1),
            RangeTombstone::new("c", "d", 7),
            RangeTombstone::new("d", "e", 7),
        ]);
        let pieces: Vec<_> = f
            .fragments()
            .iter()
            .map(|p| (p.start.clone(), p.end.clone(), p.seqs.clone()))
            .collect();
        assert_eq!(
            pieces,
            vec![
                (key(0), key(2), vec![1]),
                (key(2), key(4), vec![7, 1]),
                (key(4), key(25), vec![1]),
            ]
        );
        assert_eq!(f.seq_range(), Some((1, 7)));
        assert_eq!(f.tombstone_count(), 4);
    }
}
