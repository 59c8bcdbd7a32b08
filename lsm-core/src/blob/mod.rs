//! Key-value separation (`docs/format.md` section 8): values at or above a
//! keyspace's blob threshold leave the segments for blob files when a flush or
//! compaction writes their entry; the segment keeps a blob pointer entry.
//!
//! Being built: `output` writes blob files beside the segments of one job
//! ([`BlobOutput`], used by the segment builder when it is given a threshold). The
//! engine does not give one yet: the manifest records of blob files, their
//! resolution on the read path and their audit at open come first.

pub(crate) mod output;

pub(crate) use output::{BlobFileMeta, BlobOutput};
