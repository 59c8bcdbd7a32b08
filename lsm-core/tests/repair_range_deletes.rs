//! `repair` of a database holding range deletes (`delete_range`, `delete_prefix`) at
//! several levels, in its WAL and in a segment the manifest does not list: after
//! each kind of damage, no deleted key is visible unless the report names its range
//! (or the sequence number of its delete) as affected, no key reads a value it never
//! had, scans agree with lookups, and the database opens.

mod repair_support;

use std::collections::BTreeMap;

use bytes::Bytes;
use lsm_core::fs::{CrashMode, SimFs};
use lsm_core::repair::FileStatus;
use lsm_core::{repair_dry_run_with_fs, repair_with_fs, Db, Options, RepairReport};
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::{ReadOptions, SegmentReader, SegmentWriter, WriterOptions};
use repair_support::{copy, files, key, path, put_back_old_manifest, DB};

fn options() -> Options {
    // A memtable large enough for a WAL of several log blocks (the log reader
    // resynchronises after damage at the next block).
    repair_support::options().with_memtable_size(1 << 20)
}

/// One write, as the history records it.
#[derive(Debug, Clone)]
enum Event {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// `[start, end)`.
    Range(Vec<u8>, Vec<u8>),
}

/// The database's writes with their sequence numbers (one operation per write, so
/// the `n`-th write has number `n`).
#[derive(Default)]
struct History {
    events: Vec<(u64, Event)>,
}

impl History {
    fn push(&mut self, e: Event) {
        let seq = self.last_seq() + 1;
        self.events.push((seq, e));
    }

    fn put(&mut self, db: &Db, i: u64, tag: &str) {
        let (k, v) = (key(i), format!("{tag}-{i}-{}", self.last_seq() + 1));
        db.put(&k, &v).unwrap();
        self.push(Event::Put(k, v.into_bytes()));
    }

    fn delete(&mut self, db: &Db, i: u64) {
        db.delete(key(i)).unwrap();
        self.push(Event::Delete(key(i)));
    }

    fn delete_range(&mut self, db: &Db, from: u64, to: u64) {
        db.delete_range(key(from), key(to)).unwrap();
        self.push(Event::Range(key(from), key(to)));
    }

    fn delete_prefix(&mut self, db: &Db, prefix: &str) {
        db.delete_prefix(prefix).unwrap();
        let mut end = prefix.as_bytes().to_vec();
        *end.last_mut().unwrap() += 1;
        self.push(Event::Range(prefix.as_bytes().to_vec(), end));
    }

    fn last_seq(&self) -> u64 {
        self.events.iter().map(|(s, _)| *s).max().unwrap_or(0)
    }

    /// The newest write that touched `k`: its sequence number and what it left.
    fn newest<'a>(&'a self, k: &'a [u8]) -> Option<(u64, Option<&'a [u8]>)> {
        self.touching(k)
            .max_by_key(|(seq, _)| *seq)
            .map(|(seq, e)| match e {
                Event::Put(_, v) => (seq, Some(&v[..])),
                Event::Delete(_) | Event::Range(..) => (seq, None),
            })
    }

    /// The writes that touched `k`.
    fn touching<'a>(&'a self, k: &'a [u8]) -> impl Iterator<Item = (u64, &'a Event)> + 'a {
        self.events.iter().filter_map(move |(seq, e)| {
            let hit = match e {
                Event::Put(key, _) | Event::Delete(key) => key == k,
                Event::Range(s, end) => &s[..] <= k && k < &end[..],
            };
            hit.then_some((*seq, e))
        })
    }

    fn ever_had(&self, k: &[u8], value: &[u8]) -> bool {
        self.touching(k)
            .any(|(_, e)| matches!(e, Event::Put(_, v) if v == value))
    }

    /// Every key ever written or deleted by name.
    fn keys(&self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for (_, e) in &self.events {
            if let Event::Put(k, _) | Event::Delete(k) = e {
                keys.push(k.clone());
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// True when some file's finding names `k` (or the sequence number `seq` of its
/// newest write) as affected. The warning of a repair without a manifest is left
/// out: the images here hold no retired segment, so it must not matter.
fn named(report: &RepairReport, k: &[u8], seq: Option<u64>) -> bool {
    report.files.iter().any(|f| f.lost.covers(k, seq))
}

/// Opens the repaired database and checks every key against `history`.
fn check(fs: &SimFs, history: &History, report: &RepairReport) -> Result<(), String> {
    let db = Db::open_with_fs(DB, options(), fs.fs_ref())
        .map_err(|e| format!("open after repair failed: {e}\n{report}"))?;
    let mut seen = BTreeMap::new();
    for k in history.keys() {
        let got = db.get(&k).map_err(|e| format!("get: {e}"))?;
        let newest = history.newest(&k);
        let want = newest.and_then(|(_, v)| v);
        let show = String::from_utf8_lossy(&k).into_owned();
        if got.as_deref() != want && !named(report, &k, newest.map(|(seq, _)| seq)) {
            return Err(format!(
                "{show} reads {:?} instead of {:?}, outside everything the report names:\n{report}",
                got.as_deref().map(String::from_utf8_lossy),
                want.map(String::from_utf8_lossy),
            ));
        }
        if let Some(v) = &got {
            if !history.ever_had(&k, v) {
                return Err(format!("{show} reads a value it never had: {v:?}"));
            }
            seen.insert(k.clone(), v.to_vec());
        }
    }
    let mut scanned = BTreeMap::new();
    for item in db.iter() {
        let (k, v) = item.map_err(|e| format!("scan: {e}"))?;
        scanned.insert(k.to_vec(), v.to_vec());
    }
    if scanned != seen {
        return Err(format!("a scan disagrees with the lookups:\n{report}"));
    }
    db.close().map_err(|e| format!("close: {e}"))?;
    Ok(())
}

/// Keys the history deleted by a range (their newest write is a range delete) that
/// an older put had written.
fn range_deleted(history: &History, within: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    history
        .keys()
        .into_iter()
        .filter(|k| within(k))
        .filter(|k| {
            let Some((seq, None)) = history.newest(k) else {
                return false;
            };
            history
                .touching(k)
                .any(|(s, e)| s == seq && matches!(e, Event::Range(..)))
        })
        .collect()
}

/// The database: puts compacted to level 2 (the oldest versions renumbered to
/// sequence 0), range and prefix deletes in two level-0 segments over them, and the
/// last writes, range deletes among them, in the synced WAL. (A file with range
/// tombstones at a level between counts as mostly deletes: idle compaction sinks it
/// to the last level, where its tombstones meet what they hide and are dropped.)
/// Returns its crash image and history, and the WAL's length before its last puts.
fn build() -> (SimFs, History, u64) {
    let fs = SimFs::new();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let mut h = History::default();
    for i in 0..200 {
        h.put(&db, i, "a");
    }
    db.compact_into(2).unwrap();
    h.delete_range(&db, 20, 60);
    h.delete_prefix(&db, "key015");
    h.put(&db, 30, "b");
    h.delete(&db, 5);
    for i in 200..230 {
        h.put(&db, i, "b");
    }
    db.flush().unwrap();
    for i in (60..100).step_by(3) {
        h.put(&db, i, "c");
    }
    h.delete_range(&db, 70, 90);
    h.put(&db, 75, "c");
    for i in 230..260 {
        h.put(&db, i, "c");
    }
    db.flush().unwrap();
    h.delete_range(&db, 100, 110);
    h.put(&db, 104, "d");
    h.delete_prefix(&db, "key018");
    h.put(&db, 120, "d");
    db.sync().unwrap();
    let wal = newest_wal(&fs);
    let before = used_len(&fs.read_file(&path(&wal)).unwrap());
    // Enough puts for the WAL to span several log blocks.
    for round in 0..5 {
        for i in 120..140 {
            let (k, v) = (key(i), format!("e{round}-{i}-{}", "x".repeat(700)));
            db.put(&k, &v).unwrap();
            h.push(Event::Put(k, v.into_bytes()));
        }
    }
    db.sync().unwrap();
    let image = fs.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    (image, h, before)
}

fn newest_wal(fs: &SimFs) -> String {
    files(fs)
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .max()
        .unwrap()
}

/// The length of a WAL file up to the zeros of its preallocated tail.
fn used_len(data: &[u8]) -> u64 {
    data.iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

fn segment_reader(fs: &SimFs, name: &str) -> SegmentReader {
    let data = fs.read_file(&path(name)).unwrap();
    SegmentReader::open(Bytes::from(data), ReadOptions::default()).unwrap()
}

/// The segments holding range tombstones.
fn segments_with_range_tombstones(fs: &SimFs) -> Vec<String> {
    files(fs)
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .filter(|n| !segment_reader(fs, n).range_tombstones().is_empty())
        .collect()
}

/// Flips a byte of `name`'s range-tombstone block (between its data blocks and its
/// filter).
fn damage_range_tombstone_block(fs: &SimFs, name: &str) {
    let reader = segment_reader(fs, name);
    let data_end = reader
        .index_entries()
        .unwrap()
        .last()
        .map_or(0, |e| e.handle.end());
    assert!(data_end + 2 < reader.footer().filter.offset);
    let mut data = fs.read_file(&path(name)).unwrap();
    data[data_end as usize + 1] ^= 0x08;
    fs.write_file_raw(&path(name), &data).unwrap();
}

/// Flips a byte of `name`'s last data block (which holds keys after the ranges
/// deleted).
fn damage_last_block(fs: &SimFs, name: &str) {
    let reader = segment_reader(fs, name);
    let handle = reader.index_entries().unwrap().last().unwrap().handle;
    let mut data = fs.read_file(&path(name)).unwrap();
    data[handle.offset as usize + 5] ^= 0x20;
    fs.write_file_raw(&path(name), &data).unwrap();
}

#[test]
fn the_database_has_range_deletes_at_every_level_and_reads_them_before_any_damage() {
    let (image, h, _) = build();
    assert!(segments_with_range_tombstones(&image).len() >= 2);
    let db = Db::open_with_fs(DB, options(), image.fs_ref()).unwrap();
    for k in h.keys() {
        let want = h.newest(&k).and_then(|(_, v)| v);
        assert_eq!(db.get(&k).unwrap().as_deref(), want, "{k:?}");
    }
    db.close().unwrap();
}

#[test]
fn a_deleted_manifest_keeps_every_range_delete_and_renumbered_entries_stay_deleted() {
    let (image, h, _) = build();
    let fs = copy(&image);
    fs.fs_ref().remove(&path("MANIFEST")).unwrap();
    let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert!(report.restored_range_tombstones > 0, "{report}");
    // Level 2's entries at sequence 0 are not newer than the (empty) base: every
    // restored entry was renumbered, above the range tombstones that delete some
    // of the candidates (level 2's puts under level 1's and the WAL's deletes).
    assert!(report.last_sequence > h.last_seq(), "{report}");
    let deleted = range_deleted(&h, |_| true);
    assert!(deleted.len() > 30, "{}", deleted.len());
    check(&fs, &h, &report).unwrap();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    for k in &deleted {
        assert_eq!(db.get(k).unwrap(), None, "{k:?} came back");
    }
    db.close().unwrap();
    assert!(repair_with_fs(DB, options(), fs.fs_ref())
        .unwrap()
        .nothing_to_repair());
}

#[test]
fn a_damaged_range_tombstone_block_names_the_whole_file_and_nothing_else_comes_back() {
    let (image, h, _) = build();
    let with = segments_with_range_tombstones(&image);
    for name in &with {
        let fs = copy(&image);
        let reader = segment_reader(&fs, name);
        let (lo, hi) = (
            reader.properties().smallest_key.clone(),
            reader.properties().largest_key.clone(),
        );
        damage_range_tombstone_block(&fs, name);
        let dry = repair_dry_run_with_fs(DB, options(), fs.fs_ref()).unwrap();
        let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
        let finding = report.files.iter().find(|f| &f.file == name).unwrap();
        assert_eq!(finding.status, FileStatus::Damaged, "{report}");
        assert_eq!(finding.lost.range_deletes.len(), 1, "{report}");
        let range = &finding.lost.range_deletes[0];
        assert!(range.first <= lo && range.last >= hi, "{report}");
        assert!(report.to_string().contains("range deletes over keys"));
        // The data blocks all verified: no entry lost.
        assert_eq!(finding.lost.entries, Some(0), "{report}");
        assert_eq!(dry.files, report.files);
        check(&fs, &h, &report).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_damaged_data_block_keeps_the_file_range_deletes() {
    let (image, h, _) = build();
    for name in segments_with_range_tombstones(&image) {
        let fs = copy(&image);
        let tombstones = segment_reader(&fs, &name).range_tombstones().clone();
        damage_last_block(&fs, &name);
        let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
        let finding = report.files.iter().find(|f| f.file == name).unwrap();
        assert!(finding.lost.range_deletes.is_empty(), "{report}");
        assert!(!finding.lost.key_ranges.is_empty(), "{report}");
        // Every key a kept range tombstone deleted stays deleted, unless its data
        // block's range is named (its newest put may be the one lost there).
        let within = |k: &[u8]| tombstones.find(k).is_some();
        let deleted = range_deleted(&h, within);
        assert!(!deleted.is_empty());
        check(&fs, &h, &report).unwrap_or_else(|e| panic!("{name}: {e}"));
        let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
        let outside: Vec<_> = deleted
            .iter()
            .filter(|k| !named(&report, k, None))
            .collect();
        assert!(
            !outside.is_empty(),
            "{name}: every deleted key is named\n{report}"
        );
        for k in outside {
            assert_eq!(db.get(k).unwrap(), None, "{name}: {k:?} came back");
        }
        db.close().unwrap();
    }
}

#[test]
fn a_wal_damaged_after_its_range_deletes_keeps_them() {
    let (image, h, before) = build();
    let fs = copy(&image);
    let wal = newest_wal(&fs);
    let mut data = fs.read_file(&path(&wal)).unwrap();
    assert!(used_len(&data) > 2 * lsm_format::log::LOG_BLOCK_SIZE as u64);
    // A record after the range deletes, in the first log block: the records of
    // the later blocks are read after it.
    let at = before as usize + 40;
    assert!(at < lsm_format::log::LOG_BLOCK_SIZE);
    data[at] ^= 0x10;
    fs.write_file_raw(&path(&wal), &data).unwrap();

    let dry = repair_dry_run_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert!(report.rebuilt, "{report}");
    assert_eq!(
        dry.restored_range_tombstones,
        report.restored_range_tombstones
    );
    assert_eq!(dry.restored_entries, report.restored_entries);
    // `delete_range(100, 110)` and `delete_prefix("key018")`.
    assert_eq!(report.restored_range_tombstones, 2, "{report}");
    let finding = report.files.iter().find(|f| f.file == wal).unwrap();
    assert!(!finding.lost.sequences.is_empty(), "{report}");
    assert!(
        finding.lost.sequences.iter().all(|s| s.first > 150),
        "{report}"
    );
    check(&fs, &h, &report).unwrap();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    for k in range_deleted(&h, |k| k >= &key(100)[..]) {
        assert_eq!(db.get(&k).unwrap(), None, "{k:?} came back");
    }
    db.close().unwrap();
}

#[test]
fn an_unlisted_segment_holding_range_deletes_has_them_restored() {
    // An older manifest put back: the flush after it (holding range deletes) is
    // unlisted, and the WAL it made obsolete is gone.
    let fs = SimFs::new();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let mut h = History::default();
    for i in 0..100 {
        h.put(&db, i, "a");
    }
    db.compact_into(2).unwrap();
    let old_manifest = fs.read_file(&path("MANIFEST")).unwrap();
    h.put(&db, 10, "b");
    h.delete_range(&db, 5, 40);
    h.put(&db, 20, "b");
    h.delete_prefix(&db, "key006");
    db.flush().unwrap();
    h.put(&db, 50, "c");
    db.sync().unwrap();
    let image = fs.crash(CrashMode::DropUnsynced, 0);
    drop(db);
    put_back_old_manifest(&image, &old_manifest);
    assert!(Db::open_with_fs(DB, options(), image.fs_ref()).is_err());

    let report = repair_with_fs(DB, options(), image.fs_ref()).unwrap();
    let restored = report
        .files
        .iter()
        .find(|f| f.status == FileStatus::Restored)
        .unwrap_or_else(|| panic!("{report}"));
    assert!(restored.detail.contains("2 range tombstones"), "{report}");
    assert_eq!(report.restored_range_tombstones, 2, "{report}");
    check(&image, &h, &report).unwrap();
    // The missing WAL's numbers are named as lost, which covers these keys' deletes:
    // ask for them by name.
    let db = Db::open_with_fs(DB, options(), image.fs_ref()).unwrap();
    let deleted = range_deleted(&h, |_| true);
    assert_eq!(deleted.len(), 34 + 10);
    for k in &deleted {
        assert_eq!(db.get(k).unwrap(), None, "{k:?} came back");
    }
    assert_eq!(db.get(key(10)).unwrap(), None);
    assert!(db.get(key(20)).unwrap().is_some());
    db.close().unwrap();
}

#[test]
fn a_restored_range_tombstone_older_than_a_kept_version_spares_that_key() {
    // Level 2: puts of 0..40; level 0: key 13 rewritten, then (after a number the
    // tombstone below takes) key 15 rewritten. An unlisted segment holds the range
    // tombstone [10, 20) at that number, as if the flush of its delete had been
    // lost from the manifest.
    let fs = SimFs::new();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    let mut h = History::default();
    for i in 0..40 {
        h.put(&db, i, "a");
    }
    db.compact_into(2).unwrap();
    h.put(&db, 13, "b");
    h.put(&db, 30, "b");
    // The tombstone shares its number with this put of a key outside its range.
    h.put(&db, 35, "b");
    let tombstone_seq = h.last_seq();
    h.events
        .push((tombstone_seq, Event::Range(key(10), key(20))));
    h.put(&db, 15, "c");
    db.flush().unwrap();
    db.close().unwrap();

    let mut writer = SegmentWriter::new(Vec::new(), WriterOptions::default());
    writer
        .add_range_tombstones(Fragments::from_tombstones([RangeTombstone::new(
            key(10),
            key(20),
            tombstone_seq,
        )]))
        .unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    fs.write_file_raw(&path("000900.seg"), &bytes).unwrap();
    assert!(Db::open_with_fs(DB, options(), fs.fs_ref()).is_err());

    let report = repair_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert_eq!(report.restored_range_tombstones, 1, "{report}");
    assert!(!report.lost_anything(), "{report}");
    // Exact: nothing is named.
    check(&fs, &h, &report).unwrap();
    let db = Db::open_with_fs(DB, options(), fs.fs_ref()).unwrap();
    assert!(
        db.get(key(15)).unwrap().is_some(),
        "the newer put is hidden"
    );
    assert_eq!(db.get(key(13)).unwrap(), None, "the older put came back");
    assert_eq!(db.get(key(12)).unwrap(), None);
    assert!(db.get(key(20)).unwrap().is_some());
    db.close().unwrap();
}
