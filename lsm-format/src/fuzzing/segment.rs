//! Checks of whole segment files (`docs/format.md` section 3): any bytes opened and
//! read every way, and entries (expiring puts among them) and range tombstones
//! derived from the bytes written and read back.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::entry::{compare_internal, encode_expiring, EntryKind, MAX_KEY_LEN, MAX_SEQUENCE};
use crate::range_del::{Fragments, RangeTombstone};
use crate::segment::{
    BlockSource, Compression, Entry, Probe, ReadAt, ReadOptions, SegmentReader, SegmentWriter,
    WriterOptions,
};

use super::MAX_WALK;

/// Positional reads served from bytes in memory.
struct MemoryReadAt(Bytes);

/// A block source that has every data block read with [`MemoryReadAt`].
struct Positional(MemoryReadAt);

impl BlockSource for Positional {
    fn positional(&self) -> Option<&dyn ReadAt> {
        Some(&self.0)
    }
}

impl ReadAt for MemoryReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.0.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Opens `data` as a segment and reads it every way: forward and backward iteration
/// agree when both complete, reading the data blocks with positional reads
/// ([`BlockSource::positional`]) gives the same result as reading them from the bytes,
/// a file that verifies clean iterates in strict internal order with as many
/// entries as its properties say, and every entry is found by `get` and by `seek`.
pub fn segment_open(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let Ok(reader) = SegmentReader::open(bytes.clone(), ReadOptions::default()) else {
        return;
    };
    let _ = reader.layout();
    let _ = reader.index_entries();
    // Range tombstones are decoded and checked at open: what opens is fragmented
    // and counted by the properties.
    let dels = reader.range_tombstones();
    assert!(Fragments::from_fragmented(dels.fragments().to_vec()).is_some());
    assert_eq!(dels.tombstone_count(), reader.properties().range_del_count);
    let forward: Result<Vec<Entry>, _> = reader.entries().take(MAX_WALK).collect();
    let backward: Result<Vec<Entry>, _> = reader.entries().rev().take(MAX_WALK).collect();
    let positional = Positional(MemoryReadAt(bytes.clone()));
    let by_pread = SegmentReader::open_with(bytes, ReadOptions::default(), positional)
        .expect("opens as it did without positional reads")
        .entries()
        .take(MAX_WALK)
        .collect::<Result<Vec<Entry>, _>>();
    match (&forward, &by_pread) {
        (Ok(a), Ok(b)) => assert!(a == b, "positional reads read other entries"),
        (Err(_), Err(_)) => {}
        _ => panic!("positional reads and the bytes disagree on whether the file reads"),
    }
    let problems = reader.verify();
    if let (Ok(f), Ok(b)) = (&forward, &backward) {
        assert!(
            f.iter().eq(b.iter().rev()),
            "forward and backward iteration differ"
        );
    }
    // A few probes, sound file or not: none may panic.
    let mut it = reader.iter();
    let probes = [&b""[..], b"a", b"\xff\xff", data.get(..8).unwrap_or(data)];
    for probe in probes {
        let _ = reader.get(probe, MAX_SEQUENCE);
        if it.seek(probe, MAX_SEQUENCE).is_ok() && it.valid() {
            let _ = it.prev();
        }
        let _ = it.seek_for_prev(probe, 0);
    }
    if !problems.is_empty() {
        return;
    }
    for probe in probes {
        it.seek(probe, MAX_SEQUENCE).unwrap();
        assert!(!it.valid() || it.key() >= probe);
    }
    let entries = forward.expect("a verified segment iterates without error");
    assert_eq!(entries.len() as u64, reader.properties().entry_count);
    if let Some((start, end)) = dels.bounds() {
        let p = reader.properties();
        assert!(&p.smallest_key[..] <= start && &p.largest_key[..] >= end);
    }
    for pair in entries.windows(2) {
        assert!(compare_internal(&pair[0].key, pair[0].seq, &pair[1].key, pair[1].seq).is_lt());
    }
    for e in entries.iter().take(64) {
        assert_eq!(reader.get(&e.key, e.seq).unwrap().as_ref(), Some(e));
        it.seek(&e.key, e.seq).unwrap();
        assert!(it.valid());
        assert_eq!(it.entry(), *e);
    }
}

/// Derives writer options and a sorted set of entries from `data`, writes them as a
/// segment, and reads everything back: iteration both ways, `get` of every version
/// and of the newest, properties, and a clean verification.
pub fn segment_roundtrip(data: &[u8]) {
    let (options, entries, tombstones) = derive_entries(data);
    let dels = Fragments::from_tombstones(tombstones);
    let mut writer = SegmentWriter::new(Vec::new(), options);
    // The tombstones go in before the entries or after them, as the input says.
    let early = data.get(4).is_some_and(|b| b & 1 == 1);
    if early {
        writer.add_range_tombstones(dels.clone()).unwrap();
    }
    for ((key, seq), (kind, value)) in &entries {
        writer.add(key, seq.0, *kind, value).unwrap();
    }
    if !early {
        writer.add_range_tombstones(dels.clone()).unwrap();
    }
    let file = writer.finish().unwrap().into_inner();
    let reader = SegmentReader::open(Bytes::from(file), ReadOptions::default()).unwrap();
    let problems = reader.verify();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(reader.range_tombstones(), &dels);
    assert_eq!(reader.properties().range_del_count, dels.tombstone_count());
    let expected: Vec<Entry> = entries
        .iter()
        .map(|((key, seq), (kind, value))| Entry {
            key: Bytes::copy_from_slice(key),
            seq: seq.0,
            kind: *kind,
            value: Bytes::copy_from_slice(value),
        })
        .collect();
    let forward: Vec<Entry> = reader.entries().collect::<Result<_, _>>().unwrap();
    assert_eq!(forward, expected);
    let mut backward: Vec<Entry> = reader.entries().rev().collect::<Result<_, _>>().unwrap();
    backward.reverse();
    assert_eq!(backward, expected);
    let props = reader.properties();
    assert_eq!(props.entry_count, expected.len() as u64);
    let tombstones = expected
        .iter()
        .filter(|e| e.kind == EntryKind::Tombstone)
        .count();
    assert_eq!(props.tombstone_count, tombstones as u64);
    // Point reads of a sample (every entry of small files): each `get` of a
    // compressed block decompresses it again, which dominates under a fuzzer.
    let mut it = reader.iter();
    let step = expected.len().div_ceil(64).max(1);
    for e in expected.iter().step_by(step) {
        assert_eq!(reader.get(&e.key, e.seq).unwrap().as_ref(), Some(e));
        it.seek(&e.key, e.seq).unwrap();
        assert_eq!(it.entry(), *e);
    }
    // Per key: the newest version is what the latest snapshot sees, and a snapshot
    // older than every version sees nothing.
    let mut versions: BTreeMap<&[u8], (&Entry, u64)> = BTreeMap::new();
    for e in &expected {
        versions.entry(&e.key).or_insert((e, e.seq)).1 = e.seq;
    }
    let step = versions.len().div_ceil(32).max(1);
    for (key, (newest, oldest_seq)) in versions.iter().step_by(step) {
        assert_eq!(
            reader.get(key, MAX_SEQUENCE).unwrap().as_ref(),
            Some(*newest)
        );
        if let Some(below) = oldest_seq.checked_sub(1) {
            assert_eq!(reader.get(key, below).unwrap(), None);
        }
    }
    let mut absent = expected.last().map_or_else(Vec::new, |e| e.key.to_vec());
    absent.push(0);
    let unfiltered = Probe::new(&absent, MAX_SEQUENCE).without_filter();
    assert_eq!(reader.lookup(&unfiltered).unwrap().found, None);
}

/// Entries keyed in internal order: key ascending, then sequence number descending.
type Sorted = BTreeMap<(Vec<u8>, std::cmp::Reverse<u64>), (EntryKind, Vec<u8>)>;

/// Writer options, entries and range tombstones drawn from `data`.
fn derive_entries(data: &[u8]) -> (WriterOptions, Sorted, Vec<RangeTombstone>) {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let b = |v: Option<u8>| v.unwrap_or(0);
    let options = WriterOptions {
        block_size: 32 << (b(next()) % 8),
        restart_interval: 1 + usize::from(b(next()) % 16),
        bloom_bits_per_key: b(next()) % 16,
        // Bit 0: compressed; bit 1 then picks zstd over LZ4.
        compression: match b(next()) & 3 {
            1 => Compression::Lz4,
            3 => Compression::Zstd,
            _ => Compression::None,
        },
        created_unix_ms: Some(0),
        ..WriterOptions::default()
    };
    let mut entries = Sorted::new();
    let mut tombstones = Vec::new();
    // Each entry: a key drawn from a small alphabet (so versions and shared prefixes
    // are common), a sequence number, a kind and a value. Control bits 0x80 and
    // 0x40 together make a range tombstone from the key to a second key instead
    // (empty when the second is not after the first: it covers nothing).
    while let Some(control) = next() {
        let key_len = usize::from(control % 8).min(MAX_KEY_LEN);
        let key: Vec<u8> = (0..key_len).map(|_| b'a' + b(next()) % 4).collect();
        let seq = u64::from(b(next())) | u64::from(b(next())) << 8;
        if control & 0xc0 == 0xc0 {
            let end_len = usize::from(b(next()) % 8);
            let end: Vec<u8> = (0..end_len).map(|_| b'a' + b(next()) % 4).collect();
            tombstones.push(RangeTombstone::new(key, end, seq));
            continue;
        }
        let kind = match control & 0xa0 {
            0x80 => EntryKind::Tombstone,
            0x20 => EntryKind::ExpiringPut,
            _ => EntryKind::Put,
        };
        let value: Vec<u8> = match kind {
            EntryKind::Tombstone | EntryKind::RangeDelete | EntryKind::BlobPointer => Vec::new(),
            EntryKind::Put | EntryKind::ExpiringPut => {
                let len = usize::from(b(next()) % 64);
                // Repetitive values so that LZ4 actually compresses some blocks.
                (0..len)
                    .map(|i| if control & 0x40 == 0 { b'v' } else { i as u8 })
                    .collect()
            }
        };
        let value = if kind == EntryKind::ExpiringPut {
            encode_expiring(seq.wrapping_mul(0x9e37_79b9), &value)
        } else {
            value
        };
        entries.insert((key, std::cmp::Reverse(seq)), (kind, value));
    }
    (options, entries, tombstones)
}
