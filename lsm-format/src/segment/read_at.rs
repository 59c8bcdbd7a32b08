//! Positional reads: [`ReadAt`], the alternative to the mapped bytes for data
//! blocks that a [`BlockSource`](crate::segment::BlockSource) may offer
//! (`docs/format.md` section 3.1 gives the framing each read checks).

/// Positional reads of the file a [`SegmentReader`](crate::segment::SegmentReader) was
/// opened on (`pread`).
pub trait ReadAt: Send + Sync {
    /// Fills `buf` with the file's bytes at `offset..offset + buf.len()`.
    ///
    /// # Errors
    /// Any I/O error, including `UnexpectedEof` when the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}
