//! Segment rolling: flush and compaction outputs are cut into files of about
//! `segment_size` bytes.
//!
//! A file is "near the target" when its size is within one block plus one entry
//! below the target, and within one block plus one entry plus the metadata blocks
//! (index, filter, properties, footer) above it. Only the last file of an output
//! may be smaller.

mod common;

use std::path::Path;

use common::files::{file_len, segment_entries, segments};
use common::keys::value;
use lsm_core::{Compression, Db, Options};

const TARGET: usize = 4096;
const BLOCK: usize = 512;
/// Room for the index, filter and properties blocks and the footer of a small file.
const METADATA: usize = 1024;

fn options() -> Options {
    Options::default()
        .with_memtable_size(4 << 20)
        .with_segment_size(TARGET)
        .with_block_size(BLOCK)
        .with_compression(Compression::None)
        // Keep background compaction away while the flush output is inspected.
        .with_level0_compaction_trigger(500)
        .with_level0_stop_writes(1000)
        // Level 1 holds everything these tests write, so no background job moves
        // files down after a manual compaction while the test inspects them.
        .with_level1_size(4 << 20)
        .with_level_size_multiplier(4)
        // Values stay in the segments whose rolling these tests measure (blob
        // files roll with them: `blobs.rs`).
        .with_blob_threshold(None)
}

fn k(i: usize) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// Checks every segment of `dir` is near the target; `may_be_small` files (the last
/// of each output) may be smaller. Returns the sizes.
fn check_sizes(dir: &Path, max_entry: usize, may_be_small: usize, what: &str) -> Vec<u64> {
    let sizes: Vec<u64> = segments(dir).iter().map(|p| file_len(p)).collect();
    let low = (TARGET - BLOCK - max_entry.min(TARGET - BLOCK)) as u64;
    let high = (TARGET + BLOCK + max_entry + METADATA) as u64;
    let too_big: Vec<u64> = sizes.iter().copied().filter(|&s| s > high).collect();
    assert!(
        too_big.is_empty(),
        "{what}: segments over {high} bytes: {too_big:?} (all: {sizes:?})"
    );
    let small = sizes.iter().filter(|&&s| s < low).count();
    assert!(
        small <= may_be_small,
        "{what}: {small} segments under {low} bytes, at most {may_be_small} allowed: {sizes:?}"
    );
    sizes
}

#[test]
fn flush_and_compaction_outputs_roll_near_the_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, options()).unwrap();
    // About 300 KiB of entries of ~110 bytes: 75 target-sized files.
    let n = 2800;
    for i in 0..n {
        db.put(k(i), value(i as u64, 100)).unwrap();
    }
    db.flush().unwrap();
    let sizes = check_sizes(&path, 140, 1, "flush output");
    assert!(
        sizes.len() >= 50,
        "a 300 KiB flush with 4 KiB segments made only {} files",
        sizes.len()
    );
    // The flush output is one sorted run: consecutive files do not overlap.
    let mut last: Option<Vec<u8>> = None;
    let mut count = 0;
    for seg in segments(&path) {
        let entries = segment_entries(&seg);
        assert!(!entries.is_empty(), "{} is empty", seg.display());
        if let Some(prev) = &last {
            assert!(
                entries[0].key > *prev,
                "{} overlaps its predecessor",
                seg.display()
            );
        }
        last = Some(entries.last().unwrap().key.clone());
        count += entries.len();
    }
    assert_eq!(count, n);

    // Overwrite every other key, then compact everything into the last level.
    for i in (0..n).step_by(2) {
        db.put(k(i), value((n + i) as u64, 100)).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    let stats = db.stats();
    let nonempty: Vec<_> = stats.levels.iter().filter(|l| l.segments > 0).collect();
    assert_eq!(
        nonempty.len(),
        1,
        "a full compaction leaves one level: {:?}",
        stats.levels
    );
    db.close().unwrap();

    let sizes = check_sizes(&path, 140, 1, "compaction output");
    assert!(
        sizes.len() >= 50,
        "compaction output of 300 KiB made only {} files",
        sizes.len()
    );
    let entries: usize = segments(&path)
        .iter()
        .map(|p| segment_entries(p).len())
        .sum();
    assert_eq!(
        entries, n,
        "the compacted files hold exactly one version per key"
    );

    let db = Db::open(&path, options()).unwrap();
    for i in 0..n {
        let want = if i % 2 == 0 {
            value((n + i) as u64, 100)
        } else {
            value(i as u64, 100)
        };
        assert_eq!(db.get(k(i)).unwrap().as_deref(), Some(&want[..]), "key {i}");
    }
    db.close().unwrap();
}

#[test]
fn entries_larger_than_the_target_get_a_file_each() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open(&path, options()).unwrap();
    let big = 3 * TARGET;
    for i in 0..12 {
        db.put(k(i), value(i as u64, big)).unwrap();
    }
    db.flush().unwrap();
    let sizes = check_sizes(&path, big + 32, 0, "flush of large values");
    assert_eq!(
        sizes.len(),
        12,
        "each value over the target fills a file: {sizes:?}"
    );
    db.compact().unwrap();
    db.close().unwrap();
    let sizes = check_sizes(&path, big + 32, 0, "compaction of large values");
    assert_eq!(sizes.len(), 12, "{sizes:?}");
    let db = Db::open(&path, options()).unwrap();
    for i in 0..12 {
        assert_eq!(
            db.get(k(i)).unwrap().as_deref(),
            Some(&value(i as u64, big)[..])
        );
    }
    db.close().unwrap();
}

/// The stats, the number of segment files and their total size, read at a moment
/// when no background job finished in between (a flush or compaction may still be
/// running after `compact` returns; the view is retried until it is stable).
fn quiet_view(db: &Db, path: &Path) -> (lsm_core::Stats, usize, u64) {
    loop {
        let before = db.stats();
        let files = segments(path);
        let bytes = files.iter().map(|p| file_len(p)).sum();
        let after = db.stats();
        let busy = after.immutable_memtables > 0;
        if !busy
            && before.levels == after.levels
            && before.flushes == after.flushes
            && before.compactions == after.compactions
        {
            return (after, files.len(), bytes);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Files the live version no longer needs are deleted: after many flushes and
/// compactions the directory holds exactly the live segments, at most one WAL, no
/// temporary file; and a reopen does not change that.
#[test]
fn obsolete_files_are_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let options = options()
        .with_memtable_size(8 << 10)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(8);
    let db = Db::open(&path, options.clone()).unwrap();
    for i in 0..4000 {
        db.put(k(i % 700), value(i as u64, 60)).unwrap();
        if i % 500 == 0 {
            db.delete(k(i % 300)).unwrap();
        }
    }
    db.flush().unwrap();
    db.compact().unwrap();
    let (stats, files, on_disk) = quiet_view(&db, &path);
    assert!(stats.compactions > 0 && stats.flushes > 1, "{stats:?}");
    let live: usize = stats.levels.iter().map(|l| l.segments).sum();
    assert_eq!(
        files, live,
        "segment files on disk vs live segments: {:?}",
        stats.levels
    );
    assert_eq!(
        on_disk,
        stats.total_segment_bytes(),
        "bytes of segment files on disk vs live segment bytes"
    );
    db.close().unwrap();
    for round in 0..2 {
        let wals = common::files::files_with_ext(&path, "wal");
        assert!(
            wals.len() <= 1,
            "round {round}: WAL files left behind: {wals:?}"
        );
        let tmps = common::files::files_with_ext(&path, "tmp");
        assert!(
            tmps.is_empty(),
            "round {round}: temporary files left behind: {tmps:?}"
        );
        let db = Db::open(&path, options.clone()).unwrap();
        let (stats, files, _) = quiet_view(&db, &path);
        let live: usize = stats.levels.iter().map(|l| l.segments).sum();
        assert_eq!(files, live, "round {round}: after reopen");
        db.close().unwrap();
    }
}
