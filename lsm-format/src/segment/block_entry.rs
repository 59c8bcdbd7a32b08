//! The fixed part of one block entry: `docs/format.md` section 3.2.
//!
//! ```text
//! entry := shared:varint32 unshared:varint32 value_len:varint32
//!          key_delta[unshared] tag:u64 value[value_len]
//! ```
//!
//! Decoding checks every length against the end of the entry area before anything is
//! sliced, so a damaged entry becomes an error, never a panic or a read elsewhere.
//!
//! Which kinds are entries depends on the block: tombstones (kind 0, no value in a
//! data block) and puts (kind 1) always; expiring puts (kind 3, value of at least
//! [`EXPIRY_LEN`] bytes in a data block) from segment format version 4 on; blob
//! pointers (kind 4, a value of [`MIN_POINTER_LEN`] to [`MAX_POINTER_LEN`] bytes in
//! a data block) from version 6 on; range deletes (kind 2) never.

use crate::entry::{EntryKind, EXPIRY_LEN};

/// Shortest encoded blob pointer: a version byte and four one-byte varints.
pub const MIN_POINTER_LEN: usize = 5;
/// Longest encoded blob pointer: a version byte, two varint64s and two varint32s.
pub const MAX_POINTER_LEN: usize = 1 + 10 + 10 + 5 + 5;

/// What a block may hold: the rules [`decode_header`] applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryRules {
    /// An index block: entries carry the tag of a data entry (possibly a tombstone
    /// or an expiring put) and a block handle as value, so value lengths are not
    /// checked against the kind.
    pub index: bool,
    /// Kind 3 (expiring put) is an entry: the file's format version is at least
    /// [`RANGE_DEL_FORMAT_VERSION`](crate::segment::RANGE_DEL_FORMAT_VERSION).
    pub expiring: bool,
    /// Kind 4 (blob pointer) is an entry: the file's format version is at least
    /// [`BLOB_POINTER_FORMAT_VERSION`](crate::segment::BLOB_POINTER_FORMAT_VERSION).
    pub blob: bool,
}

impl EntryRules {
    /// Whether an entry of kind byte `kind` with a value of `value_len` bytes is
    /// allowed.
    #[inline(always)]
    fn allows(self, kind: u64, value_len: usize) -> bool {
        kind == EntryKind::Put as u64
            || (kind == EntryKind::Tombstone as u64 && (value_len == 0 || self.index))
            || (kind == EntryKind::ExpiringPut as u64
                && self.expiring
                && (value_len >= EXPIRY_LEN || self.index))
            || (kind == EntryKind::BlobPointer as u64
                && self.blob
                && ((MIN_POINTER_LEN..=MAX_POINTER_LEN).contains(&value_len) || self.index))
    }
}

/// Where the parts of an entry lie within its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Bytes of the previous key this entry's key starts with.
    pub shared: usize,
    /// Offset of `key_delta`.
    pub key_start: usize,
    /// Offset of the tag (end of `key_delta`).
    pub tag_start: usize,
    /// Offset of the value.
    pub value_start: usize,
    /// Length of the value.
    pub value_len: usize,
    /// The tag, with a known kind.
    pub tag: u64,
}

/// Decodes the entry header at `pos` of `area` (the block's entry area, restart array
/// excluded), allowing the kinds `rules` allow.
///
/// # Errors
/// A description of what is wrong; the caller adds the location.
#[inline(always)]
pub fn decode_header(area: &[u8], pos: usize, rules: EntryRules) -> Result<Header, String> {
    match fast_header(area, pos, rules) {
        Some(h) => Ok(h),
        None => Err(header_error(area, pos, rules)),
    }
}

/// The common case: key lengths below 128 (one-byte varints). `None` sends the entry
/// to the full decoder (longer keys) or to the error path.
#[inline(always)]
fn fast_header(area: &[u8], pos: usize, rules: EntryRules) -> Option<Header> {
    let [shared, unshared] = *area.get(pos..pos.checked_add(2)?)? else {
        return None;
    };
    if (shared | unshared) >= 0x80 {
        return full_header(area, pos, rules).ok();
    }
    let (value_len, key_start) = varint32_at(area, pos + 2)?;
    let value_len = value_len as usize;
    let tag_start = key_start + usize::from(unshared);
    let value_start = tag_start + 8;
    if value_start.checked_add(value_len)? > area.len() {
        return None;
    }
    let tag = u64_at(area, tag_start)?;
    rules.allows(tag & 0xff, value_len).then_some(Header {
        shared: usize::from(shared),
        key_start,
        tag_start,
        value_start,
        value_len,
        tag,
    })
}

/// Why the entry at `pos` does not decode (the error path of [`decode_header`]).
#[cold]
#[inline(never)]
fn header_error(area: &[u8], pos: usize, rules: EntryRules) -> String {
    match full_header(area, pos, rules) {
        Err(reason) => reason,
        Ok(_) => "entry does not decode".to_string(),
    }
}

/// The general decoder, for varints of any length, with a reason for each failure.
#[inline(never)]
fn full_header(area: &[u8], pos: usize, rules: EntryRules) -> Result<Header, String> {
    let bad = |what: &str| format!("entry {what}");
    let (shared, p) = varint32_at(area, pos).ok_or_else(|| bad("has a bad shared length"))?;
    let (unshared, p) = varint32_at(area, p).ok_or_else(|| bad("has a bad key length"))?;
    let (value_len, p) = varint32_at(area, p).ok_or_else(|| bad("has a bad value length"))?;
    let key_start = p;
    let tag_start = key_start.checked_add(unshared as usize);
    let value_start = tag_start.and_then(|t| t.checked_add(8));
    let end = value_start.and_then(|v| v.checked_add(value_len as usize));
    let (Some(tag_start), Some(value_start), Some(end)) = (tag_start, value_start, end) else {
        return Err(bad("runs past the end of the block's entries"));
    };
    if end > area.len() {
        return Err(bad("runs past the end of the block's entries"));
    }
    let tag = u64_at(area, tag_start).ok_or_else(|| bad("runs past the end of the block"))?;
    let kind = (tag & 0xff) as u8;
    let value_len = value_len as usize;
    if !rules.allows(u64::from(kind), value_len) {
        // A range delete is never an entry; an expiring put needs format 4.
        return Err(match EntryKind::from_u8(kind) {
            Some(EntryKind::Tombstone) => bad("is a tombstone with a value"),
            Some(EntryKind::ExpiringPut) if rules.expiring => bad(&format!(
                "is an expiring put with a {value_len}-byte value (at least {EXPIRY_LEN})"
            )),
            Some(EntryKind::BlobPointer) if rules.blob => bad(&format!(
                "is a blob pointer of {value_len} bytes ({MIN_POINTER_LEN} to {MAX_POINTER_LEN})"
            )),
            _ => bad(&format!("has unknown kind {kind}")),
        });
    }
    Ok(Header {
        shared: shared as usize,
        key_start,
        tag_start,
        value_start,
        value_len,
        tag,
    })
}

/// Decodes a varint32 (at most 5 bytes, value within 32 bits) at `pos`; returns the
/// value and the position after it.
#[inline]
pub fn varint32_at(buf: &[u8], pos: usize) -> Option<(u32, usize)> {
    let b0 = *buf.get(pos)?;
    if b0 < 0x80 {
        return Some((u32::from(b0), pos + 1));
    }
    let mut v = u32::from(b0 & 0x7f);
    for i in 1..5 {
        let b = *buf.get(pos + i)?;
        if i == 4 && b > 0x0f {
            return None;
        }
        v |= u32::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((v, pos + i + 1));
        }
    }
    None
}

/// The little-endian `u32` at `pos`, if it fits.
#[inline]
pub fn u32_at(buf: &[u8], pos: usize) -> Option<u32> {
    let b = buf.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// The little-endian `u64` at `pos`, if it fits.
#[inline]
pub fn u64_at(buf: &[u8], pos: usize) -> Option<u64> {
    let b = buf.get(pos..pos.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
#[inline]
pub fn mismatch(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (
        a.get(..n).unwrap_or_default(),
        b.get(..n).unwrap_or_default(),
    );
    let mut i = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let (x, y) = (u64_of(x), u64_of(y));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let rest = a.get(i..).unwrap_or_default().iter();
    i + rest
        .zip(b.get(i..).unwrap_or_default())
        .take_while(|(x, y)| x == y)
        .count()
}

#[inline]
fn u64_of(chunk: &[u8]) -> u64 {
    chunk.try_into().map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint32_limits() {
        assert_eq!(varint32_at(&[0x7f], 0), Some((127, 1)));
        assert_eq!(
            varint32_at(&[0xff, 0xff, 0xff, 0xff, 0x0f], 0),
            Some((u32::MAX, 5))
        );
        assert_eq!(varint32_at(&[0xff, 0xff, 0xff, 0xff, 0x10], 0), None);
        assert_eq!(varint32_at(&[0x80], 0), None);
        assert_eq!(u32_at(&[1, 0, 0], 0), None);
        assert_eq!(u64_at(&[1, 0, 0, 0, 0, 0, 0, 0], 0), Some(1));
    }

    const DATA: EntryRules = EntryRules {
        index: false,
        expiring: false,
        blob: false,
    };
    const INDEX: EntryRules = EntryRules {
        index: true,
        expiring: false,
        blob: false,
    };

    #[test]
    fn expiring_puts_need_the_rule_and_an_expiry() {
        let entry = |kind: u64, value: &[u8]| {
            let mut e = vec![0, 1, value.len() as u8, b'k'];
            e.extend_from_slice(&(9u64 << 8 | kind).to_le_bytes());
            e.extend_from_slice(value);
            e
        };
        let v4 = EntryRules {
            index: false,
            expiring: true,
            blob: false,
        };
        let ok = entry(3, &[7; 8]);
        assert!(decode_header(&ok, 0, DATA)
            .unwrap_err()
            .contains("unknown kind 3"));
        assert_eq!(decode_header(&ok, 0, v4).unwrap().value_len, 8);
        let short = entry(3, &[7; 7]);
        assert!(decode_header(&short, 0, v4)
            .unwrap_err()
            .contains("expiring put with a 7-byte value"));
        let index_v4 = EntryRules {
            index: true,
            expiring: true,
            blob: false,
        };
        assert!(decode_header(&short, 0, index_v4).is_ok());
        let range = entry(2, b"z");
        for rules in [DATA, INDEX, v4, index_v4] {
            assert!(decode_header(&range, 0, rules)
                .unwrap_err()
                .contains("unknown kind 2"));
        }
        // One-byte and multi-byte length paths agree.
        let mut long = vec![0, 0x81, 0x01, 8];
        long.extend_from_slice(&[b'k'; 129]);
        long.extend_from_slice(&(9u64 << 8 | 3).to_le_bytes());
        long.extend_from_slice(&[1; 8]);
        assert!(decode_header(&long, 0, v4).is_ok());
        assert!(decode_header(&long, 0, DATA).is_err());
    }

    #[test]
    fn blob_pointers_need_the_rule_and_a_pointer_length() {
        let entry = |kind: u64, value: &[u8]| {
            let mut e = vec![0, 1, value.len() as u8, b'k'];
            e.extend_from_slice(&(9u64 << 8 | kind).to_le_bytes());
            e.extend_from_slice(value);
            e
        };
        let v6 = EntryRules {
            index: false,
            expiring: true,
            blob: true,
        };
        let index_v6 = EntryRules { index: true, ..v6 };
        let shortest = entry(4, &[1, 7, 25, 11, 0]);
        assert!(decode_header(&shortest, 0, DATA)
            .unwrap_err()
            .contains("unknown kind 4"));
        assert_eq!(decode_header(&shortest, 0, v6).unwrap().value_len, 5);
        assert_eq!(
            decode_header(&entry(4, &[1; 31]), 0, v6).unwrap().value_len,
            31
        );
        for bad in [&[1u8; 4][..], &[1; 32], &[]] {
            assert!(decode_header(&entry(4, bad), 0, v6)
                .unwrap_err()
                .contains("is a blob pointer of"));
            assert!(decode_header(&entry(4, bad), 0, index_v6).is_ok());
        }
    }

    #[test]
    fn headers_are_bounds_checked() {
        let mut e = vec![2, 1, 3, b'x'];
        e.extend_from_slice(&(5u64 << 8 | 1).to_le_bytes());
        e.extend_from_slice(b"abc");
        let h = decode_header(&e, 0, DATA).unwrap();
        assert_eq!(
            (
                h.shared,
                h.key_start,
                h.tag_start,
                h.value_start,
                h.value_len
            ),
            (2, 3, 4, 12, 3)
        );
        for cut in 0..e.len() {
            assert!(decode_header(&e[..cut], 0, DATA).is_err(), "cut at {cut}");
        }
        let mut tomb = e.clone();
        tomb[4] = 0;
        assert!(decode_header(&tomb, 0, DATA)
            .unwrap_err()
            .contains("tombstone"));
        assert!(decode_header(&tomb, 0, INDEX).is_ok());
        tomb[4] = 2;
        assert!(decode_header(&tomb, 0, INDEX)
            .unwrap_err()
            .contains("kind 2"));
        // Two-byte key length (200) and value length (300): the general decoder.
        let mut long = vec![0, 0xc8, 0x01, 0xac, 0x02];
        long.extend_from_slice(&[b'k'; 200]);
        long.extend_from_slice(&(1u64 << 8 | 1).to_le_bytes());
        long.extend_from_slice(&[b'v'; 300]);
        let h = decode_header(&long, 0, DATA).unwrap();
        assert_eq!((h.key_start, h.tag_start, h.value_len), (5, 205, 300));
        assert_eq!(h.value_start + h.value_len, long.len());
        assert!(decode_header(&long[..long.len() - 1], 0, DATA).is_err());
        let huge = [0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        assert!(decode_header(&huge, 0, DATA).is_err());
    }

    #[test]
    fn mismatch_finds_the_first_difference() {
        let a: Vec<u8> = (0..40).collect();
        for i in 0..40 {
            let mut b = a.clone();
            b[i] ^= 0x10;
            assert_eq!(mismatch(&a, &b), i);
            assert_eq!(mismatch(&a[..i], &b), i);
        }
        assert_eq!(mismatch(&a, &a), 40);
        assert_eq!(mismatch(&a, &a[..17]), 17);
        assert_eq!(mismatch(b"", b"x"), 0);
    }
}
