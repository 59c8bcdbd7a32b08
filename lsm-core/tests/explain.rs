//! `Db::explain`: the engine's trace of a point lookup agrees with `get` for every
//! key in every layer, and shows the steps a reader relies on (memtables first,
//! level 0 newest first, filters, the block read, where it stops).

mod common;

use common::small_options;
use lsm_core::{Db, FilterAnswer, LookupStep, Options, VersionKind};

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

#[test]
fn the_trace_agrees_with_get_for_every_key_in_every_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), small_options()).unwrap();
    for i in 0..3000u64 {
        if i == 1500 {
            // A deeper level for certain, whatever the background threads did.
            db.compact().unwrap();
        }
        let k = key((i * 37) % 900);
        if i % 7 == 0 {
            db.delete(&k).unwrap();
        } else {
            db.put(&k, format!("value-{i}")).unwrap();
        }
    }
    assert!(db.stats().levels.iter().skip(1).any(|l| l.segments > 0));
    let reader = Db::open_read_only(tmp.path(), small_options()).unwrap();
    let (mut from_memtable, mut from_segments, mut filtered) = (0, 0, 0);
    for i in 0..1000u64 {
        let k = key(i);
        let want = db.get(&k).unwrap();
        let trace = db.explain(&k).unwrap();
        assert_eq!(trace.value(), want.as_ref(), "key {i}: {trace:?}");
        assert_eq!(
            reader.explain(&k).unwrap().value(),
            reader.get(&k).unwrap().as_ref()
        );
        assert!(matches!(
            trace.steps[0],
            LookupStep::Memtable {
                immutable: None,
                ..
            }
        ));
        match trace.steps.iter().rev().nth(1) {
            Some(LookupStep::Memtable { found: Some(_), .. }) => from_memtable += 1,
            Some(LookupStep::Segment { found: Some(_), .. }) => from_segments += 1,
            _ => {}
        }
        filtered += trace
            .steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    LookupStep::Segment {
                        filter: FilterAnswer::Absent,
                        ..
                    }
                )
            })
            .count();
        if let Some(found) = &trace.found {
            // A found version stops the walk: the last step says what was skipped.
            assert!(
                matches!(trace.steps.last(), Some(LookupStep::NotConsulted { .. })),
                "{trace:?}"
            );
            if found.kind == VersionKind::Tombstone {
                assert_eq!(trace.value(), None);
            }
        }
    }
    // 1,500 writes after the compaction overflow the 16 KiB memtable many times, so
    // the newest versions of some keys are in segments whatever the timing.
    assert!(from_segments > 0, "no key answered from a segment");
    println!("{from_memtable} keys from memtables, {from_segments} from segments, {filtered} filter skips");
    // After a flush the memtable is empty, so one small write stays in it.
    db.flush().unwrap();
    db.put("last", "in memory").unwrap();
    let trace = db.explain("last").unwrap();
    assert!(
        matches!(
            trace.steps.iter().rev().nth(1),
            Some(LookupStep::Memtable { found: Some(_), .. })
        ),
        "{trace:?}"
    );
    db.close().unwrap();
}

/// A lookup meets range tombstones as `get` does: it stops at the first source that
/// holds one over the key, names it, and its answer agrees with `get`, with the
/// tombstone in the memtable and in a level-0 segment, under a newer put, and after
/// a full compaction dropped it with the keys it deleted.
#[test]
fn the_trace_names_the_range_tombstone_that_deletes_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..50u32 {
        db.put(format!("k{i:02}"), "v").unwrap();
    }
    db.flush().unwrap();
    db.delete_range("k10", "k20").unwrap();
    db.put("k15", "newer").unwrap();
    let check = |stage: &str, tombstone_kept: bool| {
        for i in 0..50u32 {
            let key = format!("k{i:02}");
            let trace = db.explain(&key).unwrap();
            let got = db.get(&key).unwrap();
            assert_eq!(trace.value(), got.as_ref(), "{stage}: {key}");
            let hidden = trace.hiding_range_tombstone();
            let deleted = (10..20).contains(&i) && i != 15;
            assert_eq!(
                hidden.is_some(),
                deleted && tombstone_kept,
                "{stage}: {key}: {trace:?}"
            );
            assert_eq!(got.is_none(), deleted, "{stage}: {key}");
            if let Some(t) = hidden {
                assert!(t.start <= key.as_bytes() && key.as_bytes() < &t.end[..]);
            }
        }
    };
    check("memtable", true);
    db.flush().unwrap();
    check("level 0", true);
    // At the bottom, with no snapshot, the tombstone goes with what it deleted.
    db.compact().unwrap();
    check("compacted", false);
}

/// A version whose value is in a blob file: the trace names the pointer (file,
/// offset, lengths) and its value is what `get` reads through it, not the pointer's
/// bytes; a lookup that is answered from the memtable (whose values are inline) has
/// no pointer, and a key in a keyspace with its own threshold is traced through
/// that keyspace's blob files.
#[test]
fn the_trace_reads_a_blob_pointer_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().with_blob_threshold(Some(64))).unwrap();
    let users = db.keyspace("users").unwrap();
    for i in 0..20u32 {
        db.put(format!("k{i:02}"), vec![b'a' + i as u8; 100 + i as usize])
            .unwrap();
        db.put(format!("s{i:02}"), "small").unwrap();
        users.put(format!("u{i:02}"), vec![b'u'; 80]).unwrap();
    }
    db.flush().unwrap();
    users.flush().unwrap();
    db.put("k05", vec![b'n'; 90]).unwrap(); // newer, in the memtable
    for i in 0..20u32 {
        for key in [format!("k{i:02}"), format!("s{i:02}")] {
            let trace = db.explain(&key).unwrap();
            let got = db.get(&key).unwrap();
            assert_eq!(trace.value(), got.as_ref(), "{key}: {trace:?}");
            let found = trace.found.as_ref().unwrap();
            let in_blob = key.starts_with('k') && i != 5;
            assert_eq!(found.blob.is_some(), in_blob, "{key}: {trace:?}");
            if let Some(p) = found.blob {
                assert_eq!(p.value_len as usize, found.value.len());
                assert!(dir
                    .path()
                    .join(format!("{:06}.blob", p.file_number))
                    .exists());
            }
        }
        let key = format!("u{i:02}");
        let trace = users.explain(&key).unwrap();
        assert_eq!(trace.value(), users.get(&key).unwrap().as_ref());
        assert!(trace.found.unwrap().blob.is_some());
    }
    db.close().unwrap();
}
