//! Library behind the `lsm` command-line tools.
//!
//! Every tool is a thin binary in `src/bin/` that parses flags and prints; the work
//! happens here, where tests reach it:
//!
//! - [`dump`]: `lsm-dump`, what a segment, WAL, manifest or directory holds;
//! - [`verify`]: `lsm-verify`, every checksum and invariant, one [`Problem`] per
//!   finding;
//! - [`compact`]: `lsm-compact`, offline full compaction with before/after figures;
//! - [`repair`]: `lsm-repair`, repairing a database that does not open, with the
//!   report of what was lost;
//! - [`shell`]: `lsm`, one-shot commands and an interactive prompt, with `explain`;
//! - [`bench`](mod@bench): `lsm-bench`, a db_bench-style benchmark.
//!
//! Shared parts: [`state`] reads a database directory's files without taking its
//! lock (what `lsm-verify` and the dump summary look at; merged views, lookups and
//! the judgement of files are the engine's: `Db::open_read_only`, `Db::explain`,
//! `lsm_core::audit_files`), [`display`] prints keys and values readably, [`table`] aligns columns, [`units`] parses counts and sizes
//! given with units (`1M`, `128MiB`), [`flags`] holds flag values the binaries share.
#![warn(missing_docs)]
// Tools read damaged files on purpose: bytes from disk must never panic them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod bench;
pub mod compact;
pub mod display;
pub mod dump;
pub mod error;
pub mod files;
pub mod flags;
pub mod problem;
pub mod repair;
pub mod shell;
pub mod state;
pub mod table;
pub mod units;
pub mod verify;

pub use error::{Error, Result};
pub use problem::Problem;
