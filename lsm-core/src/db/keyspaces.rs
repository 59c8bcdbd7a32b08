//! Keyspaces: opening (and creating), listing and dropping them.

use std::sync::Arc;

use lsm_format::keyspace::{check_keyspace_name, DEFAULT_KEYSPACE_NAME};

use super::Db;
use crate::engine::Tree;
use crate::error::{Error, InvalidArgumentKind, Result};
use crate::keyspace::{Keyspace, KeyspaceOptions};
use crate::memtable::MemTable;

impl Db {
    /// A handle to the keyspace `name`, creating it when the database has none of
    /// that name: the creation is one manifest edit, durable before this returns,
    /// as is every write acknowledged before the call (the WAL is fsynced first).
    /// `"default"` is the keyspace the `Db`'s own data methods act on.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let users = db.keyspace("users")?;
    /// users.put("ada", "1")?;
    /// db.close()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// assert_eq!(db.keyspace("users")?.get("ada")?.as_deref(), Some(&b"1"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (kind [`InvalidArgumentKind::KeyspaceName`]) for a
    /// name that is empty or over 255 bytes; [`Error::Poisoned`] after an earlier
    /// failure; [`Error::Io`] fsyncing the WAL or writing the manifest (which
    /// poisons the database).
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        self.open_keyspace(name, None)
    }

    /// Like [`Db::keyspace`], with options for the keyspace's tree (block size,
    /// compression, Bloom filters, segment size, compaction filter): they apply to
    /// what it writes from now on, also when the keyspace exists already. They are
    /// not stored: give them at each open of the database (until then the keyspace
    /// is written with the database's [`Options`](crate::Options)), as RocksDB's
    /// column family options.
    ///
    /// ```
    /// use lsm_core::{Db, KeyspaceOptions, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let index = db.keyspace_with("index", KeyspaceOptions::default().with_bloom_bits_per_key(20))?;
    /// index.put("term", "doc1")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] for a value [`Options`](crate::Options) refuses;
    /// otherwise as [`Db::keyspace`].
    pub fn keyspace_with(&self, name: &str, options: KeyspaceOptions) -> Result<Keyspace> {
        self.open_keyspace(name, Some(options))
    }

    fn open_keyspace(&self, name: &str, options: Option<KeyspaceOptions>) -> Result<Keyspace> {
        let tree_opts = match &options {
            Some(o) => Some(Arc::new(o.over(&self.engine.env.opts)?)),
            None => None,
        };
        check_keyspace_name(name.as_bytes()).map_err(|message| Error::InvalidArgument {
            kind: InvalidArgumentKind::KeyspaceName,
            message,
        })?;
        let engine = &self.engine;
        if !self.has_keyspace(name) {
            self.sync_before_keyspace_edit()?;
        }
        let memtable_size = engine.env.opts.memtable_size;
        // A keyspace created without options of its own gets those the database
        // was opened with for its name, if any.
        let new_opts = match &tree_opts {
            Some(o) => o.clone(),
            None => Arc::new(engine.env.opts.tree_options(name)?),
        };
        let (id, created) = engine.versions.find_or_create_keyspace(
            &engine.env.poison,
            name,
            engine.reads.visible_seq(),
            |versions, id| {
                engine.coord.install_version(&engine.reads, versions, |st| {
                    // The current WAL: the newest any memtable was started with.
                    let wal = st
                        .trees
                        .values()
                        .map(|t| t.mem.wal_number())
                        .max()
                        .unwrap_or(0);
                    let version = versions.get(&id).cloned().unwrap_or_default();
                    let mem = Arc::new(MemTable::with_filter(wal, memtable_size));
                    st.trees.insert(id, Tree::new(mem, version, new_opts));
                });
            },
        )?;
        if created {
            log::info!("created keyspace {name:?} (id {id})");
        } else if let Some(o) = tree_opts {
            if let Some(tree) = engine.coord.lock().trees.get_mut(&id) {
                tree.opts = o;
            }
        }
        Ok(Keyspace::new(engine.clone(), id, name))
    }

    /// The names of the live keyspaces, sorted; `"default"` always among them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// db.keyspace("zebra")?;
    /// db.keyspace("apple")?;
    /// assert_eq!(db.keyspace_names(), ["apple", "default", "zebra"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyspace_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine
            .versions
            .keyspaces()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        names.sort();
        names
    }

    /// Drops the keyspace `name`: one manifest edit (durable before this returns)
    /// removes it and every segment of it, so after a crash it is wholly there or
    /// wholly gone. Every write acknowledged before the call is durable when it
    /// returns too (the WAL is fsynced first): data copied out of the keyspace
    /// before the drop is not lost with it. Its memtable data is discarded, its WAL records are skipped
    /// at the next open, and its segment files are deleted once no reader holds
    /// them. Every handle to it fails from then on with
    /// [`Error::KeyspaceDropped`]; a keyspace created later under the same name
    /// is a new, empty one. Does nothing when no keyspace has that name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
    /// let tmp = db.keyspace("tmp")?;
    /// tmp.put("k", "v")?;
    /// db.drop_keyspace("tmp")?;
    /// assert_eq!(db.keyspace_names(), ["default"]);
    /// assert!(tmp.get("k").is_err());
    /// assert_eq!(db.keyspace("tmp")?.get("k")?, None); // a new keyspace
    /// assert!(db.drop_keyspace("default").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (kind [`InvalidArgumentKind::KeyspaceName`]) for
    /// `"default"`, which cannot be dropped; [`Error::Poisoned`];
    /// [`Error::Io`] fsyncing the WAL or writing the manifest (which poisons the
    /// database).
    pub fn drop_keyspace(&self, name: &str) -> Result<()> {
        if name == DEFAULT_KEYSPACE_NAME {
            return Err(Error::InvalidArgument {
                kind: InvalidArgumentKind::KeyspaceName,
                message: "the default keyspace cannot be dropped".to_string(),
            });
        }
        let engine = &self.engine;
        if self.has_keyspace(name) {
            self.sync_before_keyspace_edit()?;
        }
        let old = engine.versions.drop_keyspace(
            &engine.env.poison,
            name,
            engine.reads.visible_seq(),
            |versions| {
                engine
                    .coord
                    .install_version(&engine.reads, versions, |_| {})
            },
        )?;
        if let Some(version) = old {
            for file in version.levels().iter().flatten() {
                file.mark_obsolete();
            }
            log::info!("dropped keyspace {name:?}");
        }
        // Writers stalled on its memtables, and waiters for its flush, go on.
        engine.coord.notify_done();
        Ok(())
    }

    /// True when a live keyspace is named `name`.
    fn has_keyspace(&self, name: &str) -> bool {
        self.engine
            .versions
            .keyspaces()
            .iter()
            .any(|(_, n)| n == name)
    }

    /// Fsyncs the WAL before a creation or a drop is logged: the manifest edit is
    /// durable when the call returns, so every write acknowledged before the call
    /// must be too, or a power loss could keep the edit and lose them (a state
    /// that is no prefix of the history; after a drop, data moved out of the
    /// keyspace before dropping it would be lost with it).
    fn sync_before_keyspace_edit(&self) -> Result<()> {
        self.engine.sync_wal(false)
    }
}
