//! The database the repair tests damage, and the check of a repaired one against
//! the history of acknowledged writes.
//!
//! The database (on the simulated disk, `/db`): segments at level 2 made by two full
//! compactions (the second drops tombstones and renumbers the oldest versions to
//! sequence 0), a level-0 segment from a flush, a live WAL holding the last writes
//! (synced), and the manifest. Automatic compaction is off (a high level-0 trigger),
//! so the files are the same on every run. Every write is one operation, so the
//! `n`-th write has sequence number `n`, and every value names its sequence number.
#![allow(dead_code, reason = "each test crate uses a different subset")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::{Compression, Db, Options, RepairReport};

pub const DB: &str = "/db";

/// Every version each key had: `(sequence number, value or None for a delete)`.
pub type History = BTreeMap<Vec<u8>, Vec<(u64, Option<Vec<u8>>)>>;

pub fn options() -> Options {
    Options::default()
        .with_memtable_size(16 << 10)
        .with_segment_size(4 << 10)
        .with_block_size(512)
        .with_level0_compaction_trigger(50)
        .with_level0_stop_writes(100)
        .with_level1_size(1 << 20)
        .with_compression(Compression::None)
}

pub fn key(i: u64) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

fn value(seq: u64, key: &[u8]) -> Vec<u8> {
    format!(
        "v{seq:05}-{}-{}",
        String::from_utf8_lossy(key),
        "x".repeat(12)
    )
    .into_bytes()
}

/// A small xorshift generator, so that the workload is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub struct Built {
    pub image: SimFs,
    pub history: History,
    pub keys: u64,
}

/// Builds the database (`keys` keys, scaled workload) and returns its crash image.
pub fn build(keys: u64) -> Built {
    let fs = SimFs::new();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let mut history = History::new();
    let mut seq = 0u64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut op = |db: &Db, history: &mut History, i: u64, delete: bool| {
        seq += 1;
        let k = key(i);
        if delete {
            db.delete(&k).unwrap();
            history.entry(k).or_default().push((seq, None));
        } else {
            let v = value(seq, &k);
            db.put(&k, &v).unwrap();
            history.entry(k).or_default().push((seq, Some(v)));
        }
    };
    for i in 0..keys {
        op(&db, &mut history, i, false);
    }
    db.compact_into(2).unwrap();
    for _ in 0..keys / 2 {
        let i = rng.below(keys);
        op(&db, &mut history, i, rng.below(4) == 0);
    }
    db.compact_into(2).unwrap();
    for _ in 0..keys * 2 / 3 {
        let i = rng.below(keys);
        op(&db, &mut history, i, rng.below(5) == 0);
    }
    db.flush().unwrap();
    for _ in 0..keys / 4 {
        let i = rng.below(keys);
        op(&db, &mut history, i, rng.below(5) == 0);
    }
    db.sync().unwrap();
    let image = fs.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    Built {
        image,
        history,
        keys,
    }
}

/// A copy of `image` to damage.
pub fn copy(image: &SimFs) -> SimFs {
    image.crash(CrashMode::DropUnsynced, 0)
}

pub fn path(name: &str) -> PathBuf {
    Path::new(DB).join(name)
}

/// The database files of `fs`, by name.
pub fn files(fs: &SimFs) -> Vec<String> {
    fs.file_names(Path::new(DB))
        .into_iter()
        .filter(|n| n != "LOCK")
        .collect()
}

/// Puts `old_manifest` back in `image` as an older copy of the manifest would be,
/// with the WALs it names gone: every WAL but the newest, whose removal a later
/// flush made durable.
pub fn put_back_old_manifest(image: &SimFs, old_manifest: &[u8]) {
    image
        .write_file_raw(&path("MANIFEST"), old_manifest)
        .unwrap();
    let wals: Vec<String> = files(image)
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .collect();
    for old in &wals[..wals.len() - 1] {
        image.fs_ref().remove(&path(old)).unwrap();
    }
}

/// Opens the repaired database and checks every key against the history: a key
/// reads its newest value, unless the report names a range holding its newest
/// version; then it reads an older version of it or nothing. A value the key never
/// had, or one newer than its newest, is always an error. Scans agree with lookups.
pub fn check(fs: &SimFs, built: &Built, report: &RepairReport) -> Result<(), String> {
    let db = Db::open_with_fs(DB, options(), fs.fs_ref())
        .map_err(|e| format!("open after repair failed: {e}"))?;
    let mut seen = BTreeMap::new();
    for (k, versions) in &built.history {
        let got = db
            .get(k)
            .map_err(|e| format!("get {:?}: {e}", String::from_utf8_lossy(k)))?;
        let &(newest_seq, ref newest) = versions.last().ok_or("empty history")?;
        let got_vec = got.as_ref().map(|b| b.to_vec());
        if got_vec == *newest {
            if let Some(v) = got_vec {
                seen.insert(k.clone(), v);
            }
            continue;
        }
        let show = |v: &Option<Vec<u8>>| {
            v.as_ref().map_or("<absent>".to_string(), |v| {
                String::from_utf8_lossy(v).into()
            })
        };
        if !report.may_have_lost(k, Some(newest_seq)) {
            return Err(format!(
                "key {} reads {} instead of {} (seq {newest_seq}), outside every range the \
                 report names:\n{report}",
                String::from_utf8_lossy(k),
                show(&got_vec),
                show(newest)
            ));
        }
        if let Some(v) = &got_vec {
            let older = versions[..versions.len() - 1]
                .iter()
                .any(|(_, old)| old.as_ref() == Some(v));
            if !older {
                return Err(format!(
                    "key {} reads {}, a value it never had before its newest",
                    String::from_utf8_lossy(k),
                    show(&got_vec)
                ));
            }
            seen.insert(k.clone(), v.clone());
        }
    }
    let mut scanned = BTreeMap::new();
    for item in db.iter() {
        let (k, v) = item.map_err(|e| format!("scan: {e}"))?;
        scanned.insert(k.to_vec(), v.to_vec());
    }
    if scanned != seen {
        return Err("a scan disagrees with the lookups".into());
    }
    db.close().map_err(|e| format!("close: {e}"))?;
    Ok(())
}
