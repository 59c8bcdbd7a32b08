//! A cursor over a memtable.
//!
//! Walks the memtable's skip list in place (the cursor owns the memtable through an
//! `Arc`); `prev` is a search, as the list has no back links. Entries inserted
//! concurrently show up in order like any others; the read sequence filter above
//! hides them. Values are copied out (into shared chunks, see `CopyArena`).

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::EntryKind;

use super::copy_arena::CopyArena;
use super::Cursor;
use crate::error::Result;
use crate::memtable::cursor::MemTableCursor;
use crate::memtable::MemTable;

pub(crate) struct MemCursor {
    pos: MemTableCursor,
    /// The memtable's largest sequence number when the cursor was made: entries
    /// added later are above every read sequence the cursor serves.
    max_seq: u64,
    /// `value` takes `&self`; the cursor is used by one thread at a time.
    values: RefCell<CopyArena>,
}

impl MemCursor {
    pub fn new(mem: Arc<MemTable>) -> Self {
        MemCursor {
            max_seq: mem.max_seq(),
            pos: MemTableCursor::new(mem),
            values: RefCell::default(),
        }
    }
}

impl Cursor for MemCursor {
    fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.pos.seek(key, seq);
        Ok(())
    }

    fn seek_for_prev(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.pos.seek_for_prev(key, seq);
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.pos.seek_to_first();
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.pos.seek_to_last();
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        debug_assert!(self.valid());
        self.pos.next();
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        debug_assert!(self.valid());
        self.pos.prev();
        Ok(())
    }

    fn valid(&self) -> bool {
        self.pos.entry().is_some()
    }

    fn key(&self) -> &[u8] {
        self.pos.entry().map_or(&[], |e| e.key)
    }

    fn seq(&self) -> u64 {
        self.pos.entry().map_or(0, |e| e.seq)
    }

    fn kind(&self) -> EntryKind {
        self.pos.entry().map_or(EntryKind::Tombstone, |e| e.kind)
    }

    fn value(&self) -> Bytes {
        self.pos
            .entry()
            .map_or_else(Bytes::new, |e| self.values.borrow_mut().copy(e.value))
    }

    fn max_seq_in(&self, _from: &[u8], _to: &[u8]) -> u64 {
        self.max_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Arc<MemTable> {
        let m = MemTable::new(1);
        for i in 0..n {
            let k = format!("k{i:04}");
            m.insert(
                k.as_bytes(),
                (i * 2 + 1) as u64,
                EntryKind::Put,
                k.as_bytes(),
            );
            m.insert(k.as_bytes(), (i * 2 + 2) as u64, EntryKind::Tombstone, b"");
        }
        Arc::new(m)
    }

    #[test]
    fn walks_everything_forward_and_backward() {
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
        assert_eq!(c.value(), &b"k0003"[..]);
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
