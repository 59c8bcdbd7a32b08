//! Named keyspaces: separate sorted maps in one database, like RocksDB's column
//! families. Each keyspace has its own memtables, levels and compaction; all share
//! the WAL (so a [`WriteBatch`] spanning keyspaces is atomic), the sequence
//! numbers, the snapshots, the block cache and the memtable budget.
//!
//! [`Keyspace`] is the handle ([`Db::keyspace`](crate::Db::keyspace) opens one,
//! creating the keyspace if needed); `handle.rs` holds its data methods.

mod handle;
mod options;

pub use options::KeyspaceOptions;

use std::sync::Arc;

use lsm_format::keyspace::KeyspaceId;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::read_path::SuperVersion;

/// A handle to one keyspace of a [`Db`](crate::Db): the same data methods as
/// `Db` (whose own act on the keyspace `"default"`), on this keyspace's keys only.
/// `Clone + Send + Sync`, cheap to clone; it keeps the database's engine alive but
/// not its background threads (once the `Db` is closed, writes fail with
/// [`Error::Closed`]).
///
/// After [`Db::drop_keyspace`](crate::Db::drop_keyspace), every call on a handle
/// of the dropped keyspace fails with [`Error::KeyspaceDropped`], even once a
/// keyspace of the same name is created again (a new keyspace, with a new id).
///
/// ```
/// use lsm_core::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let users = db.keyspace("users")?;
/// users.put("ada", "lovelace")?;
/// db.put("ada", "in the default keyspace")?;
/// assert_eq!(users.get("ada")?.as_deref(), Some(&b"lovelace"[..]));
/// assert_eq!(db.keyspace_names(), ["default", "users"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Keyspace {
    engine: Arc<Engine>,
    id: KeyspaceId,
    name: Arc<str>,
}

impl Keyspace {
    pub(crate) fn new(engine: Arc<Engine>, id: KeyspaceId, name: &str) -> Keyspace {
        Keyspace {
            engine,
            id,
            name: name.into(),
        }
    }

    /// The keyspace's name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// assert_eq!(db.keyspace("events")?.name(), "events");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keyspace's id (recorded in the files; never reused).
    pub(crate) fn id(&self) -> KeyspaceId {
        self.id
    }

    /// The error every call on a handle of a dropped keyspace returns.
    pub(crate) fn dropped(&self) -> Error {
        Error::KeyspaceDropped {
            name: self.name.to_string(),
        }
    }

    /// A consistent read view of this keyspace: its super version and the
    /// sequence number to read at.
    pub(crate) fn view(&self) -> Result<(Arc<SuperVersion>, u64)> {
        self.engine
            .reads
            .view_of(self.id)
            .ok_or_else(|| self.dropped())
    }

    /// Fails with [`Error::KeyspaceDropped`] once the keyspace is dropped.
    pub(crate) fn check_live(&self) -> Result<()> {
        self.view().map(|_| ())
    }
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
