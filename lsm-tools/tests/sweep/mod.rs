//! The machinery of `corruption_sweep.rs`: the mutations of a file, the figures of a
//! sweep, and the check that reads through the engine give the right value or
//! `Error::Corruption`, never another value or a key that does not exist.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use bytes::Bytes;
use lsm_core::fs::{FileSystem, SimFs};
use lsm_core::{Db, Keyspace, Options, Scan};

/// The expected live keys and values.
pub type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// Where the sweeps put the database on the simulated disk.
pub const DB: &str = "/db";

/// Size of the pages a zeroed-page mutation wipes.
pub const PAGE: usize = 4096;

/// One way to damage a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Flip bit `bit` of byte `at`.
    Flip { at: usize, bit: u8 },
    /// Set byte `at` to `byte` (only where it differs).
    Set { at: usize, byte: u8 },
    /// Cut the file to `len` bytes (`len` below its size).
    Truncate { len: usize },
    /// Zero the 4 KiB page starting at `page * PAGE` (only when not already zero).
    ZeroPage { page: usize },
}

impl Mutation {
    /// Every mutation of `data`: each single-bit flip, each byte set to 0x00 and to
    /// 0xFF, each truncation, each zeroed page; none that leaves the file unchanged.
    pub fn all(data: &[u8]) -> Vec<Mutation> {
        let mut out = Vec::new();
        for at in 0..data.len() {
            out.extend((0..8).map(|bit| Mutation::Flip { at, bit }));
        }
        for byte in [0x00, 0xff] {
            out.extend(
                (0..data.len())
                    .filter(|&at| data[at] != byte)
                    .map(|at| Mutation::Set { at, byte }),
            );
        }
        out.extend((0..data.len()).map(|len| Mutation::Truncate { len }));
        for (page, bytes) in data.chunks(PAGE).enumerate() {
            if bytes.iter().any(|&b| b != 0) {
                out.push(Mutation::ZeroPage { page });
            }
        }
        out
    }

    /// The damaged copy of `data`.
    pub fn apply(self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        match self {
            Mutation::Flip { at, bit } => out[at] ^= 1 << bit,
            Mutation::Set { at, byte } => out[at] = byte,
            Mutation::Truncate { len } => out.truncate(len),
            Mutation::ZeroPage { page } => {
                let end = ((page + 1) * PAGE).min(out.len());
                out[page * PAGE..end].fill(0);
            }
        }
        out
    }

    /// Offset of the first byte the mutation changes (or removes).
    pub fn first_changed(self) -> usize {
        match self {
            Mutation::Flip { at, .. } | Mutation::Set { at, .. } => at,
            Mutation::Truncate { len } => len,
            Mutation::ZeroPage { page } => page * PAGE,
        }
    }

    /// Offset just past the last byte the mutation changes (`usize::MAX` for a
    /// truncation: nothing after it is left).
    pub fn end_changed(self, file_len: usize) -> usize {
        match self {
            Mutation::Flip { at, .. } | Mutation::Set { at, .. } => at + 1,
            Mutation::Truncate { .. } => usize::MAX,
            Mutation::ZeroPage { page } => ((page + 1) * PAGE).min(file_len),
        }
    }

    /// Short name of the kind, for the figures.
    pub fn kind(self) -> &'static str {
        match self {
            Mutation::Flip { .. } => "bit flip",
            Mutation::Set { byte: 0, .. } => "byte set to 0x00",
            Mutation::Set { .. } => "byte set to 0xff",
            Mutation::Truncate { .. } => "truncation",
            Mutation::ZeroPage { .. } => "zeroed page",
        }
    }
}

/// Figures of one sweep.
#[derive(Debug, Default)]
pub struct Tally {
    /// Mutations tried.
    pub tried: u64,
    /// Mutations `lsm-verify` reported as a problem.
    pub verify_reported: u64,
    /// Mutations checked through the engine.
    pub engine_checked: u64,
    /// Of those, refused by `open` with `Error::Corruption`.
    pub open_refused: u64,
    /// Of those, opened, with some read reporting `Error::Corruption`.
    pub read_reported: u64,
    /// Of those, opened with every read right (the damage was harmless or dropped
    /// as the format allows).
    pub all_right: u64,
    /// Silent wrong results: another value, a phantom key, a missing key, a wrong
    /// recovered state. Must stay 0.
    pub silent_wrong: u64,
    /// Descriptions of the first silent wrong results.
    pub wrong: Vec<String>,
}

impl Tally {
    /// Records a silent wrong result.
    pub fn wrong(&mut self, what: String) {
        self.silent_wrong += 1;
        if self.wrong.len() < 10 {
            self.wrong.push(what);
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} mutations, {} reported by lsm-verify; {} read through the engine: {} refused \
             at open, {} reported by a read, {} read right; {} silent wrong results",
            self.tried,
            self.verify_reported,
            self.engine_checked,
            self.open_refused,
            self.read_reported,
            self.all_right,
            self.silent_wrong
        )
    }
}

/// How reads of a damaged database went.
#[derive(Debug, PartialEq, Eq)]
pub enum Reads {
    /// Every read gave the model's answer.
    Right,
    /// Some read reported `Error::Corruption`; every other read was right.
    Reported,
}

/// What the checks read: the default keyspace (`Db`) or a named one (`Keyspace`).
pub trait Reader {
    /// A point read.
    fn get_key(&self, key: &[u8]) -> lsm_core::Result<Option<Bytes>>;
    /// A scan of everything.
    fn scan_all(&self) -> Scan;
}

impl Reader for Db {
    fn get_key(&self, key: &[u8]) -> lsm_core::Result<Option<Bytes>> {
        self.get(key)
    }

    fn scan_all(&self) -> Scan {
        self.iter()
    }
}

impl Reader for Keyspace {
    fn get_key(&self, key: &[u8]) -> lsm_core::Result<Option<Bytes>> {
        self.get(key)
    }

    fn scan_all(&self) -> Scan {
        self.iter()
    }
}

/// Every read of `db`: a point read of each model key and each of `absent`, a full
/// scan each way. `Ok` when each gave the right answer or `Error::Corruption`;
/// `Err` describes the first silent wrong result (or a non-corruption error).
pub fn check_reads(db: &impl Reader, model: &Map, absent: &[Vec<u8>]) -> Result<Reads, String> {
    let mut reported = false;
    let mut note = |e: lsm_core::Error, what: &str| -> Result<(), String> {
        if e.is_corruption() {
            reported = true;
            Ok(())
        } else {
            Err(format!("{what}: {e} (not Corruption)"))
        }
    };
    for (k, v) in model {
        match db.get_key(k) {
            Ok(Some(got)) if got.as_ref() == v.as_slice() => {}
            Ok(got) => {
                return Err(format!(
                    "get {:?}: {:?} instead of its value",
                    String::from_utf8_lossy(k),
                    got.map(|g| g.len())
                ))
            }
            Err(e) => note(e, "get")?,
        }
    }
    for k in absent {
        match db.get_key(k) {
            Ok(None) => {}
            Ok(Some(_)) => return Err(format!("get {:?}: a phantom value", k)),
            Err(e) => note(e, "get of an absent key")?,
        }
    }
    let want: Vec<(&Vec<u8>, &Vec<u8>)> = model.iter().collect();
    for reverse in [false, true] {
        let mut scan = db.scan_all();
        let mut i = 0usize;
        loop {
            let item = if reverse {
                scan.next_back()
            } else {
                scan.next()
            };
            let Some(item) = item else {
                if i != want.len() {
                    return Err(format!(
                        "scan (reverse: {reverse}) ended after {i} of {} keys",
                        want.len()
                    ));
                }
                break;
            };
            match item {
                Ok((k, v)) => {
                    let expected = if reverse {
                        want.len().checked_sub(i + 1).and_then(|j| want.get(j))
                    } else {
                        want.get(i)
                    };
                    if expected != Some(&(&k.to_vec(), &v.to_vec())) {
                        return Err(format!(
                            "scan (reverse: {reverse}) item {i}: {:?} is not the model's",
                            String::from_utf8_lossy(&k)
                        ));
                    }
                    i += 1;
                }
                Err(e) => {
                    note(e, "scan")?;
                    break;
                }
            }
        }
    }
    Ok(if reported {
        Reads::Reported
    } else {
        Reads::Right
    })
}

/// The models of a database's keyspaces, by name (`"default"` among them).
pub type Models = BTreeMap<String, Map>;

/// A handle to keyspace `name` of `db`, which must be listed (so that opening it
/// never creates it), and a read of it through `read`.
fn with_keyspace<T>(
    db: &Db,
    name: &str,
    read: impl FnOnce(&dyn ReaderDyn) -> Result<T, String>,
) -> Result<T, String> {
    if name == "default" {
        return read(db);
    }
    if !db.keyspace_names().iter().any(|n| n == name) {
        return Err(format!("keyspace {name} is missing"));
    }
    let ks = db
        .keyspace(name)
        .map_err(|e| format!("keyspace {name}: {e}"))?;
    read(&ks)
}

/// [`Reader`] as a trait object.
pub trait ReaderDyn {
    /// [`check_reads`] of this reader.
    fn check(&self, model: &Map, absent: &[Vec<u8>]) -> Result<Reads, String>;
    /// [`read_all`] of this reader.
    fn all(&self) -> lsm_core::Result<Map>;
}

impl<R: Reader> ReaderDyn for R {
    fn check(&self, model: &Map, absent: &[Vec<u8>]) -> Result<Reads, String> {
        check_reads(self, model, absent)
    }

    fn all(&self) -> lsm_core::Result<Map> {
        read_all(self)
    }
}

/// [`check_reads`] of every keyspace of `db` against its model: the keyspace names
/// must be exactly the models' (a dropped keyspace back, or one lost, is a wrong
/// result), and each keyspace must hold none of `absent` and no key of another
/// keyspace's model that its own lacks (a key read in the wrong keyspace).
pub fn check_keyspace_reads(db: &Db, models: &Models, absent: &[Vec<u8>]) -> Result<Reads, String> {
    let names = db.keyspace_names();
    if !names.iter().eq(models.keys()) {
        return Err(format!(
            "keyspaces {names:?}, not {:?}",
            models.keys().collect::<Vec<_>>()
        ));
    }
    let mut reads = Reads::Right;
    for (name, model) in models {
        let mut not_here = absent.to_vec();
        for other in models.values() {
            not_here.extend(other.keys().filter(|k| !model.contains_key(*k)).cloned());
        }
        match with_keyspace(db, name, |r| r.check(model, &not_here))
            .map_err(|e| format!("keyspace {name}: {e}"))?
        {
            Reads::Right => {}
            Reads::Reported => reads = Reads::Reported,
        }
    }
    Ok(reads)
}

/// Every live pair of every keyspace of `db` the models name, or the first error.
pub fn read_all_keyspaces(db: &Db, models: &Models) -> Result<Models, String> {
    models
        .keys()
        .map(|name| {
            with_keyspace(db, name, |r| r.all().map_err(|e| e.to_string()))
                .map(|map| (name.clone(), map))
        })
        .collect()
}

/// Every live pair of `db` in one forward scan, or the scan's error.
pub fn read_all(db: &impl Reader) -> lsm_core::Result<Map> {
    db.scan_all()
        .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// An exact copy of what `pristine`'s database directory holds now, with `name`
/// replaced by `data`. (Not `SimFs::crash`: a crash image would bring back files
/// whose removal no directory fsync covered, such as flushed WALs.)
pub fn damaged_copy(pristine: &SimFs, name: &str, data: &[u8]) -> SimFs {
    let copy = SimFs::new();
    copy.create_dir_all(Path::new(DB))
        .expect("create the directory");
    for file in pristine.file_names(Path::new(DB)) {
        let path = Path::new(DB).join(&file);
        let bytes = if file == name {
            data.to_vec()
        } else {
            pristine.read_file(&path).expect("read a file to copy")
        };
        copy.write_file_raw(&path, &bytes).expect("copy a file");
    }
    copy
}

/// Opens the database of `fs`.
pub fn open(fs: &SimFs, options: &Options) -> lsm_core::Result<Db> {
    Db::open_with_fs(DB, options.clone(), fs.fs_ref())
}

/// The file of the database directory of `fs` whose name ends with `ext`, and its
/// bytes; panics unless there is exactly one.
pub fn only_file(fs: &SimFs, ext: &str) -> (String, Vec<u8>) {
    let names: Vec<String> = fs
        .file_names(Path::new(DB))
        .into_iter()
        .filter(|n| n.ends_with(ext))
        .collect();
    assert_eq!(names.len(), 1, "files ending in {ext}: {names:?}");
    let data = fs
        .read_file(&Path::new(DB).join(&names[0]))
        .expect("read file");
    (names[0].clone(), data)
}

/// Which mutations the engine checks: all with `LSM_SWEEP_FULL=1`; otherwise every
/// `stride`-th of [`Mutation::all`]'s list (a stride prime to 8 samples every bit
/// position, and every kind of mutation is sampled).
pub fn engine_checks(i: usize, stride: usize) -> bool {
    std::env::var_os("LSM_SWEEP_FULL").is_some() || i.is_multiple_of(stride.max(1))
}
