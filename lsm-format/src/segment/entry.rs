//! [`Entry`]: one decoded entry of a data block (`docs/format.md` section 3.2) as
//! lookups and iteration return it.

use bytes::Bytes;

use crate::entry::EntryKind;

/// One entry as returned by lookups and iteration. The value shares the file's
/// bytes (or a decompressed block) instead of copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// User key.
    pub key: Bytes,
    /// Sequence number.
    pub seq: u64,
    /// Put, expiring put or tombstone.
    pub kind: EntryKind,
    /// Value as stored; empty for tombstones, expiry time first for expiring puts
    /// ([`decode_expiring`](crate::entry::decode_expiring)).
    pub value: Bytes,
}
