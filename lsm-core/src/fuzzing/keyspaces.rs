//! Keyspaces in [`super::db_ops`]: the oracle keeps one map for all of them, each
//! key qualified by its keyspace's number (its first byte, [`qualify`]), so a batch
//! across keyspaces is one step of the history and the prefix check after a crash
//! covers every keyspace at once. A range or prefix delete in a keyspace is the
//! same delete on qualified keys (qualifying keeps order within a keyspace), and
//! dropping keyspace `i` is the prefix delete of `[i]`.

use std::time::Duration;

use super::history::{Map, Write};
use crate::{Db, Keyspace, ReadOnlyDb, Transaction, WriteBatch};

/// The keyspaces a run uses, by number: the default one and two named ones.
pub(crate) const KEYSPACES: [&str; 3] = ["default", "ks-a", "ks-b"];

/// Key `k` of keyspace `ks` as the oracle stores it.
pub(crate) fn qualify(ks: u8, k: &[u8]) -> Vec<u8> {
    let mut q = Vec::with_capacity(k.len() + 1);
    q.push(ks);
    q.extend_from_slice(k);
    q
}

/// The keyspace number and the key of a qualified key.
pub(crate) fn split(q: &[u8]) -> (u8, &[u8]) {
    match q.split_first() {
        Some((&ks, k)) => (ks, k),
        None => panic!("an unqualified key in the oracle"),
    }
}

/// The pairs of keyspace `ks` in a qualified map, unqualified.
pub(crate) fn slice(map: &Map, ks: u8) -> Map {
    map.range(vec![ks]..)
        .take_while(|(q, _)| q.first() == Some(&ks))
        .map(|(q, v)| (q[1..].to_vec(), v.clone()))
        .collect()
}

/// The handle of keyspace `ks` (creating it when missing: the runner recreates a
/// dropped keyspace, and a crash may come between the drop and the creation).
pub(crate) fn handle(db: &Db, ks: u8) -> crate::Result<Keyspace> {
    db.keyspace(KEYSPACES[usize::from(ks)])
}

fn number_of(name: &str) -> Result<u8, String> {
    KEYSPACES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u8)
        .ok_or_else(|| format!("a keyspace nobody created: {name:?}"))
}

fn collect(ks: u8, scan: crate::Scan, into: &mut Map) -> Result<(), String> {
    let mut n = 0;
    let before = into.len();
    for item in scan {
        let (k, v) =
            item.map_err(|e| format!("scan of {} failed: {e}", KEYSPACES[usize::from(ks)]))?;
        into.insert(qualify(ks, &k), v.to_vec());
        n += 1;
    }
    if into.len() != before + n {
        return Err("a scan yielded a key twice".into());
    }
    Ok(())
}

/// Every live pair of every keyspace of `db`, qualified (a keyspace missing, say
/// dropped before a crash, is empty). Creates nothing.
///
/// # Errors
/// A scan failed or yielded a key twice, or the database has a keyspace the run
/// never created.
pub(crate) fn read_qualified(db: &Db) -> Result<Map, String> {
    let mut map = Map::new();
    for name in db.keyspace_names() {
        let ks = number_of(&name)?;
        let scan = if ks == 0 {
            db.iter()
        } else {
            db.keyspace(&name).map_err(|e| e.to_string())?.iter()
        };
        collect(ks, scan, &mut map)?;
    }
    Ok(map)
}

/// [`read_qualified`] of a read-only view.
///
/// # Errors
/// As [`read_qualified`].
pub(crate) fn view_qualified(view: &ReadOnlyDb) -> Result<Map, String> {
    let mut map = Map::new();
    for name in view.keyspace_names() {
        let ks = number_of(&name)?;
        let scan = view.keyspace(&name).map_err(|e| e.to_string())?.iter();
        collect(ks, scan, &mut map).map_err(|e| format!("read-only {e}"))?;
    }
    Ok(map)
}

/// A point read of a qualified key; `None` in a keyspace the database lacks.
///
/// # Errors
/// The read failed.
pub(crate) fn get_qualified(db: &Db, q: &[u8]) -> crate::Result<Option<Vec<u8>>> {
    let (ks, k) = split(q);
    if ks == 0 {
        return Ok(db.get(k)?.map(|v| v.to_vec()));
    }
    let name = KEYSPACES[usize::from(ks)];
    if !db.keyspace_names().iter().any(|n| n == name) {
        return Ok(None);
    }
    Ok(db.keyspace(name)?.get(k)?.map(|v| v.to_vec()))
}

/// Sends a write call of qualified operations: one operation in the default
/// keyspace by the `Db` method of its own, one in a named keyspace by the
/// `Keyspace` method, several as one batch (`*_in` for the named keyspaces).
///
/// # Errors
/// Whatever the call returns.
pub(crate) fn send(db: &Db, ops: &[Write]) -> crate::Result<()> {
    if let [op] = ops {
        let ks = split(key_of(op)).0;
        if ks == 0 {
            return super::write_ops(db, &[unqualified(op)]);
        }
        let h = handle(db, ks)?;
        return match unqualified(op) {
            Write::Put(k, v) => h.put(k, v),
            Write::PutWithTtl(k, v, ttl) => h.put_with_ttl(k, v, Duration::from_millis(ttl)),
            Write::Delete(k) => h.delete(k),
            Write::DeleteRange(a, b) => h.delete_range(a, b),
            Write::DeletePrefix(p) => h.delete_prefix(p),
        };
    }
    let mut batch = WriteBatch::new();
    for op in ops {
        let ks = split(key_of(op)).0;
        if ks == 0 {
            match unqualified(op) {
                Write::Put(k, v) => batch.put(k, v),
                Write::PutWithTtl(k, v, ttl) => {
                    batch.put_with_ttl(k, v, Duration::from_millis(ttl))
                }
                Write::Delete(k) => batch.delete(k),
                Write::DeleteRange(a, b) => batch.delete_range(a, b),
                Write::DeletePrefix(p) => batch.delete_prefix(p),
            };
        } else {
            let h = handle(db, ks)?;
            match unqualified(op) {
                Write::Put(k, v) => batch.put_in(&h, k, v),
                Write::PutWithTtl(k, v, ttl) => {
                    batch.put_with_ttl_in(&h, k, v, Duration::from_millis(ttl))
                }
                Write::Delete(k) => batch.delete_in(&h, k),
                Write::DeleteRange(a, b) => batch.delete_range_in(&h, a, b),
                Write::DeletePrefix(p) => batch.delete_prefix_in(&h, p),
            };
        }
    }
    db.write(batch)
}

/// A transaction's read of a qualified key.
///
/// # Errors
/// The read failed.
pub(crate) fn txn_get(
    db: &Db,
    txn: &mut Transaction<'_>,
    q: &[u8],
) -> crate::Result<Option<Vec<u8>>> {
    let (ks, k) = split(q);
    let got = if ks == 0 {
        txn.get(k)?
    } else {
        txn.get_in(&handle(db, ks)?, k)?
    };
    Ok(got.map(|v| v.to_vec()))
}

/// Whether [`txn_write`] can send `op` (transactions have no TTL puts, and no
/// prefix deletes in a named keyspace).
pub(crate) fn txn_can_write(op: &Write) -> bool {
    match op {
        Write::PutWithTtl(..) => false,
        Write::DeletePrefix(p) => split(p).0 == 0,
        _ => true,
    }
}

/// A transaction's write of a qualified operation ([`txn_can_write`]).
///
/// # Errors
/// The write was refused.
pub(crate) fn txn_write(db: &Db, txn: &mut Transaction<'_>, op: &Write) -> crate::Result<()> {
    let ks = split(key_of(op)).0;
    if ks == 0 {
        return match unqualified(op) {
            Write::Put(k, v) => txn.put(k, v),
            Write::Delete(k) => txn.delete(k),
            Write::DeleteRange(a, b) => txn.delete_range(a, b),
            Write::DeletePrefix(p) => txn.delete_prefix(p),
            Write::PutWithTtl(..) => unreachable!("see txn_can_write"),
        };
    }
    let h = handle(db, ks)?;
    match unqualified(op) {
        Write::Put(k, v) => txn.put_in(&h, k, v),
        Write::Delete(k) => txn.delete_in(&h, k),
        Write::DeleteRange(a, b) => txn.delete_range_in(&h, a, b),
        Write::PutWithTtl(..) | Write::DeletePrefix(_) => unreachable!("see txn_can_write"),
    }
}

/// The (qualified) key an operation names first.
fn key_of(op: &Write) -> &[u8] {
    match op {
        Write::Put(k, _) | Write::PutWithTtl(k, ..) | Write::Delete(k) => k,
        Write::DeleteRange(a, _) => a,
        Write::DeletePrefix(p) => p,
    }
}

/// `op` with its keys unqualified.
fn unqualified(op: &Write) -> Write {
    let u = |q: &Vec<u8>| split(q).1.to_vec();
    match op {
        Write::Put(k, v) => Write::Put(u(k), v.clone()),
        Write::PutWithTtl(k, v, t) => Write::PutWithTtl(u(k), v.clone(), *t),
        Write::Delete(k) => Write::Delete(u(k)),
        Write::DeleteRange(a, b) => Write::DeleteRange(u(a), u(b)),
        Write::DeletePrefix(p) => Write::DeletePrefix(u(p)),
    }
}
