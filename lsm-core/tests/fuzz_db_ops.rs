//! The `db_ops` fuzz target on stable: replays every committed input in
//! `fuzz/corpus/db_ops/` through `lsm_core::fuzzing::db_ops` (the check the fuzz
//! target calls), then `FUZZ_CASES` (default 600) deterministic inputs, random or
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
    let sum = |f: fn(&Summary) -> u64| summaries.iter().map(f).sum::<u64>();
    let (drops, cross, snaps) = (
        sum(|s| s.drops),
        sum(|s| s.cross_keyspace_batches),
        sum(|s| s.snapshot_reads),
    );
    let (txns, conflicts) = (sum(|s| s.keyspace_transactions), sum(|s| s.conflicts));
    println!(
        "seeds: {drops} drops, {cross} cross-keyspace batches, {snaps} snapshot reads, \
         {txns} transactions over keyspaces committed, {conflicts} conflicts"
    );
    assert!(
        drops >= 2 && cross >= 50 && snaps >= 10 && txns >= 10 && conflicts >= 10,
        "the seeds reach too little of the keyspaces"
    );
    let blobs = summaries.iter().filter(|s| s.blob_files > 0).count();
    assert!(blobs >= 1, "no seed writes blob files");
    let ranges: u64 = summaries.iter().map(|s| s.range_deletes).sum();
    let refused: u64 = summaries.iter().map(|s| s.refused_ranges).sum();
    assert!(
        ranges >= 10 && refused >= 1,
        "the seeds make {ranges} range deletes and {refused} refused ones"
    );
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let mut rng = StdRng::seed_from_u64(0xdb_0b5);
    let (mut generated_ranges, mut generated_ttl, mut generated_clock) = (0u64, 0u64, 0u64);
    let mut generated_transactions = 0u64;
    let mut generated_blob_runs = 0u64;
    let mut generated_keyspace = Summary::default();
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
            generated_blob_runs += u64::from(s.blob_files > 0);
            generated_keyspace.keyspace_writes += s.keyspace_writes;
            generated_keyspace.cross_keyspace_batches += s.cross_keyspace_batches;
            generated_keyspace.keyspace_transactions += s.keyspace_transactions;
            generated_keyspace.conflicts += s.conflicts;
        }
    }
    println!(
        "db_ops: {} seeds and {cases} generated inputs hold (in every tenth generated \
         input: {generated_ranges} acknowledged range deletes, {generated_ttl} puts with a \
         TTL, {generated_clock} clock moves, {generated_transactions} transactions, \
         {generated_blob_runs} runs with blob files)",
        seeds.len()
    );
    assert!(
        cases < 100 || (generated_ranges > 0 && generated_ttl > 0 && generated_clock > 0),
        "generated inputs reach too little: {generated_ranges} range deletes, \
         {generated_ttl} TTL puts, {generated_clock} clock moves"
    );
    assert!(
        cases < 100 || generated_blob_runs > 0,
        "no generated input writes a blob file"
    );
    assert!(
        cases < 100 || generated_transactions > 0,
        "no generated input commits a transaction"
    );
    println!("in every tenth generated input: {generated_keyspace:?}");
    assert!(
        cases < 100
            || (generated_keyspace.keyspace_writes > 0
                && generated_keyspace.cross_keyspace_batches > 0
                && generated_keyspace.keyspace_transactions > 0),
        "generated inputs reach too little of the keyspaces: {generated_keyspace:?}"
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
    /// The next operation in named keyspace 1 or 2.
    pub fn in_ks(out: &mut Vec<u8>, ks: u8) {
        out.extend([242, (ks - 1) << 3]);
    }
    /// A batch across keyspaces: (keyspace 0..=2, key, value byte as in `batch`).
    pub fn cross_batch(out: &mut Vec<u8>, ops: &[(u8, u8, u8)]) {
        out.extend([242, 3, ops.len() as u8 - 1]);
        for &(ks, k, v) in ops {
            out.extend([ks, k, v]);
        }
    }
    /// Drop named keyspace 1 or 2 and create it again.
    pub fn drop_ks(out: &mut Vec<u8>, ks: u8) {
        out.extend([242, 4 | (ks - 1) << 3]);
    }
    /// Read key `k` of keyspace `ks` through the snapshot held (a new one with
    /// `take`).
    pub fn snapshot_get(out: &mut Vec<u8>, take: bool, ks: u8, k: u8) {
        out.extend([242, 5 | u8::from(take) << 4, ks, k]);
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
    // Keyspaces: writes, reads, scans and range deletes in the named ones, batches
    // across all three, flushes of one, snapshot reads, drops, read-only views,
    // a checkpoint, a power cut and crashes.
    let mut d = vec![0x00, 0x01];
    for i in 0..80u8 {
        let ks = 1 + i % 2;
        enc::in_ks(&mut d, ks);
        enc::put(&mut d, i, 40 + i % 60);
        enc::put(&mut d, i + 7, 30);
        enc::cross_batch(
            &mut d,
            &[(0, i, 20), (1, i + 1, 22), (2, i + 2, 24), (1, i + 3, 3)],
        );
        match i % 10 {
            1 => {
                enc::in_ks(&mut d, ks);
                enc::get(&mut d, i);
                enc::in_ks(&mut d, 3 - ks);
                enc::scan(&mut d, i % 24, (i + 11) % 24, i % 4 == 1);
            }
            2 => enc::snapshot_get(&mut d, true, ks, i),
            3 => {
                enc::in_ks(&mut d, ks);
                enc::delete_range(&mut d, i % 24, (i + 6) % 24);
                enc::snapshot_get(&mut d, false, ks, i + 1);
            }
            4 => {
                enc::in_ks(&mut d, ks);
                enc::flush(&mut d);
            }
            5 => enc::cross_batch(&mut d, &[(2, i, 0xff), (2, i + 9, 10), (0, i, 5)]),
            6 if i % 20 == 6 => enc::drop_ks(&mut d, ks),
            7 => d.push(246),            // a read-only view of every keyspace
            8 if i == 48 => d.push(240), // a checkpoint
            _ => {}
        }
        match i {
            30 => enc::sync(&mut d),
            40 => enc::reopen(&mut d),
            65 => enc::power_cut(&mut d, 25),
            _ => {}
        }
        if i % 25 == 24 {
            enc::crash(&mut d, i / 25, i);
        }
    }
    seeds.push(("seed-keyspaces", d));
    // Transactions over keyspaces, with another caller's write touching a key
    // read (they must conflict), or one not read (they must commit).
    let mut d = vec![0x00, 0x02];
    for i in 0..60u8 {
        enc::cross_batch(&mut d, &[(0, i, 20), (1, i, 22), (2, i, 24)]);
        let (a, b) = (i % 3, (i + 1) % 3);
        // A transaction (code 242, selector 6): two reads, maybe another
        // caller's write (when: 1 before the reads, 2 after them, 3 after the
        // writes), three writes (a put, a delete, a range delete).
        d.extend([242, 6, 1, a, i, b, i + 1]);
        match i % 6 {
            0 => d.push(0),
            1 => d.extend([1 + i % 3, a, i, 40]), // puts the key read: conflict
            2 => d.extend([1 + i % 3, b, i, 40]), // another keyspace: commits
            3 => d.extend([2, a, i + 5, 41]),     // another key, a delete: commits
            4 => d.extend([3, a, i.wrapping_sub(2), 0xff, i + 3]), // a range
            _ => d.extend([1, b, i + 1, 7]),      // deletes the second key read
        }
        d.extend([2, a, i, 60, b, i + 2, 7, 2, i + 4, 0xff, i + 8]);
        if i % 10 == 9 {
            enc::sync(&mut d);
        }
        if i % 20 == 19 {
            enc::crash(&mut d, i / 20, i);
        }
        if i == 45 {
            enc::power_cut(&mut d, 15);
        }
    }
    seeds.push(("seed-transactions", d));
    // Key-value separation (options byte 0x80: values of 100 bytes or more in
    // blob files): values below and well above the threshold, overwritten and
    // deleted over and over (blob files become garbage, are collected and
    // deleted) across flushes, compactions, a reopen, a checkpoint, read-only
    // views, a keyspace drop, a power cut and crashes in every mode.
    let mut d = vec![0x00, 0x80];
    for i in 0..120u8 {
        let len = if i % 3 == 0 {
            30
        } else {
            100 + i % 7 * 20 + i % 31
        };
        enc::put(&mut d, i % 12, len);
        match i % 10 {
            2 => enc::delete(&mut d, (i + 5) % 12),
            4 => enc::batch(
                &mut d,
                &[(i % 12, 200), (i % 12 + 1, 61), (i % 12 + 2, 140)],
            ),
            5 => enc::get(&mut d, i % 12),
            6 => enc::scan(&mut d, 0, 200, i % 20 == 6),
            7 => {
                enc::in_ks(&mut d, 1);
                enc::put(&mut d, i % 12, 180);
            }
            _ => {}
        }
        match i {
            20 | 50 | 80 => enc::flush(&mut d),
            35 | 90 => enc::compact(&mut d),
            60 => enc::reopen(&mut d),
            70 => d.push(240),      // a checkpoint
            72 | 95 => d.push(246), // a read-only view
            85 => enc::drop_ks(&mut d, 1),
            100 => {
                enc::sync(&mut d);
                enc::power_cut(&mut d, 20);
            }
            _ => {}
        }
        if i % 30 == 29 {
            enc::crash(&mut d, i / 30, i);
        }
    }
    seeds.push(("seed-blobs", d));
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds {
        db_ops(&data);
        std::fs::write(dir.join(name), data).unwrap();
    }
}
