//! Keyspaces in the record formats: WAL format 5 ops that name a keyspace
//! (`docs/format.md` section 5) and the manifest's keyspace records of format 3
//! (section 6). Golden bytes, every decoding and replay rule, and every single-byte
//! flip and truncation of a WAL and a manifest that use them.

use bytes::Bytes;
use lsm_format::keyspace::MAX_KEYSPACE_ID;
use lsm_format::log::LogWriter;
use lsm_format::manifest::{
    replay_manifest, walk_manifest, DeletedSegment, ManifestState, SegmentMeta, VersionEdit,
};
use lsm_format::wal::{
    decode_batch, encode_batch_header, encode_op_in, replay_wal, start_wal, WalFormat,
    KEYSPACE_FLAG,
};
use lsm_format::{EntryKind, Error};

fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:08x}  {}\n", i * 16, hex.join(" ")));
    }
    out
}

// ---------------------------------------------------------------------------
// WAL format 5.

/// (keyspace, kind, key, value)
type Op = (u32, EntryKind, &'static [u8], &'static [u8]);

fn batch(first_seq: u64, synced: u64, ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch_header(&mut out, first_seq, synced, ops.len() as u32);
    for &(keyspace, kind, key, value) in ops {
        encode_op_in(&mut out, keyspace, kind, key, value);
    }
    out
}

/// A format-5 WAL of `batches`, each record certifying what came before it (as the
/// engine's writer does); returns the bytes and each record's (offset, end).
fn wal(batches: &[Vec<u8>]) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut data = Vec::new();
    let mut w = start_wal(WalFormat::V5, &mut data);
    let mut spans = Vec::new();
    for b in batches {
        let start = data.len() as u64;
        w.add_record(b, &mut data);
        spans.push((start, data.len() as u64));
    }
    (data, spans)
}

/// Three batches over keyspaces 0, 1, 300 and the largest id, every kind.
fn keyspace_batches(certify: bool) -> Vec<Vec<u8>> {
    let expiring: &'static [u8] = b"\x60\x52\xe6\xcf\x8b\x01\x00\x00ripe";
    let mut out = Vec::new();
    let mut synced = 0u64;
    let ops: [&[Op]; 3] = [
        &[
            (0, EntryKind::Put, b"apple", b"red"),
            (1, EntryKind::Put, b"user/1", b"ada"),
        ],
        &[
            (300, EntryKind::Tombstone, b"gone", b""),
            (1, EntryKind::RangeDelete, b"user/", b"user0"),
            (MAX_KEYSPACE_ID, EntryKind::ExpiringPut, b"fig", expiring),
        ],
        &[(0, EntryKind::Tombstone, b"apple", b"")],
    ];
    let mut seq = 7;
    for o in ops {
        out.push(batch(seq, synced, o));
        seq += o.len() as u64;
        if certify {
            // What the next record may certify: everything so far, header included.
            synced = 19 + out.iter().map(|b| 7 + b.len() as u64).sum::<u64>();
        }
    }
    out
}

#[test]
fn golden_bytes_of_a_format_5_wal() {
    let (data, _) = wal(&keyspace_batches(true));
    assert_eq!(&data[11..19], b"lsmwal\x05\x00");
    insta::assert_snapshot!(hex_dump(&data));
    let replay = replay_wal(&data).unwrap();
    let ops: Vec<_> = replay
        .batches
        .iter()
        .flat_map(|b| &b.ops)
        .map(|op| (op.keyspace, op.kind, op.key.to_vec()))
        .collect();
    assert_eq!(
        ops,
        [
            (0, EntryKind::Put, b"apple".to_vec()),
            (1, EntryKind::Put, b"user/1".to_vec()),
            (300, EntryKind::Tombstone, b"gone".to_vec()),
            (1, EntryKind::RangeDelete, b"user/".to_vec()),
            (MAX_KEYSPACE_ID, EntryKind::ExpiringPut, b"fig".to_vec()),
            (0, EntryKind::Tombstone, b"apple".to_vec()),
        ]
    );
    assert_eq!(replay.clean_len, data.len() as u64);
}

#[test]
fn op_layout_with_and_without_a_keyspace() {
    let mut out = Vec::new();
    encode_op_in(&mut out, 0, EntryKind::Put, b"k", b"v");
    assert_eq!(out, [0x01, 0x01, b'k', 0x01, b'v']);
    out.clear();
    encode_op_in(&mut out, 300, EntryKind::Put, b"k", b"v");
    assert_eq!(out, [0x81, 0xac, 0x02, 0x01, b'k', 0x01, b'v']);
    out.clear();
    encode_op_in(&mut out, 1, EntryKind::Tombstone, b"k", b"");
    assert_eq!(out, [0x80, 0x01, 0x01, b'k']);
    // Keyspace 0's ops are the bytes of format 4: a format-4 reader reads them.
    let b = batch(5, 0, &[(0, EntryKind::Put, b"a", b"1")]);
    assert_eq!(
        decode_batch(&b, 0, WalFormat::V4).unwrap(),
        decode_batch(&b, 0, WalFormat::V5).unwrap()
    );
}

fn corrupt(payload: &[u8], format: WalFormat) -> Error {
    let err = decode_batch(payload, 100, format).unwrap_err();
    assert!(matches!(err, Error::Corruption { .. }), "{err}");
    err
}

#[test]
fn bad_keyspace_ops_are_corruption() {
    let header = |out: &mut Vec<u8>| encode_batch_header(out, 5, 0, 1);
    let raw = |kind: u8, id: &[u8]| {
        let mut out = Vec::new();
        header(&mut out);
        out.push(kind);
        out.extend_from_slice(id);
        out.extend_from_slice(&[1, b'k', 1, b'v']);
        out
    };
    let at = 100 + 3; // the op, after a 3-byte header
                      // Good: put to keyspace 2.
    decode_batch(&raw(0x81, &[2]), 0, WalFormat::V5).unwrap();
    // The flag before format 5 is an unknown kind.
    for format in [WalFormat::V2, WalFormat::V3, WalFormat::V4] {
        let e = corrupt(&raw(0x81, &[2]), format);
        assert_eq!(e.offset(), Some(at), "{format:?}: {e}");
        assert!(e.to_string().contains("unknown op kind 129"), "{e}");
    }
    // Flag on an unknown kind.
    let e = corrupt(&raw(0x84, &[2]), WalFormat::V5);
    assert_eq!(e.offset(), Some(at));
    // Keyspace 0 named: one encoding per op.
    let e = corrupt(&raw(0x81, &[0]), WalFormat::V5);
    assert_eq!(e.offset(), Some(at + 1));
    assert!(e.to_string().contains("keyspace 0"), "{e}");
    // An id over the limit (2^31), and one over 32 bits.
    let e = corrupt(&raw(0x81, &[0x80, 0x80, 0x80, 0x80, 0x08]), WalFormat::V5);
    assert_eq!(e.offset(), Some(at + 1));
    assert!(e.to_string().contains("over the limit"), "{e}");
    corrupt(&raw(0x81, &[0xff, 0xff, 0xff, 0xff, 0x1f]), WalFormat::V5);
    // The largest id is fine.
    decode_batch(
        &raw(0x81, &[0xff, 0xff, 0xff, 0xff, 0x07]),
        0,
        WalFormat::V5,
    )
    .unwrap();
    // Truncated inside the id, and at every length of a good op.
    let good = raw(0x83, &[0xac, 0x02]);
    let mut good = good[..good.len() - 2].to_vec();
    lsm_format::coding::put_length_prefixed(&mut good, &[0; 9]);
    decode_batch(&good, 0, WalFormat::V5).unwrap();
    for cut in 0..good.len() {
        corrupt(&good[..cut], WalFormat::V5);
    }
    // The flag bit alone names a keyspace in format 5 only: `0x80` is a delete there.
    let mut del = Vec::new();
    header(&mut del);
    del.extend_from_slice(&[KEYSPACE_FLAG, 7, 1, b'k']);
    let b = decode_batch(&del, 0, WalFormat::V5).unwrap();
    assert_eq!(
        (b.ops[0].keyspace, b.ops[0].kind),
        (7, EntryKind::Tombstone)
    );
}

/// Every truncation of a certified format-5 WAL keeps a prefix of its batches; every
/// flipped byte is either a torn tail keeping the batches before the damage or
/// corruption at or before it, never a batch read differently.
#[test]
fn truncation_and_every_byte_flip_of_a_format_5_wal() {
    let (data, spans) = wal(&keyspace_batches(true));
    let good = replay_wal(&data).unwrap().batches;
    for cut in 0..=data.len() {
        let replay = replay_wal(&data[..cut]).unwrap();
        let complete = spans.iter().filter(|s| s.1 as usize <= cut).count();
        assert_eq!(replay.batches[..], good[..complete], "cut {cut}");
    }
    let last_region = spans[spans.len() - 2].1 as usize;
    let mut bad = data.clone();
    for p in 0..data.len() {
        for mask in [0xff, 0x01, 0x80] {
            bad[p] ^= mask;
            match replay_wal(&bad) {
                Ok(replay) => {
                    assert!(p >= last_region, "flip {mask:#x} at {p}: undetected");
                    let n = replay.batches.len();
                    assert_eq!(replay.batches[..], good[..n], "flip at {p}");
                    assert!(replay.torn_tail.is_some_and(|t| t as usize <= p));
                }
                Err(e) => {
                    assert!(e.is_corruption(), "flip at {p}: {e}");
                    assert!(e.offset().is_some_and(|o| o as usize <= p), "{p}: {e}");
                }
            }
            bad[p] ^= mask;
        }
    }
}

// ---------------------------------------------------------------------------
// Manifest format 3.

fn meta(keyspace: u32, file_number: u64, smallest: &str, largest: &str) -> SegmentMeta {
    SegmentMeta {
        keyspace,
        file_number,
        file_size: 4096 + file_number,
        smallest_key: Bytes::copy_from_slice(smallest.as_bytes()),
        largest_key: Bytes::copy_from_slice(largest.as_bytes()),
        smallest_seq: file_number * 10,
        largest_seq: file_number * 10 + 9,
        entry_count: 100,
        tombstone_count: 3,
        blob_refs: Vec::new(),
    }
}

fn del(keyspace: u32, level: u32, file_number: u64) -> DeletedSegment {
    DeletedSegment {
        keyspace,
        level,
        file_number,
    }
}

/// A format-3 history: a snapshot with keyspaces 1 `users` and 2 `logs`, an edit
/// that creates keyspace 3 `users-v2` with a segment and moves keyspace 1's log
/// number, and one that drops keyspace 1 with all its segments and creates a new
/// keyspace named `users` (a dropped name is free again).
fn history() -> Vec<VersionEdit> {
    vec![
        VersionEdit {
            format_version: Some(3),
            log_number: Some(4),
            next_file_number: Some(20),
            last_sequence: Some(500),
            next_keyspace_id: Some(3),
            added_keyspaces: vec![(1, "users".into()), (2, "logs".into())],
            keyspace_log_numbers: vec![(2, 6)],
            added_segments: vec![
                (0, meta(0, 9, "a", "m")),
                (1, meta(1, 10, "a", "z")),
                (2, meta(1, 11, "b", "c")),
                (1, meta(2, 12, "a", "z")),
            ],
            ..VersionEdit::default()
        },
        VersionEdit {
            next_file_number: Some(22),
            next_keyspace_id: Some(4),
            added_keyspaces: vec![(3, "users-v2".into())],
            added_segments: vec![(0, meta(3, 21, "k", "k"))],
            keyspace_log_numbers: vec![(1, 7)],
            ..VersionEdit::default()
        },
        VersionEdit {
            next_keyspace_id: Some(5),
            dropped_keyspaces: vec![1],
            deleted_segments: vec![del(1, 1, 10), del(1, 2, 11)],
            added_keyspaces: vec![(4, "users".into())],
            ..VersionEdit::default()
        },
    ]
}

/// The history framed as the engine writes it (each edit and a commit marker), the
/// (offset, end) of each record and the state after each.
fn build(edits: &[VersionEdit]) -> (Vec<u8>, Vec<(u64, u64)>, Vec<ManifestState>) {
    let mut w = LogWriter::new(0);
    let mut data = Vec::new();
    let mut spans = Vec::new();
    let mut states = Vec::new();
    let mut state = ManifestState::default();
    for edit in edits {
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        for record in [payload, Vec::new()] {
            let start = data.len() as u64;
            w.add_record(&record, &mut data);
            state
                .apply(&VersionEdit::decode(&record, 0).unwrap(), start)
                .unwrap();
            spans.push((start, data.len() as u64));
            states.push(state.clone());
        }
    }
    (data, spans, states)
}

/// What two states must share to describe the same database.
fn essence(s: &ManifestState) -> impl PartialEq + std::fmt::Debug {
    (
        s.levels.clone(),
        s.keyspaces.clone(),
        s.next_keyspace_id,
        s.log_number,
        s.next_file_number,
        s.last_sequence,
    )
}

#[test]
fn golden_bytes_of_a_format_3_manifest() {
    let (data, _, states) = build(&history());
    insta::assert_snapshot!(hex_dump(&data));
    let state = replay_manifest(&data).unwrap();
    assert_eq!(essence(&state), essence(states.last().unwrap()));
    let names: Vec<_> = state
        .keyspaces
        .iter()
        .map(|(&id, k)| (id, k.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [(0, "default"), (2, "logs"), (3, "users-v2"), (4, "users")]
    );
    assert_eq!(state.next_keyspace_id, 5);
    assert_eq!(state.keyspace_named("users"), Some(4));
    // Keyspace 1's segments are dead with it; the others stay where they were.
    assert!(state.is_obsolete(10) && state.is_obsolete(11));
    assert_eq!(state.keyspace_of(12), Some(2));
    let seg: Vec<_> = state
        .segments_of(3)
        .map(|(l, m)| (l, m.file_number))
        .collect();
    assert_eq!(seg, [(0, 21)]);
    // Log numbers: recorded for 2, the global one for the others.
    assert_eq!(state.keyspace_log_number(2), Some(6));
    assert_eq!(state.keyspace_log_number(0), Some(4));
    assert_eq!(state.keyspace_log_number(1), None);
    // The snapshot rewrites the same state.
    let (again, _, _) = build(&[state.snapshot_edit()]);
    let again = replay_manifest(&again).unwrap();
    assert_eq!(essence(&again), essence(&state));
    assert_eq!(again.snapshot_edit(), state.snapshot_edit());
}

#[test]
fn edit_layout_of_the_keyspace_records() {
    let edit = VersionEdit {
        next_keyspace_id: Some(2),
        deleted_segments: vec![del(1, 3, 300)],
        dropped_keyspaces: vec![1],
        added_keyspaces: vec![(2, "é".into())],
        added_segments: vec![(0, meta(2, 5, "", ""))],
        keyspace_log_numbers: vec![(2, 9)],
        ..VersionEdit::default()
    };
    let mut out = Vec::new();
    edit.encode(&mut out);
    assert_eq!(
        out,
        [
            10, 2, // next_keyspace_id 2
            11, 1, 3, 0xac, 0x02, // delete_segment_in keyspace 1, L3, file 300
            9, 1, // drop_keyspace 1
            8, 2, 2, 0xc3, 0xa9, // add_keyspace 2 "é"
            12, 2, 0, 5, 0x85, 0x20, 0, 0, 50, 59, 100, 3, // add_segment_in keyspace 2
            13, 2, 9, // keyspace_log_number 2: 9
        ]
    );
    assert_eq!(VersionEdit::decode(&out, 0).unwrap(), edit);
}

fn corrupt_edit(payload: &[u8]) -> Error {
    let err = VersionEdit::decode(payload, 50).unwrap_err();
    assert!(matches!(err, Error::Corruption { .. }), "{err}");
    err
}

#[test]
fn bad_keyspace_records_are_corruption() {
    corrupt_edit(&[11, 0, 0, 1]); // delete_segment_in naming keyspace 0
    corrupt_edit(&[12, 0, 0, 1]); // add_segment_in naming keyspace 0
    corrupt_edit(&[8, 0x80, 0x80, 0x80, 0x80, 0x08, 1, b'a']); // id 2^31
    corrupt_edit(&[9, 0x80, 0x80, 0x80, 0x80, 0x08]); // id 2^31
    corrupt_edit(&[13, 0x80, 0x80, 0x80, 0x80, 0x08, 1]); // id 2^31
    corrupt_edit(&[10, 0x81, 0x80, 0x80, 0x80, 0x08]); // next id 2^31 + 1
    VersionEdit::decode(&[10, 0x80, 0x80, 0x80, 0x80, 0x08], 0).unwrap(); // 2^31
    corrupt_edit(&[10, 1, 10, 2]); // next_keyspace_id twice
    let e = corrupt_edit(&[8, 1, 0]); // empty name
    assert_eq!(e.offset(), Some(52));
    corrupt_edit(&[8, 1, 1, 0xff]); // not UTF-8
    let mut long = vec![8, 1, 0x80, 0x02];
    long.extend_from_slice(&[b'a'; 256]);
    corrupt_edit(&long); // 256 bytes
    let mut longest = vec![8, 1, 0xff, 0x01];
    longest.extend_from_slice(&[b'a'; 255]);
    VersionEdit::decode(&longest, 0).unwrap();
    // Cut inside any field of any keyspace record.
    let mut out = Vec::new();
    history()[2].encode(&mut out);
    for cut in 1..out.len() {
        if VersionEdit::decode(&out[..cut], 0).is_ok() {
            // A cut between two records is a shorter valid edit.
            continue;
        }
        corrupt_edit(&out[..cut]);
    }
}

fn frame(edits: &[VersionEdit]) -> Vec<u8> {
    let mut w = LogWriter::new(0);
    let mut data = Vec::new();
    for e in edits {
        let mut payload = Vec::new();
        e.encode(&mut payload);
        w.add_record(&payload, &mut data);
    }
    data
}

/// Replays the format-3 snapshot of [`history`] then `edit`; the first violation.
fn after_snapshot(edit: VersionEdit) -> Result<ManifestState, String> {
    replay_manifest(&frame(&[history()[0].clone(), edit])).map_err(|e| e.to_string())
}

#[test]
fn replay_enforces_the_keyspace_rules() {
    let ok = |edit: VersionEdit| after_snapshot(edit).unwrap();
    let bad = |edit: VersionEdit, why: &str| {
        let e = after_snapshot(edit).unwrap_err();
        assert!(e.contains(why), "expected {why:?}: {e}");
    };
    // Creation: id 0, a used id, a live name (default included).
    bad(
        VersionEdit {
            added_keyspaces: vec![(0, "zero".into())],
            ..VersionEdit::default()
        },
        "below next_keyspace_id",
    );
    bad(
        VersionEdit {
            added_keyspaces: vec![(2, "again".into())],
            ..VersionEdit::default()
        },
        "below next_keyspace_id",
    );
    for name in ["users", "default"] {
        bad(
            VersionEdit {
                added_keyspaces: vec![(7, name.into())],
                ..VersionEdit::default()
            },
            "the name of live keyspace",
        );
    }
    // An id above next_keyspace_id is fine and moves it.
    assert_eq!(
        ok(VersionEdit {
            added_keyspaces: vec![(9, "nine".into())],
            ..VersionEdit::default()
        })
        .next_keyspace_id,
        10
    );
    // Drops: keyspace 0, one not live, one whose segments are left live.
    bad(
        VersionEdit {
            dropped_keyspaces: vec![0],
            ..VersionEdit::default()
        },
        "cannot be dropped",
    );
    bad(
        VersionEdit {
            dropped_keyspaces: vec![5],
            ..VersionEdit::default()
        },
        "not live",
    );
    bad(
        VersionEdit {
            dropped_keyspaces: vec![1],
            deleted_segments: vec![del(1, 1, 10)],
            ..VersionEdit::default()
        },
        "leaves 1 of its segments live",
    );
    // A drop with all its segments, and a drop and re-creation of the name.
    let state = ok(VersionEdit {
        dropped_keyspaces: vec![2],
        deleted_segments: vec![del(2, 1, 12)],
        added_keyspaces: vec![(3, "logs".into())],
        ..VersionEdit::default()
    });
    assert_eq!(state.keyspace_named("logs"), Some(3));
    // Segments: added to a keyspace not live, deleted from the wrong keyspace,
    // moved between keyspaces.
    bad(
        VersionEdit {
            added_segments: vec![(0, meta(5, 30, "a", "b"))],
            ..VersionEdit::default()
        },
        "keyspace 5, which is not live",
    );
    bad(
        VersionEdit {
            deleted_segments: vec![del(2, 1, 10)],
            ..VersionEdit::default()
        },
        "not live in level 1 of keyspace 2",
    );
    bad(
        VersionEdit {
            deleted_segments: vec![del(1, 1, 10)],
            added_segments: vec![(2, meta(2, 10, "a", "z"))],
            ..VersionEdit::default()
        },
        "moves segment 10 from keyspace 1 to keyspace 2",
    );
    // A move between levels within a keyspace is fine.
    assert_eq!(
        ok(VersionEdit {
            deleted_segments: vec![del(1, 1, 10)],
            added_segments: vec![(3, meta(1, 10, "a", "z"))],
            ..VersionEdit::default()
        })
        .level_of(10),
        Some(3)
    );
    // Log numbers of a keyspace not live; next_keyspace_id moving backwards.
    bad(
        VersionEdit {
            keyspace_log_numbers: vec![(6, 1)],
            ..VersionEdit::default()
        },
        "keyspace 6, which is not live",
    );
    bad(
        VersionEdit {
            next_keyspace_id: Some(2),
            ..VersionEdit::default()
        },
        "below 3",
    );
    // A segment added to a keyspace created by the same edit is fine.
    ok(VersionEdit {
        added_keyspaces: vec![(3, "new".into())],
        added_segments: vec![(0, meta(3, 30, "a", "b"))],
        ..VersionEdit::default()
    });
}

#[test]
fn keyspace_records_need_format_3() {
    for version in [1, 2] {
        let old = VersionEdit {
            format_version: Some(version),
            log_number: Some(1),
            ..VersionEdit::default()
        };
        for edit in [
            VersionEdit {
                added_keyspaces: vec![(1, "a".into())],
                ..VersionEdit::default()
            },
            VersionEdit {
                next_keyspace_id: Some(1),
                ..VersionEdit::default()
            },
            VersionEdit {
                keyspace_log_numbers: vec![(0, 1)],
                ..VersionEdit::default()
            },
        ] {
            let e = replay_manifest(&frame(&[old.clone(), edit])).unwrap_err();
            assert!(e.to_string().contains("format 3"), "{e}");
        }
        // Keyspace 0's records are those of the older formats.
        replay_manifest(&frame(&[
            old.clone(),
            VersionEdit {
                added_segments: vec![(0, meta(0, 3, "a", "b"))],
                ..VersionEdit::default()
            },
        ]))
        .unwrap();
    }
    // The lenient walk reports the violation and applies the rest.
    let walk = walk_manifest(&frame(&[
        VersionEdit {
            format_version: Some(2),
            ..VersionEdit::default()
        },
        VersionEdit {
            added_keyspaces: vec![(1, "a".into())],
            ..VersionEdit::default()
        },
    ]));
    assert_eq!(walk.violations.len(), 1);
}

/// Every cut of the history replays to the state after its last complete record;
/// every flipped byte is a torn tail (in the last record) or corruption at or
/// before it, never another state.
#[test]
fn truncation_and_every_byte_flip_of_a_format_3_manifest() {
    let (data, spans, states) = build(&history());
    for cut in 0..=data.len() {
        let complete = spans.iter().filter(|s| s.1 as usize <= cut).count();
        match replay_manifest(&data[..cut]) {
            Ok(state) => assert_eq!(essence(&state), essence(&states[complete - 1])),
            Err(e) => assert!(complete == 0 && e.is_corruption(), "cut {cut}: {e}"),
        }
    }
    let n = spans.len();
    let last_region = spans[n - 2].1 as usize;
    let mut bad = data.clone();
    for p in 0..data.len() {
        for mask in [0xff, 0x01, 0x10] {
            bad[p] ^= mask;
            match replay_manifest(&bad) {
                Ok(state) => {
                    assert!(p >= last_region, "flip {mask:#x} at {p}: undetected");
                    assert_eq!(essence(&state), essence(&states[n - 2]));
                }
                Err(e) => {
                    assert!(e.is_corruption(), "flip at {p}: {e}");
                    assert!(e.offset().is_some_and(|o| o as usize <= p), "{p}: {e}");
                }
            }
            bad[p] ^= mask;
        }
    }
}
