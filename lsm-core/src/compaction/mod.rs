//! Compaction: merging segments down the levels in the background.
//!
//! - [`level_targets`]: the target size of each level and the level that level 0
//!   compacts into, static or derived from the bottom (dynamic);
//! - [`picker`]: the policy, a pure function of a version;
//! - [`manual`]: manual compactions (everything, or a key range) as tasks;
//! - [`retention`]: which versions of a key survive (snapshots, tombstones,
//!   expiry), and what the compaction filter ([`filter`]) is asked about;
//! - [`executor`]: the I/O: merge, write, log the edit, install, retire inputs;
//! - [`split`]: a large compaction cut into key ranges of about equal input
//!   bytes, and [`range_merge`]: each range merged on a thread of its own
//!   (subcompactions);
//! - [`blob_gc`]: which blob files are collected, and the rewrite of a segment
//!   that points into one when nothing else is to do.

pub(crate) mod blob_gc;
pub(crate) mod executor;
pub(crate) mod filter;
pub(crate) mod level_targets;
pub(crate) mod manual;
pub(crate) mod picker;
pub(crate) mod range_merge;
pub(crate) mod retention;
pub(crate) mod split;

pub(crate) use executor::CompactionJob;
pub(crate) use picker::PickerConfig;
