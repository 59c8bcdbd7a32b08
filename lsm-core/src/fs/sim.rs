//! A simulated in-memory file system that can crash. To be implemented by the fs work.

/// A simulated disk.
#[derive(Debug, Default)]
pub struct SimFs;

/// What a simulated power loss keeps of unsynced data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Drop all unsynced data.
    DropUnsynced,
}
