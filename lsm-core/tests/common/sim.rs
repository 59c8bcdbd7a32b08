//! Crash testing on the simulated disk: the full crash check of one image, and
//! helpers for the database's files. The oracle (`History`) and the checks of a
//! recovery live in `lsm_core::fuzzing`, shared with the `db_ops` fuzz target.
//!
//! The promise checked (docs/durability.md): after any crash the database holds
//! exactly the effect of a prefix of the acknowledged operations (each batch counted
//! as one), and that prefix covers every operation acknowledged before the last
//! `sync()` that returned `Ok` (or every one, with `sync_writes`).

use std::path::Path;

use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::fuzzing::{recover, reopen_same};
use lsm_core::Options;

/// Opening on the simulated disk, writing a step, reading every pair, and the
/// acknowledged-history oracle with its prefix check.
#[allow(
    unused_imports,
    reason = "each test crate uses a different subset (see `common`)"
)]
pub use lsm_core::fuzzing::{
    open_sim, read_all, write_ops, write_step, History, Step, Write, DB_PATH,
};

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
    let (db, found, prefix) = recover(&image, options, history, []).map_err(ctx)?;
    db.close().map_err(|e| ctx(format!("close failed: {e}")))?;
    let db = reopen_same(&image, options, &found).map_err(ctx)?;
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
