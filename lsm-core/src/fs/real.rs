//! The real file system (std::fs + memmap2). To be implemented by the fs work.

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;
