//! Applies decoded operations to a database on the simulated disk and to the
//! oracle, checking every read and every recovery.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::history::{expiries_of, Expiries, History, Map, Write};
use super::recovery::{open_sim, read_all, recover, reopen_same, write_ops, DB_PATH};
use super::{clock_step_ms, key, prefix, ttl_ms, value, BatchOp, Op, Seek, Summary};
use crate::clock::{now_ms, ManualClock};
use crate::fs::{CrashMode, FileSystem, SimFs};
use crate::{Db, Error, InvalidArgumentKind, Options, ReadOnlyDb};

/// A state as of some call, with the expiries of its TTL puts: what it reads as
/// later is the state without the keys the clock has reached.
type Timed = (Map, Expiries);

/// `state` read at `now`.
fn at(state: &Timed, now: u64) -> Map {
    let (map, expiries) = state;
    let mut map = map.clone();
    map.retain(|k, _| expiries.get(k).is_none_or(|&t| t > now));
    map
}

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
    /// Checkpoint directories taken, with the state of their call and whether the
    /// call returned `Ok`.
    checkpoints: Vec<(PathBuf, Timed, bool)>,
    /// A read-only view and the state it holds.
    view: Option<(ReadOnlyDb, Timed)>,
    /// The database's clock (kept across reopens and crashes).
    clock: Arc<ManualClock>,
}

impl Runner {
    pub fn new(options: Options) -> Runner {
        let sim = SimFs::new();
        let clock = Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ));
        let options = options.with_clock(clock.clone());
        let db = open_sim(&sim, &options).unwrap_or_else(|e| panic!("creating the database: {e}"));
        let mut history = History::new(Map::new());
        history.now_ms = now_ms(&*clock);
        Runner {
            options,
            sim,
            db: Some(db),
            history,
            clock,
            broken: false,
            next_id: 0,
            power_cut: false,
            summary: Summary::default(),
            checkpoints: Vec::new(),
            view: None,
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
                self.write(vec![Write::Put(key(*k), value(id, *len))]);
            }
            Op::PutWithTtl(k, len, ttl) => {
                let id = self.id();
                self.write(vec![Write::PutWithTtl(
                    key(*k),
                    value(id, *len),
                    ttl_ms(*ttl),
                )]);
            }
            Op::AdvanceClock(b) => {
                self.clock.advance(Duration::from_millis(clock_step_ms(*b)));
                self.history.now_ms = now_ms(&*self.clock);
                self.summary.clock_moves += 1;
            }
            Op::Delete(k) => self.write(vec![Write::Delete(key(*k))]),
            Op::Batch(ops, as_transaction) => {
                let ops: Vec<Write> = ops
                    .iter()
                    .map(|op| match *op {
                        BatchOp::Put(k, len) => Write::Put(key(k), value(self.id(), len)),
                        BatchOp::Delete(k) => Write::Delete(key(k)),
                        BatchOp::DeleteRange(a, b) => Write::DeleteRange(key(a), key(b)),
                        BatchOp::DeletePrefix(k, len) => Write::DeletePrefix(prefix(k, len)),
                        BatchOp::PutWithTtl(k, len, ttl) => {
                            Write::PutWithTtl(key(k), value(self.id(), len), ttl_ms(ttl))
                        }
                    })
                    .collect();
                let has_ttl = ops.iter().any(|op| matches!(op, Write::PutWithTtl(..)));
                if *as_transaction && !has_ttl {
                    self.write_in_transaction(index, ops);
                } else {
                    self.write(ops);
                }
            }
            Op::DeleteRange(a, b) => {
                let (a, b) = (key(*a), key(*b));
                if a > b {
                    match db.delete_range(&a, &b) {
                        Err(Error::InvalidArgument {
                            kind: InvalidArgumentKind::InvalidRange,
                            ..
                        }) => {}
                        other => panic!("op {index}: an inverted range delete gave {other:?}"),
                    }
                    self.summary.refused_ranges += 1;
                    let found = read_all(db).unwrap_or_else(|e| panic!("op {index}: {e}"));
                    assert!(
                        found == self.history.state(),
                        "op {index}: a refused range delete changed the state"
                    );
                } else {
                    self.write(vec![Write::DeleteRange(a, b)]);
                }
            }
            Op::DeletePrefix(k, len) => self.write(vec![Write::DeletePrefix(prefix(*k, *len))]),
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
            Op::Scan(lo, hi, reverse, seek) => self.scan(index, *lo, *hi, *reverse, *seek),
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
            Op::Checkpoint => self.checkpoint(index),
            Op::ReadOnly(refresh) => self.read_only(index, *refresh),
            Op::Crash(..) => unreachable!("handled above"),
        }
    }

    /// A checkpoint, then read-only open of it: exactly the oracle's state.
    fn checkpoint(&mut self, index: usize) {
        if self.checkpoints.len() >= 8 {
            return;
        }
        let dest = PathBuf::from(format!("/checkpoint-{index}"));
        let state = self.timed_state();
        let db = self.db.as_ref().expect("open");
        let result = db.checkpoint(&dest);
        let done = result.is_ok();
        self.checkpoints.push((dest.clone(), state.clone(), done));
        let state = at(&state, self.history.now_ms);
        if let Err(e) = result {
            return self.failed(index, &format!("checkpoint: {e}"));
        }
        let copy = Db::open_read_only_with_fs(&dest, self.options.clone(), self.sim.fs_ref())
            .unwrap_or_else(|e| panic!("op {index}: opening a checkpoint: {e}"));
        let found = view_pairs(&copy).unwrap_or_else(|e| panic!("op {index}: {e}"));
        assert!(
            found == state,
            "op {index}: the checkpoint is not the state at its call"
        );
        self.summary.checkpoints += 1;
    }

    /// Opens or refreshes the read-only view, after checking the one held still
    /// reads what it read: then it must hold exactly the oracle's state.
    fn read_only(&mut self, index: usize, refresh: bool) {
        if let Some((view, state)) = &self.view {
            let found = view_pairs(view).unwrap_or_else(|e| panic!("op {index}: {e}"));
            assert!(
                found == at(state, self.history.now_ms),
                "op {index}: a read-only view changed"
            );
        }
        let view = match self.view.take() {
            Some((mut view, _)) if refresh => view.refresh().map(|()| view),
            _ => Db::open_read_only_with_fs(DB_PATH, self.options.clone(), self.sim.fs_ref()),
        };
        let view = view.unwrap_or_else(|e| panic!("op {index}: read-only open or refresh: {e}"));
        let timed = self.timed_state();
        let state = at(&timed, self.history.now_ms);
        let found = view_pairs(&view).unwrap_or_else(|e| panic!("op {index}: {e}"));
        assert!(
            found == state,
            "op {index}: a read-only view is not the oracle's state"
        );
        for k in (0..super::KEYS).map(key) {
            let got = view
                .get(&k)
                .unwrap_or_else(|e| panic!("op {index}: read-only get: {e}"));
            assert_eq!(
                got.as_deref(),
                state.get(&k).map(Vec::as_slice),
                "op {index}: read-only get"
            );
        }
        self.view = Some((view, timed));
        self.summary.read_only_views += 1;
    }

    /// After a crash: each checkpoint directory of the image is absent (a leftover
    /// staging directory beside it is allowed) or holds exactly the state of its
    /// call; one whose call returned must be there.
    fn check_checkpoints(&self, image: &SimFs, ctx: &str) {
        for (dest, state, done) in &self.checkpoints {
            if !image.exists(dest) {
                assert!(
                    !done,
                    "{ctx}: checkpoint {} returned but is gone",
                    dest.display()
                );
                continue;
            }
            let copy = Db::open_read_only_with_fs(dest, self.options.clone(), image.fs_ref())
                .unwrap_or_else(|e| {
                    panic!(
                        "{ctx}: checkpoint {} exists but does not open: {e}",
                        dest.display()
                    )
                });
            let found = view_pairs(&copy).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert!(
                found == at(state, self.history.now_ms),
                "{ctx}: checkpoint {} opens to a wrong state",
                dest.display()
            );
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

    /// The oracle's state now, with the expiries of its TTL puts.
    fn timed_state(&self) -> Timed {
        (
            self.history.state(),
            self.history.expiries_after(self.history.acked),
        )
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn write(&mut self, ops: Vec<Write>) {
        let db = self.db.as_ref().expect("open");
        let step = self.history.effect(&ops);
        // The clock stands still during the call: this is the expiry it fixes.
        let expiries = expiries_of(&ops, self.history.now_ms);
        match write_ops(db, &ops) {
            Ok(()) => {
                self.summary.acked += 1;
                self.summary.range_deletes += u64::from(
                    ops.iter()
                        .any(|op| matches!(op, Write::DeleteRange(..) | Write::DeletePrefix(_))),
                );
                self.summary.ttl_puts +=
                    u64::from(ops.iter().any(|op| matches!(op, Write::PutWithTtl(..))));
                self.history.ack_expiring(step, expiries);
                if self.options.sync_writes {
                    self.history.synced();
                }
            }
            Err(_) => {
                self.history.attempt_expiring(step, expiries);
                self.broken = true;
                self.summary.cut_failures += 1;
            }
        }
    }

    /// `ops` as one transaction that first reads the key of its first operation
    /// (checked against the oracle): with no concurrent writer it must commit, and
    /// it is recorded like the batch of the same writes.
    fn write_in_transaction(&mut self, index: usize, ops: Vec<Write>) {
        let db = self.db.as_ref().expect("open");
        let step = self.history.effect(&ops);
        let expiries = expiries_of(&ops, self.history.now_ms);
        let mut state = self.history.state();
        let mut run = || -> crate::Result<()> {
            let mut txn = db.begin();
            if let Some(Write::Put(k, _) | Write::Delete(k) | Write::DeleteRange(k, _)) =
                ops.first()
            {
                let got = txn.get(k)?;
                assert_eq!(
                    got.as_deref(),
                    state.remove(k).as_deref(),
                    "op {index}: a transaction's get of {k:?} disagrees with the oracle"
                );
            }
            for op in &ops {
                match op {
                    Write::Put(k, v) => txn.put(k, v)?,
                    Write::Delete(k) => txn.delete(k)?,
                    Write::DeleteRange(start, end) => txn.delete_range(start, end)?,
                    Write::DeletePrefix(prefix) => txn.delete_prefix(prefix)?,
                    Write::PutWithTtl(..) => {
                        unreachable!("batches with TTL puts are not sent here")
                    }
                }
            }
            txn.commit()
        };
        match run() {
            Ok(()) => {
                self.summary.acked += 1;
                self.summary.transactions += 1;
                self.summary.range_deletes += u64::from(
                    ops.iter()
                        .any(|op| matches!(op, Write::DeleteRange(..) | Write::DeletePrefix(_))),
                );
                self.history.ack_expiring(step, expiries);
                if self.options.sync_writes {
                    self.history.synced();
                }
            }
            Err(Error::Conflict { what }) => {
                panic!("op {index}: a transaction with no concurrent writer conflicted on {what}")
            }
            Err(_) => {
                self.history.attempt_expiring(step, expiries);
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

    /// Scans `[lo, hi)` (from the back when `reverse`) and checks it against the
    /// oracle. With [`Seek::Yes`] the scan is made over the whole key space on the
    /// side it starts from, takes one item from its other end, and reaches its
    /// start by a seek: forward `scan(..hi)` then `seek(lo)`, reading `[lo, hi)`;
    /// reverse `scan(lo..)` then `seek_for_prev(hi)`, reading `[lo, hi]`.
    fn scan(&mut self, index: usize, lo: Option<u8>, hi: Option<u8>, reverse: bool, seek: Seek) {
        let seek_to = if reverse { hi } else { lo }.map(key);
        let lo = lo.map_or(Bound::Unbounded, |k| Bound::Included(key(k)));
        let mut hi = hi.map_or(Bound::Unbounded, |k| Bound::Excluded(key(k)));
        let db = self.db.as_ref().expect("open");
        let mut scan = match (seek, reverse) {
            (Seek::No, _) => db.scan::<Vec<u8>, _>((lo.clone(), hi.clone())),
            (Seek::Yes, false) => db.scan::<Vec<u8>, _>((Bound::Unbounded, hi.clone())),
            (Seek::Yes, true) => db.scan::<Vec<u8>, _>((lo.clone(), Bound::Unbounded)),
        };
        if seek == Seek::Yes {
            let other_end = if reverse {
                scan.next()
            } else {
                scan.next_back()
            };
            if let Some(Err(e)) = other_end {
                return self.failed(index, &format!("scan before a seek: {e}"));
            }
            match (&seek_to, reverse) {
                (Some(k), false) => scan.seek(k),
                (Some(k), true) => {
                    scan.seek_for_prev(k);
                    hi = Bound::Included(k.clone());
                }
                // The whole side: from the smallest key, or back from a key above
                // every key `key` makes (they start with `k`, or are empty).
                (None, false) => scan.seek(b""),
                (None, true) => scan.seek_for_prev(b"\xff"),
            }
            self.summary.seeks += 1;
        }
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
        let inverted = match (&lo, &hi) {
            (Bound::Included(l), Bound::Excluded(h)) => l >= h,
            (Bound::Included(l), Bound::Included(h)) => l > h,
            _ => false,
        };
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
        // A view held reads the disk the crash image replaces.
        self.view = None;
        // The old engine may only fail from here on; it no longer owns the disk.
        self.sim.power_off_after(0);
        drop(self.db.take());
        let ctx = format!("op {index}: crash {mode:?} seed {seed}");
        self.check_checkpoints(&image, &ctx);
        // Lookups of every key of the space, the never-written ones included.
        let keys: Vec<Vec<u8>> = (0..super::KEYS).map(key).collect();
        let (db, found, prefix) = recover(
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
        let mut expiries = self.history.expiries_after(prefix);
        expiries.retain(|k, _| found.contains_key(k));
        let now = self.history.now_ms;
        self.history = History::new(found);
        self.history.base_expiries = expiries;
        self.history.now_ms = now;
        self.broken = false;
        self.power_cut = false;
    }
}

/// Every live pair of a read-only view, with one forward scan.
fn view_pairs(view: &ReadOnlyDb) -> Result<Map, String> {
    view.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<Map, _>>()
        .map_err(|e| format!("read-only scan failed: {e}"))
}
