//! Segment micro-benchmarks: build, point lookups (hits and misses) and full forward
//! iteration over 100 000 entries of 16-byte keys and 100-byte values, without and
//! with LZ4; and Bloom filter probes for absent keys, version 1 (global) against
//! version 2 (blocked) layout, over filters larger than the CPU caches. Figures are
//! recorded in `docs/perf-log.md`.
//!
//! `cargo bench -p lsm-format --bench segment` (`-- bloom` for the filter alone)

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lsm_format::segment::bloom::{key_hash, BloomBuilder, BloomFilter, FilterLayout};
use lsm_format::segment::Probe;
use lsm_format::{
    Compression, EntryKind, ReadOptions, SegmentReader, SegmentWriter, WriterOptions, MAX_SEQUENCE,
};

const N: u64 = 100_000;
const VALUE_LEN: usize = 100;
const LOOKUPS: u64 = 1000;

fn key(i: u64) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// Values compressible to about half, like db_bench's (`compression_ratio = 0.5`):
/// 50 pseudo-random bytes, repeated once.
fn value(i: u64) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for j in 0..VALUE_LEN / 2 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[j] = x as u8;
        v[j + VALUE_LEN / 2] = x as u8;
    }
    v
}

fn options(compression: Compression) -> WriterOptions {
    WriterOptions {
        compression,
        created_unix_ms: Some(0),
        ..WriterOptions::default()
    }
}

fn build(compression: Compression) -> Vec<u8> {
    let mut w = SegmentWriter::new(Vec::with_capacity(13 << 20), options(compression));
    for i in 0..N {
        w.add(&key(2 * i), 1, EntryKind::Put, &value(i)).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A cheap deterministic sequence of lookup indexes.
fn picks() -> Vec<u64> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..LOOKUPS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % N
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let raw_bytes = N * (16 + VALUE_LEN as u64);
    for (name, compression) in [
        ("none", Compression::None),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let mut g = c.benchmark_group(format!("segment/{name}"));
        g.throughput(Throughput::Bytes(raw_bytes));
        g.bench_function("build_100k", |b| b.iter(|| black_box(build(compression))));

        let reader =
            SegmentReader::open(Bytes::from(build(compression)), ReadOptions::default()).unwrap();
        eprintln!(
            "segment/{name}: {} bytes on disk ({} data blocks) for {raw_bytes} bytes of keys and values",
            reader.data().len(),
            reader.properties().data_block_count
        );
        g.bench_function("iterate_100k", |b| {
            b.iter(|| {
                let mut it = reader.iter();
                it.seek_to_first().unwrap();
                let mut n = 0usize;
                while it.valid() {
                    n += it.key().len() + it.value_slice().len();
                    it.next().unwrap();
                }
                assert_eq!(n as u64, raw_bytes);
            })
        });
        g.bench_function("entries_100k", |b| {
            b.iter(|| {
                let bytes: usize = reader
                    .entries()
                    .map(|e| {
                        let e = e.unwrap();
                        e.key.len() + e.value.len()
                    })
                    .sum();
                assert_eq!(bytes as u64, raw_bytes);
            })
        });

        let picks = picks();
        g.throughput(Throughput::Elements(LOOKUPS));
        g.bench_function("get_hit", |b| {
            b.iter(|| {
                for &i in &picks {
                    let e = reader.get(&key(2 * i), MAX_SEQUENCE).unwrap();
                    assert!(e.is_some());
                }
            })
        });
        g.bench_function("get_miss", |b| {
            b.iter(|| {
                for &i in &picks {
                    black_box(reader.get(&key(2 * i + 1), MAX_SEQUENCE).unwrap());
                }
            })
        });
        g.bench_function("get_miss_unfiltered", |b| {
            b.iter(|| {
                for &i in &picks {
                    black_box(
                        reader
                            .lookup(&Probe::new(&key(2 * i + 1), MAX_SEQUENCE).without_filter())
                            .unwrap(),
                    );
                }
            })
        });
        g.bench_function("seek", |b| {
            let mut it = reader.iter();
            b.iter(|| {
                for &i in &picks {
                    it.seek(&key(2 * i + 1), MAX_SEQUENCE).unwrap();
                    black_box(it.valid());
                }
            })
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function("open", |b| {
            let data = reader.data().clone();
            b.iter_batched(
                || data.clone(),
                |d| black_box(SegmentReader::open(d, ReadOptions::default()).unwrap()),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

/// Keys in the filters of the Bloom benchmark: 4 M keys at 10 bits per key make a
/// 5 MB filter, bigger than the L2 cache, so each probe of a cold line is a miss.
const BLOOM_KEYS: u64 = 4_000_000;
/// Absent keys probed per iteration of the Bloom benchmark.
const BLOOM_PROBES: u64 = 1 << 20;

fn bloom_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("bloom");
    // Absent keys, hashed beforehand: the figures are the probes alone. A million of
    // them, so the lines they touch do not stay cached from one iteration to the
    // next (a few thousand would, and hide the misses the blocked layout saves).
    let absent: Vec<u64> = (0..BLOOM_PROBES)
        .map(|i| key_hash(&key(2 * BLOOM_KEYS + 2 * i + 1)))
        .collect();
    g.throughput(Throughput::Elements(BLOOM_PROBES));
    for (name, layout) in [
        ("global_v1", FilterLayout::Global),
        ("blocked_v2", FilterLayout::Blocked),
    ] {
        let mut b = BloomBuilder::with_layout(layout, 10);
        for i in 0..BLOOM_KEYS {
            b.add_key(&key(2 * i));
        }
        let filter = BloomFilter::parse(Bytes::from(b.finish()), 0, layout).unwrap();
        g.bench_function(format!("miss_{name}"), |b| {
            b.iter(|| {
                absent
                    .iter()
                    .filter(|&&h| filter.may_contain_hash(black_box(h)))
                    .count()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = segment;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches, bloom_benches
}
criterion_main!(segment);
