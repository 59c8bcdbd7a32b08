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

use lsm_format::EntryKind;

pub(crate) struct Retention {
    /// Live snapshot sequence numbers, ascending.
    snapshots: Vec<u64>,
    last_key: Option<Vec<u8>>,
    last_stripe: usize,
    pub dropped: u64,
}

impl Retention {
    pub fn new(snapshots: Vec<u64>) -> Self {
        debug_assert!(snapshots.windows(2).all(|w| w[0] < w[1]));
        Retention {
            snapshots,
            last_key: None,
            last_stripe: 0,
            dropped: 0,
        }
    }

    fn stripe(&self, seq: u64) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    /// True when the entry must be written out. `bottommost(key)` answers whether no
    /// level below the output holds `key`; it is asked only about tombstones.
    pub fn keep(
        &mut self,
        key: &[u8],
        seq: u64,
        kind: EntryKind,
        bottommost: impl FnOnce(&[u8]) -> bool,
    ) -> bool {
        let stripe = self.stripe(seq);
        let same_key = self.last_key.as_deref() == Some(key);
        if same_key && stripe == self.last_stripe {
            self.dropped += 1;
            return false;
        }
        if !same_key {
            let buf = self.last_key.get_or_insert_with(Vec::new);
            buf.clear();
            buf.extend_from_slice(key);
        }
        self.last_stripe = stripe;
        if kind == EntryKind::Tombstone && stripe == 0 && bottommost(key) {
            self.dropped += 1;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EntryKind::{Put, Tombstone};

    /// Runs entries (given in internal order) through the filter.
    fn run(
        snapshots: Vec<u64>,
        bottom: bool,
        entries: &[(&str, u64, EntryKind)],
    ) -> Vec<(String, u64)> {
        let mut r = Retention::new(snapshots);
        entries
            .iter()
            .filter(|(k, s, kind)| r.keep(k.as_bytes(), *s, *kind, |_| bottom))
            .map(|(k, s, _)| (k.to_string(), *s))
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
}
