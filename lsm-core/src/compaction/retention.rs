//! Which versions a compaction (or flush) keeps: a pure filter over entries arriving
//! in internal order.
//!
//! Live snapshots `s1 < s2 < ... < sk` cut the sequence numbers into *stripes*: the
//! stripe of a version with sequence number `v` is the first snapshot `>= v` (or
//! "latest" after the last). A reader at any snapshot sees, per key, the newest
//! version at or below it, so within one stripe only the newest version of a key can
//! ever be read: every older version of the key in the same stripe is dropped.
//!
//! A tombstone is dropped too when it is in the first stripe (no snapshot predates
//! it, so every older version of its key is in the same stripe and dropped with it)
//! and no deeper level holds its key (`bottommost`): then nothing remains for it to
//! hide.
//!
//! For the same reason a put in the first stripe with no deeper version of its key
//! may have its sequence number rewritten to 0 when the output is not level 0
//! ([`Retention::for_compaction`]): it is the oldest version of its key the tree
//! keeps, every reader at every snapshot already sees it, and 0 keeps it last among
//! its key's versions. Nothing reads a sequence number for anything else below level
//! 0 (level-0 files are ordered by theirs, so flushes keep them). The point is size:
//! with every tag the same, LZ4 folds the tag into the match of the key suffix
//! before it, about 5 bytes less per entry in a bottom level (RocksDB does the same).
//!
//! Range tombstones follow the same stripes. A version is dropped when a range
//! tombstone of the inputs covers it from the same stripe (every reader that could
//! see the version sees the tombstone too). Per piece of key space only the newest
//! tombstone of each stripe is kept, and first-stripe tombstones go when no deeper
//! level holds a key of their piece. A version under any range tombstone keeps its
//! sequence number: renumbered to 0 it would fall under tombstones it is newer than.
//!
//! Expiry and the compaction filter change what a version *is* before the rules
//! above see it, always at the version's own sequence number, so they never
//! uncover an older version:
//! - an expiring put expired at the *cutoff* (`min(now, the oldest live snapshot's
//!   time)`: no reader, present or at a snapshot, can see it as a value) is a
//!   tombstone (`crate::clock::meaning` is the rule), and goes like one;
//! - the compaction filter (`super::filter`) is offered the newest version of a
//!   key in the compaction when it is a live value in the last stripe (newer than
//!   every snapshot) that no range tombstone covers; `Remove` makes it a tombstone,
//!   `ChangeValue` replaces the value (an expiring put keeps its expiry).
//!
//! Neither an expiring put nor a value the filter changed is renumbered to 0: open
//! recognises the version-0 entries of an unlisted compaction output as held only
//! when the recovered state has a plain put of the same value, or one the filter
//! turns into it (`recovery::file_audit`).
//! A compaction with a filter renumbers nothing: the filter may change or remove
//! a version at 0 in any later compaction, and the audit can retrace that only by
//! asking the filter again at open, which a filter that depends on time or state
//! answers differently (open would then refuse). Only versions renumbered before
//! a filter was configured depend on that.

use std::sync::Arc;

use lsm_format::entry::encode_expiring;
use lsm_format::range_del::Fragments;
use lsm_format::EntryKind;

use super::filter::{CompactionFilter, FilterDecision};
use crate::clock::{expires_at, meaning, Meaning};

/// What becomes of a kept entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Kept {
    /// The sequence number to write it with.
    pub seq: u64,
    /// Its kind: the input's, or [`EntryKind::Tombstone`] for an expired or
    /// filtered-out value.
    pub kind: EntryKind,
    /// The stored value to write instead of the input's (empty for a tombstone
    /// made here); `None` keeps the input's.
    pub value: Option<Vec<u8>>,
}

/// The compaction filter and what it is told.
struct FilterHook {
    filter: Arc<dyn CompactionFilter>,
    level: usize,
    /// Offered values must be live at this time (Unix ms).
    now_ms: u64,
}

pub(crate) struct Retention {
    /// Live snapshot sequence numbers, ascending.
    snapshots: Vec<u64>,
    last_key: Option<Vec<u8>>,
    last_stripe: usize,
    /// Whether kept first-stripe puts with no deeper version are written with
    /// sequence number 0.
    zero_bottom_seqs: bool,
    /// Range tombstones of the inputs, all of them.
    range_tombstones: Fragments,
    /// Expiring puts expired at this time (Unix ms) become tombstones; `None`
    /// leaves them as they are.
    expiry_cutoff_ms: Option<u64>,
    filter: Option<FilterHook>,
    /// What it dropped, rewrote and changed so far.
    pub counts: RetentionCounts,
}

/// What a filter did, or several together: the filters of the key ranges of one
/// compaction count as one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RetentionCounts {
    /// Versions dropped.
    pub dropped: u64,
    /// Versions dropped because a range tombstone covers them (in `dropped` too).
    pub dropped_by_range: u64,
    /// Versions whose sequence number [`Retention::keep`] rewrote to 0.
    pub zeroed: u64,
    /// Expired expiring puts turned into tombstones (some then dropped).
    pub expired: u64,
    /// Values the compaction filter removed.
    pub filter_removed: u64,
    /// Values the compaction filter changed.
    pub filter_changed: u64,
}

impl RetentionCounts {
    /// Adds the counts `r`.
    pub fn add(&mut self, r: &RetentionCounts) {
        self.dropped += r.dropped;
        self.dropped_by_range += r.dropped_by_range;
        self.zeroed += r.zeroed;
        self.expired += r.expired;
        self.filter_removed += r.filter_removed;
        self.filter_changed += r.filter_changed;
    }

    /// Adds these counts to the engine's counters.
    pub fn count(&self, metrics: &crate::metrics::Metrics) {
        use crate::metrics::bump;
        bump(&metrics.expired_versions, self.expired);
        bump(&metrics.filter_removed, self.filter_removed);
        bump(&metrics.filter_changed, self.filter_changed);
        bump(&metrics.dropped_by_range, self.dropped_by_range);
    }
}

impl Retention {
    /// The filter of a flush: versions keep their sequence numbers.
    pub fn new(snapshots: Vec<u64>) -> Self {
        debug_assert!(snapshots.is_sorted_by(|a, b| a < b));
        Retention {
            snapshots,
            last_key: None,
            last_stripe: 0,
            zero_bottom_seqs: false,
            range_tombstones: Fragments::new(),
            expiry_cutoff_ms: None,
            filter: None,
            counts: RetentionCounts::default(),
        }
    }

    /// The filter of a compaction into `output_level`: below level 0 the oldest kept
    /// version of a key is written with sequence number 0 when nothing can tell it
    /// from 0 (see the module documentation).
    pub fn for_compaction(snapshots: Vec<u64>, output_level: usize) -> Self {
        Retention {
            zero_bottom_seqs: output_level > 0,
            ..Retention::new(snapshots)
        }
    }

    /// The same filter, aware of the range tombstones of its inputs.
    pub fn with_range_tombstones(mut self, tombstones: Fragments) -> Self {
        self.range_tombstones = tombstones;
        self
    }

    /// The same filter, turning expiring puts expired at `cutoff_ms` (Unix ms) into
    /// tombstones: the caller passes `min(now, the oldest live snapshot's time)`.
    pub fn with_expiry_cutoff(mut self, cutoff_ms: u64) -> Self {
        self.expiry_cutoff_ms = Some(cutoff_ms);
        self
    }

    /// The same filter, offering values to `filter` for a compaction into `level`;
    /// an expiring put is offered only while live at `now_ms`.
    pub fn with_filter(
        mut self,
        filter: Option<Arc<dyn CompactionFilter>>,
        level: usize,
        now_ms: u64,
    ) -> Self {
        self.filter = filter.map(|filter| FilterHook {
            filter,
            level,
            now_ms,
        });
        // Open's audit recognises a version-0 entry only as a plain put of the same
        // value: under a filter, which may change or remove a value in any later
        // compaction, nothing is renumbered to 0.
        self.zero_bottom_seqs &= self.filter.is_none();
        self
    }

    /// Adds what this filter did to the engine's counters.
    pub fn count(&self, metrics: &crate::metrics::Metrics) {
        self.counts.count(metrics);
    }

    /// The range tombstones to write out: per piece, the newest of each stripe;
    /// first-stripe ones go where `bottommost(start, end)` says no deeper level
    /// holds a key of the piece.
    pub fn kept_range_tombstones(
        &self,
        mut bottommost: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Fragments {
        let mut last: Option<(bytes::Bytes, usize)> = None;
        self.range_tombstones.retain(|piece, seq| {
            let stripe = self.stripe(seq);
            // Seqs of a piece arrive newest first: a second one in a stripe is
            // shadowed by the first.
            let id = (piece.start.clone(), stripe);
            if last.as_ref() == Some(&id) {
                return false;
            }
            last = Some(id);
            !(stripe == 0 && bottommost(&piece.start, &piece.end))
        })
    }

    /// True when a range tombstone of the inputs covers `key`'s version at `seq`
    /// from the same stripe.
    fn covered(&self, key: &[u8], seq: u64, stripe: usize) -> bool {
        let Some(piece) = self.range_tombstones.fragment_at(key) else {
            return false;
        };
        // The oldest tombstone newer than the version: if even it lies in a later
        // stripe, so do all the others.
        let oldest_newer = piece.seqs.iter().rev().find(|&&t| t > seq);
        oldest_newer.is_some_and(|&t| self.stripe(t) == stripe)
    }

    fn stripe(&self, seq: u64) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    /// What to write for the entry, or `None` when it is dropped. `value` is its
    /// stored value. `bottommost(key)` answers whether no level below the output
    /// holds `key`; it is asked only about first-stripe tombstones, about
    /// first-stripe puts when sequence numbers may be zeroed, and for values
    /// offered to the compaction filter.
    pub fn keep(
        &mut self,
        key: &[u8],
        seq: u64,
        kind: EntryKind,
        value: &[u8],
        mut bottommost: impl FnMut(&[u8]) -> bool,
    ) -> Option<Kept> {
        let stripe = self.stripe(seq);
        let same_key = self.last_key.as_deref() == Some(key);
        if same_key && stripe == self.last_stripe {
            self.counts.dropped += 1;
            return None;
        }
        if !same_key {
            let buf = self.last_key.get_or_insert_with(Vec::new);
            buf.clear();
            buf.extend_from_slice(key);
        }
        self.last_stripe = stripe;
        if self.covered(key, seq, stripe) {
            self.counts.dropped += 1;
            self.counts.dropped_by_range += 1;
            return None;
        }
        let mut bottom = None;
        let mut is_bottom = |key: &[u8]| *bottom.get_or_insert_with(|| bottommost(key));
        let mut kept = Kept {
            seq,
            kind,
            value: None,
        };
        let expired = self.expiry_cutoff_ms.is_some_and(|cutoff| {
            meaning(kind, value, cutoff) == Meaning::Absent { expired: true }
        });
        if expired {
            self.counts.expired += 1;
            kept.kind = EntryKind::Tombstone;
            kept.value = Some(Vec::new());
        } else if !same_key && stripe == self.snapshots.len() {
            // A blob pointer passes through unchanged: the filter would be shown the
            // pointer, not the value.
            let filterable = kind != EntryKind::BlobPointer;
            if let Some(hook) = self.filter.as_ref().filter(|_| filterable) {
                if let Meaning::Value(user_value) = meaning(kind, value, hook.now_ms) {
                    let decision = hook
                        .filter
                        .filter(hook.level, key, user_value, is_bottom(key));
                    match decision {
                        FilterDecision::Keep => {}
                        FilterDecision::Remove => {
                            self.counts.filter_removed += 1;
                            kept.kind = EntryKind::Tombstone;
                            kept.value = Some(Vec::new());
                        }
                        FilterDecision::ChangeValue(new) => {
                            self.counts.filter_changed += 1;
                            kept.value = Some(match expires_at(kind, value) {
                                Some(t) => encode_expiring(t, &new),
                                None => new,
                            });
                        }
                    }
                }
            }
        }
        let tombstone = kept.kind == EntryKind::Tombstone;
        // Only plain puts the filter left alone are renumbered: open's audit of an
        // unlisted output (`recovery/file_audit.rs`) recognises a version 0 by kind
        // and value, and the recovered state holds neither an expiring put's kind
        // nor a changed value at 0.
        let zero = self.zero_bottom_seqs
            && kept.kind == EntryKind::Put
            && kept.value.is_none()
            && self.range_tombstones.fragment_at(key).is_none();
        if stripe != 0 || !(tombstone || zero) || !is_bottom(key) {
            return Some(kept);
        }
        if tombstone {
            self.counts.dropped += 1;
            return None;
        }
        if seq != 0 {
            self.counts.zeroed += 1;
        }
        kept.seq = 0;
        Some(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EntryKind::{Put, Tombstone};

    /// Runs entries (given in internal order) through the filter of a flush.
    fn run(
        snapshots: Vec<u64>,
        bottom: bool,
        entries: &[(&str, u64, EntryKind)],
    ) -> Vec<(String, u64)> {
        run_with(Retention::new(snapshots), bottom, entries)
    }

    fn run_with(
        mut r: Retention,
        bottom: bool,
        entries: &[(&str, u64, EntryKind)],
    ) -> Vec<(String, u64)> {
        entries
            .iter()
            .filter_map(|(k, s, kind)| {
                r.keep(k.as_bytes(), *s, *kind, b"", |_| bottom)
                    .map(|kept| (k.to_string(), kept.seq))
            })
            .collect()
    }

    fn kept(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(k, s)| (k.to_string(), *s)).collect()
    }

    #[test]
    fn without_snapshots_only_the_newest_version_survives() {
        let e = [
            ("a", 9, Put),
            ("a", 5, Put),
            ("a", 2, Tombstone),
            ("b", 4, Put),
        ];
        assert_eq!(run(vec![], false, &e), kept(&[("a", 9), ("b", 4)]));
    }

    #[test]
    fn snapshots_keep_the_newest_version_of_each_stripe() {
        let e = [
            ("a", 9, Put),
            ("a", 7, Put),
            ("a", 5, Put),
            ("a", 3, Put),
            ("a", 1, Put),
        ];
        // Stripes: <=4 | 5..=7 | latest.
        assert_eq!(
            run(vec![4, 7], false, &e),
            kept(&[("a", 9), ("a", 7), ("a", 3)])
        );
        // A snapshot exactly at a version keeps that version.
        assert_eq!(run(vec![5], false, &e), kept(&[("a", 9), ("a", 5)]));
    }

    #[test]
    fn tombstones_go_only_at_the_bottom_and_before_every_snapshot() {
        let e = [("a", 6, Tombstone), ("a", 3, Put), ("b", 2, Tombstone)];
        assert_eq!(run(vec![], true, &e), kept(&[]));
        assert_eq!(run(vec![], false, &e), kept(&[("a", 6), ("b", 2)]));
        // A snapshot at 4 still sees a@3: the tombstone at 6 must stay to hide it
        // from newer readers; b's tombstone precedes the snapshot and goes.
        assert_eq!(run(vec![4], true, &e), kept(&[("a", 6), ("a", 3)]));
    }

    #[test]
    fn below_level_0_the_oldest_kept_version_at_the_bottom_gets_sequence_number_0() {
        let e = [
            ("a", 9, Put),
            ("a", 5, Put),
            ("a", 2, Put),
            ("b", 4, Tombstone),
            ("b", 3, Put),
            ("c", 6, Put),
        ];
        // No snapshot: one version per key, and it is the oldest: all zeroed; the
        // tombstone goes as before.
        assert_eq!(
            run_with(Retention::for_compaction(vec![], 1), true, &e),
            kept(&[("a", 0), ("c", 0)])
        );
        // A snapshot at 5 splits a: a@9 keeps its number (a reader at 5 must not
        // see it), a@5 is the oldest kept and every reader sees it.
        assert_eq!(
            run_with(Retention::for_compaction(vec![5], 1), true, &e),
            kept(&[("a", 9), ("a", 0), ("c", 6)])
        );
        // A deeper level holds the keys: numbers stay, so the versions keep
        // shadowing the deeper ones.
        assert_eq!(
            run_with(Retention::for_compaction(vec![], 1), false, &e),
            kept(&[("a", 9), ("b", 4), ("c", 6)])
        );
        // Into level 0 (and in a flush) nothing is renumbered.
        assert_eq!(
            run_with(Retention::for_compaction(vec![], 0), true, &e),
            kept(&[("a", 9), ("c", 6)])
        );
        assert_eq!(run(vec![], true, &e), kept(&[("a", 9), ("c", 6)]));
    }

    #[test]
    fn range_tombstones_drop_what_they_cover_within_a_stripe() {
        use lsm_format::range_del::RangeTombstone;
        let ts = || Fragments::from_tombstones([RangeTombstone::new("a", "c", 6)]);
        let e = [("a", 8, Put), ("a", 5, Put), ("b", 3, Put), ("c", 2, Put)];
        // No snapshot: a@5 and b@3 are covered; a@8 is newer; c is past the end.
        let r = Retention::new(vec![]).with_range_tombstones(ts());
        assert_eq!(run_with(r, false, &e), kept(&[("a", 8), ("c", 2)]));
        // A snapshot at 4 sees b@3 (the tombstone is newer than it), not a@5.
        let r = Retention::new(vec![4]).with_range_tombstones(ts());
        assert_eq!(
            run_with(r, false, &e),
            kept(&[("a", 8), ("b", 3), ("c", 2)])
        );
        // Versions under a tombstone keep their numbers below level 0.
        let r = Retention::for_compaction(vec![], 1).with_range_tombstones(ts());
        assert_eq!(run_with(r, true, &e), kept(&[("a", 8), ("c", 0)]));
    }

    #[test]
    fn range_tombstones_keep_the_newest_of_each_stripe_and_go_at_the_bottom() {
        use lsm_format::range_del::RangeTombstone;
        let ts = Fragments::from_tombstones([
            RangeTombstone::new("a", "m", 3),
            RangeTombstone::new("a", "m", 5),
            RangeTombstone::new("a", "m", 9),
        ]);
        let seqs = |f: Fragments| f.tombstones().map(|t| t.seq).collect::<Vec<_>>();
        let r = Retention::new(vec![4]).with_range_tombstones(ts.clone());
        assert_eq!(seqs(r.kept_range_tombstones(|_, _| false)), [9, 3]);
        // At the bottom the first stripe's goes; the one a snapshot needs stays.
        assert_eq!(seqs(r.kept_range_tombstones(|_, _| true)), [9]);
        let r = Retention::new(vec![]).with_range_tombstones(ts);
        assert_eq!(seqs(r.kept_range_tombstones(|_, _| false)), [9]);
        assert!(r.kept_range_tombstones(|_, _| true).is_empty());
    }

    #[test]
    fn zeroed_counts_only_numbers_that_changed() {
        let mut r = Retention::for_compaction(vec![], 2);
        let seq = |k: Option<Kept>| k.map(|k| k.seq);
        assert_eq!(seq(r.keep(b"a", 0, Put, b"", |_| true)), Some(0));
        assert_eq!(seq(r.keep(b"b", 7, Put, b"", |_| true)), Some(0));
        assert_eq!(r.counts.zeroed, 1);
    }

    use lsm_format::entry::encode_expiring;
    use EntryKind::ExpiringPut;

    /// Runs `(key, seq, kind, stored value)` entries through `r`: what is written.
    fn run_values(
        r: &mut Retention,
        bottom: bool,
        entries: &[(&str, u64, EntryKind, Vec<u8>)],
    ) -> Vec<(String, u64, EntryKind, Vec<u8>)> {
        entries
            .iter()
            .filter_map(|(k, s, kind, v)| {
                r.keep(k.as_bytes(), *s, *kind, v, |_| bottom).map(|kept| {
                    let value = kept.value.unwrap_or_else(|| v.clone());
                    (k.to_string(), kept.seq, kept.kind, value)
                })
            })
            .collect()
    }

    #[test]
    fn expired_values_become_tombstones_at_their_own_sequence_number() {
        let exp = |t: u64| encode_expiring(t, b"v");
        let e = [
            ("a", 9, ExpiringPut, exp(100)),
            ("a", 5, Put, b"old".to_vec()),
            ("b", 4, ExpiringPut, exp(300)),
        ];
        // At 200: a@9 expired, a tombstone hiding a@5 (dropped, same stripe); b lives.
        let mut r = Retention::new(vec![]).with_expiry_cutoff(200);
        assert_eq!(
            run_values(&mut r, false, &e),
            [
                ("a".into(), 9, Tombstone, vec![]),
                ("b".into(), 4, ExpiringPut, exp(300))
            ]
        );
        assert_eq!(r.counts.expired, 1);
        // At the bottom the tombstone goes with what it hid.
        let mut r = Retention::new(vec![]).with_expiry_cutoff(200);
        assert_eq!(run_values(&mut r, true, &e).len(), 1);
        // A snapshot at 6 reads a@5: the tombstone stays to hide it from newer
        // readers, even at the bottom.
        let mut r = Retention::new(vec![6]).with_expiry_cutoff(200);
        let out = run_values(&mut r, true, &e);
        assert_eq!(out.first().map(|o| (o.1, o.2)), Some((9, Tombstone)));
        assert_eq!(out.get(1).map(|o| o.1), Some(5));
        // Without a cutoff (or before the expiry) nothing changes.
        let mut r = Retention::new(vec![]).with_expiry_cutoff(100 - 1);
        assert_eq!(
            run_values(&mut r, false, &e).first().map(|o| o.2),
            Some(ExpiringPut)
        );
    }

    /// A filter that records offers and removes `drop`, upper-cases `up`.
    /// One offer: level, key, value, bottom.
    type Offer = (usize, String, Vec<u8>, bool);

    struct Rec(parking_lot::Mutex<Vec<Offer>>);

    impl CompactionFilter for Rec {
        fn filter(&self, level: usize, key: &[u8], value: &[u8], bottom: bool) -> FilterDecision {
            let k = String::from_utf8_lossy(key).into_owned();
            self.0
                .lock()
                .push((level, k.clone(), value.to_vec(), bottom));
            match k.as_str() {
                "drop" => FilterDecision::Remove,
                "up" => FilterDecision::ChangeValue(value.to_ascii_uppercase()),
                _ => FilterDecision::Keep,
            }
        }
    }

    #[test]
    fn the_filter_sees_only_the_newest_live_value_above_every_snapshot() {
        use lsm_format::range_del::RangeTombstone;
        let rec = Arc::new(Rec(parking_lot::Mutex::new(Vec::new())));
        let e = [
            ("covered", 6, Put, b"c".to_vec()),
            ("drop", 9, Put, b"d9".to_vec()),
            ("drop", 2, Put, b"d2".to_vec()),
            ("expired", 8, ExpiringPut, encode_expiring(10, b"x")),
            ("old", 4, Put, b"o".to_vec()),
            ("up", 7, ExpiringPut, encode_expiring(1_000, b"u")),
        ];
        let tombstones = Fragments::from_tombstones([RangeTombstone::new("covered", "d", 7)]);
        // A snapshot at 5: "old"@4 and "drop"@2 are readable by it; "covered"@6 is
        // under a range tombstone of its own stripe.
        let mut r = Retention::for_compaction(vec![5], 2)
            .with_range_tombstones(tombstones)
            .with_expiry_cutoff(50)
            .with_filter(Some(rec.clone()), 2, 50);
        let out = run_values(&mut r, true, &e);
        let offered: Vec<_> = rec.0.lock().iter().map(|o| o.1.clone()).collect();
        assert_eq!(offered, ["drop", "up"]);
        assert_eq!(
            rec.0.lock().get(1).map(|o| o.2.clone()),
            Some(b"u".to_vec())
        );
        assert!(rec.0.lock().iter().all(|o| o.0 == 2 && o.3));
        assert_eq!(
            out,
            [
                // Removed: a tombstone at 9 (a snapshot still reads drop@2 below).
                ("drop".into(), 9, Tombstone, vec![]),
                // Under a filter, no version goes to 0.
                ("drop".into(), 2, Put, b"d2".to_vec()),
                // Expired (at 10, before the cutoff): a tombstone at its number.
                ("expired".into(), 8, Tombstone, vec![]),
                ("old".into(), 4, Put, b"o".to_vec()),
                // Changed: same sequence number, same expiry.
                ("up".into(), 7, ExpiringPut, encode_expiring(1_000, b"U")),
            ]
        );
        assert_eq!(
            (
                r.counts.filter_removed,
                r.counts.filter_changed,
                r.counts.expired
            ),
            (1, 1, 1)
        );
        assert_eq!(r.counts.dropped_by_range, 1);
    }

    #[test]
    fn only_plain_unchanged_puts_are_renumbered_to_0() {
        let rec = Arc::new(Rec(parking_lot::Mutex::new(Vec::new())));
        let e = [
            ("e", 4, ExpiringPut, encode_expiring(1_000, b"v")),
            ("p", 5, Put, b"p".to_vec()),
            ("up", 6, Put, b"u".to_vec()),
        ];
        let mut r = Retention::for_compaction(vec![], 1)
            .with_expiry_cutoff(50)
            .with_filter(Some(rec), 1, 50);
        let seqs: Vec<u64> = run_values(&mut r, true, &e).iter().map(|o| o.1).collect();
        // Under a filter nothing goes to 0 (it may change the value later).
        assert_eq!(seqs, [4, 5, 6]);
        let mut r = Retention::for_compaction(vec![], 1).with_expiry_cutoff(50);
        let seqs: Vec<u64> = run_values(&mut r, true, &e).iter().map(|o| o.1).collect();
        assert_eq!(seqs, [4, 0, 0]);
    }
}
