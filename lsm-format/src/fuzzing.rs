//! Check functions for every decoder, shared by the fuzz targets in `fuzz/` and by
//! `tests/fuzz_corpus.rs` (which replays the committed corpora and thousands of
//! mutated inputs on stable Rust, so CI exercises each target without nightly).
//!
//! Each function takes arbitrary bytes, must never panic on them, and asserts the
//! internal consistency of what was decoded: re-encoding reproduces it, forward and
//! backward iteration agree, a clean prefix reads back the same. A failed assertion
//! is a bug in this crate, and the input that caused it belongs in the corpus.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "checks assert by panicking; indexing is only into values built here"
)]

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::entry::{compare_internal, EntryKind, MAX_KEY_LEN, MAX_SEQUENCE};
use crate::log::{read_log_from, LogFraming, LogWriter};
use crate::manifest::{replay_manifest, ManifestState, VersionEdit};
use crate::segment::block::decompress_lz4;
use crate::segment::block_builder::BlockBuilder;
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::{
    Compression, Entry, ReadAt, ReadOptions, SegmentReader, SegmentWriter, WriterOptions,
};
use crate::wal::{decode_batch, replay_wal, start_wal, WalBatch, WalFormat};

/// Walks `data` as a log, in both framings: records lie in order inside the file,
/// the clean prefix reads back the same records without damage, re-framing the
/// payloads and resuming a writer at the clean length give clean logs.
pub fn log_read(data: &[u8]) {
    for framing in [LogFraming::Wide, LogFraming::Narrow] {
        log_read_framed(data, framing);
    }
}

fn log_read_framed(data: &[u8], framing: LogFraming) {
    let log = read_log_from(data, 0, framing).expect("read_log reports damage, never errors");
    let len = data.len() as u64;
    let mut prev_end = 0;
    for rec in &log.records {
        assert!(rec.offset >= prev_end && rec.end > rec.offset && rec.end <= len);
        prev_end = rec.end;
    }
    if let Some(d) = &log.damage {
        assert!(
            d.offset >= prev_end && d.offset <= len,
            "damage at {} before {prev_end}",
            d.offset
        );
        let mut after = d.offset + 1;
        for rec in &d.records_after {
            assert!(rec.offset >= after && rec.end > rec.offset && rec.end <= len);
            after = rec.end;
        }
    }
    let clean = usize::try_from(log.clean_len()).unwrap();
    let prefix = read_log_from(&data[..clean], 0, framing).unwrap();
    assert_eq!(prefix.records, log.records);
    assert_eq!(prefix.damage, None);

    let payloads: Vec<&[u8]> = log.records.iter().map(|r| &r.payload[..]).collect();
    let mut framed = Vec::new();
    let mut w = LogWriter::with_framing(0, framing);
    for p in &payloads {
        w.add_record(p, &mut framed);
    }
    let again = read_log_from(&framed, 0, framing).unwrap();
    assert_eq!(again.damage, None);
    assert!(again
        .records
        .iter()
        .map(|r| &r.payload[..])
        .eq(payloads.iter().copied()));

    let mut resumed = data[..clean].to_vec();
    LogWriter::with_framing(clean as u64, framing).add_record(b"appended", &mut resumed);
    let resumed = read_log_from(&resumed, 0, framing).unwrap();
    assert_eq!(resumed.damage, None);
    assert_eq!(resumed.records.len(), log.records.len() + 1);
    assert_eq!(&resumed.records.last().unwrap().payload[..], b"appended");
}

/// Replays `data` as a WAL (and decodes it as a bare batch): errors are corruption
/// inside the file; replayed batches have increasing sequence numbers, re-encode to
/// batches that decode the same, and the clean prefix replays the same.
pub fn wal_replay(data: &[u8]) {
    for format in [WalFormat::V1, WalFormat::V2] {
        if let Ok(batch) = decode_batch(data, 0, format) {
            let mut again = Vec::new();
            batch.encode(&mut again);
            assert_eq!(decode_batch(&again, 0, WalFormat::V2).unwrap(), batch);
        }
    }
    let replay = match replay_wal(data) {
        Ok(replay) => replay,
        Err(e) => {
            assert!(e.is_corruption(), "{e}");
            // Unsupported versions have no offset; everything else names one.
            assert!(e.offset().is_none_or(|o| o <= data.len() as u64), "{e}");
            return;
        }
    };
    let mut next_seq = 0;
    let mut prev_end = 0;
    let mut framed = Vec::new();
    let mut w = start_wal(WalFormat::CURRENT, &mut framed);
    for b in &replay.batches {
        assert!(b.first_seq >= next_seq && b.offset >= prev_end && b.end <= replay.clean_len);
        assert!(b.synced_offset <= b.offset);
        next_seq = b.first_seq + b.ops.len() as u64;
        prev_end = b.end;
        let batch = WalBatch {
            first_seq: b.first_seq,
            synced_offset: 0,
            ops: b
                .ops
                .iter()
                .map(|op| crate::wal::WalOp {
                    kind: op.kind,
                    key: &op.key,
                    value: &op.value,
                })
                .collect(),
        };
        let mut payload = Vec::new();
        batch.encode(&mut payload);
        w.add_record(&payload, &mut framed);
    }
    if let Some(torn) = replay.torn_tail {
        assert!(torn >= replay.clean_len && torn <= data.len() as u64);
    }
    let clean = usize::try_from(replay.clean_len).unwrap();
    let prefix = replay_wal(&data[..clean]).expect("a clean prefix replays");
    assert_eq!(prefix.batches, replay.batches);
    assert_eq!(prefix.torn_tail, None);
    let reframed = replay_wal(&framed).expect("re-encoded batches replay");
    assert_eq!(reframed.batches.len(), replay.batches.len());
    for (a, b) in reframed.batches.iter().zip(&replay.batches) {
        assert_eq!((a.first_seq, &a.ops), (b.first_seq, &b.ops));
    }
}

/// Decodes `data` as one version edit, applies it after a fixed snapshot, and
/// replays it as a whole manifest: edits round-trip through their encoding, errors
/// are corruption, and a replayed state rewrites (snapshot edit) to the same state.
pub fn manifest_decode(data: &[u8]) {
    if let Ok(edit) = VersionEdit::decode(data, 0) {
        let mut bytes = Vec::new();
        edit.encode(&mut bytes);
        assert_eq!(VersionEdit::decode(&bytes, 0).unwrap(), edit);
        // As the second record of a manifest.
        let snapshot = VersionEdit {
            format_version: Some(1),
            log_number: Some(1),
            next_file_number: Some(3),
            last_sequence: Some(10),
            added_segments: vec![(0, seed_meta(1)), (1, seed_meta(2))],
            ..VersionEdit::default()
        };
        let mut first = Vec::new();
        snapshot.encode(&mut first);
        let mut file = Vec::new();
        let mut w = LogWriter::new(0);
        w.add_record(&first, &mut file);
        w.add_record(data, &mut file);
        match replay_manifest(&file) {
            Ok(state) => check_state(&state),
            Err(e) => assert!(e.is_corruption(), "{e}"),
        }
    }
    match replay_manifest(data) {
        Ok(state) => {
            check_state(&state);
            let clean = usize::try_from(state.clean_len).unwrap();
            let prefix = replay_manifest(&data[..clean]).expect("a clean prefix replays");
            assert_eq!(prefix.levels, state.levels);
            assert_eq!(prefix.record_count, state.record_count);
        }
        Err(e) => assert!(e.is_corruption(), "{e}"),
    }
}

fn seed_meta(file_number: u64) -> crate::manifest::SegmentMeta {
    crate::manifest::SegmentMeta {
        file_number,
        file_size: 100,
        smallest_key: Bytes::from_static(b"a"),
        largest_key: Bytes::from_static(b"z"),
        smallest_seq: 1,
        largest_seq: 9,
        entry_count: 5,
        tombstone_count: 1,
    }
}

/// Every live file once; the snapshot edit rewrites to the same state.
fn check_state(state: &ManifestState) {
    let live: usize = state.levels.iter().map(Vec::len).sum();
    assert_eq!(live, state.live_count());
    for (level, files) in (0u32..).zip(&state.levels) {
        for m in files {
            assert_eq!(state.level_of(m.file_number), Some(level));
        }
    }
    let mut bytes = Vec::new();
    state.snapshot_edit().encode(&mut bytes);
    let mut file = Vec::new();
    LogWriter::new(0).add_record(&bytes, &mut file);
    let again = replay_manifest(&file).expect("a snapshot replays");
    assert_eq!(again.levels, state.levels);
    assert_eq!(
        (
            again.log_number,
            again.next_file_number,
            again.last_sequence
        ),
        (
            state.log_number,
            state.next_file_number,
            state.last_sequence
        )
    );
}

/// Largest number of entries a check walks; fuzz inputs are far smaller.
const MAX_WALK: usize = 1 << 20;

/// Positional reads served from bytes in memory.
struct MemoryReadAt(Bytes);

impl ReadAt for MemoryReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.0.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Opens `data` as a segment and reads it every way: forward and backward iteration
/// agree when both complete, reading the data blocks with positional reads
/// ([`ReadOptions::read_at`]) gives the same result as reading them from the bytes,
/// a file that verifies clean iterates in strict internal order with as many
/// entries as its properties say, and every entry is found by `get` and by `seek`.
pub fn segment_open(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let Ok(reader) = SegmentReader::open(bytes.clone(), ReadOptions::default()) else {
        return;
    };
    let _ = reader.layout();
    let _ = reader.index_entries();
    let forward: Result<Vec<Entry>, _> = reader.entries().take(MAX_WALK).collect();
    let backward: Result<Vec<Entry>, _> = reader.entries().rev().take(MAX_WALK).collect();
    let positional = ReadOptions {
        read_at: Some(std::sync::Arc::new(MemoryReadAt(bytes.clone()))),
        ..ReadOptions::default()
    };
    let by_pread = SegmentReader::open(bytes, positional)
        .expect("opens as it did without read_at")
        .entries()
        .take(MAX_WALK)
        .collect::<Result<Vec<Entry>, _>>();
    match (&forward, &by_pread) {
        (Ok(a), Ok(b)) => assert!(a == b, "positional reads read other entries"),
        (Err(_), Err(_)) => {}
        _ => panic!("positional reads and the bytes disagree on whether the file reads"),
    }
    let problems = reader.verify();
    if let (Ok(f), Ok(b)) = (&forward, &backward) {
        assert!(
            f.iter().eq(b.iter().rev()),
            "forward and backward iteration differ"
        );
    }
    // A few probes, sound file or not: none may panic.
    let mut it = reader.iter();
    let probes = [&b""[..], b"a", b"\xff\xff", data.get(..8).unwrap_or(data)];
    for probe in probes {
        let _ = reader.get(probe, MAX_SEQUENCE);
        if it.seek(probe, MAX_SEQUENCE).is_ok() && it.valid() {
            let _ = it.prev();
        }
        let _ = it.seek_for_prev(probe, 0);
    }
    if !problems.is_empty() {
        return;
    }
    for probe in probes {
        it.seek(probe, MAX_SEQUENCE).unwrap();
        assert!(!it.valid() || it.key() >= probe);
    }
    let entries = forward.expect("a verified segment iterates without error");
    assert_eq!(entries.len() as u64, reader.properties().entry_count);
    for pair in entries.windows(2) {
        assert!(compare_internal(&pair[0].key, pair[0].seq, &pair[1].key, pair[1].seq).is_lt());
    }
    for e in entries.iter().take(64) {
        assert_eq!(reader.get(&e.key, e.seq).unwrap().as_ref(), Some(e));
        it.seek(&e.key, e.seq).unwrap();
        assert!(it.valid());
        assert_eq!(it.entry(), *e);
    }
}

/// Decodes `data` as the contents of a data block and of an index block (and, when
/// it decompresses, as LZ4 contents): forward and backward walks agree, seeks land on
/// the entries, and a well-ordered block rebuilt by the block builder decodes the
/// same.
pub fn block_decode(data: &[u8]) {
    check_block(Bytes::copy_from_slice(data), false);
    check_block(Bytes::copy_from_slice(data), true);
    if let Ok(raw) = decompress_lz4(data, 0) {
        check_block(Bytes::from(raw), false);
    }
}

type RawEntry = (Vec<u8>, u64, Vec<u8>);

fn walk(it: &mut BlockIter, forward: bool) -> Option<Vec<RawEntry>> {
    let mut out = Vec::new();
    let start = if forward {
        it.seek_to_first()
    } else {
        it.seek_to_last()
    };
    start.ok()?;
    while it.valid() && out.len() < MAX_WALK {
        out.push((it.key().to_vec(), it.tag(), it.value_slice().to_vec()));
        let step = if forward { it.next() } else { it.prev() };
        step.ok()?;
    }
    if !forward {
        out.reverse();
    }
    Some(out)
}

fn check_block(data: Bytes, index: bool) {
    let origin = BlockOrigin {
        offset: 0,
        decompressed: false,
        index,
    };
    let mut it = BlockIter::default();
    if it.reset(data, origin).is_err() {
        return;
    }
    let forward = walk(&mut it, true);
    let backward = walk(&mut it, false);
    let Some(entries) = forward else { return };
    if let Some(b) = &backward {
        assert_eq!(&entries, b, "forward and backward walks of a block differ");
    }
    let ordered = entries
        .windows(2)
        .all(|p| compare_internal(&p[0].0, p[0].1 >> 8, &p[1].0, p[1].1 >> 8).is_lt());
    if !ordered || backward.is_none() {
        return;
    }
    for (key, tag, value) in entries.iter().take(64) {
        it.seek(key, tag >> 8).unwrap();
        assert!(it.valid());
        assert_eq!(
            (it.key(), it.tag(), it.value_slice()),
            (&key[..], *tag, &value[..])
        );
    }
    // Rebuilt by the block builder, the block decodes to the same entries.
    let mut builder = BlockBuilder::new(16);
    for (key, tag, value) in &entries {
        builder.add(key, *tag, value).unwrap();
    }
    let rebuilt = Bytes::copy_from_slice(builder.finish());
    it.reset(rebuilt, origin).unwrap();
    assert_eq!(walk(&mut it, true).unwrap(), entries);
}

/// Derives writer options and a sorted set of entries from `data`, writes them as a
/// segment, and reads everything back: iteration both ways, `get` of every version
/// and of the newest, properties, and a clean verification.
pub fn segment_roundtrip(data: &[u8]) {
    let (options, entries) = derive_entries(data);
    let mut writer = SegmentWriter::new(Vec::new(), options);
    for ((key, seq), (kind, value)) in &entries {
        writer.add(key, seq.0, *kind, value).unwrap();
    }
    let file = writer.finish().unwrap().into_inner();
    let reader = SegmentReader::open(Bytes::from(file), ReadOptions::default()).unwrap();
    let problems = reader.verify();
    assert!(problems.is_empty(), "{problems:?}");
    let expected: Vec<Entry> = entries
        .iter()
        .map(|((key, seq), (kind, value))| Entry {
            key: Bytes::copy_from_slice(key),
            seq: seq.0,
            kind: *kind,
            value: Bytes::copy_from_slice(value),
        })
        .collect();
    let forward: Vec<Entry> = reader.entries().collect::<Result<_, _>>().unwrap();
    assert_eq!(forward, expected);
    let mut backward: Vec<Entry> = reader.entries().rev().collect::<Result<_, _>>().unwrap();
    backward.reverse();
    assert_eq!(backward, expected);
    let props = reader.properties();
    assert_eq!(props.entry_count, expected.len() as u64);
    let tombstones = expected
        .iter()
        .filter(|e| e.kind == EntryKind::Tombstone)
        .count();
    assert_eq!(props.tombstone_count, tombstones as u64);
    // Point reads of a sample (every entry of small files): each `get` of a
    // compressed block decompresses it again, which dominates under a fuzzer.
    let mut it = reader.iter();
    let step = expected.len().div_ceil(64).max(1);
    for e in expected.iter().step_by(step) {
        assert_eq!(reader.get(&e.key, e.seq).unwrap().as_ref(), Some(e));
        it.seek(&e.key, e.seq).unwrap();
        assert_eq!(it.entry(), *e);
    }
    // Per key: the newest version is what the latest snapshot sees, and a snapshot
    // older than every version sees nothing.
    let mut versions: BTreeMap<&[u8], (&Entry, u64)> = BTreeMap::new();
    for e in &expected {
        versions.entry(&e.key).or_insert((e, e.seq)).1 = e.seq;
    }
    let step = versions.len().div_ceil(32).max(1);
    for (key, (newest, oldest_seq)) in versions.iter().step_by(step) {
        assert_eq!(
            reader.get(key, MAX_SEQUENCE).unwrap().as_ref(),
            Some(*newest)
        );
        if let Some(below) = oldest_seq.checked_sub(1) {
            assert_eq!(reader.get(key, below).unwrap(), None);
        }
    }
    let mut absent = expected.last().map_or_else(Vec::new, |e| e.key.to_vec());
    absent.push(0);
    assert_eq!(reader.get_unfiltered(&absent, MAX_SEQUENCE).unwrap(), None);
}

/// Entries keyed in internal order: key ascending, then sequence number descending.
type Sorted = BTreeMap<(Vec<u8>, std::cmp::Reverse<u64>), (EntryKind, Vec<u8>)>;

fn derive_entries(data: &[u8]) -> (WriterOptions, Sorted) {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let b = |v: Option<u8>| v.unwrap_or(0);
    let options = WriterOptions {
        block_size: 32 << (b(next()) % 8),
        restart_interval: 1 + usize::from(b(next()) % 16),
        bloom_bits_per_key: b(next()) % 16,
        compression: if b(next()) & 1 == 1 {
            Compression::Lz4
        } else {
            Compression::None
        },
        created_unix_ms: Some(0),
        ..WriterOptions::default()
    };
    let mut entries = Sorted::new();
    // Each entry: a key drawn from a small alphabet (so versions and shared prefixes
    // are common), a sequence number, a kind and a value.
    while let Some(control) = next() {
        let key_len = usize::from(control % 8).min(MAX_KEY_LEN);
        let key: Vec<u8> = (0..key_len).map(|_| b'a' + b(next()) % 4).collect();
        let seq = u64::from(b(next())) | u64::from(b(next())) << 8;
        let kind = if control & 0x80 == 0 {
            EntryKind::Put
        } else {
            EntryKind::Tombstone
        };
        let value = match kind {
            EntryKind::Put => {
                let len = usize::from(b(next()) % 64);
                // Repetitive values so that LZ4 actually compresses some blocks.
                (0..len)
                    .map(|i| if control & 0x40 == 0 { b'v' } else { i as u8 })
                    .collect()
            }
            EntryKind::Tombstone => Vec::new(),
        };
        entries.insert((key, std::cmp::Reverse(seq)), (kind, value));
    }
    (options, entries)
}
