//! Opening a database: lock, replay the manifest and the WALs, judge every file, and
//! start clean.
//!
//! Order, and why (crash consistency):
//! 1. take `LOCK` (a second open, in this process or another, gets `Locked`);
//! 2. list the directory (`listing.rs`); nothing is removed before step 7;
//! 3. replay `MANIFEST` (a torn final record is dropped, see `docs/format.md`
//!    section 6) and open every segment it lists. With no manifest, a directory
//!    holding segments or WALs is corruption, an empty one a new database;
//! 4. replay, in order, the WALs numbered `>= log_number` into a memtable. Every WAL
//!    but the newest was fsynced before the next one was created, so damage in one is
//!    corruption; a torn tail of the newest is dropped (`replay_wal` applies the
//!    synced-offset rule). Each op goes to its keyspace's memtable, from the WAL
//!    of that keyspace's log number on (older ops of it are in its segments); ops
//!    of a keyspace created and dropped are skipped, and an op of a keyspace the
//!    manifest never created is refused as corruption (`docs/format.md` sections
//!    5 and 6);
//! 5. judge every file against what steps 3 and 4 recovered (`file_audit.rs`): when
//!    the directory shows a state the manifest does not hold (it lost records), fail
//!    with `Corruption`, having changed nothing;
//! 6. flush each keyspace's memtable to its level 0 (segments durable before step
//!    7), write a fresh manifest (temp file, fsync, rename, directory fsync) with
//!    `log_number` and every keyspace's log number = a new WAL number and every
//!    removable segment recorded obsolete, then create that WAL
//!    and fsync the directory: from here on the replayed WALs are obsolete;
//! 7. delete what step 5 proved dead: temporary files, WALs below the new
//!    `log_number`, segments recorded obsolete.
//!
//! A crash at any point leaves a directory this same procedure recovers: before
//! step 6 completes the old manifest and WALs are intact (new segments are leftovers
//! whose entries the WALs hold); after it the new manifest stands alone and records
//! what is left to delete.

mod file_audit;
pub(crate) mod listing;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};
use lsm_format::manifest::{replay_manifest, ManifestState, VersionEdit};
use lsm_format::wal::replay_wal;

pub use file_audit::{FileAudit, UnexplainedSegment};
use listing::Listing;

use crate::blob::output::blob_path;
use crate::blob::BlobFile;
use crate::compaction::filter::CompactionFilter;
use crate::engine::{Coordination, Engine, Env, State, Tree};
use crate::error::{Error, Result};
use crate::filenames::{self, LOCK, MANIFEST};
use crate::flush::write_memtable;
use crate::fs::{FsRef, RealFs};
use crate::memtable::MemTable;
use crate::metrics::Metrics;
use crate::options::Options;
use crate::poison::Poison;
use crate::read_path::snapshot_list::SnapshotList;
use crate::read_path::ReadPath;
use crate::segment::block_cache::LruBlockCache;
use crate::segment::file::{MappedReadBudget, SegmentContext, SegmentFile};
use crate::version::VersionControl;
use crate::version::{Version, VersionSet, Versions};
use crate::write_path::{WalWriter, WritePath};

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// A replayed manifest: its state, the listed segments and blob files that could
/// be opened, and the listed ones the directory lacks.
struct Loaded {
    state: ManifestState,
    versions: Versions,
    missing: Vec<u64>,
    missing_blobs: Vec<u64>,
}

/// Replays the manifest and opens every segment it lists that exists.
fn load_manifest(fs: &FsRef, dir: &Path, ctx: &SegmentContext) -> Result<Loaded> {
    let path = dir.join(MANIFEST);
    let data = fs.read(&path).map_err(io_err(&path))?;
    let state = replay_manifest(&data).map_err(|e| Error::from_format(&path, e))?;
    if let Some(at) = state.torn_tail {
        log::warn!("manifest: dropped a torn final record at offset {at}");
    }
    let mut added: BTreeMap<KeyspaceId, Vec<(u32, Arc<SegmentFile>)>> =
        state.keyspaces.keys().map(|&id| (id, Vec::new())).collect();
    let mut missing = Vec::new();
    for (level, metas) in state.levels.iter().enumerate() {
        for meta in metas {
            if !fs.exists(&filenames::segment_path(dir, meta.file_number)) {
                missing.push(meta.file_number);
                continue;
            }
            let file = SegmentFile::open(fs, dir, meta.clone(), ctx)?;
            // The manifest state only lists segments of live keyspaces.
            added
                .entry(meta.keyspace)
                .or_default()
                .push((level as u32, file));
        }
    }
    missing.sort_unstable();
    // Live blob files are opened (header and footer checked against the manifest)
    // now: a damaged one fails the open, as a damaged segment does.
    let mut blobs: BTreeMap<KeyspaceId, Vec<Arc<BlobFile>>> = BTreeMap::new();
    let mut missing_blobs = Vec::new();
    for meta in state.blob_files.values() {
        if !fs.exists(&blob_path(dir, meta.file_number)) {
            missing_blobs.push(meta.file_number);
            continue;
        }
        let file = BlobFile::open(fs, dir, meta.clone(), ctx.cache.clone())?;
        blobs.entry(meta.keyspace).or_default().push(file);
    }
    let versions = added
        .into_iter()
        .map(|(id, files)| {
            let blobs = blobs.remove(&id).unwrap_or_default();
            (
                id,
                Arc::new(Version::default().apply(&[], &files, &[], &blobs)),
            )
        })
        .collect();
    Ok(Loaded {
        versions,
        state,
        missing,
        missing_blobs,
    })
}

/// What steps 2 to 5 of the module documentation found: the directory judged, and
/// what replay recovered. Built without writing anything.
pub(crate) struct Inspection {
    pub listing: Listing,
    pub state: ManifestState,
    pub versions: Versions,
    /// What the WALs hold that the segments do not, per live keyspace.
    pub recovered: BTreeMap<KeyspaceId, MemTable>,
    /// WALs replayed, and the batches in them.
    pub replayed: (usize, u64),
    pub last_seq: u64,
    pub audit: FileAudit,
}

/// Steps 2 to 5: list, replay, judge. `Ok(None)` for a directory with no database
/// (no manifest, no segment, no WAL).
pub(crate) fn inspect(
    fs: &FsRef,
    dir: &Path,
    segments: &SegmentContext,
    opts: Option<&Options>,
) -> Result<Option<Inspection>> {
    let listing = Listing::read(fs, dir)?;
    if !listing.manifest {
        if listing.segments.is_empty() && listing.wals.is_empty() && listing.blobs.is_empty() {
            return Ok(None);
        }
        return Err(Error::Corruption {
            file: dir.join(MANIFEST),
            offset: 0,
            reason: format!(
                "manifest missing but the directory holds {} segment, {} WAL and {} blob \
                 files; nothing was deleted",
                listing.segments.len(),
                listing.wals.len(),
                listing.blobs.len()
            ),
        });
    }
    let Loaded {
        state,
        versions,
        missing,
        missing_blobs,
    } = load_manifest(fs, dir, segments)?;
    let to_replay: Vec<u64> = listing
        .wals
        .iter()
        .copied()
        .filter(|&n| n >= state.log_number)
        .collect();
    let recovered: BTreeMap<KeyspaceId, MemTable> = state
        .keyspaces
        .keys()
        .map(|&id| (id, MemTable::new(0)))
        .collect();
    let (replayed_seq, records) = replay_wals(fs, dir, &to_replay, &recovered, &state)?;
    // The largest sequence number anything holds: a manifest's counter may lag a
    // segment's entries (defence in depth; edits stamp it before they are logged).
    let segment_seq = versions
        .values()
        .flat_map(|v| v.levels().iter().flatten())
        .map(|f| f.meta.largest_seq)
        .max()
        .unwrap_or(0);
    let last_seq = state.last_sequence.max(replayed_seq).max(segment_seq);
    // The compaction filter of each keyspace, which may have rewritten a version
    // at 0 in a file a crash left behind.
    let filters: BTreeMap<KeyspaceId, Arc<dyn CompactionFilter>> = state
        .keyspaces
        .iter()
        .filter_map(|(&id, meta)| Some((id, opts?.keyspace_filter(&meta.name)?)))
        .collect();
    let audit = FileAudit::run(
        fs,
        dir,
        &listing,
        &state,
        (missing, missing_blobs),
        (&versions, &recovered),
        &filters,
    )?;
    Ok(Some(Inspection {
        listing,
        state,
        versions,
        recovered,
        replayed: (to_replay.len(), records),
        last_seq,
        audit,
    }))
}

/// Judges the files of the database in `path` the way [`Db::open`](crate::Db::open)
/// does before it deletes anything, without taking the lock and without writing:
/// safe beside a running writer (the result may then be out of date by the time it
/// returns) and on a database that does not open.
///
/// # Errors
/// `Io` when `path` or its manifest cannot be read (`NotFound` when there is no
/// database); `Corruption` or `UnsupportedVersion` when the manifest, a listed
/// segment or a live WAL is damaged, exactly as [`Db::open`](crate::Db::open) would
/// report it. An inconsistent directory is not an error: see
/// [`FileAudit::is_consistent`].
///
/// # Examples
///
/// ```
/// use lsm_core::{audit_files, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let dir = std::env::temp_dir().join(format!("lsm-audit-fn-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// Db::open(&dir, Options::default())?.close()?;
/// let audit = audit_files(&dir)?;
/// assert!(audit.is_consistent(), "{:?}", audit.problems());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
pub fn audit_files(path: impl AsRef<Path>) -> Result<FileAudit> {
    audit_files_with_fs(path, Arc::new(RealFs))
}

/// [`audit_files`] on another file system (the simulated one in tests).
///
/// # Errors
/// As [`audit_files`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use lsm_core::fs::SimFs;
/// use lsm_core::{audit_files_with_fs, Db, Options};
///
/// # fn main() -> lsm_core::Result<()> {
/// let fs = Arc::new(SimFs::new());
/// Db::open_with_fs("/db", Options::default(), fs.clone())?.close()?;
/// assert!(audit_files_with_fs("/db", fs)?.is_consistent());
/// # Ok(())
/// # }
/// ```
pub fn audit_files_with_fs(path: impl AsRef<Path>, fs: FsRef) -> Result<FileAudit> {
    let dir = path.as_ref();
    match inspect(&fs, dir, &SegmentContext::unbounded(), None)? {
        Some(found) => Ok(found.audit),
        None => Err(Error::io(
            dir.join(MANIFEST),
            io::Error::new(io::ErrorKind::NotFound, "no database here"),
        )),
    }
}

/// Replays WALs `numbers` (ascending) into `mems`, the memtable of each live
/// keyspace; returns the largest sequence number replayed and the number of
/// batches.
///
/// An op of a live keyspace goes to its memtable when the WAL is numbered from
/// the keyspace's log number on (older ones are in its segments). An op of a
/// keyspace `state` recorded and dropped is skipped (its data went with the
/// keyspace); one of a keyspace `state` never recorded is corruption of the WAL
/// (or of the manifest: it lost the record).
fn replay_wals(
    fs: &FsRef,
    dir: &Path,
    numbers: &[u64],
    mems: &BTreeMap<KeyspaceId, MemTable>,
    state: &ManifestState,
) -> Result<(u64, u64)> {
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
                if let Some(mem) = mems.get(&op.keyspace) {
                    // A keyspace's own log number may be above the global one: its
                    // older ops are in its segments.
                    let needed = state
                        .keyspace_log_number(op.keyspace)
                        .is_some_and(|from| number >= from);
                    if needed {
                        mem.insert(&op.key, seq, op.kind, &op.value);
                    }
                } else if op.keyspace >= state.next_keyspace_id {
                    return Err(Error::Corruption {
                        file: path,
                        offset: batch.offset,
                        reason: format!(
                            "an op of keyspace {}, which the manifest never recorded",
                            op.keyspace
                        ),
                    });
                }
                // Otherwise a keyspace created and dropped: its ops are gone with it.
            }
        }
        records += replay.batches.len() as u64;
        last_seq = last_seq.max(replay.last_sequence().unwrap_or(0));
    }
    Ok((last_seq, records))
}

/// Opens (or creates) the database in `dir`.
pub(crate) fn open(dir: &Path, opts: Options, fs: FsRef) -> Result<Arc<Engine>> {
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
    // Without `create_if_missing`, a directory with no database in it is refused
    // before the lock is taken, so that no `LOCK` file is left in a stranger's
    // directory. (One with segments or WALs but no manifest goes on, to be refused
    // as corruption under the lock.)
    if !opts.create_if_missing && !fs.exists(&dir.join(MANIFEST)) {
        let listing = Listing::read(&fs, dir)?;
        if listing.segments.is_empty() && listing.wals.is_empty() && listing.blobs.is_empty() {
            return Err(Error::io(
                dir.join(MANIFEST),
                io::Error::new(io::ErrorKind::NotFound, "no database here"),
            ));
        }
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
    let cache =
        (opts.block_cache_size > 0).then(|| Arc::new(LruBlockCache::new(opts.block_cache_size)));
    let segments = SegmentContext {
        cache: cache.clone(),
        mapped_reads: Arc::new(MappedReadBudget::new(opts.mmap_read_budget)),
    };

    let found = match inspect(&fs, dir, &segments, Some(&opts))? {
        Some(found) => found,
        None if opts.create_if_missing => {
            log::info!("creating a new database in {}", dir.display());
            Inspection {
                listing: Listing::default(),
                state: ManifestState::default(),
                versions: Versions::from([(DEFAULT_KEYSPACE, Arc::new(Version::default()))]),
                recovered: BTreeMap::from([(DEFAULT_KEYSPACE, MemTable::new(0))]),
                replayed: (0, 0),
                last_seq: 0,
                audit: FileAudit::default(),
            }
        }
        None => {
            return Err(Error::io(
                dir.join(MANIFEST),
                io::Error::new(io::ErrorKind::NotFound, "no database here"),
            ))
        }
    };
    if let Some(err) = found.audit.refusal(dir, found.state.clean_len) {
        log::error!("{err}");
        return Err(err);
    }
    let Inspection {
        listing,
        mut state,
        mut versions,
        recovered,
        replayed: (wals_replayed, records),
        last_seq,
        audit,
    } = found;

    let next_file = AtomicU64::new(state.next_file_number.max(listing.max_number + 1).max(1));
    let mut edit = VersionEdit::default();
    let metrics = Metrics::default();
    let mut added: Vec<(u32, Arc<SegmentFile>)> = Vec::new();
    for (&id, mem) in recovered.iter().filter(|(_, m)| !m.is_empty()) {
        // Written as the keyspace's flushes are: with its own options.
        let name = state.keyspaces.get(&id).map_or("", |k| k.name.as_str());
        let tree_opts = opts.tree_options(name)?;
        let files = write_memtable(
            &fs,
            dir,
            &tree_opts,
            &next_file,
            &segments,
            mem,
            id,
            Vec::new(),
            crate::clock::now_ms(&*opts.clock),
            &metrics,
        )?;
        edit.added_blob_files.extend(files.blob_metas());
        let segments: Vec<_> = files.segments.into_iter().map(|f| (0u32, f)).collect();
        if let Some(v) = versions.get_mut(&id) {
            *v = Arc::new(v.apply(&[], &segments, &[], &files.blobs));
        }
        added.extend(segments);
    }
    edit.added_segments = added.iter().map(|(l, f)| (*l, f.meta.clone())).collect();
    // Leftovers are recorded dead in the new manifest, so that a crash before step 7
    // finishes needs no second proof; numbers whose files are gone are forgotten.
    edit.obsolete_segments = audit
        .leftover_segments
        .iter()
        .chain(&audit.leftover_blobs)
        .copied()
        .collect();
    state.forget_obsolete(|n| {
        listing.segments.binary_search(&n).is_err() && listing.blobs.binary_search(&n).is_err()
    });
    let wal_number = next_file.fetch_add(1, Ordering::SeqCst);
    edit.log_number = Some(wal_number);
    // Every keyspace's WAL data is in its segments now.
    edit.keyspace_log_numbers = state.keyspaces.keys().map(|&id| (id, wal_number)).collect();
    edit.next_file_number = Some(next_file.load(Ordering::SeqCst));
    edit.last_sequence = Some(last_seq);
    let at = state.clean_len;
    // The manifest is rewritten in the current format (`VersionSet::create`), so
    // the open's edit may use every record of it, whatever the replayed one was.
    state.format_version = lsm_format::FORMAT_VERSION;
    state
        .apply(&edit, at)
        .map_err(|e| Error::from_format(dir.join(MANIFEST), e))?;
    let entries: usize = recovered.values().map(MemTable::len).sum();
    // Each keyspace's tree is written with its own options from the start: its
    // first compactions may run before the application asks for the keyspace.
    let trees = versions
        .iter()
        .map(|(&id, v)| {
            let name = state.keyspaces.get(&id).map_or("", |k| k.name.as_str());
            let tree_opts = Arc::new(opts.tree_options(name)?);
            let mem = Arc::new(MemTable::with_filter(wal_number, opts.memtable_size));
            Ok((id, Tree::new(mem, v.clone(), tree_opts)))
        })
        .collect::<Result<_>>()?;
    let versions = VersionSet::create(&fs, dir, state, versions)?;
    let wal = WalWriter::create(&fs, dir, wal_number, opts.wal_bytes_per_sync)?;
    fs.sync_dir(dir).map_err(io_err(dir))?;
    // The new WAL's header record is the first byte this instance wrote to a WAL.
    metrics
        .wal_bytes_written
        .store(wal.written(), Ordering::Relaxed);

    remove_dead_files(&fs, dir, &audit);
    log::info!(
        "opened {} in {:?}: {wals_replayed} WAL(s) replayed ({records} records, {} entries), \
         last sequence {last_seq}",
        dir.display(),
        start.elapsed(),
        entries
    );

    let state = State::new(trees, wal_number);
    let reads = ReadPath::new(state.super_versions(), last_seq);
    let env = Env {
        dir: dir.to_path_buf(),
        fs,
        opts,
        cache,
        segments,
        snapshots: Arc::new(SnapshotList::default()),
        metrics: Arc::new(metrics),
        poison: Poison::default(),
        stopping: AtomicBool::new(false),
    };
    Ok(Arc::new(Engine::new(
        env,
        WritePath::new(wal, last_seq),
        Coordination::new(state),
        reads,
        VersionControl::new(versions, next_file),
        lock,
    )))
}

/// Step 7: removes what the audit proved dead. A failure is only logged: the new
/// manifest records these files as dead, so the next open removes them.
fn remove_dead_files(fs: &FsRef, dir: &Path, audit: &FileAudit) {
    let temps = audit.temp_files.iter().map(|name| dir.join(name));
    let wals = audit
        .live_wals
        .iter()
        .chain(&audit.obsolete_wals)
        .map(|&n| filenames::wal_path(dir, n));
    let segments = audit
        .obsolete_segments
        .iter()
        .chain(&audit.leftover_segments)
        .map(|&n| filenames::segment_path(dir, n));
    let blobs = audit
        .obsolete_blobs
        .iter()
        .chain(&audit.leftover_blobs)
        .map(|&n| blob_path(dir, n));
    for path in temps.chain(wals).chain(segments).chain(blobs) {
        match fs.remove(&path) {
            Ok(()) => log::info!("removed dead file {}", path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("could not remove dead file {}: {e}", path.display()),
        }
    }
}
