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

use lsm_format::EntryKind;

pub(crate) struct Retention {
    /// Live snapshot sequence numbers, ascending.
    snapshots: Vec<u64>,
    last_key: Option<Vec<u8>>,
    last_stripe: usize,
    /// Whether kept first-stripe puts with no deeper version are written with
    /// sequence number 0.
    zero_bottom_seqs: bool,
    pub dropped: u64,
    /// Versions whose sequence number [`Retention::keep`] rewrote to 0.
    pub zeroed: u64,
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
            dropped: 0,
            zeroed: 0,
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

    fn stripe(&self, seq: u64) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    /// The sequence number to write the entry with, or `None` when it is dropped.
    /// `bottommost(key)` answers whether no level below the output holds `key`; it is
    /// asked only about first-stripe tombstones, and about first-stripe puts when
    /// sequence numbers may be zeroed.
    pub fn keep(
        &mut self,
        key: &[u8],
        seq: u64,
        kind: EntryKind,
        bottommost: impl FnOnce(&[u8]) -> bool,
    ) -> Option<u64> {
        let stripe = self.stripe(seq);
        let same_key = self.last_key.as_deref() == Some(key);
        if same_key && stripe == self.last_stripe {
            self.dropped += 1;
            return None;
        }
        if !same_key {
            let buf = self.last_key.get_or_insert_with(Vec::new);
            buf.clear();
            buf.extend_from_slice(key);
        }
        self.last_stripe = stripe;
        let tombstone = kind == EntryKind::Tombstone;
        if stripe != 0 || !(tombstone || self.zero_bottom_seqs) || !bottommost(key) {
            return Some(seq);
        }
        if tombstone {
            self.dropped += 1;
            return None;
        }
        if seq != 0 {
            self.zeroed += 1;
        }
        Some(0)
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
                r.keep(k.as_bytes(), *s, *kind, |_| bottom)
                    .map(|seq| (k.to_string(), seq))
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
    fn zeroed_counts_only_numbers_that_changed() {
        let mut r = Retention::for_compaction(vec![], 2);
        assert_eq!(r.keep(b"a", 0, Put, |_| true), Some(0));
        assert_eq!(r.keep(b"b", 7, Put, |_| true), Some(0));
        assert_eq!(r.zeroed, 1);
    }
}
