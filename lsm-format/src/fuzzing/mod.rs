//! Check functions for every decoder, shared by the fuzz targets in `fuzz/` and by
//! `tests/fuzz_corpus.rs` (which replays the committed corpora and thousands of
//! mutated inputs on stable Rust, so CI exercises each target without nightly).
//!
//! Each function takes arbitrary bytes, must never panic on them, and asserts the
//! internal consistency of what was decoded: re-encoding reproduces it, forward and
//! backward iteration agree, a clean prefix reads back the same. A failed assertion
//! is a bug in this crate, and the input that caused it belongs in the corpus.
//!
//! One file per family of decoders: `records` (log framing, WAL, manifest),
//! `segment` (whole segment files, read every way and written back), `block` (the
//! contents of one data or index block), `range_del` (the range-tombstone block),
//! `blob` (blob files and the pointers into them).
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "checks assert by panicking; indexing is only into values built here"
)]

/// Largest number of entries a check walks; fuzz inputs are far smaller.
const MAX_WALK: usize = 1 << 20;

mod blob;
mod block;
mod range_del;
mod records;
mod segment;

pub use blob::blob_decode;
pub use block::block_decode;
pub use range_del::range_del_decode;
pub use records::{log_read, manifest_decode, wal_replay};
pub use segment::{segment_open, segment_roundtrip};
