//! The range-tombstone block of a format-4 segment: `docs/format.md` section 3.8.
//!
//! ```text
//! range_del_contents := fragment[count] count:u32
//! fragment           := start:bytes end:bytes n:varint32 seq:varint64[n]
//! ```
//!
//! The block holds the segment's range tombstones in their fragmented form
//! ([`Fragments`]): pieces sorted by key, not overlapping, each with its sequence
//! numbers newest first. A file without range tombstones has the 4-byte block
//! `count = 0`. The count at the end lets a reader check that the fragments end
//! exactly where it does (no trailing bytes), as the restart count of a data block
//! does.
//!
//! ```
//! use lsm_format::range_del::{Fragments, RangeTombstone};
//! use lsm_format::segment::range_del_block::{decode_range_dels, encode_range_dels};
//!
//! let f = Fragments::from_tombstones([RangeTombstone::new("a", "c", 7)]);
//! let contents = encode_range_dels(&f);
//! assert_eq!(contents, [1, b'a', 1, b'c', 1, 7, 1, 0, 0, 0]);
//! assert_eq!(decode_range_dels(&contents, 0)?, f);
//! assert_eq!(encode_range_dels(&Fragments::default()), [0, 0, 0, 0]);
//! # Ok::<(), lsm_format::Error>(())
//! ```

use bytes::Bytes;

use crate::coding::{put_length_prefixed, put_varint32, put_varint64, Decoder};
use crate::entry::{MAX_KEY_LEN, MAX_SEQUENCE};
use crate::error::{Error, Result};
use crate::range_del::is_valid_end;
use crate::range_del::{Fragment, Fragments};

/// Fewest bytes a fragment takes: a 1-byte empty start, a 1-byte key of end (2
/// bytes), `n = 1` and one 1-byte sequence number. Bounds the allocation for a
/// damaged count.
const MIN_FRAGMENT_LEN: usize = 5;

/// The block contents for `fragments` (which the writer checked with
/// [`check_writable`]).
///
/// ```
/// use lsm_format::range_del::{Fragments, RangeTombstone};
/// let f = Fragments::from_tombstones([RangeTombstone::new("a", "b", 300)]);
/// let bytes = lsm_format::segment::range_del_block::encode_range_dels(&f);
/// assert_eq!(bytes, [1, b'a', 1, b'b', 1, 0xac, 0x02, 1, 0, 0, 0]);
/// ```
pub fn encode_range_dels(fragments: &Fragments) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fragments.fragments() {
        put_length_prefixed(&mut out, &f.start);
        put_length_prefixed(&mut out, &f.end);
        put_varint32(&mut out, f.seqs.len() as u32);
        for &seq in &f.seqs {
            put_varint64(&mut out, seq);
        }
    }
    out.extend_from_slice(&(fragments.fragments().len() as u32).to_le_bytes());
    out
}

/// Whether the format can store `fragments`: keys within [`MAX_KEY_LEN`], sequence
/// numbers within [`MAX_SEQUENCE`], fewer than 2^32 pieces and numbers per piece.
/// (A [`Fragments`] is fragmented by construction.)
///
/// # Errors
/// `InvalidArgument` naming the first piece that does not fit.
///
/// ```
/// use lsm_format::range_del::{Fragments, RangeTombstone};
/// use lsm_format::segment::range_del_block::check_writable;
/// assert!(check_writable(&Fragments::from_tombstones([RangeTombstone::new("a", "b", 1)])).is_ok());
/// assert!(check_writable(&Fragments::from_tombstones([RangeTombstone::new("a", "b", 1 << 56)])).is_err());
/// ```
pub fn check_writable(fragments: &Fragments) -> Result<()> {
    if u32::try_from(fragments.fragments().len()).is_err() {
        return Err(Error::InvalidArgument(
            "more than 2^32 - 1 range-tombstone fragments".into(),
        ));
    }
    for f in fragments.fragments() {
        let bad = |what: String| {
            Err(Error::InvalidArgument(format!(
                "range tombstone [{:?}, {:?}): {what}",
                f.start, f.end
            )))
        };
        if f.start.len() > MAX_KEY_LEN || !is_valid_end(&f.end) {
            return bad(format!("a key exceeds {MAX_KEY_LEN} bytes"));
        }
        if let Some(seq) = f.seqs.iter().find(|&&s| s > MAX_SEQUENCE) {
            return bad(format!("sequence number {seq} exceeds {MAX_SEQUENCE}"));
        }
        if u32::try_from(f.seqs.len()).is_err() {
            return bad("more than 2^32 - 1 sequence numbers".into());
        }
    }
    Ok(())
}

/// Decodes block contents whose first byte is at file offset `offset`, checking
/// everything section 3.8 requires.
///
/// # Errors
/// `Corruption` (naming the offset) for contents shorter than the count, a count
/// the contents cannot hold, a bad varint or length, a key over [`MAX_KEY_LEN`], an
/// empty piece (`start >= end`), a piece without sequence numbers, numbers not
/// strictly descending or above [`MAX_SEQUENCE`], pieces out of order or
/// overlapping, or bytes between the last fragment and the count.
///
/// ```
/// use lsm_format::segment::range_del_block::decode_range_dels;
/// assert!(decode_range_dels(&[0, 0, 0, 0], 0)?.is_empty());
/// // "b" to "a" is an empty range: corruption, at offset 100.
/// let bad = [1, b'b', 1, b'a', 1, 7, 1, 0, 0, 0];
/// assert_eq!(decode_range_dels(&bad, 100).unwrap_err().offset(), Some(100));
/// # Ok::<(), lsm_format::Error>(())
/// ```
pub fn decode_range_dels(contents: &[u8], offset: u64) -> Result<Fragments> {
    let Some((area, count)) = contents.split_last_chunk::<4>() else {
        return Err(Error::corruption(
            offset,
            format!(
                "range-tombstone block of {} bytes has no fragment count",
                contents.len()
            ),
        ));
    };
    let count = u32::from_le_bytes(*count) as usize;
    let count_at = offset + area.len() as u64;
    if count > area.len() / MIN_FRAGMENT_LEN {
        return Err(Error::corruption(
            count_at,
            format!(
                "{count} range-tombstone fragments cannot fit in {} bytes",
                area.len()
            ),
        ));
    }
    let mut d = Decoder::new(area, offset);
    let mut list: Vec<Fragment> = Vec::with_capacity(count);
    for _ in 0..count {
        let at = d.offset();
        let start = d.length_prefixed(MAX_KEY_LEN, "range tombstone start")?;
        let end = d.length_prefixed(MAX_KEY_LEN + 1, "range tombstone end")?;
        if !is_valid_end(end) {
            return Err(Error::corruption(
                at,
                format!(
                    "range tombstone end of {} bytes is neither a key nor the end of keys",
                    end.len()
                ),
            ));
        }
        if start >= end {
            return Err(Error::corruption(
                at,
                "range-tombstone fragment is empty (start >= end)",
            ));
        }
        if list.last().is_some_and(|prev| &prev.end[..] > start) {
            return Err(Error::corruption(
                at,
                "range-tombstone fragment starts before the previous one ends",
            ));
        }
        let n_at = d.offset();
        let n = d.varint32("range tombstone seq count")? as usize;
        if n == 0 || n > d.remaining() {
            return Err(Error::corruption(
                n_at,
                format!(
                    "range-tombstone fragment with {n} sequence numbers in {} bytes",
                    d.remaining()
                ),
            ));
        }
        let mut seqs = Vec::with_capacity(n);
        for _ in 0..n {
            let seq_at = d.offset();
            let seq = d.varint64("range tombstone seq")?;
            if seq > MAX_SEQUENCE {
                return Err(Error::corruption(
                    seq_at,
                    format!("range tombstone sequence number {seq} exceeds {MAX_SEQUENCE}"),
                ));
            }
            if seqs.last().is_some_and(|&prev| prev <= seq) {
                return Err(Error::corruption(
                    seq_at,
                    "range tombstone sequence numbers not strictly descending",
                ));
            }
            seqs.push(seq);
        }
        list.push(Fragment {
            start: Bytes::copy_from_slice(start),
            end: Bytes::copy_from_slice(end),
            seqs,
        });
    }
    if !d.is_empty() {
        return Err(d.error(format!(
            "{} bytes after the last range-tombstone fragment",
            d.remaining()
        )));
    }
    // The checks above are the same rules; this keeps the one definition in charge.
    Fragments::from_fragmented(list)
        .ok_or_else(|| Error::corruption(offset, "range tombstones are not fragmented"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range_del::RangeTombstone;

    fn sample() -> Fragments {
        Fragments::from_tombstones([
            RangeTombstone::new("a", "m", 5),
            RangeTombstone::new("f", "z", 9),
            RangeTombstone::new("", "\0", 300),
        ])
    }

    #[test]
    fn round_trip_and_every_truncation() {
        let f = sample();
        let bytes = encode_range_dels(&f);
        assert_eq!(decode_range_dels(&bytes, 0).unwrap(), f);
        for cut in 0..bytes.len() {
            let e = decode_range_dels(&bytes[..cut], 0).unwrap_err();
            assert!(e.is_corruption(), "cut {cut}: {e}");
        }
        let mut long = bytes[..bytes.len() - 4].to_vec();
        long.push(0);
        long.extend_from_slice(&bytes[bytes.len() - 4..]);
        assert!(decode_range_dels(&long, 0)
            .unwrap_err()
            .to_string()
            .contains("after the last"));
    }

    /// The example of `docs/format.md` section 3.8, byte for byte.
    #[test]
    fn the_spec_example() {
        let f = Fragments::from_tombstones([
            RangeTombstone::new("a", "m", 5),
            RangeTombstone::new("f", "z", 9),
        ]);
        let bytes = encode_range_dels(&f);
        assert_eq!(
            bytes,
            [
                1, b'a', 1, b'f', 1, 5, //
                1, b'f', 1, b'm', 2, 9, 5, //
                1, b'm', 1, b'z', 1, 9, //
                3, 0, 0, 0,
            ]
        );
        assert_eq!(bytes.len(), 23);
        assert_eq!(f.tombstone_count(), 4);
    }

    #[test]
    fn each_rule_is_checked() {
        let frag = |s: &str, e: &str, seqs: &[u64]| {
            let mut out = Vec::new();
            put_length_prefixed(&mut out, s.as_bytes());
            put_length_prefixed(&mut out, e.as_bytes());
            put_varint32(&mut out, seqs.len() as u32);
            for &q in seqs {
                put_varint64(&mut out, q);
            }
            out
        };
        let block = |frags: &[Vec<u8>]| {
            let mut out = frags.concat();
            out.extend_from_slice(&(frags.len() as u32).to_le_bytes());
            out
        };
        let ok = block(&[frag("a", "b", &[3, 1]), frag("b", "c", &[2])]);
        assert_eq!(decode_range_dels(&ok, 0).unwrap().tombstone_count(), 3);
        for (bad, why) in [
            (block(&[frag("b", "a", &[1])]), "empty"),
            (block(&[frag("a", "a", &[1])]), "empty"),
            (block(&[frag("a", "b", &[])]), "0 sequence"),
            (block(&[frag("a", "b", &[1, 1])]), "descending"),
            (block(&[frag("a", "b", &[1, 2])]), "descending"),
            (block(&[frag("a", "b", &[1 << 56])]), "exceeds"),
            (
                block(&[frag("a", "c", &[1]), frag("b", "d", &[1])]),
                "before",
            ),
            (
                block(&[frag("c", "d", &[1]), frag("a", "b", &[1])]),
                "before",
            ),
            (vec![0xff, 0xff, 0xff, 0x7f], "cannot fit"),
            (vec![1, 0, 0], "no fragment count"),
        ] {
            let e = decode_range_dels(&bad, 0).unwrap_err();
            assert!(
                e.is_corruption() && e.to_string().contains(why),
                "{why}: {e}"
            );
        }
        assert!(
            check_writable(&Fragments::from_tombstones([RangeTombstone::new(
                vec![b'k'; MAX_KEY_LEN + 1],
                "z",
                1
            )]))
            .is_err()
        );
    }
}
