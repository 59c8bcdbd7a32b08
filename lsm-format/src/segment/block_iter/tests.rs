//! Unit tests of the block cursor: iteration and seeks for every restart interval,
//! malformed restart arrays, byte flips, and the offsets errors name.

use super::seek::touch;
use super::*;
use crate::segment::block_builder::BlockBuilder;

fn build(keys: &[(&[u8], u64)], interval: usize) -> Bytes {
    let mut b = BlockBuilder::new(interval);
    for (k, seq) in keys {
        b.add(k, seq << 8 | 1, &[k.len() as u8]).unwrap();
    }
    Bytes::copy_from_slice(b.finish())
}

fn open(data: Bytes) -> Result<BlockIter> {
    let mut it = BlockIter::default();
    it.reset(
        data,
        BlockOrigin {
            offset: 1000,
            decompressed: false,
            index: false,
        },
    )?;
    Ok(it)
}

#[test]
fn touch_reads_one_byte_per_line_and_the_last_and_stays_inside_the_data() {
    let data: Vec<u8> = (0..200u8).collect();
    // Lines start at 10, 74, 138; the last byte is 179.
    assert_eq!(touch(&data, 10..180), 10 ^ 74 ^ 138 ^ 179);
    assert_eq!(touch(&data, 150..10_000), 150 ^ 199);
    assert_eq!(touch(&data, 500..600), 0);
    assert_eq!(touch(&data, 20..20), 0);
    assert_eq!(touch(&[], 0..64), 0);
}

const KEYS: &[(&[u8], u64)] = &[
    (b"a", 3),
    (b"ab", 9),
    (b"ab", 2),
    (b"abc", 1),
    (b"b", 5),
    (b"bb", 5),
    (b"c", 1),
];

#[test]
fn forward_backward_and_seek_for_every_interval() {
    for interval in 1..=8 {
        let mut it = open(build(KEYS, interval)).unwrap();
        it.seek_to_first().unwrap();
        let mut seen = Vec::new();
        while it.valid() {
            seen.push((it.key().to_vec(), it.seq()));
            it.next().unwrap();
        }
        let want: Vec<_> = KEYS.iter().map(|(k, s)| (k.to_vec(), *s)).collect();
        assert_eq!(seen, want);
        it.seek_to_last().unwrap();
        let mut back = Vec::new();
        while it.valid() {
            back.push((it.key().to_vec(), it.seq()));
            it.prev().unwrap();
        }
        back.reverse();
        assert_eq!(back, want);
        // seek: first entry >= target.
        for (target, seq, expect) in [
            (&b""[..], 0, Some(0)),
            (b"ab", 100, Some(1)),
            (b"ab", 9, Some(1)),
            (b"ab", 5, Some(2)),
            (b"ab", 1, Some(3)),
            (b"b", 4, Some(5)),
            (b"c", 1, Some(6)),
            (b"c", 0, None),
            (b"zz", 0, None),
        ] {
            it.seek(target, seq).unwrap();
            assert_eq!(it.valid(), expect.is_some(), "{target:?} {seq}");
            if let Some(i) = expect {
                assert_eq!(
                    (it.key(), it.seq()),
                    KEYS[i],
                    "{target:?} {seq} interval {interval}"
                );
                assert_eq!(it.value_slice(), &[KEYS[i].0.len() as u8]);
            }
        }
    }
}

#[test]
fn empty_block() {
    let mut it = open(Bytes::from_static(&[0, 0, 0, 0])).unwrap();
    assert!(it.is_empty());
    it.seek_to_first().unwrap();
    assert!(!it.valid());
    it.seek(b"a", 1).unwrap();
    assert!(!it.valid());
    it.seek_to_last().unwrap();
    assert!(!it.valid());
}

#[test]
fn malformed_restarts_are_corruption() {
    for bad in [
        vec![],
        vec![1, 0, 0],
        vec![9, 0, 0, 0, 0],          // entry bytes without restarts
        vec![0, 0, 0, 0, 1, 0, 0, 0], // restart 0 but no entry bytes
        vec![0xff, 0xff, 0xff, 0xff], // too many restarts
    ] {
        assert!(open(Bytes::from(bad)).unwrap_err().is_corruption());
    }
    let good = build(KEYS, 2).to_vec();
    let n = good.len();
    let mut bad = good.clone();
    bad[n - 8] = 0xff; // last restart beyond the entries
    assert!(open(Bytes::from(bad)).is_err());
}

#[test]
fn every_byte_flip_gives_error_or_some_entries_never_panics() {
    let good = build(KEYS, 3).to_vec();
    for i in 0..good.len() {
        for x in [1u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= x;
            let Ok(mut it) = open(Bytes::from(bad)) else {
                continue;
            };
            let mut steps = 0;
            if it.seek_to_first().is_ok() {
                while it.valid() && it.next().is_ok() {
                    steps += 1;
                    assert!(steps <= good.len());
                }
            }
            if it.seek_to_last().is_ok() {
                while it.valid() && it.prev().is_ok() {
                    steps += 1;
                    assert!(steps <= 2 * good.len());
                }
            }
            let _ = it.seek(b"ab", 3);
        }
    }
}

#[test]
fn errors_name_file_offsets() {
    let mut good = build(&[(b"k", 1)], 1).to_vec();
    good[0] = 0x05; // restart entry claims a shared prefix
    let mut it = open(Bytes::from(good)).unwrap();
    let e = it.seek_to_first().unwrap_err();
    assert_eq!(e.offset(), Some(1000));
    assert!(!it.valid());
    let mut it = BlockIter::default();
    let mut data = build(&[(b"k", 1)], 1).to_vec();
    data[1] = 100;
    it.reset(
        Bytes::from(data),
        BlockOrigin {
            offset: 7,
            decompressed: true,
            index: false,
        },
    )
    .unwrap();
    let e = it.seek_to_first().unwrap_err();
    assert_eq!(e.offset(), Some(7));
    assert!(e.to_string().contains("decompressed"));
}
