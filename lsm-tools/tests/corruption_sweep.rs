//! Corruption sweep (issue 5, item 5), in the manner of LevelDB's `corruption_test`
//! and SQLite's malformed-file loops, over a small segment (8 to 16 KiB), a WAL of 50
//! records and a manifest: every single-bit flip, every byte set to 0x00 and to
//! 0xFF, every truncation, every zeroed 4 KiB page.
//!
//! For every mutation, `lsm-verify`'s library must report a problem when checksummed
//! bytes changed (every byte of these files is; a log cut short or zeroed to its end
//! is what a crash while appending leaves, which verify only notes). Mutations are
//! also read through the engine (`Db` on the simulated disk; every one with
//! `LSM_SWEEP_FULL=1`, a fixed sample in CI): a read gives the right value or
//! `Error::Corruption`, never another value or a phantom key; a WAL cut at byte `i`
//! replays exactly the complete records before `i`; damage in a WAL that a later
//! record certifies synced fails `open`, never skipped silently; damage anywhere in
//! a manifest fails `open` with `Error::Corruption`, except in its final commit
//! marker, which `docs/format.md` section 6 makes harmless: the reopened state must
//! then be identical. Each sweep prints its figures; silent wrong results must be 0.
//!
//! The test lives in `lsm-tools` because `lsm-core` cannot depend on the verify
//! library; it uses both.

mod sweep;

use std::path::Path;

use bytes::Bytes;
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Compression, Options, WriteBatch};
use lsm_format::log::read_log;
use lsm_format::wal::decode_batch;
use lsm_format::EntryKind;
use lsm_tools::verify::{log, segment, Report};
use sweep::{
    check_reads, damaged_copy, engine_checks, only_file, open, read_all, Map, Mutation, Reads,
    Tally, DB,
};

/// A value of `len` bytes that names its writer `id`; incompressible filler.
fn value(id: u64, len: usize) -> Vec<u8> {
    let mut v = format!("v{id}:").into_bytes();
    let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Options under which only explicit flushes write segments or the manifest.
fn quiet(compression: Compression) -> Options {
    Options {
        memtable_size: 1 << 20,
        segment_size: 1 << 20,
        block_size: 1024,
        level0_compaction_trigger: 8,
        level0_stop_writes: 16,
        compression,
        ..Options::default()
    }
}

/// Keys never written, between and around the written ones.
fn absent(prefix: &str) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(), b"\xff\xff".to_vec(), prefix.as_bytes().to_vec()];
    out.extend(
        (0..200)
            .step_by(7)
            .map(|i| format!("{prefix}{i:04}x").into_bytes()),
    );
    out
}

/// Opens the damaged copy and checks reads against `model`, adding to `tally`.
fn engine_reads(
    copy: &SimFs,
    options: &Options,
    model: &Map,
    absent: &[Vec<u8>],
    what: &str,
    tally: &mut Tally,
) {
    tally.engine_checked += 1;
    match open(copy, options) {
        Err(e) if e.is_corruption() => tally.open_refused += 1,
        Err(e) => tally.wrong(format!("{what}: open failed with {e} (not Corruption)")),
        Ok(db) => match check_reads(&db, model, absent) {
            Ok(Reads::Right) => tally.all_right += 1,
            Ok(Reads::Reported) => tally.read_reported += 1,
            Err(e) => tally.wrong(format!("{what}: {e}")),
        },
    }
}

fn finish(name: &str, tally: &Tally, verify_missed: &[String]) {
    println!("corruption sweep, {name}: {tally}");
    assert!(
        verify_missed.is_empty(),
        "{name}: lsm-verify missed {} mutations of checksummed bytes, e.g. {:?}",
        verify_missed.len(),
        &verify_missed[..verify_missed.len().min(10)]
    );
    assert_eq!(tally.silent_wrong, 0, "{name}: {tally}\n{:#?}", tally.wrong);
}

fn sweep_segment(compression: Compression, stride: usize) {
    let options = quiet(compression);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let mut model = Map::new();
    for i in 0..200u64 {
        let k = format!("seg-key-{i:04}").into_bytes();
        let v = value(i, 20 + (i as usize * 37) % 60);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.flush().unwrap();
    db.close().unwrap();
    let (name, data) = only_file(&sim, ".seg");
    assert!(
        (8 << 10..=16 << 10).contains(&data.len()),
        "segment of {} bytes",
        data.len()
    );
    let absent = absent("seg-key-");
    let mut tally = Tally::default();
    let mut verify_missed = Vec::new();
    for (i, m) in Mutation::all(&data).into_iter().enumerate() {
        tally.tried += 1;
        let damaged = m.apply(&data);
        let mut report = Report::default();
        segment::verify_segment(Bytes::from(damaged.clone()), &name, &mut report);
        if report.is_ok() {
            verify_missed.push(format!("{m:?}"));
        } else {
            tally.verify_reported += 1;
        }
        if engine_checks(i, stride) {
            let copy = damaged_copy(&sim, &name, &damaged);
            engine_reads(
                &copy,
                &options,
                &model,
                &absent,
                &format!("{m:?}"),
                &mut tally,
            );
        }
    }
    finish(
        &format!("segment ({} bytes, {compression:?})", data.len()),
        &tally,
        &verify_missed,
    );
}

#[test]
fn every_damage_to_a_segment_is_reported_never_read_as_data() {
    sweep_segment(Compression::None, 7);
}

#[test]
fn every_damage_to_a_compressed_segment_is_reported_never_read_as_data() {
    sweep_segment(Compression::Lz4, 29);
}
