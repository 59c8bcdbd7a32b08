//! The engine's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Damaged or foreign bytes in a database file. Never returned as data.
    #[error("corruption in {}: at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage within the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An operating-system I/O error on a file.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The directory is already open, by this process or another.
    #[error("database {} is locked by another open instance", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// An option value `open` refuses.
    #[error("invalid option `{field}`: {reason}")]
    InvalidOptions {
        /// The offending `Options` field.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// An argument the engine refuses; nothing was written or deleted. `kind` says
    /// which rule it broke, `message` the details.
    ///
    /// ```
    /// use lsm_core::{Db, Error, InvalidArgumentKind, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let long_key = vec![b'k'; 70_000];
    /// match db.put(&long_key, "v") {
    ///     Err(Error::InvalidArgument { kind: InvalidArgumentKind::KeyTooLong, message }) => {
    ///         assert!(message.contains("70000"), "{message}");
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// Which rule the argument broke.
        kind: InvalidArgumentKind,
        /// What was refused, with the figures or names involved.
        message: String,
    },
    /// An earlier write or fsync of the WAL or manifest failed (or a background job
    /// did), so durability can no longer be promised: writes are refused until the
    /// database is reopened. `operation` names what failed first, `message` how.
    ///
    /// ```
    /// use lsm_core::{Error, PoisonedBy};
    ///
    /// /// True when the write-ahead log failed: the disk under it is suspect.
    /// fn wal_failed(err: &Error) -> bool {
    ///     matches!(
    ///         err,
    ///         Error::Poisoned { operation: PoisonedBy::WalWrite | PoisonedBy::WalSync, .. }
    ///     )
    /// }
    ///
    /// let err = Error::Poisoned {
    ///     operation: PoisonedBy::WalSync,
    ///     message: "WAL fsync failed: i/o error".into(),
    /// };
    /// assert!(wal_failed(&err));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "database refuses writes after an earlier failure: WAL fsync failed: i/o error"
    /// );
    /// ```
    #[error("database refuses writes after an earlier failure: {message}")]
    Poisoned {
        /// The operation whose failure poisoned the database.
        operation: PoisonedBy,
        /// What failed and why.
        message: String,
    },
    /// The database was closed.
    #[error("database is closed")]
    Closed,
    /// A [`Transaction`](crate::Transaction) could not commit: something it read
    /// (a key, found or not, or a range it scanned) was written by another commit
    /// after the transaction began. Nothing of the transaction was written;
    /// running it again (as [`Db::transaction`](crate::Db::transaction) does)
    /// usually succeeds. `what` names the first conflict found: a key or a range.
    ///
    /// ```
    /// use lsm_core::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let mut txn = db.begin();
    /// assert_eq!(txn.get("seat:12")?, None);
    /// txn.put("seat:12", "ada")?;
    /// db.put("seat:12", "grace")?; // someone else took it first
    /// match txn.commit() {
    ///     Err(err @ Error::Conflict { .. }) => assert_eq!(
    ///         err.to_string(),
    ///         r#"transaction conflict: key "seat:12" was written after the transaction began"#
    ///     ),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[error("transaction conflict: {what} was written after the transaction began")]
    Conflict {
        /// What conflicted: `key "…"` or `range ["…", "…")`, bytes outside
        /// printable ASCII escaped.
        what: String,
    },
    /// The keyspace a [`Keyspace`](crate::Keyspace) handle names was dropped
    /// ([`Db::drop_keyspace`](crate::Db::drop_keyspace)): every call on the
    /// handle fails so, even once a keyspace of the same name is created again (it
    /// is another keyspace; open it anew with [`Db::keyspace`](crate::Db::keyspace)).
    ///
    /// ```
    /// use lsm_core::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// let users = db.keyspace("users")?;
    /// db.drop_keyspace("users")?;
    /// assert!(matches!(users.get("ada"), Err(Error::KeyspaceDropped { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[error("keyspace {name:?} was dropped")]
    KeyspaceDropped {
        /// The keyspace's name.
        name: String,
    },
}

/// Which rule an [`Error::InvalidArgument`] broke, for callers that act on it
/// without reading the message.
///
/// ```
/// use lsm_core::{Error, InvalidArgumentKind};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("notes.txt"), "mine")?;
/// match lsm_core::destroy(dir.path()) {
///     Err(Error::InvalidArgument { kind: InvalidArgumentKind::ForeignFiles, .. }) => {}
///     other => panic!("{other:?}"),
/// }
/// assert!(dir.path().join("notes.txt").exists()); // nothing was deleted
/// assert_eq!(InvalidArgumentKind::ForeignFiles.to_string(), "foreign files");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidArgumentKind {
    /// A key longer than 65,535 bytes.
    KeyTooLong,
    /// A value longer than 256 MiB.
    ValueTooLong,
    /// A batch (or a group of batches committed together) too large for one
    /// write-ahead-log record.
    BatchTooLarge,
    /// A level number outside the levels a database has (1 ..= 15 for
    /// [`Db::compact_into`](crate::Db::compact_into)).
    LevelOutOfRange,
    /// A directory that holds entries which are not database files, which
    /// [`destroy`](crate::destroy) refuses to empty.
    ForeignFiles,
    /// A key range whose start is after its end (`Db::delete_range`,
    /// `Db::compact_range`).
    InvalidRange,
    /// Something `lsm-format` cannot encode (a block over 4 GiB, a segment index
    /// over its limit, keys out of order).
    Unencodable,
    /// A keyspace name the format refuses (empty, over 255 bytes), an
    /// operation the default keyspace does not allow (dropping it), or a name a
    /// read-only open does not hold (`ReadOnlyDb::keyspace`).
    KeyspaceName,
}

impl fmt::Display for InvalidArgumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidArgumentKind::KeyTooLong => "key too long",
            InvalidArgumentKind::ValueTooLong => "value too long",
            InvalidArgumentKind::BatchTooLarge => "batch too large",
            InvalidArgumentKind::LevelOutOfRange => "level out of range",
            InvalidArgumentKind::InvalidRange => "invalid range",
            InvalidArgumentKind::ForeignFiles => "foreign files",
            InvalidArgumentKind::Unencodable => "cannot be encoded",
            InvalidArgumentKind::KeyspaceName => "invalid keyspace name",
        })
    }
}

/// The operation whose failure put a database in the [`Error::Poisoned`] state.
///
/// ```
/// use lsm_core::{Error, PoisonedBy};
///
/// fn advice(err: &Error) -> &'static str {
///     match err {
///         Error::Poisoned { operation: PoisonedBy::Panic, .. } => "report a bug, then reopen",
///         Error::Poisoned { .. } => "check the disk, then reopen",
///         _ => "",
///     }
/// }
///
/// let err = Error::Poisoned { operation: PoisonedBy::ManifestWrite, message: String::new() };
/// assert_eq!(advice(&err), "check the disk, then reopen");
/// assert_eq!(PoisonedBy::ManifestWrite.to_string(), "manifest write");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoisonedBy {
    /// Appending a commit to the write-ahead log.
    WalWrite,
    /// Fsyncing the write-ahead log, on a synced write, [`Db::sync`](crate::Db::sync)
    /// or when a full memtable's log is closed.
    WalSync,
    /// Creating the write-ahead log of a new memtable.
    WalCreate,
    /// Fsyncing the database directory after creating a file.
    DirectorySync,
    /// Appending to or fsyncing the manifest.
    ManifestWrite,
    /// A background flush of a memtable to a segment.
    BackgroundFlush,
    /// A background compaction.
    BackgroundCompaction,
    /// A panic in one of the engine's threads.
    Panic,
}

impl fmt::Display for PoisonedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoisonedBy::WalWrite => "wal write",
            PoisonedBy::WalSync => "wal sync",
            PoisonedBy::WalCreate => "wal creation",
            PoisonedBy::DirectorySync => "directory sync",
            PoisonedBy::ManifestWrite => "manifest write",
            PoisonedBy::BackgroundFlush => "background flush",
            PoisonedBy::BackgroundCompaction => "background compaction",
            PoisonedBy::Panic => "panic",
        })
    }
}

impl Error {
    /// True for [`Error::Corruption`]: damaged or foreign bytes in a database file.
    ///
    /// ```
    /// use lsm_core::Error;
    ///
    /// let damaged = Error::Corruption {
    ///     file: "000007.seg".into(),
    ///     offset: 4096,
    ///     reason: "block checksum mismatch".into(),
    /// };
    /// assert!(damaged.is_corruption());
    /// assert!(!Error::Closed.is_corruption());
    /// ```
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    /// Wraps an I/O error with the path it happened on.
    ///
    /// ```
    /// use std::io;
    ///
    /// let err = lsm_core::Error::io("/db/MANIFEST", io::Error::from(io::ErrorKind::NotFound));
    /// assert!(matches!(err, lsm_core::Error::Io { .. }));
    /// assert!(err.to_string().starts_with("i/o error on /db/MANIFEST: "));
    /// ```
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A copy of this error for another waiter of the same failed operation (the
    /// followers of a commit group): `io::Error` is not `Clone`, so its kind and
    /// message are carried over.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Corruption {
                file,
                offset,
                reason,
            } => Error::Corruption {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::Locked { path } => Error::Locked { path: path.clone() },
            Error::InvalidOptions { field, reason } => Error::InvalidOptions {
                field,
                reason: reason.clone(),
            },
            Error::InvalidArgument { kind, message } => Error::InvalidArgument {
                kind: *kind,
                message: message.clone(),
            },
            Error::Poisoned { operation, message } => Error::Poisoned {
                operation: *operation,
                message: message.clone(),
            },
            Error::Closed => Error::Closed,
            Error::Conflict { what } => Error::Conflict { what: what.clone() },
            Error::KeyspaceDropped { name } => Error::KeyspaceDropped { name: name.clone() },
        }
    }

    /// Converts a format error met while decoding `file`: its I/O errors become
    /// [`Error::Io`] on `file`, its refused arguments [`Error::InvalidArgument`]
    /// ([`InvalidArgumentKind::Unencodable`]), everything else [`Error::Corruption`]
    /// at the offset it names.
    ///
    /// ```
    /// use lsm_core::Error;
    ///
    /// let bad = lsm_format::Error::InvalidArgument("block would exceed 4 GiB".into());
    /// let err = Error::from_format("000009.seg", bad);
    /// assert_eq!(err.to_string(), "invalid argument: block would exceed 4 GiB");
    /// ```
    pub fn from_format(file: impl Into<PathBuf>, err: lsm_format::Error) -> Self {
        let file = file.into();
        match err {
            lsm_format::Error::Io(source) => Error::Io { path: file, source },
            lsm_format::Error::InvalidArgument(message) => Error::InvalidArgument {
                kind: InvalidArgumentKind::Unencodable,
                message,
            },
            other => {
                let offset = other.offset().unwrap_or(0);
                let reason = match &other {
                    lsm_format::Error::Corruption { reason, .. } => reason.clone(),
                    e => e.to_string(),
                };
                Error::Corruption {
                    file,
                    offset,
                    reason,
                }
            }
        }
    }
}
