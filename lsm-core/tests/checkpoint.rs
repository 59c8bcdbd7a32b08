//! `Db::checkpoint`: a copy taken while the database runs holds everything
//! acknowledged before the call, is a prefix of the history, opens on its own, and a
//! crash or an I/O error while it is written leaves no copy or a complete one.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::files::blob_files;
use common::small_options;
use lsm_core::fs::{CrashMode, FaultFs, FaultKind, FaultMode, FileSystem, SimFs};
use lsm_core::{Db, Error};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn all(db: &Db) -> Map {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

#[test]
fn a_checkpoint_holds_everything_acknowledged_before_it_and_opens_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("live"), small_options()).unwrap();
    let mut model = Map::new();
    let write = |db: &Db, range: std::ops::Range<u64>, model: &mut Map| {
        for i in range {
            let k = key(i % 500);
            if i % 9 == 0 {
                db.delete(&k).unwrap();
                model.remove(&k);
            } else {
                let v = format!("v{i}").into_bytes();
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
    };
    write(&db, 0..1500, &mut model);
    let first = model.clone();
    db.checkpoint(tmp.path().join("a")).unwrap();
    db.compact().unwrap(); // a deeper level for certain
    write(&db, 1500..3000, &mut model);
    db.checkpoint(tmp.path().join("b")).unwrap();

    let a = Db::open(tmp.path().join("a"), small_options()).unwrap();
    let b = Db::open(tmp.path().join("b"), small_options()).unwrap();
    assert!(
        all(&a) == first,
        "checkpoint a is not the state at its call"
    );
    assert!(
        all(&b) == model,
        "checkpoint b is not the state at its call"
    );
    // Each is a database of its own: writes to one never reach another.
    a.put("only-in-a", "x").unwrap();
    a.compact().unwrap();
    assert_eq!(db.get("only-in-a").unwrap(), None);
    assert!(all(&b) == model);
    assert!(all(&db) == model);
    drop((a, b));
    db.close().unwrap();
}

#[test]
fn a_checkpoint_into_an_existing_path_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("live"), small_options()).unwrap();
    db.put("k", "v").unwrap();
    let dest = tmp.path().join("taken");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("mine.txt"), "keep").unwrap();
    let err = db.checkpoint(&dest).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&dest).unwrap().collect();
    assert_eq!(
        names.len(),
        1,
        "the refused checkpoint wrote into the directory"
    );
}

#[cfg(unix)]
#[test]
fn segments_are_hard_linked_where_the_file_system_allows() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let db = Db::open(&live, small_options()).unwrap();
    for i in 0..800 {
        db.put(key(i), "value").unwrap();
    }
    db.checkpoint(tmp.path().join("copy")).unwrap();
    let mut linked = 0;
    for e in std::fs::read_dir(tmp.path().join("copy")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".seg") {
            let source = live.join(&name);
            // A segment the source compacted away since is gone from it: skip.
            if let Ok(meta) = std::fs::metadata(&source) {
                assert_eq!(
                    meta.ino(),
                    e.metadata().unwrap().ino(),
                    "{name:?} is a copy"
                );
                linked += 1;
            }
        }
    }
    assert!(linked > 0);
}

/// A writer puts keys 0, 1, 2, ... in order while flushes and compactions run; the
/// main thread takes checkpoints. Each opens to exactly keys `0..n` with `n` at
/// least what was acknowledged before its call.
#[test]
fn checkpoints_beside_a_writer_and_compactions_are_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(tmp.path().join("live"), small_options()).unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, written, done) = (db.clone(), written.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..4000u64 {
                db.put(key(i), format!("value-{i}")).unwrap();
                written.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut taken = 0;
    while !done.load(Ordering::SeqCst) || taken == 0 {
        let acknowledged = written.load(Ordering::SeqCst);
        let dest = tmp.path().join(format!("cp{taken}"));
        db.checkpoint(&dest).unwrap();
        let copy = Db::open(&dest, small_options()).unwrap();
        let got = all(&copy);
        assert!(
            got.len() as u64 >= acknowledged,
            "{} < {acknowledged}",
            got.len()
        );
        for (i, (k, v)) in got.iter().enumerate() {
            assert_eq!(*k, key(i as u64), "a hole in checkpoint {taken}");
            assert_eq!(*v, format!("value-{i}").into_bytes());
        }
        taken += 1;
    }
    writer.join().unwrap();
    println!("{taken} checkpoints");
}

/// The names in `dir` that are not `keep` nor a staging directory of `dest_name`.
fn strays(fs: &SimFs, dir: &str, keep: &[&str], dest_name: &str) -> Vec<String> {
    let staging = format!(".{dest_name}.staging-");
    fs.list(Path::new(dir))
        .unwrap()
        .into_iter()
        .filter(|n| !keep.contains(&n.as_str()) && !n.starts_with(&staging))
        .collect()
}

/// A power cut at every file operation of a checkpoint, each crashed in the 4
/// modes: the source keeps every synced write, and the copy is absent or, opened
/// with the default options (which create a missing database), holds exactly the
/// state of the call; a finished checkpoint always opens. Nothing but the copy and
/// a staging directory appears beside it, and a new checkpoint on the crashed disk
/// removes that staging directory.
#[test]
fn a_crash_while_checkpointing_leaves_no_copy_or_an_exact_one() {
    let options = small_options();
    let mut model = Map::new();
    let disk = SimFs::new();
    {
        let db = Db::open_with_fs("/live", options.clone(), disk.fs_ref()).unwrap();
        for i in 0..600u64 {
            let v = format!("v{i}").into_bytes();
            db.put(key(i % 250), &v).unwrap();
            model.insert(key(i % 250), v);
        }
        db.close().unwrap();
    }
    let (mut absent, mut whole, mut staged) = (0, 0, 0);
    for ops in 0.. {
        let run = disk.crash(CrashMode::DropUnsynced, 0);
        let db = Db::open_with_fs("/live", options.clone(), run.fs_ref()).unwrap();
        run.power_off_after(ops);
        let result = db.checkpoint("/copy");
        let finished = !run.is_powered_off();
        drop(db);
        assert!(
            result.is_ok() || !finished,
            "a checkpoint failed without a crash"
        );
        for mode in CrashMode::ALL {
            let image = run.crash(mode, ops);
            let source = Db::open_with_fs("/live", options.clone(), image.fs_ref()).unwrap();
            assert!(
                all(&source) == model,
                "the source lost data (cut after {ops})"
            );
            assert_eq!(
                strays(&image, "/", &["live", "copy"], "copy"),
                Vec::<String>::new()
            );
            let names = image.list(Path::new("/")).unwrap();
            staged += usize::from(names.iter().any(|n| n.starts_with(".copy.staging-")));
            if image.exists(Path::new("/copy")) {
                let copy = Db::open_with_fs("/copy", options.clone(), image.fs_ref())
                    .unwrap_or_else(|e| {
                        panic!("a copy does not open (cut after {ops}, {mode:?}): {e}")
                    });
                assert!(
                    all(&copy) == model,
                    "a copy opened to a wrong state (cut after {ops}, {mode:?})"
                );
                whole += 1;
            } else {
                assert!(!finished, "a finished checkpoint left no copy ({mode:?})");
                absent += 1;
                if mode == CrashMode::DropUnsynced {
                    // The next checkpoint succeeds and sweeps the leftover.
                    source.checkpoint("/copy").unwrap();
                    assert_eq!(
                        image.list(Path::new("/")).unwrap(),
                        ["copy", "live"],
                        "cut after {ops}: a leftover stays"
                    );
                    let copy = Db::open_with_fs("/copy", options.clone(), image.fs_ref()).unwrap();
                    assert!(all(&copy) == model);
                }
            }
            drop(source);
        }
        if finished {
            break;
        }
    }
    assert!(whole > 0 && absent > 0 && staged > 0);
    println!("{absent} absent copies ({staged} images with a staging directory), {whole} whole");
}

/// An I/O error at every file operation of a checkpoint, of each kind in turn: the
/// call fails and leaves no copy and no staging directory, or it succeeds (or fails
/// only in the final fsync of the parent) with a copy that opens to exactly the
/// state of the call; the source stays usable for the next checkpoint.
#[test]
fn an_io_error_while_checkpointing_leaves_no_copy_or_an_exact_one() {
    let options = small_options();
    let mut model = Map::new();
    let disk = SimFs::new();
    {
        let db = Db::open_with_fs("/live", options.clone(), disk.fs_ref()).unwrap();
        for i in 0..600u64 {
            let v = format!("v{i}").into_bytes();
            db.put(key(i % 250), &v).unwrap();
            model.insert(key(i % 250), v);
        }
        db.close().unwrap();
    }
    let (mut injected, mut retried) = (0, 0);
    for kind in FaultKind::ALL {
        for k in 1.. {
            let run = disk.crash(CrashMode::DropUnsynced, 0);
            let faulty = FaultFs::new(run.fs_ref());
            let db = Db::open_with_fs("/live", options.clone(), faulty.fs_ref()).unwrap();
            faulty.fail(kind, k, FaultMode::Once);
            let result = db.checkpoint("/copy");
            let hit = faulty.injected() > 0;
            faulty.clear();
            let when = format!("{kind:?} #{k}: {result:?}");
            assert!(hit || result.is_ok(), "{when}: failed with no fault");
            if run.exists(Path::new("/copy")) {
                let copy = Db::open_with_fs("/copy", options.clone(), run.fs_ref())
                    .unwrap_or_else(|e| panic!("{when}: the copy does not open: {e}"));
                assert!(all(&copy) == model, "{when}: the copy is wrong");
            } else {
                assert!(result.is_err(), "{when}: Ok without a copy");
                assert_eq!(strays(&run, "/", &["live"], "copy"), Vec::<String>::new());
                // The staging directory is removed, unless the fault hit that.
                let cleanup = [FaultKind::List, FaultKind::Remove, FaultKind::RemoveDir];
                if !cleanup.contains(&kind) {
                    assert_eq!(run.list(Path::new("/")).unwrap(), ["live"], "{when}");
                }
                // The next checkpoint to the same place sweeps any leftover.
                if db.checkpoint("/copy").is_ok() {
                    retried += 1;
                    assert_eq!(
                        run.list(Path::new("/")).unwrap(),
                        ["copy", "live"],
                        "{when}"
                    );
                    let copy = Db::open_with_fs("/copy", options.clone(), run.fs_ref()).unwrap();
                    assert!(all(&copy) == model, "{when}: the retried copy is wrong");
                }
            }
            drop(db);
            if !hit {
                break;
            }
            injected += 1;
        }
    }
    assert!(injected > 10, "only {injected} faults hit");
    assert!(retried > 0);
    println!("{injected} faults injected, {retried} checkpoints retried");
}

/// Checkpoints under load: writer threads each own a set of keys and record their
/// writes in order, each write carrying the number of writes every writer had
/// acknowledged when it was issued (a vector clock); flushes and compactions run in
/// the background. Every checkpoint, reopened, must hold for each writer exactly the
/// state after some prefix of its writes, that prefix covering every write
/// acknowledged before the call and none issued after it returned; the prefixes
/// together must be closed under "acknowledged before issued" (no write without one
/// its writer had seen acknowledged): the state after a prefix of the one history.
/// Its sequence number lies between the source's at the call and at its return.
mod under_load {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use lsm_core::fs::FsRef;
    use lsm_core::fuzzing::{History, Step};
    use lsm_core::{Db, Options};

    use super::{all, Map};

    const WRITERS: usize = 3;
    const KEYS: u64 = 60;

    fn writer_key(w: usize, j: u64) -> Vec<u8> {
        format!("w{w}-{j:03}").into_bytes()
    }

    /// One writer's log: each issued write with the clock it carried.
    type Log = Mutex<Vec<(Step, Vec<u64>)>>;

    struct Shared {
        acked: Vec<AtomicU64>,
        logs: Vec<Log>,
        stop: AtomicBool,
    }

    fn clock(shared: &Shared) -> Vec<u64> {
        shared
            .acked
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect()
    }

    fn write(db: &Db, shared: &Shared, w: usize) {
        for i in 0u64.. {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let k = writer_key(w, (i * 7 + i / KEYS) % KEYS);
            let c = clock(shared);
            let step: Step = if i % 9 == 4 {
                vec![(k, None)]
            } else if i % 13 == 6 {
                // A batch over three keys of this writer: all or nothing.
                (0..3)
                    .map(|d| {
                        let k = writer_key(w, (i + d * 17) % KEYS);
                        (k, Some(format!("{w}:{i}:{d}:{c:?}").into_bytes()))
                    })
                    .collect()
            } else {
                vec![(k, Some(format!("{w}:{i}:{c:?}").into_bytes()))]
            };
            shared.logs[w].lock().unwrap().push((step.clone(), c));
            lsm_core::fuzzing::write_step(db, &step).unwrap();
            shared.acked[w].fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Checks one reopened checkpoint (see the module comment); returns the total
    /// prefix length it holds.
    fn check(found: &Map, shared: &Shared, before: &[u64], after: &[u64]) -> Result<u64, String> {
        let mut lo = Vec::new();
        let mut hi = Vec::new();
        let mut logs = Vec::new();
        for w in 0..WRITERS {
            let log: Vec<_> = shared.logs[w].lock().unwrap()[..after[w] as usize].to_vec();
            let mut history = History::new(Map::new());
            for (step, _) in &log {
                history.ack(step.clone());
            }
            let prefix = format!("w{w}-").into_bytes();
            let mine: Map = found
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let fits: Vec<u64> = history
                .matching_prefixes(&mine)
                .into_iter()
                .map(|p| p as u64)
                .filter(|&p| p >= before[w] && p <= after[w])
                .collect();
            let (Some(&a), Some(&b)) = (fits.first(), fits.last()) else {
                return Err(format!(
                    "writer {w}: the checkpoint is no prefix of its {} writes issued before \
                     the return that covers the {} acknowledged before the call",
                    after[w], before[w]
                ));
            };
            lo.push(a);
            hi.push(b);
            logs.push(log);
        }
        // Causality: the last write of the shortest fitting prefix of each writer was
        // issued after the writes its clock counts; those must be in too.
        for w in 0..WRITERS {
            if let Some(last) = lo[w].checked_sub(1) {
                let seen = &logs[w][last as usize].1;
                for v in 0..WRITERS {
                    if seen[v] > hi[v] {
                        return Err(format!(
                            "write {last} of writer {w} is in, but not the {} writes of writer \
                             {v} acknowledged before it was issued (at most {} are)",
                            seen[v], hi[v]
                        ));
                    }
                }
            }
        }
        Ok(lo.iter().sum())
    }

    /// Runs the scenario on `fs` for about `secs` seconds; `dir` holds the source
    /// and the checkpoints.
    pub fn run(fs: FsRef, dir: &Path, secs: f64) -> u64 {
        let options = Options::default()
            .with_memtable_size(8 << 10)
            .with_segment_size(4 << 10)
            .with_block_size(512)
            .with_level0_compaction_trigger(2)
            .with_level1_size(16 << 10)
            .with_level_size_multiplier(3);
        let open = |path: &Path| Db::open_with_fs(path, options.clone(), fs.clone());
        let db = Arc::new(open(&dir.join("live")).unwrap());
        let shared = Arc::new(Shared {
            acked: (0..WRITERS).map(|_| AtomicU64::new(0)).collect(),
            logs: (0..WRITERS).map(|_| Mutex::default()).collect(),
            stop: AtomicBool::new(false),
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (db, shared) = (db.clone(), shared.clone());
                std::thread::spawn(move || write(&db, &shared, w))
            })
            .collect();
        let start = Instant::now();
        let mut taken = 0u64;
        let mut held = 0u64;
        while start.elapsed() < Duration::from_secs_f64(secs) || taken < 3 {
            let dest: PathBuf = dir.join(format!("cp{taken}"));
            let before = clock(&shared);
            let seq_before = db.snapshot().sequence();
            db.checkpoint(&dest).unwrap();
            let seq_after = db.snapshot().sequence();
            let after: Vec<u64> = shared
                .logs
                .iter()
                .map(|l| l.lock().unwrap().len() as u64)
                .collect();
            let copy = Db::open_read_only_with_fs(&dest, options.clone(), fs.clone()).unwrap();
            let seq = copy.sequence();
            assert!(
                (seq_before..=seq_after).contains(&seq),
                "checkpoint {taken}: sequence {seq} outside {seq_before}..={seq_after}"
            );
            drop(copy);
            let copy = open(&dest).unwrap();
            let found = all(&copy);
            held += check(&found, &shared, &before, &after)
                .unwrap_or_else(|e| panic!("checkpoint {taken}: {e}"));
            // It is a database of its own: it takes writes.
            copy.put("after", "x").unwrap();
            copy.close().unwrap();
            taken += 1;
        }
        shared.stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.join().unwrap();
        }
        let stats = db.stats();
        assert!(
            stats.flushes > taken && stats.compactions > 0,
            "the source did not flush and compact under the checkpoints: {stats:?}"
        );
        println!(
            "{taken} checkpoints under load, {held} writes held in all, {} writes \
             acknowledged, {} flushes and {} compactions meanwhile",
            clock(&shared).iter().sum::<u64>(),
            stats.flushes,
            stats.compactions
        );
        taken
    }
}

fn load_secs() -> f64 {
    common::env_or("LSM_SOAK_SECS", 3.0)
}

#[test]
fn checkpoints_under_load_on_the_simulated_disk_are_prefixes_of_the_history() {
    let sim = SimFs::new();
    let taken = under_load::run(sim.fs_ref(), std::path::Path::new("/"), load_secs());
    assert!(taken >= 3);
}

#[test]
fn checkpoints_under_load_on_a_real_disk_are_prefixes_of_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = under_load::run(Arc::new(lsm_core::fs::RealFs), tmp.path(), load_secs());
    assert!(taken >= 3);
}

/// A file system that stops the first `link_or_copy` (a checkpoint taking its first
/// segment) until the test lets it go, so the test can run a compaction that retires
/// every segment of the checkpoint's version in the middle of the checkpoint.
mod gate {
    use std::io;
    use std::path::Path;
    use std::sync::{Arc, Condvar, Mutex};

    use lsm_core::fs::{FileLock, FileSystem, FsRef, MappedFile, WritableFile};

    #[derive(Default)]
    pub struct Gate {
        /// (armed, a checkpoint waits at it, released)
        state: Mutex<(bool, bool, bool)>,
        changed: Condvar,
    }

    impl Gate {
        pub fn arm(&self) {
            self.state.lock().unwrap().0 = true;
        }
        pub fn wait_until_held(&self) {
            let mut s = self.state.lock().unwrap();
            while !s.1 {
                s = self.changed.wait(s).unwrap();
            }
        }
        pub fn release(&self) {
            self.state.lock().unwrap().2 = true;
            self.changed.notify_all();
        }
        fn pass(&self) {
            let mut s = self.state.lock().unwrap();
            if !s.0 || s.1 {
                return;
            }
            s.1 = true;
            self.changed.notify_all();
            while !s.2 {
                s = self.changed.wait(s).unwrap();
            }
        }
    }

    pub struct GateFs {
        pub inner: FsRef,
        pub gate: Arc<Gate>,
        /// Directory operations in order: `("create_dir_all" | "sync_dir", path)`, and
        /// `("rename_dir", to)`.
        pub dir_ops: Arc<Mutex<Vec<(&'static str, std::path::PathBuf)>>>,
    }

    impl FileSystem for GateFs {
        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            let op = ("create_dir_all", path.to_path_buf());
            self.dir_ops.lock().unwrap().push(op);
            self.inner.create_dir_all(path)
        }
        fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
            self.inner.create(path)
        }
        fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
            self.inner.open_append(path)
        }
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.inner.read(path)
        }
        fn map(&self, path: &Path) -> io::Result<MappedFile> {
            self.inner.map(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.inner.rename(from, to)
        }
        fn remove(&self, path: &Path) -> io::Result<()> {
            self.inner.remove(path)
        }
        fn rename_dir(&self, from: &Path, to: &Path) -> io::Result<()> {
            let op = ("rename_dir", to.to_path_buf());
            self.dir_ops.lock().unwrap().push(op);
            self.inner.rename_dir(from, to)
        }
        fn remove_dir(&self, path: &Path) -> io::Result<()> {
            self.inner.remove_dir(path)
        }
        fn sync_dir(&self, path: &Path) -> io::Result<()> {
            let op = ("sync_dir", path.to_path_buf());
            self.dir_ops.lock().unwrap().push(op);
            self.inner.sync_dir(path)
        }
        fn list(&self, path: &Path) -> io::Result<Vec<String>> {
            self.inner.list(path)
        }
        fn exists(&self, path: &Path) -> bool {
            self.inner.exists(path)
        }
        fn size(&self, path: &Path) -> io::Result<u64> {
            self.inner.size(path)
        }
        fn link_or_copy(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.gate.pass();
            self.inner.link_or_copy(from, to)
        }
        fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
            self.inner.lock(path)
        }
    }
}

/// A compaction that retires (and would delete) every segment of a checkpoint's
/// version while the checkpoint is between taking the version and linking its
/// files: the files stay until the checkpoint lets go of the version, the copy
/// opens to exactly the state at the call, and the retired files are removed after.
#[test]
fn a_compaction_retiring_the_inputs_during_a_checkpoint_does_not_break_it() {
    for real in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let sim = SimFs::new();
        let inner = if real {
            Arc::new(lsm_core::fs::RealFs) as lsm_core::fs::FsRef
        } else {
            sim.fs_ref()
        };
        let root = if real {
            tmp.path().to_path_buf()
        } else {
            std::path::PathBuf::from("/")
        };
        let gate = Arc::new(gate::Gate::default());
        let fs: lsm_core::fs::FsRef = Arc::new(gate::GateFs {
            inner: inner.clone(),
            gate: gate.clone(),
            dir_ops: Arc::default(),
        });
        // Level 0 never compacts on its own: only the explicit compaction below.
        let options = small_options()
            .with_level0_compaction_trigger(64)
            .with_level0_stop_writes(128);
        let live = root.join("live");
        let db = Arc::new(Db::open_with_fs(&live, options.clone(), fs.clone()).unwrap());
        let mut model = Map::new();
        for round in 0..4u64 {
            for i in 0..300u64 {
                let v = format!("v{round}-{i}").into_bytes();
                db.put(key(i), &v).unwrap();
                model.insert(key(i), v);
            }
            db.flush().unwrap();
        }
        let segments = |fs: &lsm_core::fs::FsRef| -> Vec<String> {
            fs.list(&live)
                .unwrap()
                .into_iter()
                .filter(|n| n.ends_with(".seg"))
                .collect()
        };
        let before = segments(&inner);
        assert!(before.len() >= 4, "{before:?}");
        gate.arm();
        let dest = root.join("copy");
        let checkpoint = {
            let (db, dest) = (db.clone(), dest.clone());
            std::thread::spawn(move || db.checkpoint(&dest))
        };
        gate.wait_until_held();
        db.compact().unwrap();
        let during = segments(&inner);
        for name in &before {
            assert!(
                during.contains(name),
                "{name} was deleted while a checkpoint held it (real disk: {real})"
            );
        }
        gate.release();
        checkpoint.join().unwrap().unwrap();
        // Removal happens when the last holder of the old version lets go; allow
        // background work a moment to drop its references.
        let mut after = segments(&inner);
        for _ in 0..100 {
            if before.iter().all(|n| !after.contains(n)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            after = segments(&inner);
        }
        assert!(
            before.iter().all(|n| !after.contains(n)),
            "the retired inputs were not removed after the checkpoint: {before:?} {after:?}"
        );
        let copy = Db::open_with_fs(&dest, options.clone(), inner.clone()).unwrap();
        assert!(all(&copy) == model, "the copy is not the state at the call");
        assert!(all(&db) == model);
    }
}

/// The directory holding `dest` is fsynced after the copy was renamed to `dest` (so
/// the new name survives a power loss), also when `dest` is a bare relative name,
/// whose parent is the current directory.
#[test]
fn the_parent_of_a_relative_destination_is_synced() {
    let sim = SimFs::new();
    let dir_ops = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fs: lsm_core::fs::FsRef = Arc::new(gate::GateFs {
        inner: sim.fs_ref(),
        gate: Arc::default(),
        dir_ops: dir_ops.clone(),
    });
    let db = Db::open_with_fs("/live", small_options(), fs.clone()).unwrap();
    db.put("k", "v").unwrap();
    for (dest, parents) in [("/backups/one", &["/backups"][..]), ("two", &["", "."][..])] {
        dir_ops.lock().unwrap().clear();
        db.checkpoint(dest).unwrap();
        let ops = dir_ops.lock().unwrap().clone();
        let created = ops
            .iter()
            .position(|(op, p)| *op == "rename_dir" && p == std::path::Path::new(dest))
            .unwrap_or_else(|| panic!("nothing was renamed to {dest}: {ops:?}"));
        assert!(
            ops[created..]
                .iter()
                .any(|(op, p)| *op == "sync_dir"
                    && parents.iter().any(|q| p == std::path::Path::new(q))),
            "the directory holding {dest} was not synced after the rename: {ops:?}"
        );
        let copy = Db::open_with_fs(dest, small_options(), fs.clone()).unwrap();
        assert_eq!(copy.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}

/// A value of `len` bytes for key `i` written in `round`.
fn big_value(i: u64, round: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{i:05}-{round:03}-").into_bytes();
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

/// A checkpoint of a database whose values live in blob files in two keyspaces
/// holds those blob files: it opens and reads every value, also after the source
/// has overwritten and compacted everything, which deletes the source's blob files
/// the checkpoint was taken with.
#[test]
fn a_checkpoint_holds_the_blob_files_of_every_keyspace() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, dest) = (tmp.path().join("live"), tmp.path().join("copy"));
    let options = small_options().with_blob_threshold(Some(200));
    let db = Db::open(&live, options.clone()).unwrap();
    let other = db
        .keyspace_with(
            "other",
            lsm_core::KeyspaceOptions::default().with_blob_threshold(Some(100)),
        )
        .unwrap();
    for i in 0..120u64 {
        let len = if i.is_multiple_of(4) {
            40
        } else {
            300 + (i as usize % 5) * 50
        };
        db.put(key(i), big_value(i, 0, len)).unwrap();
        other.put(key(i), big_value(i, 1, len)).unwrap();
    }
    db.checkpoint(&dest).unwrap();
    let taken_with = blob_files(&live);
    assert!(taken_with.len() >= 2, "{taken_with:?}");
    assert_eq!(blob_files(&dest), taken_with);

    // The source moves on: every value overwritten, everything compacted; the blob
    // files the checkpoint was taken with are deleted from it.
    for i in 0..120u64 {
        db.put(key(i), big_value(i, 2, 500)).unwrap();
        other.put(key(i), big_value(i, 3, 500)).unwrap();
    }
    db.compact().unwrap();
    other.compact_range(b"", b"\xff\xff").unwrap();
    let now = blob_files(&live);
    assert!(
        taken_with.iter().all(|n| !now.contains(n)),
        "the source still has {taken_with:?} ({now:?})"
    );
    drop(other);
    db.close().unwrap();

    let copy = Db::open(&dest, options).unwrap();
    let other = copy.keyspace("other").unwrap();
    for i in 0..120u64 {
        let len = if i.is_multiple_of(4) {
            40
        } else {
            300 + (i as usize % 5) * 50
        };
        assert_eq!(copy.get(key(i)).unwrap(), Some(big_value(i, 0, len).into()));
        assert_eq!(
            other.get(key(i)).unwrap(),
            Some(big_value(i, 1, len).into())
        );
    }
    assert_eq!(all(&copy).len(), 120);
}
