//! Which entries of WALs and unlisted segments a repair restores.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bytes::Bytes;
use lsm_format::{SegmentReader, MAX_SEQUENCE};

use super::Source;
use crate::error::{Error, Result};
use crate::repair::salvage::Item;

/// The candidates to restore: the newest entry of each key among `sources`, kept
/// when it is newer than every version the base (`readers`, `salvaged`: the newest
/// sequence number of each key of the salvaged segments) holds. Returns them in key
/// order, and how many each source gave.
pub(super) fn choose(
    dir: &Path,
    sources: &[Source],
    readers: &[SegmentReader],
    salvaged: &HashMap<Bytes, u64>,
) -> Result<(Vec<Item>, Vec<u64>)> {
    // Candidates: the newest entry of each key among the sources, kept when it is
    // newer than every version the base holds.
    let mut newest: BTreeMap<Bytes, (usize, usize)> = BTreeMap::new();
    for (si, source) in sources.iter().enumerate() {
        for (ii, item) in source.items.iter().enumerate() {
            let slot = newest.entry(item.key.clone()).or_insert((si, ii));
            let held = sources
                .get(slot.0)
                .and_then(|s| s.items.get(slot.1))
                .map_or(0, |i| i.seq);
            if item.seq > held {
                *slot = (si, ii);
            }
        }
    }
    let mut restore = Vec::new();
    let mut contributed = vec![0u64; sources.len()];
    for (key, (si, ii)) in newest {
        let Some(item) = sources.get(si).and_then(|s| s.items.get(ii)) else {
            continue;
        };
        let mut base: Option<u64> = salvaged.get(&key).copied();
        for reader in readers {
            let found = reader
                .get(&key, MAX_SEQUENCE)
                .map_err(|e| Error::from_format(dir, e))?;
            if let Some(e) = found {
                base = Some(base.map_or(e.seq, |b| b.max(e.seq)));
            }
        }
        if base.is_none_or(|b| item.seq > b) {
            if let Some(c) = contributed.get_mut(si) {
                *c += 1;
            }
            restore.push(item.clone());
        }
    }
    Ok((restore, contributed))
}
