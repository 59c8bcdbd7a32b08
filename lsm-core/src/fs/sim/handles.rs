//! Handles a [`SimFs`](super::SimFs) gives out: open files and held locks. Each
//! shares the disk's state and undoes its bookkeeping when dropped.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::state::{Ino, State};
use crate::fs::{FileLock, WritableFile};

/// An open file of a [`SimFs`](super::SimFs). Keeps its inode alive even if its
/// name is removed, as an open file descriptor does.
pub(super) struct SimFile {
    pub(super) state: Arc<Mutex<State>>,
    pub(super) ino: Ino,
    /// Bytes written through this handle plus the length it was opened at: where
    /// the next write goes (preallocated zeros may lie beyond it).
    pub(super) pos: usize,
}

impl WritableFile for SimFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin_op()?;
        state.inode_mut(self.ino)?.write_at(self.pos, buf);
        self.pos += buf.len();
        Ok(())
    }

    fn preallocate(&mut self, size: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin_op()?;
        let inode = state.inode_mut(self.ino)?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > inode.len() {
            inode.resize(size);
        }
        Ok(())
    }

    fn trim(&mut self) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin_op()?;
        let pos = self.pos;
        let inode = state.inode_mut(self.ino)?;
        if inode.len() > pos {
            inode.resize(pos);
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin_op()?;
        state.inode_mut(self.ino)?.sync();
        Ok(())
    }

    fn len(&self) -> u64 {
        self.pos as u64
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let mut state = self.state.lock();
        if let Some(inode) = state.inodes.get_mut(&self.ino) {
            inode.handles = inode.handles.saturating_sub(1);
        }
        state.collect_garbage();
    }
}

/// A lock held in a [`SimFs`](super::SimFs)'s memory; dropping it frees the path.
pub(super) struct SimLock {
    pub(super) state: Arc<Mutex<State>>,
    pub(super) path: PathBuf,
}

impl FileLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.state.lock().locks.remove(&self.path);
    }
}
