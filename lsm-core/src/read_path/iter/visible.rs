//! What a user sees of the merged entries: for each key, the newest version whose
//! sequence number is at most the read sequence, tombstones and values expired at
//! the read time hidden (`crate::clock::value_at` is the rule), within bounds, from
//! either end.
//!
//! The two ends use separate merge cursors (built on first use), so neither ever
//! changes direction. Each end remembers the last key it consumed; an end stops when
//! it reaches a key the other end already consumed, so `next` and `next_back` meet in
//! the middle and no key is yielded twice.
//!
//! Seeks: the iterator walks a *window*, the scan's bounds narrowed by the last
//! [`VisibleIter::seek`] (from the sought key up) or [`VisibleIter::seek_for_prev`]
//! (up to the sought key). A seek sets the window, forgets what both ends consumed
//! and marks both ends unpositioned; each end positions its existing cursor at its
//! side of the window on its next step (the merge cursor seeks every child in
//! place: nothing is rebuilt, no file reopened), so an I/O error of the seek is met,
//! and returned, by that step. The range tombstones were fetched for the scan's
//! whole bounds, so they serve every window.
//!
//! Range tombstones: the source hands over every range tombstone that may cover a
//! key within the bounds, fragmented. A key whose newest visible version is older
//! than the newest visible tombstone over it is hidden; and then every source whose
//! entries under that tombstone are all older than it is moved past the tombstone's
//! end in one seek ([`Cursor::skip_older`]), so a scan over a deleted range of a
//! million keys costs a few seeks, not a million steps.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::range_del::Fragments;
use lsm_format::{EntryKind, MAX_SEQUENCE};

use super::copy_arena::CopyArena;
use super::Cursor;
use crate::clock::value_at;
use crate::error::Result;

/// Builds a cursor over all the sources of a read view.
pub(crate) trait CursorSource: Send {
    fn cursor(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Box<dyn Cursor>;
    /// Every range tombstone that may cover a key within the bounds; `None` when
    /// there is none.
    fn range_tombstones(
        &self,
        _lower: Bound<&[u8]>,
        _upper: Bound<&[u8]>,
    ) -> Option<Arc<Fragments>> {
        None
    }

    /// The value `stored`, a blob pointer entry of `key` one of this source's
    /// cursors yielded, points to.
    ///
    /// # Errors
    /// `Corruption` naming the blob file; `Io`.
    fn resolve_blob(&self, key: &[u8], _stored: &[u8]) -> crate::Result<Bytes> {
        Err(crate::Error::Corruption {
            file: std::path::PathBuf::new(),
            offset: 0,
            reason: format!(
                "the value of key {key:?} is a blob pointer this source cannot resolve"
            ),
        })
    }
}

/// The newest visible tombstone over `key` when it hides a version at `seq`: the
/// tombstone's sequence number and its piece's bounds.
#[inline]
fn hiding<'a>(
    tombstones: Option<&'a Fragments>,
    key: &[u8],
    seq: u64,
    read_seq: u64,
) -> Option<(u64, &'a lsm_format::range_del::Fragment)> {
    let piece = tombstones?.fragment_at(key)?;
    let t = piece.visible_seq(read_seq)?;
    (seq < t).then_some((t, piece))
}

pub(crate) struct VisibleIter<S: CursorSource> {
    source: S,
    read_seq: u64,
    /// The time (Unix ms) expiry is judged at.
    now_ms: u64,
    /// The scan's bounds: the cursors and range tombstones are asked for them.
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    /// How the last seek narrowed the bounds into the window walked now, and the
    /// key it sought (a buffer kept across seeks).
    narrowed: Narrowed,
    sought: Vec<u8>,
    front: Option<Box<dyn Cursor>>,
    back: Option<Box<dyn Cursor>>,
    /// Whether each end's cursor is positioned in the current window (a new
    /// iterator and a seek leave both unpositioned).
    front_ready: bool,
    back_ready: bool,
    /// The last key each end consumed, when it consumed one since the iterator was
    /// made or last sought (the other end stops before it). The buffers are kept.
    front_key: Vec<u8>,
    back_key: Vec<u8>,
    front_consumed: bool,
    back_consumed: bool,
    keys: CopyArena,
    /// The range tombstones over the bounds: asked for on first use.
    tombstones: Option<Option<Arc<Fragments>>>,
    /// The window is exhausted (until a seek sets a new one).
    done: bool,
    /// An error was returned: the iterator yields nothing more, seeks included.
    failed: bool,
    /// Only keys are wanted: values behind blob pointers are not read (an empty
    /// value stands for them).
    keys_only: bool,
}

/// Which end of the scan's bounds the last seek moved to the sought key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Narrowed {
    /// No seek: the window is the bounds.
    No,
    /// `seek`: the window starts at the sought key (included).
    Start,
    /// `seek_for_prev`: the window ends at the sought key (included).
    End,
}

/// The window `[start, end]` walked after a seek that `narrowed` the bounds at
/// `sought`.
fn window<'a>(
    lower: &'a Bound<Bytes>,
    upper: &'a Bound<Bytes>,
    narrowed: Narrowed,
    sought: &'a [u8],
) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    match narrowed {
        Narrowed::No => (as_slice(lower), as_slice(upper)),
        Narrowed::Start => (Bound::Included(sought), as_slice(upper)),
        Narrowed::End => (as_slice(lower), Bound::Included(sought)),
    }
}

/// True when `key` lies beyond the upper bound.
fn above(upper: Bound<&[u8]>, key: &[u8]) -> bool {
    match upper {
        Bound::Included(u) => key > u,
        Bound::Excluded(u) => key >= u,
        Bound::Unbounded => false,
    }
}

/// True when `key` lies before the lower bound.
fn below(lower: Bound<&[u8]>, key: &[u8]) -> bool {
    match lower {
        Bound::Included(l) => key < l,
        Bound::Excluded(l) => key <= l,
        Bound::Unbounded => false,
    }
}

fn as_slice(b: &Bound<Bytes>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<S: CursorSource> VisibleIter<S> {
    pub fn new(
        source: S,
        read_seq: u64,
        now_ms: u64,
        lower: Bound<Bytes>,
        upper: Bound<Bytes>,
    ) -> Self {
        VisibleIter {
            source,
            read_seq,
            now_ms,
            lower,
            upper,
            narrowed: Narrowed::No,
            sought: Vec::new(),
            front: None,
            back: None,
            front_ready: false,
            back_ready: false,
            front_key: Vec::new(),
            back_key: Vec::new(),
            front_consumed: false,
            back_consumed: false,
            keys: CopyArena::default(),
            tombstones: None,
            done: false,
            failed: false,
            keys_only: false,
        }
    }

    /// Yields keys with values that may be empty: values kept in blob files are
    /// not read.
    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    /// Makes the window `[max(key, lower), upper)`: the next [`Self::next`]
    /// returns the first visible key `>= key` within the bounds, and both ends
    /// start afresh in the new window (`next_back` walks down to the sought key,
    /// not below). A key above the bounds leaves the window empty.
    pub fn seek(&mut self, key: &[u8]) {
        if self.failed {
            return;
        }
        // A key before the bounds leaves them as they are.
        let narrowed = if below(as_slice(&self.lower), key) {
            Narrowed::No
        } else {
            Narrowed::Start
        };
        self.narrow(narrowed, key);
        self.done = above(as_slice(&self.upper), key);
    }

    /// Makes the window `[lower, min(key, upper)]`: the next [`Self::next_back`]
    /// returns the last visible key `<= key` within the bounds, and both ends
    /// start afresh in the new window (`next` walks up to the sought key, not
    /// above). A key below the bounds leaves the window empty.
    pub fn seek_for_prev(&mut self, key: &[u8]) {
        if self.failed {
            return;
        }
        // A key beyond the bounds leaves them as they are.
        let narrowed = if above(as_slice(&self.upper), key) {
            Narrowed::No
        } else {
            Narrowed::End
        };
        self.narrow(narrowed, key);
        self.done = below(as_slice(&self.lower), key);
    }

    /// Sets the window and forgets what both ends consumed; they position their
    /// cursors in the new window on their next step.
    fn narrow(&mut self, narrowed: Narrowed, key: &[u8]) {
        self.narrowed = narrowed;
        self.sought.clear();
        self.sought.extend_from_slice(key);
        self.front_ready = false;
        self.back_ready = false;
        self.front_consumed = false;
        self.back_consumed = false;
    }

    fn ensure_tombstones(&mut self) {
        if self.tombstones.is_none() {
            let t = self
                .source
                .range_tombstones(as_slice(&self.lower), as_slice(&self.upper));
            self.tombstones = Some(t);
        }
    }

    /// Positions the front cursor (built on first use, reused after) at the start
    /// of the window, unless it already is.
    fn ensure_front(&mut self) -> Result<()> {
        if self.front_ready {
            return Ok(());
        }
        self.ensure_tombstones();
        let c = match &mut self.front {
            Some(c) => c,
            None => self.front.insert(
                self.source
                    .cursor(as_slice(&self.lower), as_slice(&self.upper)),
            ),
        };
        let (start, _) = window(&self.lower, &self.upper, self.narrowed, &self.sought);
        match start {
            // (key, MAX) is before every version of key; (key, 0) is after all
            // but one written with sequence number 0 (compaction renumbers the
            // bottom version of a key so), which is stepped over.
            Bound::Included(k) => c.seek(k, MAX_SEQUENCE)?,
            Bound::Excluded(k) => {
                c.seek(k, 0)?;
                while c.valid() && c.key() == k {
                    c.next()?;
                }
            }
            Bound::Unbounded => c.seek_to_first()?,
        }
        self.front_ready = true;
        Ok(())
    }

    /// Positions the back cursor at the end of the window, unless it already is.
    fn ensure_back(&mut self) -> Result<()> {
        if self.back_ready {
            return Ok(());
        }
        self.ensure_tombstones();
        let c = match &mut self.back {
            Some(c) => c,
            None => self.back.insert(
                self.source
                    .cursor(as_slice(&self.lower), as_slice(&self.upper)),
            ),
        };
        let (_, end) = window(&self.lower, &self.upper, self.narrowed, &self.sought);
        match end {
            Bound::Included(k) => c.seek_for_prev(k, 0)?,
            Bound::Excluded(k) => c.seek_for_prev(k, MAX_SEQUENCE)?,
            Bound::Unbounded => c.seek_to_last()?,
        }
        self.back_ready = true;
        Ok(())
    }

    fn step_front(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        self.ensure_front()?;
        let (read_seq, now_ms) = (self.read_seq, self.now_ms);
        let (_, upper) = window(&self.lower, &self.upper, self.narrowed, &self.sought);
        let back_key = self.back_consumed.then_some(self.back_key.as_slice());
        let tombstones = self.tombstones.as_ref().and_then(|t| t.as_deref());
        let Some(c) = self.front.as_mut() else {
            return Ok(None);
        };
        loop {
            if !c.valid() {
                return Ok(None);
            }
            let seq = c.seq();
            if seq > read_seq {
                c.next()?;
                continue;
            }
            // The newest version of this key visible at `read_seq`.
            let key = c.key();
            if above(upper, key) || back_key.is_some_and(|b| key >= b) {
                return Ok(None);
            }
            self.front_consumed = true;
            let current = &mut self.front_key;
            current.clear();
            current.extend_from_slice(key);
            let hidden = tombstones.and_then(|t| hiding(Some(t), key, seq, read_seq));
            let kind = c.kind();
            let found = match kind {
                _ if hidden.is_some() => None,
                // The common case first: a put needs no look at its bytes.
                EntryKind::Put => {
                    let key = c.shared_key().unwrap_or_else(|| self.keys.copy(c.key()));
                    Some((key, c.value()))
                }
                EntryKind::ExpiringPut => value_at(kind, c.value(), now_ms).map(|value| {
                    let key = c.shared_key().unwrap_or_else(|| self.keys.copy(c.key()));
                    (key, value)
                }),
                EntryKind::Tombstone | EntryKind::RangeDelete => None,
                EntryKind::BlobPointer => {
                    let value = if self.keys_only {
                        Bytes::new()
                    } else {
                        self.source.resolve_blob(c.key(), &c.value())?
                    };
                    let key = c.shared_key().unwrap_or_else(|| self.keys.copy(c.key()));
                    Some((key, value))
                }
            };
            if let Some((t, piece)) = hidden {
                c.skip_older(&piece.end, t)?;
                if !c.valid() || c.key() != current.as_slice() {
                    continue;
                }
            }
            loop {
                c.next()?;
                if !c.valid() || c.key() != current.as_slice() {
                    break;
                }
            }
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    fn step_back(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        self.ensure_back()?;
        let (read_seq, now_ms) = (self.read_seq, self.now_ms);
        let (lower, _) = window(&self.lower, &self.upper, self.narrowed, &self.sought);
        let front_key = self.front_consumed.then_some(self.front_key.as_slice());
        let tombstones = self.tombstones.as_ref().and_then(|t| t.as_deref());
        let Some(c) = self.back.as_mut() else {
            return Ok(None);
        };
        loop {
            if !c.valid() {
                return Ok(None);
            }
            let key = c.key();
            if below(lower, key) || front_key.is_some_and(|f| key <= f) {
                return Ok(None);
            }
            self.back_consumed = true;
            let current = &mut self.back_key;
            current.clear();
            current.extend_from_slice(key);
            // Versions come oldest first going backward: the last visible one seen
            // is the newest visible.
            let mut newest = None;
            while c.valid() && c.key() == current.as_slice() {
                if c.seq() <= read_seq {
                    newest = Some((c.kind(), c.seq(), c.shared_key(), c.value()));
                }
                c.prev()?;
            }
            let Some((kind, seq, shared, value)) = newest else {
                continue;
            };
            if let Some((t, piece)) = hiding(tombstones, current, seq, read_seq) {
                c.skip_older_back(&piece.start, t)?;
                continue;
            }
            if kind == EntryKind::BlobPointer {
                let value = if self.keys_only {
                    Bytes::new()
                } else {
                    self.source.resolve_blob(current, &value)?
                };
                let key = shared.unwrap_or_else(|| self.keys.copy(current));
                return Ok(Some((key, value)));
            }
            if let Some(value) = value_at(kind, value, now_ms) {
                let key = shared.unwrap_or_else(|| self.keys.copy(current));
                return Ok(Some((key, value)));
            }
        }
    }

    fn finish(&mut self, r: Result<Option<(Bytes, Bytes)>>) -> Option<Result<(Bytes, Bytes)>> {
        match r {
            Ok(Some(kv)) => Some(Ok(kv)),
            // The cursors stay for a later seek to reuse.
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                self.failed = true;
                self.front = None;
                self.back = None;
                Some(Err(e))
            }
        }
    }

    pub fn next(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.done {
            return None;
        }
        let r = self.step_front();
        self.finish(r)
    }

    pub fn next_back(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.done {
            return None;
        }
        let r = self.step_back();
        self.finish(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_path::iter::vec_cursor::{del, put, VecCursor};

    type E = (Bytes, u64, EntryKind, Bytes);

    struct Fixed(Vec<E>);

    impl CursorSource for Fixed {
        fn cursor(&self, _: Bound<&[u8]>, _: Bound<&[u8]>) -> Box<dyn Cursor> {
            Box::new(VecCursor::new(self.0.clone()))
        }
    }

    fn entries() -> Vec<E> {
        vec![
            put("a", 1, "a1"),
            put("b", 2, "b2"),
            del("b", 5),
            put("c", 3, "c3"),
            put("c", 6, "c6"),
            del("d", 4),
            put("e", 7, "e7"),
        ]
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn keys(it: impl Iterator<Item = Option<Result<(Bytes, Bytes)>>>) -> Vec<String> {
        it.map_while(|x| x)
            .map(|r| {
                let (k, v) = r.unwrap();
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    }

    fn fwd(seq: u64, lo: Bound<Bytes>, hi: Bound<Bytes>) -> Vec<String> {
        let mut it = VisibleIter::new(Fixed(entries()), seq, 0, lo, hi);
        keys(std::iter::from_fn(move || Some(it.next())))
    }

    fn back(seq: u64, lo: Bound<Bytes>, hi: Bound<Bytes>) -> Vec<String> {
        let mut it = VisibleIter::new(Fixed(entries()), seq, 0, lo, hi);
        let mut v = keys(std::iter::from_fn(move || Some(it.next_back())));
        v.reverse();
        v
    }

    #[test]
    fn hides_tombstones_and_versions_above_the_read_sequence() {
        use Bound::*;
        assert_eq!(fwd(100, Unbounded, Unbounded), ["a=a1", "c=c6", "e=e7"]);
        assert_eq!(fwd(4, Unbounded, Unbounded), ["a=a1", "b=b2", "c=c3"]);
        assert_eq!(fwd(0, Unbounded, Unbounded), Vec::<String>::new());
        for seq in 0..9 {
            assert_eq!(
                back(seq, Unbounded, Unbounded),
                fwd(seq, Unbounded, Unbounded)
            );
        }
    }

    #[test]
    fn honours_bounds_in_both_directions() {
        use Bound::*;
        let cases = [
            (Included(b("b")), Included(b("c"))),
            (Excluded(b("a")), Excluded(b("e"))),
            (Excluded(b("c")), Unbounded),
            (Unbounded, Excluded(b("c"))),
            (Included(b("bb")), Included(b("dd"))),
            (Included(b("z")), Unbounded),
            (Included(b("c")), Included(b("c"))),
            (Excluded(b("c")), Excluded(b("c"))),
        ];
        let want: [&[&str]; 8] = [
            &["b=b2", "c=c3"],
            &["b=b2", "c=c3"],
            &[],
            &["a=a1", "b=b2"],
            &["c=c3"],
            &[],
            &["c=c3"],
            &[],
        ];
        for ((lo, hi), want) in cases.into_iter().zip(want) {
            assert_eq!(fwd(4, lo.clone(), hi.clone()), want, "{lo:?}..{hi:?}");
            assert_eq!(back(4, lo.clone(), hi.clone()), want, "{lo:?}..{hi:?}");
        }
    }

    #[test]
    fn both_ends_meet_in_the_middle() {
        let all: Vec<E> = (0..10).map(|i| put(&format!("k{i}"), i + 1, "v")).collect();
        for pattern in 0u32..64 {
            let mut it = VisibleIter::new(
                Fixed(all.clone()),
                100,
                0,
                Bound::Unbounded,
                Bound::Unbounded,
            );
            let mut seen = Vec::new();
            for step in 0.. {
                let item = if pattern >> (step % 6) & 1 == 1 {
                    it.next_back()
                } else {
                    it.next()
                };
                match item {
                    Some(r) => seen.push(r.unwrap().0),
                    None => break,
                }
            }
            seen.sort();
            assert_eq!(seen.len(), 10, "pattern {pattern:b}");
            seen.dedup();
            assert_eq!(seen.len(), 10);
        }
    }

    #[test]
    fn an_excluded_lower_bound_skips_a_version_with_sequence_number_0() {
        use Bound::*;
        let bottom = vec![
            put("a", 0, "a0"),
            put("b", 4, "b4"),
            put("b", 0, "b0"),
            put("c", 0, "c0"),
        ];
        let run = |lo: Bound<Bytes>, hi: Bound<Bytes>| {
            let mut it = VisibleIter::new(Fixed(bottom.clone()), 3, 0, lo.clone(), hi.clone());
            let f = keys(std::iter::from_fn(|| Some(it.next())));
            let mut it = VisibleIter::new(Fixed(bottom.clone()), 3, 0, lo, hi);
            let mut b = keys(std::iter::from_fn(|| Some(it.next_back())));
            b.reverse();
            assert_eq!(f, b);
            f
        };
        assert_eq!(run(Excluded(b("a")), Unbounded), ["b=b0", "c=c0"]);
        assert_eq!(run(Excluded(b("b")), Unbounded), ["c=c0"]);
        assert_eq!(run(Unbounded, Included(b("b"))), ["a=a0", "b=b0"]);
        assert_eq!(run(Unbounded, Excluded(b("b"))), ["a=a0"]);
        assert_eq!(run(Excluded(b("a")), Excluded(b("c"))), ["b=b0"]);
    }

    #[test]
    fn an_expired_value_hides_older_versions_at_and_after_its_time() {
        use Bound::Unbounded;
        let expiring = |k: &str, seq: u64, at: u64, v: &str| -> E {
            let stored = lsm_format::entry::encode_expiring(at, v.as_bytes());
            (b(k), seq, EntryKind::ExpiringPut, Bytes::from(stored))
        };
        let e = vec![
            put("a", 1, "a1"),
            expiring("k", 5, 100, "new"),
            put("k", 2, "old"),
            expiring("z", 3, 200, "z3"),
        ];
        let run = |now: u64| {
            let mut it = VisibleIter::new(Fixed(e.clone()), 10, now, Unbounded, Unbounded);
            let f = keys(std::iter::from_fn(|| Some(it.next())));
            let mut it = VisibleIter::new(Fixed(e.clone()), 10, now, Unbounded, Unbounded);
            let mut r = keys(std::iter::from_fn(|| Some(it.next_back())));
            r.reverse();
            assert_eq!(f, r, "at {now}");
            f
        };
        assert_eq!(run(99), ["a=a1", "k=new", "z=z3"]);
        assert_eq!(run(100), ["a=a1", "z=z3"]);
        assert_eq!(run(200), ["a=a1"]);
    }

    /// A source that counts the cursors it builds, may hold range tombstones, and
    /// makes its cursors' seeks fail while `fail` is set.
    struct Counting {
        entries: Vec<E>,
        tombstones: Option<Arc<Fragments>>,
        built: Arc<std::sync::atomic::AtomicUsize>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    struct Failing {
        inner: VecCursor,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Failing {
        fn check(&self) -> Result<()> {
            if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(crate::Error::Io {
                    path: "test.seg".into(),
                    source: std::io::Error::other("injected"),
                });
            }
            Ok(())
        }
    }

    impl Cursor for Failing {
        fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
            self.check()?;
            self.inner.seek(key, seq)
        }
        fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
            self.check()?;
            self.inner.seek_for_prev(key, seq)
        }
        fn seek_to_first(&mut self) -> Result<()> {
            self.check()?;
            self.inner.seek_to_first()
        }
        fn seek_to_last(&mut self) -> Result<()> {
            self.check()?;
            self.inner.seek_to_last()
        }
        fn next(&mut self) -> Result<()> {
            self.inner.next()
        }
        fn prev(&mut self) -> Result<()> {
            self.inner.prev()
        }
        fn valid(&self) -> bool {
            self.inner.valid()
        }
        fn key(&self) -> &[u8] {
            self.inner.key()
        }
        fn seq(&self) -> u64 {
            self.inner.seq()
        }
        fn kind(&self) -> EntryKind {
            self.inner.kind()
        }
        fn value(&self) -> Bytes {
            self.inner.value()
        }
    }

    impl Counting {
        fn new(entries: Vec<E>, tombstones: &[(&str, &str, u64)]) -> Self {
            let t = tombstones
                .iter()
                .map(|&(s, e, seq)| lsm_format::range_del::RangeTombstone::new(b(s), b(e), seq));
            let t = Fragments::from_tombstones(t);
            Counting {
                entries,
                tombstones: (!t.is_empty()).then(|| Arc::new(t)),
                built: Arc::default(),
                fail: Arc::default(),
            }
        }
        fn shared(&self) -> Self {
            Counting {
                entries: self.entries.clone(),
                tombstones: self.tombstones.clone(),
                built: self.built.clone(),
                fail: self.fail.clone(),
            }
        }
    }

    impl CursorSource for Counting {
        fn cursor(&self, _: Bound<&[u8]>, _: Bound<&[u8]>) -> Box<dyn Cursor> {
            self.built
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(Failing {
                inner: VecCursor::new(self.entries.clone()),
                fail: self.fail.clone(),
            })
        }
        fn range_tombstones(&self, _: Bound<&[u8]>, _: Bound<&[u8]>) -> Option<Arc<Fragments>> {
            self.tombstones.clone()
        }
    }

    fn drain(it: &mut VisibleIter<Counting>, back: bool) -> Vec<String> {
        let mut v = keys(std::iter::from_fn(|| {
            Some(if back { it.next_back() } else { it.next() })
        }));
        if back {
            v.reverse();
        }
        v
    }

    /// Many versions, tombstones and range tombstones over keys `k00`..`k29`.
    fn busy() -> Counting {
        let mut e = Vec::new();
        for i in 0..30u64 {
            let k = format!("k{i:02}");
            e.push(put(&k, 1 + i, &format!("{k}@{}", 1 + i)));
            if i % 3 == 0 {
                e.push(del(&k, 40 + i));
            }
            if i % 4 == 0 {
                e.push(put(&k, 80 + i, &format!("{k}@{}", 80 + i)));
            }
        }
        Counting::new(e, &[("k05", "k12", 70), ("k20", "k25", 200)])
    }

    #[test]
    fn a_seek_reads_as_a_fresh_iterator_of_the_narrowed_window() {
        use Bound::*;
        let src = busy();
        let ranges = [
            (Unbounded, Unbounded),
            (Included(b("k03")), Excluded(b("k27"))),
            (Excluded(b("k10")), Included(b("k21"))),
        ];
        let targets = [
            "", "k", "k00", "k04", "k05", "k10", "k115", "k21", "k24", "k27", "z",
        ];
        for (lo, hi) in ranges {
            for read_seq in [0, 20, 60, 75, 150, 300] {
                let fresh = |lo: Bound<Bytes>, hi: Bound<Bytes>, back: bool| {
                    let mut it = VisibleIter::new(src.shared(), read_seq, 0, lo, hi);
                    drain(&mut it, back)
                };
                let mut it = VisibleIter::new(src.shared(), read_seq, 0, lo.clone(), hi.clone());
                for (i, t) in targets.iter().enumerate() {
                    let from = if below(as_slice(&lo), t.as_bytes()) {
                        lo.clone()
                    } else {
                        Included(b(t))
                    };
                    let to = if above(as_slice(&hi), t.as_bytes()) {
                        hi.clone()
                    } else {
                        Included(b(t))
                    };
                    let ctx = format!("{lo:?}..{hi:?} at {read_seq}, seek {t:?}");
                    // Consume a little first, from one end or the other.
                    let _ = if i % 2 == 0 {
                        it.next()
                    } else {
                        it.next_back()
                    };
                    it.seek(t.as_bytes());
                    let want = fresh(from.clone(), hi.clone(), false);
                    assert_eq!(drain(&mut it, i % 3 == 0), want, "{ctx}");
                    it.seek(t.as_bytes());
                    assert_eq!(fresh(from, hi.clone(), true), want, "{ctx}");
                    let _ = it.next_back();
                    it.seek_for_prev(t.as_bytes());
                    let want = fresh(lo.clone(), to.clone(), true);
                    assert_eq!(drain(&mut it, i % 3 != 1), want, "{ctx} for prev");
                }
            }
        }
        // Two cursors per iterator, one per end, whatever the number of seeks.
        let iterators = 3 * 6 * (1 + 2 * targets.len() * 2);
        assert!(src.built.load(std::sync::atomic::Ordering::Relaxed) <= 2 * iterators);
    }

    #[test]
    fn seeks_reuse_the_cursors_of_both_ends() {
        let src = busy();
        let mut it = VisibleIter::new(src.shared(), 1000, 0, Bound::Unbounded, Bound::Unbounded);
        for i in 0..50 {
            let k = format!("k{:02}", (i * 7) % 30);
            if i % 2 == 0 {
                it.seek(k.as_bytes());
            } else {
                it.seek_for_prev(k.as_bytes());
            }
            let _ = it.next();
            let _ = it.next_back();
            drain(&mut it, i % 3 == 0);
        }
        assert_eq!(src.built.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn a_seek_outside_the_bounds_empties_both_ends_until_the_next_seek() {
        use Bound::*;
        let src = busy();
        let mut it = VisibleIter::new(
            src.shared(),
            1000,
            0,
            Included(b("k10")),
            Excluded(b("k15")),
        );
        for t in ["k15", "k2", "z"] {
            it.seek(t.as_bytes());
            assert!(it.next().is_none() && it.next_back().is_none(), "seek {t}");
        }
        for t in ["k09", "k0", ""] {
            it.seek_for_prev(t.as_bytes());
            assert!(
                it.next_back().is_none() && it.next().is_none(),
                "seek_for_prev {t}"
            );
        }
        // k10 and k11 lie under a range tombstone newer than them; k12 was put again
        // after it.
        let want = ["k12=k12@92", "k13=k13@14", "k14=k14@15"];
        it.seek(b"k1");
        assert_eq!(drain(&mut it, false), want);
        it.seek_for_prev(b"k99");
        assert_eq!(drain(&mut it, true), want);
    }

    #[test]
    fn an_error_of_a_seek_comes_out_of_the_next_step_and_ends_the_iterator() {
        let src = busy();
        let mut it = VisibleIter::new(src.shared(), 1000, 0, Bound::Unbounded, Bound::Unbounded);
        assert!(it.next().is_some_and(|r| r.is_ok()));
        src.fail.store(true, std::sync::atomic::Ordering::Relaxed);
        // The seek itself reads nothing; the step after it positions and fails.
        it.seek(b"k10");
        assert!(matches!(it.next(), Some(Err(crate::Error::Io { .. }))));
        assert!(it.next().is_none() && it.next_back().is_none());
        // Failed for good: later seeks change nothing, even once reads would work.
        src.fail.store(false, std::sync::atomic::Ordering::Relaxed);
        it.seek(b"k10");
        assert!(it.next().is_none());
        it.seek_for_prev(b"k10");
        assert!(it.next_back().is_none());

        // Going backward the same.
        let mut it = VisibleIter::new(src.shared(), 1000, 0, Bound::Unbounded, Bound::Unbounded);
        assert!(it.next_back().is_some_and(|r| r.is_ok()));
        src.fail.store(true, std::sync::atomic::Ordering::Relaxed);
        it.seek_for_prev(b"k10");
        assert!(matches!(it.next_back(), Some(Err(crate::Error::Io { .. }))));
        assert!(it.next().is_none());
    }
}
