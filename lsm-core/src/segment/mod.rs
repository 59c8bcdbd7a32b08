//! Segment files as the engine uses them: an open segment shared by `Arc` and
//! deleted when obsolete and unused (`file`), the builder that writes flush and
//! compaction outputs (`builder`), and the block cache reads go through
//! (`block_cache`). The bytes of a segment are `lsm-format`'s.

pub(crate) mod block_cache;
pub(crate) mod builder;
pub(crate) mod file;
