//! Data blocks read with positional reads (`BlockSource::positional`) instead of from
//! the bytes the reader was opened on: same answers, every block checked every time,
//! I/O errors passed on as `Error::Io`.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lsm_format::{
    BlockCacheKey, BlockRead, BlockSource, Compression, EntryKind, Error, ReadAt, ReadOptions,
    SegmentReader, SegmentWriter, WriterOptions,
};

/// A file held in memory whose positional reads can be damaged or failed.
struct MemFile {
    bytes: Mutex<Vec<u8>>,
    reads: AtomicUsize,
    fail: Mutex<Option<io::ErrorKind>>,
}

impl MemFile {
    fn new(bytes: &[u8]) -> Arc<Self> {
        Arc::new(MemFile {
            bytes: Mutex::new(bytes.to_vec()),
            reads: AtomicUsize::new(0),
            fail: Mutex::new(None),
        })
    }
}

impl ReadAt for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if let Some(kind) = *self.fail.lock().unwrap() {
            return Err(io::Error::new(kind, "injected read failure"));
        }
        let bytes = self.bytes.lock().unwrap();
        let start = offset as usize;
        let src = bytes
            .get(start..start + buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[derive(Default)]
struct MapCache(Mutex<HashMap<BlockCacheKey, Bytes>>);

/// Positional reads from `file` when there is one, and a cache keeping every block
/// built, when there is one.
struct Source {
    file: Option<Arc<MemFile>>,
    cache: Option<Arc<MapCache>>,
}

impl BlockSource for Source {
    fn positional(&self) -> Option<&dyn ReadAt> {
        self.file.as_deref().map(|f| f as &dyn ReadAt)
    }
    fn cached(&self, key: &BlockCacheKey) -> Option<Bytes> {
        self.cache.as_ref()?.0.lock().unwrap().get(key).cloned()
    }
    fn built(&self, key: BlockCacheKey, block: &Bytes, _read: BlockRead) {
        if let Some(cache) = &self.cache {
            cache.0.lock().unwrap().insert(key, block.clone());
        }
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

fn segment(compression: Compression) -> Vec<u8> {
    let mut w = SegmentWriter::new(
        Vec::new(),
        WriterOptions {
            compression,
            block_size: 512,
            ..WriterOptions::default()
        },
    );
    for i in 0..3000u32 {
        let kind = if i % 7 == 3 {
            EntryKind::Tombstone
        } else {
            EntryKind::Put
        };
        let value = if kind == EntryKind::Put {
            format!("value-{i}-").repeat(3).into_bytes()
        } else {
            Vec::new()
        };
        w.add(&key(i), u64::from(i) + 1, kind, &value).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn open(
    bytes: &[u8],
    file: Option<Arc<MemFile>>,
    cache: Option<Arc<MapCache>>,
) -> SegmentReader<Source> {
    let options = ReadOptions {
        segment_id: 1,
        file_name: Some("000001.seg".into()),
    };
    SegmentReader::open_with(
        Bytes::copy_from_slice(bytes),
        options,
        Source { file, cache },
    )
    .unwrap()
}

#[test]
fn positional_reads_give_the_same_answers_as_the_file_bytes() {
    for compression in [Compression::None, Compression::Lz4] {
        let bytes = segment(compression);
        let plain = open(&bytes, None, None);
        for cached in [false, true] {
            let file = MemFile::new(&bytes);
            let cache = cached.then(|| Arc::new(MapCache::default()));
            let r = open(&bytes, Some(file.clone()), cache.clone());
            for i in (0..3100u32).step_by(7) {
                assert_eq!(
                    r.get(&key(i), u64::MAX >> 8).unwrap(),
                    plain.get(&key(i), u64::MAX >> 8).unwrap(),
                    "{compression:?} cached {cached} key {i}"
                );
            }
            let all: Vec<_> = r.entries().map(Result::unwrap).collect();
            let expected: Vec<_> = plain.entries().map(Result::unwrap).collect();
            assert_eq!(all, expected, "{compression:?} cached {cached}");
            assert!(
                file.reads.load(Ordering::Relaxed) > 0,
                "data came from read_at"
            );
            if let Some(cache) = cache {
                // Every block read went into the cache, compressed or not.
                let blocks = r.properties().data_block_count as usize;
                assert_eq!(cache.0.lock().unwrap().len(), blocks);
                let before = file.reads.load(Ordering::Relaxed);
                assert_eq!(r.entries().count(), expected.len());
                assert_eq!(
                    file.reads.load(Ordering::Relaxed),
                    before,
                    "served by the cache"
                );
            }
        }
    }
}

#[test]
fn a_block_damaged_after_a_good_read_is_still_caught() {
    for compression in [Compression::None, Compression::Lz4] {
        let bytes = segment(compression);
        let file = MemFile::new(&bytes);
        let r = open(&bytes, Some(file.clone()), None);
        let probe = key(1000);
        let found = r.get(&probe, u64::MAX >> 8).unwrap().expect("present");
        assert_eq!(found.key, probe);
        // Damage the block holding the key under the reader, as a device returning
        // different bytes on a later read would.
        let block = r
            .index_entries()
            .unwrap()
            .into_iter()
            .find(|e| e.last_key.as_ref() >= probe.as_slice())
            .expect("a block holds the key")
            .handle;
        file.bytes.lock().unwrap()[block.offset as usize + 3] ^= 0x40;
        match r.get(&probe, u64::MAX >> 8) {
            Err(Error::Corruption { offset, reason }) => {
                assert_eq!(offset, block.offset, "{compression:?}");
                assert!(reason.contains("checksum mismatch"), "{reason}");
                assert!(reason.contains("000001.seg"), "{reason}");
            }
            other => panic!("{compression:?}: expected corruption, got {other:?}"),
        }
        // Blocks elsewhere still read.
        assert!(r.get(&key(10), u64::MAX >> 8).unwrap().is_some());
    }
}

#[test]
fn read_failures_are_io_errors() {
    let bytes = segment(Compression::Lz4);
    let file = MemFile::new(&bytes);
    let r = open(
        &bytes,
        Some(file.clone()),
        Some(Arc::new(MapCache::default())),
    );
    *file.fail.lock().unwrap() = Some(io::ErrorKind::Other);
    match r.get(&key(5), u64::MAX >> 8) {
        Err(Error::Io(e)) => assert!(e.to_string().contains("injected"), "{e}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    // A file shorter than its index says is an I/O error too (never a panic).
    *file.fail.lock().unwrap() = None;
    file.bytes.lock().unwrap().truncate(100);
    assert!(matches!(
        r.get(&key(2000), u64::MAX >> 8),
        Err(Error::Io(_))
    ));
    assert!(r.entries().any(|e| e.is_err()));
}
