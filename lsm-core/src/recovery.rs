//! Opening a database: lock, replay the manifest and the WALs, and start clean.
//!
//! Order, and why (crash consistency):
//! 1. take `LOCK` (a second open, in this process or another, gets `Locked`);
//! 2. remove `*.tmp` (never live: a crash interrupted their writing);
//! 3. replay `MANIFEST` (a torn final record is dropped, see `docs/format.md`
//!    section 6); every segment it lists must exist with the recorded size. With no
//!    manifest, a directory holding segments or WALs is corruption, an empty one a
//!    new database;
//! 4. replay, in order, the WALs numbered `>= log_number` into a memtable. Every WAL
//!    but the newest was fsynced before the next one was created, so damage in one is
//!    corruption; a torn tail of the newest is dropped (`replay_wal` applies the
//!    synced-offset rule);
//! 5. flush that memtable to level 0 (segments durable before step 6);
//! 6. write a fresh manifest (temp file, fsync, rename, directory fsync) with
//!    `log_number` = a new WAL number: from here on the replayed WALs are obsolete;
//! 7. create that new WAL and fsync the directory;
//! 8. delete the replayed WALs and orphan segments (left by a crash mid-flush or
//!    mid-compaction: not in the manifest, so never read).
//!
//! A crash at any point leaves a directory this same procedure recovers: before
//! step 6 completes the old manifest and WALs are intact (new segments are orphans);
//! after it the new manifest stands alone.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lsm_format::manifest::{replay_manifest, ManifestState, VersionEdit};
use lsm_format::wal::replay_wal;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::block_cache::LruBlockCache;
use crate::error::{Error, Result};
use crate::filenames::{self, classify, FileKind, LOCK, MANIFEST};
use crate::flush::write_memtable;
use crate::fs::FsRef;
use crate::inner::{DbInner, State};
use crate::memtable::MemTable;
use crate::metrics::Metrics;
use crate::options::Options;
use crate::poison::Poison;
use crate::segment_file::{MappedReadBudget, SegmentContext, SegmentFile};
use crate::snapshot_list::SnapshotList;
use crate::super_version::SuperVersion;
use crate::version::{Version, VersionSet};
use crate::wal::{WalWriter, WriteQueue};

/// What the directory listing found.
#[derive(Default)]
struct Listing {
    segments: Vec<u64>,
    wals: Vec<u64>,
    manifest: bool,
    /// Largest file number seen, temporary files included (numbers are never
    /// reused, not even those of files a crash left half-written).
    max_number: u64,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn list(fs: &FsRef, dir: &Path) -> Result<Listing> {
    let mut listing = Listing::default();
    for name in fs.list(dir).map_err(io_err(dir))? {
        match classify(&name) {
            FileKind::Temp => {
                let stem = name.strip_suffix(filenames::TMP_SUFFIX).unwrap_or_default();
                if let FileKind::Segment(n) | FileKind::Wal(n) = classify(stem) {
                    listing.max_number = listing.max_number.max(n);
                }
                let path = dir.join(&name);
                fs.remove(&path).map_err(io_err(&path))?;
                log::info!("removed leftover temporary file {}", path.display());
            }
            FileKind::Segment(n) => listing.segments.push(n),
            FileKind::Wal(n) => listing.wals.push(n),
            FileKind::Manifest => listing.manifest = true,
            FileKind::Lock | FileKind::Other => {}
        }
    }
    listing.wals.sort_unstable();
    let max = listing.segments.iter().chain(&listing.wals).copied().max();
    listing.max_number = listing.max_number.max(max.unwrap_or(0));
    Ok(listing)
}

/// Replays the manifest and opens every segment it lists.
fn load_manifest(fs: &FsRef, dir: &Path, ctx: &SegmentContext) -> Result<(ManifestState, Version)> {
    let path = dir.join(MANIFEST);
    let data = fs.read(&path).map_err(io_err(&path))?;
    let state = replay_manifest(&data).map_err(|e| Error::from_format(&path, e))?;
    if let Some(at) = state.torn_tail {
        log::warn!("manifest: dropped a torn final record at offset {at}");
    }
    let mut added = Vec::new();
    for (level, metas) in state.levels.iter().enumerate() {
        for meta in metas {
            let seg = filenames::segment_path(dir, meta.file_number);
            if !fs.exists(&seg) {
                return Err(Error::Corruption {
                    file: seg,
                    offset: 0,
                    reason: "segment listed in the manifest is missing".to_string(),
                });
            }
            let file = SegmentFile::open(fs, dir, meta.clone(), ctx)?;
            added.push((level as u32, file));
        }
    }
    Ok((state, Version::default().apply(&[], &added)))
}

/// Replays WALs `numbers` (ascending) into `mem`; returns the largest sequence
/// number replayed and the number of batches.
fn replay_wals(fs: &FsRef, dir: &Path, numbers: &[u64], mem: &MemTable) -> Result<(u64, u64)> {
    let mut last_seq = 0;
    let mut records = 0u64;
    for (i, &number) in numbers.iter().enumerate() {
        let path = filenames::wal_path(dir, number);
        let data = fs.read(&path).map_err(io_err(&path))?;
        let replay = replay_wal(&data).map_err(|e| Error::from_format(&path, e))?;
        if let Some(at) = replay.torn_tail {
            if i + 1 != numbers.len() {
                let err = Error::Corruption {
                    file: path,
                    offset: at,
                    reason: format!(
                        "damaged record ({:?}) in a WAL that is not the newest (it was fsynced \
                         before the next WAL was created)",
                        replay.torn_kind
                    ),
                };
                log::error!("{err}");
                return Err(err);
            }
            log::warn!(
                "WAL {}: dropped a torn tail at offset {at} ({:?}, {} later record(s) never \
                 synced)",
                path.display(),
                replay.torn_kind,
                replay.records_after_damage
            );
        }
        for batch in &replay.batches {
            for (seq, op) in (batch.first_seq..).zip(&batch.ops) {
                mem.insert(&op.key, seq, op.kind, &op.value);
            }
        }
        records += replay.batches.len() as u64;
        last_seq = last_seq.max(replay.last_sequence().unwrap_or(0));
    }
    Ok((last_seq, records))
}

/// Opens (or creates) the database in `dir`.
pub(crate) fn open(dir: &Path, opts: Options, fs: FsRef) -> Result<Arc<DbInner>> {
    opts.validate()?;
    let start = Instant::now();
    if opts.create_if_missing {
        fs.create_dir_all(dir).map_err(io_err(dir))?;
    } else if !fs.exists(dir) {
        return Err(Error::io(
            dir,
            io::Error::new(io::ErrorKind::NotFound, "no database here"),
        ));
    }
    let lock = fs.lock(&dir.join(LOCK)).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            Error::Locked {
                path: dir.to_path_buf(),
            }
        } else {
            Error::io(dir.join(LOCK), e)
        }
    })?;
    let listing = list(&fs, dir)?;
    let cache =
        (opts.block_cache_size > 0).then(|| Arc::new(LruBlockCache::new(opts.block_cache_size)));
    let segments = SegmentContext {
        cache: cache.clone().map(|c| c as Arc<dyn lsm_format::BlockCache>),
        mapped_reads: Arc::new(MappedReadBudget::new(opts.mmap_read_budget)),
    };

    let (mut state, mut version) = if listing.manifest {
        load_manifest(&fs, dir, &segments)?
    } else if !listing.segments.is_empty() || !listing.wals.is_empty() {
        return Err(Error::Corruption {
            file: dir.join(MANIFEST),
            offset: 0,
            reason: "manifest missing but the directory holds segment or WAL files".to_string(),
        });
    } else if !opts.create_if_missing {
        return Err(Error::io(
            dir.join(MANIFEST),
            io::Error::new(io::ErrorKind::NotFound, "no database here"),
        ));
    } else {
        log::info!("creating a new database in {}", dir.display());
        (ManifestState::default(), Version::default())
    };

    let next_file = AtomicU64::new(state.next_file_number.max(listing.max_number + 1).max(1));

    let to_replay: Vec<u64> = listing
        .wals
        .iter()
        .copied()
        .filter(|&n| n >= state.log_number)
        .collect();
    let recovered = MemTable::new(0);
    let (replayed_seq, records) = replay_wals(&fs, dir, &to_replay, &recovered)?;
    let last_seq = state.last_sequence.max(replayed_seq);

    let mut edit = VersionEdit::default();
    if !recovered.is_empty() {
        let files = write_memtable(
            &fs,
            dir,
            &opts,
            &next_file,
            &segments,
            &recovered,
            Vec::new(),
        )?;
        let added: Vec<_> = files.into_iter().map(|f| (0u32, f)).collect();
        edit.added_segments = added.iter().map(|(l, f)| (*l, f.meta.clone())).collect();
        version = version.apply(&[], &added);
    }
    let wal_number = next_file.fetch_add(1, Ordering::SeqCst);
    edit.log_number = Some(wal_number);
    edit.next_file_number = Some(next_file.load(Ordering::SeqCst));
    edit.last_sequence = Some(last_seq);
    let at = state.clean_len;
    state
        .apply(&edit, at)
        .map_err(|e| Error::from_format(dir.join(MANIFEST), e))?;
    let versions = VersionSet::create(&fs, dir, state, version)?;
    let wal = WalWriter::create(&fs, dir, wal_number)?;
    fs.sync_dir(dir).map_err(io_err(dir))?;
    let metrics = Metrics::default();
    // The new WAL's header record is the first byte this instance wrote to a WAL.
    metrics
        .wal_bytes_written
        .store(wal.written(), Ordering::Relaxed);

    for &n in &listing.wals {
        let path = filenames::wal_path(dir, n);
        if let Err(e) = fs.remove(&path) {
            log::warn!("could not remove replayed WAL {}: {e}", path.display());
        }
    }
    for &n in &listing.segments {
        if versions.state().level_of(n).is_none() {
            let path = filenames::segment_path(dir, n);
            log::info!(
                "removing orphan segment {} (not in the manifest)",
                path.display()
            );
            if let Err(e) = fs.remove(&path) {
                log::warn!("could not remove orphan segment {}: {e}", path.display());
            }
        }
    }
    log::info!(
        "opened {} in {:?}: {} WAL(s) replayed ({records} records, {} entries), last sequence {last_seq}",
        dir.display(),
        start.elapsed(),
        to_replay.len(),
        recovered.len()
    );

    let mem = Arc::new(MemTable::with_filter(wal_number, opts.memtable_size));
    let current = versions.current();
    let sv = Arc::new(SuperVersion {
        mem: mem.clone(),
        imm: Vec::new(),
        version: current.clone(),
    });
    Ok(Arc::new(DbInner {
        dir: dir.to_path_buf(),
        fs,
        opts,
        cache,
        segments,
        sv: RwLock::new(sv),
        state: Mutex::new(State {
            mem,
            imm: Vec::new(),
            version: current,
            manual: Vec::new(),
            shutdown: false,
        }),
        flush_cv: Condvar::new(),
        compact_cv: Condvar::new(),
        done_cv: Condvar::new(),
        timer_cv: Condvar::new(),
        versions: Mutex::new(versions),
        wal: Mutex::new(wal),
        queue: WriteQueue::default(),
        last_seq: AtomicU64::new(last_seq),
        visible_seq: AtomicU64::new(last_seq),
        next_file,
        snapshots: Arc::new(SnapshotList::default()),
        metrics: Arc::new(metrics),
        poison: Poison::default(),
        stopping: AtomicBool::new(false),
        lock: Mutex::new(Some(lock)),
    }))
}
