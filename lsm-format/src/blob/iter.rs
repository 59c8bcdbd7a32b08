//! Walking the records of a blob file in order: [`BlobIter`], for garbage
//! collection and verification, and for recovering the complete records of a file
//! cut short (`docs/format.md` section 8.5).

use bytes::Bytes;

use crate::blob::record::{check_record, RecordHead};
use crate::blob::source::Source;
use crate::blob::{
    name_file, BlobFooter, BlobHeader, BlobPointer, BlobReadOptions, BLOB_FOOTER_LEN,
    BLOB_HEADER_LEN, MAX_RECORD_HEAD_LEN,
};
use crate::error::{Error, Result};
use crate::segment::Compression;

/// One record of a blob file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    /// The key the value was written for.
    pub key: Bytes,
    /// The value, decompressed.
    pub value: Bytes,
    /// Where the record is: what [`BlobReader::get`](crate::BlobReader::get) takes.
    pub pointer: BlobPointer,
}

/// The records of a blob file in file order, each checked (checksum, lengths,
/// decompression). Yields `Err` for the first record that does not check, then
/// ends. Made by [`BlobReader::iter`](crate::BlobReader::iter) or
/// [`BlobIter::recover`].
pub struct BlobIter {
    source: Source,
    name: String,
    file_number: u64,
    compression: Compression,
    /// Offset of the next record.
    position: u64,
    /// Where the records end.
    end: u64,
    done: bool,
}

impl BlobIter {
    pub(crate) fn new(
        source: Source,
        name: String,
        file_number: u64,
        compression: Compression,
        end: u64,
    ) -> Self {
        BlobIter {
            source,
            name,
            file_number,
            compression,
            position: BLOB_HEADER_LEN as u64,
            end,
            done: false,
        }
    }

    /// The records of a file that may have been cut short by a crash while it was
    /// written: those of a finished file (one with a valid footer) up to the
    /// footer, and otherwise every complete record from the header on. A cut file
    /// yields its complete records, then an error at the first byte after them
    /// (unless the cut fell exactly between two records); [`position`](Self::position)
    /// then tells how much of the file holds whole records.
    ///
    /// # Errors
    /// `Truncated`, `UnsupportedVersion` or `Corruption` when the header is
    /// damaged: without it nothing in the file can be read.
    ///
    /// ```
    /// use lsm_format::blob::{BlobIter, BlobReadOptions, BlobWriterOptions};
    /// use lsm_format::{BlobReader, BlobWriter};
    ///
    /// let mut w = BlobWriter::new(Vec::new(), BlobWriterOptions::default())?;
    /// w.add(b"a", b"one")?;
    /// let second = w.add(b"b", b"two")?;
    /// let file = w.finish()?.into_inner();
    /// // A crash in the middle of the second record.
    /// let cut = file[..second.offset as usize + 5].to_vec();
    /// assert!(BlobReader::open(cut.clone().into(), BlobReadOptions::default()).is_err());
    /// let mut records = BlobIter::recover(cut.into(), BlobReadOptions::default())?;
    /// assert_eq!(&records.next().unwrap()?.key[..], b"a");
    /// assert!(records.next().unwrap().unwrap_err().is_corruption());
    /// assert!(records.next().is_none());
    /// assert_eq!(records.position(), second.offset);
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn recover(data: Bytes, options: BlobReadOptions) -> Result<BlobIter> {
        let name = options.name();
        let header = BlobHeader::decode(&data).map_err(|e| name_file(e, &name))?;
        let len = data.len() as u64;
        let footer = data
            .len()
            .checked_sub(BLOB_FOOTER_LEN)
            .and_then(|at| data.get(at..))
            .and_then(|bytes| BlobFooter::decode(bytes, len).ok());
        let end = footer.map_or(len, |f| f.records_end);
        Ok(BlobIter::new(
            Source::Bytes(data),
            name,
            options.file_number,
            header.compression,
            end,
        ))
    }

    /// Offset of the next record; once the iterator has ended, the end of the last
    /// record it yielded (the header's end if none).
    pub fn position(&self) -> u64 {
        self.position
    }

    fn read_next(&mut self) -> Result<BlobRecord> {
        let at = self.position;
        let left = self.end - at;
        let head_bytes = self.source.read(at, left.min(MAX_RECORD_HEAD_LEN as u64))?;
        let head = RecordHead::decode(&head_bytes, at, self.compression)?;
        let len = head.record_len();
        if len > left {
            return Err(Error::corruption(
                at,
                format!(
                    "a record of {len} bytes runs past the end of the records at {} (a file cut \
                     short ends in such a record)",
                    self.end
                ),
            ));
        }
        let bytes = self.source.read(at, len)?;
        let (head, key, value) = check_record(&bytes, at, self.compression)?;
        self.position = at + len;
        Ok(BlobRecord {
            key,
            value,
            pointer: BlobPointer {
                file_number: self.file_number,
                offset: at,
                // At most MAX_RECORD_LEN: the head's limits hold.
                len: len as u32,
                value_len: head.value_len,
            },
        })
    }
}

impl Iterator for BlobIter {
    type Item = Result<BlobRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.position >= self.end {
            self.done = true;
            return None;
        }
        let next = self.read_next();
        if next.is_err() {
            self.done = true;
        }
        Some(next.map_err(|e| name_file(e, &self.name)))
    }
}

impl std::fmt::Debug for BlobIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobIter")
            .field("name", &self.name)
            .field("position", &self.position)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}
