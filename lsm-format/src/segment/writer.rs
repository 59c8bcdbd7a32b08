//! The streaming segment writer: `docs/format.md` section 3.
//!
//! Only the current data block, the index entries and one 64-bit hash per distinct
//! key are held in memory; each data block goes to the output as soon as it is cut.
//! The file is laid out in the grammar's order (format version 4 and later):
//! `data_block* range_del_block filter_block properties_block index_block footer`.
//! The range tombstones, given once at any time before `finish`, are held until then.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::entry::{
    compare_internal, pack_tag, EntryKind, EXPIRY_LEN, MAX_KEY_LEN, MAX_SEQUENCE, MAX_VALUE_LEN,
};
use crate::error::{Error, Result};
use crate::range_del::Fragments;
use crate::segment::block::{compress, trailer};
use crate::segment::block_builder::BlockBuilder;
use crate::segment::bloom::BloomBuilder;
use crate::segment::range_del_block::{check_writable, encode_range_dels};
use crate::segment::{
    BlockHandle, BlockType, Compression, Footer, Properties, WriterOptions, BLOCK_TRAILER_LEN,
    MAX_BLOCK_LEN,
};
use crate::SEGMENT_FORMAT_VERSION;

/// Largest `block_size` the writer honours: with one maximal entry on top, a block
/// stays below [`MAX_BLOCK_LEN`], so it can always be LZ4-compressed.
const MAX_TARGET_BLOCK_SIZE: usize = MAX_BLOCK_LEN / 2;

/// Writes a segment file entry by entry, in internal order, to any [`Write`].
///
/// Entries must arrive in strictly increasing internal order (key ascending, then
/// sequence number descending); anything else is refused with
/// [`crate::Error::InvalidArgument`] and the writer stays usable. After an I/O error
/// the writer refuses every further call: the output is in an unknown state.
///
/// Each block is handed to the output as two `write_all` calls (contents, then
/// trailer) as soon as it is cut: give it a buffered writer when writes are costly.
/// `finish` flushes the output but does not sync it; making the file durable is the
/// caller's job.
pub struct SegmentWriter<W: Write> {
    out: W,
    options: WriterOptions,
    /// Bytes written to `out` so far.
    offset: u64,
    block: BlockBuilder,
    index: BlockBuilder,
    bloom: BloomBuilder,
    scratch: Vec<u8>,
    props: Properties,
    last_key: Vec<u8>,
    last_tag: u64,
    /// The range tombstones, once given.
    range_dels: Option<Fragments>,
    failed: Option<String>,
}

impl<W: Write> SegmentWriter<W> {
    /// A writer that writes to `out` with `options`. `block_size` is clamped to
    /// `1 ..= 512 MiB` and `restart_interval` to at least 1.
    pub fn new(out: W, mut options: WriterOptions) -> Self {
        options.block_size = options.block_size.clamp(1, MAX_TARGET_BLOCK_SIZE);
        options.restart_interval = options.restart_interval.max(1);
        let options_keyspace = options.keyspace;
        SegmentWriter {
            out,
            block: BlockBuilder::new(options.restart_interval),
            // One restart per index entry: a seek lands on the block directly.
            index: BlockBuilder::new(1),
            bloom: BloomBuilder::new(options.bloom_bits_per_key),
            scratch: Vec::new(),
            props: Properties {
                format_version: SEGMENT_FORMAT_VERSION,
                compression: options.compression as u8,
                bloom_bits_per_key: options.bloom_bits_per_key,
                keyspace: options.keyspace,
                ..Properties::default()
            },
            options,
            offset: 0,
            last_key: Vec::new(),
            last_tag: 0,
            range_dels: None,
            // A keyspace id the format cannot hold fails every later call.
            failed: (options_keyspace > crate::keyspace::MAX_KEYSPACE_ID)
                .then(|| format!("keyspace id {options_keyspace} is over the limit")),
        }
    }

    /// Appends one entry. `value` must be empty for a tombstone; for an
    /// [`EntryKind::ExpiringPut`] it is the stored value, expiry time first
    /// ([`crate::entry::encode_expiring`]). Range deletes are not entries: give them
    /// to [`add_range_tombstones`](Self::add_range_tombstones).
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value beyond the limits, a sequence number above
    /// [`crate::MAX_SEQUENCE`], a tombstone with a value, an expiring put whose value
    /// is shorter than its 8-byte expiry, a range delete, or an entry not after the
    /// previous one, or a blob pointer entry whose value does not decode as a
    /// [`BlobPointer`](crate::BlobPointer) (the writer is unchanged and stays usable); `Io` when the
    /// underlying writer fails.
    ///
    /// ```
    /// use lsm_format::entry::encode_expiring;
    /// use lsm_format::{EntryKind, SegmentWriter, WriterOptions};
    ///
    /// let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    /// w.add(b"a", 2, EntryKind::ExpiringPut, &encode_expiring(1_000, b"v"))?;
    /// assert!(w.add(b"b", 1, EntryKind::ExpiringPut, b"short").is_err());
    /// assert!(w.add(b"c", 1, EntryKind::RangeDelete, b"d").is_err());
    /// assert_eq!(w.finish()?.properties.entry_count, 1);
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn add(&mut self, key: &[u8], seq: u64, kind: EntryKind, value: &[u8]) -> Result<()> {
        self.check_usable()?;
        if key.len() > MAX_KEY_LEN {
            return Err(invalid(format!(
                "key of {} bytes exceeds {MAX_KEY_LEN}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(invalid(format!(
                "value of {} bytes exceeds {MAX_VALUE_LEN}",
                value.len()
            )));
        }
        if seq > MAX_SEQUENCE {
            return Err(invalid(format!(
                "sequence number {seq} exceeds {MAX_SEQUENCE}"
            )));
        }
        match kind {
            EntryKind::Tombstone if !value.is_empty() => {
                return Err(invalid("a tombstone has no value".to_string()));
            }
            EntryKind::ExpiringPut if value.len() < EXPIRY_LEN => {
                return Err(invalid(format!(
                    "an expiring put's value of {} bytes is shorter than its {EXPIRY_LEN}-byte expiry",
                    value.len()
                )));
            }
            EntryKind::RangeDelete => {
                return Err(invalid(
                    "a range delete is not an entry: use add_range_tombstones".to_string(),
                ));
            }
            EntryKind::BlobPointer => {
                if let Err(e) = crate::BlobPointer::decode(value) {
                    return Err(invalid(format!(
                        "a blob pointer entry's value is not a blob pointer: {e}"
                    )));
                }
            }
            _ => {}
        }
        let first = self.props.entry_count == 0;
        let new_key = first || key != self.last_key.as_slice();
        if !first && compare_internal(&self.last_key, self.last_tag >> 8, key, seq).is_ge() {
            return Err(invalid(format!(
                "entry ({key:?}, seq {seq}) is not after the previous one ({:?}, seq {})",
                self.last_key,
                self.last_tag >> 8
            )));
        }
        let tag = pack_tag(seq, kind);
        self.block.add(key, tag, value)?;

        let p = &mut self.props;
        if first {
            p.smallest_key = Bytes::copy_from_slice(key);
            p.smallest_seq = seq;
        }
        p.entry_count += 1;
        p.tombstone_count += u64::from(kind == EntryKind::Tombstone);
        p.smallest_seq = p.smallest_seq.min(seq);
        p.largest_seq = p.largest_seq.max(seq);
        p.raw_key_size += key.len() as u64;
        p.raw_value_size += value.len() as u64;
        if new_key {
            self.bloom.add_key(key);
            self.last_key.clear();
            self.last_key.extend_from_slice(key);
        }
        self.last_tag = tag;
        if self.block.size_estimate() >= self.options.block_size {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Sets the file's range tombstones (`docs/format.md` section 3.8), written by
    /// [`finish`](Self::finish) in the range-tombstone block. May be called once, at
    /// any time before `finish`; a file given none has an empty block. The
    /// properties' key and sequence-number bounds cover the tombstones too.
    ///
    /// # Errors
    /// `InvalidArgument` on a second call, or for a key over [`MAX_KEY_LEN`] or a
    /// sequence number over [`MAX_SEQUENCE`] (nothing is kept then).
    ///
    /// ```
    /// use lsm_format::range_del::{Fragments, RangeTombstone};
    /// use lsm_format::{SegmentReader, SegmentWriter, WriterOptions};
    ///
    /// let mut w = SegmentWriter::new(Vec::new(), WriterOptions::default());
    /// let dels = Fragments::from_tombstones([RangeTombstone::new("b", "d", 4)]);
    /// w.add_range_tombstones(dels.clone())?;
    /// assert!(w.add_range_tombstones(dels.clone()).is_err());
    /// let reader = SegmentReader::open(w.finish()?.into_inner().into(), Default::default())?;
    /// assert_eq!(reader.range_tombstones(), &dels);
    /// assert_eq!(reader.properties().range_del_count, 1);
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn add_range_tombstones(&mut self, fragments: Fragments) -> Result<()> {
        self.check_usable()?;
        if self.range_dels.is_some() {
            return Err(invalid(
                "range tombstones were already given to this segment writer".to_string(),
            ));
        }
        check_writable(&fragments)?;
        self.range_dels = Some(fragments);
        Ok(())
    }

    /// Bytes written to the output so far plus the bytes buffered in the current
    /// block: what the file would hold if it were finished now, minus the index,
    /// filter, properties and footer. The engine rolls to a new segment when this
    /// reaches its size threshold.
    pub fn estimated_size(&self) -> u64 {
        let pending = if self.block.is_empty() {
            0
        } else {
            self.block.size_estimate()
        };
        self.offset + pending as u64
    }

    /// Number of entries added.
    pub fn entry_count(&self) -> u64 {
        self.props.entry_count
    }

    /// Last key added, if any.
    pub fn last_key(&self) -> Option<&[u8]> {
        (self.props.entry_count > 0).then_some(self.last_key.as_slice())
    }

    /// Writes the last data block, the range tombstones, filter, properties, index
    /// and footer, flushes the output and returns it with the file's properties and
    /// total length.
    ///
    /// # Errors
    /// `Io` when the output fails; `InvalidArgument` for a segment whose index or
    /// filter would exceed 4 GiB.
    pub fn finish(mut self) -> Result<Finished<W>> {
        self.check_usable()?;
        if !self.block.is_empty() {
            self.flush_block()?;
        }
        let range_dels = self.range_dels.take().unwrap_or_default();
        let p = &mut self.props;
        p.largest_key = if p.entry_count > 0 {
            Bytes::copy_from_slice(&self.last_key)
        } else {
            Bytes::new()
        };
        cover_range_dels(p, &range_dels);
        p.created_unix_ms = self.options.created_unix_ms.unwrap_or_else(now_unix_ms);
        p.creator = self.options.creator.clone();
        let encoded = encode_range_dels(&range_dels);
        self.write_block(&encoded, Compression::None, BlockType::RangeDel)?;
        let filter = self.bloom.finish();
        let filter = self.write_block(&filter, Compression::None, BlockType::Filter)?;
        let properties = self.props.encode();
        let properties = self.write_block(&properties, Compression::None, BlockType::Properties)?;
        let index = std::mem::replace(&mut self.index, BlockBuilder::new(1))
            .finish()
            .to_vec();
        let index = self.write_block(&index, Compression::None, BlockType::Index)?;
        let footer = Footer::new(index, filter, properties).encode();
        self.write(&footer)?;
        let flushed = self.out.flush();
        self.io(flushed)?;
        Ok(Finished {
            out: self.out,
            properties: self.props,
            file_size: self.offset,
        })
    }

    /// Writes the current data block and records it in the index.
    fn flush_block(&mut self) -> Result<()> {
        let mut block = std::mem::replace(&mut self.block, BlockBuilder::new(1));
        let raw = block.finish();
        let mut scratch = std::mem::take(&mut self.scratch);
        let compression = self.options.compression;
        let handle = if compress(compression, raw, &mut scratch) {
            self.write_block(&scratch, compression, BlockType::Data)
        } else {
            self.write_block(raw, Compression::None, BlockType::Data)
        };
        block.reset();
        self.block = block;
        self.scratch = scratch;
        let handle = handle?;
        let mut encoded = Vec::with_capacity(15);
        crate::coding::put_varint64(&mut encoded, handle.offset);
        crate::coding::put_varint32(&mut encoded, handle.len);
        if let Err(e) = self.index.add(&self.last_key, self.last_tag, &encoded) {
            // The block is already written: the file cannot be completed.
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.props.data_size += handle.end() - handle.offset;
        self.props.data_block_count += 1;
        Ok(())
    }

    fn write_block(
        &mut self,
        contents: &[u8],
        c: Compression,
        t: BlockType,
    ) -> Result<BlockHandle> {
        let len = u32::try_from(contents.len()).map_err(|_| {
            invalid(format!(
                "{t:?} block of {} bytes exceeds 4 GiB",
                contents.len()
            ))
        })?;
        let handle = BlockHandle {
            offset: self.offset,
            len,
        };
        self.write(contents)?;
        self.write(&trailer(contents, c, t))?;
        debug_assert_eq!(
            self.offset,
            handle.offset + u64::from(len) + BLOCK_TRAILER_LEN as u64
        );
        Ok(handle)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let r = self.out.write_all(bytes);
        self.io(r)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn io<T>(&mut self, r: io::Result<T>) -> Result<T> {
        r.map_err(|e| {
            self.failed = Some(e.to_string());
            Error::Io(e)
        })
    }

    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(Error::Io(io::Error::other(format!(
                "segment writer failed earlier and refuses further writes: {why}"
            )))),
        }
    }
}

/// Widens the properties' bounds to the range tombstones (section 3.5): the key
/// bounds to the first start and the last (exclusive) end, the sequence numbers to
/// theirs; and counts them.
fn cover_range_dels(p: &mut Properties, range_dels: &Fragments) {
    p.range_del_count = range_dels.tombstone_count();
    let (Some((start, end)), Some((lo, hi))) = (range_dels.bounds(), range_dels.seq_range()) else {
        return;
    };
    let end = crate::range_del::bound_of_end(end);
    if p.entry_count == 0 {
        p.smallest_key = Bytes::copy_from_slice(start);
        p.largest_key = Bytes::copy_from_slice(end);
        (p.smallest_seq, p.largest_seq) = (lo, hi);
        return;
    }
    if start < &p.smallest_key[..] {
        p.smallest_key = Bytes::copy_from_slice(start);
    }
    if end > &p.largest_key[..] {
        p.largest_key = Bytes::copy_from_slice(end);
    }
    p.smallest_seq = p.smallest_seq.min(lo);
    p.largest_seq = p.largest_seq.max(hi);
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What [`SegmentWriter::finish`] returns.
#[derive(Debug)]
pub struct Finished<W> {
    /// The output, flushed.
    pub out: W,
    /// The properties written to the file.
    pub properties: Properties,
    /// Total bytes of the file.
    pub file_size: u64,
}

impl<W> Finished<W> {
    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{ReadOptions, SegmentReader};

    fn options(block_size: usize) -> WriterOptions {
        WriterOptions {
            block_size,
            created_unix_ms: Some(5),
            ..WriterOptions::default()
        }
    }

    #[test]
    fn block_size_one_puts_each_entry_in_its_own_block() {
        let mut w = SegmentWriter::new(Vec::new(), options(0));
        for i in 0..10u8 {
            w.add(&[i], 1, EntryKind::Put, &[i; 3]).unwrap();
        }
        let f = w.finish().unwrap();
        assert_eq!(f.properties.data_block_count, 10);
        assert_eq!(f.properties.created_unix_ms, 5);
        let r = SegmentReader::open(Bytes::from(f.out), ReadOptions::default()).unwrap();
        assert_eq!(r.index_entries().unwrap().len(), 10);
    }

    #[test]
    fn rejected_entries_leave_no_trace() {
        let mut w = SegmentWriter::new(Vec::new(), options(4096));
        w.add(b"m", 10, EntryKind::Put, b"v").unwrap();
        let before = w.estimated_size();
        for (k, s) in [(&b"a"[..], 1), (b"m", 10), (b"m", 11)] {
            assert!(matches!(
                w.add(k, s, EntryKind::Put, b"x"),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!((w.estimated_size(), w.entry_count()), (before, 1));
        w.add(b"m", 9, EntryKind::Tombstone, b"").unwrap();
        let f = w.finish().unwrap();
        assert_eq!(
            (f.properties.smallest_seq, f.properties.largest_seq),
            (9, 10)
        );
        assert_eq!(f.properties.tombstone_count, 1);
        assert_eq!(f.properties.raw_key_size, 2);
    }

    #[test]
    fn empty_segment_layout() {
        let w = SegmentWriter::new(Vec::new(), options(4096));
        assert_eq!(w.last_key(), None);
        let f = w.finish().unwrap();
        // empty range-tombstone block, filter (one 64-byte block of zeros + probes)
        // + trailer, properties, empty index, footer.
        let props_len = f.properties.encode().len() as u64;
        assert_eq!(
            f.file_size,
            (4 + 10) + (65 + 10) + (props_len + 10) + (4 + 10) + 56
        );
        assert_eq!(f.properties.format_version, crate::SEGMENT_FORMAT_VERSION);
        assert_eq!(f.properties.entry_count, 0);
        assert!(f.properties.smallest_key.is_empty());
    }
}
