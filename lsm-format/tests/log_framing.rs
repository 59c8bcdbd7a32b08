//! Log framing (`docs/format.md` section 4): round trips at every awkward size and
//! position, resuming after a reopen, truncation at every length, and each kind of
//! damage with resynchronisation.

use lsm_format::checksum::checksum;
use lsm_format::log::{
    read_log, read_log_from, LogDamageKind, LogFraming, LogWriter, LOG_BLOCK_SIZE, LOG_HEADER_LEN,
    MAX_LOG_RECORD_LEN, NARROW_LOG_HEADER_LEN,
};
use proptest::prelude::*;

/// Frames `payloads` from offset 0; returns the bytes and each record's (offset, end).
fn build(payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<(u64, u64)>) {
    build_framed(LogFraming::Wide, 0, payloads)
}

/// Frames `payloads` in `framing` after `start` filler bytes.
fn build_framed(
    framing: LogFraming,
    start: u64,
    payloads: &[Vec<u8>],
) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut w = LogWriter::with_framing(start, framing);
    let mut out = vec![0xee; start as usize];
    let mut spans = Vec::new();
    for p in payloads {
        let before = out.len();
        w.add_record(p, &mut out);
        // The record starts after any padding the writer put first.
        let first_in_block = LOG_BLOCK_SIZE - before % LOG_BLOCK_SIZE;
        let start = if first_in_block < framing.header_len() {
            before + first_in_block
        } else {
            before
        };
        spans.push((start as u64, out.len() as u64));
    }
    (out, spans)
}

fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(7919)) as u8)
        .collect()
}

fn assert_round_trip(payloads: &[Vec<u8>]) {
    let (data, spans) = build(payloads);
    let log = read_log(&data).unwrap();
    assert_eq!(log.damage, None);
    assert_eq!(log.records.len(), payloads.len());
    for ((rec, p), (start, end)) in log.records.iter().zip(payloads).zip(&spans) {
        assert_eq!(&rec.payload[..], &p[..]);
        assert_eq!((rec.offset, rec.end), (*start, *end));
    }
    assert_eq!(log.clean_len(), data.len() as u64);
}

/// A fragment header + payload written by hand, for crafting damage.
fn fragment(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut covered = (payload.len() as u16).to_le_bytes().to_vec();
    covered.push(ty);
    covered.extend_from_slice(payload);
    let mut out = checksum(&covered).to_le_bytes().to_vec();
    out.extend_from_slice(&covered);
    out
}

const ROOM: usize = LOG_BLOCK_SIZE - LOG_HEADER_LEN;

#[test]
fn empty_file_and_empty_records() {
    let log = read_log(&[]).unwrap();
    assert!(log.records.is_empty() && log.damage.is_none());
    assert_round_trip(&[vec![]]);
    assert_round_trip(&[vec![], vec![], b"x".to_vec(), vec![]]);
}

#[test]
fn records_filling_a_block_exactly_and_spanning_many() {
    assert_round_trip(&[payload(1, ROOM)]);
    assert_round_trip(&[payload(1, ROOM), payload(2, ROOM), vec![]]);
    assert_round_trip(&[payload(1, ROOM - 1), payload(2, 5)]);
    assert_round_trip(&[payload(1, ROOM + 1)]);
    assert_round_trip(&[payload(3, 5 * LOG_BLOCK_SIZE + 123), b"after".to_vec()]);
    // Exactly k full blocks of payload, given a header per block.
    assert_round_trip(&[payload(4, 3 * ROOM), payload(5, 2 * ROOM)]);
    let (data, _) = build(&[payload(4, 3 * ROOM)]);
    assert_eq!(data.len(), 3 * LOG_BLOCK_SIZE);
}

#[test]
fn block_tails_of_zero_to_ten_bytes_are_padded() {
    for tail in 0..=LOG_HEADER_LEN {
        // The first record leaves exactly `tail` bytes in block 0.
        let first = payload(tail, ROOM - tail);
        let payloads = vec![first, b"next".to_vec(), vec![]];
        let (data, spans) = build(&payloads);
        if tail < LOG_HEADER_LEN {
            let pad = &data[LOG_BLOCK_SIZE - tail..LOG_BLOCK_SIZE];
            assert!(pad.iter().all(|&b| b == 0), "tail {tail}");
            assert_eq!(spans[1].0, LOG_BLOCK_SIZE as u64);
        } else {
            // Room for a header only: an empty FIRST fragment, then LAST.
            assert_eq!(data[LOG_BLOCK_SIZE - LOG_HEADER_LEN + 10], 2);
            assert_eq!(spans[1].0, (LOG_BLOCK_SIZE - LOG_HEADER_LEN) as u64);
        }
        assert_round_trip(&payloads);
    }
}

#[test]
fn non_zero_padding_is_damage() {
    let (mut data, _) = build(&[payload(1, ROOM - 5), b"next".to_vec()]);
    data[LOG_BLOCK_SIZE - 2] = 7;
    let log = read_log(&data).unwrap();
    assert_eq!(log.records.len(), 1);
    let damage = log.damage.unwrap();
    assert_eq!(damage.kind, LogDamageKind::BadType);
    assert_eq!(damage.offset, (LOG_BLOCK_SIZE - 5) as u64);
    assert_eq!(damage.records_after.len(), 1);
}

#[test]
fn resume_after_reopen_at_odd_lengths() {
    let payloads: Vec<Vec<u8>> = (0..40)
        .map(|i| payload(i, (i * 1777) % 9000 + if i % 7 == 0 { 40_000 } else { 0 }))
        .collect();
    let (whole, _) = build(&payloads);
    for split in 0..=payloads.len() {
        let (mut data, _) = build(&payloads[..split]);
        let mut w = LogWriter::new(data.len() as u64);
        for p in &payloads[split..] {
            w.add_record(p, &mut data);
        }
        assert_eq!(data, whole, "split at record {split}");
    }
}

#[test]
fn truncation_at_every_length_keeps_exactly_the_complete_records() {
    // About 110 KiB: small records, one spanning three blocks (FIRST, MIDDLE, LAST),
    // an empty one, and a padded block tail.
    let mut payloads: Vec<Vec<u8>> = (0..50)
        .map(|i| payload(i, (i * 389) % 1200 + (i % 9) * 60))
        .collect();
    payloads[45] = payload(99, 2 * LOG_BLOCK_SIZE);
    payloads[30] = Vec::new();
    // The record that crosses the first block boundary is resized to end 5 bytes
    // before it instead, leaving padding.
    let (_, spans) = build(&payloads);
    let k = spans
        .iter()
        .position(|s| s.1 > LOG_BLOCK_SIZE as u64)
        .unwrap();
    payloads[k] = payload(k, LOG_BLOCK_SIZE - spans[k].0 as usize - LOG_HEADER_LEN - 5);
    let (data, spans) = build(&payloads);
    assert_eq!(spans[k].1, LOG_BLOCK_SIZE as u64 - 5);
    assert!(data.len() > 3 * LOG_BLOCK_SIZE && data.len() < 4 * LOG_BLOCK_SIZE);
    for cut in 0..=data.len() {
        let log = read_log(&data[..cut]).unwrap();
        let complete = spans.iter().filter(|&&(_, end)| end <= cut as u64).count();
        assert_eq!(log.records.len(), complete, "cut {cut}");
        for (rec, p) in log.records.iter().zip(&payloads) {
            assert_eq!(&rec.payload[..], &p[..]);
        }
        if let Some(d) = &log.damage {
            assert!(
                matches!(d.kind, LogDamageKind::Incomplete | LogDamageKind::Zeroed),
                "cut {cut}"
            );
            assert_eq!(d.offset, spans[complete].0, "cut {cut}");
            assert!(d.records_after.is_empty());
        } else {
            // Clean only at a record end or inside the zero padding after one.
            let last_end = complete.checked_sub(1).map_or(0, |i| spans[i].1) as usize;
            assert!(data[last_end..cut].iter().all(|&b| b == 0), "cut {cut}");
            assert!(cut - last_end < LOG_HEADER_LEN);
        }
    }
}

#[test]
fn zero_tails_are_zeroed_damage() {
    let (data, spans) = build(&[payload(1, 100), payload(2, 40_000)]);
    for zeros in [1, LOG_HEADER_LEN, 500, 3 * LOG_BLOCK_SIZE] {
        let mut z = data.clone();
        z.resize(data.len() + zeros, 0);
        let log = read_log(&z).unwrap();
        assert_eq!(log.records.len(), 2);
        let d = log.damage.unwrap();
        assert_eq!(
            (d.kind, d.offset),
            (LogDamageKind::Zeroed, data.len() as u64)
        );
    }
    // The second record's later fragment zeroed out: its block rest is zero.
    let mut z = data.clone();
    for b in &mut z[LOG_BLOCK_SIZE..] {
        *b = 0;
    }
    let d = read_log(&z).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::Zeroed, spans[1].0));
}

#[test]
fn zeroed_block_followed_by_garbage_or_by_valid_records() {
    let mut data = fragment(1, b"one");
    data.resize(LOG_BLOCK_SIZE, 0);
    data.extend(std::iter::repeat_n(0xa5, 100));
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::Zeroed, 14));

    let mut data = fragment(1, b"one");
    data.resize(LOG_BLOCK_SIZE, 0);
    data.extend(fragment(1, b"two"));
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadType, 14));
    assert_eq!(d.records_after.len(), 1);
    assert_eq!(&d.records_after[0].payload[..], b"two");
}

#[test]
fn bad_checksum_resynchronises_and_finds_later_records() {
    let payloads: Vec<Vec<u8>> = (0..6).map(|i| payload(i, 20_000)).collect();
    let (mut data, spans) = build(&payloads);
    // Damage the payload of record 1 (which spans blocks 0 and 1).
    data[spans[1].0 as usize + 20] ^= 1;
    let log = read_log(&data).unwrap();
    assert_eq!(log.records.len(), 1);
    let d = log.damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadChecksum, spans[1].0));
    let after: Vec<u64> = d.records_after.iter().map(|r| r.offset).collect();
    assert_eq!(after, spans[2..].iter().map(|s| s.0).collect::<Vec<_>>());
    for (rec, p) in d.records_after.iter().zip(&payloads[2..]) {
        assert_eq!(&rec.payload[..], &p[..]);
    }
}

#[test]
fn damaged_payload_keeps_later_records_of_the_same_block_visible() {
    let payloads: Vec<Vec<u8>> = (0..5).map(|i| payload(i, 100)).collect();
    let (mut data, spans) = build(&payloads);
    data[spans[1].0 as usize + 30] ^= 0xff;
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadChecksum, spans[1].0));
    assert_eq!(d.records_after.len(), 3);
    // An unknown type byte with an intact length too.
    let (mut data, spans) = build(&payloads);
    data[spans[1].0 as usize + 10] = 9;
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.records_after.len()), (LogDamageKind::BadType, 3));
}

#[test]
fn fragments_out_of_sequence() {
    // MIDDLE without FIRST.
    let mut data = fragment(1, b"a");
    data.extend(fragment(3, b"orphan"));
    data.extend(fragment(1, b"b"));
    let log = read_log(&data).unwrap();
    assert_eq!(log.records.len(), 1);
    let d = log.damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadSequence, 12));
    assert_eq!(d.records_after.len(), 1);

    // FULL inside a record: the unfinished record is the damage, the FULL survives.
    let mut data = fragment(2, b"first");
    data.extend(fragment(1, b"full"));
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadSequence, 0));
    assert_eq!(&d.records_after[0].payload[..], b"full");

    // FIRST, MIDDLE, then the file ends: incomplete, reported at the record start.
    let mut data = fragment(1, b"ok");
    data.extend(fragment(2, b"first"));
    data.extend(fragment(3, b"middle"));
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::Incomplete, 13));

    // A hand-made FIRST/MIDDLE/LAST is one record.
    let mut data = fragment(2, b"ab");
    data.extend(fragment(3, b""));
    data.extend(fragment(4, b"cd"));
    let log = read_log(&data).unwrap();
    assert_eq!(log.damage, None);
    assert_eq!(&log.records[0].payload[..], b"abcd");
}

#[test]
fn resynchronisation_skips_the_tail_of_a_record_begun_before() {
    // Record 0 spans blocks 0..2; damage its first fragment. Block 1 starts with its
    // MIDDLE and block 2 with its LAST: neither may surface as a record.
    let payloads = vec![payload(1, 2 * LOG_BLOCK_SIZE + 100), b"after".to_vec()];
    let (mut data, _) = build(&payloads);
    data[5] ^= 0x10;
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadChecksum, 0));
    assert_eq!(d.records_after.len(), 1);
    assert_eq!(&d.records_after[0].payload[..], b"after");
}

#[test]
fn length_overrunning_the_block_is_bad_type() {
    let mut data = fragment(1, b"abc");
    data[8] = 0xff;
    data[9] = 0xff;
    let d = read_log(&data).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::BadType, 0));
}

#[test]
fn limit_constant_matches_the_spec() {
    assert_eq!(MAX_LOG_RECORD_LEN, 1 << 30);
    assert_eq!(LOG_BLOCK_SIZE, 32768);
    assert_eq!(LOG_HEADER_LEN, 11);
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![
        6 => 0usize..64,
        3 => 0usize..3000,
        1 => (ROOM - 12)..(ROOM + 12),
        1 => 0usize..(3 * LOG_BLOCK_SIZE),
    ];
    proptest::collection::vec(size, 0..20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn random_records_round_trip(sizes in sizes(), seed in any::<usize>()) {
        let payloads: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &n)| payload(seed ^ i, n)).collect();
        assert_round_trip(&payloads);
    }

    #[test]
    fn random_resume_points_match_one_writer(
        sizes in sizes(),
        start in 0u64..(4 * LOG_BLOCK_SIZE as u64),
        split in any::<prop::sample::Index>(),
    ) {
        // A writer started at an arbitrary length, reopened half way, writes the same
        // bytes as one that was never closed.
        let split = split.index(sizes.len() + 1);
        let mut one = LogWriter::new(start);
        let mut a = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            one.add_record(&payload(i, n), &mut a);
        }
        let mut first = LogWriter::new(start);
        let mut b = Vec::new();
        for (i, &n) in sizes.iter().enumerate().take(split) {
            first.add_record(&payload(i, n), &mut b);
        }
        let mut second = LogWriter::new(start + b.len() as u64);
        for (i, &n) in sizes.iter().enumerate().skip(split) {
            second.add_record(&payload(i, n), &mut b);
        }
        prop_assert_eq!(a, b);
    }
}

#[test]
fn damaged_length_in_a_one_block_log_still_reveals_later_records() {
    let payloads: Vec<Vec<u8>> = (0..5).map(|i| payload(i, 100 + i)).collect();
    for byte in [8, 9] {
        for mask in [0x01, 0x02, 0x80, 0xff] {
            let (mut data, spans) = build(&payloads);
            data[spans[1].0 as usize + byte] ^= mask;
            let log = read_log(&data).unwrap();
            assert_eq!(log.records.len(), 1);
            let d = log.damage.unwrap();
            assert_eq!(d.offset, spans[1].0);
            let after: Vec<u64> = d.records_after.iter().map(|r| r.offset).collect();
            assert_eq!(
                after,
                vec![spans[2].0, spans[3].0, spans[4].0],
                "byte {byte} mask {mask:#x}"
            );
        }
    }
}

#[test]
fn a_fragment_inside_a_torn_record_is_not_taken_for_a_later_record() {
    // A user payload that embeds a valid fragment, torn before its end: the embedded
    // fragment does not chain to the end of the file, so it is not a record after.
    let mut inner = fragment(1, b"forged");
    inner.extend_from_slice(b"more user bytes");
    let mut outer = b"user data ".to_vec();
    outer.extend_from_slice(&inner);
    let (data, spans) = build(&[b"ok".to_vec(), outer]);
    let cut = data.len() - 3;
    let d = read_log(&data[..cut]).unwrap().damage.unwrap();
    assert_eq!((d.kind, d.offset), (LogDamageKind::Incomplete, spans[1].0));
    assert!(d.records_after.is_empty());
}

// ---------------------------------------------------------------------------
// The narrow framing (4-byte checksums) of format-3 WAL records: the same walk with
// a 7-byte header.

fn build_narrow(start: u64, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<(u64, u64)>) {
    build_framed(LogFraming::Narrow, start, payloads)
}

#[test]
fn narrow_records_round_trip_across_block_tails_and_spans() {
    let room = LOG_BLOCK_SIZE - NARROW_LOG_HEADER_LEN;
    // Block tails of every length up to a header and one more, then records that fill
    // a block exactly and span several.
    for tail in 0..=NARROW_LOG_HEADER_LEN + 1 {
        let first = room - tail;
        let payloads = vec![
            payload(1, first),
            payload(2, 5),
            payload(3, room),
            payload(4, 3 * LOG_BLOCK_SIZE),
            vec![],
        ];
        let (data, spans) = build_narrow(0, &payloads);
        let log = read_log_from(&data, 0, LogFraming::Narrow).unwrap();
        assert_eq!(log.damage, None, "tail {tail}");
        assert_eq!(log.records.len(), payloads.len());
        for ((rec, p), span) in log.records.iter().zip(&payloads).zip(&spans) {
            assert_eq!(&rec.payload[..], &p[..], "tail {tail}");
            assert_eq!((rec.offset, rec.end), *span, "tail {tail}");
        }
        // Read wide, the same bytes are damage at once, never records.
        let wide = read_log(&data).unwrap();
        assert!(wide.records.is_empty() && wide.damage.is_some());
    }
}

#[test]
fn narrow_walk_from_an_offset_truncated_at_every_length() {
    // As a format-3 WAL: 19 bytes of something else first, then narrow records.
    let payloads: Vec<Vec<u8>> = (0..40).map(|i| payload(i, (i * 37) % 900)).collect();
    let (data, spans) = build_narrow(19, &payloads);
    for cut in 19..=data.len() {
        let log = read_log_from(&data[..cut], 19, LogFraming::Narrow).unwrap();
        let complete = spans.iter().filter(|s| s.1 as usize <= cut).count();
        assert_eq!(log.records.len(), complete, "cut {cut}");
        assert_eq!(
            log.clean_len(),
            complete.checked_sub(1).map_or(0, |i| spans[i].1),
            "cut {cut}"
        );
        if let Some(d) = log.damage {
            assert_eq!(d.kind, LogDamageKind::Incomplete, "cut {cut}");
            assert!(d.records_after.is_empty());
        }
    }
}

#[test]
fn narrow_bad_checksum_resynchronises_and_finds_later_records() {
    let payloads: Vec<Vec<u8>> = (0..30).map(|i| payload(i, 50 + i)).collect();
    let (mut data, spans) = build_narrow(0, &payloads);
    // The 4-byte checksum of record 10.
    data[spans[10].0 as usize + 2] ^= 0x01;
    let log = read_log_from(&data, 0, LogFraming::Narrow).unwrap();
    assert_eq!(log.records.len(), 10);
    let d = log.damage.unwrap();
    assert_eq!(
        (d.offset, d.kind),
        (spans[10].0, LogDamageKind::BadChecksum)
    );
    assert_eq!(d.records_after.len(), 19);
    // A flip in the payload is caught by the 32-bit checksum too.
    let (mut data, _) = build_narrow(0, &payloads);
    data[spans[20].0 as usize + NARROW_LOG_HEADER_LEN + 7] ^= 0x80;
    let log = read_log_from(&data, 0, LogFraming::Narrow).unwrap();
    assert_eq!(log.records.len(), 20);
    assert_eq!(log.damage.unwrap().records_after.len(), 9);
}
