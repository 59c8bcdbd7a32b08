//! Opening databases written before keyspaces, and the keyspace rules of open.
//!
//! `fixtures/pre_keyspaces/` was written by the engine of the previous formats
//! (segment format 4, WAL format 4, manifest format 2): 100 puts `k000..k099`
//! flushed and compacted, 20 more puts, a delete of `k005`, a range delete
//! `[k010, k020)` and a put of `ttl` expiring in a century, flushed; then, left in
//! the WAL only, a put of `wal/a`, a delete of `k001`, a range delete `[k030, k040)`
//! and a put `k050 = rewritten`. Opening it must read all of it, and rewrite it in
//! the current formats as it goes: the manifest at open, the WAL's data into a new
//! segment at open, the old segments at their next compaction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsm_core::{Db, Options};
use lsm_format::log::LogWriter;
use lsm_format::manifest::{replay_manifest, ManifestState, VersionEdit};
use lsm_format::wal::{encode_batch_header, encode_op_in, replay_wal, start_wal, WalFormat};
use lsm_format::{EntryKind, SegmentReader};

fn fixture() -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pre_keyspaces");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// What the fixture holds, as the previous engine acknowledged it.
fn expected() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for i in 0..120 {
        let deleted = i == 1 || i == 5 || (10..20).contains(&i) || (30..40).contains(&i);
        if !deleted {
            m.insert(
                format!("k{i:03}").into_bytes(),
                format!("v{i}").into_bytes(),
            );
        }
    }
    m.insert(b"k050".to_vec(), b"rewritten".to_vec());
    m.insert(b"ttl".to_vec(), b"lives".to_vec());
    m.insert(b"wal/a".to_vec(), b"1".to_vec());
    m
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

fn segment_versions(dir: &Path) -> Vec<(u32, u32)> {
    files(dir, "seg")
        .iter()
        .map(|p| {
            let r =
                SegmentReader::open(std::fs::read(p).unwrap().into(), Default::default()).unwrap();
            (r.footer().format_version, r.properties().keyspace)
        })
        .collect()
}

fn manifest(dir: &Path) -> ManifestState {
    replay_manifest(&std::fs::read(dir.join("MANIFEST")).unwrap()).unwrap()
}

#[test]
fn a_database_of_the_previous_formats_opens_reads_right_and_is_rewritten() {
    let dir = fixture();
    // The fixture is what it claims to be.
    assert_eq!(manifest(dir.path()).format_version, 2);
    assert_eq!(segment_versions(dir.path()), [(4, 0), (4, 0)]);
    let wals = files(dir.path(), "wal");
    assert_eq!(wals.len(), 1);
    let old_wal = std::fs::read(&wals[0]).unwrap();
    assert_eq!(&old_wal[11..19], b"lsmwal\x04\x00");
    assert_eq!(replay_wal(&old_wal).unwrap().batches.len(), 4);

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(contents(&db), expected());
    // Open rewrote the manifest (the current format, keyspace 0 alone), flushed
    // the old WAL's data to a current-format segment and started a format-5 WAL.
    let state = manifest(dir.path());
    assert_eq!(state.format_version, lsm_format::FORMAT_VERSION);
    assert_eq!(state.keyspaces.len(), 1);
    assert_eq!(state.keyspaces[&0].name, "default");
    assert_eq!(state.next_keyspace_id, 1);
    let mut versions = segment_versions(dir.path());
    versions.sort_unstable();
    let current = lsm_format::SEGMENT_FORMAT_VERSION;
    assert_eq!(versions, [(4, 0), (4, 0), (current, 0)]);
    let wals = files(dir.path(), "wal");
    assert_eq!(wals.len(), 1);
    assert_eq!(&std::fs::read(&wals[0]).unwrap()[11..19], b"lsmwal\x05\x00");

    // New writes go to the new WAL; a full compaction rewrites every segment.
    db.put("after", "upgrade").unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    let mut want = expected();
    want.insert(b"after".to_vec(), b"upgrade".to_vec());
    assert_eq!(contents(&db), want);
    db.close().unwrap();
    assert!(segment_versions(dir.path())
        .iter()
        .all(|&v| v == (current, 0)));
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(contents(&db), want);
    db.close().unwrap();
}

/// Writes `edits` after the snapshot of the manifest in `dir` (as a new manifest:
/// the snapshot, then the edits, each followed by a commit marker).
fn rewrite_manifest(dir: &Path, edits: &[VersionEdit]) {
    let snapshot = manifest(dir).snapshot_edit();
    let mut state = ManifestState::default();
    let mut data = Vec::new();
    let mut log = LogWriter::new(0);
    for edit in std::iter::once(&snapshot).chain(edits) {
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        log.add_record(&payload, &mut data);
        log.add_record(&[], &mut data);
        state.apply(edit, 0).unwrap();
    }
    std::fs::write(dir.join("MANIFEST"), data).unwrap();
}

/// Writes WAL `number` in `dir` holding one batch of `ops` (keyspace, key).
fn write_wal(dir: &Path, number: u64, first_seq: u64, ops: &[(u32, &str)]) {
    let mut data = Vec::new();
    let mut log = start_wal(WalFormat::CURRENT, &mut data);
    let mut payload = Vec::new();
    encode_batch_header(&mut payload, first_seq, 0, ops.len() as u32);
    for (keyspace, key) in ops {
        encode_op_in(
            &mut payload,
            *keyspace,
            EntryKind::Put,
            key.as_bytes(),
            b"v",
        );
    }
    log.add_record(&payload, &mut data);
    std::fs::write(dir.join(format!("{number:06}.wal")), data).unwrap();
}

/// A closed database with one key (flushed by the close), and the number of its
/// WAL, which holds nothing and which open would replay.
fn closed_db() -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("base", "1").unwrap();
    db.close().unwrap();
    let wal = manifest(dir.path()).log_number;
    let path = dir.path().join(format!("{wal:06}.wal"));
    assert!(replay_wal(&std::fs::read(path).unwrap())
        .unwrap()
        .batches
        .is_empty());
    (dir, wal)
}

#[test]
fn wal_ops_of_a_dropped_keyspace_are_skipped_and_of_an_unknown_one_refused() {
    // Keyspace 1 created and dropped: its ops in a live WAL are gone with it.
    let (dir, wal) = closed_db();
    let state = manifest(dir.path());
    rewrite_manifest(
        dir.path(),
        &[
            VersionEdit {
                added_keyspaces: vec![(1, "gone".into())],
                ..VersionEdit::default()
            },
            VersionEdit {
                dropped_keyspaces: vec![1],
                ..VersionEdit::default()
            },
        ],
    );
    let seq = state.last_sequence + 1;
    write_wal(dir.path(), wal, seq, &[(0, "kept"), (1, "dropped")]);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let keys: Vec<_> = contents(&db).into_keys().collect();
    assert_eq!(keys, [b"base".to_vec(), b"kept".to_vec()]);
    db.close().unwrap();
    // The rewritten manifest remembers the id as used.
    assert_eq!(manifest(dir.path()).next_keyspace_id, 2);

    // Keyspace 2 was never created: corruption, and nothing changed.
    let (dir, wal) = closed_db();
    let seq = manifest(dir.path()).last_sequence + 1;
    write_wal(dir.path(), wal, seq, &[(0, "a"), (2, "b")]);
    let before = std::fs::read(dir.path().join("MANIFEST")).unwrap();
    let err = Db::open(dir.path(), Options::default()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("keyspace 2"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("MANIFEST")).unwrap(), before);
}

#[test]
fn a_manifest_with_another_live_keyspace_opens_it() {
    let (dir, _) = closed_db();
    rewrite_manifest(
        dir.path(),
        &[VersionEdit {
            added_keyspaces: vec![(1, "users".into())],
            ..VersionEdit::default()
        }],
    );
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.keyspace_names(), ["default", "users"]);
    let users = db.keyspace("users").unwrap();
    assert_eq!(users.iter().count(), 0);
    users.put("ada", "1").unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let users = db.keyspace("users").unwrap();
    assert_eq!(users.get("ada").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(manifest(dir.path()).next_keyspace_id, 2);
}
