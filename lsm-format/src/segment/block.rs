//! Block framing: `docs/format.md` section 3.1, with the on-disk numbers of its
//! trailer ([`Compression`], [`BlockType`]).
//!
//! ```text
//! block := contents[n] compression:u8 block_type:u8 checksum:u64
//! checksum = xxh3_64(contents || compression || block_type)
//! LZ4 contents := uncompressed_len:u32 lz4_block
//! zstd contents := uncompressed_len:u32 zstd_frame      ; format 7 on (zstd_block.rs)
//! ```
//!
//! Reading checks the checksum before anything else looks at the bytes, so that a
//! damaged block is reported as a checksum mismatch at the block's offset rather than
//! as whatever odd structure the damage happens to produce.

use std::ops::Range;

use bytes::BytesMut;

use crate::checksum::{checksum, checksum_parts};
use crate::error::{Error, Result};
use crate::segment::zstd_block::{compress_zstd, decompress_zstd_into};
use crate::segment::{BlockHandle, BLOCK_TRAILER_LEN, MAX_BLOCK_LEN, ZSTD_FORMAT_VERSION};

/// Compression of data blocks. Discriminants are written to disk and frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Compression {
    /// Blocks stored as they are.
    #[default]
    None = 0,
    /// LZ4 block format, preceded by the uncompressed length.
    Lz4 = 1,
    /// One Zstandard frame, preceded by the uncompressed length (segment format 7 and
    /// later; blob files do not take it).
    Zstd = 2,
}

impl Compression {
    /// Decodes an on-disk compression byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            2 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Block types, written to disk in each block trailer and frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlockType {
    /// Entries.
    Data = 1,
    /// One entry per data block.
    Index = 2,
    /// Bloom filter.
    Filter = 3,
    /// Properties.
    Properties = 4,
    /// Range tombstones (format version 4 and later, section 3.8).
    RangeDel = 5,
}

/// The 10-byte trailer that follows `contents` on disk.
pub fn trailer(contents: &[u8], compression: Compression, block_type: BlockType) -> [u8; 10] {
    let kind = [compression as u8, block_type as u8];
    let sum = checksum_parts(&[contents, &kind]);
    let [s0, s1, s2, s3, s4, s5, s6, s7] = sum.to_le_bytes();
    [kind[0], kind[1], s0, s1, s2, s3, s4, s5, s6, s7]
}

/// The byte range `[offset, offset + len + 10)` of a block within a file of
/// `file_len` bytes, or corruption when it does not fit.
pub fn block_range(handle: BlockHandle, file_len: usize) -> Result<Range<usize>> {
    let start = usize::try_from(handle.offset).ok();
    let end = start
        .and_then(|s| s.checked_add(handle.len as usize))
        .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN))
        .filter(|&e| e <= file_len);
    match (start, end) {
        (Some(s), Some(e)) => Ok(s..e),
        _ => Err(Error::corruption(
            handle.offset,
            format!(
                "block of {} bytes (plus {BLOCK_TRAILER_LEN}-byte trailer) runs past the end of \
                 the {file_len}-byte file",
                handle.len
            ),
        )),
    }
}

/// Checks the framing of the block at `handle` in `file`: bounds, checksum, block
/// type, compression byte. Returns the range of its contents within `file` and how
/// they are compressed. Only data blocks may be compressed.
pub fn read_raw(
    file: &[u8],
    handle: BlockHandle,
    expected: BlockType,
) -> Result<(Range<usize>, Compression)> {
    let range = block_range(handle, file.len())?;
    let block = file
        .get(range.clone())
        .ok_or_else(|| Error::corruption(handle.offset, "block out of bounds"))?;
    let (contents, compression) = check_block(block, handle.offset, expected)?;
    Ok((
        range.start + contents.start..range.start + contents.end,
        compression,
    ))
}

/// As [`read_raw`], for `block` holding exactly one block (contents and trailer, as
/// read from file offset `offset`, which errors name). Returns the range of the
/// contents within `block`.
pub fn check_block(
    block: &[u8],
    offset: u64,
    expected: BlockType,
) -> Result<(Range<usize>, Compression)> {
    let corrupt = |reason: String| Error::corruption(offset, reason);
    let Some(contents_end) = block.len().checked_sub(BLOCK_TRAILER_LEN) else {
        return Err(corrupt("block shorter than its trailer".into()));
    };
    let (covered, stored) = block.split_at(contents_end + 2);
    let mut sum = [0u8; 8];
    sum.copy_from_slice(stored);
    let stored = u64::from_le_bytes(sum);
    let computed = checksum(covered);
    if stored != computed {
        return Err(corrupt(format!(
            "{expected:?} block checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
        )));
    }
    let (compression_byte, type_byte) = match covered {
        [.., c, t] => (*c, *t),
        _ => return Err(corrupt("block out of bounds".into())),
    };
    if type_byte != expected as u8 {
        return Err(corrupt(format!(
            "expected a {expected:?} block (type {}), found block type {type_byte}",
            expected as u8
        )));
    }
    let compression = Compression::from_u8(compression_byte)
        .ok_or_else(|| corrupt(format!("unknown compression {compression_byte}")))?;
    if compression != Compression::None && expected != BlockType::Data {
        return Err(corrupt(format!(
            "{expected:?} block must not be compressed"
        )));
    }
    Ok((0..contents_end, compression))
}

/// Decompresses LZ4 block contents (`uncompressed_len:u32 lz4_block`) whose block
/// starts at file offset `offset`. The allocation is bounded by the checks of section
/// 3.1 before it is made, and the output must have exactly the announced length.
pub fn decompress_lz4(contents: &[u8], offset: u64) -> Result<Vec<u8>> {
    let mut out = BytesMut::new();
    decompress_lz4_into(contents, offset, &mut out)?;
    Ok(out.into())
}

/// Decompressed-block buffers are allocated in multiples of this many bytes.
const BUFFER_STEP: usize = 256;

/// As [`decompress_lz4`], into `out`, whose allocation (and initialised length) is
/// reused: a recycled buffer of a block's size needs neither an allocation nor
/// zeroing, and `out.freeze()` makes the block a [`Bytes`](bytes::Bytes) without a
/// copy. On success `out` holds exactly the block; on error its contents are
/// unspecified.
pub fn decompress_lz4_into(contents: &[u8], offset: u64, out: &mut BytesMut) -> Result<()> {
    let corrupt = |reason: String| Error::corruption(offset, reason);
    let (len_bytes, compressed) = match contents.split_first_chunk::<4>() {
        Some((l, rest)) => (*l, rest),
        None => return Err(corrupt("LZ4 block shorter than its 4-byte length".into())),
    };
    let len = u32::from_le_bytes(len_bytes) as usize;
    let bound = contents
        .len()
        .saturating_mul(255)
        .saturating_add(16)
        .min(MAX_BLOCK_LEN);
    if len > bound {
        return Err(corrupt(format!(
            "LZ4 block announces {len} uncompressed bytes, more than the limit {bound} for {} \
             stored bytes",
            contents.len()
        )));
    }
    fit_buffer(out, len);
    match lz4_flex::block::decompress_into(compressed, out) {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(corrupt(format!(
            "LZ4 block decompressed to {n} bytes, expected {len}"
        ))),
        Err(e) => Err(corrupt(format!("LZ4 block does not decompress: {e}"))),
    }
}

/// Makes `out` exactly `len` bytes long, reusing its allocation when that is close to
/// `len` (only bytes past its current length are zeroed).
pub(crate) fn fit_buffer(out: &mut BytesMut, len: usize) {
    // A cache charges a block by its length, so its allocation must stay close to
    // that: never the doubling `resize` would do, nor a reused buffer twice too big.
    // New buffers are sized in steps of `BUFFER_STEP`: blocks of one segment differ
    // by a few bytes, and with exact sizes a freed buffer often could not take the
    // next block, so the allocator carved new memory while the freed buffers piled
    // up: the comparison harness's 10 M-key readrandom peaked at 291-299 MB resident before,
    // 278 MB with steps (docs/perf-log.md).
    if out.capacity() < len || out.capacity() / 2 > len {
        *out = BytesMut::with_capacity(len.next_multiple_of(BUFFER_STEP));
    }
    out.resize(len, 0);
}

/// Decompresses the contents of a data block stored with `compression` (LZ4 or zstd)
/// into `out`, for a file of segment format `format_version`: zstd blocks exist from
/// [`ZSTD_FORMAT_VERSION`] on, and are corruption in older files. `offset` is the
/// block's file offset, which errors name. Contents stored uncompressed are copied.
///
/// ```
/// use bytes::BytesMut;
/// use lsm_format::segment::block::{compress, decompress_into};
/// use lsm_format::{Compression, SEGMENT_FORMAT_VERSION};
///
/// let raw = b"abcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(10);
/// let mut stored = Vec::new();
/// assert!(compress(Compression::Zstd, &raw, &mut stored));
/// let mut out = BytesMut::new();
/// decompress_into(Compression::Zstd, &stored, 0, SEGMENT_FORMAT_VERSION, &mut out).unwrap();
/// assert_eq!(&out[..], &raw[..]);
/// assert!(decompress_into(Compression::Zstd, &stored, 0, 6, &mut out).is_err());
/// ```
pub fn decompress_into(
    compression: Compression,
    contents: &[u8],
    offset: u64,
    format_version: u32,
    out: &mut BytesMut,
) -> Result<()> {
    match compression {
        Compression::None => {
            out.clear();
            out.extend_from_slice(contents);
            Ok(())
        }
        Compression::Lz4 => decompress_lz4_into(contents, offset, out),
        Compression::Zstd if format_version < ZSTD_FORMAT_VERSION => Err(Error::corruption(
            offset,
            format!(
                "zstd block (compression 2) in a segment of format {format_version}, \
                 which knows none"
            ),
        )),
        Compression::Zstd => decompress_zstd_into(contents, offset, out),
    }
}

/// As [`decompress_into`], into a new buffer.
pub fn decompress(
    compression: Compression,
    contents: &[u8],
    offset: u64,
    format_version: u32,
) -> Result<Vec<u8>> {
    let mut out = BytesMut::new();
    decompress_into(compression, contents, offset, format_version, &mut out)?;
    Ok(out.into())
}

/// Compresses `raw` into `out` with `compression` if that shrinks it by at least 1/8
/// (section 3.1); returns whether it did. Always false for [`Compression::None`].
pub fn compress(compression: Compression, raw: &[u8], out: &mut Vec<u8>) -> bool {
    match compression {
        Compression::None => false,
        Compression::Lz4 => compress_lz4(raw, out),
        Compression::Zstd => compress_zstd(raw, out),
    }
}

/// Compresses `raw` into `out` as LZ4 contents (`uncompressed_len:u32 lz4_block`) if
/// that shrinks it by at least 1/8; returns whether it did. `out` is reused scratch.
pub fn compress_lz4(raw: &[u8], out: &mut Vec<u8>) -> bool {
    // Blocks above MAX_BLOCK_LEN would be refused by readers; the writer never makes
    // them (block_size is capped) but stays safe if it did.
    if raw.len() > MAX_BLOCK_LEN {
        return false;
    }
    let limit = raw.len() - raw.len() / 8;
    out.clear();
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.resize(4 + lz4_flex::block::get_maximum_output_size(raw.len()), 0);
    let n = match out.get_mut(4..) {
        Some(dst) => match lz4_flex::block::compress_into(raw, dst) {
            Ok(n) => n,
            Err(_) => return false,
        },
        None => return false,
    };
    out.truncate(4 + n);
    out.len() <= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(contents: &[u8], c: Compression, t: BlockType) -> Vec<u8> {
        let mut v = contents.to_vec();
        v.extend_from_slice(&trailer(contents, c, t));
        v
    }

    #[test]
    fn round_trip_and_checks() {
        let file = framed(b"hello", Compression::None, BlockType::Index);
        let h = BlockHandle { offset: 0, len: 5 };
        let (r, c) = read_raw(&file, h, BlockType::Index).unwrap();
        assert_eq!((&file[r], c), (&b"hello"[..], Compression::None));
        assert!(read_raw(&file, h, BlockType::Data)
            .unwrap_err()
            .is_corruption());
        let long = BlockHandle { offset: 0, len: 6 };
        assert!(read_raw(&file, long, BlockType::Index).is_err());
        let huge = BlockHandle {
            offset: u64::MAX,
            len: u32::MAX,
        };
        assert_eq!(
            read_raw(&file, huge, BlockType::Index)
                .unwrap_err()
                .offset(),
            Some(u64::MAX)
        );
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 1;
            assert!(read_raw(&bad, h, BlockType::Index).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn only_data_blocks_may_be_compressed() {
        let file = framed(b"xx", Compression::Lz4, BlockType::Filter);
        let h = BlockHandle { offset: 0, len: 2 };
        assert!(read_raw(&file, h, BlockType::Filter).is_err());
        let file = framed(b"xx", Compression::Lz4, BlockType::Data);
        assert_eq!(
            read_raw(&file, h, BlockType::Data).unwrap().1,
            Compression::Lz4
        );
        let mut file = framed(b"xx", Compression::None, BlockType::Data);
        file[2] = 7;
        let t = trailer(b"xx", Compression::None, BlockType::Data);
        let sum = checksum(&[b'x', b'x', 7, t[1]]);
        file[4..].copy_from_slice(&sum.to_le_bytes());
        assert!(read_raw(&file, h, BlockType::Data).is_err());
    }

    #[test]
    fn lz4_round_trip_and_bounds() {
        let raw = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(10);
        let mut out = Vec::new();
        assert!(compress_lz4(&raw, &mut out));
        assert_eq!(decompress_lz4(&out, 0).unwrap(), raw);
        // Incompressible data is refused by the 1/8 rule.
        let noise: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(!compress_lz4(&noise, &mut out));
        // An announced length beyond 255 * n + 16 is refused before allocating.
        let mut bad = u32::MAX.to_le_bytes().to_vec();
        bad.push(0);
        assert!(decompress_lz4(&bad, 9).unwrap_err().is_corruption());
        let mut wrong = out.clone();
        compress_lz4(&raw, &mut wrong);
        wrong[0] ^= 1;
        assert!(decompress_lz4(&wrong, 0).is_err());
        assert!(decompress_lz4(&[1, 2], 0).is_err());
        // Into a reused buffer, longer or shorter than the block: exactly the block.
        compress_lz4(&raw, &mut out);
        for old_len in [0, 7, raw.len(), 10_000] {
            let mut buf = BytesMut::from(&vec![0xEE; old_len][..]);
            decompress_lz4_into(&out, 0, &mut buf).unwrap();
            assert_eq!(&buf[..], &raw[..], "old length {old_len}");
            assert!(buf.capacity() <= 2 * raw.len(), "old length {old_len}");
        }
    }

    #[test]
    fn new_buffers_come_in_steps_so_a_recycled_one_takes_a_slightly_longer_block() {
        // Two blocks a few bytes apart in length, as neighbouring data blocks are.
        let shorter = b"key-00000001 value ".repeat(216); // 4104 bytes
        let longer = b"key-00000001 value ".repeat(220); // 4180 bytes
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert!(compress_lz4(&shorter, &mut a) && compress_lz4(&longer, &mut b));
        let mut buf = BytesMut::new();
        decompress_lz4_into(&a, 0, &mut buf).unwrap();
        assert_eq!(buf.capacity() % BUFFER_STEP, 0);
        assert!(buf.capacity() >= shorter.len());
        let allocation = buf.as_ptr();
        // Recycled: the longer block fits the same allocation.
        decompress_lz4_into(&b, 0, &mut buf).unwrap();
        assert_eq!(&buf[..], &longer[..]);
        assert_eq!(buf.as_ptr(), allocation, "the buffer was reallocated");
    }
}
