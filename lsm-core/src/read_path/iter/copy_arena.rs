//! Owned copies of keys and values for callers, carved out of shared chunks: one
//! allocation per chunk instead of one per copy.

use bytes::{Bytes, BytesMut};

/// The largest chunk; the first is `FIRST_CHUNK` and each next one twice the last,
/// so a short scan does not pay for a large chunk.
const CHUNK: usize = 16 << 10;
const FIRST_CHUNK: usize = 512;

/// Hands out copies as `Bytes` slices of a chunk. A chunk is reused once every copy
/// handed out from it has been dropped; copies above a quarter chunk get their own
/// allocation so they do not keep a chunk alive.
#[derive(Default)]
pub(crate) struct CopyArena {
    buf: BytesMut,
    /// Size of the next new chunk.
    next_chunk: usize,
}

impl CopyArena {
    /// A copy of `data`.
    pub fn copy(&mut self, data: &[u8]) -> Bytes {
        if data.len() > CHUNK / 4 {
            return Bytes::copy_from_slice(data);
        }
        if !self.buf.try_reclaim(data.len()) {
            self.next_chunk = self.next_chunk.clamp(FIRST_CHUNK, CHUNK);
            self.buf = BytesMut::with_capacity(self.next_chunk.max(data.len()));
            self.next_chunk *= 2;
        }
        self.buf.extend_from_slice(data);
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_independent_of_the_source_and_of_each_other() {
        let mut arena = CopyArena::default();
        let mut src = b"first".to_vec();
        let a = arena.copy(&src);
        src.copy_from_slice(b"FIRST");
        let big = vec![9u8; CHUNK];
        let b = arena.copy(&big);
        let c = arena.copy(b"third");
        assert_eq!((&a[..], &c[..]), (&b"first"[..], &b"third"[..]));
        assert_eq!(b, big);
        let copies: Vec<Bytes> = (0..10_000u32)
            .map(|i| arena.copy(&i.to_be_bytes()))
            .collect();
        assert!(copies
            .iter()
            .enumerate()
            .all(|(i, c)| c[..] == (i as u32).to_be_bytes()));
    }
}
