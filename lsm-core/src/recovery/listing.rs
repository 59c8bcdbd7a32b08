//! What a database directory holds, by file name (`docs/format.md` section 2).

use std::path::Path;

use crate::error::{Error, Result};
use crate::filenames::{classify, FileKind};
use crate::fs::FsRef;

/// The files of a database directory, sorted by number within each kind.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub segments: Vec<u64>,
    pub wals: Vec<u64>,
    pub blobs: Vec<u64>,
    pub manifest: bool,
    /// Temporary files (`*.tmp`): never live, a crash interrupted their writing.
    pub temps: Vec<String>,
    /// Largest file number seen, temporary files included (numbers are never
    /// reused, not even those of files a crash left half-written).
    pub max_number: u64,
}

impl Listing {
    /// Lists `dir`. Reads only: nothing is removed here.
    ///
    /// # Errors
    /// `Io` when the directory cannot be listed.
    pub fn read(fs: &FsRef, dir: &Path) -> Result<Listing> {
        let mut listing = Listing::default();
        for name in fs.list(dir).map_err(|e| Error::io(dir, e))? {
            match classify(&name) {
                FileKind::Temp => {
                    if let Some(n) = FileKind::number_in(&name) {
                        listing.max_number = listing.max_number.max(n);
                    }
                    listing.temps.push(name);
                }
                FileKind::Segment(n) => listing.segments.push(n),
                FileKind::Wal(n) => listing.wals.push(n),
                FileKind::Manifest => listing.manifest = true,
                FileKind::Blob(n) => listing.blobs.push(n),
                FileKind::Lock | FileKind::Other => {}
            }
        }
        listing.segments.sort_unstable();
        listing.wals.sort_unstable();
        listing.blobs.sort_unstable();
        listing.temps.sort_unstable();
        let max = (listing.segments.iter())
            .chain(&listing.wals)
            .chain(&listing.blobs)
            .copied()
            .max();
        listing.max_number = listing.max_number.max(max.unwrap_or(0));
        Ok(listing)
    }
}
