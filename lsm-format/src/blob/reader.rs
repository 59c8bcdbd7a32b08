//! The blob file reader: `docs/format.md` section 8.
//!
//! `open` reads and checks the header and footer (two reads); `get` reads one
//! record with one read of exactly the bytes its pointer names, and checks it
//! (checksum, one whole record, the pointer's value length) before handing back
//! the value. `iter` walks every record; `verify` walks them all and checks them
//! against the footer.

use std::sync::Arc;

use bytes::Bytes;

use crate::blob::record::check_record;
use crate::blob::source::Source;
use crate::blob::{
    name_file, BlobFooter, BlobHeader, BlobIter, BlobPointer, BlobProperties, BlobRecord,
    BLOB_FOOTER_LEN, BLOB_HEADER_LEN,
};
use crate::error::{Error, Result};
use crate::file_name::blob_name;
use crate::segment::ReadAt;

/// How a [`BlobReader`] names its file.
///
/// ```
/// use lsm_format::blob::BlobReadOptions;
///
/// assert_eq!(BlobReadOptions::for_file(9).name(), "000009.blob");
/// ```
#[derive(Debug, Clone, Default)]
pub struct BlobReadOptions {
    /// Number of the file: [`BlobReader::get`] refuses a pointer into another one.
    pub file_number: u64,
    /// The name errors give; `None` names it `NNNNNN.blob` by its number.
    pub file_name: Option<String>,
}

impl BlobReadOptions {
    /// Options for blob file number `file_number`, named by its number.
    pub fn for_file(file_number: u64) -> Self {
        BlobReadOptions {
            file_number,
            file_name: None,
        }
    }

    /// The name errors give.
    pub fn name(&self) -> String {
        self.file_name
            .clone()
            .unwrap_or_else(|| blob_name(self.file_number))
    }
}

/// Reads a finished blob file. Cheap to clone (shared state); `Send` and `Sync`.
///
/// Every error about the file's bytes is a typed corruption error
/// ([`Error::is_corruption`]); a [`Error::Corruption`] names the file and the offset.
///
/// ```
/// use lsm_format::blob::{BlobReadOptions, BlobWriterOptions};
/// use lsm_format::{BlobReader, BlobWriter};
///
/// let mut w = BlobWriter::new(Vec::new(), BlobWriterOptions::default())?;
/// let pointer = w.add(b"key", b"value")?;
/// let mut file = w.finish()?.into_inner();
/// let reader = BlobReader::open(file.clone().into(), BlobReadOptions::default())?;
/// assert_eq!(&reader.get(&pointer)?[..], b"value");
///
/// file[pointer.offset as usize + 5] ^= 1; // a byte of the key
/// let reader = BlobReader::open(file.into(), BlobReadOptions::default())?;
/// let e = reader.get(&pointer).unwrap_err();
/// assert!(e.is_corruption());
/// assert!(e.to_string().contains("000000.blob"));
/// assert_eq!(e.offset(), Some(pointer.offset));
/// # Ok::<(), lsm_format::Error>(())
/// ```
#[derive(Clone)]
pub struct BlobReader {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    options: BlobReadOptions,
    name: String,
    properties: BlobProperties,
}

impl BlobReader {
    /// Opens a blob file over its complete bytes (typically a mapping). Values read
    /// from it are slices of `data` unless compressed.
    ///
    /// # Errors
    /// `Truncated`, `UnsupportedVersion` or `Corruption` when the header or footer
    /// is damaged or missing: a file cut short while being written has no valid
    /// footer (see [`BlobIter::recover`] for its complete records).
    pub fn open(data: Bytes, options: BlobReadOptions) -> Result<Self> {
        let len = data.len() as u64;
        Self::open_source(Source::Bytes(data), len, options)
    }

    /// Opens a blob file of `len` bytes read with positional reads: two reads here
    /// (header and footer), then one per [`get`](Self::get).
    ///
    /// # Errors
    /// As [`open`](Self::open), and `Io` when a read fails.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use lsm_format::blob::{BlobReadOptions, BlobWriterOptions};
    /// use lsm_format::segment::ReadAt;
    /// use lsm_format::{BlobReader, BlobWriter};
    ///
    /// struct File(Vec<u8>);
    /// impl ReadAt for File {
    ///     fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    ///         let start = offset as usize;
    ///         buf.copy_from_slice(&self.0[start..start + buf.len()]);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut w = BlobWriter::new(Vec::new(), BlobWriterOptions::default())?;
    /// let pointer = w.add(b"key", b"value")?;
    /// let file = w.finish()?.into_inner();
    /// let len = file.len() as u64;
    /// let reader = BlobReader::open_read_at(Arc::new(File(file)), len, BlobReadOptions::default())?;
    /// assert_eq!(&reader.get(&pointer)?[..], b"value");
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn open_read_at(file: Arc<dyn ReadAt>, len: u64, options: BlobReadOptions) -> Result<Self> {
        Self::open_source(Source::File(file), len, options)
    }

    fn open_source(source: Source, len: u64, options: BlobReadOptions) -> Result<Self> {
        let name = options.name();
        let opened = open_checked(&source, len);
        let properties = opened.map_err(|e| name_file(e, &name))?;
        Ok(BlobReader {
            inner: Arc::new(Inner {
                source,
                options,
                name,
                properties,
            }),
        })
    }

    /// What the header and footer say.
    pub fn properties(&self) -> &BlobProperties {
        &self.inner.properties
    }

    /// The options the reader was opened with.
    pub fn options(&self) -> &BlobReadOptions {
        &self.inner.options
    }

    /// The value `pointer` names, read with one read and checked: the record's
    /// checksum, that the bytes are exactly one record, and that its value has the
    /// pointer's length. An uncompressed value read from bytes is a slice of them.
    ///
    /// # Errors
    /// `InvalidArgument` for a pointer into another file (another file number);
    /// `Corruption` naming the file and the pointer's offset when the pointer lies
    /// outside the records or the bytes there are not the record it describes; `Io`
    /// when a positional read fails.
    pub fn get(&self, pointer: &BlobPointer) -> Result<Bytes> {
        Ok(self.get_record(pointer)?.value)
    }

    /// As [`get`](Self::get), with the record's key too: a caller that knows which
    /// key it looked up may check that the record is that key's.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// ```
    /// use lsm_format::blob::{BlobReadOptions, BlobWriterOptions};
    /// use lsm_format::{BlobReader, BlobWriter};
    ///
    /// let mut w = BlobWriter::new(Vec::new(), BlobWriterOptions::default())?;
    /// let pointer = w.add(b"key", b"value")?;
    /// let reader = BlobReader::open(w.finish()?.into_inner().into(), BlobReadOptions::default())?;
    /// let record = reader.get_record(&pointer)?;
    /// assert_eq!((&record.key[..], record.pointer), (&b"key"[..], pointer));
    /// # Ok::<(), lsm_format::Error>(())
    /// ```
    pub fn get_record(&self, pointer: &BlobPointer) -> Result<BlobRecord> {
        let inner = &*self.inner;
        if pointer.file_number != inner.options.file_number {
            return Err(Error::InvalidArgument(format!(
                "a pointer into blob file {} given to the reader of {}",
                pointer.file_number, inner.name
            )));
        }
        self.read_record(pointer)
            .map_err(|e| name_file(e, &inner.name))
    }

    fn read_record(&self, pointer: &BlobPointer) -> Result<BlobRecord> {
        let inner = &*self.inner;
        let end = pointer.offset.checked_add(u64::from(pointer.len));
        if pointer.offset < BLOB_HEADER_LEN as u64
            || end.is_none_or(|e| e > inner.properties.records_end)
        {
            return Err(Error::corruption(
                pointer.offset,
                format!(
                    "pointer to a record of {} bytes at {} lies outside the records \
                     ({BLOB_HEADER_LEN}..{})",
                    pointer.len, pointer.offset, inner.properties.records_end
                ),
            ));
        }
        let bytes = inner.source.read(pointer.offset, u64::from(pointer.len))?;
        let (head, key, value) =
            check_record(&bytes, pointer.offset, inner.properties.compression)?;
        if head.value_len != pointer.value_len {
            return Err(Error::corruption(
                pointer.offset,
                format!(
                    "the record holds a value of {} bytes, the pointer says {}",
                    head.value_len, pointer.value_len
                ),
            ));
        }
        Ok(BlobRecord {
            key,
            value,
            pointer: *pointer,
        })
    }

    /// Every record, in file order, each checked as [`get`](Self::get) checks it.
    /// After an error the iterator ends.
    pub fn iter(&self) -> BlobIter {
        let inner = &*self.inner;
        BlobIter::new(
            inner.source.clone(),
            inner.name.clone(),
            inner.options.file_number,
            inner.properties.compression,
            inner.properties.records_end,
        )
    }

    /// Reads and checks the whole file: every record (checksum, lengths,
    /// decompression), records that tile the bytes between header and footer
    /// exactly, and the footer's record count and value bytes.
    ///
    /// # Errors
    /// The first problem found, as a typed corruption error naming the file and
    /// offset; `Io` when a read fails.
    pub fn verify(&self) -> Result<()> {
        let (mut count, mut bytes) = (0u64, 0u64);
        for record in self.iter() {
            let record = record?;
            count += 1;
            bytes += u64::from(record.pointer.value_len);
        }
        let p = &self.inner.properties;
        if (count, bytes) != (p.record_count, p.value_bytes) {
            return Err(name_file(
                Error::corruption(
                    p.records_end,
                    format!(
                        "the footer counts {} records of {} value bytes, the file holds {count} \
                         of {bytes}",
                        p.record_count, p.value_bytes
                    ),
                ),
                &self.inner.name,
            ));
        }
        Ok(())
    }
}

/// Reads and checks the header and the footer of a file of `len` bytes.
fn open_checked(source: &Source, len: u64) -> Result<BlobProperties> {
    let needed = (BLOB_HEADER_LEN + BLOB_FOOTER_LEN) as u64;
    if len < needed {
        return Err(Error::Truncated { len, needed });
    }
    let header = BlobHeader::decode(&source.read(0, BLOB_HEADER_LEN as u64)?)?;
    let at = len - BLOB_FOOTER_LEN as u64;
    let footer = BlobFooter::decode(&source.read(at, BLOB_FOOTER_LEN as u64)?, len)?;
    Ok(BlobProperties::new(header, footer, len))
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("name", &self.inner.name)
            .field("properties", &self.inner.properties)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
