//! Key-value separation (`docs/format.md` section 8): values at or above a
//! keyspace's blob threshold leave the segments for blob files when a flush or
//! compaction writes their entry; the segment keeps a blob pointer entry.
//!
//! Being built: `output` writes blob files beside the segments of one job
//! ([`BlobOutput`], used by the segment builder when it is given a threshold);
//! `files` resolves pointer entries through cached blob readers. The
//! engine does not give one yet: the manifest records of blob files, their
//! resolution on the read path and their audit at open come first.

#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the read path does not resolve pointers through it yet"
    )
)]
pub(crate) mod files;
pub(crate) mod output;

pub(crate) use output::{BlobFileMeta, BlobOutput};
