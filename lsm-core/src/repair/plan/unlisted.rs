//! Segments the manifest does not list (nor records dead): each is a source of
//! candidates, judged by its contents (`salvage`), with its finding in the report.

use std::path::Path;

use lsm_format::manifest::ManifestState;

use super::{range_block_note, read_bytes, Source};
use crate::error::{Error, Result};
use crate::filenames::{segment_name, segment_path};
use crate::fs::FsRef;
use crate::recovery::listing::Listing;
use crate::repair::report::{FileFinding, FileStatus, Loss, RepairReport};
use crate::repair::salvage::{self, Item, Scanned};

/// Reads every segment of `listing` that `state` neither lists (`listed`) nor
/// records dead, adding its finding to `report`; sets `rebuild` for a damaged or
/// unreadable one. Returns the sources of candidates they give.
pub(super) fn scan_unlisted(
    fs: &FsRef,
    dir: &Path,
    listing: &Listing,
    state: Option<&ManifestState>,
    listed: &[u64],
    report: &mut RepairReport,
    rebuild: &mut bool,
) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    for &n in &listing.segments {
        let dead = state.is_some_and(|s| s.is_obsolete(n));
        if dead || listed.contains(&n) {
            continue;
        }
        let name = segment_name(n);
        let finding = report.files.len();
        match salvage::scan(read_bytes(fs, &segment_path(dir, n))?) {
            Scanned::Sound(reader) => {
                let keyspace = reader.properties().keyspace;
                if keyspace != 0 {
                    return Err(super::other_keyspace(&segment_path(dir, n), keyspace));
                }
                let mut items = Vec::new();
                for e in reader.entries() {
                    let e = e.map_err(|e| Error::from_format(segment_path(dir, n), e))?;
                    items.push(Item {
                        key: e.key,
                        seq: e.seq,
                        kind: e.kind,
                        value: e.value,
                    });
                }
                report.files.push(FileFinding::new(
                    name,
                    FileStatus::Redundant,
                    "not listed in the manifest".into(),
                ));
                sources.push(Source {
                    finding: Some(finding),
                    items,
                    range_tombstones: reader.range_tombstones().tombstones().collect(),
                    sound: true,
                });
            }
            Scanned::Damaged(s) => {
                *rebuild = true;
                let mut f = FileFinding::new(
                    name,
                    FileStatus::Damaged,
                    format!(
                        "not listed in the manifest; {} of {} data blocks unreadable{} ({})",
                        s.blocks.1,
                        s.blocks.0,
                        range_block_note(s.range_tombstones.as_ref()),
                        s.problem
                    ),
                );
                f.salvaged_entries = s.items.len() as u64;
                f.lost = Loss {
                    key_ranges: s.lost_ranges,
                    entries: s
                        .entry_count
                        .map(|c| c.saturating_sub(s.items.len() as u64)),
                    ..Loss::default()
                };
                let range_tombstones = match s.range_tombstones {
                    Some(t) => t.tombstones().collect(),
                    None => {
                        // The properties bound the file's range tombstones.
                        match s.bounds {
                            Some(bounds) => f.lost.range_deletes.push(bounds),
                            None => f.lost.keys_unknown = true,
                        }
                        Vec::new()
                    }
                };
                report.files.push(f);
                sources.push(Source {
                    finding: Some(finding),
                    items: s.items,
                    range_tombstones,
                    sound: false,
                });
            }
            Scanned::Unreadable(why) => {
                *rebuild = true;
                let mut f = FileFinding::new(
                    name,
                    FileStatus::Unreadable,
                    format!("not listed in the manifest; {why}"),
                );
                f.lost = Loss {
                    keys_unknown: true,
                    entries: None,
                    ..Loss::default()
                };
                report.files.push(f);
            }
        }
    }
    Ok(sources)
}
