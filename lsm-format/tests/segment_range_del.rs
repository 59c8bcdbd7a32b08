//! Range tombstones and expiring puts in format-4 segments (`docs/format.md`
//! sections 3.2, 3.5 and 3.8): the writer's tombstones come back from the reader
//! exactly, the properties bound them, a file of tombstones alone is valid, and
//! expiring puts are entries returned with their stored value.

use bytes::Bytes;
use lsm_format::checksum::checksum;
use lsm_format::entry::{decode_expiring, encode_expiring};
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::{
    EntryKind, Error, ReadOptions, SegmentReader, SegmentWriter, WriterOptions, MAX_SEQUENCE,
};
use proptest::prelude::*;

fn options() -> WriterOptions {
    WriterOptions {
        block_size: 128,
        restart_interval: 3,
        created_unix_ms: Some(0),
        ..WriterOptions::default()
    }
}

fn open(bytes: Vec<u8>) -> lsm_format::Result<SegmentReader> {
    SegmentReader::open(Bytes::from(bytes), ReadOptions::default())
}

fn key(i: u8) -> Vec<u8> {
    format!("k{i:03}").into_bytes()
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Tombstones over keys `k000 ..= k060`, with ends one past or far from the starts.
fn tombstones() -> impl Strategy<Value = Vec<RangeTombstone>> {
    proptest::collection::vec((0u8..60, 1u8..20, 0u64..1000), 0..10).prop_map(|v| {
        v.into_iter()
            .map(|(s, len, seq)| RangeTombstone::new(key(s), key(s.saturating_add(len)), seq))
            .collect()
    })
}

/// Sorted entries with distinct (key, seq): puts, tombstones and expiring puts.
fn entries() -> impl Strategy<Value = Vec<(Vec<u8>, u64, EntryKind, Vec<u8>)>> {
    proptest::collection::btree_map((0u8..80, 0u64..1000), (0u8..3, 0u64..u64::MAX), 0..40)
        .prop_map(|m| {
            // BTreeMap order is key ascending, seq ascending: reverse seqs per key.
            let mut v: Vec<_> = m
                .into_iter()
                .map(|((k, seq), (kind, expiry))| {
                    let (kind, value) = match kind {
                        0 => (EntryKind::Tombstone, vec![]),
                        1 => (EntryKind::Put, format!("v{seq}").into_bytes()),
                        _ => (
                            EntryKind::ExpiringPut,
                            encode_expiring(expiry, format!("e{seq}").as_bytes()),
                        ),
                    };
                    (key(k), seq, kind, value)
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    #[test]
    fn writer_to_reader_round_trips_fragments_and_entries(
        ts in tombstones(),
        model in entries(),
        before_entries in any::<bool>(),
    ) {
        let fragments = Fragments::from_tombstones(ts);
        let mut w = SegmentWriter::new(Vec::new(), options());
        if before_entries {
            w.add_range_tombstones(fragments.clone()).unwrap();
        }
        for (k, s, kind, v) in &model {
            w.add(k, *s, *kind, v).unwrap();
        }
        if !before_entries {
            w.add_range_tombstones(fragments.clone()).unwrap();
        }
        let finished = w.finish().unwrap();
        let written = finished.properties.clone();
        let reader = open(finished.into_inner()).unwrap();
        prop_assert_eq!(reader.range_tombstones(), &fragments);
        prop_assert_eq!(reader.properties(), &written);
        prop_assert_eq!(reader.verify(), vec![]);

        let p = reader.properties();
        prop_assert_eq!(p.range_del_count, fragments.tombstone_count());
        let puts = model.iter().filter(|e| e.2 != EntryKind::Tombstone).count() as u64;
        prop_assert_eq!(p.entry_count - p.tombstone_count, puts);
        // Bounds: the entries' and the tombstones' together.
        let keys = model.iter().map(|e| e.0.clone());
        let starts = fragments.fragments().iter().map(|f| f.start.to_vec());
        let ends = fragments.fragments().iter().map(|f| f.end.to_vec());
        let seqs: Vec<u64> = model
            .iter()
            .map(|e| e.1)
            .chain(fragments.tombstones().map(|t| t.seq))
            .collect();
        prop_assert_eq!(
            p.smallest_key.to_vec(),
            keys.clone().chain(starts).min().unwrap_or_default()
        );
        prop_assert_eq!(p.largest_key.to_vec(), keys.chain(ends).max().unwrap_or_default());
        prop_assert_eq!(p.smallest_seq, seqs.iter().copied().min().unwrap_or(0));
        prop_assert_eq!(p.largest_seq, seqs.iter().copied().max().unwrap_or(0));

        // Entries, expiring puts included, come back with their stored values.
        let got: Vec<_> = reader
            .entries()
            .map(|e| e.map(|e| (e.key.to_vec(), e.seq, e.kind, e.value.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(&got, &model);
        for (k, s, kind, v) in &model {
            let found = reader.get(k, *s).unwrap().unwrap();
            prop_assert_eq!((found.seq, found.kind, &found.value[..]), (*s, *kind, &v[..]));
        }
    }
}

#[test]
fn a_file_of_range_tombstones_alone_is_valid() {
    let f = Fragments::from_tombstones([
        RangeTombstone::new("b", "d", 9),
        RangeTombstone::new("c", "x", 3),
    ]);
    let mut w = SegmentWriter::new(Vec::new(), options());
    w.add_range_tombstones(f.clone()).unwrap();
    let reader = open(w.finish().unwrap().into_inner()).unwrap();
    let p = reader.properties();
    assert_eq!((p.entry_count, p.data_block_count, p.data_size), (0, 0, 0));
    assert_eq!(
        (&p.smallest_key[..], &p.largest_key[..]),
        (&b"b"[..], &b"x"[..])
    );
    assert_eq!(
        (p.smallest_seq, p.largest_seq, p.range_del_count),
        (3, 9, 4)
    );
    assert_eq!(reader.range_tombstones(), &f);
    assert_eq!(reader.verify(), vec![]);
    assert!(reader.get(b"c", MAX_SEQUENCE).unwrap().is_none());
    assert_eq!(reader.entries().count(), 0);
    // The layout: the range-del block first, at offset 0.
    let kinds: Vec<_> = reader.layout().unwrap().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        ["range-del", "filter", "properties", "index", "footer"]
    );
    assert_eq!(reader.layout().unwrap()[0].offset, 0);
}

#[test]
fn the_writer_refuses_what_the_format_cannot_hold() {
    let mut w = SegmentWriter::new(Vec::new(), options());
    let over = Fragments::from_tombstones([RangeTombstone::new("a", "b", MAX_SEQUENCE + 1)]);
    assert!(matches!(
        w.add_range_tombstones(over),
        Err(Error::InvalidArgument(_))
    ));
    // Refused tombstones leave no trace: they may still be given once.
    w.add_range_tombstones(Fragments::default()).unwrap();
    assert!(matches!(
        w.add_range_tombstones(Fragments::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        w.add(b"a", 1, EntryKind::RangeDelete, b"b"),
        Err(Error::InvalidArgument(_))
    ));
    for short in 0..8 {
        assert!(matches!(
            w.add(b"a", 1, EntryKind::ExpiringPut, &vec![0; short]),
            Err(Error::InvalidArgument(_))
        ));
    }
    w.add(b"a", 1, EntryKind::ExpiringPut, &[0; 8]).unwrap();
    let reader = open(w.finish().unwrap().into_inner()).unwrap();
    let found = reader.get(b"a", 1).unwrap().unwrap();
    assert_eq!(decode_expiring(&found.value), Some((0, &b""[..])));
    assert_eq!(reader.properties().tombstone_count, 0);
}

/// Rewrites the properties block after `edit` changed its contents.
fn edit_properties(bytes: &mut [u8], reader: &SegmentReader, edit: impl FnOnce(&mut [u8])) {
    let h = reader.footer().properties;
    let (start, end) = (h.offset as usize, h.end() as usize);
    edit(&mut bytes[start..end - 10]);
    let sum = checksum(&bytes[start..end - 8]);
    bytes[end - 8..end].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn open_checks_the_properties_against_the_range_tombstones() {
    let f = Fragments::from_tombstones([RangeTombstone::new("b", "d", 9)]);
    let write = |with_entry: bool| {
        let mut w = SegmentWriter::new(Vec::new(), options());
        if with_entry {
            w.add(b"c", 20, EntryKind::Put, b"v").unwrap();
        }
        w.add_range_tombstones(f.clone()).unwrap();
        w.finish().unwrap().into_inner()
    };
    for with_entry in [false, true] {
        let good = write(with_entry);
        let reader = open(good.clone()).unwrap();
        let at = reader.footer().properties.offset;
        let n = reader.footer().properties.len as usize;
        // range_del_count is the last u64; smallest_seq the fourth field (at 20).
        for (what, edit) in [
            (
                "count",
                Box::new(|p: &mut [u8]| p[n - 8] ^= 1) as Box<dyn Fn(&mut [u8])>,
            ),
            ("smallest_seq", Box::new(|p: &mut [u8]| p[20] = 10)),
            ("largest_seq", Box::new(|p: &mut [u8]| p[28] = 8)),
        ] {
            let mut bad = good.clone();
            edit_properties(&mut bad, &reader, edit);
            let e = open(bad).unwrap_err();
            assert!(e.is_corruption() && e.offset() == Some(at), "{what}: {e}");
        }
    }
}

/// Bounds wider than the data pass `open` (which checks that they contain the
/// tombstones) but not `verify` (which wants them exact).
#[test]
fn verify_wants_the_bounds_exact() {
    let mut w = SegmentWriter::new(Vec::new(), options());
    w.add(b"c", 20, EntryKind::Put, b"v").unwrap();
    w.add_range_tombstones(Fragments::from_tombstones([RangeTombstone::new(
        "b", "d", 9,
    )]))
    .unwrap();
    let good = w.finish().unwrap().into_inner();
    let reader = open(good.clone()).unwrap();
    assert_eq!(reader.properties().smallest_seq, 9);
    let mut bad = good;
    // smallest_seq (the u64 at 20) from 9 down to 1.
    edit_properties(&mut bad, &reader, |p| p[20] = 1);
    let problems = open(bad).unwrap().verify();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .description
            .contains("smallest_seq is 1, the data says 9"),
        "{problems:?}"
    );
}

/// A range cut after key `p` ends at `p + [0]`: the file's largest key is `p`
/// exactly, so the next file of a level may start at `p + [0]`. A range to the end
/// of keys (`END_OF_KEYS`, one byte longer than any key) is stored, and bounds the
/// file at the largest possible key.
#[test]
fn range_ends_bound_the_file_at_the_largest_key_below_them() {
    use lsm_format::range_del::END_OF_KEYS;
    // (end, largest key, whether the range covers that key: exact bounds do).
    let cases: [(&[u8], Vec<u8>, bool); 3] = [
        (b"m\0", b"m".to_vec(), true),
        (b"m", b"m".to_vec(), false),
        (END_OF_KEYS, vec![0xff; lsm_format::MAX_KEY_LEN], true),
    ];
    for (end, largest, exact) in cases {
        let mut w = SegmentWriter::new(Vec::new(), options());
        w.add(b"a", 3, EntryKind::Put, b"v").unwrap();
        w.add_range_tombstones(Fragments::from_tombstones([RangeTombstone::new(
            b"b".to_vec(),
            end.to_vec(),
            5,
        )]))
        .unwrap();
        let r = open(w.finish().unwrap().into_inner()).unwrap();
        assert_eq!(
            &r.properties().largest_key[..],
            &largest[..],
            "end {:?}",
            &end[..end.len().min(4)]
        );
        let covered = r.range_tombstones().covering_seq(&largest, 9);
        assert_eq!(covered, exact.then_some(5));
        assert!(r.verify().is_empty(), "{:?}", r.verify());
    }
}
