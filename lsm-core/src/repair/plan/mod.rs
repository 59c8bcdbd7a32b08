//! The plan of a repair: what each file is found to be, what the rebuilt manifest
//! lists, which entries are restored, which files move into `lost/`. Built by reading
//! only (a dry run stops here); `manifest_rebuild.rs` carries it out.

mod blobs;
mod candidates;
mod manifest_state;
mod range_tombstones;
mod unlisted;

use blobs::BlobFiles;
use candidates::{choose, Base};
use manifest_state::read_manifest;
use unlisted::scan_unlisted;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use bytes::Bytes;
use lsm_format::file_name::blob_name;
use lsm_format::keyspace::{KeyspaceId, DEFAULT_KEYSPACE};
use lsm_format::manifest::{BlobFileMeta, ManifestState, SegmentMeta};
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::EntryKind;

use super::report::{
    FileFinding, FileStatus, KeyRange, Loss, ManifestFinding, RepairReport, SeqRange,
};
use super::salvage::{self, Item, Scanned};
use super::{wal, LOST_DIR};
use crate::error::{Error, Result};
use crate::filenames::{segment_name, segment_path, wal_name, wal_path, MANIFEST};
use crate::fs::FsRef;
use crate::recovery::listing::Listing;

/// A segment the rebuilt manifest lists.
pub(crate) enum Listed {
    /// Kept as it is.
    Kept(u32, SegmentMeta),
    /// Replaced by its blocks that verified and its range tombstones, at the same
    /// level of the same keyspace.
    Salvaged(u32, KeyspaceId, Vec<Item>, Fragments),
}

/// What a repair will do, and its report.
pub(crate) struct Plan {
    pub report: RepairReport,
    /// The manifest's state, when any of it was readable.
    pub state: Option<ManifestState>,
    pub listed: Vec<Listed>,
    /// Entries to write to new level-0 segments, in key order (one per key).
    pub restore: Vec<Item>,
    /// Range tombstones to write with them.
    pub restore_range_tombstones: Fragments,
    /// Files to move into `lost/`: name in the directory, name in `lost/`.
    pub moves: Vec<(String, String)>,
    /// Copy the manifest into `lost/` under this name before replacing it.
    pub manifest_copy: Option<String>,
    pub last_seq: u64,
    /// The blob files the rebuilt manifest records: those its segments point into
    /// (`blobs.rs`).
    pub blob_files: Vec<BlobFileMeta>,
}

/// One source of candidate entries: an unlisted segment or a WAL.
struct Source {
    /// Its finding in the report (none for a WAL read whole).
    finding: Option<usize>,
    items: Vec<Item>,
    range_tombstones: Vec<RangeTombstone>,
    sound: bool,
}

impl Plan {
    pub(super) fn inspect(fs: &FsRef, dir: &Path, listing: &Listing) -> Result<Plan> {
        let mut report = RepairReport::default();
        let mut rebuild = false;
        let state = read_manifest(fs, dir, listing, &mut report, &mut rebuild)?;
        let blob_files = BlobFiles::read(fs, dir, listing)?;
        // Pointer entries dropped, by the blob file they pointed into.
        let mut blob_losses: BTreeMap<u64, u64> = BTreeMap::new();

        let mut listed = Vec::new();
        let mut base_readers = Vec::new();
        let mut base_salvaged: HashMap<Bytes, u64> = HashMap::new();
        let mut base_range_tombstones: Vec<Fragments> = Vec::new();
        let mut base_max_seq = 0u64;
        let mut seen_seq = state.as_ref().map_or(0, |s| s.last_sequence);
        let mut listed_numbers = Vec::new();
        if let Some(state) = &state {
            for (level, metas) in (0u32..).zip(&state.levels) {
                for meta in metas {
                    let n = meta.file_number;
                    listed_numbers.push(n);
                    let name = segment_name(n);
                    let whole = Loss {
                        key_ranges: vec![KeyRange::new(
                            meta.smallest_key.clone(),
                            meta.largest_key.clone(),
                        )],
                        entries: Some(meta.entry_count),
                        ..Loss::default()
                    };
                    if listing.segments.binary_search(&n).is_err() {
                        let mut f = FileFinding::new(
                            name,
                            FileStatus::Missing,
                            "listed in the manifest, not in the directory".into(),
                        );
                        f.level = Some(level);
                        f.lost = whole;
                        report.files.push(f);
                        rebuild = true;
                        continue;
                    }
                    match salvage::scan(read_bytes(fs, &segment_path(dir, n))?) {
                        Scanned::Sound(reader) => {
                            let p = reader.properties();
                            if p.keyspace != meta.keyspace {
                                return Err(Error::Corruption {
                                    file: segment_path(dir, n),
                                    offset: 0,
                                    reason: format!(
                                        "the manifest lists it in keyspace {}, its properties \
                                         name keyspace {}; repair changed nothing",
                                        meta.keyspace, p.keyspace
                                    ),
                                });
                            }
                            seen_seq = seen_seq.max(p.largest_seq);
                            base_max_seq = base_max_seq.max(p.largest_seq);
                            let path = segment_path(dir, n);
                            let mut pointers = blobs::segment_items(&reader, &path, true)?;
                            let blob_refs = blobs::blob_refs(&pointers);
                            let broken = blob_files.drop_broken(meta.keyspace, &mut pointers);
                            if broken.entries > 0 {
                                // Its readable entries replace it, as a damaged
                                // segment's verified blocks do.
                                rebuild = true;
                                let mut items = blobs::segment_items(&reader, &path, false)?;
                                blob_files.drop_broken(meta.keyspace, &mut items);
                                let mut f = FileFinding::new(
                                    name.clone(),
                                    FileStatus::Damaged,
                                    broken.note(),
                                );
                                f.level = Some(level);
                                f.salvaged_entries = items.len() as u64;
                                f.lost = Loss {
                                    key_ranges: broken.keys.iter().cloned().collect(),
                                    entries: Some(broken.entries),
                                    ..Loss::default()
                                };
                                add_losses(&mut blob_losses, &broken);
                                let range_tombstones = reader.range_tombstones().clone();
                                if !range_tombstones.is_empty() {
                                    base_range_tombstones.push(range_tombstones.clone());
                                }
                                for item in &items {
                                    let newest = base_salvaged.entry(item.key.clone()).or_insert(0);
                                    *newest = (*newest).max(item.seq);
                                }
                                report.files.push(f);
                                listed.push(Listed::Salvaged(
                                    level,
                                    meta.keyspace,
                                    items,
                                    range_tombstones,
                                ));
                                continue;
                            }
                            listed.push(Listed::Kept(
                                level,
                                SegmentMeta {
                                    // Where the manifest and the file's
                                    // properties agree it belongs.
                                    keyspace: meta.keyspace,
                                    file_number: n,
                                    file_size: reader.data().len() as u64,
                                    smallest_key: p.smallest_key.clone(),
                                    largest_key: p.largest_key.clone(),
                                    smallest_seq: p.smallest_seq,
                                    largest_seq: p.largest_seq,
                                    entry_count: p.entry_count,
                                    tombstone_count: p.tombstone_count,
                                    blob_refs,
                                },
                            ));
                            if !reader.range_tombstones().is_empty() {
                                base_range_tombstones.push(reader.range_tombstones().clone());
                            }
                            base_readers.push(reader);
                            report.kept_segments += 1;
                        }
                        Scanned::Damaged(mut s) => {
                            rebuild = true;
                            let count = s.entry_count.unwrap_or(meta.entry_count);
                            let broken = blob_files.drop_broken(meta.keyspace, &mut s.items);
                            let mut f = FileFinding::new(
                                name.clone(),
                                FileStatus::Damaged,
                                format!(
                                    "{} of {} data blocks unreadable{} ({})",
                                    s.blocks.1,
                                    s.blocks.0,
                                    range_block_note(s.range_tombstones.as_ref()),
                                    s.problem
                                ),
                            );
                            f.level = Some(level);
                            f.salvaged_entries = s.items.len() as u64;
                            f.lost = Loss {
                                key_ranges: s.lost_ranges,
                                entries: Some(count.saturating_sub(s.items.len() as u64)),
                                ..Loss::default()
                            };
                            if broken.entries > 0 {
                                f.detail = format!("{}; {}", f.detail, broken.note());
                                f.lost.key_ranges.extend(broken.keys.iter().cloned());
                                add_losses(&mut blob_losses, &broken);
                            }
                            let range_tombstones = match s.range_tombstones {
                                Some(t) => t,
                                None => {
                                    f.lost.range_deletes = whole.key_ranges.clone();
                                    Fragments::new()
                                }
                            };
                            if let Some((_, hi)) = range_tombstones.seq_range() {
                                seen_seq = seen_seq.max(hi);
                                base_max_seq = base_max_seq.max(hi);
                                base_range_tombstones.push(range_tombstones.clone());
                            }
                            for item in &s.items {
                                seen_seq = seen_seq.max(item.seq);
                                base_max_seq = base_max_seq.max(item.seq);
                                let newest = base_salvaged.entry(item.key.clone()).or_insert(0);
                                *newest = (*newest).max(item.seq);
                            }
                            report.files.push(f);
                            listed.push(Listed::Salvaged(
                                level,
                                meta.keyspace,
                                s.items,
                                range_tombstones,
                            ));
                        }
                        Scanned::Unreadable(why) => {
                            rebuild = true;
                            let mut f = FileFinding::new(name, FileStatus::Unreadable, why);
                            f.level = Some(level);
                            f.lost = whole;
                            report.files.push(f);
                        }
                    }
                }
            }
        }

        // Segments the manifest does not list (and does not record dead).
        let mut sources = scan_unlisted(
            fs,
            dir,
            listing,
            state.as_ref(),
            &listed_numbers,
            &mut report,
            &mut rebuild,
        )?;
        // Their pointer entries whose values cannot be read are lost, as an
        // unreadable block's entries are.
        for source in &mut sources {
            let broken = blob_files.drop_broken(DEFAULT_KEYSPACE, &mut source.items);
            if broken.entries == 0 {
                continue;
            }
            rebuild = true;
            source.sound = false;
            add_losses(&mut blob_losses, &broken);
            if let Some(f) = source.finding.and_then(|i| report.files.get_mut(i)) {
                f.status = FileStatus::Damaged;
                f.detail = format!("{}; {}", f.detail, broken.note());
                f.lost.key_ranges.extend(broken.keys.iter().cloned());
                f.lost.entries = Some(f.lost.entries.unwrap_or(0) + broken.entries);
            }
        }

        // WALs from `log_number` on (every WAL when no manifest state is readable).
        let log_number = state.as_ref().map_or(0, |s| s.log_number);
        let live: Vec<u64> = listing
            .wals
            .iter()
            .copied()
            .filter(|&n| n >= log_number)
            .collect();
        let mut floor = base_max_seq + 1;
        // The oldest live WAL is gone: while newer ones exist, or alone when its number
        // was handed out (a number from `next_file_number` on was never created: a
        // checkpoint or a repair names one).
        let next_file_number = state.as_ref().map_or(0, |s| s.next_file_number);
        let gone = live
            .first()
            .map_or(log_number < next_file_number, |&n| n != log_number);
        if state.is_some() && gone {
            let mut f = FileFinding::new(
                wal_name(log_number),
                FileStatus::Missing,
                "the manifest names it as the oldest live WAL; the directory lacks it".into(),
            );
            f.lost.sequences.push(SeqRange::new(floor, None));
            f.lost.entries = None;
            report.files.push(f);
            rebuild = true;
        }
        let mut scans = Vec::new();
        for &n in &live {
            let path = wal_path(dir, n);
            let data = fs.read(&path).map_err(|e| Error::io(&path, e))?;
            let refused = lsm_format::wal::replay_wal(&data).is_err();
            let scanned = wal::scan(data);
            if let Some(keyspace) = scanned.as_ref().ok().and_then(|s| s.other_keyspace) {
                return Err(other_keyspace(&path, keyspace));
            }
            scans.push((n, refused, scanned));
        }
        let mut missing_wal_end: Option<usize> = report
            .files
            .last()
            .filter(|f| f.status == FileStatus::Missing && f.file.ends_with(".wal"))
            .map(|_| report.files.len() - 1);
        for (i, (n, refused, scanned)) in scans.iter().enumerate() {
            let first_seq = |s: &wal::WalScan| s.batches.first().map(|b| b.first_seq);
            let this_first = scanned.as_ref().ok().and_then(first_seq);
            if let (Some(at), Some(first)) = (missing_wal_end.take(), this_first) {
                if let Some(f) = report.files.get_mut(at) {
                    f.lost.sequences = vec![SeqRange::new(floor, Some(first.saturating_sub(1)))];
                    f.lost.entries = Some(first.saturating_sub(floor));
                }
            }
            let ceiling = scans
                .get(i + 1)
                .and_then(|(_, _, s)| s.as_ref().ok().and_then(first_seq))
                .map(|f| f.saturating_sub(1));
            let newest = i + 1 == scans.len();
            let name = wal_name(*n);
            let finding = report.files.len();
            match scanned {
                Err(why) => {
                    rebuild = true;
                    let mut f = FileFinding::new(name, FileStatus::Unreadable, why.clone());
                    f.lost.sequences.push(SeqRange::new(floor, ceiling));
                    f.lost.entries = ceiling.map(|c| (c + 1).saturating_sub(floor));
                    report.files.push(f);
                }
                Ok(s) => {
                    let lost = s.lost_sequences(floor, ceiling);
                    if let Some((_, what)) = &s.damage {
                        rebuild |= *refused || !newest || s.read_after_damage();
                        let status = if s.batches.is_empty() {
                            FileStatus::Unreadable
                        } else {
                            FileStatus::Damaged
                        };
                        let mut f = FileFinding::new(name, status, what.clone());
                        f.salvaged_entries = s.ops();
                        f.lost.entries = lost.iter().map(SeqRange::len).sum();
                        f.lost.sequences = lost;
                        report.files.push(f);
                    }
                    // A range delete's key is its start, its value its end.
                    let (deletes, items): (Vec<Item>, Vec<Item>) = s
                        .batches
                        .iter()
                        .flat_map(|b| b.items.iter().cloned())
                        .partition(|i| i.kind == EntryKind::RangeDelete);
                    let range_tombstones = deletes
                        .into_iter()
                        .map(|d| RangeTombstone::new(d.key, d.value, d.seq))
                        .collect();
                    if let Some(last) = s.last_seq() {
                        seen_seq = seen_seq.max(last);
                        floor = last + 1;
                    }
                    sources.push(Source {
                        finding: s.damage.is_some().then_some(finding),
                        items,
                        range_tombstones,
                        sound: true,
                    });
                }
            }
        }

        let base_range_tombstones = Fragments::merge(&base_range_tombstones);
        let base = Base {
            readers: &base_readers,
            salvaged: &base_salvaged,
            range_tombstones: &base_range_tombstones,
            max_seq: base_max_seq,
        };
        let chosen = choose(dir, &sources, &base)?;
        let mut restore = chosen.entries;
        seen_seq = seen_seq.max(
            sources
                .iter()
                .flat_map(|s| {
                    let entries = s.items.iter().map(|i| i.seq);
                    entries.chain(s.range_tombstones.iter().map(|t| t.seq))
                })
                .max()
                .unwrap_or(0),
        );
        for (source, &(count, deletes)) in sources.iter().zip(&chosen.contributed) {
            let Some(f) = source.finding.and_then(|i| report.files.get_mut(i)) else {
                continue;
            };
            let what = match deletes {
                0 => format!("{count} entries"),
                n => format!("{count} entries and {n} range tombstones"),
            };
            if f.status == FileStatus::Redundant && count + deletes > 0 {
                f.status = FileStatus::Restored;
                f.detail =
                    format!("not listed in the manifest; {what} found nowhere else are restored");
                f.salvaged_entries = count;
                rebuild = true;
            } else if !source.sound || f.file.ends_with(".wal") {
                f.detail = format!("{}; {what} restored", f.detail);
            }
        }
        // The blob files the rebuilt segments point into, and the findings of the
        // others (`blobs.rs`).
        let mut referenced: BTreeSet<u64> = BTreeSet::new();
        for listed in &listed {
            match listed {
                Listed::Kept(_, meta) => {
                    referenced.extend(meta.blob_refs.iter().map(|r| r.blob_file));
                }
                Listed::Salvaged(_, _, items, _) => {
                    let refs = blobs::blob_refs(items);
                    referenced.extend(refs.iter().map(|r| r.blob_file));
                }
            }
        }
        let refs = blobs::blob_refs(&restore);
        referenced.extend(refs.iter().map(|r| r.blob_file));
        let blob_metas: Vec<BlobFileMeta> = (referenced.iter())
            .filter_map(|&n| blob_files.meta(n))
            .collect();
        rebuild |= blob_findings(
            &mut report,
            listing,
            state.as_ref(),
            &blob_files,
            &blob_losses,
            &referenced,
            rebuild,
        );
        // With nothing to rebuild, unlisted redundant segments are what open removes
        // anyway: not findings.
        if !rebuild {
            report.files.retain(|f| f.status != FileStatus::Redundant);
        }
        report.files.sort_by(|a, b| a.file.cmp(&b.file));

        let mut last_seq = seen_seq;
        if !restore.is_empty() {
            let min = restore.iter().map(|i| i.seq).min().unwrap_or(0);
            if min <= base_max_seq {
                for (item, seq) in restore.iter_mut().zip(seen_seq + 1..) {
                    item.seq = seq;
                    last_seq = seq;
                }
            }
        }
        // Range tombstones keep their numbers, unless they are not above the base's:
        // then, the keys the base holds newer versions of cut out, they hide the same
        // versions under new numbers (`range_tombstones.rs`).
        let mut renumbered: BTreeMap<u64, u64> = BTreeMap::new();
        let mut range_tombstones = chosen.range_tombstones;
        for mut t in chosen.renumber {
            let next = last_seq + 1;
            let seq = *renumbered.entry(t.seq).or_insert(next);
            last_seq = last_seq.max(seq);
            t.seq = seq;
            range_tombstones.push(t);
        }
        report.restored_range_tombstones =
            chosen.contributed.iter().map(|&(_, deletes)| deletes).sum();
        report.restored_entries = restore.len() as u64;
        report.last_sequence = last_seq;
        report.rebuilt = rebuild;

        let mut plan = Plan {
            report,
            state,
            listed,
            restore,
            restore_range_tombstones: Fragments::from_tombstones(range_tombstones),
            moves: Vec::new(),
            manifest_copy: None,
            last_seq,
            blob_files: blob_metas,
        };
        if rebuild {
            plan.plan_moves(fs, dir);
        }
        Ok(plan)
    }

    /// Chooses a free name in `lost/` for every file set aside.
    fn plan_moves(&mut self, fs: &FsRef, dir: &Path) {
        let lost = dir.join(LOST_DIR);
        let mut taken: Vec<String> = Vec::new();
        let mut free = |name: &str| {
            let mut candidate = name.to_string();
            let mut i = 1;
            while taken.contains(&candidate) || fs.exists(&lost.join(&candidate)) {
                candidate = format!("{name}.{i}");
                i += 1;
            }
            taken.push(candidate.clone());
            format!("{LOST_DIR}/{candidate}")
        };
        if matches!(self.report.manifest, ManifestFinding::Damaged { .. }) {
            self.manifest_copy = Some(free(MANIFEST));
        }
        for f in &mut self.report.files {
            if f.status == FileStatus::Missing {
                continue;
            }
            let to = free(&f.file);
            self.moves.push((f.file.clone(), to.clone()));
            f.moved_to = Some(to);
        }
    }

    /// The names the new segments would get (a dry run writes none): one per
    /// salvaged segment with entries and one for the restored entries. An estimate
    /// when a salvaged file exceeds the segment size.
    pub(super) fn planned_new_segments(&self, listing: &Listing) -> Vec<String> {
        let salvaged = self
            .listed
            .iter()
            .filter(|l| {
                matches!(l, Listed::Salvaged(_, _, items, t) if !items.is_empty() || !t.is_empty())
            })
            .count();
        let restored = !self.restore.is_empty() || !self.restore_range_tombstones.is_empty();
        let count = salvaged + usize::from(restored);
        (self.first_new_number(listing)..)
            .take(count)
            .map(segment_name)
            .collect()
    }

    /// The first file number the repair may use: above every number in the directory
    /// and every number the manifest handed out.
    pub fn first_new_number(&self, listing: &Listing) -> u64 {
        let manifest_next = self.state.as_ref().map_or(0, |s| s.next_file_number);
        (listing.max_number + 1).max(manifest_next).max(1)
    }
}

/// Adds the pointer entries `broken` dropped to `losses`, by blob file.
fn add_losses(losses: &mut BTreeMap<u64, u64>, broken: &blobs::Broken) {
    for (&n, &count) in &broken.files {
        *losses.entry(n).or_default() += count;
    }
}

/// Adds the findings of the blob files: missing ones (that the old manifest lists
/// or that pointer entries name), damaged ones, and, when the manifest is
/// rebuilt, usable ones no rebuilt segment points into (set aside: never deleted
/// unless the old manifest recorded them dead). Returns whether one needs a
/// rebuild.
fn blob_findings(
    report: &mut RepairReport,
    listing: &Listing,
    state: Option<&ManifestState>,
    blob_files: &BlobFiles,
    losses: &BTreeMap<u64, u64>,
    referenced: &BTreeSet<u64>,
    rebuild: bool,
) -> bool {
    let mut needs_rebuild = false;
    let pointed = |n: u64| match losses.get(&n) {
        Some(count) => format!("; {count} pointer entries into it lost their values"),
        None => "; no segment kept points into it".to_string(),
    };
    let listed_live = state.map(|s| s.blob_files.keys().copied().collect::<Vec<_>>());
    let mut missing: Vec<u64> = losses.keys().copied().filter(|&n| n != 0).collect();
    missing.extend(listed_live.iter().flatten().copied());
    missing.sort_unstable();
    missing.dedup();
    for n in missing {
        if listing.blobs.binary_search(&n).is_ok() {
            continue;
        }
        needs_rebuild = true;
        let mut f = FileFinding::new(
            blob_name(n),
            FileStatus::Missing,
            format!(
                "a blob file the manifest or pointer entries name, not in the directory{}",
                pointed(n)
            ),
        );
        f.lost.entries = Some(losses.get(&n).copied().unwrap_or(0));
        report.files.push(f);
    }
    for (&n, why) in &blob_files.damaged {
        needs_rebuild = true;
        let mut f = FileFinding::new(
            blob_name(n),
            FileStatus::Damaged,
            format!("blob file does not verify ({why}){}", pointed(n)),
        );
        f.lost.entries = Some(losses.get(&n).copied().unwrap_or(0));
        report.files.push(f);
    }
    if !(rebuild || needs_rebuild) {
        return false;
    }
    for &n in &listing.blobs {
        let dead = state.is_some_and(|s| s.is_obsolete(n));
        if dead || !blob_files.is_usable(n) || referenced.contains(&n) {
            continue;
        }
        report.files.push(FileFinding::new(
            blob_name(n),
            FileStatus::Redundant,
            "no segment the rebuilt manifest lists points into it".into(),
        ));
    }
    needs_rebuild
}

/// The refusal of a file holding data of a keyspace other than 0 that the repair
/// would have to restore: it rebuilds keyspace 0 only, and misplacing data in
/// another keyspace, or dropping it, is not a repair.
pub(super) fn other_keyspace(path: &Path, keyspace: KeyspaceId) -> Error {
    Error::Corruption {
        file: path.to_path_buf(),
        offset: 0,
        reason: format!(
            "holds data of keyspace {keyspace} that is in no segment the manifest lists; \
             repair restores only keyspace 0 and changed nothing"
        ),
    }
}

/// The bytes of a segment file: mapped when the file system maps it, read otherwise
/// (an empty file cannot be mapped).
fn read_bytes(fs: &FsRef, path: &Path) -> Result<Bytes> {
    match fs.map(path) {
        Ok(m) => Ok(m.bytes),
        Err(_) => fs
            .read(path)
            .map(Bytes::from)
            .map_err(|e| Error::io(path, e)),
    }
}

/// The words a damaged segment's finding adds about its range-tombstone block.
fn range_block_note(range_tombstones: Option<&Fragments>) -> &'static str {
    match range_tombstones {
        Some(_) => "",
        None => ", its range-tombstone block too",
    }
}
