//! Merging cursors: many sorted sources read as one, by a binary heap of the
//! children's current entries. The direction is fixed by the last seek (see the
//! contract in `iter/mod.rs`): a min-heap going forward, a max-heap going backward.
//!
//! Sources never hold the same `(key, seq)` twice, so the order is total; ties (which
//! would be a bug elsewhere) go to the child listed first, the newest source.

use std::cmp::Ordering;

use bytes::Bytes;
use lsm_format::EntryKind;

use super::Cursor;
use crate::error::Result;

pub(crate) struct MergeCursor {
    children: Vec<Box<dyn Cursor>>,
    /// Indices of the valid children, heap-ordered: `heap[0]` is the current entry.
    heap: Vec<usize>,
    /// Heap position (1 or 2) of the better of the top's two children, when known:
    /// what the top must still come before after a step. It stays right while the
    /// heap below the top is unchanged, which a step that leaves the same child on
    /// top (a run of keys from one source) does not change; every other change of
    /// the heap forgets it.
    runner_up: Option<usize>,
    forward: bool,
}

impl MergeCursor {
    /// Children listed newest source first.
    pub fn new(children: Vec<Box<dyn Cursor>>) -> Self {
        MergeCursor {
            heap: Vec::with_capacity(children.len()),
            runner_up: None,
            children,
            forward: true,
        }
    }

    /// True when child `a` comes before child `b` in the cursor's direction.
    #[allow(
        clippy::indexing_slicing,
        reason = "every index in `heap` comes from `0..children.len()`, and `children` never changes length"
    )]
    fn before(&self, a: usize, b: usize) -> bool {
        let (ca, cb) = (&self.children[a], &self.children[b]);
        // The internal order (`compare_internal`), with the sequence numbers read
        // only when the keys tie: each accessor is a virtual call into the child,
        // and the children's current keys nearly always differ, so a scan step
        // makes two such calls fewer per comparison (`docs/perf-log.md`).
        let ord = match ca.key().cmp(cb.key()) {
            Ordering::Equal => cb.seq().cmp(&ca.seq()),
            ord => ord,
        };
        let ord = if self.forward { ord } else { ord.reverse() };
        match ord {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => a < b,
        }
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "`heap[l]` and `heap[r]` are read only once checked against the heap's length, and `heap[best]` then too: `best` is `i < l` or a checked child"
    )]
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.before(self.heap[l], self.heap[best]) {
                best = l;
            }
            if r < n && self.before(self.heap[r], self.heap[best]) {
                best = r;
            }
            if best == i {
                return;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }

    /// Positions every child with `f`, then rebuilds the heap.
    fn reposition(
        &mut self,
        forward: bool,
        mut f: impl FnMut(&mut Box<dyn Cursor>) -> Result<()>,
    ) -> Result<()> {
        self.heap.clear();
        self.runner_up = None;
        self.forward = forward;
        for child in &mut self.children {
            f(child)?;
        }
        self.heap.extend(
            self.children
                .iter()
                .enumerate()
                .filter(|(_, child)| child.valid())
                .map(|(i, _)| i),
        );
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
        Ok(())
    }

    fn step(&mut self) -> Result<()> {
        let Some(child) = self
            .heap
            .first()
            .and_then(|&top| self.children.get_mut(top))
        else {
            return Ok(());
        };
        let r = if self.forward {
            child.next()
        } else {
            child.prev()
        };
        let valid = child.valid();
        if let Err(e) = r {
            self.heap.clear();
            self.runner_up = None;
            return Err(e);
        }
        if !valid {
            self.heap.swap_remove(0);
            self.runner_up = None;
            self.sift_down(0);
            return Ok(());
        }
        self.settle_top();
        Ok(())
    }

    /// Restores the heap after the top child moved one entry (and is still valid).
    /// The same as `sift_down(0)`, but compares the top with the remembered runner-up
    /// only: one comparison instead of two while the top keeps winning, each a pair
    /// of virtual calls into the children and a key comparison.
    #[allow(
        clippy::indexing_slicing,
        reason = "`runner_up` is 1, or 2 only when the heap holds more than 2, and is forgotten whenever the heap shrinks"
    )]
    fn settle_top(&mut self) {
        let n = self.heap.len();
        if n < 2 {
            return;
        }
        let runner_up = match self.runner_up {
            Some(p) => p,
            None => {
                let p = if n > 2 && self.before(self.heap[2], self.heap[1]) {
                    2
                } else {
                    1
                };
                self.runner_up = Some(p);
                p
            }
        };
        if self.before(self.heap[0], self.heap[runner_up]) {
            return;
        }
        // The runner-up comes before the rest of the heap: it becomes the top, and
        // the old top sinks into its place.
        self.heap.swap(0, runner_up);
        self.runner_up = None;
        self.sift_down(runner_up);
    }

    fn top(&self) -> Option<&dyn Cursor> {
        self.heap
            .first()
            .and_then(|&i| self.children.get(i))
            .map(|child| &**child)
    }
}

impl Cursor for MergeCursor {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.reposition(true, |c| c.seek(key, seq))
    }
    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.reposition(false, |c| c.seek_for_prev(key, seq))
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.reposition(true, |c| c.seek_to_first())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.reposition(false, |c| c.seek_to_last())
    }
    fn next(&mut self) -> Result<()> {
        debug_assert!(self.forward, "next on a backward merge cursor");
        self.step()
    }
    fn prev(&mut self) -> Result<()> {
        debug_assert!(!self.forward, "prev on a forward merge cursor");
        self.step()
    }
    fn valid(&self) -> bool {
        !self.heap.is_empty()
    }
    fn key(&self) -> &[u8] {
        self.top().map_or(&[], |c| c.key())
    }
    fn seq(&self) -> u64 {
        self.top().map_or(0, |c| c.seq())
    }
    fn kind(&self) -> EntryKind {
        self.top().map_or(EntryKind::Tombstone, |c| c.kind())
    }
    fn value(&self) -> Bytes {
        self.top().map_or_else(Bytes::new, |c| c.value())
    }
    fn shared_key(&self) -> Option<Bytes> {
        self.top().and_then(|c| c.shared_key())
    }
    fn max_seq_in(&self, from: &[u8], to: &[u8]) -> u64 {
        let seqs = self.children.iter().map(|c| c.max_seq_in(from, to));
        seqs.max().unwrap_or(0)
    }
    /// Skips every child that can (see [`Cursor::skip_older`]); the heap is rebuilt
    /// only when one moved.
    fn skip_older(&mut self, end: &[u8], seq: u64) -> Result<()> {
        debug_assert!(self.forward);
        let skips = |c: &dyn Cursor| c.valid() && c.key() < end && c.max_seq_in(c.key(), end) < seq;
        if !self.children.iter().any(|c| skips(&**c)) {
            return Ok(());
        }
        self.reposition(true, |c| c.skip_older(end, seq))
    }
    fn skip_older_back(&mut self, start: &[u8], seq: u64) -> Result<()> {
        debug_assert!(!self.forward);
        let skips =
            |c: &dyn Cursor| c.valid() && c.key() >= start && c.max_seq_in(start, c.key()) < seq;
        if !self.children.iter().any(|c| skips(&**c)) {
            return Ok(());
        }
        self.reposition(false, |c| c.skip_older_back(start, seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_path::iter::vec_cursor::{put, VecCursor};
    use lsm_format::entry::compare_internal;

    fn merged(sources: Vec<Vec<(Bytes, u64, EntryKind, Bytes)>>) -> MergeCursor {
        MergeCursor::new(
            sources
                .into_iter()
                .map(|s| Box::new(VecCursor::new(s)) as Box<dyn Cursor>)
                .collect(),
        )
    }

    fn collect_fwd(c: &mut MergeCursor) -> Vec<(Bytes, u64)> {
        let mut out = Vec::new();
        while c.valid() {
            out.push((c.key_bytes(), c.seq()));
            c.next().unwrap();
        }
        out
    }

    fn collect_back(c: &mut MergeCursor) -> Vec<(Bytes, u64)> {
        let mut out = Vec::new();
        while c.valid() {
            out.push((c.key_bytes(), c.seq()));
            c.prev().unwrap();
        }
        out
    }

    #[test]
    fn merges_in_internal_order_both_directions() {
        let mut c = merged(vec![
            vec![put("b", 9, "x"), put("d", 8, "x")],
            vec![put("a", 1, "x"), put("b", 2, "x"), put("e", 3, "x")],
            vec![],
            vec![put("b", 5, "x"), put("c", 4, "x")],
        ]);
        c.seek_to_first().unwrap();
        let fwd = collect_fwd(&mut c);
        let want: Vec<(Bytes, u64)> = [
            ("a", 1),
            ("b", 9),
            ("b", 5),
            ("b", 2),
            ("c", 4),
            ("d", 8),
            ("e", 3),
        ]
        .iter()
        .map(|(k, s)| (Bytes::from(k.to_string()), *s))
        .collect();
        assert_eq!(fwd, want);
        c.seek_to_last().unwrap();
        let mut back = collect_back(&mut c);
        back.reverse();
        assert_eq!(back, want);

        c.seek(b"b", 6).unwrap();
        assert_eq!((c.key(), c.seq()), (&b"b"[..], 5));
        c.seek_for_prev(b"b", 6).unwrap();
        assert_eq!((c.key(), c.seq()), (&b"b"[..], 9));
        c.seek_for_prev(b"b", u64::MAX >> 8).unwrap();
        assert_eq!((c.key(), c.seq()), (&b"a"[..], 1));
    }

    #[test]
    fn merge_matches_a_sorted_union_of_random_sources() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let mut seq = 0;
            let mut all = Vec::new();
            let sources: Vec<Vec<_>> = (0..rng.gen_range(1..6))
                .map(|_| {
                    (0..rng.gen_range(0..20))
                        .map(|_| {
                            seq += 1;
                            let e = put(&format!("k{}", rng.gen_range(0..15)), seq, "v");
                            all.push((e.0.clone(), e.1));
                            e
                        })
                        .collect()
                })
                .collect();
            all.sort_by(|a, b| compare_internal(&a.0, a.1, &b.0, b.1));
            let mut c = merged(sources);
            c.seek_to_first().unwrap();
            assert_eq!(collect_fwd(&mut c), all);
            c.seek_to_last().unwrap();
            let mut back = collect_back(&mut c);
            back.reverse();
            assert_eq!(back, all);
        }
    }
}
