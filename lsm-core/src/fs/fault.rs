//! A fault-injecting wrapper. To be implemented by the fs work.

/// Fails chosen operations of an inner file system.
#[derive(Debug, Default)]
pub struct FaultFs;

/// Kinds of operations that can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A write.
    Write,
}

/// Fail once or persistently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Fail once.
    Once,
}
