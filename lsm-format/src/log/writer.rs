//! Framing records into log blocks: `docs/format.md` section 4.
//!
//! ```text
//! fragment := checksum:u64 len:u16 type:u8 payload[len]     ; LogFraming::Wide
//! fragment := checksum:u32 len:u16 type:u8 payload[len]     ; LogFraming::Narrow
//! checksum  = xxh3_64(len || type || payload)  (Narrow: its low 32 bits)
//! ```
//!
//! Invariant: a fragment never crosses a [`LOG_BLOCK_SIZE`] boundary. When fewer
//! bytes than a header remain in a block they are written as zeros and the next
//! fragment starts the following block, so a reader can always resynchronise at a
//! block boundary.

use super::{FragmentType, LogFraming, LOG_BLOCK_SIZE, MAX_LOG_RECORD_LEN};
use crate::checksum::checksum_parts;

/// Frames records into log fragments. Holds only the position within the current
/// 32 KiB block and the framing; the bytes go to a caller-owned buffer.
#[derive(Debug, Clone)]
pub struct LogWriter {
    /// Offset of the next byte within its block; always `< LOG_BLOCK_SIZE` between
    /// calls.
    block_offset: usize,
    framing: LogFraming,
}

impl LogWriter {
    /// A [`LogFraming::Wide`] framer for a log file that already holds `file_len`
    /// bytes (0 for a new file).
    ///
    /// The file must end where its last complete record ends (a reader's
    /// [`LogRecord::end`](super::LogRecord::end) of the last record, or 0): the
    /// caller truncates a torn tail before appending.
    pub fn new(file_len: u64) -> Self {
        Self::with_framing(file_len, LogFraming::Wide)
    }

    /// A framer that writes `framing` fragments from `file_len` on.
    pub fn with_framing(file_len: u64, framing: LogFraming) -> Self {
        // The remainder is < LOG_BLOCK_SIZE, so the cast cannot truncate.
        LogWriter {
            block_offset: (file_len % LOG_BLOCK_SIZE as u64) as usize,
            framing,
        }
    }

    /// Writes the following records with `framing` (a WAL of format 3 or later switches to
    /// [`LogFraming::Narrow`] after its header record).
    pub fn set_framing(&mut self, framing: LogFraming) {
        self.framing = framing;
    }

    /// The framing of the next record.
    pub fn framing(&self) -> LogFraming {
        self.framing
    }

    /// Appends the fragments of one record (and any block padding before them) to
    /// `out`. The caller writes `out` to the file at the current end.
    ///
    /// The caller keeps records at most [`MAX_LOG_RECORD_LEN`] bytes long (checked
    /// with `debug_assert!`); a reader reports a longer record as damage.
    pub fn add_record(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        debug_assert!(payload.len() <= MAX_LOG_RECORD_LEN);
        out.reserve(self.framed_len(payload.len()));
        let header_len = self.framing.header_len();
        let mut rest = payload;
        let mut first = true;
        loop {
            let left_in_block = LOG_BLOCK_SIZE - self.block_offset;
            if left_in_block < header_len {
                out.resize(out.len() + left_in_block, 0);
                self.block_offset = 0;
            }
            let room = LOG_BLOCK_SIZE - self.block_offset - header_len;
            let (fragment, tail) = rest.split_at(rest.len().min(room));
            let last = tail.is_empty();
            let ty = match (first, last) {
                (true, true) => FragmentType::Full,
                (true, false) => FragmentType::First,
                (false, false) => FragmentType::Middle,
                (false, true) => FragmentType::Last,
            };
            self.emit(ty, fragment, out);
            rest = tail;
            first = false;
            if last {
                break;
            }
        }
    }

    /// Bytes [`add_record`](Self::add_record) would append for a payload of `len`
    /// bytes, padding included, from the current position.
    pub fn framed_len(&self, len: usize) -> usize {
        let header_len = self.framing.header_len();
        let mut total = 0;
        let mut offset = self.block_offset;
        let mut rest = len;
        loop {
            let left_in_block = LOG_BLOCK_SIZE - offset;
            if left_in_block < header_len {
                total += left_in_block;
                offset = 0;
            }
            let n = rest.min(LOG_BLOCK_SIZE - offset - header_len);
            total += header_len + n;
            offset += header_len + n;
            rest -= n;
            if rest == 0 {
                return total;
            }
        }
    }

    fn emit(&mut self, ty: FragmentType, fragment: &[u8], out: &mut Vec<u8>) {
        let header_len = self.framing.header_len();
        // `room` above is less than LOG_BLOCK_SIZE < u16::MAX.
        debug_assert!(fragment.len() <= LOG_BLOCK_SIZE - header_len);
        let len = (fragment.len() as u16).to_le_bytes();
        let ty = [ty as u8];
        let sum = checksum_parts(&[&len, &ty, fragment]);
        // Fixed-size copies: this runs once per write.
        match self.framing {
            LogFraming::Wide => out.extend_from_slice(&sum.to_le_bytes()),
            LogFraming::Narrow => out
                .extend_from_slice(&(LogFraming::Narrow.stored_checksum(sum) as u32).to_le_bytes()),
        }
        out.extend_from_slice(&len);
        out.extend_from_slice(&ty);
        out.extend_from_slice(fragment);
        self.block_offset += header_len + fragment.len();
        debug_assert!(self.block_offset <= LOG_BLOCK_SIZE);
        if self.block_offset == LOG_BLOCK_SIZE {
            self.block_offset = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LOG_HEADER_LEN, NARROW_LOG_HEADER_LEN};

    #[test]
    fn full_fragment_layout() {
        let mut out = Vec::new();
        LogWriter::new(0).add_record(b"abc", &mut out);
        assert_eq!(out.len(), LOG_HEADER_LEN + 3);
        assert_eq!(&out[8..11], &[3, 0, FragmentType::Full as u8]);
        assert_eq!(&out[11..], b"abc");
        let sum = crate::checksum::checksum(&out[8..]);
        assert_eq!(&out[..8], &sum.to_le_bytes());
    }

    #[test]
    fn narrow_fragment_layout() {
        let mut out = Vec::new();
        LogWriter::with_framing(0, LogFraming::Narrow).add_record(b"abc", &mut out);
        assert_eq!(out.len(), NARROW_LOG_HEADER_LEN + 3);
        assert_eq!(&out[4..7], &[3, 0, FragmentType::Full as u8]);
        assert_eq!(&out[7..], b"abc");
        let sum = crate::checksum::checksum(&out[4..]);
        assert_eq!(&out[..4], &sum.to_le_bytes()[..4]);
        assert_eq!(
            u64::from(u32::from_le_bytes(out[..4].try_into().unwrap())),
            LogFraming::Narrow.stored_checksum(sum)
        );
    }

    #[test]
    fn narrow_pads_short_block_tails_and_predicts_length() {
        for tail in 0..=NARROW_LOG_HEADER_LEN + 1 {
            let start = (LOG_BLOCK_SIZE - tail) as u64;
            let mut w = LogWriter::with_framing(start, LogFraming::Narrow);
            let predicted = w.framed_len(5);
            let mut out = Vec::new();
            w.add_record(b"hello", &mut out);
            assert_eq!(out.len(), predicted, "tail {tail}");
            if tail < NARROW_LOG_HEADER_LEN {
                assert!(out[..tail].iter().all(|&b| b == 0));
                assert_eq!(out.len(), tail + NARROW_LOG_HEADER_LEN + 5);
            }
        }
    }

    #[test]
    fn pads_short_block_tails_and_predicts_length() {
        for tail in 0..=LOG_HEADER_LEN {
            let start = (LOG_BLOCK_SIZE - tail) as u64;
            let mut w = LogWriter::new(start);
            let predicted = w.framed_len(5);
            let mut out = Vec::new();
            w.add_record(b"hello", &mut out);
            assert_eq!(out.len(), predicted);
            if tail < LOG_HEADER_LEN {
                assert!(out[..tail].iter().all(|&b| b == 0));
                assert_eq!(out.len(), tail + LOG_HEADER_LEN + 5);
            } else {
                // Exactly a header's worth left: an empty-payload FIRST fits there.
                assert_eq!(out[10], FragmentType::First as u8);
            }
        }
    }
}
