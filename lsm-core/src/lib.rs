//! `lsm-core`: an embedded, crash-safe LSM-tree key-value store.
//!
//! Open a directory with [`Db::open`] and use it as a sorted map of byte strings:
//! [`Db::put`], [`Db::get`], [`Db::delete`], atomic [`WriteBatch`]es, ordered
//! [`Db::scan`]s in both directions, [`Snapshot`]s, serializable
//! [`Transaction`]s. Writes go to a write-ahead log and
//! a memtable; full memtables are flushed to immutable segment files
//! (`lsm-format`), which background compaction merges level by level.
//! `docs/architecture.md` describes the design and its crash-consistency rules.
//!
//! ```
//! use lsm_core::{Db, Options, WriteBatch};
//!
//! # fn main() -> lsm_core::Result<()> {
//! let dir = std::env::temp_dir().join(format!("lsm-core-doctest-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let db = Db::open(&dir, Options::default())?;
//! db.put(b"apple", b"red")?;
//! db.put(b"banana", b"yellow")?;
//! let mut batch = WriteBatch::new();
//! batch.put(b"cherry", b"dark red").delete(b"banana");
//! db.write(batch)?;
//!
//! assert_eq!(db.get(b"apple")?.as_deref(), Some(&b"red"[..]));
//! assert_eq!(db.get(b"banana")?, None);
//! let keys: Vec<_> = db
//!     .iter()
//!     .map(|item| item.map(|(k, _)| k))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(keys, [&b"apple"[..], &b"cherry"[..]]);
//!
//! db.close()?; // flushes, so the next open has nothing to replay
//! let db = Db::open(&dir, Options::default())?;
//! assert_eq!(db.get(b"cherry")?.as_deref(), Some(&b"dark red"[..]));
//! # drop(db);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! - `testing` (off by default): the test machinery, for tests, benchmarks and fuzz
//!   targets: the simulated disk `fs::sim::SimFs` that keeps only synced data and
//!   crashes on demand, the fault-injecting `fs::fault::FaultFs`, the `fuzzing` checks
//!   and `bench_support`. It adds the `rand` dependency. Not a stable API; a crate
//!   enables it in its `[dev-dependencies]`. `docs/testing.md` describes how the
//!   workspace's own tests get it.
#![warn(missing_docs)]
// Bytes from disk and user input must never panic the engine.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod backup;
pub mod batch;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod bench_support;
mod blob;
mod checkpoint;
mod clock;
mod compaction;
pub mod db;
mod destroy;
mod engine;
pub mod error;
mod filenames;
mod flush;
pub mod fs;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod fuzzing;
mod keyspace;
mod lock_probe;
mod memtable;
mod metrics;
pub mod options;
mod poison;
mod prefetch;
mod read_path;
mod recovery;
pub mod repair;
mod segment;
pub mod stats;
pub mod transaction;
mod version;
mod write_path;

pub use read_path::{explain, scan, snapshot};

pub use backup::{
    backups, backups_with_fs, delete_backup, delete_backup_with_fs, purge_old_backups,
    purge_old_backups_with_fs, restore, restore_with_fs, verify_backup, verify_backup_with_fs,
    BackupFile, BackupFileKind, BackupInfo, NewBackup,
};
pub use batch::WriteBatch;
pub use bytes::Bytes;
pub use clock::{Clock, ManualClock, SystemClock};
pub use compaction::filter::{CompactionFilter, FilterDecision};
pub use db::Db;
pub use destroy::{destroy, destroy_with_fs};
pub use error::{Error, Result};
pub use error::{InvalidArgumentKind, PoisonedBy};
pub use explain::{
    CoveringTombstone, FilterAnswer, FoundVersion, LookupStep, LookupTrace, TombstoneSource,
    VersionKind,
};
pub use keyspace::{Keyspace, KeyspaceOptions};
pub use lock_probe::is_locked;
pub use options::{Compression, Options, WriteOptions};
pub use read_path::read_only::ReadOnlyDb;
pub use read_path::read_only_keyspace::ReadOnlyKeyspace;
pub use read_path::versions::Versions;
pub use recovery::{audit_files, audit_files_with_fs, FileAudit, UnexplainedSegment};
pub use repair::{repair, repair_dry_run, repair_dry_run_with_fs, repair_with_fs, RepairReport};
pub use scan::{Keys, Scan};
pub use snapshot::Snapshot;
pub use stats::{LevelStats, Stats};
pub use transaction::{Transaction, TransactionScan};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
