//! A cursor over a memtable.
//!
//! The skip list's own entries borrow the list, so a cursor that owns its memtable
//! (through an `Arc`) cannot keep one. Instead it copies a run of entries (cheap:
//! `Bytes` clones share the data) into a buffer and refills it from just after the
//! last buffered key. Runs start short (most scans read a few keys) and double up to
//! [`MAX_RUN`]. Entries inserted concurrently show up in order like any others; the
//! read sequence filter above hides them.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::EntryKind;

use super::Cursor;
use crate::error::Result;
use crate::memtable::{MemKey, MemTable};

const FIRST_RUN: usize = 16;
const MAX_RUN: usize = 256;

pub(crate) struct MemCursor {
    mem: Arc<MemTable>,
    /// Entries in the cursor's direction: internal order forward, reverse backward.
    buf: Vec<(MemKey, Bytes)>,
    pos: usize,
    forward: bool,
    /// The last fill returned fewer entries than asked: the table has no more.
    at_end: bool,
    run: usize,
}

impl MemCursor {
    pub fn new(mem: Arc<MemTable>) -> Self {
        MemCursor {
            mem,
            buf: Vec::new(),
            pos: 0,
            forward: true,
            at_end: true,
            run: FIRST_RUN,
        }
    }

    fn fill(&mut self, bound: Bound<&MemKey>, forward: bool) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if forward {
            self.mem.fill_forward(bound, self.run, &mut buf);
        } else {
            self.mem.fill_backward(bound, self.run, &mut buf);
        }
        self.at_end = buf.len() < self.run;
        self.run = (self.run * 2).min(MAX_RUN);
        self.buf = buf;
        self.pos = 0;
        self.forward = forward;
    }

    fn start(&mut self, bound: Bound<&MemKey>, forward: bool) {
        self.run = FIRST_RUN;
        self.fill(bound, forward);
    }

    fn advance(&mut self) {
        debug_assert!(self.valid());
        self.pos += 1;
        if self.pos >= self.buf.len() && !self.at_end {
            if let Some((last, _)) = self.buf.last().cloned() {
                self.fill(Bound::Excluded(&last), self.forward);
            }
        }
    }

    fn current(&self) -> Option<&(MemKey, Bytes)> {
        self.buf.get(self.pos)
    }
}

impl Cursor for MemCursor {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let probe = MemKey::lookup(Bytes::copy_from_slice(key), seq);
        self.start(Bound::Included(&probe), true);
        Ok(())
    }

    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let probe = MemKey::lookup_back(Bytes::copy_from_slice(key), seq);
        self.start(Bound::Included(&probe), false);
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.start(Bound::Unbounded, true);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.start(Bound::Unbounded, false);
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        debug_assert!(self.forward, "next on a backward memtable cursor");
        self.advance();
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        debug_assert!(!self.forward, "prev on a forward memtable cursor");
        self.advance();
        Ok(())
    }

    fn valid(&self) -> bool {
        self.pos < self.buf.len()
    }

    fn key(&self) -> &[u8] {
        self.current().map_or(&[], |(k, _)| k.key.as_ref())
    }

    fn seq(&self) -> u64 {
        self.current().map_or(0, |(k, _)| k.seq())
    }

    fn kind(&self) -> EntryKind {
        self.current()
            .map_or(EntryKind::Tombstone, |(k, _)| k.kind())
    }

    fn value(&self) -> Bytes {
        self.current().map_or_else(Bytes::new, |(_, v)| v.clone())
    }

    fn shared_key(&self) -> Option<Bytes> {
        self.current().map(|(k, _)| k.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Arc<MemTable> {
        let m = MemTable::new(1);
        for i in 0..n {
            let k = Bytes::from(format!("k{i:04}"));
            m.insert(k.clone(), (i * 2 + 1) as u64, EntryKind::Put, k.clone());
            m.insert(k, (i * 2 + 2) as u64, EntryKind::Tombstone, Bytes::new());
        }
        Arc::new(m)
    }

    #[test]
    fn walks_everything_forward_and_backward_across_refills() {
        let m = table(700);
        let mut c = MemCursor::new(m.clone());
        c.seek_to_first().unwrap();
        let mut n = 0;
        let mut prev: Option<(Bytes, u64)> = None;
        while c.valid() {
            let cur = (c.key_bytes(), c.seq());
            if let Some(p) = &prev {
                assert!(lsm_format::entry::compare_internal(&p.0, p.1, &cur.0, cur.1).is_lt());
            }
            prev = Some(cur);
            n += 1;
            c.next().unwrap();
        }
        assert_eq!(n, 1400);

        c.seek_to_last().unwrap();
        let mut n = 0;
        while c.valid() {
            n += 1;
            c.prev().unwrap();
        }
        assert_eq!(n, 1400);
    }

    #[test]
    fn seeks_follow_the_contract() {
        let m = table(10);
        let mut c = MemCursor::new(m);
        // k0003 has seq 7 (put) and 8 (tombstone).
        c.seek(b"k0003", 100).unwrap();
        assert_eq!((c.key(), c.seq()), (&b"k0003"[..], 8));
        c.seek(b"k0003", 7).unwrap();
        assert_eq!(
            (c.key(), c.seq(), c.kind()),
            (&b"k0003"[..], 7, EntryKind::Put)
        );
        c.seek(b"k0003", 0).unwrap();
        assert_eq!(c.key(), b"k0004");
        c.seek_for_prev(b"k0003", 0).unwrap();
        assert_eq!((c.key(), c.seq()), (&b"k0003"[..], 7));
        c.seek_for_prev(b"k0003", u64::MAX >> 8).unwrap();
        assert_eq!((c.key(), c.seq()), (&b"k0002"[..], 5));
        c.seek_for_prev(b"a", 0).unwrap();
        assert!(!c.valid());
        c.seek(b"z", 0).unwrap();
        assert!(!c.valid());
    }
}
