//! Crash testing on the simulated disk: opening a database on a `SimFs`, an
//! acknowledged-history oracle, and the prefix check a crashed database must pass.
//!
//! The promise checked (docs/durability.md): after any crash the database holds
//! exactly the effect of a prefix of the acknowledged operations (each batch counted
//! as one), and that prefix covers every operation acknowledged before the last
//! `sync()` that returned `Ok` (or every one, with `sync_writes`).

use std::path::Path;

use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Db, Options, WriteBatch};

use super::keys::show;
use super::model::{collect, Direction, Map};

/// Where the tests put the database on a simulated disk.
pub const DB_PATH: &str = "/db";

/// Opens (creating) the database at [`DB_PATH`] on `fs`.
pub fn open_sim(fs: &SimFs, options: &Options) -> lsm_core::Result<Db> {
    Db::open_with_fs(DB_PATH, options.clone(), fs.fs_ref())
}

/// Names of the files of the database directory on `fs` with extension `ext`.
pub fn sim_files(fs: &SimFs, ext: &str) -> Vec<String> {
    let suffix = format!(".{ext}");
    fs.file_names(Path::new(DB_PATH))
        .into_iter()
        .filter(|n| n.ends_with(&suffix))
        .collect()
}

/// Path of a file of the database directory.
pub fn sim_path(name: &str) -> std::path::PathBuf {
    Path::new(DB_PATH).join(name)
}

/// Every live pair of a database, read with one forward scan.
pub fn read_all(db: &Db) -> Result<Map, String> {
    let pairs = collect(db.scan::<Vec<u8>, _>(..), Direction::Forward)
        .map_err(|e| format!("scan failed: {e}"))?;
    let n = pairs.len();
    let map: Map = pairs.into_iter().collect();
    if map.len() != n {
        return Err("a scan yielded a key twice".into());
    }
    Ok(map)
}

/// The acknowledged-history oracle and its prefix check, shared with the `db_ops`
/// fuzz target.
pub use lsm_core::fuzzing::{History, Step};

/// Sends a step to the database: a single put or delete as such, anything else as a
/// batch.
pub fn write_step(db: &Db, step: &Step) -> lsm_core::Result<()> {
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

/// Crashes `fs` in `mode` with `seed`, opens the image, checks the prefix property
/// against `history`, then reopens it once more and checks it reads the same.
/// Returns the prefix length found.
pub fn crash_and_check(
    fs: &SimFs,
    mode: CrashMode,
    seed: u64,
    options: &Options,
    history: &History,
) -> Result<usize, String> {
    let image = fs.crash(mode, seed);
    let ctx = |e: String| format!("crash {mode:?} seed {seed}: {e}");
    let db =
        open_sim(&image, options).map_err(|e| ctx(format!("open after the crash failed: {e}")))?;
    let found = read_all(&db).map_err(ctx)?;
    let prefix = history.check_prefix(&found).map_err(ctx)?;
    // Point lookups agree with the scan (keys of the history and the base).
    for k in history
        .base
        .keys()
        .chain(history.steps.iter().flatten().map(|(k, _)| k))
    {
        let got = db.get(k).map_err(|e| ctx(format!("get failed: {e}")))?;
        if got.as_deref() != found.get(k).map(Vec::as_slice) {
            return Err(ctx(format!("get {} disagrees with the scan", show(k))));
        }
    }
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    let db = open_sim(&image, options).map_err(|e| ctx(format!("second open failed: {e}")))?;
    let again = read_all(&db).map_err(ctx)?;
    if again != found {
        return Err(ctx(format!(
            "a second reopen changed the state: {} keys, then {}",
            found.len(),
            again.len()
        )));
    }
    // The recovered database takes writes and keeps them.
    db.put(b"\xffafter-crash", b"ok")
        .map_err(|e| ctx(format!("put after recovery failed: {e}")))?;
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    let db = open_sim(&image, options).map_err(|e| ctx(format!("third open failed: {e}")))?;
    let after = read_all(&db).map_err(ctx)?;
    let mut want = found;
    want.insert(b"\xffafter-crash".to_vec(), b"ok".to_vec());
    if after != want {
        return Err(ctx(
            "a write after recovery was lost, or changed other keys".into(),
        ));
    }
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    Ok(prefix)
}
