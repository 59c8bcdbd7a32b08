//! The entries of a segment as a std double-ended iterator.
//!
//! Two [`SegmentIter`] cursors, one per end. Each remembers the position (data block,
//! offset in block) of the entry it yielded last; an end stops when it would reach
//! the other end's last position, so every entry is yielded once.

use crate::error::Result;
use crate::segment::{BlockSource, Entry, NoCache, SegmentIter, SegmentReader};

/// The entries of a segment as a std iterator, forward by default and reversible
/// with `.rev()` (both ends meet in the middle). Yields errors as items and then ends.
pub struct SegmentEntries<S: BlockSource = NoCache> {
    front: SegmentIter<S>,
    back: SegmentIter<S>,
    front_started: bool,
    back_started: bool,
    /// Positions of the entries last yielded at each end: the other end stops there.
    front_yielded: Option<(usize, usize)>,
    back_yielded: Option<(usize, usize)>,
    done: bool,
}

impl<S: BlockSource> SegmentReader<S> {
    /// All entries as a double-ended std iterator (`.rev()` walks backwards).
    pub fn entries(&self) -> SegmentEntries<S> {
        SegmentEntries::new(self.clone())
    }
}

impl<S: BlockSource> SegmentEntries<S> {
    /// All entries of `reader`.
    pub fn new(reader: SegmentReader<S>) -> Self {
        SegmentEntries {
            front: SegmentIter::new(reader.clone()),
            back: SegmentIter::new(reader),
            front_started: false,
            back_started: false,
            front_yielded: None,
            back_yielded: None,
            done: false,
        }
    }

    fn step(&mut self, forward: bool) -> Option<Result<Entry>> {
        if self.done {
            return None;
        }
        let (it, started) = if forward {
            (&mut self.front, &mut self.front_started)
        } else {
            (&mut self.back, &mut self.back_started)
        };
        let moved = match (std::mem::replace(started, true), forward) {
            (false, true) => it.seek_to_first(),
            (false, false) => it.seek_to_last(),
            (true, true) => it.next(),
            (true, false) => it.prev(),
        };
        if let Err(e) = moved {
            self.done = true;
            return Some(Err(e));
        }
        let pos = it.position();
        let met = if forward {
            self.back_yielded.is_some_and(|b| pos >= b)
        } else {
            self.front_yielded.is_some_and(|f| pos <= f)
        };
        if !it.valid() || met {
            self.done = true;
            return None;
        }
        let entry = it.entry();
        if forward {
            self.front_yielded = Some(pos);
        } else {
            self.back_yielded = Some(pos);
        }
        Some(Ok(entry))
    }
}

impl<S: BlockSource> Iterator for SegmentEntries<S> {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

impl<S: BlockSource> DoubleEndedIterator for SegmentEntries<S> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl<S: BlockSource> std::iter::FusedIterator for SegmentEntries<S> {}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::segment::{ReadOptions, SegmentReader, SegmentWriter, WriterOptions};
    use crate::EntryKind;

    fn reader() -> SegmentReader {
        let options = WriterOptions {
            block_size: 40,
            restart_interval: 3,
            ..WriterOptions::default()
        };
        let mut w = SegmentWriter::new(Vec::new(), options);
        for i in 0..30u8 {
            w.add(&[b'k', i], 9, EntryKind::Put, &[i; 5]).unwrap();
            w.add(&[b'k', i], 4, EntryKind::Tombstone, b"").unwrap();
        }
        SegmentReader::open(
            Bytes::from(w.finish().unwrap().into_inner()),
            ReadOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn entries_meet_in_the_middle() {
        let r = reader();
        let mut e = r.entries();
        let (mut f, mut b) = (0, 0);
        loop {
            match e.next() {
                Some(x) => {
                    x.unwrap();
                    f += 1
                }
                None => break,
            }
            match e.next_back() {
                Some(x) => {
                    x.unwrap();
                    b += 1
                }
                None => break,
            }
        }
        assert_eq!(f + b, 60);
        assert!(e.next().is_none() && e.next_back().is_none());
    }

    #[test]
    fn errors_end_the_iteration() {
        let r = reader();
        let mut bytes = r.data().to_vec();
        let second = r.index_entries().unwrap()[1].handle;
        bytes[second.offset as usize] ^= 1;
        let bad = SegmentReader::open(Bytes::from(bytes), ReadOptions::default()).unwrap();
        let items: Vec<_> = bad.entries().collect();
        assert!(items.last().unwrap().is_err());
        assert!(items[..items.len() - 1].iter().all(|e| e.is_ok()));
        let mut e = bad.entries();
        while let Some(Ok(_)) = e.next() {}
        assert!(e.next().is_none() && e.next_back().is_none());
    }
}
