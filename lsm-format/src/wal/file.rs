//! Reading a WAL file's records in the framing its header names: `docs/format.md`
//! section 5.
//!
//! Every header record is framed [`LogFraming::Wide`]. When the file starts with a
//! valid header of format 3 or later, the rest of the file is read as [`LogFraming::Narrow`]
//! fragments; otherwise the whole file is read as `Wide` ones (formats 1 and 2).
//!
//! When damage hides the first record, the framing is unknown: the file is then
//! also walked as `Narrow` fragments, and the valid records that walk finds are
//! returned beside the others, so that the caller can apply the synced-offset rule
//! to every record either framing reveals (doubt refuses to open rather than drops
//! data that had been synced).

use crate::error::Result;
use crate::log::{read_log, read_log_from, LogContents, LogFraming, LogRecord, LOG_HEADER_LEN};

use super::header::{parse_header, WalFormat, WAL_HEADER_LEN};

/// The records of a WAL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalLog<'a> {
    /// The format the header record names; `None` when the first record is not a
    /// header (format 1) or is unreadable.
    pub format: Option<WalFormat>,
    /// The records (the header included) and any damage, read in the file's framing.
    pub contents: LogContents<'a>,
    /// When the first record is unreadable: the valid records a walk of the file as
    /// [`LogFraming::Narrow`] fragments finds (batches of format 3 or later, if the file
    /// was one). Empty otherwise.
    pub narrow_records_after: Vec<LogRecord<'a>>,
}

/// Reads the records of `data`, a whole WAL file.
///
/// # Errors
/// `UnsupportedVersion` when the header names a format this crate does not read.
pub fn read_wal_log(data: &[u8]) -> Result<WalLog<'_>> {
    let header_end = LOG_HEADER_LEN + WAL_HEADER_LEN;
    if let Some(head) = data.get(..header_end) {
        if let [header] = read_log(head)?.records.as_slice() {
            let format = parse_header(&header.payload)?;
            if let Some(format) = format.filter(|f| f.framing() == LogFraming::Narrow) {
                let mut contents = read_log_from(data, header_end, format.framing())?;
                contents.records.insert(0, header.clone());
                return Ok(WalLog {
                    format: Some(format),
                    contents,
                    narrow_records_after: Vec::new(),
                });
            }
        }
    }
    let contents = read_log(data)?;
    let format = match contents.records.first() {
        Some(rec) if rec.offset == 0 => parse_header(&rec.payload)?,
        _ => None,
    };
    let hidden = contents.records.is_empty() && contents.damage.is_some();
    let narrow_records_after = if hidden {
        let narrow = read_log_from(data, 0, LogFraming::Narrow)?;
        let mut found = narrow.records;
        found.extend(narrow.damage.into_iter().flat_map(|d| d.records_after));
        found
    } else {
        Vec::new()
    };
    Ok(WalLog {
        format,
        contents,
        narrow_records_after,
    })
}
