//! The poison flag: after a failed WAL or manifest write or fsync, or a failed
//! background flush or compaction, nothing is known about what reached the disk, so
//! the database refuses further writes (reads go on) until it is reopened, whose
//! recovery re-establishes a known state. An fsync is never retried.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub(crate) struct Poison {
    set: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Poison {
    /// Poisons with `err` as the reason (the first reason wins) and returns `err`.
    pub fn poison(&self, what: &str, err: Error) -> Error {
        let mut reason = self.reason.lock();
        if reason.is_none() {
            let text = format!("{what}: {err}");
            log::error!("database poisoned, refusing writes until reopened: {text}");
            *reason = Some(text);
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
        let reason = self.reason.lock().clone().unwrap_or_default();
        Err(Error::Poisoned(reason))
    }
}
