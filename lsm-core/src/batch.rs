//! Atomic write batches.
//!
//! A batch keeps all its keys and values back to back in one buffer, with a small
//! record per operation: building one costs two growing vectors, not an allocation
//! per key and value.

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};
use lsm_format::EntryKind;

/// A group of puts and deletes applied atomically by [`crate::Db::write`]: after a
/// crash either all of them are present or none, and no reader sees part of it.
///
/// ```
/// let mut batch = lsm_core::WriteBatch::new();
/// batch.put(b"a", b"1").put(b"b", b"2").delete(b"c");
/// assert_eq!(batch.len(), 3);
/// assert_eq!(batch.size_bytes(), 5);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Every key and value, in operation order.
    data: Vec<u8>,
    ops: Vec<RawOp>,
}

/// One operation: its keyspace, its kind and where its key and value lie in `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawOp {
    /// The keyspace written to: 0 (the default keyspace) for every operation the
    /// public methods add.
    keyspace: KeyspaceId,
    kind: EntryKind,
    start: usize,
    key_len: usize,
    value_len: usize,
    /// An expiring put whose value still starts with its TTL in milliseconds, not
    /// yet its expiry time: [`WriteBatch::fix_expiries`] turns one into the other
    /// when the batch is committed.
    ttl: bool,
}

impl WriteBatch {
    /// An empty batch.
    ///
    /// ```
    /// assert!(lsm_core::WriteBatch::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `ops` operations of `bytes` key and value bytes
    /// in total: building a batch of known size then allocates nothing more.
    ///
    /// ```
    /// let mut batch = lsm_core::WriteBatch::with_capacity(1000, 1000 * 24);
    /// for i in 0..1000u32 {
    ///     batch.put(format!("key{i:05}"), [0u8; 16]);
    /// }
    /// assert_eq!(batch.len(), 1000);
    /// ```
    pub fn with_capacity(ops: usize, bytes: usize) -> Self {
        WriteBatch {
            data: Vec::with_capacity(bytes),
            ops: Vec::with_capacity(ops),
        }
    }

    fn push(&mut self, kind: EntryKind, key: &[u8], value: &[u8]) {
        self.push_in(DEFAULT_KEYSPACE, kind, key, value);
    }

    /// Adds an operation on `keyspace`. The WAL records the keyspace of each
    /// operation (`docs/format.md` section 5).
    pub(crate) fn push_in(
        &mut self,
        keyspace: KeyspaceId,
        kind: EntryKind,
        key: &[u8],
        value: &[u8],
    ) {
        let start = self.data.len();
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        self.ops.push(RawOp {
            keyspace,
            kind,
            start,
            key_len: key.len(),
            value_len: value.len(),
            ttl: false,
        });
    }

    /// Adds a put of `value` under `key`; returns the batch, so calls chain.
    ///
    /// ```
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.put("a", "1").put(b"b", [2u8]);
    /// assert_eq!(batch.len(), 2);
    /// ```
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.push(EntryKind::Put, key.as_ref(), value.as_ref());
        self
    }

    /// Adds a put of `value` under `key` that expires `ttl` after the batch is
    /// written; returns the batch, so calls chain. The expiry is fixed when
    /// [`crate::Db::write`] commits the batch: the database's
    /// [`clock`](crate::Options::clock) at that moment plus `ttl` (rounded up to
    /// whole milliseconds, saturating). From then on the key reads as deleted, as
    /// if a delete had been written in place of this put: older values of the key
    /// stay hidden. A zero `ttl` writes a value that has already expired. The put
    /// counts 8 bytes more in [`WriteBatch::size_bytes`] (the stored expiry).
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch
    ///     .put_with_ttl("session/1", "token", Duration::from_secs(3600))
    ///     .put("user/1", "ada");
    /// db.write(batch)?;
    /// assert_eq!(db.get("session/1")?.as_deref(), Some(&b"token"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_with_ttl(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> &mut Self {
        let ttl_ms = crate::clock::expiry_ms(0, ttl);
        let stored = lsm_format::entry::encode_expiring(ttl_ms, value.as_ref());
        self.push(EntryKind::ExpiringPut, key.as_ref(), &stored);
        if let Some(op) = self.ops.last_mut() {
            op.ttl = true;
        }
        self
    }

    /// True when the batch holds a put whose expiry [`WriteBatch::fix_expiries`]
    /// has yet to fix.
    pub(crate) fn has_ttl(&self) -> bool {
        self.ops.iter().any(|op| op.ttl)
    }

    /// Fixes the expiry of every TTL put: `now_ms` plus its TTL, saturating. The
    /// write path calls it once per batch, before the batch is encoded.
    pub(crate) fn fix_expiries(&mut self, now_ms: u64) {
        for op in self.ops.iter_mut().filter(|op| op.ttl) {
            let at = op.start + op.key_len;
            if let Some(prefix) = self
                .data
                .get_mut(at..)
                .and_then(|v| v.first_chunk_mut::<{ lsm_format::entry::EXPIRY_LEN }>())
            {
                let ttl_ms = u64::from_le_bytes(*prefix);
                *prefix = now_ms.saturating_add(ttl_ms).to_le_bytes();
                op.ttl = false;
            }
        }
    }

    /// Adds a delete of `key`; returns the batch, so calls chain.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("k", "v")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.delete("k").put("k2", "v2");
    /// db.write(batch)?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.push(EntryKind::Tombstone, key.as_ref(), &[]);
        self
    }

    /// Adds a delete of every key `k` with `start <= k < end` (half-open, as
    /// RocksDB's `DeleteRange`); returns the batch, so calls chain. One operation
    /// however many keys it covers: it hides older versions only, so a put later in
    /// this batch or in a later write is visible. `start == end` deletes nothing and
    /// is left out; `start > end` makes [`crate::Db::write`] fail with
    /// `InvalidArgument`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// db.put("c", "3")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.delete_range("a", "c").put("b", "new");
    /// db.write(batch)?;
    /// assert_eq!(db.get("a")?, None);
    /// assert_eq!(db.get("b")?.as_deref(), Some(&b"new"[..])); // written after the delete
    /// assert_eq!(db.get("c")?.as_deref(), Some(&b"3"[..])); // the end is excluded
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range(&mut self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> &mut Self {
        let (start, end) = (start.as_ref(), end.as_ref());
        if start != end {
            self.push(EntryKind::RangeDelete, start, end);
        }
        self
    }

    /// Adds a delete of every key that starts with `prefix` (the empty prefix
    /// deletes every key); returns the batch, so calls chain. One operation, like
    /// [`WriteBatch::delete_range`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.put("user/1", "ann")?;
    /// db.put("user/2", "bob")?;
    /// db.put("users", "kept")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.delete_prefix("user/");
    /// db.write(batch)?;
    /// assert_eq!(db.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_prefix(&mut self, prefix: impl AsRef<[u8]>) -> &mut Self {
        let prefix = prefix.as_ref();
        let end = prefix_end(prefix);
        self.push(EntryKind::RangeDelete, prefix, &end);
        self
    }

    /// Number of operations.
    ///
    /// ```
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.put("k", "v").delete("k");
    /// assert_eq!(batch.len(), 2); // every operation counts, even on one key
    /// ```
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the batch holds no operation.
    ///
    /// ```
    /// let mut batch = lsm_core::WriteBatch::new();
    /// assert!(batch.is_empty());
    /// batch.delete("k");
    /// assert!(!batch.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Sum of key and value bytes.
    ///
    /// ```
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.put("key", "value").delete("gone");
    /// assert_eq!(batch.size_bytes(), 3 + 5 + 4);
    /// ```
    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }

    /// Removes every operation (keeping the allocated room), so one batch can be
    /// filled and written again and again.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// for chunk in [["a", "b"], ["c", "d"]] {
    ///     for k in chunk {
    ///         batch.put(k, "v");
    ///     }
    ///     db.write(batch.clone())?;
    ///     batch.clear();
    /// }
    /// assert_eq!(db.iter().count(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&mut self) {
        self.data.clear();
        self.ops.clear();
    }
    /// Adds a put of `value` under `key` in `keyspace`; returns the batch, so calls
    /// chain. One batch may write to many keyspaces, atomically: it is one WAL
    /// record, wholly applied or (after a crash) wholly absent. The handle must be
    /// of the database the batch is written to.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let (users, emails) = (db.keyspace("users")?, db.keyspace("emails")?);
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.put_in(&users, "ada", "Ada Lovelace").put_in(&emails, "ada@example.org", "ada");
    /// db.write(batch)?;
    /// assert_eq!(emails.get("ada@example.org")?.as_deref(), Some(&b"ada"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_in(
        &mut self,
        keyspace: &crate::Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> &mut Self {
        self.push_in(keyspace.id(), EntryKind::Put, key.as_ref(), value.as_ref());
        self
    }

    /// [`WriteBatch::put_with_ttl`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let sessions = db.keyspace("sessions")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.put_with_ttl_in(&sessions, "s1", "token", std::time::Duration::from_secs(60));
    /// db.write(batch)?;
    /// assert!(sessions.contains_key("s1")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_with_ttl_in(
        &mut self,
        keyspace: &crate::Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> &mut Self {
        let ttl_ms = crate::clock::expiry_ms(0, ttl);
        let stored = lsm_format::entry::encode_expiring(ttl_ms, value.as_ref());
        self.push_in(keyspace.id(), EntryKind::ExpiringPut, key.as_ref(), &stored);
        if let Some(op) = self.ops.last_mut() {
            op.ttl = true;
        }
        self
    }

    /// [`WriteBatch::delete`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let users = db.keyspace("users")?;
    /// users.put("ada", "1")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.delete_in(&users, "ada");
    /// db.write(batch)?;
    /// assert_eq!(users.get("ada")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_in(&mut self, keyspace: &crate::Keyspace, key: impl AsRef<[u8]>) -> &mut Self {
        self.push_in(keyspace.id(), EntryKind::Tombstone, key.as_ref(), &[]);
        self
    }

    /// [`WriteBatch::delete_range`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let logs = db.keyspace("logs")?;
    /// logs.put("2024", "x")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.delete_range_in(&logs, "2000", "2025");
    /// db.write(batch)?;
    /// assert!(logs.iter().next().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_range_in(
        &mut self,
        keyspace: &crate::Keyspace,
        start: impl AsRef<[u8]>,
        end: impl AsRef<[u8]>,
    ) -> &mut Self {
        let (start, end) = (start.as_ref(), end.as_ref());
        if start != end {
            self.push_in(keyspace.id(), EntryKind::RangeDelete, start, end);
        }
        self
    }

    /// [`WriteBatch::delete_prefix`] in `keyspace`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let logs = db.keyspace("logs")?;
    /// logs.put("tmp/1", "x")?;
    /// let mut batch = lsm_core::WriteBatch::new();
    /// batch.delete_prefix_in(&logs, "tmp/");
    /// db.write(batch)?;
    /// assert!(logs.prefix("tmp/").next().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_prefix_in(
        &mut self,
        keyspace: &crate::Keyspace,
        prefix: impl AsRef<[u8]>,
    ) -> &mut Self {
        let prefix = prefix.as_ref();
        let end = prefix_end(prefix);
        self.push_in(keyspace.id(), EntryKind::RangeDelete, prefix, &end);
        self
    }

    /// Appends every operation of `other` (with its keyspace).
    pub(crate) fn append(&mut self, other: &WriteBatch) {
        for (keyspace, kind, key, value) in other.iter_in() {
            self.push_in(keyspace, kind, key, value);
        }
        // Expiries are fixed on the appended copy as on the original.
        let n = other.ops.len();
        let start = self.ops.len() - n;
        for (mine, theirs) in self.ops.iter_mut().skip(start).zip(&other.ops) {
            mine.ttl = theirs.ttl;
        }
    }

    /// The keyspaces the batch writes to other than the default one.
    pub(crate) fn keyspaces(&self) -> impl Iterator<Item = KeyspaceId> + '_ {
        self.ops
            .iter()
            .map(|op| op.keyspace)
            .filter(|&k| k != DEFAULT_KEYSPACE)
    }

    /// The operations in order: `(kind, key, value)`, value empty for deletes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (EntryKind, &[u8], &[u8])> + '_ {
        self.iter_in()
            .map(|(_, kind, key, value)| (kind, key, value))
    }

    /// The operations in order with their keyspace: `(keyspace, kind, key, value)`.
    pub(crate) fn iter_in(
        &self,
    ) -> impl Iterator<Item = (KeyspaceId, EntryKind, &[u8], &[u8])> + '_ {
        self.ops.iter().map(move |op| {
            let key_end = op.start + op.key_len;
            let key = self.data.get(op.start..key_end).unwrap_or_default();
            let value = self
                .data
                .get(key_end..key_end + op.value_len)
                .unwrap_or_default();
            (op.keyspace, op.kind, key, value)
        })
    }
}

/// The smallest key greater than every key that starts with `prefix`: the prefix
/// with its last byte below 0xff incremented and what follows it dropped. A prefix
/// of 0xff bytes only (the empty one included) has no such key; then
/// [`lsm_format::range_del::END_OF_KEYS`], which is greater than every key the
/// format stores.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&b| b != 0xff) {
        Some(i) => {
            let mut end = prefix.get(..=i).unwrap_or_default().to_vec();
            if let Some(last) = end.last_mut() {
                *last += 1;
            }
            end
        }
        None => lsm_format::range_del::END_OF_KEYS.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_are_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), b"ac");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b""), lsm_format::range_del::END_OF_KEYS);
        assert_eq!(prefix_end(b"\xff"), lsm_format::range_del::END_OF_KEYS);
        let mut b = WriteBatch::new();
        b.delete_range("x", "x");
        assert!(b.is_empty(), "an empty range is no operation");
    }

    #[test]
    fn operations_come_back_in_order() {
        let mut b = WriteBatch::with_capacity(3, 16);
        b.put("k1", "v1").delete("k2").put("", "");
        let ops: Vec<_> = b.iter().collect();
        assert_eq!(
            ops,
            vec![
                (EntryKind::Put, &b"k1"[..], &b"v1"[..]),
                (EntryKind::Tombstone, &b"k2"[..], &b""[..]),
                (EntryKind::Put, &b""[..], &b""[..]),
            ]
        );
        assert_eq!((b.len(), b.size_bytes()), (3, 6));
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.iter().count(), 0);
    }

    #[test]
    fn operations_keep_their_keyspace() {
        let mut b = WriteBatch::new();
        b.put("k1", "v1");
        b.push_in(7, EntryKind::Put, b"k2", b"v2");
        let ops: Vec<_> = b.iter_in().collect();
        assert_eq!(
            ops,
            vec![
                (0, EntryKind::Put, &b"k1"[..], &b"v1"[..]),
                (7, EntryKind::Put, &b"k2"[..], &b"v2"[..]),
            ]
        );
        assert_eq!(b.iter().count(), 2);
    }

    #[test]
    fn ttl_puts_get_their_expiry_when_fixed() {
        let mut batch = WriteBatch::new();
        batch
            .put_with_ttl("k", "v", std::time::Duration::from_millis(1500))
            .put("p", "w");
        assert!(batch.has_ttl());
        let stored = |b: &WriteBatch| -> Vec<(EntryKind, Vec<u8>)> {
            b.iter().map(|(kind, _, v)| (kind, v.to_vec())).collect()
        };
        let mut fixed = batch.clone();
        fixed.fix_expiries(10_000);
        assert!(!fixed.has_ttl());
        assert_eq!(
            stored(&fixed),
            [
                (
                    EntryKind::ExpiringPut,
                    lsm_format::entry::encode_expiring(11_500, b"v")
                ),
                (EntryKind::Put, b"w".to_vec())
            ]
        );
        // Fixing again changes nothing; the original batch still holds its TTL.
        fixed.fix_expiries(99_999);
        assert_eq!(
            stored(&fixed).first().map(|s| s.1.clone()),
            Some(lsm_format::entry::encode_expiring(11_500, b"v"))
        );
        batch.fix_expiries(u64::MAX - 1);
        assert_eq!(
            lsm_format::entry::decode_expiring(&stored(&batch)[0].1).map(|d| d.0),
            Some(u64::MAX)
        );
    }
}
