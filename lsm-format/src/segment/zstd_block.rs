//! Zstandard data-block contents: `docs/format.md` section 3.1 (compression 2,
//! segment format 7 and later).
//!
//! ```text
//! zstd contents := uncompressed_len:u32 zstd_frame
//! zstd_frame    := one RFC 8878 frame (magic 28 B5 2F FD), Frame_Content_Size present
//!                  and equal to uncompressed_len, no dictionary; content checksum
//!                  optional (ours: none, the block checksum covers the bytes)
//! ```
//!
//! The codec is the reference C library (the `zstd` crate over `zstd-sys`, bundled),
//! without its legacy-format decoders. Pure-Rust encoders exist, but none is both
//! established and at the reference's ratio and speed at the level used here; the
//! decoder is the one on the read path of every bottom-level block, so it is the
//! reference's.
//!
//! The reader bounds the allocation before the decoder runs: the announced length must
//! be at most [`ZSTD_MAX_RATIO`] times the stored length (the most a frame of that size
//! can hold) and at most [`MAX_BLOCK_LEN`], and must equal the frame's own content
//! size; the decoder writes into a buffer of exactly that length and fails if the
//! frame holds more.

use std::cell::RefCell;

use bytes::BytesMut;

use crate::error::{Error, Result};
use crate::segment::block::fit_buffer;
use crate::segment::MAX_BLOCK_LEN;

/// The zstd level our writer compresses data blocks at. Not on disk (a reader needs
/// no level); fixed so that segments of equal contents are equal bytes.
pub const ZSTD_LEVEL: i32 = 3;

/// The most bytes a zstd frame can yield per stored byte: every zstd block that yields
/// anything takes at least 4 bytes (an RLE block: a 3-byte header and its byte; a
/// compressed block needs more) and yields at most 128 KiB (`Block_Maximum_Size`).
pub const ZSTD_MAX_RATIO: usize = (128 << 10) / 4;

/// The first 4 bytes of every zstd frame (`0xFD2FB528`, little-endian).
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

thread_local! {
    /// One compression context per thread: making one costs more than compressing a
    /// 4 KiB block.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    /// One decompression context per thread, for the same reason.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Compresses `raw` into `out` as zstd contents (`uncompressed_len:u32 zstd_frame`) if
/// that shrinks it by at least 1/8; returns whether it did. `out` is reused scratch.
///
/// ```
/// use lsm_format::segment::zstd_block::{compress_zstd, decompress_zstd};
///
/// let raw = b"key-0001 value key-0002 value key-0003 value ".repeat(20);
/// let mut stored = Vec::new();
/// assert!(compress_zstd(&raw, &mut stored));
/// assert_eq!(decompress_zstd(&stored, 0).unwrap(), raw);
/// ```
pub fn compress_zstd(raw: &[u8], out: &mut Vec<u8>) -> bool {
    if raw.len() > MAX_BLOCK_LEN {
        return false;
    }
    let limit = raw.len() - raw.len() / 8;
    out.clear();
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.resize(4 + zstd::zstd_safe::compress_bound(raw.len()), 0);
    let Some(dst) = out.get_mut(4..) else {
        return false;
    };
    let written = COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        // The context keeps its parameters between calls: level 3, content size
        // written (the default for a one-shot call), no checksum, no dictionary.
        c.as_mut().map(|c| c.compress_to_buffer(raw, dst))
    });
    match written {
        Some(Ok(n)) => {
            out.truncate(4 + n);
            out.len() <= limit
        }
        _ => false,
    }
}

/// Decompresses zstd block contents whose block starts at file offset `offset`.
pub fn decompress_zstd(contents: &[u8], offset: u64) -> Result<Vec<u8>> {
    let mut out = BytesMut::new();
    decompress_zstd_into(contents, offset, &mut out)?;
    Ok(out.into())
}

/// As [`decompress_zstd`], into `out`, whose allocation is reused as
/// [`decompress_lz4_into`](crate::segment::block::decompress_lz4_into) does. On
/// success `out` holds exactly the block; on error its contents are unspecified.
pub fn decompress_zstd_into(contents: &[u8], offset: u64, out: &mut BytesMut) -> Result<()> {
    let corrupt = |reason: String| Error::corruption(offset, reason);
    let (len_bytes, frame) = match contents.split_first_chunk::<4>() {
        Some((l, rest)) => (*l, rest),
        None => return Err(corrupt("zstd block shorter than its 4-byte length".into())),
    };
    let len = u32::from_le_bytes(len_bytes) as usize;
    let bound = contents
        .len()
        .saturating_mul(ZSTD_MAX_RATIO)
        .min(MAX_BLOCK_LEN);
    if len > bound {
        return Err(corrupt(format!(
            "zstd block announces {len} uncompressed bytes, more than the limit {bound} for {} \
             stored bytes",
            contents.len()
        )));
    }
    if !frame.starts_with(&ZSTD_MAGIC) {
        return Err(corrupt(
            "zstd block does not start with a zstd frame".into(),
        ));
    }
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size == len as u64 => {}
        Ok(Some(size)) => {
            return Err(corrupt(format!(
                "zstd frame holds {size} bytes, the block announces {len}"
            )))
        }
        Ok(None) => return Err(corrupt("zstd frame without a content size".into())),
        Err(_) => return Err(corrupt("zstd frame header does not decode".into())),
    }
    match zstd::zstd_safe::find_frame_compressed_size(frame) {
        Ok(n) if n == frame.len() => {}
        Ok(n) => {
            return Err(corrupt(format!(
                "zstd frame of {n} bytes in a block of {} frame bytes",
                frame.len()
            )))
        }
        Err(_) => return Err(corrupt("zstd frame is cut short or damaged".into())),
    }
    fit_buffer(out, len);
    let decoded = DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = zstd::bulk::Decompressor::new().ok();
        }
        d.as_mut()
            .map(|d| d.decompress_to_buffer(frame, &mut out[..]))
    });
    match decoded {
        Some(Ok(n)) if n == len => Ok(()),
        Some(Ok(n)) => Err(corrupt(format!(
            "zstd block decompressed to {n} bytes, expected {len}"
        ))),
        Some(Err(e)) => Err(corrupt(format!("zstd block does not decompress: {e}"))),
        None => Err(corrupt("no zstd decompression context".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..300u32)
            .flat_map(|i| format!("key-{i:08} value-{} ", i % 7).into_bytes())
            .collect()
    }

    #[test]
    fn round_trip_into_reused_buffers() {
        let raw = sample();
        let mut stored = Vec::new();
        assert!(compress_zstd(&raw, &mut stored));
        assert_eq!(&stored[..4], &(raw.len() as u32).to_le_bytes());
        assert_eq!(&stored[4..8], &ZSTD_MAGIC);
        for old_len in [0, 7, raw.len(), 100_000] {
            let mut buf = BytesMut::from(&vec![0xEE; old_len][..]);
            decompress_zstd_into(&stored, 0, &mut buf).unwrap();
            assert_eq!(&buf[..], &raw[..], "old length {old_len}");
        }
    }

    #[test]
    fn incompressible_blocks_are_refused_by_the_eighth_rule() {
        // xorshift64: bytes no entropy coder can shrink.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(!compress_zstd(&noise, &mut Vec::new()));
    }

    #[test]
    fn damaged_contents_are_corruption_naming_the_offset() {
        let raw = sample();
        let mut stored = Vec::new();
        assert!(compress_zstd(&raw, &mut stored));
        let e = |bytes: &[u8]| decompress_zstd(bytes, 77).unwrap_err();
        // Announced length off by one either way (the frame's content size disagrees).
        for delta in [1u32, u32::MAX] {
            let mut bad = stored.clone();
            let len = (raw.len() as u32).wrapping_add(delta);
            bad[..4].copy_from_slice(&len.to_le_bytes());
            assert_eq!(e(&bad).offset(), Some(77));
        }
        // Beyond the ratio bound: refused before any allocation.
        let mut bomb = u32::MAX.to_le_bytes().to_vec();
        bomb.extend_from_slice(&ZSTD_MAGIC);
        assert!(e(&bomb).to_string().contains("more than the limit"));
        // Wrong magic, cut frame, trailing bytes, too short.
        let mut magic = stored.clone();
        magic[4] ^= 1;
        assert!(e(&magic).is_corruption());
        assert!(e(&stored[..stored.len() - 1]).is_corruption());
        let mut trailing = stored.clone();
        trailing.push(0);
        assert!(e(&trailing).is_corruption());
        assert!(e(&[1, 2]).is_corruption());
        // Every single-byte flip of the frame is refused or yields other bytes of the
        // announced length (never a panic, never a different length).
        for i in 4..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x10;
            if let Ok(out) = decompress_zstd(&bad, 0) {
                assert_eq!(out.len(), raw.len(), "flip at {i}");
            }
        }
    }
}
