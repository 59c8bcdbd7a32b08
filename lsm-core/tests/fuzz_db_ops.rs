//! The `db_ops` fuzz target on stable: replays every committed input in
//! `fuzz/corpus/db_ops/` through `lsm_core::fuzzing::db_ops` (the check the fuzz
//! target calls), then `FUZZ_CASES` (default 1000) deterministic inputs, random or
//! mutated from the seeds. A panic in any thread fails the test.
//!
//! The seeds are written by `write_seed_corpus` (ignored):
//! `cargo test -p lsm-core --test fuzz_db_ops -- --ignored write_seed_corpus`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lsm_core::fuzzing::{db_ops, run_ops, Summary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

static PANICS: AtomicU64 = AtomicU64::new(0);

fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/db_ops")
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("fuzz/corpus/db_ops")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Runs one input; a panic (here or in a background thread) fails with the input.
fn check(name: &str, data: &[u8]) {
    let before = PANICS.load(Ordering::SeqCst);
    let ok = catch_unwind(AssertUnwindSafe(|| db_ops(data))).is_ok();
    assert!(
        ok && PANICS.load(Ordering::SeqCst) == before,
        "db_ops failed on {name}: {data:02x?}"
    );
}

#[test]
fn corpus_and_random_inputs_hold() {
    count_panics();
    let seeds = seeds();
    assert!(seeds.len() >= 4, "the seed corpus is missing");
    for (name, data) in &seeds {
        check(name, data);
        let s: Summary = run_ops(data);
        println!("{name}: {s:?}");
        assert!(
            s.acked > 0 && s.crashes > 0 && s.recovered_keys > 0,
            "{name} reaches little: {s:?}"
        );
    }
    let summaries: Vec<Summary> = seeds.iter().map(|(_, d)| run_ops(d)).collect();
    let cut = summaries.iter().filter(|s| s.cut_failures > 0).count();
    assert!(cut >= 2, "only {cut} seeds cut the power under a call");
    let ranges: u64 = summaries.iter().map(|s| s.range_deletes).sum();
    let refused: u64 = summaries.iter().map(|s| s.refused_ranges).sum();
    assert!(
        ranges >= 10 && refused >= 1,
        "the seeds make {ranges} range deletes and {refused} refused ones"
    );
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut rng = StdRng::seed_from_u64(0xdb_0b5);
    let (mut generated_ranges, mut generated_ttl, mut generated_clock) = (0u64, 0u64, 0u64);
    let mut generated_transactions = 0u64;
    for case in 0..cases {
        let data: Vec<u8> = if rng.gen_bool(0.5) {
            (0..rng.gen_range(2..600)).map(|_| rng.gen()).collect()
        } else {
            let mut d = seeds[rng.gen_range(0..seeds.len())].1.clone();
            for _ in 0..rng.gen_range(1..6) {
                let len = d.len();
                match rng.gen_range(0..4) {
                    0 if len > 0 => d[rng.gen_range(0..len)] ^= 1 << rng.gen_range(0..8),
                    1 if len > 0 => d[rng.gen_range(0..len)] = rng.gen(),
                    2 => d.truncate(rng.gen_range(0..=len)),
                    _ => {
                        let at = rng.gen_range(0..=len);
                        let extra: Vec<u8> = (0..rng.gen_range(1..24)).map(|_| rng.gen()).collect();
                        d.splice(at..at, extra);
                    }
                }
            }
            d
        };
        check(&format!("random case {case}"), &data);
        if case % 10 == 0 {
            let s = run_ops(&data);
            generated_ranges += s.range_deletes;
            generated_ttl += s.ttl_puts;
            generated_clock += s.clock_moves;
            generated_transactions += s.transactions;
        }
    }
    println!(
        "db_ops: {} seeds and {cases} generated inputs hold (in every tenth generated \
         input: {generated_ranges} acknowledged range deletes, {generated_ttl} puts with a \
         TTL, {generated_clock} clock moves, {generated_transactions} transactions)",
        seeds.len()
    );
    assert!(
        cases < 100 || (generated_ranges > 0 && generated_ttl > 0 && generated_clock > 0),
        "generated inputs reach too little: {generated_ranges} range deletes, \
         {generated_ttl} TTL puts, {generated_clock} clock moves"
    );
    assert!(
        cases < 100 || generated_transactions > 0,
        "no generated input commits a transaction"
    );
}

/// Encoders of the operations `db_ops` decodes (see `lsm_core::fuzzing`).
mod enc {
    pub fn put(out: &mut Vec<u8>, k: u8, len: u8) {
        out.extend([0, k, len]);
    }
    pub fn delete(out: &mut Vec<u8>, k: u8) {
        out.extend([6, k]);
    }
    /// Pairs of (key, value length); an odd length deletes.
    pub fn batch(out: &mut Vec<u8>, ops: &[(u8, u8)]) {
        out.extend([8, ops.len() as u8 - 1]);
        for &(k, v) in ops {
            out.extend([k, v]);
        }
    }
    pub fn get(out: &mut Vec<u8>, k: u8) {
        out.extend([10, k]);
    }
    pub fn scan(out: &mut Vec<u8>, lo: u8, hi: u8, reverse: bool) {
        out.extend([if reverse { 132 } else { 12 }, lo, hi]);
    }
    pub fn sync(out: &mut Vec<u8>) {
        out.push(13);
    }
    pub fn flush(out: &mut Vec<u8>) {
        out.push(14);
    }
    pub fn compact(out: &mut Vec<u8>) {
        out.push(15);
    }
    pub fn reopen(out: &mut Vec<u8>) {
        out.push(16);
    }
    pub fn crash(out: &mut Vec<u8>, mode: u8, seed: u8) {
        out.extend([17, mode, seed]);
    }
    pub fn power_cut(out: &mut Vec<u8>, after: u8) {
        out.extend([19, after]);
    }
    /// A range delete from key `a` to key `b` (refused when `b` sorts first).
    pub fn delete_range(out: &mut Vec<u8>, a: u8, b: u8) {
        out.extend([250, a, b]);
    }
    /// A prefix delete of the first `1 + len % 4` bytes of key `k` (`len` 0: all).
    pub fn delete_prefix(out: &mut Vec<u8>, k: u8, len: u8) {
        out.extend([253, k, len]);
    }
    /// A batch: puts (even lengths), then a range delete from `a` to `b`, then
    /// puts again.
    pub fn batch_with_range(out: &mut Vec<u8>, puts: &[u8], a: u8, b: u8) {
        out.extend([8, puts.len() as u8 * 2]);
        for &k in puts {
            out.extend([k, 40]);
        }
        out.extend([a, 0xff, b]);
        for &k in puts {
            out.extend([k.wrapping_add(1), 42]);
        }
    }
}

/// Writes the seed corpus. Options bytes first: `[a, b]` (see
/// `lsm_core::fuzzing::options`).
#[test]
#[ignore = "writes fuzz/corpus/db_ops; run by hand after changing the op encoding"]
fn write_seed_corpus() {
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    // Many writes over a small memtable: flushes and compactions, synced now and
    // then, reads, and a crash in each mode.
    let mut d = vec![0, 0];
    for i in 0..120u8 {
        match i % 7 {
            0..=2 => enc::put(&mut d, i, 100 + i),
            3 => enc::delete(&mut d, i / 2),
            4 => enc::batch(&mut d, &[(i, 60), (i + 1, 61), (i + 2, 80)]),
            5 => enc::get(&mut d, i),
            _ => enc::scan(&mut d, i % 24, (i + 9) % 24, i % 2 == 0),
        }
        if i % 25 == 24 {
            enc::sync(&mut d);
        }
        if i % 30 == 29 {
            enc::crash(&mut d, i / 30, i);
        }
    }
    seeds.push(("seed-writes-crashes", d));
    // A power cut in the middle of writes, flushes and a compaction.
    let mut d = vec![1, 2];
    for i in 0..60u8 {
        enc::put(&mut d, i, 200);
        if i == 20 {
            enc::sync(&mut d);
            enc::power_cut(&mut d, 30);
        }
        if i % 15 == 14 {
            enc::flush(&mut d);
        }
    }
    enc::compact(&mut d);
    enc::crash(&mut d, 2, 7);
    seeds.push(("seed-power-cut", d));
    // Reopen, flush and compact, then a crash with garbage pages.
    let mut d = vec![0x41, 0x23];
    for i in 0..40u8 {
        enc::put(&mut d, i, 150);
        enc::delete(&mut d, i + 3);
    }
    enc::flush(&mut d);
    enc::reopen(&mut d);
    enc::compact(&mut d);
    for i in 0..24u8 {
        enc::get(&mut d, i);
    }
    enc::crash(&mut d, 3, 1);
    seeds.push(("seed-reopen-compact", d));
    // Synchronous writes: every acknowledged write survives the cut.
    let mut d = vec![0x80, 0x01];
    for i in 0..30u8 {
        enc::batch(&mut d, &[(i, 90), (i + 5, 3)]);
        if i == 10 {
            enc::power_cut(&mut d, 12);
        }
    }
    enc::crash(&mut d, 0, 0);
    enc::scan(&mut d, 255, 255, true);
    seeds.push(("seed-sync-writes", d));
    // Range and prefix deletes (alone, in batches with puts on both sides, empty,
    // inverted) between puts, across flushes, a compaction, a reopen, a power cut
    // and crashes in every mode.
    let mut d = vec![0x08, 0x11];
    for i in 0..90u8 {
        enc::put(&mut d, i, 60 + i % 50);
        match i % 15 {
            3 => enc::delete_range(&mut d, i % 24, (i + 7) % 24),
            6 => enc::delete_prefix(&mut d, i, i / 15),
            9 => enc::batch_with_range(&mut d, &[i, i + 3], i % 24, (i + 5) % 24),
            11 => enc::delete_range(&mut d, i % 24, i % 24),
            12 => {
                enc::scan(&mut d, i % 24, 200, i % 2 == 0);
                enc::get(&mut d, i + 1);
            }
            _ => {}
        }
        match i {
            20 => enc::delete_range(&mut d, 20, 3),
            30 | 60 => enc::flush(&mut d),
            40 => enc::sync(&mut d),
            45 => enc::compact(&mut d),
            50 => enc::reopen(&mut d),
            70 => enc::power_cut(&mut d, 20),
            _ => {}
        }
        if i % 22 == 21 {
            enc::crash(&mut d, i / 22, i);
        }
    }
    enc::crash(&mut d, 1, 9);
    seeds.push(("seed-range-deletes", d));
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds {
        db_ops(&data);
        std::fs::write(dir.join(name), data).unwrap();
    }
}
