//! Refusing what the format cannot store, before anything is written.

use lsm_format::range_del::END_OF_KEYS;
use lsm_format::{EntryKind, MAX_KEY_LEN, MAX_VALUE_LEN};

use crate::batch::WriteBatch;
use crate::error::{Error, InvalidArgumentKind, Result};

/// Bytes of a WAL record an encoded batch may take (the log limit minus headroom).
const MAX_BATCH_ENCODED: usize = lsm_format::log::MAX_LOG_RECORD_LEN - 1024;

/// Refuses what the format cannot store, before anything is written.
pub(crate) fn validate(batch: &WriteBatch) -> Result<()> {
    let mut encoded = 0usize;
    for (kind, key, value) in batch.iter() {
        validate_op(kind, key, value)?;
        // kind + two length varints of at most 5 bytes + the bytes.
        encoded += 11 + key.len() + value.len();
    }
    if encoded > MAX_BATCH_ENCODED {
        return Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::BatchTooLarge,
            message: format!(
                "batch of about {encoded} encoded bytes exceeds the {MAX_BATCH_ENCODED}-byte limit"
            ),
        });
    }
    Ok(())
}

/// Refuses one operation the format cannot store (a transaction checks each as
/// it is buffered).
pub(crate) fn validate_op(kind: EntryKind, key: &[u8], value: &[u8]) -> Result<()> {
    if kind == EntryKind::RangeDelete {
        validate_range(key, value)?;
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            message: format!(
                "key of {} bytes exceeds the limit of {MAX_KEY_LEN}",
                key.len()
            ),
        });
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::ValueTooLong,
            message: format!(
                "value of {} bytes exceeds the limit of {MAX_VALUE_LEN}",
                value.len()
            ),
        });
    }
    Ok(())
}

/// A range delete's end is a key (or [`END_OF_KEYS`]) not below its start.
fn validate_range(start: &[u8], end: &[u8]) -> Result<()> {
    if end.len() > MAX_KEY_LEN && end != END_OF_KEYS {
        return Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyTooLong,
            message: format!(
                "range end of {} bytes exceeds the key limit of {MAX_KEY_LEN}",
                end.len()
            ),
        });
    }
    if start > end {
        return Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::InvalidRange,
            message: "range start is after its end".to_string(),
        });
    }
    Ok(())
}
