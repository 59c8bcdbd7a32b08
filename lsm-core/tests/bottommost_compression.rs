//! `Options::bottommost_compression`: compaction outputs at the bottom of the tree
//! (no deeper level holds files) take it; flushes and compactions into a level above
//! the bottom take `Options::compression`. Checked on the files themselves: the
//! compression their properties name, and that of each data block's trailer.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lsm_core::{Compression, Db, KeyspaceOptions, Options};
use lsm_format::{ReadOptions, SegmentReader};

/// Compressible values: the key, then a sentence.
fn value(i: usize) -> Vec<u8> {
    format!("{i:06} the quick brown fox jumps over the lazy dog, again and again").into_bytes()
}

fn options() -> Options {
    Options::default()
        .with_memtable_size(1 << 20)
        .with_segment_size(1 << 20)
        .with_block_size(1024)
        .with_level0_compaction_trigger(2)
        .with_compression(Compression::Lz4)
        .with_bottommost_compression(Some(Compression::Zstd))
}

/// A segment: keyspace, smallest key, the properties' compression, the compressions
/// found in its data blocks' trailers, file size.
type SegmentInfo = (u32, Vec<u8>, u8, Vec<u8>, u64);

/// Every segment of `dir`.
fn segments(dir: &Path) -> Vec<SegmentInfo> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "seg") {
            continue;
        }
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let r = SegmentReader::open(bytes.clone(), ReadOptions::default()).unwrap();
        let mut blocks: Vec<u8> = r
            .index_entries()
            .unwrap()
            .iter()
            .map(|e| bytes[(e.handle.offset + u64::from(e.handle.len)) as usize])
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        let p = r.properties();
        let size = bytes.len() as u64;
        out.push((
            p.keyspace,
            p.smallest_key.to_vec(),
            p.compression,
            blocks,
            size,
        ));
    }
    out.sort();
    out
}

fn wait_for_level0_to_empty(db: &Db) {
    let start = Instant::now();
    while db.stats().levels[0].segments > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "compaction never ran"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

const LZ4: u8 = Compression::Lz4 as u8;
const ZSTD: u8 = Compression::Zstd as u8;

#[test]
fn the_bottom_level_takes_bottommost_compression_the_levels_above_take_compression() {
    let dir = tempfile::tempdir().unwrap();
    // Static sizing: the test puts files in chosen levels (3, then 1 above it),
    // which dynamic sizing would drain to its last level.
    let options = || options().with_dynamic_level_bytes(false);
    let db = Db::open(dir.path(), options()).unwrap();
    for i in 0..3000 {
        db.put(format!("a{i:06}"), value(i)).unwrap();
    }
    db.flush().unwrap();
    // A flush writes level 0: `compression`.
    let flushed = segments(dir.path());
    assert_eq!(flushed.len(), 1);
    assert_eq!((flushed[0].2, &flushed[0].3[..]), (LZ4, &[LZ4][..]));

    // Merged into level 3, the bottom: zstd, in every data block.
    db.compact_into(3).unwrap();
    let bottom = segments(dir.path());
    assert!(!bottom.is_empty());
    for s in &bottom {
        assert_eq!((s.2, &s.3[..]), (ZSTD, &[ZSTD][..]), "{s:?}");
    }

    // Two flushes of other keys: the compaction of level 0 into level 1 writes above
    // level 3, which holds files: `compression` again.
    for round in 0..2 {
        for i in 0..1500 {
            let i = round * 1500 + i;
            db.put(format!("b{i:06}"), value(i)).unwrap();
        }
        db.flush().unwrap();
    }
    wait_for_level0_to_empty(&db);
    let levels = db.stats().levels;
    assert!(
        levels[1].segments > 0 && levels[3].segments > 0,
        "{levels:?}"
    );
    for s in segments(dir.path()) {
        let expected = if s.1.starts_with(b"a") { ZSTD } else { LZ4 };
        assert_eq!((s.2, &s.3[..]), (expected, &[expected][..]), "{s:?}");
    }

    // Everything reads back, after a reopen too.
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for i in (0..3000).step_by(7) {
        assert_eq!(db.get(format!("a{i:06}")).unwrap().unwrap(), value(i));
        assert_eq!(db.get(format!("b{i:06}")).unwrap().unwrap(), value(i));
    }
    // A full compaction puts all at the bottom: zstd throughout.
    db.compact().unwrap();
    for s in segments(dir.path()) {
        assert_eq!((s.2, &s.3[..]), (ZSTD, &[ZSTD][..]), "{s:?}");
    }
    assert_eq!(db.get("b002999").unwrap().unwrap(), value(2999));
}

#[test]
fn without_bottommost_compression_the_bottom_takes_compression() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        options()
            .with_compression(Compression::Zstd)
            .with_bottommost_compression(None),
    )
    .unwrap();
    for i in 0..2000 {
        db.put(format!("a{i:06}"), value(i)).unwrap();
    }
    db.flush().unwrap();
    assert_eq!(segments(dir.path())[0].2, ZSTD);
    db.compact().unwrap();
    for s in segments(dir.path()) {
        assert_eq!((s.2, &s.3[..]), (ZSTD, &[ZSTD][..]), "{s:?}");
    }
}

#[test]
fn a_keyspace_sets_its_own_bottommost_compression() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    // `Some(None)`: this keyspace's bottom takes its compression (LZ4), not the
    // database's zstd.
    let plain = db
        .keyspace_with(
            "plain",
            KeyspaceOptions::default().with_bottommost_compression(None),
        )
        .unwrap();
    let none = db
        .keyspace_with(
            "none",
            KeyspaceOptions::default()
                .with_compression(Compression::Zstd)
                .with_bottommost_compression(Some(Compression::None)),
        )
        .unwrap();
    for i in 0..2000 {
        db.put(format!("a{i:06}"), value(i)).unwrap();
        plain.put(format!("a{i:06}"), value(i)).unwrap();
        none.put(format!("a{i:06}"), value(i)).unwrap();
    }
    db.flush().unwrap();
    plain.flush().unwrap();
    none.flush().unwrap();
    db.compact().unwrap();
    let found = segments(dir.path());
    let keyspaces: std::collections::BTreeSet<u32> = found.iter().map(|s| s.0).collect();
    assert_eq!(keyspaces.len(), 3, "{found:?}");
    for (keyspace, _, compression, blocks, _) in &found {
        let expected = match *keyspace {
            0 => (ZSTD, vec![ZSTD]),
            k if k == found.iter().map(|s| s.0).filter(|&k| k != 0).min().unwrap() => {
                (LZ4, vec![LZ4])
            }
            _ => (Compression::None as u8, vec![Compression::None as u8]),
        };
        assert_eq!(
            (*compression, blocks.clone()),
            expected,
            "keyspace {keyspace}"
        );
    }
    assert_eq!(none.get("a001999").unwrap().unwrap(), value(1999));
    assert_eq!(plain.get("a001999").unwrap().unwrap(), value(1999));
}

/// A file moved to the bottom level without a rewrite would keep the compression of
/// the level it came from: a move is made only when the compression matches, and
/// otherwise the file is rewritten. Level 2 holds `a` keys (zstd); `b` keys flushed
/// and compacted into level 1 (LZ4, level 2 holds files) overflow a small level 1
/// and go down to level 2, overlapping nothing there: each arrives as zstd.
#[test]
fn a_file_moved_to_the_bottom_takes_bottommost_compression() {
    let dir = tempfile::tempdir().unwrap();
    // Static sizing: the test fills levels 2 and 1 by number.
    let opts = options()
        .with_segment_size(16 << 10)
        .with_level1_size(32 << 10)
        .with_dynamic_level_bytes(false);
    let db = Db::open(dir.path(), opts).unwrap();
    for i in 0..2000 {
        db.put(format!("a{i:06}"), value(i)).unwrap();
    }
    db.compact_into(2).unwrap();
    for round in 0..2 {
        for i in 0..1500 {
            let i = round * 1500 + i;
            db.put(format!("b{i:06}"), value(i)).unwrap();
        }
        db.flush().unwrap();
    }
    // Until level 0 is empty and level 1 within its size.
    let start = Instant::now();
    loop {
        let levels = db.stats().levels;
        if levels[0].segments == 0 && levels[1].bytes <= 32 << 10 && levels[2].segments > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{levels:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let levels = db.stats().levels;
    let bytes_of = |c: u8| -> u64 {
        segments(dir.path())
            .iter()
            .filter(|s| s.2 == c)
            .map(|s| s.4)
            .sum()
    };
    assert!(levels[3..].iter().all(|l| l.segments == 0), "{levels:?}");
    assert_eq!(bytes_of(ZSTD), levels[2].bytes, "{levels:?}");
    assert_eq!(bytes_of(LZ4), levels[1].bytes, "{levels:?}");
    // Some of level 2 holds `b` keys, which only a compaction of level 1 put there.
    assert!(segments(dir.path())
        .iter()
        .any(|s| s.1.starts_with(b"b") && s.2 == ZSTD));
}
