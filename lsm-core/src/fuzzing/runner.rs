//! Applies decoded operations to a database on the simulated disk and to the
//! oracle, checking every read and every recovery.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::history::{expiries_of, Expiries, History, Map, Write};
use super::keyspaces::{
    get_qualified, handle, qualify, read_qualified, send, slice, split, txn_can_write, txn_get,
    txn_write, view_qualified, KEYSPACES,
};
use super::recovery::{open_sim, recover_with, reopen_same_with, DB_PATH};
use super::{clock_step_ms, key, prefix, ttl_ms, value, BatchOp, Op, Seek, Summary};
use crate::clock::{now_ms, ManualClock};
use crate::fs::{CrashMode, FileSystem, SimFs};
use crate::{Db, Error, InvalidArgumentKind, Options, ReadOnlyDb, Snapshot};

mod transact;

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
    /// The keyspace the operation being applied acts on ([`Op::In`]).
    ks: u8,
    /// A snapshot held, with the (qualified) state it was taken at, read at its
    /// time.
    snapshot: Option<(Snapshot, Map)>,
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
            ks: 0,
            snapshot: None,
        }
    }

    /// Key `k` of the keyspace in use, qualified.
    fn qk(&self, k: u8) -> Vec<u8> {
        qualify(self.ks, &key(k))
    }

    /// A decoded batch operation in keyspace `ks`, qualified (puts get the next
    /// value ids).
    fn write_of(&mut self, ks: u8, op: &BatchOp) -> Write {
        let q = |k: u8| qualify(ks, &key(k));
        match *op {
            BatchOp::Put(k, len) => Write::Put(q(k), value(self.id(), len)),
            BatchOp::Delete(k) => Write::Delete(q(k)),
            BatchOp::DeleteRange(a, b) => Write::DeleteRange(q(a), q(b)),
            BatchOp::DeletePrefix(k, len) => Write::DeletePrefix(qualify(ks, &prefix(k, len))),
            BatchOp::PutWithTtl(k, len, ttl) => {
                Write::PutWithTtl(q(k), value(self.id(), len), ttl_ms(ttl))
            }
        }
    }

    pub fn apply(&mut self, index: usize, op: &Op) {
        self.summary.ops += 1;
        if let Op::Crash(mode, seed) = op {
            self.crash(*mode, *seed, index);
            return;
        }
        if let Op::In(ks, inner) = op {
            let outer = self.ks;
            self.ks = *ks;
            self.apply(index, inner);
            self.ks = outer;
            return;
        }
        if self.broken {
            return;
        }
        let db = self.db.as_ref().expect("open unless broken");
        match op {
            Op::Put(k, len) => {
                let id = self.id();
                self.write(vec![Write::Put(self.qk(*k), value(id, *len))]);
            }
            Op::PutWithTtl(k, len, ttl) => {
                let id = self.id();
                self.write(vec![Write::PutWithTtl(
                    self.qk(*k),
                    value(id, *len),
                    ttl_ms(*ttl),
                )]);
            }
            Op::AdvanceClock(b) => {
                self.clock.advance(Duration::from_millis(clock_step_ms(*b)));
                self.history.now_ms = now_ms(&*self.clock);
                self.summary.clock_moves += 1;
            }
            Op::Delete(k) => self.write(vec![Write::Delete(self.qk(*k))]),
            Op::Batch(ops, as_transaction) => {
                let ks = self.ks;
                let ops: Vec<Write> = ops.iter().map(|op| self.write_of(ks, op)).collect();
                if *as_transaction && ops.iter().all(txn_can_write) {
                    self.write_in_transaction(index, ops);
                } else {
                    self.write(ops);
                }
            }
            Op::DeleteRange(a, b) => {
                let (a, b) = (self.qk(*a), self.qk(*b));
                if a > b {
                    match send(db, &[Write::DeleteRange(a, b)]) {
                        Err(Error::InvalidArgument {
                            kind: InvalidArgumentKind::InvalidRange,
                            ..
                        }) => {}
                        other => panic!("op {index}: an inverted range delete gave {other:?}"),
                    }
                    self.summary.refused_ranges += 1;
                    let found = read_qualified(db).unwrap_or_else(|e| panic!("op {index}: {e}"));
                    assert!(
                        found == self.history.state(),
                        "op {index}: a refused range delete changed the state"
                    );
                } else {
                    self.write(vec![Write::DeleteRange(a, b)]);
                }
            }
            Op::DeletePrefix(k, len) => {
                self.write(vec![Write::DeletePrefix(qualify(
                    self.ks,
                    &prefix(*k, *len),
                ))]);
            }
            Op::Get(k) => {
                let k = self.qk(*k);
                let want = self.history.state().remove(&k);
                match get_qualified(db, &k) {
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
                let flushed = match self.ks {
                    0 => db.flush(),
                    ks => handle(db, ks).and_then(|h| h.flush()),
                };
                if let Err(e) = flushed {
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
            Op::CrossBatch(ops) => {
                let ops: Vec<Write> = ops.iter().map(|(ks, op)| self.write_of(*ks, op)).collect();
                self.write(ops);
            }
            Op::DropKeyspace(ks) => self.drop_keyspace(index, *ks),
            Op::SnapshotGet(take, ks, k) => self.snapshot_get(index, *take, *ks, *k),
            Op::Transaction(spec) => self.transaction(index, spec),
            Op::Crash(..) | Op::In(..) => unreachable!("handled above"),
        }
    }

    /// Drops keyspace `ks`, then creates it again. A drop that returned is durable
    /// with every write acknowledged before it (it fsyncs the WAL before its
    /// manifest edit): recorded as the delete of its every key, and as synced.
    fn drop_keyspace(&mut self, index: usize, ks: u8) {
        self.snapshot = None;
        let db = self.db.as_ref().expect("open");
        let step = self.history.effect(&[Write::DeletePrefix(vec![ks])]);
        match db.drop_keyspace(KEYSPACES[usize::from(ks)]) {
            Ok(()) => {
                self.history.ack(step);
                self.history.synced();
                self.summary.drops += 1;
            }
            Err(e) => {
                assert!(self.power_cut, "op {index}: drop_keyspace: {e}");
                self.history.attempt(step);
                self.broken = true;
                self.summary.cut_failures += 1;
                return;
            }
        }
        if let Err(e) = handle(db, ks) {
            self.failed(index, &format!("creating a dropped keyspace again: {e}"));
        }
    }

    /// Reads key `k` of keyspace `ks` through the snapshot held (a new one when
    /// `take` or none is held): the state when it was taken.
    fn snapshot_get(&mut self, index: usize, take: bool, ks: u8, k: u8) {
        let db = self.db.as_ref().expect("open");
        if take || self.snapshot.is_none() {
            self.snapshot = Some((db.snapshot(), self.history.state()));
        }
        let (snapshot, state) = self.snapshot.as_ref().expect("just taken");
        let got = match ks {
            0 => snapshot.get(key(k)),
            _ => handle(db, ks).and_then(|h| snapshot.get_in(&h, key(k))),
        };
        match got {
            Ok(got) => assert_eq!(
                got.as_deref(),
                state.get(&qualify(ks, &key(k))).map(Vec::as_slice),
                "op {index}: a snapshot's get of key {k} in keyspace {ks} disagrees with the \
                 state it was taken at"
            ),
            Err(e) => return self.failed(index, &format!("snapshot get: {e}")),
        }
        self.summary.snapshot_reads += 1;
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
        let found = view_qualified(&copy).unwrap_or_else(|e| panic!("op {index}: {e}"));
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
            let found = view_qualified(view).unwrap_or_else(|e| panic!("op {index}: {e}"));
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
        let found = view_qualified(&view).unwrap_or_else(|e| panic!("op {index}: {e}"));
        assert!(
            found == state,
            "op {index}: a read-only view is not the oracle's state"
        );
        for name in view.keyspace_names() {
            let ks = KEYSPACES.iter().position(|n| *n == name).expect("known") as u8;
            let reader = view
                .keyspace(&name)
                .unwrap_or_else(|e| panic!("op {index}: a listed keyspace: {e}"));
            let state = slice(&state, ks);
            for k in (0..super::KEYS).map(key) {
                let got = if ks == 0 {
                    view.get(&k)
                } else {
                    reader.get(&k)
                }
                .unwrap_or_else(|e| panic!("op {index}: read-only get: {e}"));
                assert_eq!(
                    got.as_deref(),
                    state.get(&k).map(Vec::as_slice),
                    "op {index}: read-only get in {name}"
                );
            }
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
            let found = view_qualified(&copy).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert!(
                found == at(state, self.history.now_ms),
                "{ctx}: checkpoint {} opens to a wrong state",
                dest.display()
            );
        }
    }

    /// A final crash, so every run ends with a recovery check.
    /// Records the live blob files of the open database in the summary.
    pub fn note_blob_files(&mut self) {
        if let Some(db) = &self.db {
            let n = db.stats().blob_files as u64;
            self.summary.blob_files = self.summary.blob_files.max(n);
        }
    }

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
        let db = self.db.take().expect("open");
        self.write_on(&db, ops);
        self.db = Some(db);
    }

    /// [`Runner::write`] on `db` (taken out of the runner, as while a transaction
    /// is open on it).
    fn write_on(&mut self, db: &Db, ops: Vec<Write>) {
        let step = self.history.effect(&ops);
        // The clock stands still during the call: this is the expiry it fixes.
        let expiries = expiries_of(&ops, self.history.now_ms);
        match send(db, &ops) {
            Ok(()) => {
                self.summary.acked += 1;
                let keyspaces: std::collections::BTreeSet<u8> =
                    ops.iter().map(|op| split(first_key(op)).0).collect();
                self.summary.keyspace_writes += u64::from(keyspaces.iter().any(|&ks| ks != 0));
                self.summary.cross_keyspace_batches += u64::from(keyspaces.len() > 1);
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
                let got = txn_get(db, &mut txn, k)?;
                assert_eq!(
                    got,
                    state.remove(k),
                    "op {index}: a transaction's get of {k:?} disagrees with the oracle"
                );
            }
            for op in &ops {
                txn_write(db, &mut txn, op)?;
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
        let ks = self.ks;
        let open = |range: (Bound<Vec<u8>>, Bound<Vec<u8>>)| match ks {
            0 => Ok(db.scan::<Vec<u8>, _>(range)),
            _ => handle(db, ks).map(|h| h.scan::<Vec<u8>, _>(range)),
        };
        let scan = match (seek, reverse) {
            (Seek::No, _) => open((lo.clone(), hi.clone())),
            (Seek::Yes, false) => open((Bound::Unbounded, hi.clone())),
            (Seek::Yes, true) => open((lo.clone(), Bound::Unbounded)),
        };
        let mut scan = match scan {
            Ok(scan) => scan,
            Err(e) => return self.failed(index, &format!("keyspace for a scan: {e}")),
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
            slice(&self.history.state(), ks)
                .range((lo, hi))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        assert!(got == want, "op {index}: scan disagrees with the oracle");
    }

    fn reopen(&mut self, index: usize) {
        self.snapshot = None;
        let db = self.db.take().expect("open");
        if let Err(e) = db.close() {
            return self.failed(index, &format!("close: {e}"));
        }
        self.history.synced();
        match open_sim(&self.sim, &self.options) {
            Ok(db) => {
                let found = read_qualified(&db).unwrap_or_else(|e| panic!("op {index}: {e}"));
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
        self.snapshot = None;
        // The old engine may only fail from here on; it no longer owns the disk.
        self.sim.power_off_after(0);
        drop(self.db.take());
        let ctx = format!("op {index}: crash {mode:?} seed {seed}");
        self.check_checkpoints(&image, &ctx);
        // Lookups of every key of every keyspace, the never-written ones included.
        let keys: Vec<Vec<u8>> = (0..KEYSPACES.len() as u8)
            .flat_map(|ks| (0..super::KEYS).map(move |k| qualify(ks, &key(k))))
            .collect();
        let (db, found, prefix) = recover_with(
            &image,
            &self.options,
            &self.history,
            keys.iter().map(Vec::as_slice),
            &read_qualified,
            &get_qualified,
        )
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        drop(db);
        let db = reopen_same_with(&image, &self.options, &found, &read_qualified)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
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

/// The (qualified) key an operation names first: its keyspace's.
fn first_key(op: &Write) -> &[u8] {
    match op {
        Write::Put(k, _) | Write::PutWithTtl(k, ..) | Write::Delete(k) => k,
        Write::DeleteRange(a, _) => a,
        Write::DeletePrefix(p) => p,
    }
}
