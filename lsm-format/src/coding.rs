//! Primitive encodings of `docs/format.md` section 1: little-endian integers, LEB128
//! varints and length-prefixed bytes, with a checked [`Decoder`] that turns every
//! short or malformed input into [`Error::Corruption`] at the right file offset.

use crate::error::{Error, Result};

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint32(out: &mut Vec<u8>, v: u32) {
    put_varint64(out, u64::from(v));
}

/// Number of bytes [`put_varint64`] writes for `v`.
pub fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends `bytes` preceded by its length as a varint32.
///
/// The caller guarantees `bytes.len() <= u32::MAX`.
pub fn put_length_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    debug_assert!(bytes.len() <= u32::MAX as usize);
    put_varint32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// A cursor over bytes being decoded. Every read is bounds-checked; failures are
/// reported as corruption at `base + position`, so errors name file offsets.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf`, whose first byte is at file offset `base`.
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        Decoder { buf, pos: 0, base }
    }

    /// File offset of the next byte to be read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Position within the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// A corruption error at the current offset.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::corruption(self.offset(), reason)
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e).map(|s| (s, e))) {
            Some((slice, e)) => {
                self.pos = e;
                Ok(slice)
            }
            None => Err(self.error(format!(
                "{what}: needs {n} bytes but only {} remain",
                self.remaining()
            ))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let b = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a varint of at most 10 bytes whose value fits in 64 bits.
    pub fn varint64(&mut self, what: &str) -> Result<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let Some(&byte) = self.buf.get(self.pos) else {
                self.pos = start;
                return Err(self.error(format!("{what}: varint runs past the end")));
            };
            self.pos += 1;
            let low = u64::from(byte & 0x7f);
            if i == 9 && low > 1 {
                self.pos = start;
                return Err(self.error(format!("{what}: varint overflows 64 bits")));
            }
            value |= low << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.pos = start;
        Err(self.error(format!("{what}: varint longer than 10 bytes")))
    }

    /// Reads a varint whose value fits in 32 bits (at most 5 bytes).
    pub fn varint32(&mut self, what: &str) -> Result<u32> {
        let start = self.pos;
        let v = self.varint64(what)?;
        if self.pos - start > 5 || v > u64::from(u32::MAX) {
            self.pos = start;
            return Err(self.error(format!("{what}: varint32 out of range")));
        }
        Ok(v as u32)
    }

    /// Reads `varint32 length` then that many bytes; the length must be `<= max`.
    pub fn length_prefixed(&mut self, max: usize, what: &str) -> Result<&'a [u8]> {
        let at = self.offset();
        let len = self.varint32(what)? as usize;
        if len > max {
            return Err(Error::corruption(
                at,
                format!("{what}: length {len} exceeds limit {max}"),
            ));
        }
        self.bytes(len, what)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self, what: &str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!(
                "{what}: {} unexpected trailing bytes",
                self.remaining()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint64(&mut out, v);
            assert_eq!(out.len(), varint_len(v));
            let mut d = Decoder::new(&out, 0);
            assert_eq!(d.varint64("v").unwrap(), v);
            assert!(d.is_empty());
        }
    }

    #[test]
    fn varint_overflow_and_truncation_are_corruption() {
        let too_long = [0xffu8; 11];
        assert!(Decoder::new(&too_long, 7)
            .varint64("v")
            .unwrap_err()
            .is_corruption());
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(Decoder::new(&overflow, 0).varint64("v").is_err());
        let short = [0x80u8];
        let err = Decoder::new(&short, 100).varint64("v").unwrap_err();
        assert_eq!(err.offset(), Some(100));
        let big32 = [0xff, 0xff, 0xff, 0xff, 0x1f];
        assert!(Decoder::new(&big32, 0).varint32("v").is_err());
    }

    #[test]
    fn length_prefix_beyond_limit_is_corruption_not_allocation() {
        let mut out = Vec::new();
        put_varint32(&mut out, u32::MAX);
        assert!(Decoder::new(&out, 0).length_prefixed(1 << 20, "k").is_err());
    }
}
