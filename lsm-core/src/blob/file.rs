//! An open, live blob file shared by versions, scans and snapshots, and how a
//! blob pointer entry is resolved through the blob files of a version.
//!
//! As for segments (`segment/file.rs`), a blob file is removed only by the `Drop`
//! of its last [`BlobFile`] handle, and only after the engine marked it obsolete,
//! once a durable manifest edit deleted it. Every version holds the handles of its
//! keyspace's live blob files, so a reader that can still meet a pointer into a
//! file keeps that file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::blob::BlobReadOptions;
use lsm_format::manifest::BlobFileMeta;
use lsm_format::{BlobPointer, BlobReader};

use bytes::BytesMut;
use lsm_format::BlockCacheKey;

use crate::blob::output::blob_path;
use crate::error::{Error, Result};
use crate::fs::FsRef;
use crate::segment::block_cache::LruBlockCache;

/// The live blob files of one keyspace's version, by number.
pub(crate) type BlobSet = Arc<BTreeMap<u64, Arc<BlobFile>>>;

/// One open blob file.
pub(crate) struct BlobFile {
    pub meta: BlobFileMeta,
    path: PathBuf,
    reader: BlobReader,
    fs: FsRef,
    obsolete: AtomicBool,
    /// The database's block cache, which also keeps values read from blob files
    /// (as `key_len:varint key value`, by file number and record offset: file
    /// numbers are unique across segments and blob files).
    cache: Option<Arc<LruBlockCache>>,
}

/// How a value read from a blob file may use the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobRead {
    /// A read for the application: found in the cache or kept there.
    Cached,
    /// A one-pass read (compaction): looked up, never added.
    OnePass,
}

impl BlobFile {
    /// Opens blob file `meta` of `dir`: its header and footer must check and
    /// agree with what the manifest recorded (size, keyspace, records, value
    /// bytes).
    ///
    /// # Errors
    /// `Io` when it cannot be opened (a missing file is `NotFound`);
    /// `Corruption` naming the file when it does not check or does not match.
    pub fn open(
        fs: &FsRef,
        dir: &Path,
        meta: BlobFileMeta,
        cache: Option<Arc<LruBlockCache>>,
    ) -> Result<Arc<BlobFile>> {
        let path = blob_path(dir, meta.file_number);
        let reader = open_reader(fs, &path, meta.file_number)?;
        let p = reader.properties();
        let found = (p.file_size, p.keyspace, p.record_count, p.value_bytes);
        let recorded = (
            meta.file_size,
            meta.keyspace,
            meta.record_count,
            meta.value_bytes,
        );
        if found != recorded {
            return Err(Error::Corruption {
                file: path,
                offset: 0,
                reason: format!(
                    "the file holds (size, keyspace, records, value bytes) {found:?}, the \
                     manifest recorded {recorded:?}"
                ),
            });
        }
        Ok(Arc::new(BlobFile {
            meta,
            path,
            reader,
            fs: Arc::clone(fs),
            obsolete: AtomicBool::new(false),
            cache,
        }))
    }

    pub fn number(&self) -> u64 {
        self.meta.file_number
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key` that `pointer` names in this file: the record must be
    /// whole, check, have the pointer's value length and be `key`'s.
    ///
    /// # Errors
    /// `Corruption` naming the file and the record's offset; `Io`.
    pub fn read(&self, key: &[u8], pointer: &BlobPointer, how: BlobRead) -> Result<Bytes> {
        let Some(cache) = &self.cache else {
            return read_checked(&self.reader, &self.path, key, pointer);
        };
        let cache_key = BlockCacheKey {
            segment_id: self.meta.file_number,
            offset: pointer.offset,
        };
        if let Some(entry) = cache.get(&cache_key) {
            // The entry was checked when it was read; it is returned only to
            // the key it was read for.
            if let Some(value) = cached_value(&entry, key) {
                return Ok(value);
            }
        }
        let value = read_checked(&self.reader, &self.path, key, pointer)?;
        if how == BlobRead::Cached {
            let mut entry = BytesMut::with_capacity(5 + key.len() + value.len());
            let mut len = Vec::with_capacity(5);
            lsm_format::coding::put_varint32(&mut len, key.len() as u32);
            entry.extend_from_slice(&len);
            entry.extend_from_slice(key);
            entry.extend_from_slice(&value);
            let entry = entry.freeze();
            let value = entry.slice(len.len() + key.len()..);
            cache.insert(cache_key, entry);
            return Ok(value);
        }
        Ok(value)
    }

    /// Marks the file for deletion once the last handle is dropped. Call only after
    /// a durable manifest edit deleted it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for BlobFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            match self.fs.remove(&self.path) {
                Ok(()) => log::debug!("removed obsolete blob file {}", self.path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log::warn!(
                    "could not remove obsolete blob file {}: {e} (it is removed at next open)",
                    self.path.display()
                ),
            }
        }
    }
}

impl std::fmt::Debug for BlobFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobFile")
            .field("number", &self.meta.file_number)
            .field("size", &self.meta.file_size)
            .finish()
    }
}

/// The value of a cache entry `key_len:varint key value` when its key is `key`.
fn cached_value(entry: &Bytes, key: &[u8]) -> Option<Bytes> {
    let mut d = lsm_format::coding::Decoder::new(entry, 0);
    let len = d.varint32("cached key length").ok()? as usize;
    let start = entry.len() - d.remaining();
    let end = start.checked_add(len)?;
    (entry.get(start..end)? == key).then(|| entry.slice(end..))
}

/// Decodes `stored`, the value of `key`'s blob pointer entry.
///
/// # Errors
/// `Corruption` when it does not decode.
pub(crate) fn decode_pointer(key: &[u8], stored: &[u8]) -> Result<BlobPointer> {
    BlobPointer::decode(stored).map_err(|e| Error::Corruption {
        file: PathBuf::new(),
        offset: 0,
        reason: format!("the blob pointer of key {key:?} does not decode: {e}"),
    })
}

/// The value of `key` that `stored` (a blob pointer entry's value) points to,
/// through `blobs`, the live blob files of the version the entry was read from.
/// A pointer into a file that is not among them, a record that does not check or
/// is another key's: corruption naming the file and offset, never a wrong value.
///
/// # Errors
/// `Corruption` as above; `Io` from the read.
pub(crate) fn resolve(
    blobs: &BTreeMap<u64, Arc<BlobFile>>,
    key: &[u8],
    stored: &[u8],
    how: BlobRead,
) -> Result<Bytes> {
    let pointer = decode_pointer(key, stored)?;
    let Some(file) = blobs.get(&pointer.file_number) else {
        return Err(Error::Corruption {
            file: PathBuf::from(lsm_format::file_name::blob_name(pointer.file_number)),
            offset: pointer.offset,
            reason: format!(
                "the blob pointer of key {key:?} names blob file {}, which is not live",
                pointer.file_number
            ),
        });
    };
    let r = file.read(key, &pointer, how);
    if let Err(e) = &r {
        if e.is_corruption() {
            log::error!("{e}");
        }
    }
    r
}

/// The value of `key` that `stored` points to, read from the blob file of `dir`
/// it names, whether the manifest lists it or not (open's audit of the files a
/// crash left behind).
///
/// # Errors
/// As [`resolve`].
pub(crate) fn resolve_in_dir(fs: &FsRef, dir: &Path, key: &[u8], stored: &[u8]) -> Result<Bytes> {
    let pointer = decode_pointer(key, stored)?;
    let path = blob_path(dir, pointer.file_number);
    let reader = open_reader(fs, &path, pointer.file_number)?;
    read_checked(&reader, &path, key, &pointer)
}

fn open_reader(fs: &FsRef, path: &Path, number: u64) -> Result<BlobReader> {
    let mapping = fs.map(path).map_err(|e| Error::io(path, e))?;
    let options = BlobReadOptions::for_file(number);
    let opened = match mapping.read_at() {
        Some(file) => {
            BlobReader::open_read_at(Arc::clone(file), mapping.bytes.len() as u64, options)
        }
        None => BlobReader::open(mapping.bytes.clone(), options),
    };
    opened.map_err(|e| Error::from_format(path, e))
}

fn read_checked(
    reader: &BlobReader,
    path: &Path,
    key: &[u8],
    pointer: &BlobPointer,
) -> Result<Bytes> {
    let record = reader
        .get_record(pointer)
        .map_err(|e| Error::from_format(path, e))?;
    if record.key != key {
        return Err(Error::Corruption {
            file: path.to_path_buf(),
            offset: pointer.offset,
            reason: format!(
                "the record holds key {:?}, the pointer is key {key:?}'s",
                record.key
            ),
        });
    }
    Ok(record.value)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use lsm_format::EntryKind;

    use super::*;
    use crate::fs::SimFs;
    use crate::options::Options;
    use crate::segment::builder::SegmentBuilder;

    /// (key, stored pointer, value) of one entry.
    type Written = (Vec<u8>, Vec<u8>, Vec<u8>);

    /// Writes keys `k000..k009` with 500-byte values through a builder with a
    /// blob threshold; returns the pointer entries and the blob file's record.
    fn write(fs: &FsRef, dir: &Path) -> (Vec<Written>, BlobFileMeta) {
        fs.create_dir_all(dir).unwrap();
        let next = AtomicU64::new(1);
        let mut b = SegmentBuilder::new(fs, dir, &Options::default(), 0, &next);
        b.set_blob_threshold(Some(100));
        let value = |i: u8| vec![i; 500];
        for i in 0..10u8 {
            b.add(format!("k{i:03}").as_bytes(), 1, EntryKind::Put, &value(i))
                .unwrap();
        }
        let built = b.finish_with_blobs().unwrap();
        assert_eq!(built.blobs.len(), 1);
        let blob = built.blobs[0].clone();
        let seg = &built.segments[0];
        let bytes = fs
            .read(&crate::filenames::segment_path(dir, seg.file_number))
            .unwrap();
        let reader =
            lsm_format::SegmentReader::open(bytes.into(), lsm_format::ReadOptions::default())
                .unwrap();
        let entries = reader
            .entries()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!(e.kind, EntryKind::BlobPointer);
                let i = e.key[3] - b'0';
                (e.key.to_vec(), e.value.to_vec(), value(i))
            })
            .collect();
        (entries, blob)
    }

    #[test]
    fn pointers_resolve_to_their_values() {
        let sim = SimFs::new();
        let fs: FsRef = Arc::new(sim);
        let dir = Path::new("/db");
        let (entries, meta) = write(&fs, dir);
        let number = meta.file_number;
        let cache = Arc::new(LruBlockCache::new(1 << 20));
        let file = BlobFile::open(&fs, dir, meta.clone(), Some(Arc::clone(&cache))).unwrap();
        let files = BTreeMap::from([(number, file)]);
        for (key, stored, value) in entries.iter().chain(&entries) {
            assert_eq!(
                &resolve(&files, key, stored, BlobRead::Cached).unwrap()[..],
                &value[..]
            );
            assert_eq!(
                &resolve_in_dir(&fs, dir, key, stored).unwrap()[..],
                &value[..]
            );
        }
        // The second round came from the cache.
        assert_eq!(cache.hits(), entries.len() as u64);
        // Another key's pointer is refused, not followed, cached or not.
        let e = resolve(&files, &entries[0].0, &entries[1].1, BlobRead::Cached).unwrap_err();
        assert!(e.is_corruption(), "{e}");
        // A pointer into a file the version does not hold is refused.
        let none = BTreeMap::new();
        let e = resolve(&none, &entries[0].0, &entries[0].1, BlobRead::Cached).unwrap_err();
        assert!(e.is_corruption(), "{e}");
        // A file that does not match what the manifest recorded is refused.
        let wrong = BlobFileMeta {
            record_count: meta.record_count + 1,
            ..meta
        };
        assert!(BlobFile::open(&fs, dir, wrong, None)
            .unwrap_err()
            .is_corruption());
    }

    /// A flipped byte anywhere in a record is corruption naming the blob file
    /// and the record's offset, never a wrong value.
    #[test]
    fn a_flipped_byte_is_corruption_naming_the_file() {
        let sim = SimFs::new();
        let fs: FsRef = Arc::new(sim.clone());
        let dir = Path::new("/db");
        let (entries, _) = write(&fs, dir);
        let name = fs
            .list(dir)
            .unwrap()
            .into_iter()
            .find(|n| n.ends_with(".blob"))
            .unwrap();
        let path = dir.join(&name);
        let good = sim.read_file(&path).unwrap();
        let (key, stored, _) = &entries[4];
        let pointer = BlobPointer::decode(stored).unwrap();
        let record = pointer.offset as usize..(pointer.offset + u64::from(pointer.len)) as usize;
        for at in record.step_by(37) {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            let mut f = fs.create(&path).unwrap();
            f.write_all(&bad).unwrap();
            f.sync().unwrap();
            drop(f);
            match resolve_in_dir(&fs, dir, key, stored) {
                Ok(got) => panic!("flip at {at}: read {} bytes, want an error", got.len()),
                Err(Error::Corruption { file, offset, .. }) => {
                    assert_eq!(
                        (file, offset),
                        (path.clone(), pointer.offset),
                        "flip at {at}"
                    );
                }
                Err(e) => panic!("flip at {at}: {e}"),
            }
        }
    }
}
