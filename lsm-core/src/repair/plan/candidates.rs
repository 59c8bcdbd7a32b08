//! Which entries and range tombstones of WALs and unlisted segments a repair
//! restores.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bytes::Bytes;
use lsm_format::range_del::{Fragments, RangeTombstone};
use lsm_format::{SegmentReader, MAX_SEQUENCE};

use super::range_tombstones::cut_out;
use super::Source;
use crate::error::{Error, Result};
use crate::repair::salvage::Item;

/// What the base holds: the segments kept as they are, the newest sequence number of
/// each key of the salvaged segments, every range tombstone of both, and the largest
/// sequence number of all.
pub(super) struct Base<'a> {
    pub readers: &'a [SegmentReader],
    pub salvaged: &'a HashMap<Bytes, u64>,
    pub range_tombstones: &'a Fragments,
    pub max_seq: u64,
}

/// What a repair restores.
pub(super) struct Chosen {
    /// The newest entry of each key among the sources that is newer than every
    /// version the base holds and that no range tombstone deletes, in key order.
    pub entries: Vec<Item>,
    /// Range tombstones no base segment holds, newer than every version the base
    /// holds of every key they cover: they keep their numbers.
    pub range_tombstones: Vec<RangeTombstone>,
    /// Range tombstones no base segment holds whose numbers are not above the
    /// base's, with the keys the base holds a newer version of cut out: they get new
    /// numbers (`range_tombstones.rs`).
    pub renumber: Vec<RangeTombstone>,
    /// Per source: entries and range tombstones it gave.
    pub contributed: Vec<(u64, u64)>,
}

/// Chooses what to restore from `sources` over `base` (see the module documentation
/// of `repair`).
pub(super) fn choose(dir: &Path, sources: &[Source], base: &Base<'_>) -> Result<Chosen> {
    let mut contributed = vec![(0u64, 0u64); sources.len()];

    // Range tombstones: each one no base segment (nor an earlier source) holds.
    let mut held = base.range_tombstones.clone();
    let mut restored: Vec<RangeTombstone> = Vec::new();
    for (source, count) in sources.iter().zip(&mut contributed) {
        let new: Vec<RangeTombstone> = source
            .range_tombstones
            .iter()
            .filter(|t| !held.holds(t))
            .cloned()
            .collect();
        count.1 = new.len() as u64;
        held = Fragments::merge([&held, &Fragments::from_tombstones(new.iter().cloned())]);
        restored.extend(new);
    }
    // `held` is now every range tombstone the repaired database holds.

    // Entries: the newest of each key among the sources, kept when it is newer than
    // every version the base holds and no range tombstone newer than it covers it
    // (a deleted entry must not come back: restored under a new number, above the
    // tombstone, it would).
    let mut newest: BTreeMap<Bytes, (usize, usize)> = BTreeMap::new();
    for (si, source) in sources.iter().enumerate() {
        for (ii, item) in source.items.iter().enumerate() {
            let slot = newest.entry(item.key.clone()).or_insert((si, ii));
            let best = sources
                .get(slot.0)
                .and_then(|s| s.items.get(slot.1))
                .map_or(0, |i| i.seq);
            if item.seq > best {
                *slot = (si, ii);
            }
        }
    }
    let mut entries = Vec::new();
    for (key, (si, ii)) in newest {
        let Some(item) = sources.get(si).and_then(|s| s.items.get(ii)) else {
            continue;
        };
        if held
            .covering_seq(&key, MAX_SEQUENCE)
            .is_some_and(|t| t > item.seq)
        {
            continue;
        }
        let mut in_base: Option<u64> = base.salvaged.get(&key).copied();
        for reader in base.readers {
            let found = reader
                .get(&key, MAX_SEQUENCE)
                .map_err(|e| Error::from_format(dir, e))?;
            if let Some(e) = found {
                in_base = Some(in_base.map_or(e.seq, |b| b.max(e.seq)));
            }
        }
        if in_base.is_none_or(|b| item.seq > b) {
            if let Some(c) = contributed.get_mut(si) {
                c.0 += 1;
            }
            entries.push(item.clone());
        }
    }

    let (low, range_tombstones): (Vec<_>, Vec<_>) =
        restored.into_iter().partition(|t| t.seq <= base.max_seq);
    let renumber = if low.is_empty() {
        Vec::new()
    } else {
        let newest = newest_versions(dir, &low, &entries, base)?;
        low.iter().flat_map(|t| cut_out(t, &newest)).collect()
    };
    Ok(Chosen {
        entries,
        range_tombstones,
        renumber,
        contributed,
    })
}

/// The newest sequence number of every key in the range of some tombstone of `low`
/// that the base or the restored `entries` hold a version of.
fn newest_versions(
    dir: &Path,
    low: &[RangeTombstone],
    entries: &[Item],
    base: &Base<'_>,
) -> Result<BTreeMap<Bytes, u64>> {
    let ranges = Fragments::from_tombstones(low.iter().cloned());
    let oldest = low.iter().map(|t| t.seq).min().unwrap_or(0);
    let mut newest: BTreeMap<Bytes, u64> = BTreeMap::new();
    let mut note = |key: &Bytes, seq: u64| {
        if seq > oldest && ranges.find(key).is_some() {
            let slot = newest.entry(key.clone()).or_insert(seq);
            *slot = (*slot).max(seq);
        }
    };
    for item in entries {
        note(&item.key, item.seq);
    }
    for (key, &seq) in base.salvaged {
        note(key, seq);
    }
    for reader in base.readers {
        let p = reader.properties();
        if p.largest_seq <= oldest || !ranges.overlaps(&p.smallest_key, &p.largest_key) {
            continue;
        }
        for e in reader.entries() {
            let e = e.map_err(|e| Error::from_format(dir, e))?;
            note(&e.key, e.seq);
        }
    }
    Ok(newest)
}
