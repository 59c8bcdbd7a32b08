//! The blob files a read path resolves pointers through: a [`BlobReader`] per
//! file number, opened on first use and kept (blob files are immutable), reading
//! one record per value with a positional read when the file system offers one
//! (as segments read their blocks), else from the file's mapping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use lsm_format::blob::BlobReadOptions;
use lsm_format::{BlobPointer, BlobReader};
use parking_lot::Mutex;

use crate::blob::output::blob_path;
use crate::error::{Error, Result};
use crate::fs::FsRef;

/// Open blob readers of one database directory, by file number.
pub(crate) struct BlobFiles {
    fs: FsRef,
    dir: PathBuf,
    open: Mutex<HashMap<u64, BlobReader>>,
}

impl BlobFiles {
    /// Readers of the blob files of `dir`, none open yet.
    pub fn new(fs: FsRef, dir: &Path) -> Self {
        BlobFiles {
            fs,
            dir: dir.to_path_buf(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key` that `stored` (a blob pointer entry's value) points to.
    /// The record must be whole, check, have the pointer's value length and be
    /// `key`'s: anything else is corruption naming the blob file and the record's
    /// offset (or the segment entry's pointer, when it does not decode), never a
    /// wrong value.
    ///
    /// # Errors
    /// `Corruption` as above; `Io` when the file cannot be opened or read.
    pub fn resolve(&self, key: &[u8], stored: &[u8]) -> Result<Bytes> {
        let pointer = BlobPointer::decode(stored).map_err(|e| Error::Corruption {
            file: PathBuf::new(),
            offset: 0,
            reason: format!("the blob pointer of key {key:?} does not decode: {e}"),
        })?;
        let path = blob_path(&self.dir, pointer.file_number);
        let reader = self.reader(pointer.file_number, &path)?;
        let record = reader
            .get_record(&pointer)
            .map_err(|e| Error::from_format(&path, e))?;
        if record.key != key {
            return Err(Error::Corruption {
                file: path,
                offset: pointer.offset,
                reason: format!(
                    "the record holds key {:?}, the pointer is key {key:?}'s",
                    record.key
                ),
            });
        }
        Ok(record.value)
    }

    /// The reader of blob file `number`, opened (header and footer checked) on
    /// first use.
    fn reader(&self, number: u64, path: &Path) -> Result<BlobReader> {
        if let Some(r) = self.open.lock().get(&number) {
            return Ok(r.clone());
        }
        let mapping = self.fs.map(path).map_err(|e| Error::io(path, e))?;
        let options = BlobReadOptions::for_file(number);
        let opened = match mapping.read_at() {
            Some(file) => {
                BlobReader::open_read_at(Arc::clone(file), mapping.bytes.len() as u64, options)
            }
            None => BlobReader::open(mapping.bytes.clone(), options),
        };
        let reader = opened.map_err(|e| Error::from_format(path, e))?;
        Ok(self.open.lock().entry(number).or_insert(reader).clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use lsm_format::EntryKind;

    use super::*;
    use crate::fs::SimFs;
    use crate::options::Options;
    use crate::segment::builder::SegmentBuilder;

    /// Writes keys `k000..k009` with 500-byte values through a builder with a
    /// blob threshold; returns the pointer entries' (key, stored pointer, value).
    fn write(fs: &FsRef, dir: &Path) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
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
        let seg = &built.segments[0];
        let bytes = fs
            .read(&crate::filenames::segment_path(dir, seg.file_number))
            .unwrap();
        let reader =
            lsm_format::SegmentReader::open(bytes.into(), lsm_format::ReadOptions::default())
                .unwrap();
        reader
            .entries()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!(e.kind, EntryKind::BlobPointer);
                let i = e.key[3] - b'0';
                (e.key.to_vec(), e.value.to_vec(), value(i))
            })
            .collect()
    }

    #[test]
    fn pointers_resolve_to_their_values() {
        let sim = SimFs::new();
        let fs: FsRef = Arc::new(sim);
        let dir = Path::new("/db");
        let entries = write(&fs, dir);
        let files = BlobFiles::new(fs, dir);
        for (key, stored, value) in &entries {
            assert_eq!(&files.resolve(key, stored).unwrap()[..], &value[..]);
        }
        // Another key's pointer is refused, not followed.
        let e = files.resolve(&entries[0].0, &entries[1].1).unwrap_err();
        assert!(e.is_corruption(), "{e}");
    }

    /// A flipped byte anywhere in a record is corruption naming the blob file
    /// and the record's offset, never a wrong value.
    #[test]
    fn a_flipped_byte_is_corruption_naming_the_file() {
        let sim = SimFs::new();
        let fs: FsRef = Arc::new(sim.clone());
        let dir = Path::new("/db");
        let entries = write(&fs, dir);
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
            let files = BlobFiles::new(Arc::clone(&fs), dir);
            match files.resolve(key, stored) {
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
