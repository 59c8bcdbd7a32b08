//! Blob files in a repair: which of them the rebuilt manifest can record, and
//! which pointer entries can keep their values.
//!
//! The rules, and why:
//! - a blob file is usable when it opens and verifies whole (header, every
//!   record, footer: `BlobReader::verify`); its manifest record is built from its
//!   own header and footer;
//! - a pointer entry stays only when its record reads back and is its key's, in a
//!   usable blob file of the segment's keyspace. Any other pointer entry has lost
//!   its value: it is dropped, as an unreadable block's entries are
//!   (`salvage.rs`), and the segment holding it is treated as damaged, its lost
//!   keys reported — a lookup may fall through to an older version, never to a
//!   value the key never had;
//! - a segment's blob references are computed from the pointer entries it keeps;
//!   the rebuilt manifest records exactly the blob files they name;
//! - a blob file is never deleted: one the rebuilt manifest does not record (no
//!   segment points into it, or it is damaged) is set aside in `lost/`, unless the
//!   old manifest recorded it dead, which proves it.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use lsm_format::blob::BlobReadOptions;
use lsm_format::file_name::blob_name;
use lsm_format::keyspace::KeyspaceId;
use lsm_format::manifest::{BlobFileMeta, BlobRef};
use lsm_format::{BlobPointer, BlobReader, EntryKind, SegmentReader};

use super::read_bytes;
use crate::blob::output::blob_path;
use crate::error::{Error, Result};
use crate::fs::FsRef;
use crate::recovery::listing::Listing;
use crate::repair::report::KeyRange;
use crate::repair::salvage::Item;

/// The blob files of the directory, judged.
pub(crate) struct BlobFiles {
    /// Those that verify whole, by number.
    usable: BTreeMap<u64, BlobReader>,
    /// Those that do not, by number: what is wrong.
    pub damaged: BTreeMap<u64, String>,
}

/// The pointer entries dropped from one set of items: their keys' range, how many,
/// and the blob files they pointed into.
#[derive(Debug, Default)]
pub(crate) struct Broken {
    pub entries: u64,
    pub keys: Option<KeyRange>,
    /// Entries dropped, by the blob file they pointed into (0: a pointer that does
    /// not decode).
    pub files: BTreeMap<u64, u64>,
}

impl Broken {
    /// A note for a file's finding: what its lost entries pointed into.
    pub fn note(&self) -> String {
        let names: Vec<String> = (self.files.keys())
            .map(|&n| match n {
                0 => "undecodable pointers".to_string(),
                n => blob_name(n),
            })
            .collect();
        format!(
            "{} entries point into missing or damaged blob files ({})",
            self.entries,
            names.join(", ")
        )
    }
}

impl BlobFiles {
    /// Opens and verifies every blob file of `listing`.
    ///
    /// # Errors
    /// `Io` when a file cannot be read.
    pub fn read(fs: &FsRef, dir: &Path, listing: &Listing) -> Result<BlobFiles> {
        let mut usable = BTreeMap::new();
        let mut damaged = BTreeMap::new();
        for &n in &listing.blobs {
            let data = read_bytes(fs, &blob_path(dir, n))?;
            let judged = BlobReader::open(data, BlobReadOptions::for_file(n))
                .and_then(|r| r.verify().map(|()| r));
            match judged {
                Ok(reader) => {
                    usable.insert(n, reader);
                }
                Err(e) => {
                    damaged.insert(n, e.to_string());
                }
            }
        }
        Ok(BlobFiles { usable, damaged })
    }

    /// Whether the pointer entry `item` of a segment of `keyspace` reads back.
    fn resolves(&self, keyspace: KeyspaceId, item: &Item) -> std::result::Result<(), u64> {
        let pointer = BlobPointer::decode(&item.value).map_err(|_| 0u64)?;
        let n = pointer.file_number;
        let reader = self.usable.get(&n).ok_or(n)?;
        if reader.properties().keyspace != keyspace {
            return Err(n);
        }
        match reader.get_record(&pointer) {
            Ok(record) if record.key == item.key => Ok(()),
            _ => Err(n),
        }
    }

    /// Removes from `items` (in internal order) the pointer entries of a segment of
    /// `keyspace` whose values cannot be read, and says what they were.
    pub fn drop_broken(&self, keyspace: KeyspaceId, items: &mut Vec<Item>) -> Broken {
        let mut broken = Broken::default();
        let mut lost_keys: Vec<Bytes> = Vec::new();
        items.retain(|item| {
            if item.kind != EntryKind::BlobPointer {
                return true;
            }
            match self.resolves(keyspace, item) {
                Ok(()) => true,
                Err(n) => {
                    broken.entries += 1;
                    *broken.files.entry(n).or_default() += 1;
                    lost_keys.push(item.key.clone());
                    false
                }
            }
        });
        if let (Some(lo), Some(hi)) = (lost_keys.iter().min(), lost_keys.iter().max()) {
            broken.keys = Some(KeyRange::new(lo.clone(), hi.clone()));
        }
        broken
    }

    /// The manifest record of usable blob file `number`, from its header and footer.
    pub fn meta(&self, number: u64) -> Option<BlobFileMeta> {
        let p = self.usable.get(&number)?.properties();
        Some(BlobFileMeta {
            keyspace: p.keyspace,
            file_number: number,
            file_size: p.file_size,
            record_count: p.record_count,
            value_bytes: p.value_bytes,
        })
    }

    /// Whether blob file `number` is usable.
    pub fn is_usable(&self, number: u64) -> bool {
        self.usable.contains_key(&number)
    }
}

/// The entries of a sound segment (only its pointer entries when
/// `pointers_only`), in internal order.
///
/// # Errors
/// `Corruption` naming `path` when an entry does not decode.
pub(crate) fn segment_items(
    reader: &SegmentReader,
    path: &Path,
    pointers_only: bool,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for e in reader.entries() {
        let e = e.map_err(|e| Error::from_format(path, e))?;
        if !pointers_only || e.kind == EntryKind::BlobPointer {
            items.push(Item {
                key: e.key,
                seq: e.seq,
                kind: e.kind,
                value: e.value,
            });
        }
    }
    Ok(items)
}

/// The blob references of a segment holding `items`: value bytes per blob file its
/// pointer entries name.
pub(crate) fn blob_refs<'a>(items: impl IntoIterator<Item = &'a Item>) -> Vec<BlobRef> {
    let mut refs: BTreeMap<u64, u64> = BTreeMap::new();
    for item in items {
        if item.kind != EntryKind::BlobPointer {
            continue;
        }
        if let Ok(p) = BlobPointer::decode(&item.value) {
            *refs.entry(p.file_number).or_default() += u64::from(p.value_len);
        }
    }
    refs.into_iter()
        .map(|(blob_file, value_bytes)| BlobRef {
            blob_file,
            value_bytes,
        })
        .collect()
}
