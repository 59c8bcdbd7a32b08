//! The base state of a repair: the manifest's records up to any damage.

use std::path::Path;

use lsm_format::manifest::{walk_manifest, ManifestState};

use crate::error::{Error, Result};
use crate::filenames::MANIFEST;
use crate::fs::FsRef;
use crate::recovery::listing::Listing;
use crate::repair::report::{ManifestFinding, RepairReport};

/// Walks the manifest leniently: its state up to any damage (`None` when nothing of
/// it is readable or there is none), its finding in `report`.
pub(super) fn read_manifest(
    fs: &FsRef,
    dir: &Path,
    listing: &Listing,
    report: &mut RepairReport,
    rebuild: &mut bool,
) -> Result<Option<ManifestState>> {
    let manifest_path = dir.join(MANIFEST);
    let state = if listing.manifest {
        let data = fs
            .read(&manifest_path)
            .map_err(|e| Error::io(&manifest_path, e))?;
        let walk = walk_manifest(&data);
        if let Some(v) = walk
            .violations
            .iter()
            .find(|v| matches!(v, lsm_format::Error::UnsupportedVersion { .. }))
        {
            return Err(Error::Corruption {
                file: manifest_path,
                offset: 0,
                reason: v.to_string(),
            });
        }
        if let Some(first) = walk.violations.first() {
            report.manifest = ManifestFinding::Damaged {
                problem: first.to_string(),
                records_used: walk.state.record_count,
            };
            *rebuild = true;
        }
        (walk.state.record_count > 0).then_some(walk.state)
    } else {
        report.manifest = ManifestFinding::Missing;
        *rebuild = true;
        None
    };
    Ok(state)
}
