//! A deterministic compaction filter for the model test, and the tolerance it
//! needs: a filter acts only when a compaction runs, so a key it may touch reads as
//! the model's value, absent (a removal) or the filter's result of the model's value.

use std::collections::HashMap;

use lsm_core::{CompactionFilter, FilterDecision};

use super::keys::{key, KEY_SPACE};
use super::model::Pairs;

/// What the filter appends to a value it changes.
const MARK: &[u8] = b"#filtered";

/// Removes the even-length values of keys whose number is a multiple of 7 and
/// appends [`MARK`] to the values of keys whose number is a multiple of 5 (and not
/// of 7); keeps everything else.
#[derive(Debug)]
pub struct TestFilter {
    numbers: HashMap<Vec<u8>, u8>,
}

impl Default for TestFilter {
    fn default() -> Self {
        TestFilter {
            numbers: (0..KEY_SPACE).map(|i| (key(i), i)).collect(),
        }
    }
}

impl TestFilter {
    /// The decision for `key` holding `value` (the filter's own rule).
    pub fn decide(&self, key: &[u8], value: &[u8]) -> FilterDecision {
        let Some(&i) = self.numbers.get(key) else {
            return FilterDecision::Keep;
        };
        if i.is_multiple_of(7) {
            if value.len().is_multiple_of(2) {
                FilterDecision::Remove
            } else {
                FilterDecision::Keep
            }
        } else if i.is_multiple_of(5) && !value.ends_with(MARK) {
            let mut v = value.to_vec();
            v.extend_from_slice(MARK);
            FilterDecision::ChangeValue(v)
        } else {
            FilterDecision::Keep
        }
    }

    /// True when a read of `key` giving `got` is consistent with the model's `want`:
    /// equal, or what the filter makes of `want`.
    pub fn accepts(&self, key: &[u8], want: Option<&[u8]>, got: Option<&[u8]>) -> bool {
        if got == want {
            return true;
        }
        let Some(w) = want else { return false };
        match (self.decide(key, w), got) {
            (FilterDecision::Remove, None) => true,
            (FilterDecision::ChangeValue(c), Some(g)) => c == g,
            _ => false,
        }
    }

    /// `got` (a scan's pairs, ascending) with every deviation from `want` that the
    /// filter explains undone, so that it compares exactly with `want`.
    pub fn loosen(&self, got: &Pairs, want: &Pairs) -> Pairs {
        let wanted: HashMap<&[u8], &[u8]> = want
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        let mut out: Pairs = got
            .iter()
            .map(|(k, g)| match wanted.get(k.as_slice()) {
                Some(w) if self.accepts(k, Some(w), Some(g)) => (k.clone(), w.to_vec()),
                _ => (k.clone(), g.clone()),
            })
            .collect();
        let present: std::collections::HashSet<&[u8]> =
            got.iter().map(|(k, _)| k.as_slice()).collect();
        let restored: Pairs = want
            .iter()
            .filter(|(k, w)| !present.contains(k.as_slice()) && self.accepts(k, Some(w), None))
            .cloned()
            .collect();
        if !restored.is_empty() {
            out.extend(restored);
            out.sort();
        }
        out
    }
}

impl CompactionFilter for TestFilter {
    fn filter(&self, _level: usize, key: &[u8], value: &[u8], _bottom: bool) -> FilterDecision {
        self.decide(key, value)
    }

    fn name(&self) -> &str {
        "TestFilter"
    }
}
