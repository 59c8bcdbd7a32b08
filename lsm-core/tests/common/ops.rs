//! The operation language of the model test: what can happen to a database, how
//! proptest generates it, and a harness that applies each operation to a database
//! and to the `BTreeMap` model and checks the database agrees after every step.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{
    Compression, Db, Error, InvalidArgumentKind, ManualClock, Options, ReadOnlyDb, Snapshot,
    WriteBatch,
};
use proptest::prelude::*;

use super::filter::TestFilter;
use super::keys::{key, show, value, KEY_SPACE};
use super::model::{self, collect, diff, drain, Direction, Map, Pairs};

/// One end of a range: which kind, around which key number; `after` moves the bound
/// just past the key (the key followed by `0x00`, which is never written).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BoundSpec {
    /// 0 unbounded, 1 included, 2 excluded.
    pub kind: u8,
    /// Key number of the bound.
    pub key: u8,
    /// Use the key followed by a zero byte.
    pub after: bool,
}

impl BoundSpec {
    /// The bound as the scan API takes it.
    pub fn bound(self) -> Bound<Vec<u8>> {
        let mut k = key(self.key);
        if self.after {
            k.push(0);
        }
        match self.kind {
            0 => Bound::Unbounded,
            1 => Bound::Included(k),
            _ => Bound::Excluded(k),
        }
    }
}

impl fmt::Debug for BoundSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bound();
        match b {
            Bound::Unbounded => write!(f, ".."),
            Bound::Included(k) => write!(f, "[{}", show(&k)),
            Bound::Excluded(k) => write!(f, "({}", show(&k)),
        }
    }
}

/// One end of a range delete: key number `key`, or with `after` the key followed by
/// `0x00` (never written, so the range ends between two keys).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EndSpec {
    /// Key number.
    pub key: u8,
    /// Use the key followed by a zero byte.
    pub after: bool,
}

impl EndSpec {
    /// The key bytes.
    pub fn bytes(self) -> Vec<u8> {
        let mut k = key(self.key);
        if self.after {
            k.push(0);
        }
        k
    }
}

impl fmt::Debug for EndSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", show(&self.bytes()))
    }
}

/// One seek of a [`Op::Seek`]: `Scan::seek` (or with `back`, `Scan::seek_for_prev`)
/// to `to`, then the rest of the scan drained in `dir`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SeekSpec {
    /// The key sought.
    pub to: EndSpec,
    /// `seek_for_prev` instead of `seek`.
    pub back: bool,
    /// How the scan is drained after the seek.
    pub dir: Direction,
}

impl fmt::Debug for SeekSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.back { "seek_for_prev" } else { "seek" };
        write!(f, "{name} {:?} {:?}", self.to, self.dir)
    }
}

/// One transaction of an [`Op::Txn`]: `Db::begin`, point reads of `reads` and a
/// scan of `scan` (each checked against the model as it was at begin), then the
/// `writes` (a put of that many bytes, or with `None` a delete; each read back
/// through the transaction), then, with `interfere`, a plain `Db::put` of that key
/// from outside, then `commit`. It must conflict exactly when it wrote something
/// and the outside put hit a key it read or the range it scanned.
#[derive(Clone, PartialEq, Eq)]
pub struct TxnSpec {
    pub reads: Vec<u8>,
    pub scan: (BoundSpec, BoundSpec),
    pub writes: Vec<(u8, Option<u16>)>,
    pub interfere: Option<(u8, u16)>,
}

impl fmt::Debug for TxnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reads: Vec<String> = self.reads.iter().map(|&k| show(&key(k))).collect();
        let writes: Vec<String> = self
            .writes
            .iter()
            .map(|&(k, v)| match v {
                Some(len) => format!("put {} {len}B", show(&key(k))),
                None => format!("del {}", show(&key(k))),
            })
            .collect();
        write!(
            f,
            "read {reads:?}, scan {:?}..{:?}, {writes:?}",
            self.scan.0, self.scan.1
        )?;
        if let Some((k, len)) = self.interfere {
            write!(f, ", then outside put {} {len}B", show(&key(k)))?;
        }
        Ok(())
    }
}

/// One operation of a batch.
#[derive(Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Put key number `.0` with a value of `.1` bytes.
    Put(u8, u16),
    /// Put key number `.0` with a value of `.1` bytes that expires `.2` ms after
    /// the batch is written.
    PutWithTtl(u8, u16, u32),
    /// Delete key number `.0`.
    Delete(u8),
    /// Delete the keys in `[.0, .1)` (an inverted range fails the whole batch).
    DeleteRange(EndSpec, EndSpec),
    /// Delete the keys starting with `PREFIXES[.0]`.
    DeletePrefix(u8),
}

impl fmt::Debug for BatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchOp::Put(k, len) => write!(f, "put {} {len}B", show(&key(*k))),
            BatchOp::PutWithTtl(k, len, ttl) => {
                write!(f, "put {} {len}B ttl {ttl}ms", show(&key(*k)))
            }
            BatchOp::Delete(k) => write!(f, "del {}", show(&key(*k))),
            BatchOp::DeleteRange(a, b) => write!(f, "del [{a:?}, {b:?})"),
            BatchOp::DeletePrefix(p) => write!(f, "del prefix {}", show(prefix_of(*p))),
        }
    }
}

/// Prefixes the prefix scans use: some match many keys, some one, some none.
pub const PREFIXES: &[&[u8]] = &[
    b"",
    b"k",
    b"k0",
    b"k1",
    b"k3",
    b"k09",
    b"k01~",
    b"k02\0",
    b"k03\xff",
    b"z",
    b"\xff",
    b"\xff\xff",
    b"\xff\xff\x0d",
];

/// One step of a history.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    /// Put key number `.0` with a value of `.1` bytes.
    Put(u8, u16),
    /// `Db::put_with_ttl` of key number `.0` with a value of `.1` bytes and a TTL
    /// of `.2` ms: the model keeps the value until the clock reaches now + TTL.
    PutWithTtl(u8, u16, u32),
    /// `ManualClock::advance` by `.0` ms (values whose expiry it reaches vanish).
    AdvanceClock(u32),
    /// Delete key number `.0`.
    Delete(u8),
    /// An atomic batch.
    Batch(Vec<BatchOp>),
    /// `Db::delete_range(.0, .1)`: empty when equal, `InvalidRange` (and nothing
    /// changed) when inverted.
    DeleteRange(EndSpec, EndSpec),
    /// `Db::delete_prefix(PREFIXES[.0])`.
    DeletePrefix(u8),
    /// Point lookup (key numbers at or above `KEY_SPACE` are never written).
    Get(u8),
    /// Range scan.
    Scan(BoundSpec, BoundSpec, Direction),
    /// One range scan repositioned by each seek in turn, drained after each: it must
    /// read what the model holds in the range narrowed at the sought key.
    Seek(BoundSpec, BoundSpec, Vec<SeekSpec>),
    /// Prefix scan of `PREFIXES[.0]`.
    Prefix(u8, Direction),
    /// A transaction, maybe raced by an outside write (see [`TxnSpec`]).
    Txn(TxnSpec),
    /// Take a snapshot, remembering a copy of the model.
    Snapshot,
    /// Lookup through live snapshot number `.0` (modulo the number alive).
    SnapGet(u8, u8),
    /// Scan through a live snapshot.
    SnapScan(u8, BoundSpec, BoundSpec, Direction),
    /// Release a live snapshot.
    DropSnapshot(u8),
    /// `Db::flush`.
    Flush,
    /// `Db::compact`.
    Compact,
    /// `Db::sync`.
    Sync,
    /// `Db::close` and open again.
    Reopen,
    /// `Db::sync`, then a power loss in `CrashMode::ALL[.0 % 4]` and a reopen of what
    /// is left: everything must still be there. (A plain reopen on the real disk.)
    SyncCrash(u8),
    /// `Db::checkpoint` into a new directory; the checkpoint, opened as a database
    /// of its own, must hold exactly the model.
    Checkpoint,
    /// `Db::open_read_only` (replacing the view held, after checking that the old
    /// view still reads what it read when it was taken): the new view must hold
    /// exactly the model.
    OpenReadOnly,
    /// `ReadOnlyDb::refresh` of the view held (opened first if none), after the same
    /// check of its old state: the refreshed view must hold exactly the model.
    RefreshReadOnly,
    /// `Keyspace::put` of key number `.1` with a value of `.2` bytes in keyspace
    /// `ks{.0 % 3 + 1}` (created on first use).
    KsPut(u8, u8, u16),
    /// `Keyspace::delete` of key number `.1` in keyspace `.0`.
    KsDelete(u8, u8),
    /// One batch across keyspaces: `(keyspace, key, Some(value length) or None for
    /// a delete)`, keyspace `0 (mod 4)` being the default one, the others `ks1` to
    /// `ks3`.
    KsBatch(Vec<(u8, u8, Option<u16>)>),
    /// `Db::drop_keyspace` of keyspace `.0` (a later use creates it again, empty).
    KsDrop(u8),
    /// Lookup in keyspace `.0` (if it exists).
    KsGet(u8, u8),
    /// Full scan of keyspace `.0` in a direction (if it exists).
    KsScan(u8, Direction),
    /// Lookup through live snapshot `.0` in keyspace `.1`: the snapshot reads it at
    /// its sequence number (nothing of a keyspace created after it).
    KsSnapGet(u8, u8, u8),
}

/// Name of the named keyspace `n` of the model test (`ks1` to `ks3`).
pub fn ks_name(n: u8) -> String {
    format!("ks{}", n % 3 + 1)
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(k, len) => write!(f, "Put({}, {len}B)", show(&key(*k))),
            Op::PutWithTtl(k, len, ttl) => {
                write!(f, "PutWithTtl({}, {len}B, {ttl}ms)", show(&key(*k)))
            }
            Op::AdvanceClock(ms) => write!(f, "AdvanceClock({ms}ms)"),
            Op::Delete(k) => write!(f, "Delete({})", show(&key(*k))),
            Op::Batch(ops) => {
                write!(f, "Batch[")?;
                for (i, op) in ops.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{op:?}")?;
                }
                write!(f, "]")
            }
            Op::DeleteRange(a, b) => write!(f, "DeleteRange({a:?}, {b:?})"),
            Op::DeletePrefix(p) => write!(f, "DeletePrefix({})", show(prefix_of(*p))),
            Op::Get(k) => write!(f, "Get({})", show(&key(*k))),
            Op::Scan(lo, hi, d) => write!(f, "Scan({lo:?}, {hi:?}, {d:?})"),
            Op::Seek(lo, hi, seeks) => write!(f, "Seek({lo:?}, {hi:?}, {seeks:?})"),
            Op::Txn(t) => write!(f, "Txn({t:?})"),
            Op::Prefix(p, d) => write!(f, "Prefix({}, {d:?})", show(prefix_of(*p))),
            Op::Snapshot => write!(f, "Snapshot"),
            Op::KsPut(ks, k, len) => {
                write!(f, "KsPut({}, {}, {len}B)", ks_name(*ks), show(&key(*k)))
            }
            Op::KsDelete(ks, k) => write!(f, "KsDelete({}, {})", ks_name(*ks), show(&key(*k))),
            Op::KsBatch(ops) => {
                write!(f, "KsBatch[")?;
                for (i, (ks, k, len)) in ops.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    let ks = if *ks % 4 == 0 {
                        "default".to_string()
                    } else {
                        ks_name(*ks % 4 - 1)
                    };
                    match len {
                        Some(l) => write!(f, "{sep}Put({ks}, {}, {l}B)", show(&key(*k)))?,
                        None => write!(f, "{sep}Delete({ks}, {})", show(&key(*k)))?,
                    }
                }
                write!(f, "]")
            }
            Op::KsDrop(ks) => write!(f, "KsDrop({})", ks_name(*ks)),
            Op::KsGet(ks, k) => write!(f, "KsGet({}, {})", ks_name(*ks), show(&key(*k))),
            Op::KsScan(ks, d) => write!(f, "KsScan({}, {d:?})", ks_name(*ks)),
            Op::KsSnapGet(s, ks, k) => {
                write!(f, "KsSnapGet({s}, {}, {})", ks_name(*ks), show(&key(*k)))
            }
            Op::SnapGet(s, k) => write!(f, "SnapGet(#{s}, {})", show(&key(*k))),
            Op::SnapScan(s, lo, hi, d) => write!(f, "SnapScan(#{s}, {lo:?}, {hi:?}, {d:?})"),
            Op::DropSnapshot(s) => write!(f, "DropSnapshot(#{s})"),
            Op::Flush => write!(f, "Flush"),
            Op::Compact => write!(f, "Compact"),
            Op::Sync => write!(f, "Sync"),
            Op::Reopen => write!(f, "Reopen"),
            Op::SyncCrash(m) => write!(f, "SyncCrash({:?})", crash_mode(*m)),
            Op::Checkpoint => write!(f, "Checkpoint"),
            Op::OpenReadOnly => write!(f, "OpenReadOnly"),
            Op::RefreshReadOnly => write!(f, "RefreshReadOnly"),
        }
    }
}

fn prefix_of(i: u8) -> &'static [u8] {
    PREFIXES[usize::from(i) % PREFIXES.len()]
}

/// Value sizes: mostly small, some empty, some of several hundred bytes, a few larger
/// than any block size the options use (4 KiB).
pub fn value_len() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => Just(0u16),
        40 => 1u16..48,
        10 => 48u16..600,
        2 => 4200u16..6000,
    ]
}

/// TTLs: some zero (expired as written), mostly within a few clock steps, some
/// long enough to outlive most histories.
fn ttl_ms() -> impl Strategy<Value = u32> {
    prop_oneof![
        1 => Just(0u32),
        6 => 1u32..200,
        3 => 200u32..100_000,
    ]
}

/// Clock steps: mostly small (a few milliseconds, so expiries fall between
/// flushes), sometimes past every TTL [`ttl_ms`] gives.
fn clock_step() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => Just(1u32),
        12 => 1u32..100,
        3 => 100u32..2_000,
        1 => Just(1_000_000u32),
    ]
}

fn written_key() -> impl Strategy<Value = u8> {
    0..KEY_SPACE
}

fn any_key() -> impl Strategy<Value = u8> {
    prop_oneof![9 => 0..KEY_SPACE, 1 => KEY_SPACE..KEY_SPACE + 8]
}

fn bound_spec() -> impl Strategy<Value = BoundSpec> {
    (0u8..3, 0..KEY_SPACE + 2, any::<bool>()).prop_map(|(kind, key, after)| BoundSpec {
        kind,
        key,
        after,
    })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        4 => Just(Direction::Forward),
        3 => Just(Direction::Reverse),
        2 => any::<u32>().prop_map(Direction::Mixed),
    ]
}

/// A range as two bounds, put in order: inverted ranges get their own test.
fn ordered_bounds() -> impl Strategy<Value = (BoundSpec, BoundSpec)> {
    (bound_spec(), bound_spec()).prop_map(|(a, b)| {
        let ka = (key(a.key), a.after);
        let kb = (key(b.key), b.after);
        if ka <= kb {
            (a, b)
        } else {
            (b, a)
        }
    })
}

fn end_spec() -> impl Strategy<Value = EndSpec> {
    (0..KEY_SPACE + 2, any::<bool>()).prop_map(|(key, after)| EndSpec { key, after })
}

fn seek_spec() -> impl Strategy<Value = SeekSpec> {
    (end_spec(), any::<bool>(), direction()).prop_map(|(to, back, dir)| SeekSpec { to, back, dir })
}

/// The two ends of a range delete: mostly in order, some equal (an empty range, a
/// no-op), some inverted (refused).
fn range_ends() -> impl Strategy<Value = (EndSpec, EndSpec)> {
    (end_spec(), end_spec(), 0u8..10).prop_map(|(a, b, shape)| {
        let ordered = if a.bytes() <= b.bytes() {
            (a, b)
        } else {
            (b, a)
        };
        match shape {
            0 => (a, a),
            1 => (ordered.1, ordered.0),
            _ => ordered,
        }
    })
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    prop_oneof![
        70 => (written_key(), value_len()).prop_map(|(k, l)| BatchOp::Put(k, l)),
        8 => (written_key(), value_len(), ttl_ms()).prop_map(|(k, l, t)| BatchOp::PutWithTtl(k, l, t)),
        30 => written_key().prop_map(BatchOp::Delete),
        4 => range_ends().prop_map(|(a, b)| BatchOp::DeleteRange(a, b)),
        1 => any::<u8>().prop_map(BatchOp::DeletePrefix),
    ]
}

fn txn_spec() -> impl Strategy<Value = TxnSpec> {
    (
        prop::collection::vec(any_key(), 0..4),
        ordered_bounds(),
        prop::collection::vec(
            (written_key(), prop::option::weighted(0.8, value_len())),
            0..4,
        ),
        prop::option::weighted(0.5, (written_key(), value_len())),
    )
        .prop_map(|(reads, scan, writes, interfere)| TxnSpec {
            reads,
            scan,
            writes,
            interfere,
        })
}

/// One random operation, weighted towards writes and reads.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (written_key(), value_len()).prop_map(|(k, l)| Op::Put(k, l)),
        2 => (written_key(), value_len(), ttl_ms()).prop_map(|(k, l, t)| Op::PutWithTtl(k, l, t)),
        1 => clock_step().prop_map(Op::AdvanceClock),
        10 => written_key().prop_map(Op::Delete),
        6 => prop::collection::vec(batch_op(), 0..16).prop_map(Op::Batch),
        1 => range_ends().prop_map(|(a, b)| Op::DeleteRange(a, b)),
        1 => any::<u8>().prop_map(Op::DeletePrefix),
        20 => any_key().prop_map(Op::Get),
        8 => (ordered_bounds(), direction()).prop_map(|((lo, hi), d)| Op::Scan(lo, hi, d)),
        3 => (ordered_bounds(), prop::collection::vec(seek_spec(), 1..6)).prop_map(|((lo, hi), s)| Op::Seek(lo, hi, s)),
        2 => (any::<u8>(), direction()).prop_map(|(p, d)| Op::Prefix(p, d)),
        3 => txn_spec().prop_map(Op::Txn),
        2 => Just(Op::Snapshot),
        4 => (any::<u8>(), any_key()).prop_map(|(s, k)| Op::SnapGet(s, k)),
        2 => (any::<u8>(), ordered_bounds(), direction()).prop_map(|(s, (lo, hi), d)| Op::SnapScan(s, lo, hi, d)),
        1 => any::<u8>().prop_map(Op::DropSnapshot),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
        1 => any::<u8>().prop_map(Op::SyncCrash),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::OpenReadOnly),
        1 => Just(Op::RefreshReadOnly),
        8 => (any::<u8>(), written_key(), value_len()).prop_map(|(ks, k, l)| Op::KsPut(ks, k, l)),
        3 => (any::<u8>(), written_key()).prop_map(|(ks, k)| Op::KsDelete(ks, k)),
        3 => prop::collection::vec((any::<u8>(), written_key(), prop::option::of(value_len())), 0..8).prop_map(Op::KsBatch),
        1 => any::<u8>().prop_map(Op::KsDrop),
        4 => (any::<u8>(), any_key()).prop_map(|(ks, k)| Op::KsGet(ks, k)),
        2 => (any::<u8>(), direction()).prop_map(|(ks, d)| Op::KsScan(ks, d)),
        2 => (any::<u8>(), any::<u8>(), any_key()).prop_map(|(s, ks, k)| Op::KsSnapGet(s, ks, k)),
    ]
}

/// Compression none, LZ4 or zstd.
fn any_compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Lz4),
        Just(Compression::Zstd)
    ]
}

/// Random options within the ranges the model test covers: memtable 4..64 KiB, block
/// 256 B..4 KiB, 4 KiB segments, level multiplier 2..10, level-0 trigger 2..4, small
/// level 1, static or dynamic level sizing, compression none, LZ4 or zstd, and at
/// the bottom level the same or any of the three, filters on or off, cache on or
/// off, compactions in one merge or split into up to 2 or 4 key ranges
/// (subcompactions).
pub fn options() -> impl Strategy<Value = Options> {
    (
        (
            4usize..=64,
            256usize..=4096,
            2usize..=10,
            2usize..=4,
            4usize..=12,
        ),
        (
            (any_compression(), prop::option::of(any_compression())),
            4u64..=64,
            prop_oneof![Just(0u8), Just(4), Just(10)],
            any::<bool>(),
            any::<bool>(),
            prop_oneof![Just(0u64), Just(16 << 10), Just(u64::MAX)],
            any::<bool>(),
        ),
        prop_oneof![Just(1usize), Just(2), Just(4)],
    )
        .prop_map(
            |(
                (mem_kib, block, mult, l0, stop),
                (compression, l1_kib, bloom, cache, sync, mapped, dynamic),
                subcompactions,
            )| {
                Options::default()
                    .with_memtable_size(mem_kib << 10)
                    .with_segment_size(4096)
                    .with_block_size(block)
                    .with_level_size_multiplier(mult)
                    .with_level0_compaction_trigger(l0)
                    .with_level0_stop_writes(l0 + stop)
                    .with_level1_size(l1_kib << 10)
                    .with_compression(compression.0)
                    .with_bottommost_compression(compression.1)
                    .with_bloom_bits_per_key(bloom)
                    .with_block_cache_size(if cache { 32 << 10 } else { 0 })
                    .with_sync_writes(sync)
                    .with_mmap_read_budget(mapped)
                    .with_max_subcompactions(subcompactions)
                    .with_dynamic_level_bytes(dynamic)
            },
        )
}

fn crash_mode(m: u8) -> CrashMode {
    CrashMode::ALL[usize::from(m) % CrashMode::ALL.len()]
}

/// Where a history runs: the real file system, or a simulated disk that can lose
/// power.
#[derive(Clone, Debug)]
pub enum Disk {
    /// The real file system.
    Real,
    /// A simulated disk (replaced by its crash image after each `SyncCrash`).
    Sim(SimFs),
}

/// Every key the full checks look up: all written keys and some absent ones.
pub fn probe_keys() -> Vec<Vec<u8>> {
    (0..KEY_SPACE + 8).map(key).collect()
}

/// A database under test, the model of what it must hold, and live snapshots with the
/// model as it was when each was taken.
pub struct Harness {
    db: Option<Db>,
    path: PathBuf,
    options: Options,
    disk: Disk,
    crashes: u64,
    model: Map,
    /// The expiry (ms since the epoch) of every key of `model` written with a TTL;
    /// keys leave both once the clock reaches it.
    expiries: Expiries,
    /// The clock of the database (kept across reopens).
    clock: Arc<ManualClock>,
    /// The compaction filter the database runs with, if any.
    filter: Option<Arc<TestFilter>>,
    /// Live snapshots and what each reads: the model when it was taken (or, under a
    /// filter, what the snapshot read then, checked against the model).
    snapshots: Vec<(Snapshot, Map)>,
    /// The named keyspaces that exist (by name): the generation each was created
    /// in (a keyspace dropped and created again is another one) and its model.
    keyspaces: BTreeMap<String, (u64, Map)>,
    /// Generations handed out so far.
    generations: u64,
    /// For each live snapshot (same order as `snapshots`), what it reads of each
    /// named keyspace that existed when it was taken.
    snapshot_keyspaces: Vec<BTreeMap<String, (u64, Map)>>,
    next_id: u64,
    probe: Vec<Vec<u8>>,
    /// A read-only view and the model (with its expiries) when it was opened or last
    /// refreshed: the view reads at the clock's time, so its keys expire too.
    read_only: Option<(ReadOnlyDb, Map, Expiries)>,
    /// Checkpoints taken (their directories are numbered).
    checkpoints: u64,
}

/// Opens `path` with `options` on `disk`.
pub fn open(path: &std::path::Path, options: &Options, disk: &Disk) -> lsm_core::Result<Db> {
    match disk {
        Disk::Sim(fs) => Db::open_with_fs(path, options.clone(), fs.fs_ref()),
        Disk::Real => Db::open(path, options.clone()),
    }
}

/// Opens `path` read-only with `options` on `disk`.
pub fn open_read_only(
    path: &std::path::Path,
    options: &Options,
    disk: &Disk,
) -> lsm_core::Result<ReadOnlyDb> {
    match disk {
        Disk::Sim(fs) => Db::open_read_only_with_fs(path, options.clone(), fs.fs_ref()),
        Disk::Real => Db::open_read_only(path, options.clone()),
    }
}

/// Expiry times (ms since the epoch) of keys written with a TTL.
pub type Expiries = BTreeMap<Vec<u8>, u64>;

/// Where the manual clock of every history starts.
pub fn clock_start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// `map` without the keys whose expiry is at or before `now_ms`.
pub fn visible(map: &Map, expiries: &Expiries, now_ms: u64) -> Map {
    map.iter()
        .filter(|(k, _)| expiries.get(*k).is_none_or(|&t| t > now_ms))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Harness {
    /// Opens a new database with a manual clock (and `filter`, when given, as its
    /// compaction filter).
    pub fn new(
        path: PathBuf,
        options: Options,
        disk: Disk,
        filter: Option<Arc<TestFilter>>,
    ) -> Result<Self, String> {
        let clock = Arc::new(ManualClock::new(clock_start()));
        let mut options = options.with_clock(clock.clone());
        if let Some(f) = &filter {
            options = options.with_compaction_filter(f.clone());
        }
        let db = open(&path, &options, &disk).map_err(|e| format!("open failed: {e}"))?;
        Ok(Harness {
            db: Some(db),
            path,
            options,
            disk,
            crashes: 0,
            model: Map::new(),
            expiries: Expiries::new(),
            clock,
            filter,
            snapshots: Vec::new(),
            keyspaces: BTreeMap::new(),
            generations: 0,
            snapshot_keyspaces: Vec::new(),
            next_id: 1,
            probe: probe_keys(),
            read_only: None,
            checkpoints: 0,
        })
    }

    /// The open database.
    pub fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("the harness always holds an open database between steps")
    }

    /// The model.
    pub fn model(&self) -> &Map {
        &self.model
    }

    fn new_value(&mut self, len: u16) -> Vec<u8> {
        let v = value(self.next_id, usize::from(len));
        self.next_id += 1;
        v
    }

    /// The clock's time in ms since the epoch.
    fn now_ms(&self) -> u64 {
        ms_since_epoch(lsm_core::Clock::now(&*self.clock))
    }

    /// True when a read of `k` giving `got` agrees with the model's `want` (under a
    /// filter, also when the filter explains the difference).
    fn accepts(&self, k: &[u8], want: Option<&[u8]>, got: Option<&[u8]>) -> bool {
        match &self.filter {
            Some(f) => f.accepts(k, want, got),
            None => got == want,
        }
    }

    /// A scan's pairs with the differences the filter explains undone.
    fn loosen(&self, got: Pairs, want: &Pairs) -> Pairs {
        match &self.filter {
            Some(f) => f.loosen(&got, want),
            None => got,
        }
    }

    /// Sets `k` to `v` in the model, expiring at `expires` (absent at once when
    /// that is not after now).
    fn model_put(
        model: &mut Map,
        expiries: &mut Expiries,
        now: u64,
        k: Vec<u8>,
        v: Vec<u8>,
        expires: Option<u64>,
    ) {
        match expires {
            Some(t) if t <= now => {
                model.remove(&k);
                expiries.remove(&k);
            }
            Some(t) => {
                expiries.insert(k.clone(), t);
                model.insert(k, v);
            }
            None => {
                expiries.remove(&k);
                model.insert(k, v);
            }
        }
    }

    /// Runs [`Op::Txn`] `t`: checks its reads and scan against the model at begin
    /// and its own writes, then whether its commit conflicts exactly when it must.
    fn transaction(&mut self, t: &TxnSpec) -> Result<(), String> {
        let values: Vec<Option<Vec<u8>>> = t
            .writes
            .iter()
            .map(|&(_, v)| v.map(|len| self.new_value(len)))
            .collect();
        let outside = t.interfere.map(|(k, len)| (key(k), self.new_value(len)));
        let (lo, hi) = (t.scan.0.bound(), t.scan.1.bound());
        let mut own: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let result = {
            let db = self.db();
            let mut txn = db.begin();
            for &k in &t.reads {
                let k = key(k);
                let got = txn.get(&k).map_err(|e| format!("txn get failed: {e}"))?;
                let want = self.model.get(&k);
                if !self.accepts(&k, want.map(Vec::as_slice), got.as_deref()) {
                    return Err(format!(
                        "txn get {}: got {:?}, want {:?}",
                        show(&k),
                        got.as_deref().map(show),
                        want.map(|v| show(v))
                    ));
                }
            }
            let got = txn
                .scan((lo.clone(), hi.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("txn scan failed: {e}"))?
                .into_iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            let want = model::range(&self.model, &lo, &hi);
            if let Some(d) = diff(&self.loosen(got, &want), &want) {
                return Err(format!("txn scan: {d}"));
            }
            for (&(k, _), v) in t.writes.iter().zip(&values) {
                let k = key(k);
                match v {
                    Some(v) => txn.put(&k, v),
                    None => txn.delete(&k),
                }
                .map_err(|e| format!("txn write failed: {e}"))?;
                own.insert(k, v.clone());
            }
            for (k, v) in &own {
                let got = txn.get(k).map_err(|e| format!("txn get failed: {e}"))?;
                if got.as_deref() != v.as_deref() {
                    return Err(format!(
                        "txn reads its own write of {} as {:?}",
                        show(k),
                        got.as_deref().map(show)
                    ));
                }
            }
            if let Some((k, v)) = &outside {
                db.put(k, v)
                    .map_err(|e| format!("outside put failed: {e}"))?;
            }
            txn.commit()
        };
        let now = self.now_ms();
        let must_conflict = !own.is_empty()
            && outside.as_ref().is_some_and(|(k, _)| {
                t.reads.iter().any(|&r| key(r) == *k)
                    || std::ops::RangeBounds::contains(&(lo.clone(), hi.clone()), k)
            });
        // The outside put came first (the commit, if any, is newer).
        if let Some((k, v)) = outside.clone() {
            Self::model_put(&mut self.model, &mut self.expiries, now, k, v, None);
        }
        let checked = match result {
            Ok(()) if !must_conflict => {
                for (k, v) in own {
                    match v {
                        Some(v) => Self::model_put(
                            &mut self.model,
                            &mut self.expiries,
                            now,
                            k.clone(),
                            v,
                            None,
                        ),
                        None => {
                            self.model.remove(&k);
                            self.expiries.remove(&k);
                        }
                    }
                    self.check_key(&k, "after a transaction")?;
                }
                Ok(())
            }
            Err(Error::Conflict { .. }) if must_conflict => {
                for k in own.keys() {
                    self.check_key(k, "after a refused transaction")?;
                }
                Ok(())
            }
            other => Err(format!(
                "txn commit: {other:?}, but it {} conflict",
                if must_conflict { "must" } else { "must not" }
            )),
        };
        if let Some((k, _)) = &outside {
            self.check_key(k, "after a transaction raced by a put")?;
        }
        checked
    }

    fn check_key(&self, k: &[u8], what: &str) -> Result<(), String> {
        let got = self
            .db()
            .get(k)
            .map_err(|e| format!("{what}: get {} failed: {e}", show(k)))?;
        let want = self.model.get(k);
        if !self.accepts(k, want.map(Vec::as_slice), got.as_deref()) {
            return Err(format!(
                "{what}: get {}: got {:?}, want {:?}",
                show(k),
                got.as_deref().map(show),
                want.map(|v| show(v))
            ));
        }
        Ok(())
    }

    /// Checks the database around a range delete of `[a, b)` (whatever order the
    /// ends are in): a forward and a reverse scan of the span between them with one
    /// key more on each side, and a lookup of every probe key in it.
    fn check_range(&self, a: &[u8], b: &[u8], what: &str) -> Result<(), String> {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let before = self
            .model
            .range(..lo.to_vec())
            .next_back()
            .map(|(k, _)| k.clone());
        let after = self
            .model
            .range(hi.to_vec()..)
            .nth(1)
            .map(|(k, _)| k.clone());
        let lo = before.map_or(Bound::Unbounded, Bound::Included);
        let hi = after.map_or(Bound::Unbounded, Bound::Included);
        for dir in [Direction::Forward, Direction::Reverse] {
            let got = collect(self.db().scan((lo.clone(), hi.clone())), dir)
                .map_err(|e| format!("{what}: scan {dir:?} failed: {e}"))?;
            let want = model::range(&self.model, &lo, &hi);
            if let Some(d) = diff(&self.loosen(got, &want), &want) {
                return Err(format!("{what}: scan {dir:?}: {d}"));
            }
        }
        for k in &self.probe {
            if model::in_range(k, &lo, &hi) {
                self.check_key(k, what)?;
            }
        }
        Ok(())
    }

    /// [`Harness::check_range`] around the keys starting with `prefix`.
    fn check_neighbours(&self, prefix: &[u8], what: &str) -> Result<(), String> {
        let mut end = prefix.to_vec();
        // The smallest key above every key with the prefix, or everything.
        while end.last() == Some(&0xff) {
            end.pop();
        }
        match end.last_mut() {
            Some(last) => {
                *last += 1;
                self.check_range(prefix, &end, what)
            }
            None => self.check_all(what),
        }
    }

    /// Full comparison of the database with the model.
    pub fn check_all(&self, what: &str) -> Result<(), String> {
        model::check_db_with(self.db(), &self.model, &self.probe, self.filter.as_deref())
            .map_err(|e| format!("{what}: {e}"))?;
        check_keyspaces(self.db(), &self.keyspaces, self.filter.as_deref())
            .map_err(|e| format!("{what}: {e}"))
    }

    /// A handle to the named keyspace `n`, created (in the model too) if missing.
    fn keyspace(&mut self, n: u8) -> Result<(String, lsm_core::Keyspace), String> {
        let name = ks_name(n);
        let ks = self
            .db()
            .keyspace(&name)
            .map_err(|e| format!("keyspace {name} failed: {e}"))?;
        if !self.keyspaces.contains_key(&name) {
            self.generations += 1;
            self.keyspaces
                .insert(name.clone(), (self.generations, Map::new()));
        }
        Ok((name, ks))
    }

    /// Checks `k` in keyspace `name` against its model.
    fn check_ks_key(&self, name: &str, k: &[u8], what: &str) -> Result<(), String> {
        let Some((_, map)) = self.keyspaces.get(name) else {
            return Ok(());
        };
        let ks = self
            .db()
            .keyspace(name)
            .map_err(|e| format!("{what}: keyspace {name}: {e}"))?;
        let got = ks
            .get(k)
            .map_err(|e| format!("{what}: get {} in {name} failed: {e}", show(k)))?;
        let want = map.get(k);
        if !self.accepts(k, want.map(Vec::as_slice), got.as_deref()) {
            return Err(format!(
                "{what}: get {} in {name}: got {:?}, want {:?}",
                show(k),
                got.as_deref().map(show),
                want.map(|v| show(v))
            ));
        }
        Ok(())
    }

    /// Closes and reopens the database (snapshots are released first).
    pub fn reopen(&mut self) -> Result<(), String> {
        self.snapshots.clear();
        self.snapshot_keyspaces.clear();
        let db = self.db.take().expect("open database");
        db.close().map_err(|e| format!("close failed: {e}"))?;
        let db = open(&self.path, &self.options, &self.disk)
            .map_err(|e| format!("reopen failed: {e}"))?;
        self.db = Some(db);
        Ok(())
    }

    /// Syncs, then loses power in `mode` and reopens what the disk kept; on the real
    /// file system, a plain reopen.
    pub fn sync_crash(&mut self, mode: CrashMode) -> Result<(), String> {
        let Disk::Sim(fs) = &self.disk else {
            return self.reopen();
        };
        self.snapshots.clear();
        self.snapshot_keyspaces.clear();
        // A view held reads the disk that is about to be replaced by its crash image.
        self.read_only = None;
        self.db().sync().map_err(|e| format!("sync failed: {e}"))?;
        self.crashes += 1;
        let image = fs.crash(mode, self.crashes);
        // The old instance keeps running on the old disk until it is dropped.
        drop(self.db.take());
        self.disk = Disk::Sim(image);
        let db = open(&self.path, &self.options, &self.disk)
            .map_err(|e| format!("open after the power loss failed: {e}"))?;
        self.db = Some(db);
        Ok(())
    }

    /// Takes a checkpoint into a new directory beside the database and checks that,
    /// opened as a database of its own, it holds exactly the model; then it is
    /// closed and left.
    pub fn checkpoint(&mut self) -> Result<(), String> {
        self.checkpoints += 1;
        let name = self
            .path
            .file_name()
            .map_or_else(|| "db".to_string(), |n| n.to_string_lossy().into_owned());
        let dest = self
            .path
            .with_file_name(format!("{name}-checkpoint-{}", self.checkpoints));
        self.db()
            .checkpoint(&dest)
            .map_err(|e| format!("checkpoint failed: {e}"))?;
        let options = self.options.clone().with_create_if_missing(false);
        let copy = open(&dest, &options, &self.disk)
            .map_err(|e| format!("opening the checkpoint: {e}"))?;
        model::check_db_with(&copy, &self.model, &self.probe, self.filter.as_deref())
            .map_err(|e| format!("the checkpoint: {e}"))?;
        check_keyspaces(&copy, &self.keyspaces, self.filter.as_deref())
            .map_err(|e| format!("the checkpoint: {e}"))?;
        copy.close()
            .map_err(|e| format!("closing the checkpoint: {e}"))?;
        // Keep the disk small: crash images copy all of it.
        let fs = match &self.disk {
            Disk::Sim(fs) => fs.fs_ref(),
            Disk::Real => std::sync::Arc::new(lsm_core::fs::RealFs),
        };
        lsm_core::destroy_with_fs(&dest, fs).map_err(|e| format!("destroying the checkpoint: {e}"))
    }

    /// Closes the database for good.
    pub fn close(mut self) -> Result<(), String> {
        self.snapshots.clear();
        self.snapshot_keyspaces.clear();
        let db = self.db.take().expect("open database");
        db.close().map_err(|e| format!("close failed: {e}"))
    }

    /// Applies `op` to the database and the model, and checks what it read or wrote.
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Put(k, len) => {
                let (k, v) = (key(*k), self.new_value(*len));
                self.db()
                    .put(&k, &v)
                    .map_err(|e| format!("put failed: {e}"))?;
                Self::model_put(&mut self.model, &mut self.expiries, 0, k.clone(), v, None);
                self.check_key(&k, "after put")?;
            }
            Op::PutWithTtl(k, len, ttl) => {
                let (k, v) = (key(*k), self.new_value(*len));
                let now = self.now_ms();
                self.db()
                    .put_with_ttl(&k, &v, Duration::from_millis(u64::from(*ttl)))
                    .map_err(|e| format!("put_with_ttl failed: {e}"))?;
                let expires = Some(now + u64::from(*ttl));
                Self::model_put(
                    &mut self.model,
                    &mut self.expiries,
                    now,
                    k.clone(),
                    v,
                    expires,
                );
                self.check_key(&k, "after put_with_ttl")?;
            }
            Op::AdvanceClock(ms) => {
                self.clock.advance(Duration::from_millis(u64::from(*ms)));
                let now = self.now_ms();
                let expiries = &self.expiries;
                self.model
                    .retain(|k, _| expiries.get(k).is_none_or(|&t| t > now));
                self.expiries.retain(|_, t| *t > now);
                self.check_all("after the clock moved")?;
            }
            Op::Delete(k) => {
                let k = key(*k);
                self.db()
                    .delete(&k)
                    .map_err(|e| format!("delete failed: {e}"))?;
                self.model.remove(&k);
                self.expiries.remove(&k);
                self.check_key(&k, "after delete")?;
            }
            Op::Batch(ops) => {
                let mut batch = WriteBatch::new();
                let mut model = self.model.clone();
                let mut expiries = self.expiries.clone();
                let now = self.now_ms();
                let mut touched = Vec::new();
                let mut inverted = false;
                for op in ops {
                    match op {
                        BatchOp::Put(k, len) => {
                            let (k, v) = (key(*k), self.new_value(*len));
                            batch.put(&k, &v);
                            Self::model_put(&mut model, &mut expiries, now, k.clone(), v, None);
                            touched.push(k);
                        }
                        BatchOp::PutWithTtl(k, len, ttl) => {
                            let (k, v) = (key(*k), self.new_value(*len));
                            batch.put_with_ttl(&k, &v, Duration::from_millis(u64::from(*ttl)));
                            let expires = Some(now + u64::from(*ttl));
                            Self::model_put(&mut model, &mut expiries, now, k.clone(), v, expires);
                            touched.push(k);
                        }
                        BatchOp::Delete(k) => {
                            let k = key(*k);
                            batch.delete(&k);
                            model.remove(&k);
                            expiries.remove(&k);
                            touched.push(k);
                        }
                        BatchOp::DeleteRange(a, b) => {
                            let (a, b) = (a.bytes(), b.bytes());
                            inverted |= a > b;
                            batch.delete_range(&a, &b);
                            remove_range(&mut model, &a, &b);
                        }
                        BatchOp::DeletePrefix(p) => {
                            let p = prefix_of(*p);
                            batch.delete_prefix(p);
                            model.retain(|k, _| !k.starts_with(p));
                        }
                    }
                }
                let result = self.db().write(batch);
                if inverted {
                    // The whole batch is refused: nothing of it is applied.
                    expect_invalid_range(result, "a batch with an inverted range")?;
                    self.check_all("after a refused batch")?;
                    return Ok(());
                }
                result.map_err(|e| format!("write batch failed: {e}"))?;
                let ranges = ops
                    .iter()
                    .any(|op| matches!(op, BatchOp::DeleteRange(..) | BatchOp::DeletePrefix(_)));
                expiries.retain(|k, _| model.contains_key(k));
                self.model = model;
                self.expiries = expiries;
                if ranges {
                    self.check_all("after a batch with range deletes")?;
                } else {
                    for k in &touched {
                        self.check_key(k, "after batch")?;
                    }
                }
            }
            Op::DeleteRange(a, b) => {
                let (a, b) = (a.bytes(), b.bytes());
                let result = self.db().delete_range(&a, &b);
                if a > b {
                    expect_invalid_range(result, "an inverted range delete")?;
                    // Nothing changed (the model neither).
                    self.check_range(&a, &b, "after a refused range delete")?;
                    return Ok(());
                }
                result.map_err(|e| format!("delete_range failed: {e}"))?;
                remove_range(&mut self.model, &a, &b);
                self.forget_removed_expiries();
                self.check_range(&a, &b, "after delete_range")?;
            }
            Op::DeletePrefix(p) => {
                let p = prefix_of(*p);
                self.db()
                    .delete_prefix(p)
                    .map_err(|e| format!("delete_prefix failed: {e}"))?;
                self.model.retain(|k, _| !k.starts_with(p));
                self.forget_removed_expiries();
                let got = collect(self.db().prefix(p), Direction::Reverse)
                    .map_err(|e| format!("prefix scan after delete_prefix failed: {e}"))?;
                if !got.is_empty() {
                    return Err(format!(
                        "prefix scan after delete_prefix: {} pairs left",
                        got.len()
                    ));
                }
                self.check_neighbours(p, "after delete_prefix")?;
            }
            Op::Get(k) => self.check_key(&key(*k), "get")?,
            Op::Scan(lo, hi, dir) => {
                let (lo, hi) = (lo.bound(), hi.bound());
                let got = collect(self.db().scan((lo.clone(), hi.clone())), *dir)
                    .map_err(|e| format!("scan failed: {e}"))?;
                let want = model::range(&self.model, &lo, &hi);
                if let Some(d) = diff(&self.loosen(got, &want), &want) {
                    return Err(format!("scan: {d}"));
                }
            }
            Op::Seek(lo, hi, seeks) => {
                let (lo, hi) = (lo.bound(), hi.bound());
                let mut scan = self.db().scan((lo.clone(), hi.clone()));
                for s in seeks {
                    let to = s.to.bytes();
                    if s.back {
                        scan.seek_for_prev(&to);
                    } else {
                        scan.seek(&to);
                    }
                    let got =
                        drain(&mut scan, s.dir).map_err(|e| format!("{s:?}: scan failed: {e}"))?;
                    let (from, to) = model::seek_window(&lo, &hi, &to, s.back);
                    let want = model::range(&self.model, &from, &to);
                    if let Some(d) = diff(&self.loosen(got, &want), &want) {
                        return Err(format!("{s:?}: {d}"));
                    }
                }
            }
            Op::Txn(t) => self.transaction(t)?,
            Op::Prefix(p, dir) => {
                let p = prefix_of(*p);
                let got = collect(self.db().prefix(p), *dir)
                    .map_err(|e| format!("prefix scan failed: {e}"))?;
                let want = model::prefix(&self.model, p);
                if let Some(d) = diff(&self.loosen(got, &want), &want) {
                    return Err(format!("prefix scan: {d}"));
                }
            }
            Op::Snapshot => {
                if self.snapshots.len() >= 4 {
                    self.snapshots.remove(0);
                    self.snapshot_keyspaces.remove(0);
                }
                let snap = self.db().snapshot();
                let reads = if self.filter.is_some() {
                    // What the snapshot reads is fixed from now on, whatever the filter
                    // did before: record it (checked against the model) and hold
                    // every later read through the snapshot to it exactly.
                    let got = collect(snap.scan::<Vec<u8>, _>(..), Direction::Forward)
                        .map_err(|e| format!("snapshot scan failed: {e}"))?;
                    let want = model::range(&self.model, &Bound::Unbounded, &Bound::Unbounded);
                    if let Some(d) = diff(&self.loosen(got.clone(), &want), &want) {
                        return Err(format!("a new snapshot: {d}"));
                    }
                    got.into_iter().collect()
                } else {
                    self.model.clone()
                };
                let mut of_keyspaces = BTreeMap::new();
                for (name, (generation, map)) in &self.keyspaces {
                    let reads = if self.filter.is_some() {
                        let ks = self
                            .db()
                            .keyspace(name)
                            .map_err(|e| format!("keyspace {name}: {e}"))?;
                        let got = collect(snap.scan_in::<Vec<u8>, _>(&ks, ..), Direction::Forward)
                            .map_err(|e| format!("snapshot scan of {name} failed: {e}"))?;
                        got.into_iter().collect()
                    } else {
                        map.clone()
                    };
                    of_keyspaces.insert(name.clone(), (*generation, reads));
                }
                self.snapshots.push((snap, reads));
                self.snapshot_keyspaces.push(of_keyspaces);
            }
            Op::SnapGet(s, k) => {
                if !self.snapshots.is_empty() {
                    let (snap, map) = &self.snapshots[usize::from(*s) % self.snapshots.len()];
                    let k = key(*k);
                    let got = snap
                        .get(&k)
                        .map_err(|e| format!("snapshot get failed: {e}"))?;
                    let want = map.get(&k);
                    if got.as_deref() != want.map(Vec::as_slice) {
                        return Err(format!(
                            "snapshot get {}: got {:?}, want {:?}",
                            show(&k),
                            got.as_deref().map(show),
                            want.map(|v| show(v))
                        ));
                    }
                }
            }
            Op::SnapScan(s, lo, hi, dir) => {
                if !self.snapshots.is_empty() {
                    let (snap, map) = &self.snapshots[usize::from(*s) % self.snapshots.len()];
                    let (lo, hi) = (lo.bound(), hi.bound());
                    let got = collect(snap.scan((lo.clone(), hi.clone())), *dir)
                        .map_err(|e| format!("snapshot scan failed: {e}"))?;
                    if let Some(d) = diff(&got, &model::range(map, &lo, &hi)) {
                        return Err(format!("snapshot scan: {d}"));
                    }
                }
            }
            Op::DropSnapshot(s) => {
                if !self.snapshots.is_empty() {
                    let i = usize::from(*s) % self.snapshots.len();
                    self.snapshots.remove(i);
                    self.snapshot_keyspaces.remove(i);
                }
            }
            Op::Flush => {
                self.db()
                    .flush()
                    .map_err(|e| format!("flush failed: {e}"))?;
                self.check_all("after flush")?;
            }
            Op::Compact => {
                self.db()
                    .compact()
                    .map_err(|e| format!("compact failed: {e}"))?;
                self.check_all("after compact")?;
            }
            Op::Sync => self.db().sync().map_err(|e| format!("sync failed: {e}"))?,
            Op::Reopen => {
                self.reopen()?;
                self.check_all("after reopen")?;
            }
            Op::SyncCrash(m) => {
                self.sync_crash(crash_mode(*m))?;
                self.check_all("after sync and power loss")?;
            }
            Op::Checkpoint => self.checkpoint()?,
            Op::OpenReadOnly | Op::RefreshReadOnly => {
                let now = self.now_ms();
                let filter = self.filter.as_deref();
                if let Some((view, map, expiries)) = &self.read_only {
                    let map = visible(map, expiries, now);
                    model::check_view(view.iter(), |k| view.get(k), &map, &self.probe, filter)
                        .map_err(|e| format!("the old read-only view changed: {e}"))?;
                }
                let state = (self.model.clone(), self.expiries.clone());
                match (op, self.read_only.take()) {
                    (Op::RefreshReadOnly, Some((mut view, ..))) => {
                        view.refresh().map_err(|e| format!("refresh failed: {e}"))?;
                        self.read_only = Some((view, state.0, state.1));
                    }
                    _ => {
                        let view = open_read_only(&self.path, &self.options, &self.disk)
                            .map_err(|e| format!("open_read_only failed: {e}"))?;
                        self.read_only = Some((view, state.0, state.1));
                    }
                }
                if let Some((view, map, _)) = &self.read_only {
                    model::check_view(view.iter(), |k| view.get(k), map, &self.probe, filter)
                        .map_err(|e| format!("read-only view: {e}"))?;
                }
            }
            Op::KsPut(n, k, len) => {
                let (name, ks) = self.keyspace(*n)?;
                let (k, v) = (key(*k), self.new_value(*len));
                ks.put(&k, &v)
                    .map_err(|e| format!("put in {name} failed: {e}"))?;
                if let Some((_, map)) = self.keyspaces.get_mut(&name) {
                    map.insert(k.clone(), v);
                }
                self.check_ks_key(&name, &k, "after put in a keyspace")?;
                // The same key of the default keyspace is untouched.
                self.check_key(&k, "the default keyspace after a put in another")?;
            }
            Op::KsDelete(n, k) => {
                let (name, ks) = self.keyspace(*n)?;
                let k = key(*k);
                ks.delete(&k)
                    .map_err(|e| format!("delete in {name} failed: {e}"))?;
                if let Some((_, map)) = self.keyspaces.get_mut(&name) {
                    map.remove(&k);
                }
                self.check_ks_key(&name, &k, "after delete in a keyspace")?;
            }
            Op::KsBatch(ops) => {
                let mut batch = WriteBatch::new();
                let mut model = self.model.clone();
                let mut touched = Vec::new();
                // The batch's writes to named keyspaces, applied to their models once
                // it is written (the keyspaces it names are created first).
                let mut named: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
                for (n, k, len) in ops {
                    let k = key(*k);
                    let v = len.map(|l| self.new_value(l));
                    if *n % 4 == 0 {
                        match &v {
                            Some(v) => {
                                batch.put(&k, v);
                                model.insert(k.clone(), v.clone());
                            }
                            None => {
                                batch.delete(&k);
                                model.remove(&k);
                            }
                        }
                        touched.push((None, k));
                    } else {
                        let (name, ks) = self.keyspace(*n % 4 - 1)?;
                        match &v {
                            Some(v) => batch.put_in(&ks, &k, v),
                            None => batch.delete_in(&ks, &k),
                        };
                        named.push((name.clone(), k.clone(), v));
                        touched.push((Some(name), k));
                    }
                }
                self.db()
                    .write(batch)
                    .map_err(|e| format!("cross-keyspace batch failed: {e}"))?;
                for (k, _) in touched
                    .iter()
                    .filter(|(n, _)| n.is_none())
                    .map(|(n, k)| (k, n))
                {
                    self.expiries.remove(k);
                }
                self.model = model;
                for (name, k, v) in named {
                    if let Some((_, map)) = self.keyspaces.get_mut(&name) {
                        match v {
                            Some(v) => map.insert(k, v),
                            None => map.remove(&k),
                        };
                    }
                }
                for (name, k) in &touched {
                    match name {
                        Some(name) => self.check_ks_key(name, k, "after a cross-keyspace batch")?,
                        None => self.check_key(k, "after a cross-keyspace batch")?,
                    }
                }
            }
            Op::KsDrop(n) => {
                let name = ks_name(*n);
                self.db()
                    .drop_keyspace(&name)
                    .map_err(|e| format!("drop_keyspace {name} failed: {e}"))?;
                self.keyspaces.remove(&name);
                if self.db().keyspace_names().contains(&name) {
                    return Err(format!("{name} still listed after its drop"));
                }
            }
            Op::KsGet(n, k) => {
                let name = ks_name(*n);
                self.check_ks_key(&name, &key(*k), "get in a keyspace")?;
            }
            Op::KsScan(n, dir) => {
                let name = ks_name(*n);
                if let Some((_, map)) = self.keyspaces.get(&name) {
                    let ks = self
                        .db()
                        .keyspace(&name)
                        .map_err(|e| format!("keyspace {name}: {e}"))?;
                    let got = collect(ks.iter(), *dir)
                        .map_err(|e| format!("scan of {name} failed: {e}"))?;
                    let want = model::range(map, &Bound::Unbounded, &Bound::Unbounded);
                    if let Some(d) = diff(&self.loosen(got, &want), &want) {
                        return Err(format!("scan of {name}: {d}"));
                    }
                }
            }
            Op::KsSnapGet(s, n, k) => {
                let name = ks_name(*n);
                if !self.snapshots.is_empty() && self.keyspaces.contains_key(&name) {
                    let i = usize::from(*s) % self.snapshots.len();
                    let generation = self.keyspaces[&name].0;
                    let k = key(*k);
                    // A keyspace created after the snapshot holds nothing at its
                    // sequence number.
                    let want = match self.snapshot_keyspaces[i].get(&name) {
                        Some((g, map)) if *g == generation => map.get(&k).cloned(),
                        _ => None,
                    };
                    let ks = self
                        .db()
                        .keyspace(&name)
                        .map_err(|e| format!("keyspace {name}: {e}"))?;
                    let got = self.snapshots[i]
                        .0
                        .get_in(&ks, &k)
                        .map_err(|e| format!("snapshot get in {name} failed: {e}"))?;
                    if got.as_deref() != want.as_deref() {
                        return Err(format!(
                            "snapshot get {} in {name}: got {:?}, want {:?}",
                            show(&k),
                            got.as_deref().map(show),
                            want.as_deref().map(show)
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Harness {
    /// Drops the expiries of keys no longer in the model.
    fn forget_removed_expiries(&mut self) {
        let model = &self.model;
        self.expiries.retain(|k, _| model.contains_key(k));
    }
}

/// Checks every named keyspace of `db` against its model: the list of names, and
/// a forward full scan of each (point lookups are checked where keys are written).
fn check_keyspaces(
    db: &Db,
    keyspaces: &BTreeMap<String, (u64, Map)>,
    filter: Option<&TestFilter>,
) -> Result<(), String> {
    let mut names = db.keyspace_names();
    names.retain(|n| n != "default");
    let want: Vec<&String> = keyspaces.keys().collect();
    if names.iter().collect::<Vec<_>>() != want {
        return Err(format!("keyspaces {names:?}, want {want:?}"));
    }
    for (name, (_, map)) in keyspaces {
        let ks = db
            .keyspace(name)
            .map_err(|e| format!("keyspace {name}: {e}"))?;
        model::check_view(ks.iter(), |k| ks.get(k), map, &[], filter)
            .map_err(|e| format!("keyspace {name}: {e}"))?;
    }
    Ok(())
}

fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Removes the keys in `[start, end)` from `map` (nothing when inverted).
fn remove_range(map: &mut Map, start: &[u8], end: &[u8]) {
    if start < end {
        map.retain(|k, _| !(start <= k.as_slice() && k.as_slice() < end));
    }
}

/// `result` must be the refusal of an inverted range.
fn expect_invalid_range(result: lsm_core::Result<()>, what: &str) -> Result<(), String> {
    match result {
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::InvalidRange,
            ..
        }) => Ok(()),
        other => Err(format!("{what}: got {other:?}, want an InvalidRange error")),
    }
}

/// Runs a whole history: opens a fresh database at `path` (with a manual clock, and
/// with [`TestFilter`] as its compaction filter when `filter`), applies every op,
/// checks everything at the end, closes, reopens, checks again.
pub fn run_history(
    path: PathBuf,
    options: &Options,
    filter: bool,
    disk: Disk,
    ops: &[Op],
) -> Result<(), String> {
    let filter = filter.then(|| Arc::new(TestFilter::default()));
    let mut h = Harness::new(path, options.clone(), disk, filter)?;
    for (i, op) in ops.iter().enumerate() {
        h.apply(op).map_err(|e| format!("step {i} {op:?}: {e}"))?;
        // Every operation checks what it touched; every 16th also checks everything.
        if i % 16 == 15 {
            h.check_all("periodic check")
                .map_err(|e| format!("after step {i} {op:?}: {e}"))?;
        }
    }
    h.check_all("at the end")?;
    h.reopen()?;
    h.check_all("after the final reopen")?;
    h.close()
}
