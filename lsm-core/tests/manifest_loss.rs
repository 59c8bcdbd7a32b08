//! A manifest that lost records (cut short at or inside a record, replaced by an
//! older copy, or deleted) beside a directory that shows a later state. Whatever the
//! damage, `Db::open` returns exactly the last acknowledged state or
//! `Error::Corruption`, and an open that fails removes and changes no file
//! (`docs/durability.md`, "Files at open").
//!
//! The database is a real history: thousands of writes with 4 KiB segments, so more
//! than 100 segments across several levels, built by flushes and compactions. A file
//! system wrapper keeps a copy of the manifest after every fsync of it, so every
//! older copy the history ever had durable is tried. The cuts and older copies are
//! tried twice: on that database, and on the same history with every value in blob
//! files (key-value separation: blob files added and deleted by the edits too).

mod common;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsm_core::fs::{CrashMode, FileLock, FileSystem, MappedFile, SimFs, WritableFile};
use lsm_core::{Compression, Db, Error, Options};
use lsm_format::log::read_log;
use lsm_format::manifest::VersionEdit;
use parking_lot::Mutex;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

const DB: &str = "/db";

/// The shared small options (4 KiB segments, small memtables and levels, so that a
/// few thousand keys make about a hundred segments over three or more levels),
/// uncompressed so that the segment count does not depend on the values.
fn options() -> Options {
    common::small_options().with_compression(Compression::None)
}

/// The same with every value (120 bytes) in blob files, collected at 30 % garbage.
fn blob_options() -> Options {
    options()
        .with_blob_threshold(Some(100))
        .with_blob_gc_ratio(0.3)
}

/// A file system that records the manifest's bytes after each fsync of it.
struct Recording {
    inner: SimFs,
    copies: Arc<Mutex<Vec<Vec<u8>>>>,
}

struct RecordingFile {
    inner: Box<dyn WritableFile>,
    path: PathBuf,
    disk: SimFs,
    copies: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn is_manifest(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == "MANIFEST" || n == "MANIFEST.tmp")
}

impl Recording {
    fn wrap(&self, path: &Path, file: Box<dyn WritableFile>) -> Box<dyn WritableFile> {
        if !is_manifest(path) {
            return file;
        }
        Box::new(RecordingFile {
            inner: file,
            path: path.to_path_buf(),
            disk: self.inner.clone(),
            copies: self.copies.clone(),
        })
    }
}

impl WritableFile for RecordingFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()?;
        self.copies.lock().push(self.disk.read_file(&self.path)?);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn preallocate(&mut self, size: u64) -> io::Result<()> {
        self.inner.preallocate(size)
    }
    fn trim(&mut self) -> io::Result<()> {
        self.inner.trim()
    }
}

impl FileSystem for Recording {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = self.inner.create(path)?;
        Ok(self.wrap(path, file))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = self.inner.open_append(path)?;
        Ok(self.wrap(path, file))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn map(&self, path: &Path) -> io::Result<MappedFile> {
        self.inner.map(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn size(&self, path: &Path) -> io::Result<u64> {
        self.inner.size(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

/// The closed database, the data it holds, and every manifest copy of its history.
struct Built {
    disk: SimFs,
    model: Map,
    copies: Vec<Vec<u8>>,
    options: Options,
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut v = format!("value-{i:05}-{round}-").into_bytes();
    v.resize(120, b'a' + (i % 26) as u8);
    v
}

/// Writes `keys` keys in a scattered order, overwrites a third, deletes a tenth,
/// closes. Every write was acknowledged and `close` flushed, so `model` is exactly
/// what the directory holds.
fn build(keys: u64, options: Options) -> Built {
    let disk = SimFs::new();
    let copies = Arc::new(Mutex::new(Vec::new()));
    let fs = Arc::new(Recording {
        inner: disk.clone(),
        copies: copies.clone(),
    });
    let db = Db::open_with_fs(DB, options.clone(), fs).unwrap();
    let mut model = Map::new();
    let key = |i: u64| format!("key-{:05}", (i * 7919) % keys).into_bytes();
    for i in 0..keys {
        db.put(key(i), value(i, 0)).unwrap();
        model.insert(key(i), value(i, 0));
    }
    for i in (0..keys).step_by(3) {
        db.put(key(i), value(i, 1)).unwrap();
        model.insert(key(i), value(i, 1));
    }
    for i in (0..keys).step_by(10) {
        db.delete(key(i)).unwrap();
        model.remove(&key(i));
    }
    db.close().unwrap();
    let copies = std::mem::take(&mut *copies.lock());
    Built {
        disk,
        model,
        copies,
        options,
    }
}

/// A fresh disk holding the files of `from`'s database, with `MANIFEST` replaced by
/// `manifest` (or removed, for `None`).
fn copy_with_manifest(from: &SimFs, manifest: Option<&[u8]>) -> SimFs {
    let copy = SimFs::new();
    copy.create_dir_all(Path::new(DB)).unwrap();
    for name in from.file_names(Path::new(DB)) {
        let path = Path::new(DB).join(&name);
        let bytes = from.read_file(&path).unwrap();
        let bytes = match (name.as_str(), manifest) {
            ("MANIFEST", None) => continue,
            ("MANIFEST", Some(m)) => m.to_vec(),
            _ => bytes,
        };
        copy.write_file_raw(&path, &bytes).unwrap();
    }
    copy
}

/// Name, size and hash of every file: what a failed open must leave as it was.
fn fingerprint(disk: &SimFs) -> BTreeMap<String, (usize, u64)> {
    disk.file_names(Path::new(DB))
        .into_iter()
        .map(|name| {
            let data = disk.read_file(&Path::new(DB).join(&name)).unwrap();
            let hash = xxhash_rust::xxh3::xxh3_64(&data);
            (name, (data.len(), hash))
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Opened, and every key and value is the model's.
    Exact,
    /// Refused with `Corruption`, no file touched.
    Refused,
}

/// Opens `disk` and checks the rule: the exact state, or `Corruption` with every file
/// as it was. Panics on anything else (a silent wrong result above all).
fn open_and_check(disk: &SimFs, b: &Built, what: &str) -> Outcome {
    let model = &b.model;
    let before = fingerprint(disk);
    match Db::open_with_fs(DB, b.options.clone(), disk.fs_ref()) {
        Ok(db) => {
            let got: Map = db
                .scan::<&[u8], _>(..)
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{what}: opened, then a scan failed: {e}"));
            if got != *model {
                let missing = model.keys().filter(|k| !got.contains_key(*k)).count();
                panic!(
                    "{what}: opened with a wrong state, silently: {} keys, {missing} of the \
                     model's {} missing",
                    got.len(),
                    model.len()
                );
            }
            db.close().unwrap();
            Outcome::Exact
        }
        Err(e) => {
            assert!(
                matches!(e, Error::Corruption { .. }),
                "{what}: open failed with {e}, not Corruption"
            );
            assert_eq!(
                fingerprint(disk),
                before,
                "{what}: a failed open changed the directory ({e})"
            );
            Outcome::Refused
        }
    }
}

/// Whether every edit the manifest loses when cut at `cut` (the record holding `cut`
/// and those after it) leaves no trace in the directory: it only moves files between
/// levels (the same numbers deleted and added: a compaction's trivial move) and
/// retires no WAL. Open then cannot tell the manifest is behind, and rightly opens
/// the same data.
fn shows_nothing_from(records: &[lsm_format::log::LogRecord<'_>], cut: usize) -> bool {
    records
        .iter()
        .filter(|r| r.end as usize > cut && !r.payload.is_empty())
        .all(|r| {
            let Ok(edit) = VersionEdit::decode(&r.payload, r.offset) else {
                return false;
            };
            let mut added: Vec<u64> = edit
                .added_segments
                .iter()
                .map(|(_, m)| m.file_number)
                .collect();
            let mut deleted: Vec<u64> = edit
                .deleted_segments
                .iter()
                .map(|d| d.file_number)
                .collect();
            added.sort_unstable();
            deleted.sort_unstable();
            edit.log_number.is_none()
                && added == deleted
                && edit.obsolete_segments.is_empty()
                && edit.added_blob_files.is_empty()
                && edit.deleted_blob_files.is_empty()
        })
}

/// The database every test here damages: built once per test binary.
fn built() -> &'static Built {
    static BUILT: std::sync::OnceLock<Built> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build(3000, options()))
}

/// The same history with its values in blob files.
fn built_with_blobs() -> &'static Built {
    static BUILT: std::sync::OnceLock<Built> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build(3000, blob_options()))
}

#[test]
fn the_database_has_the_shape_the_tests_need() {
    let b = built();
    let db = Db::open_with_fs(
        DB,
        options(),
        b.disk.crash(CrashMode::DropUnsynced, 0).fs_ref(),
    )
    .unwrap();
    let stats = db.stats();
    let segments: usize = stats.levels.iter().map(|l| l.segments).sum();
    let levels = stats.levels.iter().filter(|l| l.segments > 0).count();
    assert!(segments >= 100, "{segments} segments");
    assert!(levels >= 3, "{levels} levels");
    assert!(stats.compactions > 0 || b.copies.len() > 100);
    assert!(b.copies.len() > 100, "{} manifest copies", b.copies.len());
}

#[test]
fn a_manifest_cut_at_any_record_boundary_fails_open_or_gives_the_exact_state() {
    boundary_cuts(built());
}

#[test]
fn with_blob_files_a_manifest_cut_at_any_record_boundary_fails_open_or_gives_the_exact_state() {
    let b = built_with_blobs();
    let blobs = b
        .disk
        .file_names(Path::new(DB))
        .iter()
        .filter(|n| n.ends_with(".blob"))
        .count();
    assert!(blobs >= 20, "{blobs} blob files");
    boundary_cuts(b);
}

fn boundary_cuts(b: &Built) {
    let manifest = b.disk.read_file(&Path::new(DB).join("MANIFEST")).unwrap();
    let records = read_log(&manifest).unwrap().records;
    let marker = records.last().unwrap();
    assert!(
        marker.payload.is_empty(),
        "a manifest ends in a commit marker"
    );
    let mut refused = 0;
    for rec in &records {
        let cut = rec.offset as usize;
        let copy = copy_with_manifest(&b.disk, Some(&manifest[..cut]));
        let outcome = open_and_check(&copy, b, &format!("cut at {cut}"));
        // Only the final commit marker, or edits the directory cannot show (a
        // compaction's trivial move changes a file's level, not the file), may go
        // unnoticed: every other edit has effects the directory shows.
        let want = if rec.offset >= marker.offset || shows_nothing_from(&records, cut) {
            Outcome::Exact
        } else {
            Outcome::Refused
        };
        assert_eq!(outcome, want, "cut at record boundary {cut}");
        refused += usize::from(outcome == Outcome::Refused);
    }
    println!("{} records, {refused} boundary cuts refused", records.len());
}

#[test]
fn a_manifest_cut_inside_a_record_fails_open_or_gives_the_exact_state() {
    inside_cuts(built());
}

#[test]
fn with_blob_files_a_manifest_cut_inside_a_record_fails_open_or_gives_the_exact_state() {
    inside_cuts(built_with_blobs());
}

fn inside_cuts(b: &Built) {
    let manifest = b.disk.read_file(&Path::new(DB).join("MANIFEST")).unwrap();
    let records = read_log(&manifest).unwrap().records;
    let marker_start = records.last().unwrap().offset as usize;
    // Inside each record: just after its start, the middle, just before its end.
    let mut cuts: Vec<usize> = records
        .iter()
        .flat_map(|r| {
            let (s, e) = (r.offset as usize, r.end as usize);
            [s + 1, (s + e) / 2, e - 1]
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        let copy = copy_with_manifest(&b.disk, Some(&manifest[..cut]));
        let outcome = open_and_check(&copy, b, &format!("cut at {cut}"));
        let want = if cut > marker_start || shows_nothing_from(&records, cut) {
            Outcome::Exact
        } else {
            Outcome::Refused
        };
        assert_eq!(outcome, want, "cut inside a record at {cut}");
    }
}

#[test]
fn every_older_copy_of_the_manifest_fails_open_or_gives_the_exact_state() {
    older_copies(built());
}

#[test]
fn with_blob_files_every_older_copy_of_the_manifest_fails_open_or_gives_the_exact_state() {
    older_copies(built_with_blobs());
}

fn older_copies(b: &Built) {
    let current = b.disk.read_file(&Path::new(DB).join("MANIFEST")).unwrap();
    let (mut exact, mut refused) = (0, 0);
    for (i, copy) in b.copies.iter().enumerate() {
        if *copy == current {
            continue;
        }
        let disk = copy_with_manifest(&b.disk, Some(copy));
        match open_and_check(&disk, b, &format!("older copy {i}")) {
            Outcome::Exact => exact += 1,
            Outcome::Refused => refused += 1,
        }
    }
    println!(
        "{} older copies: {refused} refused, {exact} opened exact",
        b.copies.len()
    );
    // The copies from before the final flush hold none of its data: all refused.
    assert!(refused > b.copies.len() * 9 / 10, "{refused} refused");
}

#[test]
fn a_deleted_manifest_fails_open_and_deletes_nothing() {
    let b = built();
    let disk = copy_with_manifest(&b.disk, None);
    assert_eq!(open_and_check(&disk, b, "no manifest"), Outcome::Refused);
}

/// A power cut at every file operation of an open that can proceed (the final commit
/// marker torn) and of one that must refuse (a boundary cut): the image left opens to
/// the exact state, or is refused, and never loses a file.
#[test]
fn a_crash_during_recovery_deletes_nothing_it_cannot_prove_dead() {
    let b = built();
    let manifest = b.disk.read_file(&Path::new(DB).join("MANIFEST")).unwrap();
    let records = read_log(&manifest).unwrap().records;
    let marker = records.last().unwrap();
    let torn = &manifest[..marker.offset as usize + 3];
    let behind = &manifest[..records[records.len() / 2].offset as usize];
    for (what, bytes, want) in [
        ("torn final marker", torn, Outcome::Exact),
        ("cut at a boundary", behind, Outcome::Refused),
    ] {
        for ops in 0.. {
            let disk = copy_with_manifest(&b.disk, Some(bytes));
            let before = fingerprint(&disk);
            disk.power_off_after(ops);
            let opened = Db::open_with_fs(DB, options(), disk.fs_ref());
            let finished = !disk.is_powered_off();
            drop(opened);
            for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
                let image = disk.crash(mode, ops);
                if want == Outcome::Refused {
                    assert_eq!(fingerprint(&image), before, "{what}, power cut after {ops}");
                }
                let outcome = open_and_check(&image, b, &format!("{what}, cut after {ops}"));
                assert_eq!(outcome, want, "{what}, power cut after {ops} ops, {mode:?}");
            }
            if finished {
                break;
            }
        }
    }
}

/// Name, size and hash of every file of a real directory.
fn fingerprint_dir(dir: &Path) -> BTreeMap<String, (usize, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let data = std::fs::read(e.path()).unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, (data.len(), xxhash_rust::xxh3::xxh3_64(&data)))
        })
        .collect()
}

/// The case as first found: a closed database of 3,000 keys in about 100 segments
/// of 4 KiB on a real directory, its manifest cut to 128 and to 151 bytes. Open used
/// to succeed with nothing in it after deleting every segment; now it refuses, names
/// the manifest and the files, says nothing was deleted, and deletes nothing: putting
/// the manifest back gives every key.
#[test]
fn a_manifest_cut_to_128_or_151_bytes_is_refused_on_a_real_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut model = Map::new();
    {
        let db = Db::open(&dir, options()).unwrap();
        for i in 0..3000u64 {
            let k = format!("key-{:05}", (i * 7919) % 3000).into_bytes();
            db.put(&k, value(i, 0)).unwrap();
            model.insert(k, value(i, 0));
        }
        db.close().unwrap();
    }
    let manifest_path = dir.join("MANIFEST");
    let manifest = std::fs::read(&manifest_path).unwrap();
    let segments = fingerprint_dir(&dir)
        .keys()
        .filter(|n| n.ends_with(".seg"))
        .count();
    assert!(segments >= 90, "{segments} segments");
    for cut in [128, 151] {
        std::fs::write(&manifest_path, &manifest[..cut]).unwrap();
        let before = fingerprint_dir(&dir);
        let err = Db::open(&dir, options()).expect_err("a cut manifest must not open");
        let text = err.to_string();
        assert!(err.is_corruption(), "cut {cut}: {text}");
        assert!(text.contains("MANIFEST"), "{text}");
        assert!(text.contains(".seg"), "{text}");
        assert!(text.contains("Nothing was deleted"), "{text}");
        assert_eq!(
            fingerprint_dir(&dir),
            before,
            "cut {cut}: open changed files"
        );
    }
    std::fs::write(&manifest_path, &manifest).unwrap();
    let db = Db::open(&dir, options()).unwrap();
    let got: Map = db
        .scan::<&[u8], _>(..)
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        got == model,
        "{} of {} keys after restoring",
        got.len(),
        model.len()
    );
    db.close().unwrap();
}
