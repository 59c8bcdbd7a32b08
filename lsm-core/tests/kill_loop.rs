//! The real kill -9 loop, in the manner of RocksDB's crash test
//! with its expected-state file.
//!
//! The test re-runs its own binary as a child (`kill_loop_child`, selected by an
//! environment variable). The child opens the database on the real file system
//! with a 32 KiB memtable (so flushes and compactions run several times a second),
//! checks it against the expected state, then runs two writer threads on disjoint
//! key ranges (puts, deletes, small batches, range and prefix deletes of up to 64
//! keys, alone or in a batch, 5% of writes followed by `sync()`; a third of the
//! puts are `put_with_ttl` with a TTL of 30 days, which never expires during the
//! test, so the expected state stays exact) and
//! a reader thread, until the parent kills it with SIGKILL after 50 ms to 2 s (10%
//! of kills within 50 ms, so some land in recovery itself).
//!
//! The expected state lives in a file the kill cannot damage (`pwrite`s reach the
//! page cache at once): per key, the last acknowledged version (`committed`) and the
//! version being written (`pending`, set before the write, cleared after its
//! acknowledgement). Version `v` of key `i` is a put of `expected_value(i, v)`, or a
//! delete when `v` is a multiple of [`DELETE_EVERY`]; 0 means never written. A range
//! delete moves every key it covers on to its next delete version. Each
//! child starts by checking every key: the database holds the committed version,
//! or the pending one (a write in flight at the kill may or may not have
//! happened), never anything else: every acknowledged write is present, a deleted
//! key stays deleted, no key appears that was never written. It then settles
//! pending marks to what it found and carries on. A last child only checks.
//!
//! Besides its own keys, writer 0 now and then puts one of [`SHORT`] more keys with
//! a TTL of 20 ms to 2 s on the system clock, so they expire while the loop runs
//! and across kills: such a key reads as absent or as its committed (or pending)
//! value, never as anything else, and point reads and scans are compared on the
//! other keys only.
//!
//! A fourth thread takes checkpoints (`Db::checkpoint`) one after another, so kills
//! land inside them too. Before each call it saves the committed versions (what was
//! acknowledged before the call), and after it returns it leaves a `.done` mark.
//! The next child judges every checkpoint directory it finds: one that opens holds,
//! per key, a version at least the one committed before its call and no newer than
//! what the source holds now; one that is absent has no `.done` mark; any other
//! outcome (a directory that exists but does not open) fails. Leftover staging
//! directories (`.NAME.staging-PID-N`) beside them are allowed, counted and removed.
//! Then it deletes the checkpoints, each first renamed to a trash name so that a
//! kill during the deletion never leaves a partial directory under its name.
//!
//! Two more threads run a bank: [`ACCOUNTS`] accounts (keys `bank/NN`, outside
//! every writer's ranges and prefixes) are created with one synced batch; the
//! threads make transfers between two random accounts, each a `Db::transaction` that reads
//! both balances and writes both back. The total must be the same at every
//! snapshot they take while they run and at each child's start, after the
//! kill: a transfer is wholly there or wholly absent, and transactions that read a
//! balance another transfer changed do not commit.
//!
//! Two more threads work on keyspaces (`kill_loop_keyspaces`): cross-keyspace
//! batches over the default keyspace and `a` and `b`, each wholly there or wholly
//! absent after the kill, every acknowledged one present; and now and then a
//! temporary keyspace created, filled, flushed and dropped, whose data never comes
//! back once the drop returned, and whose segment files the next open removes.
//!
//! Values of 100 bytes or more live in blob files (about half of the writers'
//! values, one version in five four times longer), which compactions collect
//! once 30% garbage: the kills land in blob file writes, renames and deletions
//! too, and the parent checks that blob files exist at the end and that some
//! seen after a kill are gone by then.
//!
//! `LSM_KILL_CYCLES` (default 50) sets the number of kills; `LSM_KILL_SEED` the
//! delays. See `docs/testing.md` for the long run.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lsm_core::{Db, Options, WriteBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod kill_loop_keyspaces;

/// Environment variable naming the working directory; set only in the child.
const CHILD_DIR: &str = "LSM_KILL_CHILD_DIR";
/// Set in the child to only check the database and exit.
const CHECK_ONLY: &str = "LSM_KILL_CHECK_ONLY";
/// Exit code of a child that found the database wrong (or failed otherwise).
const CHILD_FAILED: i32 = 3;
/// Exit code of a check-only child that found everything right.
const CHILD_DONE: i32 = 77;
/// A child that was not killed stops writing after this long.
const CHILD_MAX_RUN: Duration = Duration::from_secs(20);

/// Keys per writer thread; writer `w` owns keys `w * RANGE .. (w + 1) * RANGE`.
const RANGE: usize = 1000;
const WRITERS: usize = 2;
const KEYS: usize = RANGE * WRITERS;
/// Keys written with short TTLs (numbered from `KEYS`), which expire mid-run.
const SHORT: usize = 16;
/// The TTL of the long-lived TTL puts: far beyond any run.
const LONG_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Every version divisible by this is a delete.
const DELETE_EVERY: u64 = 8;
/// Bytes of the expected-state file's header: the number of completed checks, and
/// (roughly, for the figures) the number of acknowledged writes.
const HEADER: u64 = 16;
/// Writers add to the header's write count once per this many writes.
const COUNT_EVERY: u64 = 64;

/// Accounts of the bank thread, and each one's balance at creation.
const ACCOUNTS: usize = 16;
const OPENING_BALANCE: i64 = 1000;
/// The bank's keys sort before every writer key (`key...`), so no writer's range
/// or prefix delete covers them.
const BANK_PREFIX: &str = "bank/";

fn key(i: usize) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// The value of version `v` of key `i`: names both, then a filler whose length
/// varies with them.
fn expected_value(i: usize, v: u64) -> Vec<u8> {
    let mut out = format!("{i}:{v}:").into_bytes();
    let mut len = 30 + (v as usize * 7 + i * 13) % 150;
    // One version in five is several times the blob threshold ([`options`]).
    if (v as usize + i).is_multiple_of(5) {
        len *= 4;
    }
    let fill = b'a' + (v % 26) as u8;
    out.resize(len, fill);
    out
}

/// The expected-state file: per key `committed: u64` and `pending: u64`.
struct Expected {
    file: File,
}

impl Expected {
    fn open(path: &Path) -> Expected {
        Expected::with_slots(path, KEYS + SHORT)
    }

    /// An expected-state file of `slots` keys after the header.
    fn with_slots(path: &Path, slots: usize) -> Expected {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open expected-state file");
        file.set_len(HEADER + slots as u64 * 16)
            .expect("size expected-state file");
        Expected { file }
    }

    fn read_u64(&self, at: u64) -> u64 {
        let mut b = [0u8; 8];
        self.file.read_exact_at(&mut b, at).expect("read expected");
        u64::from_le_bytes(b)
    }

    fn write_u64(&self, at: u64, v: u64) {
        self.file
            .write_all_at(&v.to_le_bytes(), at)
            .expect("write expected");
    }

    fn committed(&self, i: usize) -> u64 {
        self.read_u64(HEADER + i as u64 * 16)
    }

    fn pending(&self, i: usize) -> u64 {
        self.read_u64(HEADER + i as u64 * 16 + 8)
    }

    fn set_committed(&self, i: usize, v: u64) {
        self.write_u64(HEADER + i as u64 * 16, v);
    }

    fn set_pending(&self, i: usize, v: u64) {
        self.write_u64(HEADER + i as u64 * 16 + 8, v);
    }

    fn checks(&self) -> u64 {
        self.read_u64(0)
    }

    fn count_check(&self) {
        self.write_u64(0, self.checks() + 1);
    }

    fn writes(&self) -> u64 {
        self.read_u64(8)
    }
}

/// Values of [`BLOB_THRESHOLD`] bytes or more live in blob files.
const BLOB_THRESHOLD: usize = 100;

fn options() -> Options {
    Options::default()
        .with_blob_threshold(Some(BLOB_THRESHOLD))
        .with_blob_gc_ratio(0.3)
        .with_memtable_size(32 << 10)
        .with_segment_size(64 << 10)
        .with_block_size(1024)
        .with_level0_compaction_trigger(4)
        .with_level1_size(256 << 10)
        .with_level_size_multiplier(4)
        .with_block_cache_size(1 << 20)
        // The WAL's writeback hint (started from a background thread) runs
        // under the kills too: a few times per WAL.
        .with_wal_bytes_per_sync(8 << 10)
}

/// True when `found` is what version `v` of key `i` leaves.
fn matches(i: usize, v: u64, found: Option<&[u8]>) -> bool {
    if v == 0 || v.is_multiple_of(DELETE_EVERY) {
        found.is_none()
    } else {
        found == Some(expected_value(i, v).as_slice())
    }
}

/// Ends the child with a message.
fn fail(msg: String) -> ! {
    eprintln!("CHILD CHECK FAILED: {msg}");
    std::process::exit(CHILD_FAILED)
}

/// Checks every key against the expected state and settles pending marks to what
/// the database holds. Also checks a full scan yields only known keys.
fn check_and_settle(db: &Db, exp: &Expected) {
    let mut live = 0usize;
    for i in 0..KEYS {
        let (c, p) = (exp.committed(i), exp.pending(i));
        let found = db
            .get(key(i))
            .unwrap_or_else(|e| fail(format!("get key {i}: {e}")));
        let found = found.as_deref();
        let is_c = matches(i, c, found);
        let is_p = p != 0 && matches(i, p, found);
        if !is_c && !is_p {
            fail(format!(
                "key {i}: committed version {c}, pending {p}, found {:?}",
                found.map(String::from_utf8_lossy)
            ));
        }
        live += usize::from(found.is_some());
        settle(exp, i, p, is_p);
    }
    for i in KEYS..KEYS + SHORT {
        // A short-lived key: absent (expired, or never written) or a version it
        // was given, the committed one or the one in flight.
        let (c, p) = (exp.committed(i), exp.pending(i));
        let found = db
            .get(key(i))
            .unwrap_or_else(|e| fail(format!("get key {i}: {e}")));
        let is = |v: u64| v != 0 && found.as_deref() == Some(expected_value(i, v).as_slice());
        let is_p = p != 0 && is(p);
        if found.is_some() && !is(c) && !is_p {
            fail(format!(
                "short-lived key {i}: committed version {c}, pending {p}, found {:?}",
                found.as_deref().map(String::from_utf8_lossy)
            ));
        }
        settle(exp, i, p, is_p);
    }
    let mut scanned = 0usize;
    for item in db.scan::<&[u8], _>(..) {
        let (k, v) = item.unwrap_or_else(|e| fail(format!("scan: {e}")));
        if k.starts_with(BANK_PREFIX.as_bytes()) {
            continue; // judged by `check_bank`
        }
        if k.starts_with(kill_loop_keyspaces::SLOT_PREFIX.as_bytes()) {
            continue; // judged by `kill_loop_keyspaces::check_and_settle`
        }
        let i = std::str::from_utf8(&k)
            .ok()
            .and_then(|s| s.strip_prefix("key"))
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&i| i < KEYS + SHORT)
            .unwrap_or_else(|| {
                fail(format!(
                    "scan: unknown key {:?}",
                    String::from_utf8_lossy(&k)
                ))
            });
        if i >= KEYS {
            // Short-lived: the version it holds (the point read settled it), unless
            // that expired between the two reads.
            let c = exp.committed(i);
            if v.as_ref() != expected_value(i, c).as_slice() {
                fail(format!(
                    "scan: short-lived key {i} reads {:?}, committed {c}",
                    String::from_utf8_lossy(&v)
                ));
            }
            continue;
        }
        if !matches(i, exp.committed(i), Some(&v)) {
            fail(format!(
                "scan: key {i} reads {:?}",
                String::from_utf8_lossy(&v)
            ));
        }
        scanned += 1;
    }
    if scanned != live {
        fail(format!("scan yields {scanned} keys, point reads {live}"));
    }
    exp.count_check();
}

/// After the check of key `i`: a pending version `p` found becomes the committed
/// one; the pending mark is cleared either way.
fn settle(exp: &Expected, i: usize, p: u64, found_pending: bool) {
    if p != 0 {
        if found_pending {
            exp.set_committed(i, p);
        }
        exp.set_pending(i, 0);
    }
}

/// Writer `w`: forever, a put, delete or small batch on its own keys, now and then
/// a range delete or a prefix delete of some of them (alone or in a batch), marked
/// pending before and committed after.
fn writer(db: &Db, exp: &Expected, w: usize, seed: u64, writes: &AtomicU64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let lo = w * RANGE;
    let mut committed: Vec<u64> = (lo..lo + RANGE).map(|i| exp.committed(i)).collect();
    loop {
        if w == 0 && rng.gen_ratio(1, 20) {
            short_lived_put(db, exp, &mut rng);
        }
        let n = if rng.gen_ratio(1, 10) {
            rng.gen_range(2..6)
        } else {
            1
        };
        let mut keys: Vec<usize> = (0..n).map(|_| rng.gen_range(0..RANGE)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut batch = WriteBatch::new();
        // The new version of every key the call changes.
        let mut next: Vec<(usize, u64)> = Vec::new();
        for &j in &keys {
            let v = committed[j] + 1;
            if v.is_multiple_of(DELETE_EVERY) {
                batch.delete(key(lo + j));
            } else if v % 3 == 1 {
                batch.put_with_ttl(key(lo + j), expected_value(lo + j, v), LONG_TTL);
            } else {
                batch.put(key(lo + j), expected_value(lo + j, v));
            }
            next.push((j, v));
        }
        if rng.gen_ratio(1, 50) {
            // A range or prefix delete, after the puts of its batch, so they may fall
            // in it: every key it covers moves on to its next delete version.
            let (start, end) = range_delete(&mut rng, lo);
            if rng.gen_bool(0.5) && end - start == 10 && start.is_multiple_of(10) {
                batch.delete_prefix(format!("key{:04}", start / 10));
            } else {
                batch.delete_range(key(start), key(end));
            }
            for i in start..end {
                let j = i - lo;
                let after = next
                    .iter()
                    .find(|(k, _)| *k == j)
                    .map_or(committed[j], |p| p.1);
                let v = (after + 1).next_multiple_of(DELETE_EVERY);
                next.retain(|(k, _)| *k != j);
                next.push((j, v));
            }
        }
        for &(j, v) in &next {
            exp.set_pending(lo + j, v);
        }
        if let Err(e) = db.write(batch) {
            fail(format!("writer {w}: write failed: {e}"));
        }
        for &(j, v) in &next {
            committed[j] = v;
            exp.set_committed(lo + j, v);
            exp.set_pending(lo + j, 0);
        }
        let n = writes.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(COUNT_EVERY) {
            exp.write_u64(8, n);
        }
        if rng.gen_ratio(1, 20) {
            if let Err(e) = db.sync() {
                fail(format!("writer {w}: sync failed: {e}"));
            }
        }
    }
}

/// A put of a short-lived key with a TTL of 20 ms to 2 s, marked pending before
/// and committed after like every write.
fn short_lived_put(db: &Db, exp: &Expected, rng: &mut StdRng) {
    let i = KEYS + rng.gen_range(0..SHORT);
    let v = exp.committed(i) + 1;
    let ttl = Duration::from_millis(rng.gen_range(20..2000));
    exp.set_pending(i, v);
    if let Err(e) = db.put_with_ttl(key(i), expected_value(i, v), ttl) {
        fail(format!("short-lived put failed: {e}"));
    }
    exp.set_committed(i, v);
    exp.set_pending(i, 0);
}

/// The keys `start..end` of a range delete in the range of the writer whose first
/// key is `lo`: mostly a few dozen, sometimes the ten keys of a prefix
/// (`key0012` covers keys 120 to 129).
fn range_delete(rng: &mut StdRng, lo: usize) -> (usize, usize) {
    if rng.gen_bool(0.4) {
        let start = lo + rng.gen_range(0..RANGE / 10) * 10;
        return (start, start + 10);
    }
    let start = lo + rng.gen_range(0..RANGE - 1);
    let len = rng.gen_range(1..64).min(lo + RANGE - start);
    (start, start + len)
}

/// The reader: a key's value is one this key was given, at least as new as the
/// version committed before the read.
fn reader(db: &Db, exp: &Expected, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let i = rng.gen_range(0..KEYS);
        let before = exp.committed(i);
        let found = db
            .get(key(i))
            .unwrap_or_else(|e| fail(format!("reader: get key {i}: {e}")));
        let ok = match found.as_deref() {
            Some(v) => {
                let text = String::from_utf8_lossy(v);
                let mut parts = text.splitn(3, ':');
                let (ki, kv) = (parts.next(), parts.next());
                let version = kv.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
                ki == Some(i.to_string().as_str())
                    && version >= before
                    && matches(i, version, Some(v))
            }
            // Absent: the committed version is a delete, or a newer write moved on.
            // `pending` is read before `committed`: the writer clears `pending` only
            // after raising `committed`, so a write seen by the get is caught by one
            // of the two reads (in the other order it can finish in between).
            None => matches(i, before, None) || exp.pending(i) != 0 || exp.committed(i) != before,
        };
        if !ok {
            fail(format!(
                "reader: key {i} (committed {before} before the read) reads {:?}",
                found.as_deref().map(String::from_utf8_lossy)
            ));
        }
    }
}

fn account(a: usize) -> String {
    format!("{BANK_PREFIX}{a:02}")
}

fn balance(v: &[u8]) -> i64 {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fail(format!("bank: balance {:?}", String::from_utf8_lossy(v))))
}

/// The bank's accounts as `snapshot` reads them: none (never created, or the
/// creating batch was lost with the kill), or all of them holding the opening
/// total. Returns whether they exist.
fn check_bank(snapshot: &lsm_core::Snapshot, when: &str) -> bool {
    let mut count = 0;
    let mut total = 0i64;
    for item in snapshot.prefix(BANK_PREFIX) {
        let (_, v) = item.unwrap_or_else(|e| fail(format!("bank {when}: scan: {e}")));
        count += 1;
        total += balance(&v);
    }
    if count == 0 {
        return false;
    }
    if count != ACCOUNTS || total != ACCOUNTS as i64 * OPENING_BALANCE {
        fail(format!(
            "bank {when}: {count} accounts holding {total}, expected {ACCOUNTS} holding {}",
            ACCOUNTS as i64 * OPENING_BALANCE
        ));
    }
    true
}

/// Creates the accounts if the database has none (one synced batch).
fn open_bank(db: &Db) {
    if check_bank(&db.snapshot(), "after the kill") {
        return;
    }
    let mut batch = WriteBatch::new();
    for a in 0..ACCOUNTS {
        batch.put(account(a), OPENING_BALANCE.to_string());
    }
    db.write_opt(batch, &lsm_core::WriteOptions::default().with_sync(true))
        .unwrap_or_else(|e| fail(format!("bank: create: {e}")));
}

/// Transfers between random accounts, each a transaction, checking the total at
/// a snapshot now and then.
fn banker(db: &Db, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0u64.. {
        let from = rng.gen_range(0..ACCOUNTS);
        let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
        let amount = rng.gen_range(1..100i64);
        db.transaction(|t| {
            let a = t.get(account(from))?.map(|v| balance(&v));
            let b = t.get(account(to))?.map(|v| balance(&v));
            let (Some(a), Some(b)) = (a, b) else {
                fail(format!("bank: account {from} or {to} is missing"));
            };
            t.put(account(from), (a - amount).to_string())?;
            t.put(account(to), (b + amount).to_string())
        })
        .or_else(|e| match e {
            // Lost to the other banker 16 times in a row: the transfer is
            // simply not made.
            lsm_core::Error::Conflict { .. } => Ok(()),
            e => Err(e),
        })
        .unwrap_or_else(|e| fail(format!("bank: transfer: {e}")));
        if round % 16 == 0 {
            check_bank(&db.snapshot(), "while running");
        }
    }
}

/// Directory of the checkpoints the children take, and their records: `N.lb` (the
/// committed version of every key before call `N`), `N.done` (the call returned).
fn checkpoints_dir(dir: &Path) -> PathBuf {
    dir.join("checkpoints")
}

/// The version a value made by [`expected_value`] names.
fn version_of(v: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(v).ok()?;
    text.split(':').nth(1)?.parse().ok()
}

/// The checkpointer: checkpoints one after another, each recorded as above.
fn checkpointer(db: &Db, exp: &Expected, dir: &Path) {
    let cps = checkpoints_dir(dir);
    for n in 0u64.. {
        let name = format!("{}-{n}", std::process::id());
        let lb: Vec<u8> = (0..KEYS)
            .flat_map(|i| exp.committed(i).to_le_bytes())
            .collect();
        std::fs::write(cps.join(format!("{name}.lb")), lb)
            .unwrap_or_else(|e| fail(format!("checkpointer: {e}")));
        if let Err(e) = db.checkpoint(cps.join(&name)) {
            fail(format!("checkpoint: {e}"));
        }
        std::fs::write(cps.join(format!("{name}.done")), "")
            .unwrap_or_else(|e| fail(format!("checkpointer: {e}")));
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Judges every checkpoint a killed child left (see the module documentation),
/// counts the outcomes in `checkpoints/tally` (opened, absent, staging leftovers)
/// and deletes them. Runs after `check_and_settle`, so `committed` is what the
/// source holds, and before this child's checkpointer starts, so no staging
/// directory belongs to a running checkpoint.
fn judge_checkpoints(exp: &Expected, dir: &Path) {
    let cps = checkpoints_dir(dir);
    std::fs::create_dir_all(&cps).unwrap_or_else(|e| fail(format!("checkpoints: {e}")));
    let tally = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(cps.join("tally"))
        .unwrap_or_else(|e| fail(format!("tally: {e}")));
    tally
        .set_len(24)
        .unwrap_or_else(|e| fail(format!("tally: {e}")));
    let count = |slot: u64| {
        let mut b = [0u8; 8];
        tally
            .read_exact_at(&mut b, slot * 8)
            .unwrap_or_else(|e| fail(format!("tally: {e}")));
        let n = u64::from_le_bytes(b) + 1;
        tally
            .write_all_at(&n.to_le_bytes(), slot * 8)
            .unwrap_or_else(|e| fail(format!("tally: {e}")));
    };
    let entries: Vec<String> = std::fs::read_dir(&cps)
        .unwrap_or_else(|e| fail(format!("checkpoints: {e}")))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // What a killed checkpoint may leave besides its (absent) directory: a staging
    // directory; and what a child killed while deleting leaves: a trash directory.
    for entry in &entries {
        let staging = entry.starts_with('.') && entry.contains(".staging-");
        if staging || entry.starts_with(".trash-") {
            std::fs::remove_dir_all(cps.join(entry))
                .unwrap_or_else(|e| fail(format!("{entry}: {e}")));
            if staging {
                count(2);
            }
        }
    }
    let mut names: Vec<String> = entries
        .iter()
        .filter(|n| n.ends_with(".lb"))
        .map(|n| n.trim_end_matches(".lb").to_string())
        .collect();
    names.sort();
    for name in names {
        let path = cps.join(&name);
        let done = cps.join(format!("{name}.done")).exists();
        let lb = std::fs::read(cps.join(format!("{name}.lb")))
            .unwrap_or_else(|e| fail(format!("checkpoint record: {e}")));
        if path.exists() {
            match Db::open(&path, options().with_create_if_missing(false)) {
                Ok(copy) => {
                    for i in 0..KEYS {
                        let at = i * 8;
                        let low = lb
                            .get(at..at + 8)
                            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
                        let now = exp.committed(i);
                        let found = copy
                            .get(key(i))
                            .unwrap_or_else(|e| fail(format!("checkpoint {name}: get: {e}")));
                        let ok = match found.as_deref() {
                            Some(v) => version_of(v).is_some_and(|ver| {
                                (low..=now).contains(&ver) && matches(i, ver, Some(v))
                            }),
                            // The version before the call was a delete, or a delete
                            // came after it.
                            None => {
                                matches(i, low, None) || low.next_multiple_of(DELETE_EVERY) <= now
                            }
                        };
                        if !ok {
                            fail(format!(
                                "checkpoint {name}: key {i} reads {:?}, committed {low} before                                  the call and {now} now",
                                found.as_deref().map(String::from_utf8_lossy)
                            ));
                        }
                    }
                    copy.close()
                        .unwrap_or_else(|e| fail(format!("checkpoint {name}: {e}")));
                    count(0);
                }
                Err(e) => fail(format!(
                    "checkpoint {name} exists but does not open (done: {done}): {e}"
                )),
            }
            // This child may be killed while it cleans up: the mark goes first, and
            // the directory leaves its name in one rename, so what the next child
            // finds under the name is still the checkpoint, whole, or nothing.
            let _ = std::fs::remove_file(cps.join(format!("{name}.done")));
            let trash = cps.join(format!(".trash-{name}"));
            std::fs::rename(&path, &trash).unwrap_or_else(|e| fail(format!("{name}: {e}")));
            std::fs::remove_dir_all(&trash).unwrap_or_else(|e| fail(format!("{name}: {e}")));
        } else {
            if done {
                fail(format!(
                    "checkpoint {name} returned but its directory is gone"
                ));
            }
            count(1);
        }
        for ext in ["done", "lb"] {
            let _ = std::fs::remove_file(cps.join(format!("{name}.{ext}")));
        }
    }
}

/// The child's part; does nothing in the parent's test run.
#[test]
fn kill_loop_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let exp = Arc::new(Expected::open(&dir.join("expected")));
    let db = Db::open(dir.join("db"), options()).unwrap_or_else(|e| fail(format!("open: {e}")));
    check_and_settle(&db, &exp);
    let ks_exp = Arc::new(kill_loop_keyspaces::expected(&dir));
    kill_loop_keyspaces::check_and_settle(&db, &ks_exp, &dir);
    open_bank(&db);
    judge_checkpoints(&exp, &dir);
    if std::env::var_os(CHECK_ONLY).is_some() {
        db.close().unwrap_or_else(|e| fail(format!("close: {e}")));
        std::process::exit(CHILD_DONE);
    }
    let seed = std::process::id() as u64 ^ exp.checks().wrapping_mul(0x9e37_79b9);
    let db = Arc::new(db);
    let writes = Arc::new(AtomicU64::new(exp.writes()));
    for w in 0..WRITERS {
        let (db, exp, writes) = (Arc::clone(&db), Arc::clone(&exp), Arc::clone(&writes));
        std::thread::spawn(move || writer(&db, &exp, w, seed + w as u64, &writes));
    }
    {
        let (db, exp) = (Arc::clone(&db), Arc::clone(&exp));
        std::thread::spawn(move || reader(&db, &exp, seed + 100));
    }
    {
        let (db, exp, dir) = (Arc::clone(&db), Arc::clone(&exp), dir.clone());
        std::thread::spawn(move || checkpointer(&db, &exp, &dir));
    }
    for b in 0..2 {
        let db = Arc::clone(&db);
        std::thread::spawn(move || banker(&db, seed + 200 + b));
    }
    {
        let (db, dir) = (Arc::clone(&db), dir.clone());
        std::thread::spawn(move || kill_loop_keyspaces::writer(&db, &ks_exp, &dir, seed + 300));
    }
    {
        let db = Arc::clone(&db);
        std::thread::spawn(move || kill_loop_keyspaces::reader(db, seed + 400));
    }
    std::thread::sleep(CHILD_MAX_RUN);
    // Not killed in time: leave as if killed (no close, no flush).
    std::process::exit(CHILD_DONE);
}

fn spawn_child(dir: &Path, check_only: bool, log: &Path) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let log = File::create(log).expect("child log");
    let mut cmd = Command::new(exe);
    cmd.args([
        "kill_loop_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_DIR, dir)
    .stdout(Stdio::null())
    .stderr(log);
    if check_only {
        cmd.env(CHECK_ONLY, "1");
    }
    cmd.spawn().expect("spawn child")
}

/// Names of the blob files in `db`.
fn blob_files(db: &Path) -> BTreeSet<String> {
    std::fs::read_dir(db)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".blob"))
                .collect()
        })
        .unwrap_or_default()
}

fn child_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let cycles: u64 = std::env::var("LSM_KILL_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("LSM_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let log = dir.join("child.log");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut early = 0;
    let start = Instant::now();
    // Segments of dropped keyspaces after the last kill, and the most seen at once.
    let mut dead_segments = BTreeSet::new();
    let mut most_dead = 0;
    // Every blob file seen after a kill: some must be gone by the end (collected
    // or left dead, then deleted).
    let mut blobs_seen = BTreeSet::new();
    for cycle in 0..cycles {
        let checks_before = Expected::open(&dir.join("expected")).checks();
        let delay = if rng.gen_ratio(1, 10) {
            early += 1;
            Duration::from_millis(rng.gen_range(0..50))
        } else {
            Duration::from_millis(rng.gen_range(50..2000))
        };
        let mut child = spawn_child(dir, false, &log);
        std::thread::sleep(delay);
        if let Some(status) = child.try_wait().expect("poll child") {
            panic!(
                "cycle {cycle}: the child exited on its own ({status}) before the kill:\n{}",
                child_log(&log)
            );
        }
        child.kill().expect("SIGKILL the child");
        let status = child.wait().expect("reap child");
        assert!(
            status.code().is_none(),
            "cycle {cycle}: the child exited with {status} instead of being killed:\n{}",
            child_log(&log)
        );
        // A child that got through its check opened the database, and open removes
        // what a killed drop left: those files must be gone now.
        let dead = kill_loop_keyspaces::dead_keyspace_segments(&dir.join("db"));
        if Expected::open(&dir.join("expected")).checks() > checks_before {
            let kept: Vec<_> = dead.intersection(&dead_segments).collect();
            assert!(
                kept.is_empty(),
                "cycle {cycle}: segments of dropped keyspaces outlived an open: {kept:?}"
            );
        }
        most_dead = most_dead.max(dead.len());
        dead_segments = dead;
        blobs_seen.extend(blob_files(&dir.join("db")));
    }
    let mut child = spawn_child(dir, true, &log);
    let status = child.wait().expect("reap check child");
    assert_eq!(
        status.code(),
        Some(CHILD_DONE),
        "the final check failed:\n{}",
        child_log(&log)
    );
    let dead = kill_loop_keyspaces::dead_keyspace_segments(&dir.join("db"));
    assert!(
        dead.is_empty(),
        "segments of dropped keyspaces left after the final close: {dead:?}"
    );
    let exp = Expected::open(&dir.join("expected"));
    let (checks, writes) = (exp.checks(), exp.writes());
    let batches = kill_loop_keyspaces::batches(&kill_loop_keyspaces::expected(dir));
    let drops = kill_loop_keyspaces::dropped(dir).len();
    let segments = std::fs::read_dir(dir.join("db"))
        .expect("list db")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        })
        .count();
    let live_blobs = blob_files(&dir.join("db"));
    let gone_blobs = blobs_seen.difference(&live_blobs).count();
    let tally = std::fs::read(checkpoints_dir(dir).join("tally")).unwrap_or_default();
    let judged: Vec<u64> = tally
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    println!(
        "kill loop: {cycles} kills ({early} within 50 ms), {checks} completed checks of \
         {KEYS} keys, about {writes} acknowledged writes, {segments} segments at the end, \
         checkpoints judged (opened, absent, staging leftovers): {judged:?}; about {batches} \
         cross-keyspace batches, {drops} temporary keyspaces dropped, at most {most_dead} \
         segments of dropped keyspaces after a kill; blob files: {} seen after kills, \
         {gone_blobs} of them gone by the end, {} at the end; in {:?}",
        blobs_seen.len(),
        live_blobs.len(),
        start.elapsed()
    );
    assert!(batches > 0, "no cross-keyspace batch was acknowledged");
    assert!(drops > 0, "no temporary keyspace was dropped");
    assert!(
        judged.first().is_some_and(|&n| n > 0),
        "no checkpoint was judged: {judged:?}"
    );
    assert!(writes > 0, "no write was acknowledged");
    assert!(!live_blobs.is_empty(), "no value lives in a blob file");
    assert!(gone_blobs > 0, "no blob file was ever deleted");
    // The bank's balances moved (the final child checked their total): transfers
    // committed and survived the kills.
    let db = Db::open(dir.join("db"), options()).expect("open after the loop");
    let moved = (0..ACCOUNTS)
        .filter(|&a| {
            db.get(account(a))
                .expect("read an account")
                .is_some_and(|v| balance(&v) != OPENING_BALANCE)
        })
        .count();
    drop(db);
    assert!(moved > 0, "no bank transfer survived the kills");
    // Most children get past their check before the kill (not all: some kills land
    // in recovery), so the loop really checks.
    assert!(checks > cycles / 4, "only {checks} checks completed");
}
