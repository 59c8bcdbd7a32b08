//! Carrying out a repair plan, in the crash-safe order of the module documentation:
//! `lost/` and the copy of the old manifest, the blob files set aside (moved into
//! `lost/` first: recorded dead, a crash before their move would let open delete
//! them), new segments (durable), the new manifest (durable, recording every
//! segment about to be moved as dead), then the other moves.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};
use lsm_format::manifest::{ManifestState, VersionEdit};
use lsm_format::range_del::Fragments;

use super::plan::{Listed, Plan};
use super::salvage::Item;
use super::LOST_DIR;
use crate::error::{Error, Result};
use crate::filenames::{classify, segment_name, FileKind, MANIFEST};
use crate::fs::FsRef;
use crate::options::Options;
use crate::recovery::listing::Listing;
use crate::segment::builder::SegmentBuilder;
use crate::version::manifest::ManifestWriter;

/// Writes the plan's new segments and manifest and moves its files into `lost/`;
/// fills in the names of the new segments.
pub(super) fn apply(
    fs: &FsRef,
    dir: &Path,
    opts: &Options,
    listing: &Listing,
    plan: &mut Plan,
) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| Error::io(path, e)
    };
    let lost = dir.join(LOST_DIR);
    if plan.manifest_copy.is_some() || !plan.moves.is_empty() {
        fs.create_dir_all(&lost).map_err(io(&lost))?;
        fs.sync_dir(dir).map_err(io(dir))?;
    }
    // The damaged manifest is copied, not moved: until the new one replaces it, the
    // directory keeps its old state whole.
    if let Some(copy) = &plan.manifest_copy {
        let to = dir.join(copy);
        fs.link_or_copy(&dir.join(MANIFEST), &to).map_err(io(&to))?;
        fs.sync_dir(&lost).map_err(io(&lost))?;
    }

    // Blob files set aside go before anything else changes: the new manifest does
    // not record them, so none may be left where open would remove it.
    let (blob_moves, moves): (Vec<_>, Vec<_>) =
        (plan.moves.iter()).partition(|(name, _)| matches!(classify(name), FileKind::Blob(_)));
    for (from, to) in &blob_moves {
        let (from, to) = (dir.join(from), dir.join(to));
        fs.rename(&from, &to).map_err(io(&from))?;
    }
    if !blob_moves.is_empty() {
        fs.sync_dir(&lost).map_err(io(&lost))?;
        fs.sync_dir(dir).map_err(io(dir))?;
    }

    let next_file = AtomicU64::new(plan.first_new_number(listing));
    let mut edit = VersionEdit::default();
    let mut new_segments = Vec::new();
    let mut write = |level: u32,
                     keyspace: KeyspaceId,
                     items: &[Item],
                     range_tombstones: &Fragments,
                     edit: &mut VersionEdit|
     -> Result<()> {
        if items.is_empty() && range_tombstones.is_empty() {
            return Ok(());
        }
        let mut builder = SegmentBuilder::new(fs, dir, opts, level as usize, &next_file);
        builder.set_keyspace(keyspace);
        builder.set_range_tombstones(range_tombstones.clone());
        for item in items {
            builder.add(&item.key, item.seq, item.kind, &item.value)?;
        }
        // Pointer entries keep pointing into their blob files: the builder records
        // each segment's references from them.
        for meta in builder.finish_with_blobs()?.segments {
            new_segments.push(segment_name(meta.file_number));
            edit.added_segments.push((level, meta));
        }
        Ok(())
    };
    for listed in &plan.listed {
        match listed {
            Listed::Kept(level, meta) => edit.added_segments.push((*level, meta.clone())),
            Listed::Salvaged(level, keyspace, items, range_tombstones) => {
                write(*level, *keyspace, items, range_tombstones, &mut edit)?;
            }
        }
    }
    // What is restored from unlisted segments and WALs is keyspace 0's: the plan
    // refused files holding data of any other.
    write(
        0,
        DEFAULT_KEYSPACE,
        &plan.restore,
        &plan.restore_range_tombstones,
        &mut edit,
    )?;
    // The keyspace table, when the old manifest told it: every live keyspace keeps
    // its id and name, and ids stay unused. (Their log numbers need no record: every
    // WAL is below the new `log_number`.)
    if let Some(old) = &plan.state {
        edit.added_keyspaces = old
            .keyspaces
            .iter()
            .filter(|(&id, _)| id != DEFAULT_KEYSPACE)
            .map(|(&id, k)| (id, k.name.clone()))
            .collect();
        edit.next_keyspace_id = Some(old.next_keyspace_id);
    }

    // Every WAL in the directory is below the new `log_number`: its data is in the
    // segments now (or it is damaged and moves to `lost/`). As in a checkpoint, the
    // number is the next file number: a WAL never created, which open creates.
    let next = next_file.load(Ordering::SeqCst);
    edit.log_number = Some(next);
    edit.next_file_number = Some(next);
    edit.last_sequence = Some(plan.last_seq);
    edit.added_blob_files = plan.blob_files.clone();
    // Dead: what the old manifest recorded dead and is still there, and every
    // segment about to be moved (so that a crash before the moves needs no proof).
    let mut dead: BTreeSet<u64> = plan
        .state
        .as_ref()
        .map(|s| {
            s.obsolete
                .iter()
                .copied()
                .filter(|n| {
                    listing.segments.binary_search(n).is_ok()
                        || listing.blobs.binary_search(n).is_ok()
                })
                .collect()
        })
        .unwrap_or_default();
    for (name, _) in &moves {
        if let FileKind::Segment(n) = classify(name) {
            dead.insert(n);
        }
    }
    edit.obsolete_segments = dead.into_iter().collect();
    let mut state = ManifestState::default();
    state
        .apply(&edit, 0)
        .map_err(|e| Error::from_format(dir.join(MANIFEST), e))?;
    drop(ManifestWriter::create(fs, dir, &state.snapshot_edit())?);

    for (from, to) in &moves {
        let (from, to) = (dir.join(from), dir.join(to));
        fs.rename(&from, &to).map_err(io(&from))?;
    }
    if !moves.is_empty() {
        fs.sync_dir(&lost).map_err(io(&lost))?;
        fs.sync_dir(dir).map_err(io(dir))?;
    }
    plan.report.new_segments = new_segments;
    Ok(())
}
