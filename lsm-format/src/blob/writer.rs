//! The blob file writer: `docs/format.md` section 8.
//!
//! The header is written when the writer is made, each record as it is added, the
//! footer by `finish`. Nothing but the current record is held in memory.

use std::io::{self, Write};

use crate::blob::record::{compress_value, RecordHead};
use crate::blob::{BlobFooter, BlobHeader, BlobPointer, BlobProperties, BLOB_HEADER_LEN};
use crate::checksum::checksum_parts;
use crate::entry::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::error::{Error, Result};
use crate::keyspace::{KeyspaceId, MAX_KEYSPACE_ID};
use crate::segment::Compression;

/// How a [`BlobWriter`] writes its file.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlobWriterOptions {
    /// Number of the file being written, which every [`BlobPointer`] names.
    pub file_number: u64,
    /// The keyspace whose values the file holds, stored in its header.
    pub keyspace: KeyspaceId,
    /// Whether values may be LZ4-compressed. With [`Compression::Lz4`] each value is
    /// stored compressed only if that saves at least 1/8 of it. Default none. Blob
    /// files know no zstd (`docs/format.md` section 8): [`Compression::Zstd`] writes
    /// LZ4, so an engine whose segments use zstd still compresses its blob files.
    pub compression: Compression,
}

/// Writes a blob file record by record, to any [`Write`].
///
/// Each record is handed to the output as four `write_all` calls (head, key, value,
/// checksum): give it a buffered writer when writes are costly. After an I/O error
/// the writer refuses every further call: the output is in an unknown state.
/// `finish` flushes the output but does not sync it; making the file durable, and
/// only then storing its pointers, is the caller's job.
///
/// ```
/// use lsm_format::blob::BlobWriterOptions;
/// use lsm_format::{BlobWriter, Compression};
///
/// let options = BlobWriterOptions { file_number: 3, keyspace: 1, compression: Compression::None };
/// let mut w = BlobWriter::new(Vec::new(), options)?;
/// let first = w.add(b"a", b"one")?;
/// let second = w.add(b"b", b"two")?;
/// assert_eq!((first.offset, first.len, first.value_len), (25, 15, 3));
/// assert_eq!(second.offset, first.offset + u64::from(first.len));
/// let finished = w.finish()?;
/// assert_eq!(finished.properties.record_count, 2);
/// assert_eq!(finished.out.len() as u64, finished.properties.file_size);
/// # Ok::<(), lsm_format::Error>(())
/// ```
pub struct BlobWriter<W: Write> {
    out: W,
    options: BlobWriterOptions,
    /// Bytes written to `out` so far.
    offset: u64,
    record_count: u64,
    value_bytes: u64,
    head: Vec<u8>,
    compressed: Vec<u8>,
    failed: Option<String>,
}

impl<W: Write> BlobWriter<W> {
    /// A writer that writes the header of a new blob file to `out` now.
    ///
    /// # Errors
    /// `InvalidArgument` for a keyspace id over [`MAX_KEYSPACE_ID`]; `Io` when
    /// `out` fails.
    pub fn new(out: W, options: BlobWriterOptions) -> Result<Self> {
        if options.keyspace > MAX_KEYSPACE_ID {
            return Err(Error::InvalidArgument(format!(
                "keyspace id {} is over the limit {MAX_KEYSPACE_ID}",
                options.keyspace
            )));
        }
        let mut options = options;
        if options.compression == Compression::Zstd {
            options.compression = Compression::Lz4;
        }
        let mut writer = BlobWriter {
            out,
            options,
            offset: 0,
            record_count: 0,
            value_bytes: 0,
            head: Vec::new(),
            compressed: Vec::new(),
            failed: None,
        };
        let header = BlobHeader::new(options.keyspace, options.compression).encode();
        writer.write(&header)?;
        Ok(writer)
    }

    /// Appends one record and returns the pointer to it. Empty keys and values are
    /// allowed; the key is kept for garbage collection, which asks the LSM whether
    /// the record is still live.
    ///
    /// # Errors
    /// `InvalidArgument` for a key over [`MAX_KEY_LEN`] or a value over
    /// [`MAX_VALUE_LEN`] (nothing is written; the writer stays usable); `Io` when
    /// the output fails.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<BlobPointer> {
        self.check_usable()?;
        if key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
            return Err(Error::InvalidArgument(format!(
                "blob record with a key of {} bytes (at most {MAX_KEY_LEN}) and a value of {} \
                 (at most {MAX_VALUE_LEN})",
                key.len(),
                value.len()
            )));
        }
        let mut compressed = std::mem::take(&mut self.compressed);
        let lz4 =
            self.options.compression == Compression::Lz4 && compress_value(value, &mut compressed);
        let (compression, stored) = if lz4 {
            (Compression::Lz4, &compressed[..])
        } else {
            (Compression::None, value)
        };
        // Both lengths are within the limits checked above.
        let head = RecordHead::new(
            compression,
            key.len() as u32,
            value.len() as u32,
            stored.len() as u32,
        );
        self.head.clear();
        head.encode(&mut self.head);
        let sum = checksum_parts(&[&self.head, key, stored]).to_le_bytes();
        let pointer = BlobPointer {
            file_number: self.options.file_number,
            offset: self.offset,
            len: head.record_len() as u32,
            value_len: value.len() as u32,
        };
        let head_bytes = std::mem::take(&mut self.head);
        let written = [&head_bytes[..], key, stored, &sum]
            .into_iter()
            .try_for_each(|part| self.write(part));
        self.head = head_bytes;
        self.compressed = compressed;
        written?;
        self.record_count += 1;
        self.value_bytes += value.len() as u64;
        Ok(pointer)
    }

    /// Bytes written so far: what the file would hold, without its 40-byte footer,
    /// if it were finished now. The engine starts a new blob file when this reaches
    /// its size target.
    pub fn file_size(&self) -> u64 {
        self.offset
    }

    /// Number of records added.
    pub fn record_count(&self) -> u64 {
        self.record_count
    }

    /// Writes the footer, flushes the output and returns it with the file's
    /// properties.
    ///
    /// # Errors
    /// `Io` when the output fails, or failed before.
    pub fn finish(mut self) -> Result<BlobFinished<W>> {
        self.check_usable()?;
        let footer = BlobFooter {
            record_count: self.record_count,
            value_bytes: self.value_bytes,
            records_end: self.offset,
        };
        self.write(&footer.encode())?;
        let flushed = self.out.flush();
        self.io(flushed)?;
        let header = BlobHeader::new(self.options.keyspace, self.options.compression);
        debug_assert!(self.offset >= BLOB_HEADER_LEN as u64);
        Ok(BlobFinished {
            out: self.out,
            properties: BlobProperties::new(header, footer, self.offset),
        })
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
                "blob writer failed earlier and refuses further writes: {why}"
            )))),
        }
    }
}

/// What [`BlobWriter::finish`] returns.
#[derive(Debug)]
pub struct BlobFinished<W> {
    /// The output, flushed.
    pub out: W,
    /// What the header and footer say, and the file's size.
    pub properties: BlobProperties,
}

impl<W> BlobFinished<W> {
    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FailAfter(usize, Vec<u8>);

    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.1.len() + buf.len() > self.0 {
                return Err(io::Error::other("disk full"));
            }
            self.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn refused_records_leave_no_trace_and_io_errors_stick() {
        let mut w = BlobWriter::new(Vec::new(), BlobWriterOptions::default()).unwrap();
        let big_key = vec![0; MAX_KEY_LEN + 1];
        assert!(matches!(
            w.add(&big_key, b""),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!((w.file_size(), w.record_count()), (25, 0));
        w.add(b"", b"").unwrap();
        assert_eq!(w.finish().unwrap().properties.file_size, 25 + 11 + 40);

        let mut w = BlobWriter::new(FailAfter(40, Vec::new()), Default::default()).unwrap();
        assert!(matches!(w.add(b"key", &[1; 20]), Err(Error::Io(_))));
        assert!(matches!(w.add(b"", b""), Err(Error::Io(_))));
        assert!(w.finish().is_err());
        let options = BlobWriterOptions {
            keyspace: MAX_KEYSPACE_ID + 1,
            ..Default::default()
        };
        assert!(BlobWriter::new(Vec::new(), options).is_err());
    }

    #[test]
    fn values_are_compressed_only_when_it_pays() {
        let options = BlobWriterOptions {
            compression: Compression::Lz4,
            ..Default::default()
        };
        let mut w = BlobWriter::new(Vec::new(), options).unwrap();
        let compressible = w.add(b"k", &[9; 1000]).unwrap();
        assert!(compressible.len < 100, "{compressible:?}");
        let tiny = w.add(b"k", b"abc").unwrap();
        assert_eq!(tiny.len, 1 + 1 + 1 + 1 + 3 + 8);
        let p = w.finish().unwrap().properties;
        assert_eq!((p.record_count, p.value_bytes), (2, 1003));
    }
}
