//! Shared by the crash-point and I/O-error enumerations (`crash_points.rs`,
//! `io_errors.rs`): one fixed workload that exercises every mechanism that writes
//! files, and a runner that applies it to a database until the first failed call,
//! recording the acknowledged history the oracle (`common::sim::History`) checks
//! recovered states against.
//!
//! Test crates include this module with `mod reliability;` next to `mod common;`.
#![allow(dead_code)]

pub mod workload;

/// An environment variable parsed as a number, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The points `1, 1 + stride, 1 + 2 * stride, ...` that belong to part `part` of
/// `parts` (dealt round-robin, so two tests can split one enumeration between two
/// cores). Endless: the caller stops when the workload completes.
pub fn points(stride: u64, part: u64, parts: u64) -> impl Iterator<Item = u64> {
    let stride = stride.max(1);
    (0u64..)
        .filter(move |j| j % parts == part)
        .map(move |j| 1 + j * stride)
}
