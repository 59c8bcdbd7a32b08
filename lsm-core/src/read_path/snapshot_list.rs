//! The live snapshots, which compaction must keep readable: their sequence numbers
//! (which versions they read) and the times they were taken (at which they judge
//! expiry).

use std::collections::BTreeMap;

use parking_lot::Mutex;

#[derive(Debug, Default)]
pub(crate) struct SnapshotList {
    live: Mutex<Live>,
}

#[derive(Debug, Default)]
struct Live {
    /// Sequence number -> number of live snapshots at it.
    seqs: BTreeMap<u64, usize>,
    /// Time taken (Unix ms) -> number of live snapshots taken then.
    times: BTreeMap<u64, usize>,
}

fn add(map: &mut BTreeMap<u64, usize>, k: u64) {
    *map.entry(k).or_insert(0) += 1;
}

fn remove(map: &mut BTreeMap<u64, usize>, k: u64) {
    if let Some(n) = map.get_mut(&k) {
        *n -= 1;
        if *n == 0 {
            map.remove(&k);
        }
    }
}

impl SnapshotList {
    /// Takes a view with `view` (a super version and the sequence number it reads
    /// at) and records a snapshot at that sequence number, both under this list's
    /// lock, so that no [`retention_view`](Self::retention_view) falls between them.
    ///
    /// Otherwise a flush or compaction could read the list after the view was taken
    /// but before it was recorded, and then drop, or renumber to 0, versions newer
    /// than the snapshot: a transaction's commit check would no longer find a write
    /// numbered above its `begin`, and it would overwrite that write (a lost update).
    /// A retention view read before this call only affects versions already visible
    /// then, all at or below the view's sequence number.
    pub fn register_view<T>(&self, time_ms: u64, view: impl FnOnce() -> (T, u64)) -> (T, u64) {
        let mut live = self.live.lock();
        let (taken, seq) = view();
        add(&mut live.seqs, seq);
        add(&mut live.times, time_ms);
        (taken, seq)
    }

    /// Forgets one snapshot recorded by [`register_view`](Self::register_view) with
    /// these arguments.
    pub fn release(&self, seq: u64, time_ms: u64) {
        let mut live = self.live.lock();
        remove(&mut live.seqs, seq);
        remove(&mut live.times, time_ms);
    }

    /// What a flush or compaction must keep readable, read together: the distinct
    /// live snapshot sequence numbers, ascending, and the time up to which expired
    /// values may become tombstones: `now_ms`, or earlier when a live snapshot was
    /// taken earlier (it judges expiry at its own time; the earliest counts should
    /// the clock have moved backwards).
    pub fn retention_view(&self, now_ms: u64) -> (Vec<u64>, u64) {
        let live = self.live.lock();
        let cutoff = live.times.keys().next().map_or(now_ms, |&t| t.min(now_ms));
        (live.seqs.keys().copied().collect(), cutoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flush or compaction reading the list cannot fall between taking a view
    /// and recording its snapshot: while the view is taken the list is locked, and
    /// once the call returns the snapshot is in the list.
    #[test]
    fn a_view_and_its_snapshot_are_recorded_in_one_step() {
        let l = SnapshotList::default();
        let (view, seq) = l.register_view(100, || {
            assert!(l.live.try_lock().is_none(), "retention_view could run here");
            ("view", 42)
        });
        assert_eq!((view, seq), ("view", 42));
        assert_eq!(l.retention_view(1000), (vec![42], 100));
        l.release(42, 100);
        assert_eq!(l.retention_view(1000), (vec![], 1000));
    }

    #[test]
    fn counts_duplicates() {
        let l = SnapshotList::default();
        l.register_view(100, || ((), 5));
        l.register_view(90, || ((), 3));
        l.register_view(100, || ((), 5));
        assert_eq!(l.retention_view(1000), (vec![3, 5], 90));
        l.release(5, 100);
        assert_eq!(l.retention_view(1000), (vec![3, 5], 90));
        l.release(5, 100);
        l.release(9, 1);
        assert_eq!(l.retention_view(1000), (vec![3], 90));
    }

    #[test]
    fn the_expiry_cutoff_is_the_oldest_snapshot_time_or_now() {
        let l = SnapshotList::default();
        assert_eq!(l.retention_view(50).1, 50);
        l.register_view(40, || ((), 7));
        l.register_view(60, || ((), 3)); // a clock moved backwards: the earliest time counts
        assert_eq!(l.retention_view(50).1, 40);
        assert_eq!(l.retention_view(30).1, 30);
        l.release(7, 40);
        assert_eq!(l.retention_view(100).1, 60);
        l.release(3, 60);
        assert_eq!(l.retention_view(100), (vec![], 100));
    }
}
