//! Where a blob reader's bytes come from: the whole file as [`Bytes`] (typically a
//! mapping), or positional reads ([`ReadAt`], as segments may read their data
//! blocks). Either way each read names an offset and a length, so a value costs
//! one read.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::segment::ReadAt;

#[derive(Clone)]
pub(crate) enum Source {
    /// The complete file.
    Bytes(Bytes),
    /// A file read with `pread`.
    File(Arc<dyn ReadAt>),
}

impl Source {
    /// The `len` bytes at `offset`; the caller has checked that they lie within the
    /// file. From [`Source::Bytes`] a slice without a copy.
    pub fn read(&self, offset: u64, len: u64) -> Result<Bytes> {
        match self {
            Source::Bytes(data) => {
                let range = usize::try_from(offset)
                    .ok()
                    .zip(usize::try_from(len).ok())
                    .and_then(|(s, n)| Some(s..s.checked_add(n)?))
                    .filter(|r| r.end <= data.len());
                match range {
                    Some(r) => Ok(data.slice(r)),
                    None => Err(Error::corruption(
                        offset,
                        format!("{len} bytes at {offset} lie past the end of the file"),
                    )),
                }
            }
            Source::File(file) => {
                let len = usize::try_from(len).map_err(|_| {
                    Error::corruption(offset, format!("read of {len} bytes is too large"))
                })?;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, offset)?;
                Ok(Bytes::from(buf))
            }
        }
    }
}
