//! Every stored version of every key of a view, newest first within a key: what a
//! full compaction would read. For tools (`lsm-compact --dry-run` counts what it would
//! keep and drop) and tests; reads use `Scan`, which shows only the newest visible
//! version of each key.

use std::ops::Bound;

use bytes::Bytes;

use crate::error::Result;
use crate::explain::FoundVersion;
use crate::read_path::iter::{Cursor, MergeCursor};
use crate::read_path::SuperVersion;

/// An iterator over every stored version of every key, in key order and, within a
/// key, newest first; tombstones included. See [`ReadOnlyDb::versions`].
///
/// [`ReadOnlyDb::versions`]: crate::ReadOnlyDb::versions
pub struct Versions {
    cursor: MergeCursor,
    /// Where pointer entries' values are read from.
    version: std::sync::Arc<crate::version::Version>,
    started: bool,
    failed: bool,
}

impl Versions {
    pub(crate) fn new(sv: &SuperVersion) -> Versions {
        Versions {
            cursor: sv.cursor(Bound::Unbounded, Bound::Unbounded),
            version: sv.version.clone(),
            started: false,
            failed: false,
        }
    }
}

impl Iterator for Versions {
    type Item = Result<(Bytes, FoundVersion)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = if self.started {
            self.cursor.next()
        } else {
            self.started = true;
            self.cursor.seek_to_first()
        };
        if let Err(e) = step {
            // A damaged block ends the iteration: nothing after it can be trusted to
            // be complete.
            self.failed = true;
            return Some(Err(e));
        }
        if !self.cursor.valid() {
            return None;
        }
        let kind = self.cursor.kind();
        let value = match kind {
            lsm_format::EntryKind::Put | lsm_format::EntryKind::ExpiringPut => self.cursor.value(),
            lsm_format::EntryKind::BlobPointer => {
                let key = self.cursor.key_bytes();
                match self.version.resolve_blob(&key, &self.cursor.value()) {
                    Ok(value) => {
                        let seq = self.cursor.seq();
                        let kind = lsm_format::EntryKind::Put;
                        return Some(Ok((key, FoundVersion::from_stored(seq, kind, value))));
                    }
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            lsm_format::EntryKind::Tombstone | lsm_format::EntryKind::RangeDelete => Bytes::new(),
        };
        Some(Ok((
            self.cursor.key_bytes(),
            FoundVersion::from_stored(self.cursor.seq(), kind, value),
        )))
    }
}

impl std::fmt::Debug for Versions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Versions").finish_non_exhaustive()
    }
}
