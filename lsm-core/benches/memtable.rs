//! Memtable micro-benchmarks: inserting 500 000 entries in random key order into an
//! empty memtable sized like the engine's default (64 MiB, arena blocks and key
//! filter included), and point lookups of present and absent keys in the full one.
//! Keys are the comparison harness's (an 8-byte big-endian index padded with `k` to 16 bytes),
//! values 100 bytes. The table is larger than the CPU caches, so these measure the
//! cache misses of the skip-list search as much as its instructions. Figures are
//! recorded in `docs/perf-log.md`.
//!
//! `cargo bench -p lsm-core --bench memtable`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lsm_core::bench_support::BenchMemTable;

const N: u64 = 500_000;
const CAPACITY: usize = 64 << 20;
const LOOKUPS: u64 = 10_000;

fn key(i: u64, pad: u8) -> [u8; 16] {
    let mut k = [pad; 16];
    k[..8].copy_from_slice(&i.to_be_bytes());
    k
}

/// `0..n` in a fixed pseudo-random order (Fisher-Yates with xorshift).
fn shuffled(n: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

fn fill(order: &[u64], value: &[u8]) -> BenchMemTable {
    let m = BenchMemTable::new(CAPACITY);
    for (seq, &i) in order.iter().enumerate() {
        m.put(&key(i, b'k'), seq as u64 + 1, value);
    }
    m
}

fn benches(c: &mut Criterion) {
    let order = shuffled(N);
    let value = [b'v'; 100];
    let mut g = c.benchmark_group("memtable");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));

    g.throughput(Throughput::Elements(N));
    g.bench_function("insert_random_500k", |b| {
        b.iter_batched(
            || BenchMemTable::new(CAPACITY),
            |m| {
                for (seq, &i) in order.iter().enumerate() {
                    m.put(&key(i, b'k'), seq as u64 + 1, &value);
                }
                m
            },
            BatchSize::PerIteration,
        )
    });

    let full = fill(&order, &value);
    let picks = &order[..LOOKUPS as usize];
    g.throughput(Throughput::Elements(LOOKUPS));
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            for &i in picks {
                black_box(full.get_len(&key(i, b'k'), u64::MAX >> 8));
            }
        })
    });
    // Absent keys between present ones: the key filter rejects nearly all.
    g.bench_function("get_missing", |b| {
        b.iter(|| {
            for &i in picks {
                black_box(full.get_len(&key(i, b'm'), u64::MAX >> 8));
            }
        })
    });
    g.finish();
}

criterion_group!(memtable, benches);
criterion_main!(memtable);
