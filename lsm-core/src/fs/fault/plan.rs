//! Which operations fail: per-kind counters and armed faults.
//!
//! Kept apart from the wrapper so the decision (count, compare, disarm) is one small
//! piece of logic, independent of which file-system call asks for it.

use std::error::Error;
use std::fmt;
use std::io;

/// Kinds of operations [`FaultFs`](super::FaultFs) counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// [`WritableFile::write_all`](crate::fs::WritableFile::write_all).
    Write,
    /// [`WritableFile::sync`](crate::fs::WritableFile::sync).
    Sync,
    /// [`FileSystem::create`](crate::fs::FileSystem::create).
    Create,
    /// [`FileSystem::open_append`](crate::fs::FileSystem::open_append).
    Open,
    /// [`FileSystem::rename`](crate::fs::FileSystem::rename).
    Rename,
    /// [`FileSystem::remove`](crate::fs::FileSystem::remove).
    Remove,
    /// [`FileSystem::sync_dir`](crate::fs::FileSystem::sync_dir).
    SyncDir,
    /// [`FileSystem::read`](crate::fs::FileSystem::read),
    /// [`FileSystem::map`](crate::fs::FileSystem::map) and each positional read of a
    /// mapped file ([`MappedFile::read_at`](crate::fs::MappedFile::read_at)).
    Read,
    /// [`FileSystem::list`](crate::fs::FileSystem::list).
    List,
    /// [`FileSystem::create_dir_all`](crate::fs::FileSystem::create_dir_all).
    CreateDir,
    /// [`FileSystem::lock`](crate::fs::FileSystem::lock).
    Lock,
    /// [`WritableFile::preallocate`](crate::fs::WritableFile::preallocate) and
    /// [`WritableFile::trim`](crate::fs::WritableFile::trim).
    SetLen,
    /// [`FileSystem::rename_dir`](crate::fs::FileSystem::rename_dir).
    RenameDir,
    /// [`FileSystem::remove_dir`](crate::fs::FileSystem::remove_dir).
    RemoveDir,
}

impl FaultKind {
    /// Every kind, for tests that loop over them.
    pub const ALL: [FaultKind; 14] = [
        FaultKind::Write,
        FaultKind::Sync,
        FaultKind::Create,
        FaultKind::Open,
        FaultKind::Rename,
        FaultKind::Remove,
        FaultKind::SyncDir,
        FaultKind::Read,
        FaultKind::List,
        FaultKind::CreateDir,
        FaultKind::Lock,
        FaultKind::SetLen,
        FaultKind::RenameDir,
        FaultKind::RemoveDir,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// How an armed fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultMode {
    /// Fail the chosen operation only.
    Once,
    /// Fail the chosen operation and every later one of its kind, until
    /// [`FaultFs::clear`](super::FaultFs::clear) (a disk that stays broken).
    Persistent,
    /// Like `Once`, but a failing write first writes the first half of its buffer
    /// (a short write, as when the disk fills up). Other kinds fail as with `Once`.
    PartialOnce,
}

/// The error payload of an injected failure; see
/// [`FaultFs::is_injected`](super::FaultFs::is_injected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedFault {
    /// The kind of the failed operation.
    pub kind: FaultKind,
    /// Its number among operations of that kind since the
    /// [`FaultFs`](super::FaultFs) was made.
    pub number: u64,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "injected fault: {:?} operation #{}",
            self.kind, self.number
        )
    }
}

impl Error for InjectedFault {}

/// An armed fault: fires when its kind's counter reaches `at`.
#[derive(Debug, Clone, Copy)]
struct Armed {
    at: u64,
    mode: FaultMode,
}

/// Counters and armed faults, shared by a [`FaultFs`](super::FaultFs) and the files
/// it opened.
#[derive(Debug, Default)]
pub(super) struct Faults {
    counts: [u64; FaultKind::ALL.len()],
    armed: [Option<Armed>; FaultKind::ALL.len()],
    injected: u64,
}

/// What to do with one operation.
pub(super) enum Verdict {
    Proceed,
    Fail(io::Error),
    /// Write part of the buffer, then fail.
    Partial(io::Error),
}

impl Faults {
    /// Arms a fault for the `k`-th operation of `kind` from now (`k >= 1`).
    pub(super) fn arm(&mut self, kind: FaultKind, k: u64, mode: FaultMode) {
        let at = self.count(kind) + k;
        if let Some(slot) = self.armed.get_mut(kind.index()) {
            *slot = Some(Armed { at, mode });
        }
    }

    pub(super) fn disarm_all(&mut self) {
        self.armed = Default::default();
    }

    pub(super) fn count(&self, kind: FaultKind) -> u64 {
        self.counts.get(kind.index()).copied().unwrap_or(0)
    }

    pub(super) fn injected(&self) -> u64 {
        self.injected
    }

    /// Counts one operation of `kind` and decides whether it fails.
    pub(super) fn check(&mut self, kind: FaultKind) -> Verdict {
        let i = kind.index();
        let (Some(count), Some(slot)) = (self.counts.get_mut(i), self.armed.get_mut(i)) else {
            return Verdict::Proceed;
        };
        *count += 1;
        let number = *count;
        let Some(armed) = *slot else {
            return Verdict::Proceed;
        };
        let fires = match armed.mode {
            FaultMode::Persistent => number >= armed.at,
            FaultMode::Once | FaultMode::PartialOnce => number == armed.at,
        };
        if !fires {
            return Verdict::Proceed;
        }
        if armed.mode != FaultMode::Persistent {
            *slot = None;
        }
        self.injected += 1;
        let err = io::Error::other(InjectedFault { kind, number });
        match armed.mode {
            FaultMode::PartialOnce => Verdict::Partial(err),
            _ => Verdict::Fail(err),
        }
    }

    /// Like `check`, for operations that cannot fail partially.
    pub(super) fn gate(&mut self, kind: FaultKind) -> io::Result<()> {
        match self.check(kind) {
            Verdict::Proceed => Ok(()),
            Verdict::Fail(err) | Verdict::Partial(err) => Err(err),
        }
    }
}
