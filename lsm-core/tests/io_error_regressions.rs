//! Deterministic regression tests for the bugs the I/O-error enumeration
//! (`io_errors.rs`) found. Each names the scenario and the state the database must be
//! in afterwards; `docs/testing.md` lists them.

mod common;
mod reliability;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::keys::value;
use common::model::Map;
use common::sim::{read_all, write_step, History, Step, DB_PATH};
use lsm_core::fs::{
    FaultFs, FaultKind, FaultMode, FileLock, FileSystem, FsRef, MappedFile, SimFs, WritableFile,
};
use lsm_core::{Db, Options};
use parking_lot::{Condvar, Mutex};

/// Options with a big memtable and no automatic compaction: only explicit calls
/// write segments or the manifest.
fn quiet_options() -> Options {
    reliability::workload::options()
        .with_memtable_size(1 << 20)
        .with_level0_compaction_trigger(8)
        .with_level0_stop_writes(16)
}

/// Writes `n` puts (ids from `first`) and records them.
fn write_some(db: &Db, history: &mut History, first: u64, n: u64) {
    for i in first..first + n {
        let step: Step = vec![(format!("key{:03}", i % 40).into_bytes(), Some(value(i, 50)))];
        write_step(db, &step).unwrap();
        history.ack(step);
    }
}

/// Opens `fs` (no power loss happened) and checks every acknowledged write of
/// `history` is there; twice.
fn reopen_holds_everything(fs: &FsRef, options: &Options, history: &History, what: &str) {
    let mut all = history.clone();
    all.synced();
    for round in 0..2 {
        let db = Db::open_with_fs(DB_PATH, options.clone(), fs.clone())
            .unwrap_or_else(|e| panic!("{what}: reopen {round} failed: {e}"));
        let found = read_all(&db).unwrap();
        all.check_prefix(&found)
            .unwrap_or_else(|e| panic!("{what}: reopen {round}: {e}"));
        db.close().unwrap();
    }
}

/// A manifest write that fails after the edit itself reached the file (the commit
/// marker's write or fsync failed, or the edit's fsync failed after its bytes were
/// written) left the edit to be replayed by the next open, but the engine deleted
/// the segments the edit added: the database could never be opened again
/// ("segment listed in the manifest is missing"). Every write and fsync of a flush
/// and of a compaction fails in turn; each time, once the disk works again, a reopen
/// holds every acknowledged write.
#[test]
fn a_failed_manifest_write_keeps_the_segments_its_edit_may_have_added() {
    let options = quiet_options();
    for job in ["flush", "compact"] {
        for kind in [FaultKind::Write, FaultKind::Sync] {
            for mode in [FaultMode::Once, FaultMode::PartialOnce] {
                for k in 1..=8 {
                    let fault = FaultFs::new(SimFs::new().fs_ref());
                    let fs = fault.fs_ref();
                    let db = Db::open_with_fs(DB_PATH, options.clone(), fs.clone()).unwrap();
                    let mut history = History::new(Map::new());
                    for round in 0..3 {
                        write_some(&db, &mut history, round * 20, 20);
                        if job == "compact" {
                            db.flush().unwrap();
                        }
                    }
                    fault.fail(kind, k, mode);
                    let result = if job == "flush" {
                        db.flush()
                    } else {
                        db.compact()
                    };
                    drop(db);
                    fault.clear();
                    let what = format!("{job}, {kind:?} #{k} failing {mode:?} ({result:?})");
                    reopen_holds_everything(&fs, &options, &history, &what);
                }
            }
        }
    }
}

/// A file system that holds the next commit-marker write to `MANIFEST` (an 11-byte
/// write) until some thread creates a segment, then writes half of it and fails.
struct MarkerGate {
    inner: FsRef,
    state: Arc<(Mutex<Gate>, Condvar)>,
}

#[derive(Default)]
struct Gate {
    armed: bool,
    waiting: bool,
    released: bool,
}

struct GateFile {
    inner: Box<dyn WritableFile>,
    manifest: bool,
    state: Arc<(Mutex<Gate>, Condvar)>,
}

impl WritableFile for GateFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let (lock, cv) = &*self.state;
        let mut gate = lock.lock();
        if !(self.manifest && buf.len() == 11 && gate.armed) {
            drop(gate);
            return self.inner.write_all(buf);
        }
        gate.armed = false;
        gate.waiting = true;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !gate.released {
            assert!(
                !cv.wait_until(&mut gate, deadline).timed_out(),
                "no segment was created while the commit marker waited"
            );
        }
        drop(gate);
        self.inner.write_all(&buf[..5])?;
        Err(io::Error::other(
            "marker gate: half written, then the disk failed",
        ))
    }

    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn preallocate(&mut self, size: u64) -> io::Result<()> {
        self.inner.preallocate(size)
    }

    fn trim(&mut self) -> io::Result<()> {
        self.inner.trim()
    }
}

impl MarkerGate {
    fn wrap(&self, path: &Path, inner: Box<dyn WritableFile>) -> Box<dyn WritableFile> {
        Box::new(GateFile {
            inner,
            manifest: path.file_name().is_some_and(|n| n == "MANIFEST"),
            state: Arc::clone(&self.state),
        })
    }
}

impl FileSystem for MarkerGate {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        if path.to_string_lossy().ends_with(".seg.tmp") {
            let (lock, cv) = &*self.state;
            let mut gate = lock.lock();
            if gate.waiting {
                gate.released = true;
                cv.notify_all();
            }
        }
        Ok(self.wrap(path, self.inner.create(path)?))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(self.wrap(path, self.inner.open_append(path)?))
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
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
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
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

/// A compaction's commit marker is half written when the disk fails (the database
/// is poisoned), while a flush that started before is still writing its segment.
/// The flush then appended its edit behind the torn marker, so the manifest held
/// damage followed by valid records, which open must refuse as corruption: the
/// database could not be opened again. Once the manifest's tail is unknown, nothing
/// may be appended to it.
#[test]
fn no_manifest_append_after_a_torn_one() {
    let options = quiet_options();
    let sim = SimFs::new();
    let gate = Arc::new(MarkerGate {
        inner: sim.fs_ref(),
        state: Arc::default(),
    });
    let fs: FsRef = gate.clone();
    let db = Arc::new(Db::open_with_fs(DB_PATH, options.clone(), fs.clone()).unwrap());
    let mut history = History::new(Map::new());
    for round in 0..2 {
        write_some(&db, &mut history, round * 20, 20);
        db.flush().unwrap();
    }
    // The memtable is empty, so the compaction's own flush writes nothing and the
    // next commit marker is the compaction's.
    gate.state.0.lock().armed = true;
    let compacting = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.compact())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gate.state.0.lock().waiting {
        assert!(
            Instant::now() < deadline,
            "the compaction never wrote its marker"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // The compaction holds its marker; a flush starts (its segment releases the
    // marker, which fails) and then tries to log its own edit.
    write_some(&db, &mut history, 40, 20);
    let flushed = db.flush();
    let compacted = compacting.join().unwrap();
    assert!(compacted.is_err(), "the compaction's marker failed");
    drop(db);
    reopen_holds_everything(
        &sim.fs_ref(),
        &options,
        &history,
        &format!("flush during a failed compaction marker ({flushed:?})"),
    );
}
