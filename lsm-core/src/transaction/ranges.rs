//! Half-open key ranges and sets of them: the ranges a transaction scanned (its
//! read set) and the ranges it deleted (its write set).
//!
//! Every range is kept as `[start, end)`, `end` absent meaning "no upper bound":
//! an inclusive upper bound `k` becomes the exclusive `k + [0]` (the next byte
//! string after `k`), an exclusive lower bound `k` the inclusive `k + [0]`, so two
//! ranges compare with plain byte-string comparisons.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

/// The keys `k` with `start <= k < end` (`end: None`: every key from `start` on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub start: Bytes,
    pub end: Option<Bytes>,
}

/// `key + [0]`: the smallest byte string after `key`.
fn successor(key: &[u8]) -> Bytes {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    Bytes::from(next)
}

/// `a < b` for exclusive ends, `None` being above every key.
fn end_below(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    match (a, b) {
        (_, None) => a.is_some(),
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a < b,
    }
}

impl KeyRange {
    /// The range of the bounds a scan was asked for; `None` when it holds no key.
    pub fn from_bounds(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Option<KeyRange> {
        let start = match lower {
            Bound::Included(k) => Bytes::copy_from_slice(k),
            Bound::Excluded(k) => successor(k),
            Bound::Unbounded => Bytes::new(),
        };
        let end = match upper {
            Bound::Included(k) => Some(successor(k)),
            Bound::Excluded(k) => Some(Bytes::copy_from_slice(k)),
            Bound::Unbounded => None,
        };
        let range = KeyRange { start, end };
        (!range.is_empty()).then_some(range)
    }

    /// `[start, end)`.
    pub fn half_open(start: &[u8], end: &[u8]) -> KeyRange {
        KeyRange {
            start: Bytes::copy_from_slice(start),
            end: Some(Bytes::copy_from_slice(end)),
        }
    }

    fn is_empty(&self) -> bool {
        self.end
            .as_deref()
            .is_some_and(|end| end <= &self.start[..])
    }

    #[cfg(test)]
    pub fn contains(&self, key: &[u8]) -> bool {
        &self.start[..] <= key && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// Whether `key` is past the range's end (a forward walk may stop there).
    pub fn ends_before(&self, key: &[u8]) -> bool {
        self.end.as_deref().is_some_and(|end| key >= end)
    }
}

impl std::fmt::Display for KeyRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "range [\"{}\", ", self.start.escape_ascii())?;
        match &self.end {
            Some(end) if end.len() > lsm_format::MAX_KEY_LEN => write!(f, "end of keys)"),
            Some(end) => write!(f, "\"{}\")", end.escape_ascii()),
            None => write!(f, "end of keys)"),
        }
    }
}

/// A set of keys given as disjoint ranges: overlapping or touching ranges are
/// merged as they are inserted, so a transaction that scans one range many times
/// keeps one entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct RangeSet {
    /// start -> end of disjoint, non-touching ranges.
    ranges: BTreeMap<Bytes, Option<Bytes>>,
}

impl RangeSet {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Adds the keys of `range`.
    pub fn insert(&mut self, range: KeyRange) {
        let KeyRange { mut start, mut end } = range;
        let mut merged = Vec::new();
        // A range starting at or before `start` that reaches it...
        if let Some((s, e)) = self.ranges.range(..=start.clone()).next_back() {
            if e.as_deref().is_none_or(|e| e >= &start[..]) {
                if end_below(end.as_deref(), e.as_deref()) {
                    end = e.clone();
                }
                start = s.clone();
                merged.push(s.clone());
            }
        }
        // ...and every range starting within `[start, end]`.
        for (s, e) in self.ranges.range(start.clone()..) {
            if end.as_deref().is_some_and(|end| &s[..] > end) {
                break;
            }
            if end_below(end.as_deref(), e.as_deref()) {
                end = e.clone();
            }
            merged.push(s.clone());
        }
        for s in merged {
            self.ranges.remove(&s);
        }
        self.ranges.insert(start, end);
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.ranges
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .is_some_and(|(_, e)| e.as_deref().is_none_or(|e| key < e))
    }

    /// Whether some key of `[start, end)` is in the set.
    pub fn overlaps(&self, start: &[u8], end: Option<&[u8]>) -> bool {
        if end.is_some_and(|end| end <= start) {
            return false;
        }
        if self.contains(start) {
            return true;
        }
        // Otherwise only a range starting inside `(start, end)` can share a key.
        self.ranges
            .range::<[u8], _>((Bound::Excluded(start), Bound::Unbounded))
            .next()
            .is_some_and(|(s, _)| end.is_none_or(|end| &s[..] < end))
    }

    pub fn iter(&self) -> impl Iterator<Item = KeyRange> + '_ {
        self.ranges.iter().map(|(s, e)| KeyRange {
            start: s.clone(),
            end: e.clone(),
        })
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(start: &str, end: Option<&str>) -> KeyRange {
        KeyRange {
            start: Bytes::copy_from_slice(start.as_bytes()),
            end: end.map(|e| Bytes::copy_from_slice(e.as_bytes())),
        }
    }

    #[test]
    fn bounds_become_half_open_ranges() {
        let inc = KeyRange::from_bounds(Bound::Included(b"a"), Bound::Included(b"c")).unwrap();
        assert!(inc.contains(b"a") && inc.contains(b"c") && !inc.contains(b"c\0"));
        let exc = KeyRange::from_bounds(Bound::Excluded(b"a"), Bound::Excluded(b"c")).unwrap();
        assert!(!exc.contains(b"a") && exc.contains(b"a\0") && !exc.contains(b"c"));
        let all = KeyRange::from_bounds(Bound::Unbounded, Bound::Unbounded).unwrap();
        assert!(all.contains(b"") && all.contains(&[0xff; 70]));
        assert!(KeyRange::from_bounds(Bound::Included(b"b"), Bound::Excluded(b"b")).is_none());
        assert!(KeyRange::from_bounds(Bound::Included(b"c"), Bound::Included(b"a")).is_none());
        assert_eq!(inc.to_string(), "range [\"a\", \"c\\x00\")");
    }

    #[test]
    fn touching_and_overlapping_ranges_merge() {
        let mut s = RangeSet::default();
        s.insert(r("c", Some("e")));
        s.insert(r("a", Some("b")));
        s.insert(r("b", Some("c"))); // touches both
        assert_eq!(s.len(), 1);
        s.insert(r("x", None));
        s.insert(r("y", Some("z")));
        assert_eq!(s.len(), 2);
        assert!(s.contains(b"a") && s.contains(b"d") && !s.contains(b"e"));
        assert!(s.contains(b"zzz"));
        assert!(s.overlaps(b"e", Some(b"x\0")) && !s.overlaps(b"e", Some(b"x")));
    }

    proptest! {
        /// The set holds exactly the union of what was inserted, over a small
        /// alphabet where every key can be enumerated.
        #[test]
        fn set_is_the_union_of_its_ranges(
            inserts in proptest::collection::vec((0u8..6, 0u8..7), 0..8),
            probe in (0u8..6, 0u8..7),
        ) {
            let key = |i: u8| Bytes::from(vec![b'a' + i]);
            let mut set = RangeSet::default();
            let mut ranges = Vec::new();
            for (s, e) in inserts {
                let range = KeyRange {
                    start: key(s),
                    end: (e < 6).then(|| key(e)),
                };
                if !range.is_empty() {
                    set.insert(range.clone());
                    ranges.push(range);
                }
            }
            for k in 0..6 {
                let k = key(k);
                prop_assert_eq!(set.contains(&k), ranges.iter().any(|r| r.contains(&k)));
            }
            let (ps, pe) = (key(probe.0), (probe.1 < 6).then(|| key(probe.1)));
            let expected = (0..6).map(key).any(|k| {
                k[..] >= ps[..] && pe.as_deref().is_none_or(|e| &k[..] < e) && set.contains(&k)
            });
            prop_assert_eq!(set.overlaps(&ps, pe.as_deref()), expected);
            let disjoint = set.iter().collect::<Vec<_>>();
            for pair in disjoint.windows(2) {
                prop_assert!(pair[0].end.as_deref().is_some_and(|e| e < &pair[1].start[..]));
            }
        }
    }
}
