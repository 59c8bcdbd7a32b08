//! The crash oracle over keyspaces: every keyspace of a database read as ONE map,
//! so that the prefix check of `lsm_core::fuzzing::History` compares the whole
//! set of keyspaces against the same prefix of the history (a batch across
//! keyspaces is then all there or all absent, and one keyspace cannot be ahead
//! of another).
//!
//! In that map, keyspace `name` holds a marker `name 0x00` (present while the
//! keyspace exists, so creating one is a step that puts the marker) and its key
//! `k` is `name 0x00 0x01 k`. Dropping a keyspace is the delete of every key
//! starting with `name 0x00`: its data and its marker. Names hold no `0x00`, so
//! no two keyspaces share a key, and the order of keys within a keyspace is kept
//! (a range or prefix delete of one keyspace is a range or prefix delete of the
//! map).
//!
//! Test crates include it with `#[path = "common/keyspace_history.rs"] mod ...;`
//! next to `mod common;`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::fuzzing::{open_sim, show, History, Map, Write, DB_PATH};
use lsm_core::{Db, Options};
use lsm_format::blob::BlobHeader;
use lsm_format::file_name::FileName;
use lsm_format::manifest::replay_manifest;

/// The value of a keyspace's marker.
pub const MARKER_VALUE: &[u8] = b"<keyspace>";

/// The key of keyspace `name`'s marker (and the prefix of all its keys).
pub fn marker(name: &str) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.push(0);
    k
}

/// Key `key` of keyspace `name`.
pub fn data_key(name: &str, key: &[u8]) -> Vec<u8> {
    let mut k = marker(name);
    k.push(1);
    k.extend_from_slice(key);
    k
}

/// The keyspace and key a key of the map stands for; `None` for a marker.
pub fn split(combined: &[u8]) -> (String, Option<&[u8]>) {
    let at = combined
        .iter()
        .position(|&b| b == 0)
        .expect("every key of the map holds a 0x00 after the keyspace name");
    let name = String::from_utf8_lossy(&combined[..at]).into_owned();
    // A marker ends at the 0x00; a data key goes on with 0x01 and the key.
    (name, combined.get(at + 2..))
}

/// `op` on keyspace `name`, as the same operation on the map.
pub fn in_keyspace(name: &str, op: &Write) -> Write {
    let k = |key: &[u8]| data_key(name, key);
    match op {
        Write::Put(key, v) => Write::Put(k(key), v.clone()),
        Write::PutWithTtl(key, v, ttl) => Write::PutWithTtl(k(key), v.clone(), *ttl),
        Write::Delete(key) => Write::Delete(k(key)),
        Write::DeleteRange(a, b) => Write::DeleteRange(k(a), k(b)),
        Write::DeletePrefix(p) => Write::DeletePrefix(k(p)),
    }
}

/// The map operation of dropping keyspace `name`: its marker and every key.
pub fn drop_of(name: &str) -> Write {
    Write::DeletePrefix(marker(name))
}

/// Every keyspace of `db` (`Db::keyspace_names`), each read with one forward
/// scan, as one map.
///
/// # Errors
/// A scan failed, or yielded a key twice or out of order.
pub fn read_all_keyspaces(db: &Db) -> Result<Map, String> {
    let mut map = Map::new();
    for name in db.keyspace_names() {
        map.insert(marker(&name), MARKER_VALUE.to_vec());
        let ks = db
            .keyspace(&name)
            .map_err(|e| format!("opening keyspace {name:?} to read it failed: {e}"))?;
        let mut scan = ks.iter();
        let mut last: Option<Vec<u8>> = None;
        loop {
            match scan.next() {
                None => break,
                Some(Ok((k, v))) => {
                    if last.as_deref().is_some_and(|l| l >= &k[..]) {
                        return Err(format!(
                            "the scan of keyspace {name:?} yielded {} after {}",
                            show(&k),
                            show(last.as_deref().unwrap_or_default())
                        ));
                    }
                    last = Some(k.to_vec());
                    map.insert(data_key(&name, &k), v.to_vec());
                }
                Some(Err(e)) => {
                    assert!(
                        scan.next().is_none() && scan.next_back().is_none(),
                        "a scan yielded more after an error ({e})"
                    );
                    return Err(format!("scan of keyspace {name:?} failed: {e}"));
                }
            }
        }
    }
    Ok(map)
}

/// Checks that a `get` in every keyspace of `db` of every key `history` wrote
/// agrees with `found` (what the scans read).
pub fn check_gets(db: &Db, history: &History, found: &Map) -> Result<(), String> {
    let keys: BTreeSet<&Vec<u8>> = history
        .base
        .keys()
        .chain(history.steps.iter().flatten().map(|(k, _)| k))
        .collect();
    for combined in keys {
        let (name, Some(key)) = split(combined) else {
            continue;
        };
        if !found.contains_key(&marker(&name)) {
            continue;
        }
        let ks = db
            .keyspace(&name)
            .map_err(|e| format!("keyspace {name:?}: {e}"))?;
        let got = ks
            .get(key)
            .map_err(|e| format!("get {} in {name:?} failed: {e}", show(key)))?;
        if got.as_deref() != found.get(combined).map(Vec::as_slice) {
            return Err(format!(
                "get {} in keyspace {name:?} disagrees with the scan",
                show(key)
            ));
        }
    }
    Ok(())
}

/// Fails when a keyspace of `gone` (dropped by a call that returned `Ok`, and
/// not created again since, even by a failed call) is in `found`.
pub fn check_gone(found: &Map, gone: &BTreeSet<String>) -> Result<(), String> {
    match gone.iter().find(|n| found.contains_key(&marker(n))) {
        Some(name) => Err(format!(
            "keyspace {name:?} came back after its drop returned Ok"
        )),
        None => Ok(()),
    }
}

/// Fails when a blob file outlived the open that the closed database at
/// `DB_PATH` of `fs` went through: every `NNNNNN.blob` there must be live in the
/// manifest, and its header must name a live keyspace. Open removes the blob
/// files of a dropped keyspace that a drop (failed, cut by a crash, or whose
/// file removal failed) left behind, as every other dead or unlisted blob file;
/// close leaves none. A no-op for a database without blob files.
pub fn check_no_dead_blob_files(fs: &SimFs) -> Result<(), String> {
    let dir = Path::new(DB_PATH);
    let blobs: Vec<(String, u64)> = fs
        .file_names(dir)
        .into_iter()
        .filter_map(|n| match FileName::parse(&n) {
            FileName::Blob(number) => Some((n, number)),
            _ => None,
        })
        .collect();
    if blobs.is_empty() {
        return Ok(());
    }
    let manifest = fs
        .read_file(&dir.join("MANIFEST"))
        .map_err(|e| format!("reading the manifest: {e}"))?;
    let state = replay_manifest(&manifest).map_err(|e| format!("replaying the manifest: {e}"))?;
    for (name, number) in blobs {
        let data = fs
            .read_file(&dir.join(&name))
            .map_err(|e| format!("reading {name}: {e}"))?;
        let keyspace = BlobHeader::decode(&data).map(|h| h.keyspace);
        let live = state.blob_files.contains_key(&number);
        match keyspace {
            Ok(id) if !state.keyspaces.contains_key(&id) => {
                return Err(format!(
                    "blob file {name} of dropped keyspace id {id} outlived an open"
                ))
            }
            _ if !live => {
                return Err(format!(
                    "blob file {name} ({keyspace:?}), not in the manifest, outlived an open"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Crashes `fs` in `mode` with `seed`, opens the image and checks: the keyspaces
/// as a whole hold the state after one prefix of `history` covering every
/// durable step; no keyspace of `gone` is there; `get` agrees with the scans; a
/// second open reads the same; the recovered database takes a write in every
/// keyspace and a new keyspace, and keeps them. Returns the prefix length found.
pub fn crash_and_check_keyspaces(
    fs: &SimFs,
    mode: CrashMode,
    seed: u64,
    options: &Options,
    history: &History,
    gone: &BTreeSet<String>,
) -> Result<usize, String> {
    let image = fs.crash(mode, seed);
    let ctx = |e: String| format!("crash {mode:?} seed {seed}: {e}");
    let db = open_sim(&image, options).map_err(|e| ctx(format!("open failed: {e}")))?;
    let found = read_all_keyspaces(&db).map_err(ctx)?;
    let prefix = history.check_prefix(&found).map_err(ctx)?;
    check_gone(&found, gone).map_err(ctx)?;
    check_gets(&db, history, &found).map_err(ctx)?;
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    check_no_dead_blob_files(&image).map_err(ctx)?;
    let db = open_sim(&image, options).map_err(|e| ctx(format!("second open failed: {e}")))?;
    if read_all_keyspaces(&db).map_err(ctx)? != found {
        return Err(ctx("a second open changed the state".into()));
    }
    // The recovered database takes writes, in old keyspaces and a new one.
    let mut want = found;
    for name in db
        .keyspace_names()
        .into_iter()
        .chain(["after-crash".into()])
    {
        let ks = db
            .keyspace(&name)
            .map_err(|e| ctx(format!("keyspace {name:?} after recovery: {e}")))?;
        ks.put(b"\xffafter-crash", b"ok")
            .map_err(|e| ctx(format!("put after recovery failed: {e}")))?;
        want.insert(marker(&name), MARKER_VALUE.to_vec());
        want.insert(data_key(&name, b"\xffafter-crash"), b"ok".to_vec());
    }
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    let db = open_sim(&image, options).map_err(|e| ctx(format!("third open failed: {e}")))?;
    if read_all_keyspaces(&db).map_err(ctx)? != want {
        return Err(ctx(
            "a write after recovery was lost, or changed other keys".into(),
        ));
    }
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    Ok(prefix)
}
