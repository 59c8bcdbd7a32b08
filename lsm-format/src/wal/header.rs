//! The WAL header record and format detection: `docs/format.md` section 5.
//!
//! A WAL of format 2 or later begins with a record of exactly [`WAL_HEADER_LEN`] bytes,
//! always in [`LogFraming::Wide`]: the magic `lsmwal` and the format version. A
//! format-1 WAL has no header; its first record is a batch, whose fixed-width header
//! alone is 20 bytes, so an 8-byte first record tells the two apart without
//! ambiguity.

use crate::error::{Error, Result};
use crate::log::{LogFraming, LogWriter};

use super::batch::{decode_batch, WalBatch};
use super::WAL_FORMAT_VERSION;

/// The six bytes a format-2 (or later) WAL's header record starts with.
pub const WAL_MAGIC: [u8; 6] = *b"lsmwal";

/// Length of the header record's payload: the magic and a `u16` version.
pub const WAL_HEADER_LEN: usize = 8;

/// The WAL format versions this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalFormat {
    /// Fixed-width batch headers, no header record.
    V1,
    /// Varint batch headers after a header record.
    V2,
    /// As format 2, with the records after the header in [`LogFraming::Narrow`]
    /// (4-byte fragment checksums).
    V3,
    /// As format 3, with two more op kinds: range deletes (kind 2) and expiring
    /// puts (kind 3).
    V4,
    /// As format 4, with ops that may name a keyspace: a kind byte with
    /// [`KEYSPACE_FLAG`](super::KEYSPACE_FLAG) set is followed by the keyspace id.
    V5,
}

impl WalFormat {
    /// The format the writer writes ([`WAL_FORMAT_VERSION`]): the one
    /// [`encode_wal_header`] names.
    pub const CURRENT: WalFormat = WalFormat::V5;

    /// The version number.
    pub fn version(self) -> u32 {
        match self {
            WalFormat::V1 => 1,
            WalFormat::V2 => 2,
            WalFormat::V3 => 3,
            WalFormat::V4 => 4,
            WalFormat::V5 => 5,
        }
    }

    /// The framing of the file's batch records.
    pub fn framing(self) -> LogFraming {
        match self {
            WalFormat::V1 | WalFormat::V2 => LogFraming::Wide,
            WalFormat::V3 | WalFormat::V4 | WalFormat::V5 => LogFraming::Narrow,
        }
    }
}

/// Appends the payload of the header record the writer puts first in every WAL,
/// framed [`LogFraming::Wide`] whatever the version (so that a reader that knows only
/// older versions reads it and refuses the file as an unsupported version, rather
/// than taking the records it cannot frame for a torn tail).
pub fn encode_wal_header(out: &mut Vec<u8>) {
    encode_wal_header_of(WalFormat::CURRENT, out);
}

/// Appends the payload of the header record of a WAL in `format` (tests and tools
/// that make files of older formats); nothing for format 1, which has none.
pub fn encode_wal_header_of(format: WalFormat, out: &mut Vec<u8>) {
    if format == WalFormat::V1 {
        return;
    }
    out.extend_from_slice(&WAL_MAGIC);
    out.extend_from_slice(&(format.version() as u16).to_le_bytes());
}

/// Starts a WAL file of `format` in the empty buffer `out`: appends its header
/// record (none in format 1), framed [`LogFraming::Wide`] as in every format, and
/// returns the framer for its batches, in the format's framing.
pub fn start_wal(format: WalFormat, out: &mut Vec<u8>) -> LogWriter {
    debug_assert!(out.is_empty(), "a WAL's header is its first record");
    let mut log = LogWriter::new(0);
    if format != WalFormat::V1 {
        let mut header = Vec::with_capacity(WAL_HEADER_LEN);
        encode_wal_header_of(format, &mut header);
        log.add_record(&header, out);
    }
    log.set_framing(format.framing());
    log
}

/// The format a WAL's first record names: `Some` for a header record, `None` for
/// anything else (a format-1 file, whose first record is a batch).
pub(super) fn parse_header(payload: &[u8]) -> Result<Option<WalFormat>> {
    let Ok(header) = <&[u8; WAL_HEADER_LEN]>::try_from(payload) else {
        return Ok(None);
    };
    let (magic, version) = header.split_at(WAL_MAGIC.len());
    if magic != WAL_MAGIC {
        return Ok(None);
    }
    let Ok(version) = <[u8; 2]>::try_from(version) else {
        return Ok(None);
    };
    match u16::from_le_bytes(version) {
        2 => Ok(Some(WalFormat::V2)),
        3 => Ok(Some(WalFormat::V3)),
        4 => Ok(Some(WalFormat::V4)),
        5 => Ok(Some(WalFormat::V5)),
        found => Err(Error::UnsupportedVersion {
            found: u32::from(found),
            supported: WAL_FORMAT_VERSION,
        }),
    }
}

/// One decoded WAL record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalRecord<'a> {
    /// The header record that starts a file of format 2 or later.
    Header(WalFormat),
    /// A write batch.
    Batch(WalBatch<'a>),
}

/// Decodes the records of one WAL file in order, learning the file's format from
/// its first record.
#[derive(Debug, Clone, Default)]
pub struct WalRecordDecoder {
    format: Option<WalFormat>,
}

impl WalRecordDecoder {
    /// A decoder that has seen no record yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder for the records of a file whose format is already known.
    pub fn with_format(format: WalFormat) -> Self {
        WalRecordDecoder {
            format: Some(format),
        }
    }

    /// The file's format, once its first record was decoded.
    pub fn format(&self) -> Option<WalFormat> {
        self.format
    }

    /// Decodes the record whose first fragment header is at file offset
    /// `record_offset`. Records must come in file order, starting with the file's
    /// first record (offset 0), unless the decoder was made
    /// [`with_format`](Self::with_format).
    ///
    /// # Errors
    /// `UnsupportedVersion` for a header naming a format this crate does not read;
    /// `Corruption` for a batch that does not decode, a header anywhere but first,
    /// or a record after offset 0 when the file's format is not known yet.
    pub fn decode<'a>(&mut self, record_offset: u64, payload: &'a [u8]) -> Result<WalRecord<'a>> {
        if record_offset == 0 {
            if let Some(format) = parse_header(payload)? {
                self.format = Some(format);
                return Ok(WalRecord::Header(format));
            }
            self.format.get_or_insert(WalFormat::V1);
        } else if payload.len() == WAL_HEADER_LEN && payload.starts_with(&WAL_MAGIC) {
            return Err(Error::corruption(
                record_offset,
                "a WAL header record after the start of the file",
            ));
        }
        let format = self.format.ok_or_else(|| {
            Error::corruption(
                record_offset,
                "the WAL's first record is unreadable, so its format is unknown",
            )
        })?;
        // Errors name file offsets: the payload starts after the fragment header.
        let at = record_offset + format.framing().header_len() as u64;
        decode_batch(payload, at, format).map(WalRecord::Batch)
    }
}
