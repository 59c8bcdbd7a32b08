//! A version edit and its encoding: `docs/format.md` section 6.

use bytes::Bytes;

use super::{SegmentMeta, MAX_LEVELS};
use crate::coding::{put_length_prefixed, put_varint32, put_varint64, Decoder};
use crate::entry::MAX_KEY_LEN;
use crate::error::{Error, Result};

/// On-disk field tags, frozen.
mod tag {
    pub const FORMAT_VERSION: u32 = 1;
    pub const LOG_NUMBER: u32 = 2;
    pub const NEXT_FILE_NUMBER: u32 = 3;
    pub const LAST_SEQUENCE: u32 = 4;
    pub const DELETE_SEGMENT: u32 = 5;
    pub const ADD_SEGMENT: u32 = 6;
    pub const OBSOLETE_SEGMENT: u32 = 7;
}

/// A change to the live state, as one manifest record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionEdit {
    /// Present in the first record of a manifest.
    pub format_version: Option<u32>,
    /// WAL files numbered below this are obsolete.
    pub log_number: Option<u64>,
    /// Next file number to allocate.
    pub next_file_number: Option<u64>,
    /// Last sequence number used.
    pub last_sequence: Option<u64>,
    /// Segments removed: (level, file number).
    pub deleted_segments: Vec<(u32, u64)>,
    /// Segments added: (level, metadata).
    pub added_segments: Vec<(u32, SegmentMeta)>,
    /// Segments that are not live and whose files may still exist: deleted by an
    /// earlier edit whose record a rewritten manifest no longer holds (the file was
    /// still open for a reader), or left unreferenced by an interrupted job. A reader
    /// may remove these files; a file that is not live and not recorded dead is
    /// evidence that records are missing (`docs/format.md` section 6).
    pub obsolete_segments: Vec<u64>,
}

impl VersionEdit {
    /// Appends the encoding of this edit to `out`: scalar fields in tag order, then
    /// deletions, then obsolete segments, then additions. The caller keeps levels below [`MAX_LEVELS`] and
    /// keys within [`MAX_KEY_LEN`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(v) = self.format_version {
            put_varint32(out, tag::FORMAT_VERSION);
            put_varint32(out, v);
        }
        let scalars = [
            (tag::LOG_NUMBER, self.log_number),
            (tag::NEXT_FILE_NUMBER, self.next_file_number),
            (tag::LAST_SEQUENCE, self.last_sequence),
        ];
        for (t, v) in scalars {
            if let Some(v) = v {
                put_varint32(out, t);
                put_varint64(out, v);
            }
        }
        for &(level, file_number) in &self.deleted_segments {
            put_varint32(out, tag::DELETE_SEGMENT);
            put_varint32(out, level);
            put_varint64(out, file_number);
        }
        for &file_number in &self.obsolete_segments {
            put_varint32(out, tag::OBSOLETE_SEGMENT);
            put_varint64(out, file_number);
        }
        for (level, m) in &self.added_segments {
            debug_assert!((*level as usize) < MAX_LEVELS);
            debug_assert!(
                m.smallest_key.len() <= MAX_KEY_LEN && m.largest_key.len() <= MAX_KEY_LEN
            );
            put_varint32(out, tag::ADD_SEGMENT);
            put_varint32(out, *level);
            put_varint64(out, m.file_number);
            put_varint64(out, m.file_size);
            put_length_prefixed(out, &m.smallest_key);
            put_length_prefixed(out, &m.largest_key);
            put_varint64(out, m.smallest_seq);
            put_varint64(out, m.largest_seq);
            put_varint64(out, m.entry_count);
            put_varint64(out, m.tombstone_count);
        }
    }

    /// Decodes an edit whose first byte is at file offset `offset` (for errors).
    ///
    /// # Errors
    /// `Corruption` for an unknown tag, a scalar field given twice, a level
    /// `>= MAX_LEVELS`, truncated fields or lengths over the limits.
    pub fn decode(payload: &[u8], offset: u64) -> Result<Self> {
        let mut d = Decoder::new(payload, offset);
        let mut edit = VersionEdit::default();
        while !d.is_empty() {
            let at = d.offset();
            let t = d.varint32("edit tag")?;
            match t {
                tag::FORMAT_VERSION => {
                    set_once(&mut edit.format_version, d.varint32("format_version")?, at)?
                }
                tag::LOG_NUMBER => set_once(&mut edit.log_number, d.varint64("log_number")?, at)?,
                tag::NEXT_FILE_NUMBER => set_once(
                    &mut edit.next_file_number,
                    d.varint64("next_file_number")?,
                    at,
                )?,
                tag::LAST_SEQUENCE => {
                    set_once(&mut edit.last_sequence, d.varint64("last_sequence")?, at)?
                }
                tag::DELETE_SEGMENT => {
                    let level = level(&mut d)?;
                    edit.deleted_segments
                        .push((level, d.varint64("delete file_number")?));
                }
                tag::ADD_SEGMENT => {
                    let level = level(&mut d)?;
                    let meta = SegmentMeta {
                        file_number: d.varint64("add file_number")?,
                        file_size: d.varint64("add file_size")?,
                        smallest_key: Bytes::copy_from_slice(
                            d.length_prefixed(MAX_KEY_LEN, "smallest_key")?,
                        ),
                        largest_key: Bytes::copy_from_slice(
                            d.length_prefixed(MAX_KEY_LEN, "largest_key")?,
                        ),
                        smallest_seq: d.varint64("smallest_seq")?,
                        largest_seq: d.varint64("largest_seq")?,
                        entry_count: d.varint64("entry_count")?,
                        tombstone_count: d.varint64("tombstone_count")?,
                    };
                    edit.added_segments.push((level, meta));
                }
                tag::OBSOLETE_SEGMENT => {
                    edit.obsolete_segments
                        .push(d.varint64("obsolete file_number")?);
                }
                other => {
                    return Err(Error::corruption(
                        at,
                        format!("unknown version edit tag {other}"),
                    ))
                }
            }
        }
        Ok(edit)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, at: u64) -> Result<()> {
    if slot.is_some() {
        return Err(Error::corruption(at, "version edit field given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn level(d: &mut Decoder<'_>) -> Result<u32> {
    let at = d.offset();
    let level = d.varint32("level")?;
    if level as usize >= MAX_LEVELS {
        return Err(Error::corruption(
            at,
            format!("level {level} is not below {MAX_LEVELS}"),
        ));
    }
    Ok(level)
}
