//! Checks of blob files (`docs/format.md` section 8): any bytes opened, walked,
//! verified, read through the pointers the walk yields, read again with positional
//! reads, and recovered as a file cut short.

use std::sync::Arc;

use bytes::Bytes;

use crate::blob::{BlobIter, BlobReadOptions, BlobRecord, BLOB_FOOTER_LEN, BLOB_HEADER_LEN};
use crate::segment::ReadAt;
use crate::{BlobPointer, BlobReader, Result};

/// The file number the checks open every input as.
const FILE_NUMBER: u64 = 7;

/// An in-memory file read with positional reads.
struct InMemory(Vec<u8>);

impl ReadAt for InMemory {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// A walk's results, errors as text, so that two walks can be compared.
fn walk(iter: BlobIter) -> Vec<Result<BlobRecord, String>> {
    iter.take(super::MAX_WALK)
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// Opens `data` as blob file 7 and, independently, decodes it as a pointer.
///
/// - Every error is typed corruption, and a walk yields an error only last.
/// - The records a walk yields are contiguous from the header on, and each reads
///   back identically through its pointer (with bytes and with positional reads,
///   which also walk identically); a pointer round-trips through its encoding.
/// - A file that verifies clean walks without error to the footer, and its records
///   count and measure what the footer says.
/// - Recovering the file as one cut short walks it exactly as the reader does when
///   it opens; when it does not open, what is recovered is contiguous too.
/// - Any pointer (one taken from the input's first bytes) reads without panicking,
///   and a value it reads has its length.
pub fn blob_decode(data: &[u8]) {
    if let Ok(p) = BlobPointer::decode(data) {
        let again = p.to_vec();
        assert!(again.len() <= data.len());
        assert_eq!(BlobPointer::decode(&again).unwrap(), p);
    }
    let options = BlobReadOptions::for_file(FILE_NUMBER);
    let bytes = Bytes::copy_from_slice(data);
    let recovered = BlobIter::recover(bytes.clone(), options.clone()).map(walk);
    match &recovered {
        Ok(records) => check_walk(records),
        Err(e) => assert!(data.len() < BLOB_HEADER_LEN || e.is_corruption(), "{e}"),
    }
    let reader = match BlobReader::open(bytes, options.clone()) {
        Ok(reader) => reader,
        Err(e) => {
            assert!(e.is_corruption(), "{e}");
            return;
        }
    };
    let p = *reader.properties();
    assert_eq!(p.file_size, data.len() as u64);
    assert_eq!(p.records_end + BLOB_FOOTER_LEN as u64, p.file_size);
    let walked = walk(reader.iter());
    check_walk(&walked);
    assert_eq!(
        recovered.as_ref().ok(),
        Some(&walked),
        "recovering a finished file walks it as its reader does"
    );
    let positional = BlobReader::open_read_at(
        Arc::new(InMemory(data.to_vec())),
        data.len() as u64,
        options,
    )
    .unwrap();
    assert_eq!(positional.properties(), &p);
    assert_eq!(walk(positional.iter()), walked);
    for record in walked.iter().flatten() {
        let pointer = record.pointer;
        assert_eq!(record.value.len(), pointer.value_len as usize);
        assert_eq!(BlobPointer::decode(&pointer.to_vec()).unwrap(), pointer);
        assert_eq!(&reader.get_record(&pointer).unwrap(), record);
        assert_eq!(&positional.get_record(&pointer).unwrap(), record);
    }
    match reader.verify() {
        Ok(()) => {
            assert!(walked.iter().all(Result::is_ok));
            let end = walked.last().map_or(BLOB_HEADER_LEN as u64, |r| {
                let p = r.as_ref().unwrap().pointer;
                p.offset + u64::from(p.len)
            });
            assert_eq!(end, p.records_end);
            assert_eq!(walked.len() as u64, p.record_count);
            let bytes: u64 = walked
                .iter()
                .flatten()
                .map(|r| u64::from(r.pointer.value_len))
                .sum();
            assert_eq!(bytes, p.value_bytes);
            positional.verify().unwrap();
        }
        Err(e) => {
            assert!(e.is_corruption(), "{e}");
            assert!(positional.verify().is_err());
        }
    }
    if let Some(head) = data.get(..10) {
        let word = |i: usize| u64::from(u16::from_le_bytes([head[i], head[i + 1]]));
        let pointer = BlobPointer {
            file_number: FILE_NUMBER,
            offset: word(0),
            len: word(2) as u32,
            value_len: word(4) as u32,
        };
        match reader.get(&pointer) {
            Ok(value) => assert_eq!(value.len(), pointer.value_len as usize),
            Err(e) => assert!(e.is_corruption(), "{pointer:?}: {e}"),
        }
    }
}

/// A walk yields records contiguous from the header on, then at most one error.
fn check_walk(walked: &[Result<BlobRecord, String>]) {
    let mut next = BLOB_HEADER_LEN as u64;
    for (i, r) in walked.iter().enumerate() {
        match r {
            Ok(r) => {
                assert_eq!(r.pointer.offset, next, "records are contiguous");
                assert_eq!(r.pointer.file_number, FILE_NUMBER);
                next += u64::from(r.pointer.len);
            }
            Err(_) => assert_eq!(i + 1, walked.len(), "an error ends the walk"),
        }
    }
}
