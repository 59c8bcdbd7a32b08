//! Key-value separation (`docs/format.md` section 8): values at or above a
//! keyspace's blob threshold leave the segments for blob files when a flush or
//! compaction writes their entry; the segment keeps a blob pointer entry.
//!
//! `output` writes the blob files of one job beside its segments ([`BlobOutput`],
//! used by the segment builder when it is given a threshold); `file` is an open
//! blob file a version holds ([`BlobFile`]) and resolves pointer entries through
//! them; `gc` decides which blob files a compaction rewrites.

pub(crate) mod file;
pub(crate) mod output;

pub(crate) use file::{BlobFile, BlobRead, BlobSet};
pub(crate) use output::BlobOutput;
