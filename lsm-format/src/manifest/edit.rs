//! A version edit and its encoding: `docs/format.md` section 6.

use bytes::Bytes;

use super::{BlobFileMeta, BlobRef, SegmentMeta, MAX_LEVELS};
use crate::coding::{put_length_prefixed, put_varint32, put_varint64, Decoder};
use crate::entry::MAX_KEY_LEN;
use crate::error::{Error, Result};
use crate::keyspace::{
    check_keyspace_id, check_keyspace_name, KeyspaceId, DEFAULT_KEYSPACE, MAX_KEYSPACE_NAME_LEN,
};

/// On-disk field tags, frozen.
mod tag {
    pub const FORMAT_VERSION: u32 = 1;
    pub const LOG_NUMBER: u32 = 2;
    pub const NEXT_FILE_NUMBER: u32 = 3;
    pub const LAST_SEQUENCE: u32 = 4;
    pub const DELETE_SEGMENT: u32 = 5;
    pub const ADD_SEGMENT: u32 = 6;
    pub const OBSOLETE_SEGMENT: u32 = 7;
    // Format 3: keyspaces.
    pub const ADD_KEYSPACE: u32 = 8;
    pub const DROP_KEYSPACE: u32 = 9;
    pub const NEXT_KEYSPACE_ID: u32 = 10;
    pub const DELETE_SEGMENT_IN: u32 = 11;
    pub const ADD_SEGMENT_IN: u32 = 12;
    pub const KEYSPACE_LOG_NUMBER: u32 = 13;
    // Format 4: blob files.
    pub const ADD_BLOB_FILE: u32 = 14;
    pub const DELETE_BLOB_FILE: u32 = 15;
    pub const SEGMENT_BLOB_REFS: u32 = 16;
}

/// Most blob files one segment may name (tag 16): a bound for decoding.
pub const MAX_BLOB_REFS: u32 = 1 << 20;

/// A segment an edit deletes: tag 5 for keyspace 0, tag 11 for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeletedSegment {
    /// The keyspace the segment belongs to.
    pub keyspace: KeyspaceId,
    /// The level it is live in.
    pub level: u32,
    /// Its file number.
    pub file_number: u64,
}

impl From<(u32, u64)> for DeletedSegment {
    /// A segment of keyspace 0 at `(level, file_number)`.
    fn from((level, file_number): (u32, u64)) -> Self {
        DeletedSegment {
            keyspace: DEFAULT_KEYSPACE,
            level,
            file_number,
        }
    }
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
    /// Segments removed.
    pub deleted_segments: Vec<DeletedSegment>,
    /// Segments added: (level, metadata, which names the keyspace).
    pub added_segments: Vec<(u32, SegmentMeta)>,
    /// Segments that are not live and whose files may still exist: deleted by an
    /// earlier edit whose record a rewritten manifest no longer holds (the file was
    /// still open for a reader), or left unreferenced by an interrupted job. A reader
    /// may remove these files; a file that is not live and not recorded dead is
    /// evidence that records are missing (`docs/format.md` section 6).
    pub obsolete_segments: Vec<u64>,
    /// Keyspaces created: (id, name). Format 3.
    pub added_keyspaces: Vec<(KeyspaceId, String)>,
    /// Keyspaces dropped; the same edit deletes every segment they hold. Format 3.
    pub dropped_keyspaces: Vec<KeyspaceId>,
    /// The id the next keyspace created gets; ids are never reused. Format 3.
    pub next_keyspace_id: Option<KeyspaceId>,
    /// Per keyspace, the oldest WAL that may still hold data of it not in its
    /// segments: (keyspace, WAL number). Format 3.
    pub keyspace_log_numbers: Vec<(KeyspaceId, u64)>,
    /// Blob files added. Format 4.
    pub added_blob_files: Vec<BlobFileMeta>,
    /// Blob files removed (by number): no live segment points into them after
    /// the edit. Format 4.
    pub deleted_blob_files: Vec<u64>,
}

impl VersionEdit {
    /// True when the edit holds a record only format 4 has (tags 14 to 16): a blob
    /// file added or deleted, or a segment pointing into blob files.
    pub fn uses_blob_files(&self) -> bool {
        !self.added_blob_files.is_empty()
            || !self.deleted_blob_files.is_empty()
            || self
                .added_segments
                .iter()
                .any(|(_, m)| !m.blob_refs.is_empty())
    }

    /// True when the edit holds a record only format 3 has (tags 8 to 13): a
    /// keyspace created or dropped, `next_keyspace_id`, a keyspace's log number, or
    /// a segment of a keyspace other than 0.
    pub fn uses_keyspaces(&self) -> bool {
        !self.added_keyspaces.is_empty()
            || !self.dropped_keyspaces.is_empty()
            || self.next_keyspace_id.is_some()
            || !self.keyspace_log_numbers.is_empty()
            || self
                .deleted_segments
                .iter()
                .any(|d| d.keyspace != DEFAULT_KEYSPACE)
            || self
                .added_segments
                .iter()
                .any(|(_, m)| m.keyspace != DEFAULT_KEYSPACE)
    }

    /// Appends the encoding of this edit to `out`: scalar fields in tag order, then
    /// deletions, obsolete segments, deleted blob files, dropped and added
    /// keyspaces, added blob files, added segments (each followed by its blob
    /// references, tag 16, when it has any) and keyspace log numbers. Segments of keyspace 0 take tags 5 and 6, the others 11
    /// and 12. The caller keeps levels below [`MAX_LEVELS`], keys within
    /// [`MAX_KEY_LEN`], keyspace names valid
    /// ([`check_keyspace_name`](crate::keyspace::check_keyspace_name)) and ids within
    /// [`MAX_KEYSPACE_ID`](crate::keyspace::MAX_KEYSPACE_ID).
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
        if let Some(v) = self.next_keyspace_id {
            put_varint32(out, tag::NEXT_KEYSPACE_ID);
            put_varint32(out, v);
        }
        for d in &self.deleted_segments {
            if d.keyspace == DEFAULT_KEYSPACE {
                put_varint32(out, tag::DELETE_SEGMENT);
            } else {
                put_varint32(out, tag::DELETE_SEGMENT_IN);
                put_varint32(out, d.keyspace);
            }
            put_varint32(out, d.level);
            put_varint64(out, d.file_number);
        }
        for &file_number in &self.obsolete_segments {
            put_varint32(out, tag::OBSOLETE_SEGMENT);
            put_varint64(out, file_number);
        }
        for &file_number in &self.deleted_blob_files {
            put_varint32(out, tag::DELETE_BLOB_FILE);
            put_varint64(out, file_number);
        }
        for &id in &self.dropped_keyspaces {
            put_varint32(out, tag::DROP_KEYSPACE);
            put_varint32(out, id);
        }
        for (id, name) in &self.added_keyspaces {
            debug_assert!(check_keyspace_name(name.as_bytes()).is_ok());
            put_varint32(out, tag::ADD_KEYSPACE);
            put_varint32(out, *id);
            put_length_prefixed(out, name.as_bytes());
        }
        for b in &self.added_blob_files {
            put_varint32(out, tag::ADD_BLOB_FILE);
            put_varint32(out, b.keyspace);
            put_varint64(out, b.file_number);
            put_varint64(out, b.file_size);
            put_varint64(out, b.record_count);
            put_varint64(out, b.value_bytes);
        }
        for (level, m) in &self.added_segments {
            debug_assert!((*level as usize) < MAX_LEVELS);
            debug_assert!(
                m.smallest_key.len() <= MAX_KEY_LEN && m.largest_key.len() <= MAX_KEY_LEN
            );
            if m.keyspace == DEFAULT_KEYSPACE {
                put_varint32(out, tag::ADD_SEGMENT);
            } else {
                put_varint32(out, tag::ADD_SEGMENT_IN);
                put_varint32(out, m.keyspace);
            }
            put_varint32(out, *level);
            put_varint64(out, m.file_number);
            put_varint64(out, m.file_size);
            put_length_prefixed(out, &m.smallest_key);
            put_length_prefixed(out, &m.largest_key);
            put_varint64(out, m.smallest_seq);
            put_varint64(out, m.largest_seq);
            put_varint64(out, m.entry_count);
            put_varint64(out, m.tombstone_count);
            if !m.blob_refs.is_empty() {
                debug_assert!(m.blob_refs.is_sorted_by(|a, b| a.blob_file < b.blob_file));
                put_varint32(out, tag::SEGMENT_BLOB_REFS);
                put_varint64(out, m.file_number);
                put_varint32(out, m.blob_refs.len() as u32);
                for r in &m.blob_refs {
                    put_varint64(out, r.blob_file);
                    put_varint64(out, r.value_bytes);
                }
            }
        }
        for &(id, log_number) in &self.keyspace_log_numbers {
            put_varint32(out, tag::KEYSPACE_LOG_NUMBER);
            put_varint32(out, id);
            put_varint64(out, log_number);
        }
    }

    /// Decodes an edit whose first byte is at file offset `offset` (for errors).
    ///
    /// # Errors
    /// `Corruption` for an unknown tag, a scalar field given twice, a level
    /// `>= MAX_LEVELS`, truncated fields or lengths over the limits, a keyspace id
    /// over [`MAX_KEYSPACE_ID`](crate::keyspace::MAX_KEYSPACE_ID), keyspace 0 in a
    /// tag 11 or 12 (keyspace 0's segments take tags 5 and 6), or a keyspace name
    /// that is empty, longer than 255 bytes or not UTF-8.
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
                tag::DELETE_SEGMENT | tag::DELETE_SEGMENT_IN => {
                    let keyspace = segment_keyspace(&mut d, t == tag::DELETE_SEGMENT_IN)?;
                    let level = level(&mut d)?;
                    edit.deleted_segments.push(DeletedSegment {
                        keyspace,
                        level,
                        file_number: d.varint64("delete file_number")?,
                    });
                }
                tag::ADD_SEGMENT | tag::ADD_SEGMENT_IN => {
                    let keyspace = segment_keyspace(&mut d, t == tag::ADD_SEGMENT_IN)?;
                    let level = level(&mut d)?;
                    let meta = SegmentMeta {
                        keyspace,
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
                        blob_refs: Vec::new(),
                    };
                    edit.added_segments.push((level, meta));
                }
                tag::OBSOLETE_SEGMENT => {
                    edit.obsolete_segments
                        .push(d.varint64("obsolete file_number")?);
                }
                tag::ADD_KEYSPACE => {
                    let id = keyspace_id(&mut d)?;
                    let name_at = d.offset();
                    let name = d.length_prefixed(MAX_KEYSPACE_NAME_LEN, "keyspace name")?;
                    let name =
                        check_keyspace_name(name).map_err(|why| Error::corruption(name_at, why))?;
                    edit.added_keyspaces.push((id, name.to_string()));
                }
                tag::DROP_KEYSPACE => {
                    let id = keyspace_id(&mut d)?;
                    edit.dropped_keyspaces.push(id);
                }
                tag::NEXT_KEYSPACE_ID => {
                    let id_at = d.offset();
                    let next = d.varint32("next_keyspace_id")?;
                    // One past the largest id: at most MAX_KEYSPACE_ID + 1.
                    if next > crate::keyspace::MAX_KEYSPACE_ID + 1 {
                        return Err(Error::corruption(
                            id_at,
                            format!("next_keyspace_id {next} is over the limit"),
                        ));
                    }
                    set_once(&mut edit.next_keyspace_id, next, at)?
                }
                tag::KEYSPACE_LOG_NUMBER => {
                    let id = keyspace_id(&mut d)?;
                    let log_number = d.varint64("keyspace log_number")?;
                    edit.keyspace_log_numbers.push((id, log_number));
                }
                tag::ADD_BLOB_FILE => {
                    let keyspace = keyspace_id(&mut d)?;
                    edit.added_blob_files.push(BlobFileMeta {
                        keyspace,
                        file_number: d.varint64("blob file_number")?,
                        file_size: d.varint64("blob file_size")?,
                        record_count: d.varint64("blob record_count")?,
                        value_bytes: d.varint64("blob value_bytes")?,
                    });
                }
                tag::DELETE_BLOB_FILE => {
                    edit.deleted_blob_files
                        .push(d.varint64("delete blob file_number")?);
                }
                tag::SEGMENT_BLOB_REFS => segment_blob_refs(&mut d, &mut edit, at)?,
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

/// Tag 16: the blob references of the segment the edit added last (the encoder
/// writes them right after its tag 6 or 12), by blob file number strictly
/// ascending.
fn segment_blob_refs(d: &mut Decoder<'_>, edit: &mut VersionEdit, at: u64) -> Result<()> {
    let segment = d.varint64("blob refs segment")?;
    let count_at = d.offset();
    let count = d.varint32("blob refs count")?;
    if count == 0 || count > MAX_BLOB_REFS {
        return Err(Error::corruption(
            count_at,
            format!("a segment names {count} blob files (1 to {MAX_BLOB_REFS})"),
        ));
    }
    let Some((_, meta)) = edit
        .added_segments
        .last_mut()
        .filter(|(_, m)| m.file_number == segment)
    else {
        return Err(Error::corruption(
            at,
            format!(
                "blob references of segment {segment}, which is not the segment the edit added \
                 last"
            ),
        ));
    };
    if !meta.blob_refs.is_empty() {
        return Err(Error::corruption(
            at,
            format!("blob references of segment {segment} given twice"),
        ));
    }
    let mut refs = Vec::new();
    for _ in 0..count {
        let ref_at = d.offset();
        let r = BlobRef {
            blob_file: d.varint64("blob ref file_number")?,
            value_bytes: d.varint64("blob ref value_bytes")?,
        };
        if refs
            .last()
            .is_some_and(|p: &BlobRef| p.blob_file >= r.blob_file)
        {
            return Err(Error::corruption(
                ref_at,
                "blob references not in strictly ascending file number order",
            ));
        }
        refs.push(r);
    }
    meta.blob_refs = refs;
    Ok(())
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

fn keyspace_id(d: &mut Decoder<'_>) -> Result<KeyspaceId> {
    let at = d.offset();
    check_keyspace_id(d.varint32("keyspace id")?, at)
}

/// The keyspace of a segment record: read for tags 11 and 12 (never 0 there: one
/// encoding per record), 0 for tags 5 and 6.
fn segment_keyspace(d: &mut Decoder<'_>, named: bool) -> Result<KeyspaceId> {
    if !named {
        return Ok(DEFAULT_KEYSPACE);
    }
    let at = d.offset();
    let id = keyspace_id(d)?;
    if id == DEFAULT_KEYSPACE {
        return Err(Error::corruption(
            at,
            "segment record names keyspace 0, whose segments take tags 5 and 6",
        ));
    }
    Ok(id)
}
