//! Owned copies of keys and values for callers, carved out of shared chunks: one
//! allocation per chunk instead of one per copy.

use bytes::{Bytes, BytesMut};

const CHUNK: usize = 16 << 10;

/// Hands out copies as `Bytes` slices of a chunk. A chunk is reused once every copy
/// handed out from it has been dropped; copies above a quarter chunk get their own
/// allocation so they do not keep a chunk alive.
#[derive(Default)]
pub(crate) struct CopyArena {
    buf: BytesMut,
}

impl CopyArena {
    /// A copy of `data`.
    pub fn copy(&mut self, data: &[u8]) -> Bytes {
        if data.len() > CHUNK / 4 {
            return Bytes::copy_from_slice(data);
        }
        if self.buf.capacity() == 0 {
            self.buf = BytesMut::with_capacity(CHUNK);
        }
        self.buf.reserve(data.len());
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
