//! Positional reads: [`ReadAt`], the alternative to the mapped bytes for data
//! blocks (`docs/format.md` section 3.1 gives the framing each read checks).

/// Positional reads of the file a [`SegmentReader`](crate::segment::SegmentReader) was opened on (`pread`).
pub trait ReadAt: Send + Sync {
    /// Fills `buf` with the file's bytes at `offset..offset + buf.len()`.
    ///
    /// # Errors
    /// Any I/O error, including `UnexpectedEof` when the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;

    /// Asked before each data block read: `true` sends it to the bytes the reader
    /// was opened on instead (as if [`ReadOptions::read_at`](crate::segment::ReadOptions::read_at) were unset), so that the
    /// owner can switch a file between the two, for instance under a memory budget.
    /// The default is `false`.
    fn read_from_bytes(&self) -> bool {
        false
    }
}
