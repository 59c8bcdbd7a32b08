//! Entry kinds, tags and the internal order (`docs/format.md` section 1).

use std::cmp::Ordering;

/// Largest key, in bytes, the format stores.
pub const MAX_KEY_LEN: usize = 65535;
/// Largest value, in bytes, the format stores (256 MiB).
pub const MAX_VALUE_LEN: usize = 256 << 20;
/// Largest sequence number: sequence numbers are 56 bits wide.
pub const MAX_SEQUENCE: u64 = (1 << 56) - 1;

/// Whether an entry sets a value or deletes the key. The discriminants are written to
/// disk and frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EntryKind {
    /// A deletion marker that hides older values of the key.
    Tombstone = 0,
    /// A value for the key.
    Put = 1,
    /// A range delete: the key is the range's start and the value its (exclusive)
    /// end. Only in write-ahead-log batches; a segment keeps range tombstones in
    /// its range-tombstone block, never among its entries.
    RangeDelete = 2,
    /// A value that expires: the stored value is `expires_at_ms:u64` (little-endian
    /// Unix milliseconds) followed by the user's value. From the moment
    /// `expires_at_ms` the key reads as deleted.
    ExpiringPut = 3,
    /// A value kept in a blob file: the stored value is an encoded
    /// [`BlobPointer`](crate::BlobPointer) (`docs/format.md` section 8.4). Only in
    /// segments of format 6 on, written by flushes and compactions for values at
    /// or above the keyspace's blob threshold; never in write-ahead-log batches,
    /// which keep whole values.
    BlobPointer = 4,
}

impl EntryKind {
    /// Decodes an on-disk kind byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(EntryKind::Tombstone),
            1 => Some(EntryKind::Put),
            2 => Some(EntryKind::RangeDelete),
            3 => Some(EntryKind::ExpiringPut),
            4 => Some(EntryKind::BlobPointer),
            _ => None,
        }
    }
}

/// Length of the expiry prefix of an [`EntryKind::ExpiringPut`] value.
pub const EXPIRY_LEN: usize = 8;

/// Builds the stored value of an [`EntryKind::ExpiringPut`]: the expiry time, then
/// the user's value.
///
/// ```
/// let stored = lsm_format::entry::encode_expiring(1_000, b"v");
/// assert_eq!(lsm_format::entry::decode_expiring(&stored), Some((1_000, &b"v"[..])));
/// ```
pub fn encode_expiring(expires_at_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(EXPIRY_LEN + value.len());
    out.extend_from_slice(&expires_at_ms.to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// Splits the stored value of an [`EntryKind::ExpiringPut`] into its expiry time
/// (Unix milliseconds) and the user's value; `None` when it is shorter than the
/// prefix (corruption).
///
/// ```
/// assert_eq!(lsm_format::entry::decode_expiring(b"short"), None);
/// ```
pub fn decode_expiring(stored: &[u8]) -> Option<(u64, &[u8])> {
    let (prefix, value) = stored.split_first_chunk::<EXPIRY_LEN>()?;
    Some((u64::from_le_bytes(*prefix), value))
}

/// Packs a sequence number and kind into the 8-byte tag `seq << 8 | kind`.
#[inline]
pub fn pack_tag(seq: u64, kind: EntryKind) -> u64 {
    debug_assert!(seq <= MAX_SEQUENCE);
    (seq << 8) | kind as u64
}

/// Splits a tag into sequence number and kind; `None` for an unknown kind.
#[inline]
pub fn unpack_tag(tag: u64) -> Option<(u64, EntryKind)> {
    EntryKind::from_u8((tag & 0xff) as u8).map(|k| (tag >> 8, k))
}

/// Internal order: key ascending, then sequence number descending (newest first).
#[inline]
pub fn compare_internal(a_key: &[u8], a_seq: u64, b_key: &[u8], b_seq: u64) -> Ordering {
    a_key.cmp(b_key).then_with(|| b_seq.cmp(&a_seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_order() {
        let t = pack_tag(MAX_SEQUENCE, EntryKind::Put);
        assert_eq!(unpack_tag(t), Some((MAX_SEQUENCE, EntryKind::Put)));
        assert_eq!(unpack_tag(7), None);
        assert_eq!(compare_internal(b"a", 5, b"a", 3), Ordering::Less);
        assert_eq!(compare_internal(b"a", 1, b"b", 9), Ordering::Less);
    }
}
