//! A position in a memtable that owns the memtable, for the read path's cursors.

use std::sync::Arc;

use super::skiplist::Node;
use super::{seek_back_tag, seek_tag, MemEntry, MemTable};

/// A position in one memtable (or none), holding the memtable alive.
///
/// The node always comes from `mem`'s own list, which the `Arc` keeps alive: that
/// pairing is what makes reading it sound, so both stay private to this type.
pub(crate) struct MemTableCursor {
    mem: Arc<MemTable>,
    node: Option<Node>,
}

impl MemTableCursor {
    /// An unpositioned cursor.
    pub fn new(mem: Arc<MemTable>) -> Self {
        MemTableCursor { mem, node: None }
    }

    /// To the newest version of `key` with sequence number `<= seq`, or else the
    /// first entry of a later key.
    pub fn seek(&mut self, key: &[u8], seq: u64) {
        self.node = self.mem.list.seek_ge(key, seek_tag(seq));
    }

    /// To the last entry at or before `(key, seq)`.
    pub fn seek_for_prev(&mut self, key: &[u8], seq: u64) {
        self.node = self.mem.list.seek_le(key, seek_back_tag(seq));
    }

    pub fn seek_to_first(&mut self) {
        self.node = self.mem.list.first();
    }

    pub fn seek_to_last(&mut self) {
        self.node = self.mem.list.last();
    }

    /// One entry forward; past the end becomes unpositioned.
    pub fn next(&mut self) {
        self.node = self.node.and_then(|n| self.mem.list.next(n));
    }

    /// One entry back (a search: the list has no back links); before the first
    /// becomes unpositioned.
    pub fn prev(&mut self) {
        self.node = self.node.and_then(|n| {
            let e = self.mem.list.entry(n);
            self.mem.list.seek_lt(e.key, e.tag)
        });
    }

    /// The current entry, `None` when unpositioned.
    pub fn entry(&self) -> Option<MemEntry<'_>> {
        self.node.map(|n| MemEntry::from(self.mem.list.entry(n)))
    }
}
