//! The simulated disk's data model: inodes with current and durable bytes, and
//! directories with current and durable entries.
//!
//! Files and directory entries are separate on purpose: on a real disk, fsync of a
//! file makes its bytes durable but not the name that points to it, and fsync of a
//! directory makes its names durable but not the files' bytes. Keeping both halves
//! apart is what lets a crash revert exactly what a real power loss could revert.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Component, Path, PathBuf};

/// Identifies an inode; never reused within one disk.
pub(super) type Ino = u64;

/// One file's contents.
///
/// Invariant: `clean <= data.len()`, `clean <= durable.len()` and
/// `data[..clean] == durable[..clean]`. Everything from `clean` on may differ, so a
/// sync copies only that tail (a log synced after every record stays linear).
///
/// Preallocated space is kept as a count of zeros after the bytes (`zeros`, and
/// `durable_zeros` for the durable version) rather than as bytes, so a 4 MiB
/// preallocated WAL costs nothing until it is read or crashed.
#[derive(Debug, Default, Clone)]
pub(super) struct Inode {
    /// What reads see now (followed by `zeros` zero bytes).
    pub(super) data: Vec<u8>,
    /// What survives a power loss (the contents at the last sync), followed by
    /// `durable_zeros` zero bytes.
    pub(super) durable: Vec<u8>,
    /// Length of the prefix that `data` and `durable` share for sure.
    pub(super) clean: usize,
    /// Open writable handles; an inode with handles is never collected.
    pub(super) handles: usize,
    /// Preallocated zero bytes after `data`.
    pub(super) zeros: usize,
    /// Preallocated zero bytes after `durable`.
    pub(super) durable_zeros: usize,
}

impl Inode {
    /// A file whose contents are `bytes`, all durable.
    pub(super) fn durable(bytes: Vec<u8>) -> Inode {
        Inode {
            clean: bytes.len(),
            durable: bytes.clone(),
            data: bytes,
            ..Inode::default()
        }
    }

    /// Length of the file as reads see it.
    pub(super) fn len(&self) -> usize {
        self.data.len() + self.zeros
    }

    /// The file as reads see it.
    pub(super) fn contents(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&self.data);
        out.resize(self.len(), 0);
        out
    }

    /// The durable version of the file, as a power loss leaves it.
    pub(super) fn durable_contents(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.durable.len() + self.durable_zeros);
        out.extend_from_slice(&self.durable);
        out.resize(self.durable.len() + self.durable_zeros, 0);
        out
    }

    /// Writes `buf` at byte `pos` (at most the current length), over whatever is
    /// there (bytes or preallocated zeros) and extending the file as needed.
    pub(super) fn write_at(&mut self, pos: usize, buf: &[u8]) {
        let pos = pos.min(self.len());
        if pos >= self.data.len() {
            // Into the preallocated zeros (or at the end): materialize the zeros
            // before `pos`, then append.
            let total = self.len();
            self.data.resize(pos, 0);
            self.data.extend_from_slice(buf);
            self.zeros = total.saturating_sub(self.data.len());
            return;
        }
        let end = pos + buf.len();
        if end > self.data.len() {
            let total = self.len();
            self.data.resize(end, 0);
            self.zeros = total.saturating_sub(end);
        }
        if let Some(dst) = self.data.get_mut(pos..end) {
            dst.copy_from_slice(buf);
        }
        self.clean = self.clean.min(pos);
    }

    /// Sets the length: zeros are added, or the tail is cut.
    pub(super) fn resize(&mut self, len: usize) {
        if len >= self.data.len() {
            self.zeros = len - self.data.len();
        } else {
            self.data.truncate(len);
            self.zeros = 0;
            self.clean = self.clean.min(len);
        }
    }

    pub(super) fn truncate(&mut self) {
        self.data.clear();
        self.zeros = 0;
        self.clean = 0;
    }

    pub(super) fn sync(&mut self) {
        let clean = self.clean;
        self.durable.truncate(clean);
        self.durable
            .extend_from_slice(self.data.get(clean..).unwrap_or_default());
        self.durable_zeros = self.zeros;
        self.clean = self.data.len();
        debug_assert_eq!(self.data, self.durable);
    }

    /// True when the current contents only extend the durable ones (the normal
    /// append-only case), false after a truncation that was not synced.
    pub(super) fn extends_durable(&self) -> bool {
        self.clean == self.durable.len()
    }
}

/// One directory: the names it holds now and the names its last sync made durable.
#[derive(Debug, Default, Clone)]
pub(super) struct Dir {
    pub(super) entries: BTreeMap<String, Ino>,
    pub(super) durable: BTreeMap<String, Ino>,
}

/// A directory rename or removal that a power loss would still undo: it becomes
/// durable when the parent directory (of each name, for a rename) is synced.
#[derive(Debug, Clone)]
pub(super) enum DirChange {
    /// The directory (and its subtree) moved from `from` to `to`.
    Renamed {
        from: PathBuf,
        to: PathBuf,
        /// Whether `from`'s and `to`'s parents were synced since.
        synced: [bool; 2],
    },
    /// The empty directory `path` was removed; `dir` is what a power loss brings
    /// back (its durable entries may still name files removed without a sync).
    Removed { path: PathBuf, dir: Dir },
}

/// The whole disk. Directories are durable as soon as they are created (a
/// simplification: the engine creates a directory before writing into it and a
/// crash that keeps an empty directory is harmless), but their renames and removals
/// are durable only after a sync of the parent (`pending`), as on a real disk.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) inodes: BTreeMap<Ino, Inode>,
    pub(super) dirs: BTreeMap<PathBuf, Dir>,
    /// Directory renames and removals not yet durable, oldest first.
    pub(super) pending: Vec<DirChange>,
    pub(super) next_ino: Ino,
    pub(super) locks: BTreeSet<PathBuf>,
    /// Mutating operations so far.
    pub(super) ops: u64,
    /// Mutating operations fail once `ops` reaches this (simulated power cut).
    pub(super) op_limit: Option<u64>,
}

/// `path` without `.` and `..` components, so equal files have equal keys.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(super) fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// Splits a normalized path into its directory and its UTF-8 file name.
pub(super) fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a UTF-8 file name", path.display()),
        )
    })?;
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    Ok((dir, name.to_string()))
}

impl State {
    /// Counts one mutating operation, or fails if the power was cut.
    pub(super) fn begin_op(&mut self) -> io::Result<()> {
        if self.op_limit.is_some_and(|limit| self.ops >= limit) {
            return Err(io::Error::other("simulated power loss: disk is off"));
        }
        self.ops += 1;
        Ok(())
    }

    /// The directory at normalized `path`. Roots (`/`, the empty relative root)
    /// always exist.
    pub(super) fn dir_mut(&mut self, path: &Path) -> io::Result<&mut Dir> {
        if path.parent().is_none() {
            return Ok(self.dirs.entry(path.to_path_buf()).or_default());
        }
        self.dirs.get_mut(path).ok_or_else(|| not_found(path))
    }

    pub(super) fn dir(&self, path: &Path) -> Option<&Dir> {
        self.dirs.get(path)
    }

    /// The inode named by normalized `path`, if any.
    pub(super) fn lookup(&self, path: &Path) -> Option<Ino> {
        let (dir, name) = split(path).ok()?;
        self.dir(&dir)?.entries.get(&name).copied()
    }

    pub(super) fn inode_mut(&mut self, ino: Ino) -> io::Result<&mut Inode> {
        // Inodes with open handles or names are never collected, so a miss is a bug
        // in this module, reported as an error rather than a panic.
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other(format!("simulated inode {ino} vanished")))
    }

    /// Creates an empty file at normalized `path`, or returns the existing one.
    pub(super) fn create_file(&mut self, path: &Path) -> io::Result<Ino> {
        if self.dirs.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            ));
        }
        let (dir, name) = split(path)?;
        let next = self.next_ino;
        let dir = self.dir_mut(&dir)?;
        let ino = *dir.entries.entry(name).or_insert(next);
        if ino == next {
            self.next_ino += 1;
            self.inodes.insert(ino, Inode::default());
        }
        Ok(ino)
    }

    /// Moves the directory at `from` and every directory below it to `to`.
    pub(super) fn move_tree(&mut self, from: &Path, to: &Path) {
        let moved: Vec<PathBuf> = self
            .dirs
            .keys()
            .filter(|k| k.starts_with(from))
            .cloned()
            .collect();
        for old in moved {
            if let (Some(dir), Ok(rest)) = (self.dirs.remove(&old), old.strip_prefix(from)) {
                let new = if rest.as_os_str().is_empty() {
                    to.to_path_buf()
                } else {
                    to.join(rest)
                };
                self.dirs.insert(new, dir);
            }
        }
    }

    /// True if some pending directory change names a path strictly below `path`.
    /// A crash undoes pending changes newest first, which is right for any sequence;
    /// but a sync settles a change by the parent path recorded with it, which a later
    /// move of an ancestor would make stale. The simulation refuses such moves.
    pub(super) fn pending_below(&self, path: &Path) -> bool {
        let below = |p: &Path| p != path && p.starts_with(path);
        self.pending.iter().any(|change| match change {
            DirChange::Renamed { from, to, .. } => below(from) || below(to),
            DirChange::Removed { path: p, .. } => below(p),
        })
    }

    /// A sync of directory `path`: pending changes whose parents are now all synced
    /// become durable.
    pub(super) fn settle_pending(&mut self, path: &Path) {
        let is_parent = |p: &Path| p.parent() == Some(path);
        self.pending.retain_mut(|change| match change {
            DirChange::Renamed { from, to, synced } => {
                synced[0] |= is_parent(from);
                synced[1] |= is_parent(to);
                !(synced[0] && synced[1])
            }
            DirChange::Removed { path: p, .. } => !is_parent(p),
        });
    }

    /// Drops inodes that no name (current or durable, including the durable names
    /// of a removed directory a power loss would bring back) and no handle refers to.
    pub(super) fn collect_garbage(&mut self) {
        let removed = self.pending.iter().filter_map(|change| match change {
            DirChange::Removed { dir, .. } => Some(dir),
            DirChange::Renamed { .. } => None,
        });
        let live: BTreeSet<Ino> = self
            .dirs
            .values()
            .flat_map(|d| d.entries.values().chain(d.durable.values()))
            .chain(removed.flat_map(|d| d.durable.values()))
            .copied()
            .collect();
        self.inodes
            .retain(|ino, inode| inode.handles > 0 || live.contains(ino));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_copies_only_the_tail() {
        let mut inode = Inode::durable(b"abc".to_vec());
        inode.write_at(inode.data.len(), b"def");
        assert!(inode.extends_durable());
        inode.sync();
        assert_eq!(inode.durable, b"abcdef");
        inode.truncate();
        inode.write_at(inode.data.len(), b"x");
        assert!(!inode.extends_durable());
        assert_eq!(inode.durable, b"abcdef");
        inode.sync();
        assert_eq!(inode.durable, b"x");
    }

    #[test]
    fn normalize_drops_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("a/b/")), PathBuf::from("a/b"));
    }

    #[test]
    fn power_cut_stops_mutations() {
        let mut state = State {
            op_limit: Some(2),
            ..State::default()
        };
        assert!(state.begin_op().is_ok());
        assert!(state.begin_op().is_ok());
        assert!(state.begin_op().is_err());
        assert_eq!(state.ops, 2);
    }
}
