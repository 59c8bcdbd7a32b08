//! Read-only opens: a database read beside its writer, or by any number of readers,
//! without the lock and without writing a byte.
//!
//! A [`ReadOnlyDb`] is the state recovery would find (`recovery::inspect`: the
//! manifest, the segments it lists, the WALs from `log_number` replayed into memory),
//! fixed until [`ReadOnlyDb::refresh`]. It reads through the engine's own read path
//! (a `SuperVersion`, the same lookups and merging iterators as [`Db`]).
//!
//! Beside a running writer the directory changes while it is read: a flush or
//! compaction may commit between the listing and the reads, and remove a file this
//! open was about to read. Such an attempt is retried from the start; each attempt
//! sees the state of one moment, so the view is always a prefix of the writer's
//! history. Files the writer removes after they were opened stay readable (they are
//! mapped or held open) for as long as a view uses them.

use std::collections::BTreeMap;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use lsm_format::keyspace::DEFAULT_KEYSPACE_NAME;

use crate::clock::Clock;
use crate::error::{Error, InvalidArgumentKind, Result};
use crate::fs::{FsRef, RealFs};
use crate::memtable::MemTable;
use crate::metrics::Metrics;
use crate::options::Options;
use crate::read_path::read_only_keyspace::ReadOnlyKeyspace;
use crate::read_path::snapshot_list::SnapshotList;
use crate::read_path::SuperVersion;
use crate::recovery::inspect;
use crate::scan::{bounds, prefix_bounds, Scan};
use crate::segment::block_cache::LruBlockCache;
use crate::segment::file::{MappedReadBudget, SegmentContext};
use crate::snapshot::Snapshot;
use crate::version::Version;
use crate::Db;

/// How many times an open beside a writer starts over when a file it was about to
/// read was removed meanwhile.
const ATTEMPTS: usize = 8;

/// A database opened for reading only: see [`Db::open_read_only`].
///
/// Its own reads read the keyspace `"default"`; [`ReadOnlyDb::keyspace_names`]
/// lists every keyspace and [`ReadOnlyDb::keyspace`] reads one.
/// It is a fixed view of the state that was durable (or, for a killed writer's
/// unsynced tail, written) when it was opened or last [refreshed](Self::refresh).
/// `Send + Sync`; reads take `&self`.
///
/// # Examples
///
/// ```
/// use lsm_core::{Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put("k", "v1")?;
/// let mut reader = Db::open_read_only(dir.path(), Options::default())?;
/// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v1"[..]));
/// db.put("k", "v2")?;
/// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v1"[..])); // a fixed view
/// reader.refresh()?;
/// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v2"[..]));
/// # Ok(())
/// # }
/// ```
pub struct ReadOnlyDb {
    dir: PathBuf,
    fs: FsRef,
    segments: SegmentContext,
    /// The default keyspace's view (what the `ReadOnlyDb`'s own reads read).
    sv: Arc<SuperVersion>,
    /// Every live keyspace's view, by name, the default one included.
    keyspaces: BTreeMap<String, Arc<SuperVersion>>,
    seq: u64,
    snapshots: Arc<SnapshotList>,
    metrics: Arc<Metrics>,
    /// The clock values written with a TTL expire against.
    clock: Arc<dyn Clock>,
    /// The options the writer uses: open's audit asks each keyspace's compaction
    /// filter whether an unlisted segment's value is one the filter made
    /// (`recovery::file_audit`).
    audit_options: Arc<Options>,
}

impl Db {
    /// Opens the database in `path` for reading only. It takes no lock, writes and
    /// deletes nothing (the WALs are replayed into memory, never truncated), so any
    /// number of processes may hold one, with or without a writer. `options`
    /// supplies the block cache size, the mapped-read budget and the
    /// [`clock`](Options::clock) expiry is judged against; the rest is unused.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// # fn main() -> lsm_core::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// Db::open(dir.path(), Options::default())?.put("k", "v")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] (`NotFound`) when there is no database in `path` (none is
    /// created); [`Error::Corruption`] for a damaged manifest, listed segment or live
    /// WAL, or a manifest behind its directory, as [`Db::open`] would report it;
    /// `Corruption` also for a manifest of an unsupported format version;
    /// [`Error::InvalidOptions`].
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<ReadOnlyDb> {
        Db::open_read_only_with_fs(path, options, Arc::new(RealFs))
    }

    /// [`Db::open_read_only`] on another file system (the simulated one in tests).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lsm_core::{fs::RealFs, Db, Options};
    ///
    /// # fn main() -> lsm_core::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// Db::open(dir.path(), Options::default())?.close()?;
    /// let reader = Db::open_read_only_with_fs(dir.path(), Options::default(), Arc::new(RealFs))?;
    /// assert!(reader.iter().next().is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Db::open_read_only`].
    pub fn open_read_only_with_fs(
        path: impl AsRef<Path>,
        options: Options,
        fs: FsRef,
    ) -> Result<ReadOnlyDb> {
        options.validate()?;
        let cache = (options.block_cache_size > 0)
            .then(|| Arc::new(LruBlockCache::new(options.block_cache_size)));
        let segments = SegmentContext {
            cache,
            mapped_reads: Arc::new(MappedReadBudget::new(options.mmap_read_budget)),
        };
        let mut db = ReadOnlyDb {
            dir: path.as_ref().to_path_buf(),
            fs,
            segments,
            sv: Arc::new(SuperVersion {
                mem: Arc::new(MemTable::new(0)),
                imm: Vec::new(),
                version: Arc::new(Version::default()),
            }),
            keyspaces: BTreeMap::new(),
            seq: 0,
            snapshots: Arc::new(SnapshotList::default()),
            metrics: Arc::new(Metrics::default()),
            clock: options.clock.clone(),
            audit_options: Arc::new(options.clone()),
        };
        db.refresh()?;
        Ok(db)
    }
}

impl ReadOnlyDb {
    /// Moves the view to the database's current state: what a writer made durable
    /// (or wrote, if it was killed) since the last refresh. Snapshots and scans taken
    /// before keep their view and their files.
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// # fn main() -> lsm_core::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut reader = Db::open_read_only(dir.path(), Options::default())?;
    /// db.put("new", "x")?;
    /// db.flush()?;
    /// assert!(!reader.contains_key("new")?);
    /// reader.refresh()?;
    /// assert!(reader.contains_key("new")?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Db::open_read_only`]; the view is then unchanged.
    pub fn refresh(&mut self) -> Result<()> {
        let mut attempt = 1;
        let found = loop {
            let failure = match inspect(
                &self.fs,
                &self.dir,
                &self.segments,
                Some(&self.audit_options),
            ) {
                Ok(Some(found)) => match found.audit.refusal(&self.dir, found.state.clean_len) {
                    None => break found,
                    Some(refusal) => refusal,
                },
                Ok(None) => {
                    return Err(Error::io(
                        self.dir.join(crate::filenames::MANIFEST),
                        io::Error::new(io::ErrorKind::NotFound, "no database here"),
                    ))
                }
                Err(e) => e,
            };
            // Beside a writer, a file listed a moment ago may be gone, or a segment
            // the listing missed may be live already: start over. A damaged or
            // inconsistent database fails the same way every time.
            let transient = matches!(failure, Error::Io { .. } | Error::Corruption { .. });
            if !transient || attempt == ATTEMPTS {
                return Err(failure);
            }
            attempt += 1;
        };
        self.seq = found.last_seq;
        // One view per live keyspace: its segments, and what the WALs hold for it.
        let mut recovered = found.recovered;
        let mut keyspaces = BTreeMap::new();
        for (id, meta) in &found.state.keyspaces {
            let mem = recovered.remove(id).unwrap_or_else(|| MemTable::new(0));
            let version = found.versions.get(id).cloned().unwrap_or_default();
            let sv = Arc::new(SuperVersion {
                mem: Arc::new(mem),
                imm: Vec::new(),
                version,
            });
            keyspaces.insert(meta.name.clone(), sv);
        }
        self.sv = keyspaces
            .get(DEFAULT_KEYSPACE_NAME)
            .cloned()
            .unwrap_or_else(|| {
                Arc::new(SuperVersion {
                    mem: Arc::new(MemTable::new(0)),
                    imm: Vec::new(),
                    version: Arc::default(),
                })
            });
        self.keyspaces = keyspaces;
        Ok(())
    }

    /// The names of the keyspaces in the view, sorted; `"default"` always among
    /// them (as [`Db::keyspace_names`] on the writer).
    ///
    /// ```
    /// use lsm_core::{Db, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.keyspace("users")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.keyspace_names(), ["default", "users"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyspace_names(&self) -> Vec<String> {
        self.keyspaces.keys().cloned().collect()
    }

    /// The keyspace `name` of the view, for reading: see [`ReadOnlyKeyspace`]. A
    /// read-only open never creates one, so a name the view does not hold (never
    /// created, or dropped) is an error. `"default"` reads what the `ReadOnlyDb`'s
    /// own methods read.
    ///
    /// ```
    /// use lsm_core::{Db, Error, InvalidArgumentKind, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.keyspace("users")?.put("ada", "1")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.keyspace("users")?.get("ada")?.as_deref(), Some(&b"1"[..]));
    /// assert!(matches!(
    ///     reader.keyspace("nope"),
    ///     Err(Error::InvalidArgument { kind: InvalidArgumentKind::KeyspaceName, .. })
    /// ));
    /// assert_eq!(db.keyspace_names(), ["default", "users"]); // nothing created
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (kind [`InvalidArgumentKind::KeyspaceName`]) when
    /// the view has no keyspace of that name.
    pub fn keyspace(&self, name: &str) -> Result<ReadOnlyKeyspace> {
        let sv = self
            .keyspaces
            .get(name)
            .ok_or_else(|| Error::InvalidArgument {
                kind: InvalidArgumentKind::KeyspaceName,
                message: format!(
                    "no keyspace named {name:?} in the database (a read-only open creates none)"
                ),
            })?;
        Ok(ReadOnlyKeyspace::new(
            name,
            sv.clone(),
            self.seq,
            self.clock.clone(),
            self.metrics.clone(),
        ))
    }

    /// The value of `key` in the view.
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # Db::open(dir.path(), Options::default())?.put("k", "v")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(reader.get("absent")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corruption`] when a file read on the way is damaged (never a wrong
    /// value); [`Error::Io`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if key.len() > lsm_format::MAX_KEY_LEN {
            return Ok(None);
        }
        self.sv.get(key, self.seq, || self.now_ms(), &self.metrics)
    }

    /// True when `key` has a live value in the view.
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # Db::open(dir.path(), Options::default())?.put("k", "")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert!(reader.contains_key("k")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ReadOnlyDb::get`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Live pairs with keys in `range`, in key order (reversible with `.rev()`).
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// # for k in ["a", "b", "c"] { db.put(k, "v")?; }
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// let keys: Vec<_> = reader.scan("b"..).map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["b", "c"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan {
        Scan::new(self.sv.clone(), self.seq, self.now_ms(), bounds(&range))
    }

    /// Every live pair, in key order.
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # Db::open(dir.path(), Options::default())?.put("k", "v")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Scan {
        self.scan::<&[u8], _>(..)
    }

    /// Live pairs whose keys start with `prefix`, in key order.
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// # db.put("user:1", "ada")?; db.put("users", "x")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.prefix("user:").count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Scan {
        Scan::new(
            self.sv.clone(),
            self.seq,
            self.now_ms(),
            prefix_bounds(prefix.as_ref()),
        )
    }

    /// A [`Snapshot`] of the current view: it keeps reading this view after a
    /// [`refresh`](Self::refresh).
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// db.put("k", "old")?;
    /// let mut reader = Db::open_read_only(dir.path(), Options::default())?;
    /// let snapshot = reader.snapshot();
    /// db.put("k", "new")?;
    /// reader.refresh()?;
    /// assert_eq!(snapshot.get("k")?.as_deref(), Some(&b"old"[..]));
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(
            self.sv.clone(),
            self.seq,
            self.now_ms(),
            self.snapshots.clone(),
            self.metrics.clone(),
        )
    }

    /// The steps a `get` of `key` takes in this view: see [`Db::explain`].
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # Db::open(dir.path(), Options::default())?.put("k", "v")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.explain("k")?.value().map(|v| &v[..]), Some(&b"v"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ReadOnlyDb::get`].
    pub fn explain(&self, key: impl AsRef<[u8]>) -> Result<crate::LookupTrace> {
        crate::explain::trace(&self.sv, key.as_ref(), self.seq, self.now_ms())
    }

    /// Every stored version of every key in the view, in key order and newest first
    /// within a key, tombstones and overwritten values included: what a full
    /// compaction would read (`lsm-compact --dry-run` counts what it would keep).
    ///
    /// ```
    /// # use lsm_core::{Db, Options, VersionKind};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// db.put("k", "1")?;
    /// db.put("k", "2")?;
    /// db.delete("gone")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// let all: Vec<_> = reader.versions().collect::<Result<_, _>>()?;
    /// assert_eq!(all.len(), 3);
    /// assert_eq!(all[0].1.kind, VersionKind::Tombstone); // "gone" sorts first
    /// assert_eq!(&all[1].1.value[..], b"2"); // newest version of "k" first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn versions(&self) -> crate::Versions {
        crate::Versions::new(&self.sv)
    }

    /// The clock, in Unix ms: the time a read starting now judges expiry at.
    fn now_ms(&self) -> u64 {
        crate::clock::now_ms(&*self.clock)
    }

    /// The sequence number of the newest write in the view.
    ///
    /// ```
    /// # use lsm_core::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = Db::open(dir.path(), Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.sequence(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sequence(&self) -> u64 {
        self.seq
    }
}

impl std::fmt::Debug for ReadOnlyDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyDb")
            .field("dir", &self.dir)
            .field("sequence", &self.seq)
            .finish()
    }
}
