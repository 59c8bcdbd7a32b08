//! Builds the contents of a data or index block: `docs/format.md` sections 3.2, 3.3.
//!
//! ```text
//! contents := entry* restarts:u32[num_restarts] num_restarts:u32
//! entry    := shared:varint32 unshared:varint32 value_len:varint32
//!             key_delta[unshared] tag:u64 value[value_len]
//! ```
//!
//! Every `restart_interval`-th entry stores its whole key (`shared = 0`) and its offset
//! goes into the restart array, so a reader can binary-search restarts and decode from
//! any of them without the entries before.

use crate::coding::{put_varint32, varint_len};
use crate::error::{Error, Result};
use crate::segment::block_entry::mismatch;

/// Accumulates entries of one block. Entries must be added in strictly increasing
/// internal order (the segment writer checks that).
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// Entries added since the last restart point.
    since_restart: usize,
    entries: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// A builder that starts a restart every `restart_interval` entries (at least 1).
    pub fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            since_restart: 0,
            entries: 0,
            last_key: Vec::new(),
        }
    }

    /// Appends an entry.
    ///
    /// # Errors
    /// `InvalidArgument` when the block would grow past 4 GiB (restart offsets and
    /// block handles are 32-bit). The builder is unchanged then.
    pub fn add(&mut self, key: &[u8], tag: u64, value: &[u8]) -> Result<()> {
        let restart = self.entries == 0 || self.since_restart >= self.restart_interval;
        let shared = if restart {
            0
        } else {
            mismatch(&self.last_key, key)
        };
        let unshared = key.len() - shared;
        let grow = 3 * 5 + unshared + 8 + value.len() + 4 * (self.restarts.len() + 2);
        if self.buf.len().saturating_add(grow) > u32::MAX as usize {
            return Err(Error::InvalidArgument("block would exceed 4 GiB".into()));
        }
        if restart {
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
        }
        put_varint32(&mut self.buf, shared as u32);
        put_varint32(&mut self.buf, unshared as u32);
        put_varint32(&mut self.buf, value.len() as u32);
        let delta = key.get(shared..).unwrap_or_default();
        self.buf.extend_from_slice(delta);
        self.buf.extend_from_slice(&tag.to_le_bytes());
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(delta);
        self.since_restart += 1;
        self.entries += 1;
        Ok(())
    }

    /// Size the contents would have if finished now.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Size the contents would have after adding this entry (an upper bound when
    /// the entry shares a prefix with the previous key).
    pub fn size_after(&self, key_len: usize, value_len: usize) -> usize {
        self.size_estimate()
            + varint_len(key_len as u64)
            + varint_len(value_len as u64)
            + 1
            + key_len
            + 8
            + value_len
            + 4
    }

    /// Number of entries added since the last reset.
    pub fn entry_count(&self) -> usize {
        self.entries
    }

    /// True when no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Appends the restart array and returns the finished contents. Call
    /// [`reset`](Self::reset) before adding again.
    pub fn finish(&mut self) -> &[u8] {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        self.buf
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        &self.buf
    }

    /// Empties the builder, keeping its allocations.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.since_restart = 0;
        self.entries = 0;
        self.last_key.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_grammar() {
        let mut b = BlockBuilder::new(2);
        b.add(b"apple", 0x105, b"x").unwrap();
        b.add(b"apply", 0x101, b"").unwrap();
        b.add(b"b", 0x100, b"yz").unwrap();
        let est = b.size_estimate();
        let out = b.finish().to_vec();
        assert_eq!(out.len(), est);
        let mut expected = vec![0, 5, 1];
        expected.extend_from_slice(b"apple");
        expected.extend_from_slice(&0x105u64.to_le_bytes());
        expected.push(b'x');
        let second = expected.len() as u32;
        expected.extend_from_slice(&[4, 1, 0, b'y']);
        expected.extend_from_slice(&0x101u64.to_le_bytes());
        let third = expected.len() as u32;
        expected.extend_from_slice(&[0, 1, 2, b'b']);
        expected.extend_from_slice(&0x100u64.to_le_bytes());
        expected.extend_from_slice(b"yz");
        assert!(second > 0);
        for r in [0u32, third, 2] {
            expected.extend_from_slice(&r.to_le_bytes());
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn empty_block_is_four_zero_bytes_and_reset_reuses() {
        let mut b = BlockBuilder::new(16);
        assert!(b.is_empty());
        assert_eq!(b.finish(), &[0, 0, 0, 0]);
        b.reset();
        b.add(b"k", 1 << 8, b"v").unwrap();
        assert_eq!(b.entry_count(), 1);
        assert!(b.size_after(1, 1) > b.size_estimate());
        b.reset();
        assert!(b.is_empty());
        assert_eq!(b.size_estimate(), 4);
    }
}
