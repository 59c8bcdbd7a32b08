//! Applies decoded operations to a database on the simulated disk and to the
//! oracle, checking every read and every recovery.

use std::ops::Bound;

use super::history::{History, Map, Step};
use super::recovery::{open_sim, read_all, recover, reopen_same, write_step};
use super::{key, value, Op, Summary};
use crate::fs::{CrashMode, SimFs};
use crate::{Db, Options};

pub(super) struct Runner {
    options: Options,
    sim: SimFs,
    /// `None` after a failed open or close.
    db: Option<Db>,
    history: History,
    /// A call failed (after a power cut): only a crash brings the run back.
    broken: bool,
    next_id: u64,
    power_cut: bool,
    summary: Summary,
}

impl Runner {
    pub fn new(options: Options) -> Runner {
        let sim = SimFs::new();
        let db = open_sim(&sim, &options).unwrap_or_else(|e| panic!("creating the database: {e}"));
        Runner {
            options,
            sim,
            db: Some(db),
            history: History::new(Map::new()),
            broken: false,
            next_id: 0,
            power_cut: false,
            summary: Summary::default(),
        }
    }

    pub fn apply(&mut self, index: usize, op: &Op) {
        self.summary.ops += 1;
        if let Op::Crash(mode, seed) = op {
            self.crash(*mode, *seed, index);
            return;
        }
        if self.broken {
            return;
        }
        let db = self.db.as_ref().expect("open unless broken");
        match op {
            Op::Put(k, len) => {
                let id = self.id();
                self.write(vec![(key(*k), Some(value(id, *len)))]);
            }
            Op::Delete(k) => self.write(vec![(key(*k), None)]),
            Op::Batch(ops) => {
                let step = ops
                    .iter()
                    .map(|&(k, len)| (key(k), len.map(|len| value(self.id(), len))))
                    .collect();
                self.write(step);
            }
            Op::Get(k) => {
                let k = key(*k);
                let want = self.history.state().remove(&k);
                match db.get(&k) {
                    Ok(got) => assert_eq!(
                        got.as_deref(),
                        want.as_deref(),
                        "op {index}: get {k:?} disagrees with the oracle"
                    ),
                    Err(e) => self.failed(index, &format!("get: {e}")),
                }
            }
            Op::Scan(lo, hi, reverse) => self.scan(index, *lo, *hi, *reverse),
            Op::Sync => match db.sync() {
                Ok(()) => self.history.synced(),
                Err(e) => self.failed(index, &format!("sync: {e}")),
            },
            Op::Flush => {
                if let Err(e) = db.flush() {
                    self.failed(index, &format!("flush: {e}"));
                }
            }
            Op::Compact => {
                if let Err(e) = db.compact() {
                    self.failed(index, &format!("compact: {e}"));
                }
            }
            Op::Reopen => self.reopen(index),
            Op::PowerCut(n) => {
                if !self.power_cut {
                    self.power_cut = true;
                    self.sim.power_off_after(*n);
                }
            }
            Op::Crash(..) => unreachable!("handled above"),
        }
    }

    /// A final crash, so every run ends with a recovery check.
    pub fn finish(mut self, index: usize) -> Summary {
        self.crash(CrashMode::KeepRandomPrefix, index as u64, index);
        if let Some(db) = self.db.take() {
            db.close()
                .unwrap_or_else(|e| panic!("closing the recovered database: {e}"));
        }
        self.summary
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn write(&mut self, step: Step) {
        let db = self.db.as_ref().expect("open");
        match write_step(db, &step) {
            Ok(()) => {
                self.summary.acked += 1;
                self.history.ack(step);
                if self.options.sync_writes {
                    self.history.synced();
                }
            }
            Err(_) => {
                self.history.attempt(step);
                self.broken = true;
                self.summary.cut_failures += 1;
            }
        }
    }

    /// A call failed: fine after a power cut (the run waits for a crash), a bug
    /// otherwise.
    fn failed(&mut self, index: usize, what: &str) {
        assert!(self.power_cut, "op {index}: {what} with no power cut");
        self.broken = true;
        self.summary.cut_failures += 1;
    }

    fn scan(&mut self, index: usize, lo: Option<u8>, hi: Option<u8>, reverse: bool) {
        let lo = lo.map_or(Bound::Unbounded, |k| Bound::Included(key(k)));
        let hi = hi.map_or(Bound::Unbounded, |k| Bound::Excluded(key(k)));
        let db = self.db.as_ref().expect("open");
        let scan = db.scan::<Vec<u8>, _>((lo.clone(), hi.clone()));
        let items: Result<Vec<_>, _> = if reverse {
            scan.rev().collect()
        } else {
            scan.collect()
        };
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = match items {
            Ok(items) => items
                .into_iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
            Err(e) => return self.failed(index, &format!("scan: {e}")),
        };
        if reverse {
            got.reverse();
        }
        let inverted = matches!((&lo, &hi), (Bound::Included(l), Bound::Excluded(h)) if l >= h);
        let want: Vec<(Vec<u8>, Vec<u8>)> = if inverted {
            Vec::new()
        } else {
            self.history
                .state()
                .range((lo, hi))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        assert!(got == want, "op {index}: scan disagrees with the oracle");
    }

    fn reopen(&mut self, index: usize) {
        let db = self.db.take().expect("open");
        if let Err(e) = db.close() {
            return self.failed(index, &format!("close: {e}"));
        }
        self.history.synced();
        match open_sim(&self.sim, &self.options) {
            Ok(db) => {
                let found = read_all(&db).unwrap_or_else(|e| panic!("op {index}: {e}"));
                assert!(
                    found == self.history.state(),
                    "op {index}: a clean reopen lost or changed writes"
                );
                self.db = Some(db);
            }
            Err(e) => self.failed(index, &format!("open: {e}")),
        }
    }

    /// Power loss in `mode`, then recovery: the state must be a prefix of the
    /// history covering every synced write, and a second open must agree.
    fn crash(&mut self, mode: CrashMode, seed: u64, index: usize) {
        let image = self.sim.crash(mode, seed);
        // The old engine may only fail from here on; it no longer owns the disk.
        self.sim.power_off_after(0);
        drop(self.db.take());
        let ctx = format!("op {index}: crash {mode:?} seed {seed}");
        // Lookups of every key of the space, the never-written ones included.
        let keys: Vec<Vec<u8>> = (0..super::KEYS).map(key).collect();
        let (db, found, _) = recover(
            &image,
            &self.options,
            &self.history,
            keys.iter().map(Vec::as_slice),
        )
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        drop(db);
        let db =
            reopen_same(&image, &self.options, &found).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        self.sim = image;
        self.db = Some(db);
        self.summary.crashes += 1;
        self.summary.recovered_keys += found.len() as u64;
        self.history = History::new(found);
        self.broken = false;
        self.power_cut = false;
    }
}
