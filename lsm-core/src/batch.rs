//! Atomic write batches.

use bytes::Bytes;

use lsm_format::EntryKind;

/// A group of puts and deletes applied atomically by [`crate::Db::write`]: after a
/// crash either all of them are present or none.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub(crate) ops: Vec<BatchOp>,
    pub(crate) bytes: usize,
}

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchOp {
    pub kind: EntryKind,
    pub key: Bytes,
    pub value: Bytes,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put of `value` under `key`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.bytes += key.len() + value.len();
        self.ops.push(BatchOp {
            kind: EntryKind::Put,
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
        });
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        let key = key.as_ref();
        self.bytes += key.len();
        self.ops.push(BatchOp {
            kind: EntryKind::Tombstone,
            key: Bytes::copy_from_slice(key),
            value: Bytes::new(),
        });
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Sum of key and value bytes.
    pub fn size_bytes(&self) -> usize {
        self.bytes
    }

    /// Removes every operation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.bytes = 0;
    }
}
