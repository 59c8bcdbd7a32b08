//! Manifest records (`docs/format.md` section 6) and the manifest replay rule: golden
//! bytes, edit round trips, the live-set rules, snapshots, truncation at every length
//! and every single-byte / single-bit flip.

use bytes::Bytes;
use lsm_format::keyspace::MAX_KEYSPACE_ID;
use lsm_format::log::{LogDamageKind, LogWriter, LOG_BLOCK_SIZE};
use lsm_format::manifest::{
    replay_manifest, BlobFileMeta, BlobRef, DeletedSegment, ManifestState, SegmentMeta,
    VersionEdit, MAX_LEVELS,
};
use lsm_format::{Error, MAX_KEY_LEN};
use proptest::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn meta(file_number: u64, smallest: &str, largest: &str) -> SegmentMeta {
    SegmentMeta {
        keyspace: 0,
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

/// A manifest built by the test: the bytes, each record's (offset, end), and the
/// state after each record.
struct Manifest {
    data: Vec<u8>,
    spans: Vec<(u64, u64)>,
    states: Vec<ManifestState>,
}

/// Writes `edits` as the spec's writer does: each edit followed by an empty commit
/// marker.
fn build(edits: &[VersionEdit]) -> Manifest {
    let mut w = LogWriter::new(0);
    let mut data = Vec::new();
    let mut spans = Vec::new();
    let mut states = Vec::new();
    let mut state = ManifestState::default();
    for edit in edits {
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        for record in [payload, Vec::new()] {
            let before = data.len();
            w.add_record(&record, &mut data);
            let left = LOG_BLOCK_SIZE - before % LOG_BLOCK_SIZE;
            let start = if left < 11 { before + left } else { before };
            let decoded = VersionEdit::decode(&record, 0).unwrap();
            state.apply(&decoded, start as u64).unwrap();
            spans.push((start as u64, data.len() as u64));
            states.push(state.clone());
        }
    }
    Manifest {
        data,
        spans,
        states,
    }
}

/// Levels and counters: what two states must share to be the same database state.
fn essence(s: &ManifestState) -> (Vec<Vec<SegmentMeta>>, u64, u64, u64) {
    (
        s.levels.clone(),
        s.log_number,
        s.next_file_number,
        s.last_sequence,
    )
}

fn snapshot() -> VersionEdit {
    VersionEdit {
        format_version: Some(1),
        log_number: Some(7),
        next_file_number: Some(12),
        last_sequence: Some(1000),
        added_segments: vec![(0, meta(9, "apple", "melon")), (1, meta(4, "a", "z"))],
        ..VersionEdit::default()
    }
}

fn change() -> VersionEdit {
    VersionEdit {
        log_number: Some(11),
        next_file_number: Some(14),
        last_sequence: Some(1500),
        deleted_segments: vec![(0, 9).into()],
        added_segments: vec![(1, meta(13, "", "\u{ff}"))],
        ..VersionEdit::default()
    }
}

fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:08x}  {}\n", i * 16, hex.join(" ")));
    }
    out
}

#[test]
fn golden_bytes_of_a_snapshot_and_a_change() {
    let m = build(&[snapshot(), change()]);
    insta::assert_snapshot!(hex_dump(&m.data));
    let state = replay_manifest(&m.data).unwrap();
    assert_eq!(state.record_count, 4);
    assert_eq!(
        (
            state.log_number,
            state.next_file_number,
            state.last_sequence
        ),
        (11, 14, 1500)
    );
    assert_eq!(state.levels[0], vec![]);
    assert_eq!(
        state.levels[1],
        vec![meta(4, "a", "z"), meta(13, "", "\u{ff}")]
    );
    assert_eq!(state.level_of(13), Some(1));
    assert_eq!(state.level_of(9), None);
    assert_eq!(
        (state.torn_tail, state.clean_len),
        (None, m.data.len() as u64)
    );
    assert_eq!(essence(&state), essence(m.states.last().unwrap()));
}

/// Format 2: a snapshot that carries a segment recorded dead (tag 7), then a change
/// that deletes a live one. Format 1 files (above) are still read.
#[test]
fn golden_bytes_of_format_2_with_an_obsolete_segment() {
    let first = VersionEdit {
        format_version: Some(2),
        obsolete_segments: vec![3],
        ..snapshot()
    };
    let m = build(&[first, change()]);
    insta::assert_snapshot!(hex_dump(&m.data));
    let state = replay_manifest(&m.data).unwrap();
    // 3 was carried over as dead; 9 was deleted by the change.
    assert_eq!(state.obsolete.iter().copied().collect::<Vec<_>>(), [3, 9]);
    assert!(state.is_obsolete(9) && !state.is_obsolete(4));
    let rewritten = replay_manifest(&build(&[state.snapshot_edit()]).data).unwrap();
    assert_eq!(rewritten.obsolete, state.obsolete);
    let mut pruned = state.clone();
    pruned.forget_obsolete(|n| n == 3);
    assert_eq!(pruned.snapshot_edit().obsolete_segments, [9]);
}

#[test]
fn obsolete_segments_follow_the_live_set_rules() {
    let first = enc(&VersionEdit {
        format_version: Some(2),
        ..snapshot()
    });
    // Naming a live segment obsolete is corruption.
    let live = enc(&VersionEdit {
        obsolete_segments: vec![4],
        ..VersionEdit::default()
    });
    let err = replay_manifest(&frame(&[first.clone(), live])).unwrap_err();
    assert!(err.to_string().contains("obsolete"), "{err}");
    // A number recorded dead is never added again (numbers are not reused)...
    let dead = enc(&VersionEdit {
        deleted_segments: vec![(0, 9).into()],
        ..VersionEdit::default()
    });
    let back = enc(&VersionEdit {
        added_segments: vec![(2, meta(9, "a", "b"))],
        ..VersionEdit::default()
    });
    let err = replay_manifest(&frame(&[first.clone(), dead.clone(), back])).unwrap_err();
    assert!(err.to_string().contains("recorded dead"), "{err}");
    // ...but a move (deleted and added back by one edit) keeps the file live.
    let moved = enc(&VersionEdit {
        deleted_segments: vec![(0, 9).into()],
        added_segments: vec![(3, meta(9, "apple", "melon"))],
        ..VersionEdit::default()
    });
    let state = replay_manifest(&frame(&[first.clone(), moved])).unwrap();
    assert_eq!((state.level_of(9), state.is_obsolete(9)), (Some(3), false));
    // Format 5 is not read.
    let future = enc(&VersionEdit {
        format_version: Some(5),
        ..snapshot()
    });
    assert!(matches!(
        replay_manifest(&frame(&[future])),
        Err(Error::UnsupportedVersion { found: 5, .. })
    ));
}

#[test]
fn edit_layout() {
    let edit = VersionEdit {
        format_version: Some(1),
        deleted_segments: vec![(3, 300).into()],
        ..VersionEdit::default()
    };
    let mut out = Vec::new();
    edit.encode(&mut out);
    // tag 1, version 1, tag 5, level 3, file 300 as a varint.
    assert_eq!(out, vec![1, 1, 5, 3, 0xac, 0x02]);
    assert_eq!(VersionEdit::decode(&out, 0).unwrap(), edit);
    assert_eq!(VersionEdit::decode(&[], 0).unwrap(), VersionEdit::default());
}

fn corrupt(payload: &[u8]) -> Error {
    let err = VersionEdit::decode(payload, 50).unwrap_err();
    assert!(matches!(err, Error::Corruption { .. }), "{err}");
    assert!(err.offset().unwrap() >= 50);
    err
}

#[test]
fn bad_edits_are_corruption() {
    assert_eq!(corrupt(&[17, 0]).offset(), Some(50)); // unknown tag
    corrupt(&[7, 0x80]); // obsolete_segment cut inside its number
    corrupt(&[0]); // tag 0 is not a tag either
    corrupt(&[5, 16, 1]); // level 16
    corrupt(&[2, 1, 2, 1]); // log_number twice
    corrupt(&[2, 0x80]); // truncated varint
    corrupt(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]); // tag beyond varint32
                                                    // An add cut inside any of its fields.
    let mut out = Vec::new();
    VersionEdit {
        added_segments: vec![(2, meta(5, "k1", "k2"))],
        ..Default::default()
    }
    .encode(&mut out);
    for cut in 1..out.len() {
        corrupt(&out[..cut]);
    }
    // A key over the limit.
    let mut long = vec![6, 0, 1, 1];
    lsm_format::coding::put_length_prefixed(&mut long, &vec![b'k'; MAX_KEY_LEN + 1]);
    corrupt(&long);
}

/// Frames raw payloads as a log.
fn frame(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut w = LogWriter::new(0);
    let mut data = Vec::new();
    for p in payloads {
        w.add_record(p, &mut data);
    }
    data
}

fn enc(edit: &VersionEdit) -> Vec<u8> {
    let mut out = Vec::new();
    edit.encode(&mut out);
    out
}

#[test]
fn replay_enforces_the_first_record_and_the_live_set_rules() {
    let first = enc(&snapshot());
    assert!(replay_manifest(&frame(std::slice::from_ref(&first))).is_ok());
    // No record at all, or a first record without the version.
    assert!(replay_manifest(&[]).unwrap_err().is_corruption());
    assert!(replay_manifest(&frame(&[enc(&change())]))
        .unwrap_err()
        .is_corruption());
    // A version this build does not read (0, or one above its own).
    for found in [0, lsm_format::FORMAT_VERSION + 1] {
        let other = VersionEdit {
            format_version: Some(found),
            ..snapshot()
        };
        let err = replay_manifest(&frame(&[enc(&other)])).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedVersion { found: f, supported } if f == found && supported == lsm_format::FORMAT_VERSION),
            "{err}"
        );
    }
    // The version again in a later record.
    let again = VersionEdit {
        format_version: Some(1),
        ..VersionEdit::default()
    };
    let err = replay_manifest(&frame(&[first.clone(), enc(&again)])).unwrap_err();
    assert_eq!(err.offset(), Some(first.len() as u64 + 11));
    let bad_edits = [
        // Deleting a segment that is not live, or live in another level.
        VersionEdit {
            deleted_segments: vec![(0, 77).into()],
            ..Default::default()
        },
        VersionEdit {
            deleted_segments: vec![(1, 9).into()],
            ..Default::default()
        },
        // Deleting twice.
        VersionEdit {
            deleted_segments: vec![(0, 9).into(), (0, 9).into()],
            ..Default::default()
        },
        // Adding a live segment, in its level or another.
        VersionEdit {
            added_segments: vec![(0, meta(9, "a", "b"))],
            ..Default::default()
        },
        VersionEdit {
            added_segments: vec![(5, meta(4, "a", "b"))],
            ..Default::default()
        },
        // Adding the same new segment twice.
        VersionEdit {
            added_segments: vec![(2, meta(20, "a", "b")), (3, meta(20, "a", "b"))],
            ..Default::default()
        },
    ];
    for edit in bad_edits {
        let err = replay_manifest(&frame(&[first.clone(), enc(&edit)])).unwrap_err();
        assert!(err.is_corruption(), "{edit:?}");
    }
    // Deletions apply before additions: moving a segment to another level is fine.
    let mv = VersionEdit {
        deleted_segments: vec![(0, 9).into()],
        added_segments: vec![(MAX_LEVELS as u32 - 1, meta(9, "apple", "melon"))],
        ..Default::default()
    };
    let state = replay_manifest(&frame(&[first.clone(), enc(&mv), vec![]])).unwrap();
    assert_eq!(state.level_of(9), Some(15));
    assert_eq!(state.live_count(), 2);
    assert_eq!(state.record_count, 3);
    // An undecodable record that passes its checksum is corruption, even last.
    assert!(replay_manifest(&frame(&[first, vec![9, 9, 9]]))
        .unwrap_err()
        .is_corruption());
}

#[test]
fn snapshot_edit_rewrites_the_same_state() {
    let m = build(&[snapshot(), change(), change_two()]);
    let state = replay_manifest(&m.data).unwrap();
    let rewritten = build(&[state.snapshot_edit()]);
    let again = replay_manifest(&rewritten.data).unwrap();
    assert_eq!(essence(&again), essence(&state));
    assert_eq!(again.snapshot_edit(), state.snapshot_edit());
    assert_eq!(
        state.snapshot_edit().format_version,
        Some(lsm_format::FORMAT_VERSION)
    );
}

fn change_two() -> VersionEdit {
    VersionEdit {
        deleted_segments: vec![(1, 4).into()],
        added_segments: vec![(2, meta(14, "b", "c")), (0, meta(15, "d", "e"))],
        next_file_number: Some(16),
        ..VersionEdit::default()
    }
}

/// `n` random edits after a snapshot, each valid against the state so far: adds of
/// new files, deletions of live ones, moves between levels.
fn random_edits(seed: u64, n: usize, key_len: usize) -> Vec<VersionEdit> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut live: Vec<(u32, u64)> = Vec::new();
    let mut next_file = 1;
    let mut seq = 0;
    let key = |rng: &mut StdRng| {
        let k: String = (0..rng.gen_range(0..=key_len))
            .map(|_| rng.gen_range('a'..='z'))
            .collect();
        k
    };
    let mut edits = Vec::new();
    for i in 0..=n {
        let mut edit = VersionEdit::default();
        if i == 0 {
            edit.format_version = Some(1);
        }
        // Deletions apply before additions, so only files live before this edit
        // may be deleted by it.
        let mut added = Vec::new();
        for _ in 0..rng.gen_range(0..4) {
            match rng.gen_range(0..3) {
                0 | 1 => {
                    let level = rng.gen_range(0..MAX_LEVELS as u32);
                    let mut keys = [key(&mut rng), key(&mut rng)];
                    keys.sort();
                    let m = meta(next_file, &keys[0], &keys[1]);
                    edit.added_segments.push((level, m));
                    added.push((level, next_file));
                    next_file += 1;
                }
                _ if !live.is_empty() => {
                    let (level, file) = live.swap_remove(rng.gen_range(0..live.len()));
                    edit.deleted_segments.push((level, file).into());
                    if rng.gen_bool(0.3) {
                        // A move: the same file, added back at another level.
                        let to = (level + 1) % MAX_LEVELS as u32;
                        edit.added_segments.push((to, meta(file, "m", "n")));
                        added.push((to, file));
                    }
                }
                _ => {}
            }
        }
        live.extend(added);
        seq += rng.gen_range(0..100u64);
        edit.last_sequence = Some(seq);
        edit.next_file_number = Some(next_file);
        if rng.gen_bool(0.3) || i == 0 {
            edit.log_number = Some(next_file.saturating_sub(1));
        }
        edits.push(edit);
    }
    edits
}

#[test]
fn truncation_at_every_length() {
    let m = build(&random_edits(1, 25, 20));
    for cut in 0..=m.data.len() {
        let complete = m.spans.iter().filter(|s| s.1 <= cut as u64).count();
        match replay_manifest(&m.data[..cut]) {
            Ok(state) => {
                assert!(complete > 0);
                assert_eq!(
                    essence(&state),
                    essence(&m.states[complete - 1]),
                    "cut {cut}"
                );
                assert_eq!(state.record_count, complete as u64);
                assert_eq!(
                    state.torn_tail.is_some(),
                    cut as u64 > m.spans[complete - 1].1,
                    "cut {cut}"
                );
            }
            Err(err) => {
                assert_eq!(complete, 0, "cut {cut}: {err}");
                assert!(err.is_corruption());
            }
        }
    }
}

#[test]
fn zero_tails_are_torn_tails() {
    let m = build(&random_edits(2, 25, 20));
    for zeros in [1, 11, 700, LOG_BLOCK_SIZE] {
        let mut data = m.data.clone();
        data.resize(data.len() + zeros, 0);
        let state = replay_manifest(&data).unwrap();
        assert_eq!(essence(&state), essence(m.states.last().unwrap()));
        assert_eq!(state.torn_tail, Some(m.data.len() as u64));
        assert_eq!(state.torn_kind, Some(LogDamageKind::Zeroed));
    }
    // The last edit and its marker zeroed, as a crash after a size update leaves them.
    let mut data = m.data.clone();
    let start = m.spans[m.spans.len() - 2].0 as usize;
    data[start..].fill(0);
    let state = replay_manifest(&data).unwrap();
    assert_eq!(essence(&state), essence(&m.states[m.spans.len() - 3]));
}

/// Flips `mask` into each byte in turn: damage in the last record (or the padding
/// before it) is a torn tail that keeps exactly the records before it; any other
/// damage is corruption at or before the flipped byte.
fn check_flips(m: &Manifest, positions: impl Iterator<Item = usize>, mask: u8) {
    let n = m.spans.len();
    let last_region = m.spans[n - 2].1 as usize;
    let mut data = m.data.clone();
    for p in positions {
        data[p] ^= mask;
        let context = format!("flip {mask:#04x} at {p}");
        match replay_manifest(&data) {
            Ok(state) => {
                assert!(p >= last_region, "{context}: undetected corruption");
                assert_eq!(essence(&state), essence(&m.states[n - 2]), "{context}");
                assert!(state.torn_tail.is_some(), "{context}");
            }
            Err(err) => {
                assert!(p < last_region, "{context}: {err}");
                assert!(matches!(err, Error::Corruption { .. }), "{context}: {err}");
                assert!(err.offset().unwrap() as usize <= p, "{context}: {err}");
            }
        }
        data[p] ^= mask;
    }
}

#[test]
fn every_byte_and_bit_flip_in_a_one_block_manifest() {
    let m = build(&random_edits(3, 25, 12));
    assert!(m.data.len() < LOG_BLOCK_SIZE && m.spans.len() == 52);
    check_flips(&m, 0..m.data.len(), 0xff);
    for bit in 0..8 {
        check_flips(&m, 0..m.data.len(), 1 << bit);
    }
}

#[test]
fn every_byte_flip_in_a_multi_block_manifest() {
    let m = build(&random_edits(4, 25, 3000));
    assert!(m.data.len() > 2 * LOG_BLOCK_SIZE, "{}", m.data.len());
    check_flips(&m, 0..m.data.len(), 0xff);
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Keyspace ids: 0 most often, small ones, and the largest allowed.
fn keyspace_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), 1..300u32, Just(MAX_KEYSPACE_ID)]
}

fn meta_strategy() -> impl Strategy<Value = SegmentMeta> {
    let key = proptest::collection::vec(any::<u8>(), 0..30).prop_map(Bytes::from);
    let refs = proptest::collection::btree_map(any::<u64>(), any::<u64>(), 0..4).prop_map(|m| {
        m.into_iter()
            .map(|(blob_file, value_bytes)| BlobRef {
                blob_file,
                value_bytes,
            })
            .collect::<Vec<_>>()
    });
    (
        any::<[u64; 7]>(),
        key.clone(),
        key,
        keyspace_strategy(),
        refs,
    )
        .prop_map(|(n, a, b, k, r)| SegmentMeta {
            keyspace: k,
            file_number: n[0],
            file_size: n[1],
            smallest_key: a,
            largest_key: b,
            smallest_seq: n[2],
            largest_seq: n[3],
            entry_count: n[4],
            tombstone_count: n[5] >> (n[6] % 64),
            blob_refs: r,
        })
}

fn edit_strategy() -> impl Strategy<Value = VersionEdit> {
    let level = 0..MAX_LEVELS as u32;
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(
            (keyspace_strategy(), level.clone(), any::<u64>()).prop_map(|(k, l, n)| {
                DeletedSegment {
                    keyspace: k,
                    level: l,
                    file_number: n,
                }
            }),
            0..5,
        ),
        proptest::collection::vec((level, meta_strategy()), 0..5),
        proptest::collection::vec(any::<u64>(), 0..3),
        (
            proptest::collection::vec((keyspace_strategy(), "[a-zé ]{1,12}"), 0..3),
            proptest::collection::vec(keyspace_strategy(), 0..3),
            proptest::option::of(0..=MAX_KEYSPACE_ID + 1),
            proptest::collection::vec((keyspace_strategy(), any::<u64>()), 0..3),
        ),
        (
            proptest::collection::vec(
                (keyspace_strategy(), any::<[u64; 4]>()).prop_map(|(k, n)| BlobFileMeta {
                    keyspace: k,
                    file_number: n[0],
                    file_size: n[1],
                    record_count: n[2],
                    value_bytes: n[3],
                }),
                0..3,
            ),
            proptest::collection::vec(any::<u64>(), 0..3),
        ),
    )
        .prop_map(
            |(v, l, f, s, d, a, o, (ka, kd, kn, kl), (ba, bd))| VersionEdit {
                format_version: v,
                log_number: l,
                next_file_number: f,
                last_sequence: s,
                deleted_segments: d,
                added_segments: a,
                obsolete_segments: o,
                added_keyspaces: ka,
                dropped_keyspaces: kd,
                next_keyspace_id: kn,
                keyspace_log_numbers: kl,
                added_blob_files: ba,
                deleted_blob_files: bd,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn random_edits_round_trip(edit in edit_strategy()) {
        let bytes = enc(&edit);
        prop_assert_eq!(VersionEdit::decode(&bytes, 0).unwrap(), edit);
    }

    #[test]
    fn random_histories_replay_to_the_model_and_rewrite_to_the_same_state(
        seed in any::<u64>(),
        n in 0usize..40,
    ) {
        let m = build(&random_edits(seed, n, 16));
        let state = replay_manifest(&m.data).unwrap();
        prop_assert_eq!(essence(&state), essence(m.states.last().unwrap()));
        prop_assert_eq!(state.record_count, m.spans.len() as u64);
        let rewritten = replay_manifest(&build(&[state.snapshot_edit()]).data).unwrap();
        prop_assert_eq!(essence(&rewritten), essence(&state));
    }
}

/// The lenient walk the tools use collects every violation and applies the rest;
/// the strict replay fails with its first.
#[test]
fn the_lenient_walk_collects_every_violation_and_applies_the_rest() {
    use lsm_format::manifest::walk_manifest;
    let first = enc(&snapshot());
    let bad_delete = enc(&VersionEdit {
        deleted_segments: vec![(0, 77).into()],
        log_number: Some(20),
        ..VersionEdit::default()
    });
    let bad_add = enc(&VersionEdit {
        added_segments: vec![(1, meta(4, "a", "z")), (2, meta(30, "b", "c"))],
        ..VersionEdit::default()
    });
    let data = frame(&[first, bad_delete, bad_add]);
    let walk = walk_manifest(&data);
    assert_eq!(walk.records.len(), 3);
    assert_eq!(walk.violations.len(), 2, "{:?}", walk.violations);
    assert_eq!(walk.state.log_number, 20);
    assert_eq!(walk.state.level_of(30), Some(2));
    assert_eq!(walk.state.level_of(4), Some(1));
    let strict = replay_manifest(&data).unwrap_err();
    assert_eq!(strict.to_string(), walk.violations[0].to_string());
}
