//! Corruption sweep, in the manner of LevelDB's `corruption_test`
//! and SQLite's malformed-file loops, over a small segment (8 to 16 KiB), a WAL of 50
//! records, a manifest and a live blob file: every single-bit flip, every byte set
//! to 0x00 and to 0xFF, every truncation, every zeroed 4 KiB page. For the blob
//! file the `lsm-verify` binary also runs on the whole damaged directory (a sample
//! in CI) and must exit non-zero.
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

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Compression, Options, WriteBatch};
use lsm_format::keyspace::KeyspaceId;
use lsm_format::log::read_log;
use lsm_format::manifest::replay_manifest;
use lsm_format::wal::{read_wal_log, WalRecord, WalRecordDecoder};
use lsm_format::{EntryKind, ReadOptions, SegmentReader};
use lsm_tools::verify::{blob, log, segment, Report};
use sweep::{
    check_keyspace_reads, check_reads, damaged_copy, engine_checks, only_file, open, read_all,
    read_all_keyspaces, Map, Models, Mutation, Reads, Tally, DB,
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
    Options::default()
        .with_memtable_size(1 << 20)
        .with_segment_size(1 << 20)
        .with_block_size(1024)
        // Above the manifest sweep's 8 flushes: no compaction edit.
        .with_level0_compaction_trigger(12)
        .with_level0_stop_writes(20)
        .with_compression(compression)
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

/// A value that compresses: its id, then a short text repeated.
fn text_value(id: u64, len: usize) -> Vec<u8> {
    let mut v = format!("v{id}:").into_bytes();
    let words: &[u8] = b"the quick brown fox jumps over the lazy dog ";
    v.extend(words.iter().cycle().skip(id as usize % 9).take(len));
    v.truncate(len);
    v
}

/// Makes the value of write `id` with a length.
type ValueFn = fn(u64, usize) -> Vec<u8>;

fn sweep_segment(compression: Compression, stride: usize) {
    let options = quiet(compression);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let mut model = Map::new();
    let (keys, make): (u64, ValueFn) = match compression {
        Compression::None => (200, value),
        _ => (520, text_value),
    };
    for i in 0..keys {
        let k = format!("seg-key-{i:04}").into_bytes();
        let v = make(i, 20 + (i as usize * 37) % 60);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    // Range deletes, so that the range-tombstone block has pieces to damage: one
    // inside the keys, one over their end, one over nothing.
    for (start, end) in [(40, 47), (keys - 3, keys + 10), (keys + 20, keys + 30)] {
        let (start, end) = (
            format!("seg-key-{start:04}").into_bytes(),
            format!("seg-key-{end:04}").into_bytes(),
        );
        db.delete_range(&start, &end).unwrap();
        model.retain(|k, _| !(start <= *k && *k < end));
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

#[test]
fn every_damage_to_a_zstd_segment_is_reported_never_read_as_data() {
    sweep_segment(Compression::Zstd, 29);
}

/// A database whose values of 100 bytes or more live in one blob file, with
/// garbage in it: 24 keys, two in three with values of 150 to 600 bytes (in the
/// blob file), one in three with 40-byte values (inline); then, in a second
/// flush, four of the large values overwritten with small ones and four keys
/// deleted. Returns the disk, the options, the model and the blob file's name.
fn blob_database(compression: Compression) -> (SimFs, Options, Map, String) {
    let options = quiet(compression).with_blob_threshold(Some(100));
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let mut model = Map::new();
    let make: ValueFn = match compression {
        Compression::None => value,
        _ => text_value,
    };
    for i in 0..24u64 {
        let k = format!("blob-key-{i:04}").into_bytes();
        let len = if i % 3 == 0 {
            40
        } else {
            150 + (i as usize * 97) % 450
        };
        let v = make(i, len);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.flush().unwrap();
    for i in [1u64, 5, 10, 17] {
        let k = format!("blob-key-{i:04}").into_bytes();
        let v = make(100 + i, 30);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    for i in [2u64, 8, 13, 20] {
        let k = format!("blob-key-{i:04}").into_bytes();
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    db.flush().unwrap();
    assert_eq!(db.stats().blob_files, 1);
    db.close().unwrap();
    let (name, _) = only_file(&sim, ".blob");
    (sim, options, model, name)
}

/// The database directory of `sim` written to a real directory, for the
/// `lsm-verify` process (the engine's files as they are on the simulated disk).
fn real_copy(sim: &SimFs) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    for name in sim.file_names(Path::new(DB)) {
        let data = sim.read_file(&Path::new(DB).join(&name)).unwrap();
        std::fs::write(tmp.path().join(&name), data).unwrap();
    }
    tmp
}

/// Runs the `lsm-verify` binary on `dir`: whether it exited 0, and its output.
fn lsm_verify(dir: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lsm-verify"))
        .arg(dir)
        .output()
        .expect("run lsm-verify");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.success(),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Every mutation of the live blob file (flips, bytes set, truncations, zeroed
/// pages; every byte of a blob file is under a checksum: header, records, footer):
/// - `lsm-verify`'s library (`verify::blob::verify_blob`) reports each one;
/// - the `lsm-verify` binary, run on the whole database directory with the
///   damaged file in it, exits non-zero: every `verify_stride`-th mutation (all
///   with `LSM_SWEEP_FULL=1`), after it exited 0 on the sound directory;
/// - read through the engine (every `engine_stride`-th, all with
///   `LSM_SWEEP_FULL=1`): `open` succeeds or refuses with `Error::Corruption` (it
///   checks the file's header and footer against the manifest); every read gives
///   the right value or `Error::Corruption`, never another value, a phantom key or
///   a missing one, never a panic.
fn sweep_blob_file(compression: Compression, engine_stride: usize, verify_stride: usize) {
    let (sim, options, model, name) = blob_database(compression);
    let data = sim.read_file(&Path::new(DB).join(&name)).unwrap();
    assert!(
        (1 << 10..=12 << 10).contains(&data.len()),
        "blob file of {} bytes",
        data.len()
    );
    let number: u64 = name.trim_end_matches(".blob").parse().unwrap();
    let real = real_copy(&sim);
    let (sound, text) = lsm_verify(real.path());
    assert!(sound, "lsm-verify on the sound database:\n{text}");
    let absent = absent("blob-key-");
    let mut tally = Tally::default();
    let mut verify_missed = Vec::new();
    let mut verify_runs = 0u64;
    for (i, m) in Mutation::all(&data).into_iter().enumerate() {
        tally.tried += 1;
        let damaged = m.apply(&data);
        let mut report = Report::default();
        blob::verify_blob(Bytes::from(damaged.clone()), number, &name, &mut report);
        if report.is_ok() {
            verify_missed.push(format!("{m:?}"));
        } else {
            tally.verify_reported += 1;
        }
        if engine_checks(i, verify_stride) {
            verify_runs += 1;
            std::fs::write(real.path().join(&name), &damaged).unwrap();
            let (sound, text) = lsm_verify(real.path());
            if sound {
                verify_missed.push(format!("{m:?}: the lsm-verify binary exited 0: {text}"));
            }
        }
        if !engine_checks(i, engine_stride) {
            continue;
        }
        let copy = damaged_copy(&sim, &name, &damaged);
        let what = format!("{m:?}");
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut t = Tally::default();
            engine_reads(&copy, &options, &model, &absent, &what, &mut t);
            t
        }));
        match checked {
            Ok(t) => {
                tally.engine_checked += t.engine_checked;
                tally.open_refused += t.open_refused;
                tally.read_reported += t.read_reported;
                tally.all_right += t.all_right;
                for w in t.wrong {
                    tally.wrong(w);
                }
            }
            Err(_) => tally.wrong(format!("{what}: the engine panicked")),
        }
    }
    println!("lsm-verify binary runs on the damaged directory: {verify_runs}");
    finish(
        &format!("blob file ({} bytes, {compression:?})", data.len()),
        &tally,
        &verify_missed,
    );
    assert!(verify_runs >= 100, "{verify_runs} lsm-verify runs");
    // Damage in a record's bytes must be seen by the reads (not all harmless).
    assert!(tally.read_reported > 0, "{tally}");
    assert!(tally.open_refused > 0, "{tally}");
}

#[test]
fn every_damage_to_a_blob_file_is_reported_never_read_as_data() {
    sweep_blob_file(Compression::None, 7, 211);
}

#[test]
fn every_damage_to_a_compressed_blob_file_is_reported_never_read_as_data() {
    sweep_blob_file(Compression::Lz4, 3, 53);
}

/// One op of a WAL record, as the model applies it.
enum ModelOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// `[start, end)`.
    DeleteRange(Vec<u8>, Vec<u8>),
}

impl ModelOp {
    /// Applies the op to `map`.
    fn apply(&self, map: &mut Map) {
        match self {
            ModelOp::Put(k, v) => {
                map.insert(k.clone(), v.clone());
            }
            ModelOp::Delete(k) => {
                map.remove(k);
            }
            ModelOp::DeleteRange(start, end) => {
                map.retain(|k, _| !(start <= k && k < end));
            }
        }
    }
}

/// One WAL record of the pristine file: where it lies, what it certifies synced,
/// and its ops, each with the id of its keyspace.
struct Record {
    offset: usize,
    end: usize,
    synced_offset: u64,
    ops: Vec<(KeyspaceId, ModelOp)>,
}

fn wal_records(data: &[u8]) -> Vec<Record> {
    let log = read_wal_log(data).unwrap().contents;
    assert!(log.damage.is_none());
    let mut decoder = WalRecordDecoder::new();
    log.records
        .iter()
        .filter_map(|r| {
            let WalRecord::Batch(batch) = decoder.decode(r.offset, &r.payload).unwrap() else {
                return None; // the header record
            };
            Some(Record {
                offset: r.offset as usize,
                end: r.end as usize,
                synced_offset: batch.synced_offset,
                ops: batch
                    .ops
                    .iter()
                    .map(|op| {
                        let (k, v) = (op.key.to_vec(), op.value.to_vec());
                        let model_op = match op.kind {
                            EntryKind::Put => ModelOp::Put(k, v),
                            EntryKind::RangeDelete => ModelOp::DeleteRange(k, v),
                            _ => ModelOp::Delete(k),
                        };
                        (op.keyspace, model_op)
                    })
                    .collect(),
            })
        })
        .collect()
}

#[test]
fn every_damage_to_a_wal_is_reported_or_a_torn_tail_never_skipped_silently() {
    let options = quiet(Compression::None);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    for i in 0..50u64 {
        let mut batch = WriteBatch::new();
        for j in 0..1 + i % 3 {
            let k = format!("wal-key-{:02}", (i * 7 + j * 3) % 30);
            if (i + j) % 5 == 3 {
                batch.delete(k);
            } else if (i + j) % 11 == 7 {
                // A range delete over a few keys from this one on.
                let end = format!("wal-key-{:02}", (i * 7 + j * 3) % 30 + 4);
                batch.delete_range(k, end);
            } else {
                batch.put(k, value(i * 10 + j, 40 + (i as usize * 13) % 90));
            }
        }
        db.write(batch).unwrap();
        // Syncs make later records certify the earlier ones durable.
        if i % 5 == 4 {
            db.sync().unwrap();
        }
    }
    // The disk as a power loss leaves it: the WAL, not yet replayed.
    let pristine = sim.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    let (name, mut data) = only_file(&pristine, ".wal");
    // A live WAL ends in preallocated zeros (a torn tail by definition); sweep the
    // records themselves.
    let written = read_wal_log(&data)
        .unwrap()
        .contents
        .records
        .last()
        .unwrap()
        .end as usize;
    assert!(data[written..].iter().all(|&b| b == 0));
    data.truncate(written);
    let records = wal_records(&data);
    assert_eq!(records.len(), 50);
    let range_deletes = records
        .iter()
        .flat_map(|r| &r.ops)
        .filter(|(_, op)| matches!(op, ModelOp::DeleteRange(..)))
        .count();
    assert!(
        range_deletes >= 3,
        "{range_deletes} range deletes in the WAL"
    );
    assert!(data.len() > sweep::PAGE, "the WAL spans two pages");
    // states[j]: the state after the first j records.
    let mut states = vec![Map::new()];
    for r in &records {
        let mut next = states.last().unwrap().clone();
        for (_, op) in &r.ops {
            op.apply(&mut next);
        }
        states.push(next);
    }
    let absent = absent("wal-key-");
    let mut tally = Tally::default();
    let mut verify_missed = Vec::new();
    let (mut certified_damage, mut torn) = (0u64, 0u64);
    for (i, m) in Mutation::all(&data).into_iter().enumerate() {
        tally.tried += 1;
        let damaged = m.apply(&data);
        let (first, end) = (m.first_changed(), m.end_changed(data.len()));
        // Records wholly before the damage replay; a record wholly after it that
        // certifies bytes past the damaged record's start makes it corruption.
        let j = records.iter().take_while(|r| r.end <= first).count();
        let certified = records.get(j).is_some_and(|hit| {
            records[j..]
                .iter()
                .any(|r| r.offset >= end && r.synced_offset > hit.offset as u64)
        });
        let mut report = Report::default();
        log::verify_wal(&damaged, &name, &mut report);
        let must_report = match m {
            Mutation::Flip { .. } | Mutation::Set { .. } => true,
            Mutation::Truncate { .. } => false,
            Mutation::ZeroPage { .. } => end < data.len(),
        };
        if !report.is_ok() {
            tally.verify_reported += 1;
        } else if must_report {
            verify_missed.push(format!("{m:?}"));
        }
        if matches!(m, Mutation::Truncate { .. }) && !report.is_ok() {
            tally.wrong(format!(
                "{m:?}: verify calls a clean cut a problem: {:?}",
                report.problems
            ));
        }
        if !(engine_checks(i, 3) || matches!(m, Mutation::Truncate { .. })) {
            continue;
        }
        tally.engine_checked += 1;
        let copy = damaged_copy(&pristine, &name, &damaged);
        let want = &states[j];
        match open(&copy, &options) {
            Err(e) if e.is_corruption() => {
                tally.open_refused += 1;
                certified_damage += u64::from(certified);
                if matches!(m, Mutation::Truncate { .. }) {
                    tally.wrong(format!("{m:?}: a cut WAL refused ({e}); it must replay {j} records"));
                }
            }
            Err(e) => tally.wrong(format!("{m:?}: open failed with {e} (not Corruption)")),
            Ok(_) if certified => tally.wrong(format!(
                "{m:?}: damage in record {j} is certified synced by a later record, yet open succeeded"
            )),
            Ok(db) => match read_all(&db) {
                Ok(found) if &found == want => match check_reads(&db, want, &absent) {
                    Ok(Reads::Right) => {
                        tally.all_right += 1;
                        torn += 1;
                    }
                    other => tally.wrong(format!("{m:?}: reads after replaying {j} records: {other:?}")),
                },
                Ok(found) => tally.wrong(format!(
                    "{m:?}: recovered {} keys, not the state after the {j} records before the damage ({} keys)",
                    found.len(),
                    want.len()
                )),
                Err(e) => tally.wrong(format!("{m:?}: scan after recovery failed: {e}")),
            },
        }
    }
    println!(
        "WAL of {} records, {} bytes: {certified_damage} certified damages refused, {torn} torn tails \
         replayed exactly up to the damage",
        records.len(),
        data.len()
    );
    finish(
        &format!("WAL ({} bytes)", data.len()),
        &tally,
        &verify_missed,
    );
}

#[test]
fn every_damage_to_a_manifest_fails_open_except_in_the_final_commit_marker() {
    let options = quiet(Compression::None);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let manifest = Path::new(DB).join("MANIFEST");
    // Phase p writes its own keys and flushes them: one manifest edit each.
    let mut full = Map::new();
    for p in 0..8u64 {
        for i in 0..12u64 {
            let k = format!("man-key-{p}-{i:02}").into_bytes();
            let v = value(p * 100 + i, 50);
            db.put(&k, &v).unwrap();
            full.insert(k, v);
        }
        db.flush().unwrap();
    }
    assert_eq!(db.stats().compactions, 0);
    db.close().unwrap();
    let data = sim.read_file(&manifest).unwrap();
    let log_records = read_log(&data).unwrap().records;
    let marker = log_records.last().unwrap();
    assert!(marker.payload.is_empty() && marker.end as usize == data.len());
    let marker_start = marker.offset as usize;
    let absent = absent("man-key-");
    let mut tally = Tally::default();
    let mut verify_missed = Vec::new();
    let mut harmless = 0u64;
    for (i, m) in Mutation::all(&data).into_iter().enumerate() {
        tally.tried += 1;
        let damaged = m.apply(&data);
        let first = m.first_changed();
        let mut report = Report::default();
        log::verify_manifest(&damaged, "MANIFEST", &mut report);
        let must_report = matches!(m, Mutation::Flip { .. } | Mutation::Set { .. });
        if !report.is_ok() {
            tally.verify_reported += 1;
        } else if must_report {
            verify_missed.push(format!("{m:?}"));
        }
        if !engine_checks(i, 2) {
            continue;
        }
        tally.engine_checked += 1;
        let copy = damaged_copy(&sim, "MANIFEST", &damaged);
        // What open must give: for damage in the final marker, the same state;
        // otherwise Corruption. A cut at or inside an earlier record drops edits
        // whose files the directory shows (segments the cut manifest does not
        // list, holding data no WAL has, and WALs it does not expect), so open
        // must refuse, not return an older state without a word.
        let want = (first >= marker_start).then_some(&full);
        match (open(&copy, &options), want) {
            (Err(e), None) if e.is_corruption() => tally.open_refused += 1,
            (Err(e), _) => tally.wrong(format!(
                "{m:?}: open failed with {e}; expected {}",
                match want {
                    None => "Corruption".to_string(),
                    Some(w) => format!("a state of {} keys", w.len()),
                }
            )),
            (Ok(_), None) => tally.wrong(format!("{m:?}: a damaged manifest opened")),
            (Ok(db), Some(want)) => match check_reads(&db, want, &absent) {
                Ok(Reads::Right) => {
                    tally.all_right += 1;
                    harmless += u64::from(first >= marker_start);
                }
                other => tally.wrong(format!(
                    "{m:?}: reads after open: {other:?} (want {} keys)",
                    want.len()
                )),
            },
        }
    }
    println!(
        "manifest: {harmless} damages of the final commit marker were harmless, as section 6 says"
    );
    finish(
        &format!("manifest ({} bytes)", data.len()),
        &tally,
        &verify_missed,
    );
}

// The same sweeps over databases with named keyspaces: every keyspace is read
// against its own model, the keyspace names must be exactly the models', and a
// key of one keyspace must never be read in another (the keyspaces share key
// names, each with its own values).

/// Opens the damaged copy and checks every keyspace against `models`, adding to
/// `tally`.
fn keyspace_engine_reads(
    copy: &SimFs,
    options: &Options,
    models: &Models,
    absent: &[Vec<u8>],
    what: &str,
    tally: &mut Tally,
) {
    tally.engine_checked += 1;
    match open(copy, options) {
        Err(e) if e.is_corruption() => tally.open_refused += 1,
        Err(e) => tally.wrong(format!("{what}: open failed with {e} (not Corruption)")),
        Ok(db) => match check_keyspace_reads(&db, models, absent) {
            Ok(Reads::Right) => tally.all_right += 1,
            Ok(Reads::Reported) => tally.read_reported += 1,
            Err(e) => tally.wrong(format!("{what}: {e}")),
        },
    }
}

/// The live keyspaces the manifest of `fs` records, by id.
fn keyspaces_by_id(fs: &SimFs) -> BTreeMap<KeyspaceId, String> {
    let data = fs.read_file(&Path::new(DB).join("MANIFEST")).unwrap();
    replay_manifest(&data)
        .unwrap()
        .keyspaces
        .into_iter()
        .map(|(id, meta)| (id, meta.name))
        .collect()
}

/// Empty models of the keyspaces named.
fn empty_models(names: &[&str]) -> Models {
    names.iter().map(|n| (n.to_string(), Map::new())).collect()
}

#[test]
fn every_damage_to_a_keyspace_segment_is_reported_never_read_in_another_keyspace() {
    let options = quiet(Compression::None);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let a = db.keyspace("a").unwrap();
    let mut models = empty_models(&["a", "default"]);
    let key = |i: u64| format!("ks-key-{i:04}").into_bytes();
    for i in 0..80u64 {
        let v = value(10_000 + i, 40);
        db.put(key(i * 2), &v).unwrap();
        models.get_mut("default").unwrap().insert(key(i * 2), v);
    }
    let in_a = models.get_mut("a").unwrap();
    for i in 0..150u64 {
        let v = value(i, 20 + (i as usize * 37) % 60);
        a.put(key(i), &v).unwrap();
        in_a.insert(key(i), v);
    }
    a.delete_range(key(40), key(47)).unwrap();
    in_a.retain(|k, _| !(key(40) <= *k && *k < key(47)));
    db.flush().unwrap();
    a.flush().unwrap();
    db.close().unwrap();
    // The segment of `a`, found by the keyspace its properties name.
    let (name, data) = sim
        .file_names(Path::new(DB))
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .map(|n| {
            let data = sim.read_file(&Path::new(DB).join(&n)).unwrap();
            (n, data)
        })
        .find(|(_, data)| {
            SegmentReader::open(Bytes::from(data.clone()), ReadOptions::default())
                .unwrap()
                .properties()
                .keyspace
                != 0
        })
        .expect("the segment of keyspace a");
    let absent = absent("ks-key-");
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
        if engine_checks(i, 23) {
            let copy = damaged_copy(&sim, &name, &damaged);
            let what = format!("{m:?}");
            keyspace_engine_reads(&copy, &options, &models, &absent, &what, &mut tally);
        }
    }
    finish(
        &format!("segment of keyspace a ({} bytes)", data.len()),
        &tally,
        &verify_missed,
    );
}

#[test]
fn every_damage_to_a_wal_of_keyspaces_is_reported_or_a_torn_tail_never_skipped_silently() {
    let options = quiet(Compression::None);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let a = db.keyspace("a").unwrap();
    let b = db.keyspace("b").unwrap();
    let gone = db.keyspace("gone").unwrap();
    let key = |i: u64| format!("wal-key-{:02}", i % 20);
    for i in 0..44u64 {
        let k = key(i * 7);
        let mut batch = WriteBatch::new();
        // Cross-keyspace batches; before the drop, a quarter of them write the
        // keyspace dropped next too (its keys are its own, so that a resurrected
        // one reads as a phantom anywhere).
        match i % 4 {
            0 => {
                batch.put_in(&a, &k, value(i * 10, 40));
                batch.put(&k, value(i * 10 + 1, 50));
            }
            1 => {
                batch.put_in(&b, &k, value(i * 10 + 2, 60));
                batch.delete_in(&a, key(i * 3));
            }
            2 => {
                // Over the next three keys (past `wal-key-19` too).
                let end = format!("wal-key-{:02}", (i * 7) % 20 + 3);
                batch.delete_range_in(&b, &k, end);
                batch.put_in(&a, key(i * 3), value(i * 10 + 3, 30));
                batch.delete(key(i * 5));
            }
            _ => {
                if i < 32 {
                    batch.put_in(&gone, format!("gone-key-{i:02}"), value(i * 10 + 4, 40));
                }
                batch.put_in(&b, &k, value(i * 10 + 5, 45));
                batch.put(key(i * 3), value(i * 10 + 6, 35));
            }
        }
        db.write(batch).unwrap();
        if i % 4 == 3 {
            db.sync().unwrap();
        }
        if i == 32 {
            db.drop_keyspace("gone").unwrap();
        }
    }
    // The disk as a power loss leaves it: the WAL, not yet replayed.
    let pristine = sim.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    let (name, mut data) = only_file(&pristine, ".wal");
    let written = read_wal_log(&data)
        .unwrap()
        .contents
        .records
        .last()
        .unwrap()
        .end as usize;
    data.truncate(written);
    let records = wal_records(&data);
    assert_eq!(records.len(), 44);
    // states[j]: every live keyspace after the first j records; ops of the dropped
    // keyspace (not in the manifest) are skipped.
    let names = keyspaces_by_id(&pristine);
    assert_eq!(names.len(), 3, "{names:?}");
    let mut states = vec![empty_models(&["a", "b", "default"])];
    let mut dropped_ops = 0;
    for r in &records {
        let mut next = states.last().unwrap().clone();
        for (id, op) in &r.ops {
            match names.get(id) {
                Some(name) => op.apply(next.get_mut(name).unwrap()),
                None => dropped_ops += 1,
            }
        }
        states.push(next);
    }
    assert_eq!(dropped_ops, 8, "WAL ops of the dropped keyspace");
    let mut absent = absent("wal-key-");
    absent.extend((0..44).map(|i| format!("gone-key-{i:02}").into_bytes()));
    let mut tally = Tally::default();
    let mut verify_missed = Vec::new();
    let (mut certified_damage, mut torn) = (0u64, 0u64);
    for (i, m) in Mutation::all(&data).into_iter().enumerate() {
        tally.tried += 1;
        let damaged = m.apply(&data);
        let (first, end) = (m.first_changed(), m.end_changed(data.len()));
        let j = records.iter().take_while(|r| r.end <= first).count();
        let certified = records.get(j).is_some_and(|hit| {
            records[j..]
                .iter()
                .any(|r| r.offset >= end && r.synced_offset > hit.offset as u64)
        });
        let mut report = Report::default();
        log::verify_wal(&damaged, &name, &mut report);
        let must_report = match m {
            Mutation::Flip { .. } | Mutation::Set { .. } => true,
            Mutation::Truncate { .. } => false,
            Mutation::ZeroPage { .. } => end < data.len(),
        };
        if !report.is_ok() {
            tally.verify_reported += 1;
        } else if must_report {
            verify_missed.push(format!("{m:?}"));
        }
        if !engine_checks(i, 7) {
            continue;
        }
        tally.engine_checked += 1;
        let copy = damaged_copy(&pristine, &name, &damaged);
        let want = &states[j];
        match open(&copy, &options) {
            Err(e) if e.is_corruption() => {
                tally.open_refused += 1;
                certified_damage += u64::from(certified);
                if matches!(m, Mutation::Truncate { .. }) {
                    tally.wrong(format!("{m:?}: a cut WAL refused ({e}); it must replay {j} records"));
                }
            }
            Err(e) => tally.wrong(format!("{m:?}: open failed with {e} (not Corruption)")),
            Ok(_) if certified => tally.wrong(format!(
                "{m:?}: damage in record {j} is certified synced by a later record, yet open succeeded"
            )),
            Ok(db) => match read_all_keyspaces(&db, want) {
                Ok(found) if &found == want => match check_keyspace_reads(&db, want, &absent) {
                    Ok(Reads::Right) => {
                        tally.all_right += 1;
                        torn += 1;
                    }
                    other => tally.wrong(format!("{m:?}: reads after replaying {j} records: {other:?}")),
                },
                Ok(_) => tally.wrong(format!(
                    "{m:?}: recovered keyspaces are not the state after the {j} records before the damage"
                )),
                Err(e) => tally.wrong(format!("{m:?}: scan after recovery failed: {e}")),
            },
        }
    }
    println!(
        "WAL of keyspaces, {} records, {} bytes: {certified_damage} certified damages refused, \
         {torn} torn tails replayed exactly up to the damage",
        records.len(),
        data.len()
    );
    finish(
        &format!("WAL of keyspaces ({} bytes)", data.len()),
        &tally,
        &verify_missed,
    );
}

#[test]
fn every_damage_to_a_manifest_of_keyspaces_fails_open_except_in_the_final_commit_marker() {
    let options = quiet(Compression::None);
    let sim = SimFs::new();
    let db = open(&sim, &options).unwrap();
    let a = db.keyspace("a").unwrap();
    let mut models = empty_models(&["a", "default"]);
    // Phase p writes its keys into both keyspaces (the same names, other values)
    // and flushes each: two edits. Between phases 2 and 3 a keyspace is created,
    // flushed and dropped.
    for p in 0..5u64 {
        if p == 3 {
            let gone = db.keyspace("gone").unwrap();
            for i in 0..6u64 {
                gone.put(format!("man-gone-{i}"), value(900 + i, 50))
                    .unwrap();
            }
            gone.flush().unwrap();
            db.drop_keyspace("gone").unwrap();
        }
        for i in 0..6u64 {
            let k = format!("man-key-{p}-{i:02}").into_bytes();
            let (v, w) = (value(p * 100 + i, 50), value(5000 + p * 100 + i, 40));
            db.put(&k, &v).unwrap();
            a.put(&k, &w).unwrap();
            models.get_mut("default").unwrap().insert(k.clone(), v);
            models.get_mut("a").unwrap().insert(k, w);
        }
        db.flush().unwrap();
        a.flush().unwrap();
    }
    assert_eq!(db.stats().compactions, 0);
    db.close().unwrap();
    let data = sim.read_file(&Path::new(DB).join("MANIFEST")).unwrap();
    let marker = read_log(&data).unwrap().records.last().unwrap().clone();
    assert!(marker.payload.is_empty() && marker.end as usize == data.len());
    let marker_start = marker.offset as usize;
    let mut absent = absent("man-key-");
    absent.extend((0..6).map(|i| format!("man-gone-{i}").into_bytes()));
    let mut tally = Tally::default();
    let mut verify_missed = Vec::new();
    let mut harmless = 0u64;
    for (i, m) in Mutation::all(&data).into_iter().enumerate() {
        tally.tried += 1;
        let damaged = m.apply(&data);
        let first = m.first_changed();
        let mut report = Report::default();
        log::verify_manifest(&damaged, "MANIFEST", &mut report);
        if !report.is_ok() {
            tally.verify_reported += 1;
        } else if matches!(m, Mutation::Flip { .. } | Mutation::Set { .. }) {
            verify_missed.push(format!("{m:?}"));
        }
        if !engine_checks(i, 3) {
            continue;
        }
        tally.engine_checked += 1;
        let copy = damaged_copy(&sim, "MANIFEST", &damaged);
        // As in the manifest sweep above: only damage of the final commit marker
        // may open, and then to the same keyspaces and data.
        match (open(&copy, &options), first >= marker_start) {
            (Err(e), false) if e.is_corruption() => tally.open_refused += 1,
            (Err(e), harmless_spot) => tally.wrong(format!(
                "{m:?}: open failed with {e}; expected {}",
                if harmless_spot {
                    "the same state"
                } else {
                    "Corruption"
                }
            )),
            (Ok(_), false) => tally.wrong(format!("{m:?}: a damaged manifest opened")),
            (Ok(db), true) => match check_keyspace_reads(&db, &models, &absent) {
                Ok(Reads::Right) => {
                    tally.all_right += 1;
                    harmless += 1;
                }
                other => tally.wrong(format!("{m:?}: reads after open: {other:?}")),
            },
        }
    }
    println!("manifest of keyspaces: {harmless} damages of the final commit marker were harmless");
    finish(
        &format!("manifest of keyspaces ({} bytes)", data.len()),
        &tally,
        &verify_missed,
    );
}
