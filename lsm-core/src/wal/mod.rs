//! The write-ahead log: every write is appended here before it reaches a memtable.
//!
//! - [`writer`]: one WAL file; frames a commit group as one record with one write call,
//!   fsyncs on demand and certifies in each record how much of the file was durable
//!   (`synced_offset`, so replay can tell a torn tail from corruption).
//! - [`group_commit`]: the queue of concurrent writers; one leader at a time commits
//!   the batches of everyone waiting behind it.

pub(crate) mod group_commit;
pub(crate) mod writer;

pub(crate) use group_commit::{Role, WriteQueue, Writer};
pub(crate) use writer::WalWriter;
