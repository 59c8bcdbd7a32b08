//! The public range iterator.

use bytes::Bytes;

use crate::error::Result;

/// Iterator over live `(key, value)` pairs of a range, in key order; `.rev()` walks
/// it backwards. Holds the files and memtables it reads, so it stays consistent
/// while writes, flushes and compactions go on. After an error it yields nothing more.
pub struct Scan {
    _private: (),
}

impl Iterator for Scan {
    type Item = Result<(Bytes, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        todo!()
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        todo!()
    }
}
