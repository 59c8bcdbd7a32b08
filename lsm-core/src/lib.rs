//! `lsm-core`: an embedded, crash-safe LSM-tree key-value store.
//!
//! Open a directory with [`Db::open`] and use it as a sorted map of byte strings:
//! [`Db::put`], [`Db::get`], [`Db::delete`], atomic [`WriteBatch`]es, ordered
//! [`Db::scan`]s in both directions, [`Snapshot`]s. Writes go to a write-ahead log and
//! a memtable; full memtables are flushed to immutable segment files
//! (`lsm-format`), which background compaction merges level by level.
#![warn(missing_docs)]

pub mod batch;
pub mod db;
pub mod error;
pub mod fs;
pub mod options;
pub mod scan;
pub mod snapshot;
pub mod stats;

pub use batch::WriteBatch;
pub use bytes::Bytes;
pub use db::Db;
pub use error::{Error, Result};
pub use options::{Compression, Options};
pub use scan::Scan;
pub use snapshot::Snapshot;
pub use stats::{LevelStats, Stats};
