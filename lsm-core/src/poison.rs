//! The poison flag: after a failed WAL or manifest write or fsync, or a failed
//! background flush or compaction, nothing is known about what reached the disk, so
//! the database refuses further writes (reads go on) until it is reopened, whose
//! recovery re-establishes a known state. An fsync is never retried.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, PoisonedBy, Result};

#[derive(Debug, Default)]
pub(crate) struct Poison {
    set: AtomicBool,
    /// The first failure: the operation and its description.
    reason: Mutex<Option<(PoisonedBy, String)>>,
}

impl Poison {
    /// Poisons with `err` of `operation` (described as `what`) as the reason (the
    /// first reason wins) and returns `err`.
    pub fn poison(&self, operation: PoisonedBy, what: &str, err: Error) -> Error {
        let mut reason = self.reason.lock();
        if reason.is_none() {
            let text = format!("{what}: {err}");
            log::error!("database poisoned, refusing writes until reopened: {text}");
            *reason = Some((operation, text));
            self.set.store(true, Ordering::Release);
        }
        err
    }

    pub fn is_poisoned(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// `Err(Poisoned)` once poisoned.
    pub fn check(&self) -> Result<()> {
        if !self.is_poisoned() {
            return Ok(());
        }
        // `set` is stored after `reason`, under its lock: a poisoned flag implies a
        // recorded reason.
        let reason = self.reason.lock().clone();
        debug_assert!(reason.is_some(), "poisoned without a reason");
        let (operation, message) = reason.unwrap_or((PoisonedBy::Panic, String::new()));
        Err(Error::Poisoned { operation, message })
    }
}
