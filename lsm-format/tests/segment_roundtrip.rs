//! Segments written and read back: a model-based property test over random entry
//! sets and writer options, plus edge cases and the writer's argument checks.
//!
//! `PROPTEST_CASES` raises the number of cases (default 512).

use std::cmp::Ordering;

use bytes::Bytes;
use lsm_format::entry::compare_internal;
use lsm_format::segment::{Found, Probe, SegmentEntries};
use lsm_format::{
    Compression, Entry, EntryKind, Error, ReadOptions, SegmentReader, SegmentWriter, WriterOptions,
    MAX_KEY_LEN, MAX_SEQUENCE, MAX_VALUE_LEN,
};
use proptest::prelude::*;

type Model = Vec<(Vec<u8>, u64, EntryKind, Vec<u8>)>;

fn write(model: &Model, options: WriterOptions) -> SegmentReader {
    let mut w = SegmentWriter::new(Vec::new(), options);
    for (k, s, kind, v) in model {
        w.add(k, *s, *kind, v).unwrap();
    }
    assert_eq!(w.entry_count(), model.len() as u64);
    assert_eq!(w.last_key(), model.last().map(|e| &e.0[..]));
    let finished = w.finish().unwrap();
    assert_eq!(finished.file_size, finished.out.len() as u64);
    let reader = SegmentReader::open(Bytes::from(finished.out), ReadOptions::default()).unwrap();
    assert_eq!(reader.properties(), &finished.properties);
    reader
}

fn as_model(e: &Entry) -> (Vec<u8>, u64, EntryKind, Vec<u8>) {
    (e.key.to_vec(), e.seq, e.kind, e.value.to_vec())
}

fn collect(it: impl Iterator<Item = lsm_format::Result<Entry>>) -> Model {
    it.map(|e| as_model(&e.unwrap())).collect()
}

/// Index of the first model entry at or after `(key, seq)`.
fn lower_bound(model: &Model, key: &[u8], seq: u64) -> usize {
    model.partition_point(|e| compare_internal(&e.0, e.1, key, seq) == Ordering::Less)
}

/// The newest version of `key` with sequence number `<= seq`.
fn model_get<'a>(
    model: &'a Model,
    key: &[u8],
    seq: u64,
) -> Option<&'a (Vec<u8>, u64, EntryKind, Vec<u8>)> {
    model
        .get(lower_bound(model, key, seq))
        .filter(|e| e.0 == key)
}

fn check_everything(model: &Model, reader: &SegmentReader, probes: &[(Vec<u8>, u64, Vec<bool>)]) {
    assert_eq!(reader.verify(), vec![]);
    assert_eq!(&collect(reader.entries()), model);
    let mut back = collect(reader.entries().rev());
    back.reverse();
    assert_eq!(&back, model);
    // Alternating ends meet in the middle and yield every entry once.
    let mut both: SegmentEntries = reader.entries();
    let (mut front, mut rear) = (Vec::new(), Vec::new());
    loop {
        match (front.len() + rear.len()) % 3 {
            0 | 1 => match both.next() {
                Some(e) => front.push(as_model(&e.unwrap())),
                None => break,
            },
            _ => match both.next_back() {
                Some(e) => rear.push(as_model(&e.unwrap())),
                None => break,
            },
        }
    }
    while let Some(e) = both.next_back() {
        rear.push(as_model(&e.unwrap()));
    }
    rear.reverse();
    front.extend(rear);
    assert_eq!(&front, model);

    let p = reader.properties();
    assert_eq!(p.entry_count, model.len() as u64);
    assert_eq!(
        p.tombstone_count,
        model.iter().filter(|e| e.2 == EntryKind::Tombstone).count() as u64
    );
    assert_eq!(p.smallest_key, model.first().map_or(&[][..], |e| &e.0[..]));
    assert_eq!(p.largest_key, model.last().map_or(&[][..], |e| &e.0[..]));

    // Point lookups at every version's seq, around it, and at the extremes.
    for (k, s, _, _) in model {
        for seq in [
            *s,
            s.saturating_sub(1),
            s.saturating_add(1).min(MAX_SEQUENCE),
            0,
            MAX_SEQUENCE,
        ] {
            let got = reader.get(k, seq).unwrap();
            let want = model_get(model, k, seq);
            assert_eq!(
                got.as_ref().map(as_model).as_ref(),
                want,
                "get({k:?}, {seq})"
            );
            let unfiltered = reader
                .lookup(&Probe::new(k, seq).without_filter())
                .unwrap()
                .found;
            assert_eq!(
                unfiltered,
                got.map(|e| Found {
                    seq: e.seq,
                    kind: e.kind,
                    value: e.value
                })
            );
        }
    }

    let mut it = reader.iter();
    assert!(!it.valid());
    for (target, seq, steps) in probes {
        for forward_seek in [true, false] {
            let mut pos: Option<usize> = if forward_seek {
                it.seek(target, *seq).unwrap();
                Some(lower_bound(model, target, *seq)).filter(|&i| i < model.len())
            } else {
                it.seek_for_prev(target, *seq).unwrap();
                let upper = model.partition_point(|e| {
                    compare_internal(&e.0, e.1, target, *seq) != Ordering::Greater
                });
                upper.checked_sub(1)
            };
            if !forward_seek {
                let got = reader.get(target, *seq).unwrap();
                assert_eq!(
                    got.as_ref().map(as_model).as_ref(),
                    model_get(model, target, *seq)
                );
            }
            for &step in steps {
                match pos {
                    None => {
                        assert!(!it.valid());
                        break;
                    }
                    Some(i) => {
                        assert!(it.valid());
                        let e = &model[i];
                        assert_eq!(
                            (it.key(), it.seq(), it.kind(), it.value_slice()),
                            (&e.0[..], e.1, e.2, &e.3[..])
                        );
                        assert_eq!(as_model(&it.entry()), *e);
                    }
                }
                if step {
                    it.next().unwrap();
                    pos = pos.map(|i| i + 1).filter(|&i| i < model.len());
                } else {
                    it.prev().unwrap();
                    pos = pos.and_then(|i| i.checked_sub(1));
                }
            }
        }
    }
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop::sample::select(vec![
        Vec::new(),
        b"a".to_vec(),
        vec![b'p'; 40],
        b"user/0000000000000000/".to_vec(),
    ]);
    let suffix = prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', 0xff]), 0..4);
    (prefix, suffix).prop_map(|(mut p, s)| {
        p.extend(s);
        p
    })
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..24),
        2 => (any::<u8>(), 0usize..600).prop_map(|(b, n)| vec![b; n]),
        1 => (0usize..9000).prop_map(|n| (0..n).map(|i| (i % 7) as u8).collect()),
    ]
}

fn model_strategy() -> impl Strategy<Value = Model> {
    let seq = prop_oneof![8 => 0u64..40, 1 => Just(MAX_SEQUENCE), 1 => 0..=MAX_SEQUENCE];
    let entry = (key_strategy(), seq, any::<bool>(), value_strategy());
    prop::collection::vec(entry, 0..160).prop_map(|raw| {
        let mut m: Model = raw
            .into_iter()
            .map(|(k, s, put, v)| {
                if put {
                    (k, s, EntryKind::Put, v)
                } else {
                    (k, s, EntryKind::Tombstone, vec![])
                }
            })
            .collect();
        m.sort_by(|a, b| compare_internal(&a.0, a.1, &b.0, b.1));
        m.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        m
    })
}

fn options_strategy() -> impl Strategy<Value = WriterOptions> {
    (
        prop::sample::select(vec![1usize, 32, 64, 256, 4096]),
        1usize..=16,
        prop::sample::select(vec![0u8, 1, 10]),
        any::<bool>(),
    )
        .prop_map(
            |(block_size, restart_interval, bloom_bits_per_key, lz4)| WriterOptions {
                block_size,
                restart_interval,
                bloom_bits_per_key,
                compression: if lz4 {
                    Compression::Lz4
                } else {
                    Compression::None
                },
                ..WriterOptions::default()
            },
        )
}

fn probes_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, u64, Vec<bool>)>> {
    let seq = prop_oneof![0u64..45, Just(MAX_SEQUENCE)];
    prop::collection::vec(
        (
            key_strategy(),
            seq,
            prop::collection::vec(any::<bool>(), 0..6),
        ),
        0..12,
    )
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_matches_model(
        model in model_strategy(),
        options in options_strategy(),
        probes in probes_strategy(),
    ) {
        let reader = write(&model, options);
        // Probes at every key of the model too, so seeks land on real entries.
        let mut all = probes;
        for (k, s, _, _) in model.iter().step_by(7) {
            all.push((k.clone(), *s, vec![true, false, false, true]));
        }
        check_everything(&model, &reader, &all);
    }
}

#[test]
fn empty_and_single_entry_segments() {
    for lz4 in [false, true] {
        let options = || WriterOptions {
            compression: if lz4 {
                Compression::Lz4
            } else {
                Compression::None
            },
            ..WriterOptions::default()
        };
        let empty = write(&vec![], options());
        assert_eq!(empty.index_entries().unwrap(), vec![]);
        // range-del (empty), filter, properties, index, footer.
        assert_eq!(empty.layout().unwrap().len(), 5);
        check_everything(&vec![], &empty, &[(b"x".to_vec(), 5, vec![true])]);
        let mut it = empty.iter();
        it.seek_to_first().unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert!(!it.valid());

        for model in [
            vec![(vec![], 0, EntryKind::Put, vec![])],
            vec![(b"k".to_vec(), MAX_SEQUENCE, EntryKind::Tombstone, vec![])],
            vec![(vec![7; MAX_KEY_LEN], 3, EntryKind::Put, vec![1; 100_000])],
        ] {
            let r = write(&model, options());
            check_everything(
                &model,
                &r,
                &[
                    (vec![], 0, vec![true, false]),
                    (b"k".to_vec(), 2, vec![false]),
                ],
            );
        }
    }
}

#[test]
fn layout_tiles_the_file() {
    let model: Model = (0..500u32)
        .map(|i| {
            (
                i.to_be_bytes().to_vec(),
                1,
                EntryKind::Put,
                vec![i as u8; 30],
            )
        })
        .collect();
    let r = write(
        &model,
        WriterOptions {
            block_size: 1024,
            ..WriterOptions::default()
        },
    );
    let layout = r.layout().unwrap();
    let mut end = 0;
    for region in &layout {
        assert_eq!(region.offset, end, "{region:?}");
        end += region.len;
    }
    assert_eq!(end, r.data().len() as u64);
    let index = r.index_entries().unwrap();
    assert_eq!(index.len() as u64, r.properties().data_block_count);
    assert!(index.len() > 10);
    assert_eq!(index.last().unwrap().last_key, &499u32.to_be_bytes()[..]);
}

#[test]
fn writer_rejects_bad_arguments_and_stays_usable() {
    let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    w.add(b"b", 5, EntryKind::Put, b"v").unwrap();
    let invalid = |r: lsm_format::Result<()>| matches!(r, Err(Error::InvalidArgument(_)));
    assert!(
        invalid(w.add(b"a", 9, EntryKind::Put, b"")),
        "key before the previous one"
    );
    assert!(
        invalid(w.add(b"b", 5, EntryKind::Put, b"")),
        "same key and seq"
    );
    assert!(
        invalid(w.add(b"b", 6, EntryKind::Put, b"")),
        "same key, newer seq"
    );
    assert!(
        invalid(w.add(&vec![0; MAX_KEY_LEN + 1], 1, EntryKind::Put, b"")),
        "key too long"
    );
    assert!(
        invalid(w.add(b"c", MAX_SEQUENCE + 1, EntryKind::Put, b"")),
        "seq too large"
    );
    assert!(
        invalid(w.add(b"c", 1, EntryKind::Tombstone, b"v")),
        "tombstone with value"
    );
    let huge = vec![0u8; MAX_VALUE_LEN + 1];
    assert!(
        invalid(w.add(b"c", 1, EntryKind::Put, &huge)),
        "value too long"
    );
    drop(huge);
    assert_eq!(w.entry_count(), 1);
    assert_eq!(w.last_key(), Some(&b"b"[..]));
    w.add(b"b", 4, EntryKind::Tombstone, b"").unwrap();
    w.add(b"c", MAX_SEQUENCE, EntryKind::Put, b"w").unwrap();
    let out = w.finish().unwrap().into_inner();
    let r = SegmentReader::open(Bytes::from(out), ReadOptions::default()).unwrap();
    let got: Vec<_> = r
        .entries()
        .map(|e| {
            let e = e.unwrap();
            (e.key, e.seq)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Bytes::from("b"), 5),
            (Bytes::from("b"), 4),
            (Bytes::from("c"), MAX_SEQUENCE)
        ]
    );
}

#[test]
fn writer_refuses_to_continue_after_io_error() {
    struct Failing(usize);
    impl std::io::Write for Failing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = SegmentWriter::new(
        Failing(100),
        WriterOptions {
            block_size: 64,
            ..WriterOptions::default()
        },
    );
    let mut failed = false;
    for i in 0..100u32 {
        if let Err(e) = w.add(&i.to_be_bytes(), 1, EntryKind::Put, &[0; 40]) {
            assert!(matches!(e, Error::Io(_)));
            failed = true;
            break;
        }
    }
    assert!(failed);
    assert!(matches!(
        w.add(b"\xff\xff\xff\xff\xff", 1, EntryKind::Put, b""),
        Err(Error::Io(_))
    ));
    assert!(matches!(w.finish(), Err(Error::Io(_))));
}

#[test]
fn estimated_size_tracks_output() {
    let mut w = SegmentWriter::new(
        Vec::new(),
        WriterOptions {
            block_size: 512,
            ..WriterOptions::default()
        },
    );
    assert_eq!(w.estimated_size(), 0);
    let mut last = 0;
    for i in 0..1000u32 {
        w.add(&i.to_be_bytes(), 1, EntryKind::Put, &[7; 20])
            .unwrap();
        assert!(w.estimated_size() > last);
        last = w.estimated_size();
    }
    let f = w.finish().unwrap();
    assert!(f.file_size > last);
    assert!(f.properties.data_size <= last + 512);
}

#[test]
fn lz4_shrinks_compressible_blocks_and_skips_noise() {
    let compressible: Model = (0..300u32)
        .map(|i| (i.to_be_bytes().to_vec(), 1, EntryKind::Put, vec![b'x'; 200]))
        .collect();
    let plain = write(&compressible, WriterOptions::default());
    let lz4 = write(
        &compressible,
        WriterOptions {
            compression: Compression::Lz4,
            ..WriterOptions::default()
        },
    );
    assert!(lz4.data().len() * 4 < plain.data().len());
    assert_eq!(lz4.properties().compression, 1);
    // Pseudo-random values do not shrink by 1/8: stored uncompressed, same size.
    let mut x = 1u64;
    let noise: Model = (0..300u32)
        .map(|i| {
            let v = (0..200)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect();
            (i.to_be_bytes().to_vec(), 1, EntryKind::Put, v)
        })
        .collect();
    let plain = write(&noise, WriterOptions::default());
    let lz4 = write(
        &noise,
        WriterOptions {
            compression: Compression::Lz4,
            ..WriterOptions::default()
        },
    );
    assert_eq!(lz4.properties().data_size, plain.properties().data_size);
}

#[test]
fn block_cache_serves_decompressed_blocks() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use lsm_format::BlockRead;

    #[derive(Default)]
    struct Cache(
        Mutex<HashMap<lsm_format::BlockCacheKey, Bytes>>,
        Mutex<(usize, usize)>,
    );
    // Keeps every block built, except those of one-pass reads.
    impl lsm_format::BlockSource for Cache {
        fn cached(&self, key: &lsm_format::BlockCacheKey) -> Option<Bytes> {
            let hit = self.0.lock().unwrap().get(key).cloned();
            let mut c = self.1.lock().unwrap();
            if hit.is_some() {
                c.0 += 1
            } else {
                c.1 += 1
            }
            hit
        }
        fn built(&self, key: lsm_format::BlockCacheKey, block: &Bytes, read: BlockRead) {
            if read != BlockRead::OnePass {
                self.0.lock().unwrap().insert(key, block.clone());
            }
        }
    }
    let model: Model = (0..2000u32)
        .map(|i| (i.to_be_bytes().to_vec(), 1, EntryKind::Put, vec![b'q'; 50]))
        .collect();
    let mut w = SegmentWriter::new(
        Vec::new(),
        WriterOptions {
            compression: Compression::Lz4,
            ..WriterOptions::default()
        },
    );
    for (k, s, kind, v) in &model {
        w.add(k, *s, *kind, v).unwrap();
    }
    let bytes = Bytes::from(w.finish().unwrap().into_inner());
    let cache = Arc::new(Cache::default());
    let options = ReadOptions {
        segment_id: 7,
        file_name: Some("000007.seg".into()),
    };
    let r = SegmentReader::open_with(bytes, options, cache.clone()).unwrap();
    let walk_without_fill = || {
        let mut it = r.iter();
        it.set_block_read(BlockRead::OnePass);
        it.seek_to_first().unwrap();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next().unwrap();
        }
        assert_eq!(n, model.len());
    };
    // A one-pass read that does not fill the cache leaves it empty...
    walk_without_fill();
    assert!(cache.0.lock().unwrap().is_empty());
    *cache.1.lock().unwrap() = (0, 0);
    for _ in 0..2 {
        assert_eq!(collect(r.entries()), model);
    }
    let (hits, misses) = *cache.1.lock().unwrap();
    let blocks = r.properties().data_block_count as usize;
    assert_eq!(misses, blocks);
    assert_eq!(hits, blocks);
    assert!(cache.0.lock().unwrap().keys().all(|k| k.segment_id == 7));
    // ...but still takes the blocks it finds there.
    walk_without_fill();
    assert_eq!(*cache.1.lock().unwrap(), (2 * blocks, blocks));
}
