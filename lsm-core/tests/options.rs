//! Option validation at `open`, and argument limits at the write surface.

use std::time::Duration;

use lsm_core::{Db, Error, InvalidArgumentKind, Options, WriteBatch};

fn open_err(options: Options) -> Error {
    let dir = tempfile::tempdir().expect("tempdir");
    match Db::open(dir.path().join("db"), options) {
        Ok(_) => panic!("open accepted invalid options"),
        Err(e) => e,
    }
}

#[test]
fn invalid_options_are_refused_naming_the_field() {
    let d = Options::default;
    let cases: Vec<(&str, Options)> = vec![
        ("memtable_size", d().with_memtable_size(0)),
        ("memtable_size", d().with_memtable_size(4095)),
        ("memtable_size", d().with_memtable_size((4 << 30) + 1)),
        ("segment_size", d().with_segment_size(0)),
        ("segment_size", d().with_segment_size(1023)),
        ("block_size", d().with_block_size(255)),
        ("block_size", d().with_block_size((1 << 20) + 1)),
        ("bloom_bits_per_key", d().with_bloom_bits_per_key(33)),
        (
            "level0_bloom_bits_per_key",
            d().with_level0_bloom_bits_per_key(33),
        ),
        (
            "level0_compaction_trigger",
            d().with_level0_compaction_trigger(0),
        ),
        (
            "level0_stop_writes",
            d().with_level0_compaction_trigger(4)
                .with_level0_stop_writes(4),
        ),
        (
            "level0_stop_writes",
            d().with_level0_compaction_trigger(8)
                .with_level0_stop_writes(3),
        ),
        ("level_size_multiplier", d().with_level_size_multiplier(1)),
        ("level_size_multiplier", d().with_level_size_multiplier(101)),
        ("level1_size", d().with_level1_size(1023)),
        (
            "flush_interval",
            d().with_flush_interval(Some(Duration::ZERO)),
        ),
    ];
    for (field, options) in cases {
        match open_err(options.clone()) {
            Error::InvalidOptions { field: f, reason } => {
                assert_eq!(f, field, "wrong field named for {options:?}: {reason}");
                let shown = Error::InvalidOptions { field: f, reason }.to_string();
                assert!(
                    shown.contains(field),
                    "the message must name the field: {shown}"
                );
            }
            other => panic!("{field}: expected InvalidOptions, got {other:?}"),
        }
    }
}

#[test]
fn boundary_values_are_accepted() {
    let d = Options::default;
    let cases = vec![
        d().with_memtable_size(4096)
            .with_segment_size(1024)
            .with_block_size(256),
        d().with_block_size(1 << 20).with_bloom_bits_per_key(32),
        d().with_bloom_bits_per_key(0).with_block_cache_size(0),
        d().with_level0_compaction_trigger(1)
            .with_level0_stop_writes(2),
        d().with_level_size_multiplier(2).with_level1_size(1024),
        d().with_level_size_multiplier(100)
            .with_flush_interval(Some(Duration::from_millis(1))),
    ];
    for options in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path().join("db"), options.clone())
            .unwrap_or_else(|e| panic!("{options:?} refused: {e}"));
        db.put(b"k", b"v").unwrap();
        db.flush().unwrap();
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        db.close().unwrap();
    }
}

#[test]
fn missing_directory_without_create_if_missing_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent");
    let options = Options::default().with_create_if_missing(false);
    assert!(Db::open(&path, options.clone()).is_err());
    assert!(
        !path.join("MANIFEST").exists(),
        "a refused open must not create a database"
    );
    Db::open(&path, Options::default())
        .unwrap()
        .close()
        .unwrap();
    Db::open(&path, options)
        .expect("an existing database opens without create_if_missing")
        .close()
        .unwrap();
}

#[test]
fn oversized_keys_are_rejected_with_invalid_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
    let max = vec![b'k'; lsm_format::MAX_KEY_LEN];
    let over = vec![b'k'; lsm_format::MAX_KEY_LEN + 1];

    db.put(&max, b"largest key").unwrap();
    assert!(matches!(
        db.put(&over, b"v"),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            ..
        })
    ));
    assert!(matches!(
        db.delete(&over),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            ..
        })
    ));
    let mut batch = WriteBatch::new();
    batch.put(b"a", b"1").put(&over, b"2").put(b"b", b"3");
    assert!(matches!(
        db.write(batch),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            ..
        })
    ));
    // The refused batch is all or nothing, and the refusal does not poison the database.
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap(), None);
    db.put(b"after", b"ok").unwrap();

    db.flush().unwrap();
    assert_eq!(db.get(&max).unwrap().as_deref(), Some(&b"largest key"[..]));
    assert_eq!(db.get(&over).unwrap(), None);
    db.close().unwrap();
    let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
    assert_eq!(db.get(&max).unwrap().as_deref(), Some(&b"largest key"[..]));
    assert_eq!(db.get(b"after").unwrap().as_deref(), Some(&b"ok"[..]));
    db.close().unwrap();
}

/// `flush_interval` flushes a memtable that never fills up. Waits (up to a generous
/// limit, so a slow machine does not fail it) for the periodic flush to happen.
#[test]
fn flush_interval_flushes_a_small_memtable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let options = Options::default().with_flush_interval(Some(Duration::from_millis(50)));
    let db = Db::open(&path, options.clone()).unwrap();
    db.put(b"periodic", b"dump").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while db.stats().flushes == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no periodic flush within a minute: {:?}",
            db.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = db.stats();
    assert!(
        stats.levels.iter().any(|l| l.segments > 0),
        "the flush wrote a segment: {stats:?}"
    );
    assert_eq!(db.get(b"periodic").unwrap().as_deref(), Some(&b"dump"[..]));
    // An empty memtable is not flushed again and again.
    std::thread::sleep(Duration::from_millis(300));
    let flushes = db.stats().flushes;
    assert!(
        flushes <= 2,
        "an idle database keeps flushing: {flushes} flushes"
    );
    db.close().unwrap();
    let db = Db::open(&path, options).unwrap();
    assert_eq!(db.get(b"periodic").unwrap().as_deref(), Some(&b"dump"[..]));
    db.close().unwrap();
}

/// The bits per key recorded in the properties of each segment in `dir`, with the
/// file's name.
fn filter_bits(dir: &std::path::Path) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "seg") {
            let bytes = bytes::Bytes::from(std::fs::read(&path).unwrap());
            let reader = lsm_format::SegmentReader::open(bytes, Default::default()).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, reader.properties().bloom_bits_per_key));
        }
    }
    out.sort();
    out
}

#[test]
fn level0_segments_get_their_own_bloom_bits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let options = Options::default()
        .with_bloom_bits_per_key(9)
        .with_level0_bloom_bits_per_key(17);
    let db = Db::open(&path, options).unwrap();
    for i in 0..1000u32 {
        db.put(format!("key{i:05}"), "value").unwrap();
    }
    db.flush().unwrap();
    let flushed = filter_bits(&path);
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].1, 17, "a flush writes level 0");
    db.compact().unwrap();
    let compacted = filter_bits(&path);
    assert!(!compacted.is_empty() && compacted != flushed);
    assert!(
        compacted.iter().all(|(_, bits)| *bits == 9),
        "{compacted:?}"
    );
    for i in (0..1000u32).step_by(97) {
        assert!(db.get(format!("key{i:05}")).unwrap().is_some());
    }
    db.close().unwrap();
}

/// The default level-0 filter bits keep data-block reads for missing keys rare
/// enough to stay out of the 99.9th percentile of their lookups (the option's doc
/// promises about 0.008 % false positives per file; 20 bits gave 0.023 %). The
/// hash is fixed, so the count is deterministic.
#[test]
fn default_level0_filters_let_few_missing_keys_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
    let key = |i: u64, fill: u8| {
        let mut k = [fill; 16];
        k[..8].copy_from_slice(&i.to_be_bytes());
        k
    };
    const N: u64 = 200_000;
    for i in 0..N {
        db.put(key(i, b'k'), "v").unwrap();
    }
    db.flush().unwrap();
    let before = db.stats();
    assert_eq!(before.levels.first().map(|l| l.segments), Some(1));
    // Every missing key but the last falls inside the file's key range.
    const LOOKUPS: u64 = N - 1;
    for i in 0..LOOKUPS {
        assert!(db.get(key(i, b'm')).unwrap().is_none());
    }
    let after = db.stats();
    let false_positives = after.bloom_false_positives - before.bloom_false_positives;
    // 0.015 % of the lookups; 0.008 % expected.
    assert!(
        false_positives <= LOOKUPS * 15 / 100_000,
        "{false_positives} false positives"
    );
    assert_eq!(
        after.bloom_useful - before.bloom_useful + false_positives,
        LOOKUPS,
        "every lookup asked the one level-0 filter"
    );
    db.close().unwrap();
}
