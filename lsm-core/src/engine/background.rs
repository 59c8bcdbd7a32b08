//! The background threads: one flushes frozen memtables, one compacts, and (when
//! `flush_interval` is set) a timer freezes memtables that grew old.
//!
//! Flush and compaction are separate threads so a flush (which writers may be
//! waiting for) never queues behind a long compaction. The timer is separate from
//! both because freezing a memtable goes through the write queue, which can wait for
//! flushes and compactions; neither of those may ever wait for it.
//!
//! A failure in a background job poisons the database (writes refused, reads go on)
//! and the job is not retried; shutdown lets the flush thread drain what is frozen
//! (unless poisoned) and interrupts a running compaction.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lsm_format::manifest::MAX_LEVELS;

use crate::compaction::manual::pick_manual;
use crate::compaction::picker::pick;
use crate::compaction::PickerConfig;
use crate::engine::Engine;
use crate::error::{Error, PoisonedBy, Result};

const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Starts the background threads.
///
/// # Errors
/// `Io` when a thread cannot be spawned.
pub(crate) fn spawn(engine: &Arc<Engine>) -> Result<Vec<JoinHandle<()>>> {
    type Job = fn(Arc<Engine>);
    let mut jobs: Vec<(&str, Job)> =
        vec![("lsm-flush", flush_loop), ("lsm-compact", compaction_loop)];
    if engine.env.opts.flush_interval.is_some() {
        jobs.push(("lsm-flush-timer", timer_loop));
    }
    let mut threads = Vec::new();
    for (name, job) in jobs {
        let for_thread = engine.clone();
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || job(for_thread))
            .map_err(|e| Error::io(&engine.env.dir, e))?;
        threads.push(handle);
    }
    Ok(threads)
}

/// Runs a background job, turning a panic into an error (which poisons the
/// database) so that nobody waits forever for a thread that died.
fn guarded<T>(job: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Poisoned {
                operation: PoisonedBy::Panic,
                message: format!("background job panicked: {what}"),
            })
        }
    }
}

fn flush_loop(engine: Arc<Engine>) {
    loop {
        {
            let mut st = engine.coord.lock();
            loop {
                let poisoned = engine.env.poison.is_poisoned();
                if !st.imm.is_empty() && !poisoned {
                    break;
                }
                if st.shutdown {
                    return;
                }
                engine.coord.wait_flush(&mut st, IDLE_WAIT);
            }
        }
        if let Err(e) = guarded(|| engine.flush_job().flush_oldest()) {
            engine
                .env
                .poison
                .poison(PoisonedBy::BackgroundFlush, "background flush failed", e);
            engine.coord.notify_done();
        }
    }
}

fn compaction_loop(engine: Arc<Engine>) {
    let cfg = PickerConfig {
        level0_trigger: engine.env.opts.level0_compaction_trigger,
        level1_size: engine.env.opts.level1_size,
        multiplier: engine.env.opts.level_size_multiplier as u64,
    };
    let mut pointers: Vec<Option<Vec<u8>>> = vec![None; MAX_LEVELS];
    loop {
        let (task, waiters) = {
            let mut st = engine.coord.lock();
            loop {
                if st.shutdown {
                    for (_, w) in st.manual.drain(..) {
                        let _ = w.send(Err(Error::Closed));
                    }
                    return;
                }
                if let Err(e) = engine.env.poison.check() {
                    for (_, w) in st.manual.drain(..) {
                        let _ = w.send(Err(e.duplicate()));
                    }
                } else if let Some((request, _)) = st.manual.first() {
                    // Equal requests share one compaction.
                    let request = request.clone();
                    let (same, rest): (Vec<_>, Vec<_>) =
                        st.manual.drain(..).partition(|(r, _)| *r == request);
                    st.manual = rest;
                    let waiters: Vec<_> = same.into_iter().map(|(_, w)| w).collect();
                    break (pick_manual(st.version.levels(), &request), waiters);
                } else if let Some(task) = pick(st.version.levels(), &cfg, &pointers) {
                    break (Some(task), Vec::new());
                }
                engine.coord.wait_compaction(&mut st, IDLE_WAIT);
            }
        };
        let result = match task {
            None => Ok(()),
            Some(task) => {
                if !task.manual {
                    if let Some((level, files)) = task.inputs.first() {
                        let largest = files.iter().map(|f| f.largest()).max();
                        if let (Some(p), Some(k)) = (pointers.get_mut(*level), largest) {
                            *p = Some(k.to_vec());
                        }
                    }
                }
                guarded(|| engine.compaction_job().run(&task))
            }
        };
        let result = match result {
            Err(Error::Closed) => Err(Error::Closed),
            Err(e) => Err(engine.env.poison.poison(
                PoisonedBy::BackgroundCompaction,
                "background compaction failed",
                e,
            )),
            Ok(()) => Ok(()),
        };
        for w in waiters {
            let _ = w.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(e.duplicate()),
            });
        }
        engine.coord.notify_done();
    }
}

/// Freezes the active memtable once it is older than `flush_interval`.
fn timer_loop(engine: Arc<Engine>) {
    let Some(interval) = engine.env.opts.flush_interval else {
        return;
    };
    let step = (interval / 4).clamp(Duration::from_millis(1), IDLE_WAIT);
    loop {
        let due = {
            let mut st = engine.coord.lock();
            if st.shutdown {
                return;
            }
            engine.coord.wait_timer(&mut st, step);
            if st.shutdown {
                return;
            }
            !engine.env.poison.is_poisoned() && st.mem.age().is_some_and(|age| age >= interval)
        };
        if due {
            log::debug!("memtable older than flush_interval {interval:?}: freezing it");
            if let Err(e) = engine.writes.freeze_memtable(&engine.write_context()) {
                log::debug!("periodic flush skipped: {e}");
            }
        }
    }
}
