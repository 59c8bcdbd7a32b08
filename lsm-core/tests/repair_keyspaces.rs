//! `repair` and keyspaces: a rebuilt manifest keeps the keyspace table of the
//! readable old one and places each listed segment in its keyspace (a salvaged one
//! rewritten in it); data of a keyspace other than 0 that only an unlisted file
//! holds is refused, not misplaced. The engine serves keyspace 0 alone, so the
//! keyspace records are written by hand in the current formats.

use std::path::Path;

use bytes::Bytes;
use lsm_core::{repair, Db, Options};
use lsm_format::log::LogWriter;
use lsm_format::manifest::{replay_manifest, ManifestState, VersionEdit};
use lsm_format::wal::{encode_batch_header, encode_op_in, start_wal, WalFormat};
use lsm_format::{EntryKind, ReadOptions, SegmentReader, SegmentWriter, WriterOptions};

fn manifest(dir: &Path) -> ManifestState {
    replay_manifest(&std::fs::read(dir.join("MANIFEST")).unwrap()).unwrap()
}

fn seg_path(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("{n:06}.seg"))
}

/// A closed database with keys in keyspace 0, then, by hand: keyspaces 1 `users`
/// (holding segment `n` in level 2, several data blocks) and 2 `tmp` (dropped), so
/// `next_keyspace_id` is 3. Returns the directory and `n`.
fn database() -> (tempfile::TempDir, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = Db::open(dir, Options::default()).unwrap();
    for i in 0..50 {
        db.put(format!("k{i:02}"), "v").unwrap();
    }
    db.close().unwrap();
    let old = manifest(dir);
    let n = old.next_file_number;
    let options = WriterOptions {
        keyspace: 1,
        block_size: 64,
        ..WriterOptions::default()
    };
    let mut w = SegmentWriter::new(Vec::new(), options);
    for i in 0..40u64 {
        w.add(
            format!("u{i:02}").as_bytes(),
            old.last_sequence + 1 + i,
            EntryKind::Put,
            b"user",
        )
        .unwrap();
    }
    let f = w.finish().unwrap();
    std::fs::write(seg_path(dir, n), &f.out).unwrap();
    let p = f.properties;
    let meta = lsm_format::manifest::SegmentMeta {
        keyspace: 1,
        file_number: n,
        file_size: f.file_size,
        smallest_key: p.smallest_key,
        largest_key: p.largest_key,
        smallest_seq: p.smallest_seq,
        largest_seq: p.largest_seq,
        entry_count: p.entry_count,
        tombstone_count: p.tombstone_count,
        blob_refs: Vec::new(),
    };
    let edits = [
        old.snapshot_edit(),
        VersionEdit {
            added_keyspaces: vec![(1, "users".into()), (2, "tmp".into())],
            added_segments: vec![(2, meta)],
            next_file_number: Some(n + 1),
            last_sequence: Some(old.last_sequence + 40),
            ..VersionEdit::default()
        },
        VersionEdit {
            dropped_keyspaces: vec![2],
            ..VersionEdit::default()
        },
    ];
    let mut data = Vec::new();
    let mut log = LogWriter::new(0);
    for e in &edits {
        let mut payload = Vec::new();
        e.encode(&mut payload);
        log.add_record(&payload, &mut data);
        log.add_record(&[], &mut data);
    }
    std::fs::write(dir.join("MANIFEST"), data).unwrap();
    (tmp, n)
}

/// Flips a byte in the second data block of segment `n`.
fn damage(dir: &Path, n: u64) {
    let mut data = std::fs::read(seg_path(dir, n)).unwrap();
    let reader = SegmentReader::open(Bytes::from(data.clone()), ReadOptions::default()).unwrap();
    let handle = reader.index_entries().unwrap()[1].handle;
    data[handle.offset as usize + 3] ^= 0x20;
    std::fs::write(seg_path(dir, n), data).unwrap();
}

#[test]
fn a_rebuilt_manifest_keeps_the_keyspaces_and_their_segments() {
    let (tmp, n) = database();
    let dir = tmp.path();
    damage(dir, n);
    let report = repair(dir, Options::default()).unwrap();
    assert!(!report.new_segments.is_empty(), "{report:?}");
    let state = manifest(dir);
    let names: Vec<_> = state
        .keyspaces
        .iter()
        .map(|(&id, k)| (id, k.name.clone()))
        .collect();
    assert_eq!(names, [(0, "default".into()), (1, "users".into())]);
    assert_eq!(state.next_keyspace_id, 3);
    // The salvaged segment was rewritten in keyspace 1, at its level, and says so.
    let users: Vec<_> = state.segments_of(1).collect();
    assert!(!users.is_empty());
    for (level, m) in users {
        assert_eq!(level, 2);
        let bytes = std::fs::read(seg_path(dir, m.file_number)).unwrap();
        let r = SegmentReader::open(Bytes::from(bytes), ReadOptions::default()).unwrap();
        assert_eq!(r.properties().keyspace, 1);
    }
    // Keyspace 0's segments stay keyspace 0's.
    assert!(state.segments_of(0).count() > 0);
}

#[test]
fn unlisted_data_of_another_keyspace_is_refused() {
    let (tmp, _) = database();
    let dir = tmp.path();
    // A live WAL holding an op of keyspace 1.
    let state = manifest(dir);
    let mut data = Vec::new();
    let mut log = start_wal(WalFormat::CURRENT, &mut data);
    let mut payload = Vec::new();
    encode_batch_header(&mut payload, state.last_sequence + 1, 0, 1);
    encode_op_in(&mut payload, 1, EntryKind::Put, b"u99", b"late");
    log.add_record(&payload, &mut data);
    std::fs::write(dir.join(format!("{:06}.wal", state.log_number)), data).unwrap();
    let before = std::fs::read(dir.join("MANIFEST")).unwrap();
    let err = repair(dir, Options::default()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("keyspace 1"), "{err}");
    assert_eq!(std::fs::read(dir.join("MANIFEST")).unwrap(), before);
}
