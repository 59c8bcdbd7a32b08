//! Verifying one segment: `SegmentReader::open` checks the footer and the metadata
//! blocks, `SegmentReader::verify` (in `lsm-format`) walks every data block: checksums,
//! entry decoding, strict order, index agreement, Bloom filter, range-tombstone block,
//! properties.

use bytes::Bytes;
use lsm_format::{Properties, ReadOptions, SegmentReader};

use super::Report;
use crate::problem::Problem;

/// The metadata blocks every segment has: index, filter, properties.
const METADATA_BLOCKS: u64 = 3;

/// Verifies the segment `data` (named `name` in problems), adding to `report`.
/// Returns the properties when the file opened, for cross-checks with the manifest.
pub fn verify_segment(data: Bytes, name: &str, report: &mut Report) -> Option<Properties> {
    report.files_checked += 1;
    // The problems name the file; the reader's own messages need not.
    let options = ReadOptions::default();
    let reader = match SegmentReader::open(data, options) {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(Problem::from_format(name, &e));
            return None;
        }
    };
    let data_blocks = reader.index_entries().map_or(0, |i| i.len() as u64);
    let range_tombstones = reader.range_tombstones().tombstone_count();
    if range_tombstones > 0 {
        report.range_tombstones_checked += range_tombstones;
        report.segments_with_range_tombstones += 1;
    }
    report.blocks_checked += data_blocks + METADATA_BLOCKS;
    for p in reader.verify() {
        report
            .problems
            .push(Problem::at(name, p.offset, p.description));
    }
    Some(reader.properties().clone())
}
