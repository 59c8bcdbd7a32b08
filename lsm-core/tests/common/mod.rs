//! Helpers shared by the `lsm-core` integration tests.
//!
//! - [`keys`]: the small key space and value scheme the tests write, chosen so that
//!   overwrites and deletes collide and every value names the write that made it;
//! - [`model`]: the `BTreeMap` oracle, range filtering and scan collection in every
//!   direction;
//! - [`ops`]: the operation language of the model test, its proptest strategies and
//!   the harness that applies an operation to a database and the model at once;
//! - [`filter`]: a deterministic compaction filter and the tolerance its effects
//!   need in comparisons;
//! - [`files`]: looking at a database directory from outside (segment files read
//!   with `lsm_format::SegmentReader`, byte flips, truncation);
//! - [`child`]: running a scenario in a child process that exits without closing the
//!   database, to simulate a killed process on the real file system;
//! - [`sim`]: crash images of the simulated file system;
//! - [`panics`]: counting panics in every thread of the test process.
//!
//! Each test crate uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod child;
pub mod files;
pub mod filter;
pub mod keys;
pub mod model;
pub mod ops;
pub mod panics;
pub mod sim;

use std::time::Duration;

use lsm_core::{Compression, Options};

/// Options that make a small workload exercise every mechanism: tiny memtables,
/// 4 KiB segments, small blocks, quick level-0 compaction and a small level 1.
pub fn small_options() -> Options {
    Options::default()
        .with_memtable_size(16 << 10)
        .with_segment_size(4 << 10)
        .with_block_size(512)
        .with_level0_compaction_trigger(2)
        .with_level0_stop_writes(12)
        .with_level_size_multiplier(4)
        .with_level1_size(16 << 10)
        .with_block_cache_size(64 << 10)
        .with_compression(Compression::Lz4)
}

/// How long each stress test runs: `LSM_STRESS_SECS`, default 30 seconds.
pub fn stress_duration() -> Duration {
    let secs = std::env::var("LSM_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(30.0);
    Duration::from_secs_f64(secs.max(0.0))
}

/// An environment variable parsed as a number, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
