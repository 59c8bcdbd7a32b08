//! Check function of the engine-level fuzz target `db_ops` (`fuzz/`), also replayed
//! on stable by `tests/fuzz_db_ops.rs` (the committed corpus plus deterministic
//! random inputs), so CI runs it without nightly. Not a stable API.
//!
//! [`db_ops`] reads an operation sequence from the fuzz bytes and runs it against a
//! database on the simulated disk ([`SimFs`](crate::fs::SimFs)) and a `BTreeMap` oracle: puts,
//! deletes, range and prefix deletes (alone, inverted ones included, or inside
//! batches), batches, point reads and scans (checked against the oracle; some
//! reach their range through `Scan::seek` or `Scan::seek_for_prev`), `sync`,
//! flush, compaction, close-and-reopen, checkpoints (opened read-only, they must
//! hold exactly the oracle's state), read-only opens and refreshes (checked against
//! the oracle, the view held checked to stay as it was), power cuts after the next
//! n file operations, crashes in every [`CrashMode`], puts with a TTL (alone and
//! in batches) and moves of the database's manual clock (the oracle keeps each TTL
//! put's expiry, fixed at its commit, and reads every state at the clock's time),
//! and batches committed as transactions (their first key read in the
//! transaction and checked; with no concurrent writer the commit must succeed).
//!
//! Keyspaces (`keyspaces.rs`): the default one and two named ones, `ks-a` and
//! `ks-b`. Any operation can run in a named keyspace (writes, reads, scans,
//! range deletes, batches, flushes of that keyspace); batches may span keyspaces
//! (`put_in`, `delete_in`, `delete_range_in`, ...); a keyspace can be dropped (after
//! a `sync`, so the prefix rule covers the drop, which is durable on return) and
//! is created again, empty; a snapshot held across operations is read in any
//! keyspace (`Snapshot::get_in`, checked against the state when it was taken);
//! and transactions (`transact.rs`) read and write keys of two or three keyspaces,
//! sometimes with a write by another caller in between: the oracle predicts
//! exactly when the commit must fail with `Error::Conflict` (the other write
//! touched a key the transaction read; a conflict must leave no trace), and a
//! committed one must be the effect of its writes at its commit point. The oracle
//! keeps every keyspace in one map, keys qualified by the keyspace's number, so
//! after a crash a batch across keyspaces is in all of them or in none.
//! After each crash the
//! recovered state must be the effect of a prefix of the acknowledged writes that
//! covers every synced one (no hole, no partial batch, no resurrected delete), and
//! every checkpoint directory in the crash image must be absent (a leftover
//! staging directory beside it is allowed) or hold exactly the state of its call
//! (a checkpoint that returned must be there and open). Any
//! violation panics with a description: the input that caused it belongs in the
//! corpus.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "checks assert by panicking"
)]

mod history;
mod keyspaces;
mod recovery;
mod runner;

pub use history::{apply_writes, expiries_of, show, Expiries, History, Map, Step, Write};
pub use recovery::{open_sim, read_all, recover, reopen_same, write_ops, write_step, DB_PATH};

use crate::fs::CrashMode;
use crate::options::{Compression, Options};

/// Runs the operation sequence encoded in `data` (see the module documentation);
/// panics when the database disagrees with the oracle.
pub fn db_ops(data: &[u8]) {
    run_ops(data);
}

/// What a run of [`db_ops`] did, for tests that check the inputs reach something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Operations decoded.
    pub ops: u64,
    /// Writes acknowledged.
    pub acked: u64,
    /// Recoveries checked (crashes, the final one included).
    pub crashes: u64,
    /// Keys found by those recoveries, summed.
    pub recovered_keys: u64,
    /// Power cuts that made a call fail.
    pub cut_failures: u64,
    /// Checkpoints that returned (and were checked).
    pub checkpoints: u64,
    /// Read-only opens and refreshes checked.
    pub read_only_views: u64,
    /// Acknowledged writes that held a range or prefix delete.
    pub range_deletes: u64,
    /// Inverted range deletes refused (with the state checked unchanged).
    pub refused_ranges: u64,
    /// Acknowledged writes that held a TTL put.
    pub ttl_puts: u64,
    /// Moves of the clock.
    pub clock_moves: u64,
    /// Scans repositioned by a seek (and checked).
    pub seeks: u64,
    /// Batches committed as transactions.
    pub transactions: u64,
    /// Acknowledged writes that touched a named keyspace.
    pub keyspace_writes: u64,
    /// Acknowledged batches that spanned two or more keyspaces.
    pub cross_keyspace_batches: u64,
    /// Keyspaces dropped (and created again).
    pub drops: u64,
    /// Reads through a held snapshot checked.
    pub snapshot_reads: u64,
    /// Transactions over keyspaces committed (their outside write, if any, touched
    /// nothing they read).
    pub keyspace_transactions: u64,
    /// Transactions that failed with `Error::Conflict`, as predicted.
    pub conflicts: u64,
    /// The most live blob files seen after an operation (0 when the options keep
    /// every value inline).
    pub blob_files: u64,
}

/// [`db_ops`], returning what the run did.
pub fn run_ops(data: &[u8]) -> Summary {
    let mut input = Input { data, pos: 0 };
    let options = options(&mut input);
    let mut run = runner::Runner::new(options);
    let mut index = 0usize;
    while let Some(op) = Op::decode(&mut input) {
        run.apply(index, &op);
        run.note_blob_files();
        index += 1;
    }
    run.finish(index)
}

/// The fuzz bytes, read front to back; reads past the end give `None`.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        self.pos += 1;
        b
    }

    /// A byte, or 0 past the end (for arguments: a truncated input still decodes).
    fn arg(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }
}

/// Options from the first two bytes: small memtables, blocks and segments so a few
/// dozen writes flush and compact; with bit 0x80 of the second byte, key-value
/// separation: values of at least 16 or 100 bytes (bit 0x20 of the first; value
/// lengths are 0 to 255) go to blob files, which compactions collect once 30% of
/// them is garbage. Data blocks: uncompressed with bit 0x40 of the first byte, else
/// LZ4, or zstd with its bit 0x01; bit 0x01 of the second byte puts zstd at the
/// bottom level. Compactions are split into up to 1 to 4 key ranges
/// (`max_subcompactions`) by the low two bits of `a ^ (b >> 1)`. Bit 0x04 of the
/// first byte selects static level sizing instead of dynamic.
fn options(input: &mut Input<'_>) -> Options {
    let (a, b) = (input.arg(), input.arg());
    let blob_threshold = (b & 0x80 != 0).then_some(if a & 0x20 != 0 { 16 } else { 100 });
    Options::default()
        .with_blob_threshold(blob_threshold)
        .with_blob_gc_ratio(0.3)
        .with_max_subcompactions(1 + usize::from((a ^ (b >> 1)) & 3))
        .with_memtable_size(4096 << (a % 5))
        .with_segment_size(4096)
        .with_block_size(256 << (b % 5))
        .with_bloom_bits_per_key(if b & 0x20 != 0 { 0 } else { 10 })
        .with_block_cache_size(if b & 0x40 != 0 { 0 } else { 64 << 10 })
        .with_sync_writes(a & 0x80 != 0)
        .with_level0_compaction_trigger(2 + usize::from(a >> 3 & 3))
        .with_level0_stop_writes(12)
        .with_level_size_multiplier(2 + usize::from(b >> 3 & 3))
        .with_level1_size(16 << 10)
        .with_dynamic_level_bytes(a & 0x04 == 0)
        .with_compression(match (a & 0x40 != 0, a & 0x01 != 0) {
            (true, _) => Compression::None,
            (false, false) => Compression::Lz4,
            (false, true) => Compression::Zstd,
        })
        .with_bottommost_compression((b & 0x01 != 0).then_some(Compression::Zstd))
}

/// Number of distinct keys the operations use (so they collide).
const KEYS: u8 = 24;

/// Key number `i % KEYS`, in awkward shapes: empty, long, ending in 0x00 or 0xff,
/// prefixes of one another.
pub(crate) fn key(i: u8) -> Vec<u8> {
    let i = i % KEYS;
    match i {
        0 => Vec::new(),
        1 => b"k".to_vec(),
        _ => {
            let mut k = format!("k{i:02}").into_bytes();
            match i % 4 {
                1 => k.extend([b'~'; 40]),
                2 => k.push(0),
                3 => k.extend([0xff, 0xff]),
                _ => {}
            }
            k
        }
    }
}

/// The value of write `id`: `len` bytes starting with the id.
pub(crate) fn value(id: u64, len: u8) -> Vec<u8> {
    let mut v = format!("{id}:").into_bytes();
    let fill = b'a' + (id % 26) as u8;
    v.resize(usize::from(len).max(v.len()), fill);
    v
}

/// One operation of a decoded batch.
#[derive(Debug, Clone, Copy)]
enum BatchOp {
    /// Put key, with a value of this length.
    Put(u8, u8),
    Delete(u8),
    /// Range delete from key to key, in order.
    DeleteRange(u8, u8),
    /// Prefix delete: key, prefix length.
    DeletePrefix(u8, u8),
    /// TTL put: key, value length, TTL byte ([`ttl_ms`]).
    PutWithTtl(u8, u8, u8),
}

/// The TTL of a TTL byte: 0 (expired as written) to 1,020 ms in steps of 4.
pub(crate) fn ttl_ms(b: u8) -> u64 {
    u64::from(b) * 4
}

/// The clock move of a byte: 1 to 255 ms, or (0xff) past every TTL.
pub(crate) fn clock_step_ms(b: u8) -> u64 {
    if b == 0xff {
        1_000_000
    } else {
        u64::from(b) + 1
    }
}

/// The prefix of a prefix delete: the first bytes of key `k` (up to 4), or none at
/// all (every key) when `len` is 0.
pub(crate) fn prefix(k: u8, len: u8) -> Vec<u8> {
    let mut p = key(k);
    let n = if len == 0 {
        0
    } else {
        1 + usize::from(len % 4)
    };
    p.truncate(n);
    p
}

/// Whether a scan op reaches its range through a seek.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seek {
    No,
    Yes,
}

/// One decoded operation.
#[derive(Debug, Clone)]
enum Op {
    /// Put key, with a value of this length.
    Put(u8, u8),
    /// Put key with a value of this length and a TTL of [`ttl_ms`] of the byte.
    PutWithTtl(u8, u8, u8),
    /// Move the clock by [`clock_step_ms`] of the byte.
    AdvanceClock(u8),
    Delete(u8),
    /// Up to 6 (key, value length or delete) pairs, written atomically; a pair
    /// whose value byte is 0xff is a range delete from its key to the key of the
    /// next byte (the two put in order), one of 0xfd a prefix delete, one of 0xfb a
    /// TTL put (value length and TTL from the next two bytes). With the flag (the
    /// code's top bit) and no TTL put, it runs as a transaction that first reads
    /// the key of its first operation.
    Batch(Vec<BatchOp>, bool),
    /// `delete_range(key(a), key(b))`: empty when equal, refused when inverted.
    DeleteRange(u8, u8),
    /// `delete_prefix` of the first `len` bytes of a key (0: every key).
    DeletePrefix(u8, u8),
    Get(u8),
    /// Scan from key to key (either may be unbounded), forward or reverse; with
    /// [`Seek::Yes`], reaching the end it starts from by a seek (see
    /// `Runner::scan`).
    Scan(Option<u8>, Option<u8>, bool, Seek),
    Sync,
    Flush,
    Compact,
    Reopen,
    Crash(CrashMode, u64),
    /// Cut the power after this many more mutating file operations.
    PowerCut(u64),
    /// `Db::checkpoint` into a new directory.
    Checkpoint,
    /// Open a read-only view (`false`) or refresh the one held (`true`).
    ReadOnly(bool),
    /// The operation in keyspace 1 or 2 (its keys, reads, batches and flushes;
    /// the others act as they do anywhere).
    In(u8, Box<Op>),
    /// Up to 6 operations ([`BatchOp`]), each in a keyspace (0 to 2), atomically.
    CrossBatch(Vec<(u8, BatchOp)>),
    /// `sync`, drop keyspace 1 or 2, create it again.
    DropKeyspace(u8),
    /// Read key (second) of keyspace (first) through the snapshot held, taking a
    /// new one first when the flag is set or none is held.
    SnapshotGet(bool, u8, u8),
    /// A transaction over keyspaces.
    Transaction(TxnSpec),
}

/// When, in a [`TxnSpec`], another caller writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    BeforeReads,
    AfterReads,
    AfterWrites,
}

/// A transaction: reads of (keyspace, key), then writes (the first a put; puts,
/// deletes and range deletes only), then commit; maybe with a write by another
/// caller (a put, delete or range delete in a keyspace) at some point after it
/// began.
#[derive(Debug, Clone)]
struct TxnSpec {
    pub reads: Vec<(u8, u8)>,
    pub outside: Option<(When, u8, BatchOp)>,
    pub writes: Vec<(u8, BatchOp)>,
}

impl BatchOp {
    /// A (key, value byte) pair: value byte 0xff a range delete to the key of the
    /// next byte, 0xfd a prefix delete, 0xfb a TTL put, other odd values a delete,
    /// even ones a put of that length.
    fn decode(input: &mut Input<'_>) -> BatchOp {
        let (k, v) = (input.arg(), input.arg());
        match v {
            0xff => {
                let end = input.arg();
                let (a, b) = if key(k) <= key(end) {
                    (k, end)
                } else {
                    (end, k)
                };
                BatchOp::DeleteRange(a, b)
            }
            0xfd => BatchOp::DeletePrefix(k, input.arg()),
            0xfb => BatchOp::PutWithTtl(k, input.arg(), input.arg()),
            _ if v & 1 == 0 => BatchOp::Put(k, v),
            _ => BatchOp::Delete(k),
        }
    }

    /// The key this operation names first.
    fn key(&self) -> u8 {
        match *self {
            BatchOp::Put(k, _)
            | BatchOp::Delete(k)
            | BatchOp::DeleteRange(k, _)
            | BatchOp::DeletePrefix(k, _)
            | BatchOp::PutWithTtl(k, ..) => k,
        }
    }

    /// As a transaction writes it: prefix deletes and TTL puts become deletes.
    fn for_transaction(self) -> BatchOp {
        match self {
            BatchOp::DeletePrefix(k, _) | BatchOp::PutWithTtl(k, ..) => BatchOp::Delete(k),
            op => op,
        }
    }
}

impl Op {
    fn decode(input: &mut Input<'_>) -> Option<Op> {
        let code = input.byte()?;
        // The top 16 codes are the newer operations; the rest decode as they always
        // did, so the committed corpus keeps most of its meaning (range deletes took
        // the top six codes from read-only opens, and value byte 0xff and 0xfd in
        // batches from deletes; TTL puts and clock moves took codes 244 and 245 from
        // checkpoints, and value byte 0xfb in batches from deletes; the keyspace
        // operations took codes 242 and 243 from checkpoints).
        if code >= 240 {
            return Some(match code {
                240 | 241 => Op::Checkpoint,
                242 | 243 => Op::decode_keyspace_op(input)?,
                244 => Op::PutWithTtl(input.arg(), input.arg(), input.arg()),
                245 => Op::AdvanceClock(input.arg()),
                246..=249 => Op::ReadOnly(code & 1 == 1),
                250..=252 => Op::DeleteRange(input.arg(), input.arg()),
                _ => Op::DeletePrefix(input.arg(), input.arg()),
            });
        }
        let op = match code % 20 {
            0..=5 => Op::Put(input.arg(), input.arg()),
            6 | 7 => Op::Delete(input.arg()),
            8 | 9 => {
                let n = 1 + input.arg() % 6;
                Op::Batch(
                    (0..n).map(|_| BatchOp::decode(input)).collect(),
                    code & 0x80 != 0,
                )
            }
            10 | 11 => Op::Get(input.arg()),
            12 => {
                let (lo, hi) = (input.arg(), input.arg());
                // Bit 0x40 of the code (six of the twelve scan codes) seeks.
                Op::Scan(
                    (lo < 200).then_some(lo),
                    (hi < 200).then_some(hi),
                    code & 0x80 != 0,
                    if code & 0x40 != 0 {
                        Seek::Yes
                    } else {
                        Seek::No
                    },
                )
            }
            13 => Op::Sync,
            14 => Op::Flush,
            15 => Op::Compact,
            16 => Op::Reopen,
            17 | 18 => {
                let m = input.arg();
                Op::Crash(CrashMode::ALL[usize::from(m % 4)], u64::from(input.arg()))
            }
            _ => Op::PowerCut(1 + u64::from(input.arg() % 64)),
        };
        Some(op)
    }

    /// The operation after code 242 or 243: a selector byte, then its arguments.
    /// Named keyspaces are 1 + bit 3 of the selector.
    fn decode_keyspace_op(input: &mut Input<'_>) -> Option<Op> {
        let s = input.byte()?;
        let named = 1 + (s >> 3 & 1);
        Some(match s % 8 {
            0..=2 => Op::In(named, Box::new(Op::decode(input)?)),
            3 => {
                let n = 1 + input.arg() % 6;
                Op::CrossBatch(
                    (0..n)
                        .map(|_| (input.arg() % 3, BatchOp::decode(input)))
                        .collect(),
                )
            }
            4 => Op::DropKeyspace(named),
            5 => Op::SnapshotGet(s & 0x10 != 0, input.arg() % 3, input.arg()),
            _ => {
                let reads = (0..1 + input.arg() % 3)
                    .map(|_| (input.arg() % 3, input.arg()))
                    .collect();
                let o = input.arg();
                let outside = [
                    None,
                    Some(When::BeforeReads),
                    Some(When::AfterReads),
                    Some(When::AfterWrites),
                ][usize::from(o % 4)]
                .map(|when| {
                    (
                        when,
                        input.arg() % 3,
                        BatchOp::decode(input).for_transaction(),
                    )
                });
                let mut writes: Vec<(u8, BatchOp)> = (0..1 + input.arg() % 4)
                    .map(|_| (input.arg() % 3, BatchOp::decode(input).for_transaction()))
                    .collect();
                // A transaction that writes nothing commits unchecked: keep one put.
                if let Some((_, op)) = writes.first_mut() {
                    if !matches!(op, BatchOp::Put(..)) {
                        *op = BatchOp::Put(op.key(), 2);
                    }
                }
                Op::Transaction(TxnSpec {
                    reads,
                    outside,
                    writes,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scan codes with bit 0x40 reach their range by a seek, and are checked.
    #[test]
    fn scan_codes_with_bit_0x40_seek() {
        let mut data = vec![0, 0];
        for k in 0..KEYS {
            data.extend([0, k, 20]);
            if k == KEYS / 2 {
                data.push(14); // flush
            }
        }
        data.extend([6, 5, 250, 7, 12]); // a delete and a range delete
                                         // Forward and reverse seeking scans (72 = 0x48, 192 = 0xc0), bounded and
                                         // unbounded, and plain ones (12, 140 = 0x8c).
        for (lo, hi) in [(3, 17), (200, 9), (4, 200), (200, 200), (17, 3)] {
            data.extend([72, lo, hi, 192, lo, hi, 12, lo, hi, 140, lo, hi]);
        }
        let s = run_ops(&data);
        assert_eq!(s.seeks, 10);
    }
}
