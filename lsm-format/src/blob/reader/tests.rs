use std::sync::Arc;

use super::*;
use crate::blob::{BlobWriter, BlobWriterOptions};
use crate::segment::Compression;

struct File(Vec<u8>);

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        match self.0.get(start..start + buf.len()) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// Key, value and pointer of each record written.
type Written = Vec<(Vec<u8>, Vec<u8>, BlobPointer)>;

fn file(compression: Compression) -> (Vec<u8>, Written) {
    let options = BlobWriterOptions {
        file_number: 4,
        keyspace: 2,
        compression,
    };
    let mut w = BlobWriter::new(Vec::new(), options).unwrap();
    let mut records = Vec::new();
    for i in 0..20u8 {
        let key = vec![b'k', i];
        let value = if i % 2 == 0 {
            vec![i; usize::from(i) * 13]
        } else {
            (0..u32::from(i) * 7)
                .map(|j| (j.wrapping_mul(2654435761) >> 9) as u8)
                .collect()
        };
        let p = w.add(&key, &value).unwrap();
        records.push((key, value, p));
    }
    (w.finish().unwrap().into_inner(), records)
}

#[test]
fn bytes_and_positional_reads_agree() {
    for compression in [Compression::None, Compression::Lz4] {
        let (bytes, records) = file(compression);
        let len = bytes.len() as u64;
        let a = BlobReader::open(bytes.clone().into(), BlobReadOptions::for_file(4)).unwrap();
        let b = BlobReader::open_read_at(Arc::new(File(bytes)), len, BlobReadOptions::for_file(4))
            .unwrap();
        for reader in [&a, &b] {
            assert_eq!(reader.properties().record_count, 20);
            assert_eq!(reader.properties().keyspace, 2);
            for (key, value, p) in &records {
                let r = reader.get_record(p).unwrap();
                assert_eq!((&r.key[..], &r.value[..]), (&key[..], &value[..]));
            }
            let walked: Vec<_> = reader.iter().map(Result::unwrap).collect();
            assert_eq!(walked.len(), 20);
            for (r, (key, value, p)) in walked.iter().zip(&records) {
                assert_eq!(
                    (&r.key[..], &r.value[..], &r.pointer),
                    (&key[..], &value[..], p)
                );
            }
            reader.verify().unwrap();
        }
    }
}

#[test]
fn pointers_that_do_not_fit_the_file_are_refused() {
    let (bytes, records) = file(Compression::Lz4);
    let reader = BlobReader::open(bytes.into(), BlobReadOptions::for_file(4)).unwrap();
    let p = records[3].2;
    let other_file = BlobPointer {
        file_number: 5,
        ..p
    };
    assert!(matches!(
        reader.get(&other_file),
        Err(Error::InvalidArgument(_))
    ));
    let end = reader.properties().records_end;
    for bad in [
        BlobPointer { offset: 3, ..p },
        BlobPointer { offset: end, ..p },
        BlobPointer {
            offset: u64::MAX,
            ..p
        },
        BlobPointer {
            len: p.len + 1,
            ..p
        },
        BlobPointer {
            len: p.len - 1,
            ..p
        },
        BlobPointer {
            offset: p.offset + 1,
            ..p
        },
        BlobPointer {
            value_len: p.value_len + 1,
            ..p
        },
    ] {
        let e = reader.get(&bad).unwrap_err();
        assert!(e.is_corruption(), "{bad:?}: {e}");
        assert!(e.to_string().contains("000004.blob"), "{e}");
        assert_eq!(e.offset(), Some(bad.offset), "{e}");
    }
}

#[test]
fn a_footer_that_miscounts_fails_verify() {
    let (mut bytes, _) = file(Compression::None);
    let at = bytes.len() - BLOB_FOOTER_LEN;
    let mut footer = BlobFooter::decode(&bytes[at..], bytes.len() as u64).unwrap();
    footer.value_bytes -= 1;
    bytes[at..].copy_from_slice(&footer.encode());
    let reader = BlobReader::open(bytes.into(), BlobReadOptions::for_file(4)).unwrap();
    assert_eq!(reader.iter().count(), 20);
    let e = reader.verify().unwrap_err();
    assert!(e.is_corruption() && e.offset() == Some(at as u64), "{e}");
}

#[test]
fn an_empty_file_opens_and_verifies() {
    let w = BlobWriter::new(Vec::new(), BlobWriterOptions::default()).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(bytes.len(), BLOB_HEADER_LEN + BLOB_FOOTER_LEN);
    let reader = BlobReader::open(bytes.into(), BlobReadOptions::default()).unwrap();
    assert_eq!(reader.iter().count(), 0);
    reader.verify().unwrap();
}
