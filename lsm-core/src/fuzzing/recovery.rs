//! Driving a database on the simulated disk with the steps of a [`History`], and
//! the checks a recovered database must pass. The one copy shared by the `db_ops`
//! runner and the integration tests (`tests/common/sim.rs`).
//!
//! The promise checked (docs/durability.md): after any crash the database holds
//! exactly the effect of a prefix of the acknowledged operations (each batch counted
//! as one), and that prefix covers every operation acknowledged before the last
//! `sync()` that returned `Ok` (or every one, with `sync_writes`).

use std::collections::BTreeSet;
use std::time::Duration;

use super::history::{History, Map, Step, Write};
use super::show;
use crate::fs::SimFs;
use crate::{Db, Options, WriteBatch};

/// Where the database lives on a simulated disk.
pub const DB_PATH: &str = "/db";

/// Opens (creating) the database at [`DB_PATH`] on `fs`.
///
/// # Errors
/// Whatever [`Db::open_with_fs`] returns.
pub fn open_sim(fs: &SimFs, options: &Options) -> crate::Result<Db> {
    Db::open_with_fs(DB_PATH, options.clone(), fs.fs_ref())
}

/// Sends a step to the database: a single put or delete as such, anything else as a
/// batch.
///
/// # Errors
/// Whatever the put, delete or write returns.
pub fn write_step(db: &Db, step: &Step) -> crate::Result<()> {
    match step.as_slice() {
        [(k, Some(v))] => db.put(k, v),
        [(k, None)] => db.delete(k),
        _ => {
            let mut batch = WriteBatch::new();
            for (k, v) in step {
                match v {
                    Some(v) => batch.put(k, v),
                    None => batch.delete(k),
                };
            }
            db.write(batch)
        }
    }
}

/// Sends a write call to the database: a single operation as the method of its own
/// (`put`, `delete`, `delete_range`, `delete_prefix`), several as one batch. Record
/// it with [`History::effect`], computed before the call.
///
/// # Errors
/// Whatever the call returns.
pub fn write_ops(db: &Db, ops: &[Write]) -> crate::Result<()> {
    match ops {
        [Write::Put(k, v)] => db.put(k, v),
        [Write::PutWithTtl(k, v, ttl)] => db.put_with_ttl(k, v, Duration::from_millis(*ttl)),
        [Write::Delete(k)] => db.delete(k),
        [Write::DeleteRange(start, end)] => db.delete_range(start, end),
        [Write::DeletePrefix(prefix)] => db.delete_prefix(prefix),
        _ => {
            let mut batch = WriteBatch::new();
            for op in ops {
                match op {
                    Write::Put(k, v) => batch.put(k, v),
                    Write::PutWithTtl(k, v, ttl) => {
                        batch.put_with_ttl(k, v, Duration::from_millis(*ttl))
                    }
                    Write::Delete(k) => batch.delete(k),
                    Write::DeleteRange(start, end) => batch.delete_range(start, end),
                    Write::DeletePrefix(prefix) => batch.delete_prefix(prefix),
                };
            }
            db.write(batch)
        }
    }
}

/// Every live pair of a database, read with one forward scan.
///
/// # Errors
/// The scan failed, or yielded a key twice.
///
/// # Panics
/// When the scan yields anything after an error.
pub fn read_all(db: &Db) -> Result<Map, String> {
    let mut scan = db.scan::<Vec<u8>, _>(..);
    let mut pairs = Vec::new();
    loop {
        match scan.next() {
            None => break,
            Some(Ok((k, v))) => pairs.push((k.to_vec(), v.to_vec())),
            Some(Err(e)) => {
                assert!(
                    scan.next().is_none() && scan.next_back().is_none(),
                    "a scan yielded more after an error ({e})"
                );
                return Err(format!("scan failed: {e}"));
            }
        }
    }
    let n = pairs.len();
    let map: Map = pairs.into_iter().collect();
    if map.len() != n {
        return Err("a scan yielded a key twice".into());
    }
    Ok(map)
}

/// Opens a crash image, checks that it holds the state after a prefix of `history`
/// covering every durable step ([`History::check_prefix`]) and that a point lookup
/// of every key of the history, and of every key of `probe` (say, keys never
/// written), agrees with the scan. Returns the open database, the state found and
/// the prefix length.
///
/// # Errors
/// A description of the first check that failed.
pub fn recover<'a>(
    image: &SimFs,
    options: &Options,
    history: &'a History,
    probe: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(Db, Map, usize), String> {
    let get = |db: &Db, k: &[u8]| Ok(db.get(k)?.map(|v| v.to_vec()));
    recover_with(image, options, history, probe, &read_all, &get)
}

/// Reads every live pair of a database, as the history's keys name them.
pub(crate) type ReadState<'a> = &'a dyn Fn(&Db) -> Result<Map, String>;
/// Reads one key of a database, as the history's keys name it.
pub(crate) type ReadKey<'a> = &'a dyn Fn(&Db, &[u8]) -> crate::Result<Option<Vec<u8>>>;

/// [`recover`] of a history whose keys `read` and `get` interpret (the `db_ops`
/// runner's name a keyspace too).
pub(crate) fn recover_with<'a>(
    image: &SimFs,
    options: &Options,
    history: &'a History,
    probe: impl IntoIterator<Item = &'a [u8]>,
    read: ReadState<'_>,
    get: ReadKey<'_>,
) -> Result<(Db, Map, usize), String> {
    let db = open_sim(image, options).map_err(|e| format!("open after the crash failed: {e}"))?;
    let found = read(&db)?;
    let prefix = history.check_prefix(&found)?;
    let keys: BTreeSet<&[u8]> = history
        .base
        .keys()
        .chain(history.steps.iter().flatten().map(|(k, _)| k))
        .map(Vec::as_slice)
        .chain(probe)
        .collect();
    for k in keys {
        let got = get(&db, k).map_err(|e| format!("get failed: {e}"))?;
        if got.as_deref() != found.get(k).map(Vec::as_slice) {
            return Err(format!("get {} disagrees with the scan", show(k)));
        }
    }
    Ok((db, found, prefix))
}

/// Opens `image` once more (after the database [`recover`] returned is gone) and
/// checks it reads `found` again. Returns the open database.
///
/// # Errors
/// The open or the scan failed, or the state changed.
pub fn reopen_same(image: &SimFs, options: &Options, found: &Map) -> Result<Db, String> {
    reopen_same_with(image, options, found, &read_all)
}

/// [`reopen_same`] reading the state with `read`.
pub(crate) fn reopen_same_with(
    image: &SimFs,
    options: &Options,
    found: &Map,
    read: ReadState<'_>,
) -> Result<Db, String> {
    let db = open_sim(image, options).map_err(|e| format!("second open failed: {e}"))?;
    let again = read(&db)?;
    if &again != found {
        return Err(format!(
            "a second reopen changed the state: {} keys, then {}",
            found.len(),
            again.len()
        ));
    }
    Ok(db)
}
