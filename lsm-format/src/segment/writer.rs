//! The streaming segment writer: `docs/format.md` section 3.

use std::io::Write;

use crate::entry::EntryKind;
use crate::error::Result;
use crate::segment::{Properties, WriterOptions};

/// Writes a segment file entry by entry, in internal order, to any [`Write`].
///
/// Entries must arrive in strictly increasing internal order (key ascending, then
/// sequence number descending); anything else is refused with
/// [`crate::Error::InvalidArgument`] and the writer stays usable.
pub struct SegmentWriter<W: Write> {
    _out: W,
}

impl<W: Write> SegmentWriter<W> {
    /// A writer that writes to `out` with `options`.
    pub fn new(out: W, options: WriterOptions) -> Self {
        let _ = options;
        todo!()
    }

    /// Appends one entry. `value` must be empty for a tombstone.
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value beyond the limits, a sequence number above
    /// [`crate::MAX_SEQUENCE`], or an entry not after the previous one; `Io` when
    /// the underlying writer fails.
    pub fn add(&mut self, key: &[u8], seq: u64, kind: EntryKind, value: &[u8]) -> Result<()> {
        let _ = (key, seq, kind, value);
        todo!()
    }

    /// Bytes written to the output so far plus the bytes buffered in the current
    /// block: what the file would hold if it were finished now, minus the index,
    /// filter, properties and footer. The engine rolls to a new segment when this
    /// reaches its size threshold.
    pub fn estimated_size(&self) -> u64 {
        todo!()
    }

    /// Number of entries added.
    pub fn entry_count(&self) -> u64 {
        todo!()
    }

    /// Last key added, if any.
    pub fn last_key(&self) -> Option<&[u8]> {
        todo!()
    }

    /// Writes the last data block, filter, properties, index and footer, flushes the
    /// output and returns it with the file's properties and total length.
    pub fn finish(self) -> Result<Finished<W>> {
        todo!()
    }
}

/// What [`SegmentWriter::finish`] returns.
#[derive(Debug)]
pub struct Finished<W> {
    /// The output, flushed.
    pub out: W,
    /// The properties written to the file.
    pub properties: Properties,
    /// Total bytes of the file.
    pub file_size: u64,
}

impl<W> Finished<W> {
    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}
