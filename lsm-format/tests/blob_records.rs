//! Blob files in the manifest (format 4, `docs/format.md` section 6): the layout
//! of tags 14 to 16, every replay rule they add, the accounting of how live
//! segments point into each blob file, and a rewrite (snapshot) that keeps them.

use bytes::Bytes;
use lsm_format::log::LogWriter;
use lsm_format::manifest::{
    replay_manifest, BlobFileMeta, BlobRef, BlobUse, DeletedSegment, SegmentMeta, VersionEdit,
};
use lsm_format::Error;

fn blob(keyspace: u32, file_number: u64, value_bytes: u64) -> BlobFileMeta {
    BlobFileMeta {
        keyspace,
        file_number,
        file_size: value_bytes + 100,
        record_count: 3,
        value_bytes,
    }
}

fn segment(keyspace: u32, file_number: u64, refs: &[(u64, u64)]) -> SegmentMeta {
    SegmentMeta {
        keyspace,
        file_number,
        file_size: 4096,
        smallest_key: Bytes::from_static(b"a"),
        largest_key: Bytes::from_static(b"z"),
        smallest_seq: 1,
        largest_seq: 9,
        entry_count: 5,
        tombstone_count: 0,
        blob_refs: refs
            .iter()
            .map(|&(blob_file, value_bytes)| BlobRef {
                blob_file,
                value_bytes,
            })
            .collect(),
    }
}

fn enc(edit: &VersionEdit) -> Vec<u8> {
    let mut out = Vec::new();
    edit.encode(&mut out);
    out
}

fn frame(edits: &[VersionEdit]) -> Vec<u8> {
    let mut w = LogWriter::new(0);
    let mut data = Vec::new();
    for e in edits {
        w.add_record(&enc(e), &mut data);
    }
    data
}

/// A format-4 manifest's first record: keyspace 1 exists.
fn first() -> VersionEdit {
    VersionEdit {
        format_version: Some(4),
        log_number: Some(1),
        next_file_number: Some(100),
        last_sequence: Some(10),
        next_keyspace_id: Some(2),
        added_keyspaces: vec![(1, "big".into())],
        ..VersionEdit::default()
    }
}

/// A flush of keyspace 1: blob files 20 and 21, segment 22 pointing into both.
fn flush() -> VersionEdit {
    VersionEdit {
        added_blob_files: vec![blob(1, 20, 9000), blob(1, 21, 5000)],
        added_segments: vec![(0, segment(1, 22, &[(20, 9000), (21, 5000)]))],
        ..VersionEdit::default()
    }
}

fn replay(edits: &[VersionEdit]) -> Result<lsm_format::manifest::ManifestState, String> {
    replay_manifest(&frame(edits)).map_err(|e| e.to_string())
}

#[test]
fn layout_of_the_blob_file_records() {
    let edit = VersionEdit {
        deleted_blob_files: vec![300],
        added_blob_files: vec![BlobFileMeta {
            keyspace: 2,
            file_number: 7,
            file_size: 200,
            record_count: 3,
            value_bytes: 150,
        }],
        added_segments: vec![(1, segment(2, 8, &[(7, 150)]))],
        ..VersionEdit::default()
    };
    let out = enc(&edit);
    // tag 15, file 300; tag 14, keyspace 2, file 7, size 200 (2 bytes), 3 records,
    // 150 value bytes (2 bytes); then tag 12 (the segment)...
    assert_eq!(
        &out[..13],
        &[15, 0xac, 0x02, 14, 2, 7, 0xc8, 0x01, 3, 0x96, 0x01, 12, 2]
    );
    // ...and right after it tag 16: segment 8, one reference, blob 7, 150 bytes.
    assert_eq!(&out[out.len() - 6..], &[16, 8, 1, 7, 0x96, 0x01]);
    assert_eq!(VersionEdit::decode(&out, 0).unwrap(), edit);
    assert!(edit.uses_blob_files());
    assert!(!first().uses_blob_files());
}

fn corrupt_edit(payload: &[u8]) -> Error {
    let err = VersionEdit::decode(payload, 50).unwrap_err();
    assert!(matches!(err, Error::Corruption { .. }), "{err}");
    err
}

#[test]
fn bad_blob_records_are_corruption() {
    // Tag 16 with no segment added before it.
    corrupt_edit(&[16, 8, 1, 7, 1]);
    let seg = enc(&VersionEdit {
        added_segments: vec![(0, segment(0, 8, &[]))],
        ..VersionEdit::default()
    });
    let with = |tail: &[u8]| [seg.as_slice(), tail].concat();
    // Tag 16 of another segment than the last added.
    corrupt_edit(&with(&[16, 9, 1, 7, 1]));
    // No reference, or references out of order, or repeated.
    corrupt_edit(&with(&[16, 8, 0]));
    corrupt_edit(&with(&[16, 8, 2, 7, 1, 6, 1]));
    corrupt_edit(&with(&[16, 8, 2, 7, 1, 7, 1]));
    // Given twice.
    corrupt_edit(&with(&[16, 8, 1, 7, 1, 16, 8, 1, 9, 1]));
    // Cut inside a field.
    corrupt_edit(&with(&[16, 8, 1, 7]));
    corrupt_edit(&[14, 1, 7, 200]);
    corrupt_edit(&[15, 0x80]);
    // The well-formed record decodes.
    let ok = VersionEdit::decode(&with(&[16, 8, 1, 7, 1]), 0).unwrap();
    assert_eq!(ok.added_segments[0].1.blob_refs.len(), 1);
}

#[test]
fn live_segments_account_for_the_blob_files_they_point_into() {
    let state = replay(&[first(), flush()]).unwrap();
    assert_eq!(state.blob_files.len(), 2);
    assert_eq!(
        state.blob_use(20),
        BlobUse {
            segments: 1,
            value_bytes: 9000
        }
    );
    // Compaction: segment 22 becomes 23 (still into 20, 4000 bytes of it) and 24
    // (into 20 and 21); a move of 24 to level 2 in a later edit changes nothing.
    let compact = VersionEdit {
        deleted_segments: vec![DeletedSegment {
            keyspace: 1,
            level: 0,
            file_number: 22,
        }],
        added_segments: vec![
            (1, segment(1, 23, &[(20, 4000)])),
            (1, segment(1, 24, &[(20, 1000), (21, 5000)])),
        ],
        ..VersionEdit::default()
    };
    let moved = VersionEdit {
        deleted_segments: vec![DeletedSegment {
            keyspace: 1,
            level: 1,
            file_number: 24,
        }],
        added_segments: vec![(2, segment(1, 24, &[(20, 1000), (21, 5000)]))],
        ..VersionEdit::default()
    };
    let state = replay(&[first(), flush(), compact.clone(), moved.clone()]).unwrap();
    assert_eq!(
        state.blob_use(20),
        BlobUse {
            segments: 2,
            value_bytes: 5000
        }
    );
    assert_eq!(state.blob_use(21).segments, 1);
    assert_eq!(state.unreferenced_blob_files().count(), 0);
    // The last pointer into 21 goes: the same edit deletes it; 20 lives on.
    let rewrite = VersionEdit {
        deleted_segments: vec![DeletedSegment {
            keyspace: 1,
            level: 2,
            file_number: 24,
        }],
        added_segments: vec![(2, segment(1, 25, &[(20, 1000)]))],
        deleted_blob_files: vec![21],
        ..VersionEdit::default()
    };
    let state = replay(&[first(), flush(), compact, moved, rewrite]).unwrap();
    assert!(!state.blob_files.contains_key(&21));
    assert!(
        state.is_obsolete(21),
        "a deleted blob file is recorded dead"
    );
    assert_eq!(state.blob_use(20).segments, 2);

    // A rewritten manifest (the snapshot) has the same blob files and uses.
    let again = replay(&[state.snapshot_edit()]).unwrap();
    assert_eq!(again.blob_files, state.blob_files);
    assert_eq!(again.blob_use(20), state.blob_use(20));
    assert_eq!(again.levels, state.levels);
    assert_eq!(again.obsolete, state.obsolete);
}

#[test]
fn replay_enforces_the_blob_file_rules() {
    let after = |edit: VersionEdit| replay(&[first(), flush(), edit]);
    let violation = |edit: VersionEdit, what: &str| {
        let err = after(edit).unwrap_err();
        assert!(err.contains(what), "{err}");
    };
    // A blob file with live pointers into it is not deleted.
    violation(
        VersionEdit {
            deleted_blob_files: vec![20],
            ..VersionEdit::default()
        },
        "still point",
    );
    // Nor one that is not live.
    violation(
        VersionEdit {
            deleted_blob_files: vec![77],
            ..VersionEdit::default()
        },
        "not live",
    );
    // A segment points only into live blob files of its own keyspace.
    violation(
        VersionEdit {
            added_segments: vec![(0, segment(1, 30, &[(77, 1)]))],
            ..VersionEdit::default()
        },
        "not live",
    );
    violation(
        VersionEdit {
            added_segments: vec![(0, segment(0, 30, &[(20, 1)]))],
            ..VersionEdit::default()
        },
        "of keyspace 1",
    );
    // Deleting the segment and the blob file in one edit is fine; pointing into
    // the deleted file in the same edit is not.
    let del22 = DeletedSegment {
        keyspace: 1,
        level: 0,
        file_number: 22,
    };
    after(VersionEdit {
        deleted_segments: vec![del22],
        deleted_blob_files: vec![20, 21],
        ..VersionEdit::default()
    })
    .unwrap();
    violation(
        VersionEdit {
            deleted_segments: vec![del22],
            deleted_blob_files: vec![20, 21],
            added_segments: vec![(1, segment(1, 30, &[(21, 1)]))],
            ..VersionEdit::default()
        },
        "not live",
    );
    // Numbers are never reused: not a live segment's, a live blob's, a dead one's.
    violation(
        VersionEdit {
            added_blob_files: vec![blob(1, 22, 1)],
            ..VersionEdit::default()
        },
        "already live",
    );
    violation(
        VersionEdit {
            added_blob_files: vec![blob(1, 20, 1)],
            ..VersionEdit::default()
        },
        "already live",
    );
    let gone = after(VersionEdit {
        deleted_segments: vec![del22],
        deleted_blob_files: vec![20, 21],
        ..VersionEdit::default()
    })
    .unwrap();
    assert!(gone.is_obsolete(20));
    let err = replay(&[
        first(),
        flush(),
        VersionEdit {
            deleted_segments: vec![del22],
            deleted_blob_files: vec![20, 21],
            ..VersionEdit::default()
        },
        VersionEdit {
            added_blob_files: vec![blob(1, 20, 1)],
            ..VersionEdit::default()
        },
    ])
    .unwrap_err();
    assert!(err.contains("recorded dead"), "{err}");
    // A blob file of a keyspace that is not live.
    violation(
        VersionEdit {
            added_blob_files: vec![blob(5, 40, 1)],
            ..VersionEdit::default()
        },
        "not live",
    );
    // A drop deletes the keyspace's segments and blob files in the same edit.
    violation(
        VersionEdit {
            deleted_segments: vec![del22],
            dropped_keyspaces: vec![1],
            ..VersionEdit::default()
        },
        "blob files live",
    );
    let dropped = after(VersionEdit {
        deleted_segments: vec![del22],
        deleted_blob_files: vec![20, 21],
        dropped_keyspaces: vec![1],
        ..VersionEdit::default()
    })
    .unwrap();
    assert!(dropped.blob_files.is_empty());
}

#[test]
fn blob_records_need_format_4() {
    let old = VersionEdit {
        format_version: Some(3),
        ..first()
    };
    let err = replay(&[old.clone(), flush()]).unwrap_err();
    assert!(err.contains("need format 4"), "{err}");
    // The same records without blob files replay in format 3.
    let plain = VersionEdit {
        added_segments: vec![(0, segment(1, 22, &[]))],
        ..VersionEdit::default()
    };
    replay(&[old, plain]).unwrap();
}

#[test]
fn unreferenced_blob_files_are_reported() {
    let leak = VersionEdit {
        added_blob_files: vec![blob(1, 50, 10)],
        ..VersionEdit::default()
    };
    let state = replay(&[first(), flush(), leak]).unwrap();
    let left: Vec<u64> = state
        .unreferenced_blob_files()
        .map(|b| b.file_number)
        .collect();
    assert_eq!(left, vec![50]);
}

#[test]
fn an_edit_names_the_blob_files_it_frees() {
    let state = replay(&[first(), flush()]).unwrap();
    let del22 = DeletedSegment {
        keyspace: 1,
        level: 0,
        file_number: 22,
    };
    // Segment 22 goes and 23 keeps pointing into 20: only 21 is freed.
    let mut compact = VersionEdit {
        deleted_segments: vec![del22],
        added_segments: vec![(1, segment(1, 23, &[(20, 4000)]))],
        ..VersionEdit::default()
    };
    assert_eq!(state.blob_files_freed_by(&compact), vec![21]);
    compact.deleted_blob_files = state.blob_files_freed_by(&compact);
    let after = replay(&[first(), flush(), compact.clone()]).unwrap();
    assert_eq!(after.blob_files.keys().copied().collect::<Vec<_>>(), [20]);
    // A move frees nothing; a plain flush frees nothing.
    let moved = VersionEdit {
        deleted_segments: vec![del22],
        added_segments: vec![(2, segment(1, 22, &[(20, 9000), (21, 5000)]))],
        ..VersionEdit::default()
    };
    assert!(state.blob_files_freed_by(&moved).is_empty());
    assert!(state.blob_files_freed_by(&flush()).is_empty());
    // Deleting the segment alone frees both.
    let gone = VersionEdit {
        deleted_segments: vec![del22],
        ..VersionEdit::default()
    };
    assert_eq!(state.blob_files_freed_by(&gone), vec![20, 21]);
}
