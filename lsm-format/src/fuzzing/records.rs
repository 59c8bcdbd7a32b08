//! Checks of the record decoders: the log framing shared by the WAL and the
//! manifest (`docs/format.md` section 4), WAL batches (section 5) and version edits
//! (section 6).

use bytes::Bytes;

use crate::log::{read_log_from, LogFraming, LogWriter};
use crate::manifest::{replay_manifest, ManifestState, VersionEdit};
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
    // Batches of formats 1 and 2 re-encode to format-2 bytes (keyspace 0 only, the
    // first two kinds); those of format 5 (any keyspace) to format-5 bytes.
    for (format, reread) in [
        (WalFormat::V1, WalFormat::V2),
        (WalFormat::V2, WalFormat::V2),
        (WalFormat::V5, WalFormat::V5),
    ] {
        if let Ok(batch) = decode_batch(data, 0, format) {
            let mut again = Vec::new();
            batch.encode(&mut again);
            assert_eq!(decode_batch(&again, 0, reread).unwrap(), batch);
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
                    keyspace: op.keyspace,
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
        // As the second record of a manifest: one of format 1 (no keyspace record
        // allowed), one of format 3 holding keyspace 1 with a segment of its own.
        let old = VersionEdit {
            format_version: Some(1),
            log_number: Some(1),
            next_file_number: Some(3),
            last_sequence: Some(10),
            added_segments: vec![(0, seed_meta(1, 0)), (1, seed_meta(2, 0))],
            ..VersionEdit::default()
        };
        let with_keyspaces = VersionEdit {
            format_version: Some(3),
            next_keyspace_id: Some(2),
            added_keyspaces: vec![(1, "one".into())],
            keyspace_log_numbers: vec![(1, 2)],
            added_segments: vec![(0, seed_meta(1, 0)), (1, seed_meta(2, 1))],
            ..old.clone()
        };
        for snapshot in [old, with_keyspaces] {
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

fn seed_meta(file_number: u64, keyspace: u32) -> crate::manifest::SegmentMeta {
    crate::manifest::SegmentMeta {
        keyspace,
        file_number,
        file_size: 100,
        smallest_key: Bytes::from_static(b"a"),
        largest_key: Bytes::from_static(b"z"),
        smallest_seq: 1,
        largest_seq: 9,
        entry_count: 5,
        tombstone_count: 1,
        blob_refs: Vec::new(),
    }
}

/// Every live file once; the snapshot edit rewrites to the same state.
fn check_state(state: &ManifestState) {
    let live: usize = state.levels.iter().map(Vec::len).sum();
    assert_eq!(live, state.live_count());
    for (level, files) in (0u32..).zip(&state.levels) {
        for m in files {
            assert_eq!(state.level_of(m.file_number), Some(level));
            assert_eq!(state.keyspace_of(m.file_number), Some(m.keyspace));
            assert!(state.keyspaces.contains_key(&m.keyspace));
        }
    }
    // Keyspace 0 is always live; every other live id is below the next one, and
    // names are unique.
    assert!(state.keyspaces.contains_key(&0));
    for (&id, k) in &state.keyspaces {
        assert!(id == 0 || id < state.next_keyspace_id);
        assert_eq!(state.keyspace_named(&k.name), Some(id));
    }
    let mut bytes = Vec::new();
    state.snapshot_edit().encode(&mut bytes);
    let mut file = Vec::new();
    LogWriter::new(0).add_record(&bytes, &mut file);
    let again = replay_manifest(&file).expect("a snapshot replays");
    assert_eq!(again.levels, state.levels);
    assert_eq!(again.keyspaces, state.keyspaces);
    assert_eq!(again.next_keyspace_id, state.next_keyspace_id);
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
