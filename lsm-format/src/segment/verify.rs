//! Full verification of a segment: every rule of `docs/format.md` section 3 that a
//! reader does not check on its fast paths.
//!
//! `open` has already checked the footer, the metadata blocks and the layout. This
//! walks every data block from the file bytes (never the cache): checksum, entry
//! decoding, restart points (each one an entry with `shared = 0`), strict internal
//! order within and across blocks, each index entry equal to its block's last entry,
//! every key present in the Bloom filter, and the properties agreeing with the data.
//! In a format-4 file it also re-reads the range-tombstone block from the file
//! (section 3.8): it must decode to the tombstones `open` kept, and the properties'
//! count, key bounds and sequence-number bounds must cover them exactly.

use std::cmp::Ordering;
use std::fmt;

use crate::entry::{compare_internal, EntryKind};
use crate::error::Error;
use crate::segment::block::read_raw;
use crate::segment::block_iter::{BlockIter, BlockOrigin};
use crate::segment::bloom::{filter_bytes_for, num_probes_for};
use crate::segment::range_del_block::decode_range_dels;
use crate::segment::{BlockHandle, BlockSource, Compression, SegmentReader};

/// At most this many problems are listed; the rest are counted.
const MAX_PROBLEMS: usize = 100;

/// One thing wrong with a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File offset where the problem is (the block's offset when the bytes at fault
    /// are inside a decompressed block).
    pub offset: u64,
    /// What is wrong.
    pub description: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}", self.offset, self.description)
    }
}

#[derive(Default)]
struct Tally {
    entries: u64,
    tombstones: u64,
    smallest_seq: Option<u64>,
    largest_seq: u64,
    raw_key_size: u64,
    raw_value_size: u64,
    distinct_keys: u64,
    first_key: Option<Vec<u8>>,
    data_size: u64,
    compressed_blocks: u64,
}

struct Report {
    problems: Vec<Problem>,
    omitted: usize,
}

impl Report {
    fn add(&mut self, offset: u64, description: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                offset,
                description,
            });
        } else {
            self.omitted += 1;
        }
    }

    fn error(&mut self, e: &Error) {
        let offset = e.offset().unwrap_or(0);
        match e {
            Error::Corruption { reason, .. } => self.add(offset, reason.clone()),
            other => self.add(offset, other.to_string()),
        }
    }
}

impl<S: BlockSource> SegmentReader<S> {
    /// Checks every byte of the file against `docs/format.md` section 3 and returns
    /// the problems found, in file order (empty when the file is sound). At most 100
    /// are listed; a last problem then says how many more were found.
    pub fn verify(&self) -> Vec<Problem> {
        let mut report = Report {
            problems: Vec::new(),
            omitted: 0,
        };
        let mut tally = Tally::default();
        // Last entry of the previous block; None after a block that could not be read.
        let mut prev: Option<(Vec<u8>, u64)> = None;
        let mut all_read = true;
        let mut it = BlockIter::default();
        it.set_format_version(self.footer().format_version);
        for slot in self.index().slots() {
            let h = slot.handle;
            tally.data_size += h.end() - h.offset;
            let loaded = self
                .decode_data_block(h)
                .and_then(|(contents, decompressed)| {
                    tally.compressed_blocks += u64::from(decompressed);
                    it.reset(
                        contents,
                        BlockOrigin {
                            offset: h.offset,
                            decompressed,
                            index: false,
                        },
                    )
                });
            let walked = loaded
                .and_then(|()| walk_block(self, &mut it, h, &mut prev, &mut tally, &mut report));
            match walked {
                Ok(Some(last)) => {
                    if last.0 != slot.key || last.1 != slot.tag {
                        report.add(
                            h.offset,
                            format!(
                                "index entry ({:?}, tag {:#x}) differs from the block's last entry ({:?}, tag {:#x})",
                                slot.key, slot.tag, last.0, last.1
                            ),
                        );
                    }
                    prev = Some(last);
                }
                Ok(None) => {
                    report.add(h.offset, "data block without entries".into());
                    prev = None;
                }
                Err(e) => {
                    report.error(&e);
                    all_read = false;
                    prev = None;
                }
            }
        }
        self.check_range_del_block(&mut report);
        if all_read {
            self.check_properties(&tally, prev.as_ref().map(|p| p.0.as_slice()), &mut report);
        }
        report.problems.sort_by_key(|p| p.offset);
        if report.omitted > 0 {
            let offset = report.problems.last().map_or(0, |p| p.offset);
            let description = format!("{} more problems not listed", report.omitted);
            report.problems.push(Problem {
                offset,
                description,
            });
        }
        report.problems
    }

    /// Re-reads the range-tombstone block from the file bytes: it must check out
    /// and decode to what `open` kept.
    fn check_range_del_block(&self, report: &mut Report) {
        let Some(h) = self.inner.range_del_block else {
            return;
        };
        let decoded =
            read_raw(self.data(), h, crate::segment::BlockType::RangeDel).and_then(|(range, _)| {
                decode_range_dels(self.data().get(range).unwrap_or_default(), h.offset)
            });
        match decoded {
            Ok(f) if &f == self.range_tombstones() => {}
            Ok(_) => report.add(
                h.offset,
                "range-tombstone block differs from the one read at open".into(),
            ),
            Err(e) => report.error(&e),
        }
    }

    fn check_properties(&self, t: &Tally, last_key: Option<&[u8]>, report: &mut Report) {
        let p = self.properties();
        let at = self.footer().properties.offset;
        let empty: &[u8] = &[];
        // Range tombstones widen the bounds: their keys (the end through
        // `bound_of_end`) and their sequence numbers.
        let rd = self.range_tombstones();
        let (rd_keys, rd_seqs) = (rd.bounds(), rd.seq_range());
        let smallest_seq = match (t.smallest_seq, rd_seqs) {
            (Some(s), Some((lo, _))) => s.min(lo),
            (Some(s), None) => s,
            (None, Some((lo, _))) => lo,
            (None, None) => 0,
        };
        let largest_seq = t.largest_seq.max(rd_seqs.map_or(0, |(_, hi)| hi));
        let checks: [(&str, u64, u64); 9] = [
            ("entry_count", p.entry_count, t.entries),
            ("tombstone_count", p.tombstone_count, t.tombstones),
            ("range_del_count", p.range_del_count, rd.tombstone_count()),
            ("smallest_seq", p.smallest_seq, smallest_seq),
            ("largest_seq", p.largest_seq, largest_seq),
            ("data_size", p.data_size, t.data_size),
            (
                "data_block_count",
                p.data_block_count,
                self.block_count() as u64,
            ),
            ("raw_key_size", p.raw_key_size, t.raw_key_size),
            ("raw_value_size", p.raw_value_size, t.raw_value_size),
        ];
        for (what, stored, found) in checks {
            if stored != found {
                report.add(
                    at,
                    format!("properties {what} is {stored}, the data says {found}"),
                );
            }
        }
        if Compression::from_u8(p.compression).is_none() {
            report.add(
                at,
                format!("properties compression {} is unknown", p.compression),
            );
        }
        if t.compressed_blocks > 0 && p.compression == Compression::None as u8 {
            report.add(
                at,
                format!(
                    "{} compressed blocks but properties say no compression",
                    t.compressed_blocks
                ),
            );
        }
        let first = match (t.first_key.as_deref(), rd_keys) {
            (Some(k), Some((start, _))) => k.min(start),
            (Some(k), None) => k,
            (None, Some((start, _))) => start,
            (None, None) => empty,
        };
        let rd_last = rd_keys.map(|(_, end)| crate::range_del::bound_of_end(end));
        let last = match (last_key, rd_last) {
            (Some(k), Some(end)) => k.max(end),
            (Some(k), None) => k,
            (None, Some(end)) => end,
            (None, None) => empty,
        };
        for (what, stored, found) in [
            ("smallest_key", p.smallest_key.as_ref(), first),
            ("largest_key", p.largest_key.as_ref(), last),
        ] {
            if stored != found {
                report.add(
                    at,
                    format!("properties {what} is {stored:?}, the data says {found:?}"),
                );
            }
        }
        let f = self.filter();
        let want_m = filter_bytes_for(f.layout(), t.distinct_keys, p.bloom_bits_per_key);
        let want_k = num_probes_for(p.bloom_bits_per_key);
        if f.len_bytes() as u64 != want_m || f.num_probes() != want_k {
            report.add(
                self.footer().filter.offset,
                format!(
                    "filter has {} bytes and {} probes; {} keys at {} bits per key need {want_m} and {want_k}",
                    f.len_bytes(),
                    f.num_probes(),
                    t.distinct_keys,
                    p.bloom_bits_per_key
                ),
            );
        }
    }
}

/// Walks one loaded block, checking each entry against the previous one and the
/// restart array. Returns the block's last entry (`None` if it has none).
fn walk_block<S: BlockSource>(
    reader: &SegmentReader<S>,
    it: &mut BlockIter,
    h: BlockHandle,
    prev: &mut Option<(Vec<u8>, u64)>,
    t: &mut Tally,
    report: &mut Report,
) -> Result<Option<(Vec<u8>, u64)>, Error> {
    let origin = it.origin();
    let at = |pos: usize| {
        if origin.decompressed {
            h.offset
        } else {
            h.offset + pos as u64
        }
    };
    let mut prev_in_block: Option<(Vec<u8>, u64)> = prev.take();
    let mut next_restart = 0;
    let mut any = false;
    it.seek_to_first()?;
    while it.valid() {
        any = true;
        let pos = it.current_offset();
        if next_restart < it.num_restarts() && it.restart(next_restart) == pos {
            let (k, tag) = it.restart_entry(next_restart)?;
            if k != it.key() || tag != it.tag() {
                report.add(
                    at(pos),
                    "restart entry decodes differently from the entry scanned".into(),
                );
            }
            next_restart += 1;
        } else if next_restart < it.num_restarts() && it.restart(next_restart) < pos {
            report.add(
                at(pos),
                format!("restart {next_restart} does not start an entry"),
            );
            next_restart += 1;
        }
        if let Some((pk, ptag)) = &prev_in_block {
            if compare_internal(pk, ptag >> 8, it.key(), it.seq()) != Ordering::Less {
                report.add(
                    at(pos),
                    format!(
                        "entry ({:?}, seq {}) is not after ({pk:?}, seq {})",
                        it.key(),
                        it.seq(),
                        ptag >> 8
                    ),
                );
            }
        }
        if prev_in_block
            .as_ref()
            .is_none_or(|(pk, _)| pk.as_slice() != it.key())
        {
            t.distinct_keys += 1;
            if !reader.filter().may_contain(it.key()) {
                report.add(
                    at(pos),
                    format!("key {:?} is missing from the Bloom filter", it.key()),
                );
            }
        }
        if t.first_key.is_none() {
            t.first_key = Some(it.key().to_vec());
        }
        t.entries += 1;
        t.tombstones += u64::from(it.kind() == EntryKind::Tombstone);
        t.smallest_seq = Some(t.smallest_seq.map_or(it.seq(), |s| s.min(it.seq())));
        t.largest_seq = t.largest_seq.max(it.seq());
        t.raw_key_size += it.key().len() as u64;
        t.raw_value_size += it.value_slice().len() as u64;
        match &mut prev_in_block {
            Some((k, tag)) => {
                k.clear();
                k.extend_from_slice(it.key());
                *tag = it.tag();
            }
            None => prev_in_block = Some((it.key().to_vec(), it.tag())),
        }
        it.next()?;
    }
    if next_restart < it.num_restarts() {
        report.add(
            at(it.restart(next_restart)),
            format!("restart {next_restart} does not start an entry"),
        );
    }
    Ok(if any { prev_in_block } else { None })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::segment::{Compression, ReadOptions, SegmentReader, SegmentWriter, WriterOptions};
    use crate::EntryKind;

    #[test]
    fn sound_files_have_no_problems_and_damage_is_listed() {
        for compression in [Compression::None, Compression::Lz4] {
            let options = WriterOptions {
                block_size: 128,
                compression,
                ..WriterOptions::default()
            };
            let mut w = SegmentWriter::new(Vec::new(), options);
            for i in 0..200u32 {
                w.add(&i.to_be_bytes(), 1, EntryKind::Put, &[b'v'; 30])
                    .unwrap();
            }
            let bytes = w.finish().unwrap().into_inner();
            let r =
                SegmentReader::open(Bytes::from(bytes.clone()), ReadOptions::default()).unwrap();
            assert_eq!(r.verify(), vec![]);
            // Damage every data block: one problem per block, in file order.
            let mut bad = bytes;
            let handles: Vec<_> = r
                .index_entries()
                .unwrap()
                .iter()
                .map(|e| e.handle)
                .collect();
            for h in &handles {
                bad[h.offset as usize + 1] ^= 1;
            }
            let r = SegmentReader::open(Bytes::from(bad), ReadOptions::default()).unwrap();
            let problems = r.verify();
            let listed = handles.len().min(super::MAX_PROBLEMS);
            assert_eq!(problems.len(), listed + usize::from(handles.len() > listed));
            assert_eq!(problems[0].offset, 0);
            assert!(problems[0].to_string().starts_with("offset 0: "));
            assert!(problems.windows(2).all(|w| w[0].offset <= w[1].offset));
        }
    }
}
