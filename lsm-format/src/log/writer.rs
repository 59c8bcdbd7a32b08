//! Framing records into log blocks: `docs/format.md` section 4.

/// Frames records into log fragments. Holds only the position within the current
/// 32 KiB block; the bytes go to a caller-owned buffer.
#[derive(Debug, Clone)]
pub struct LogWriter {
    _block_offset: usize,
}

impl LogWriter {
    /// A framer for a log file that already holds `file_len` bytes (0 for a new file).
    pub fn new(file_len: u64) -> Self {
        let _ = file_len;
        todo!()
    }

    /// Appends the fragments of one record (and any block padding before them) to
    /// `out`. The caller writes `out` to the file at the current end.
    pub fn add_record(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let _ = (payload, out);
        todo!()
    }
}
