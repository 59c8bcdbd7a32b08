//! The Bloom filter's documented bound (`docs/format.md` section 3.4): at 10 bits per
//! key, at most 1.5 % false positives, and never a false negative.

use bytes::Bytes;
use lsm_format::{EntryKind, ReadOptions, SegmentReader, SegmentWriter, WriterOptions};

const N: u64 = 100_000;

fn key(i: u64) -> [u8; 16] {
    // Spread keys like real ones: a fixed prefix and a mixed suffix.
    let mut k = *b"user:\0\0\0\0\0\0\0\0\0\0\0";
    k[8..].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k
}

fn segment(bits_per_key: u8, keys: impl Iterator<Item = u64>) -> SegmentReader {
    let mut sorted: Vec<[u8; 16]> = keys.map(key).collect();
    sorted.sort();
    let options = WriterOptions {
        bloom_bits_per_key: bits_per_key,
        ..WriterOptions::default()
    };
    let mut w = SegmentWriter::new(Vec::new(), options);
    for k in &sorted {
        w.add(k, 1, EntryKind::Put, b"").unwrap();
    }
    SegmentReader::open(
        Bytes::from(w.finish().unwrap().into_inner()),
        ReadOptions::default(),
    )
    .unwrap()
}

#[test]
fn false_positive_rate_at_10_bits_per_key() {
    let r = segment(10, 0..N);
    let false_negatives = (0..N).filter(|&i| !r.may_contain(&key(i))).count();
    assert_eq!(false_negatives, 0);
    let false_positives = (N..2 * N).filter(|&i| r.may_contain(&key(i))).count();
    let rate = false_positives as f64 / N as f64;
    eprintln!(
        "false-positive rate at 10 bits per key: {:.3} %",
        rate * 100.0
    );
    assert!(rate <= 0.015, "false-positive rate {:.3} %", rate * 100.0);
    // And an absent key the filter lets through is still not found.
    let through = (N..2 * N).find(|&i| r.may_contain(&key(i))).unwrap();
    assert_eq!(r.get(&key(through), u64::MAX >> 8).unwrap(), None);
}

#[test]
fn filter_size_follows_the_spec_and_versions_count_once() {
    // 1000 keys, each with three versions: the filter is sized for 1000 keys.
    let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    for i in 0..1000u64 {
        for seq in [3, 2, 1] {
            w.add(&i.to_be_bytes(), seq, EntryKind::Put, b"v").unwrap();
        }
    }
    let r = SegmentReader::open(
        Bytes::from(w.finish().unwrap().into_inner()),
        ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(r.footer().filter.len, 1250 + 1);
    assert!(r.verify().is_empty());
}

#[test]
fn no_filter_means_every_key_may_be_present() {
    let r = segment(0, 0..100);
    assert_eq!(r.footer().filter.len, 1);
    assert!((0..1000).all(|i| r.may_contain(&key(i))));
    assert!(r.get(&key(500), 5).unwrap().is_none());
    assert!(r.get(&key(5), 5).unwrap().is_some());
}
