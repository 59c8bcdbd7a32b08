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

use std::collections::HashMap;

use lsm_format::keyspace::KeyspaceId;
use lsm_format::manifest::MAX_LEVELS;

use crate::compaction::blob_gc::pick_blob_gc;
use crate::compaction::manual::pick_manual;
use crate::compaction::picker::{neediest_level, pick, Task};
use crate::compaction::PickerConfig;
use crate::engine::{Engine, State, Tree};
use crate::error::{Error, PoisonedBy, Result};
use crate::segment::file::SegmentFile;
use crate::write_path::Freeze;

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
                if st.immutable_count() > 0 && !poisoned {
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
    // Level sizing is a database-wide option: every keyspace's tree is sized
    // with it, each from its own levels.
    let cfg = PickerConfig::from_options(&engine.env.opts);
    // The round-robin pointers of each keyspace's tree.
    let mut pointers: HashMap<KeyspaceId, Vec<Option<Vec<u8>>>> = HashMap::new();
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
                    let (keyspace, request) = request;
                    // A keyspace dropped since the request has nothing to compact.
                    let task = st
                        .tree(keyspace)
                        .and_then(|t| pick_manual(t.version.levels(), &request, &cfg));
                    break (task.map(|t| (keyspace, t)), waiters);
                } else if let Some(found) = pick_neediest(&st, &cfg, &pointers) {
                    break (Some(found), Vec::new());
                }
                engine.coord.wait_compaction(&mut st, IDLE_WAIT);
            }
        };
        let result = match task {
            None => Ok(()),
            Some((keyspace, task)) => {
                if !task.manual {
                    if let Some((level, files)) = task.inputs.first() {
                        let largest = files.iter().map(|f| f.largest()).max();
                        let pointers = pointers
                            .entry(keyspace)
                            .or_insert_with(|| vec![None; MAX_LEVELS]);
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
            // Dropped while it was compacted: its files went with it.
            Err(Error::KeyspaceDropped { .. }) => Ok(()),
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

/// The compaction of the keyspace whose tree needs one most (the highest score),
/// if any keyspace needs one; else the rewrite of a segment that points into a
/// blob file mostly garbage, if any.
fn pick_neediest(
    st: &State,
    cfg: &PickerConfig,
    pointers: &HashMap<KeyspaceId, Vec<Option<Vec<u8>>>>,
) -> Option<(KeyspaceId, Task<Arc<SegmentFile>>)> {
    let mut by_need: Vec<(f64, KeyspaceId, &Tree)> = st
        .trees
        .iter()
        .map(|(id, t)| (neediest_level(t.version.levels(), cfg).1, *id, t))
        .collect();
    by_need.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let needed = by_need.iter().find_map(|&(_, id, tree)| {
        let none = [];
        let pointers = pointers.get(&id).map_or(&none[..], Vec::as_slice);
        pick(tree.version.levels(), cfg, pointers).map(|task| (id, task))
    });
    // Nothing else to do: collect a blob file that is mostly garbage (by its
    // keyspace's ratio).
    needed.or_else(|| {
        st.trees.iter().find_map(|(id, tree)| {
            pick_blob_gc(&tree.version, tree.opts.blob_gc_ratio).map(|task| (*id, task))
        })
    })
}

/// Freezes the active memtables older than `flush_interval`.
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
            if engine.env.poison.is_poisoned() {
                Vec::new()
            } else {
                st.trees
                    .iter()
                    .filter(|(_, t)| t.mem.age().is_some_and(|age| age >= interval))
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
            }
        };
        for keyspace in due {
            log::debug!(
                "memtable of keyspace {keyspace} older than flush_interval {interval:?}: freezing it"
            );
            let which = Freeze::One(keyspace);
            if let Err(e) = engine
                .writes
                .freeze_memtable(&engine.write_context(), which)
            {
                log::debug!("periodic flush skipped: {e}");
            }
        }
    }
}
