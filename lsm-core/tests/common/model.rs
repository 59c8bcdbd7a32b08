//! The oracle: a `BTreeMap` of the live keys, and helpers to compare a database
//! (or a snapshot) with it.

use std::collections::BTreeMap;
use std::ops::Bound;

use lsm_core::{Db, Scan};

use super::filter::TestFilter;
use super::keys::show;

/// The expected live keys and values (the crash oracle's type).
pub use lsm_core::fuzzing::Map;

/// A list of `(key, value)` pairs as read from a scan.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// True when `key` lies within the bounds.
pub fn in_range(key: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    let above = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
    };
    let below = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => key <= h.as_slice(),
        Bound::Excluded(h) => key < h.as_slice(),
    };
    above && below
}

/// The model's pairs within the bounds, ascending. Unlike `BTreeMap::range` it accepts
/// inverted or empty bounds (and yields nothing for them).
pub fn range(map: &Map, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Pairs {
    map.iter()
        .filter(|(k, _)| in_range(k, lo, hi))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The model's pairs whose key starts with `prefix`, ascending.
pub fn prefix(map: &Map, prefix: &[u8]) -> Pairs {
    map.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The range a scan of `lo..hi` reads after `Scan::seek(target)` (or with `back`,
/// `Scan::seek_for_prev(target)`): narrowed to start (end) at `target` when it lies
/// past that end of the range.
pub fn seek_window(
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
    target: &[u8],
    back: bool,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let at = Bound::Included(target.to_vec());
    if back {
        let beyond = match hi {
            Bound::Included(h) => target > h.as_slice(),
            Bound::Excluded(h) => target >= h.as_slice(),
            Bound::Unbounded => false,
        };
        (lo.clone(), if beyond { hi.clone() } else { at })
    } else {
        let before = match lo {
            Bound::Included(l) => target < l.as_slice(),
            Bound::Excluded(l) => target <= l.as_slice(),
            Bound::Unbounded => false,
        };
        (if before { lo.clone() } else { at }, hi.clone())
    }
}

/// How a scan is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `next` until exhausted.
    Forward,
    /// `next_back` until exhausted.
    Reverse,
    /// Alternately from both ends, `next` when the bit of the pattern for this step
    /// is 1 (cycling through its 32 bits), until the two ends meet.
    Mixed(u32),
}

/// Drains `scan` in `dir` and returns the pairs in ascending key order (pairs taken
/// from the back are put back in place), so the result compares directly with
/// [`range`]. The first error is returned; the scan must then yield nothing more.
pub fn collect(mut scan: Scan, dir: Direction) -> Result<Pairs, lsm_core::Error> {
    drain(&mut scan, dir)
}

/// [`collect`] of a scan kept for later use (a seek can reposition it).
pub fn drain(scan: &mut Scan, dir: Direction) -> Result<Pairs, lsm_core::Error> {
    let mut front = Vec::new();
    let mut back = Vec::new();
    let mut step = 0u32;
    loop {
        let from_front = match dir {
            Direction::Forward => true,
            Direction::Reverse => false,
            Direction::Mixed(p) => p.rotate_right(step % 32) & 1 == 1,
        };
        step = step.wrapping_add(1);
        let item = if from_front {
            scan.next()
        } else {
            scan.next_back()
        };
        match item {
            None => break,
            Some(Ok((k, v))) => {
                let pair = (k.to_vec(), v.to_vec());
                if from_front {
                    front.push(pair);
                } else {
                    back.push(pair);
                }
            }
            Some(Err(e)) => {
                assert!(
                    scan.next().is_none() && scan.next_back().is_none(),
                    "a scan yielded more after an error ({e})"
                );
                return Err(e);
            }
        }
    }
    back.reverse();
    front.extend(back);
    Ok(front)
}

/// A readable difference between two pair lists (the first keys that differ), or
/// `None` when they are equal.
pub fn diff(got: &Pairs, want: &Pairs) -> Option<String> {
    if got == want {
        return None;
    }
    let g: BTreeMap<&[u8], &[u8]> = got
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let w: BTreeMap<&[u8], &[u8]> = want
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let mut lines = Vec::new();
    if g.len() != got.len() {
        lines.push("the scan yielded a key twice".to_string());
    }
    let order_ok = got.windows(2).all(|p| p[0].0 < p[1].0);
    if !order_ok && g.len() == got.len() {
        lines.push("the scan is out of order".to_string());
    }
    for key in g
        .keys()
        .chain(w.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (g.get(key), w.get(key)) {
            (Some(a), Some(b)) if a != b => {
                lines.push(format!("{}: got {}, want {}", show(key), show(a), show(b)))
            }
            (Some(a), None) => lines.push(format!("{}: got {}, want nothing", show(key), show(a))),
            (None, Some(b)) => lines.push(format!("{}: missing, want {}", show(key), show(b))),
            _ => {}
        }
        if lines.len() >= 8 {
            lines.push("...".into());
            break;
        }
    }
    Some(format!(
        "got {} pairs, want {}: {}",
        got.len(),
        want.len(),
        lines.join("; ")
    ))
}

/// Checks a read-only view (or any reader given by its full scan and its `get`)
/// against the model: a forward and a reverse full scan, and a `get` of every key of
/// `probe`.
///
/// Under a `filter`, differences the filter explains are accepted.
pub fn check_view(
    scan: Scan,
    get: impl Fn(&[u8]) -> lsm_core::Result<Option<lsm_core::Bytes>>,
    map: &Map,
    probe: &[Vec<u8>],
    filter: Option<&TestFilter>,
) -> Result<(), String> {
    let all: Pairs = range(map, &Bound::Unbounded, &Bound::Unbounded);
    let forward =
        collect(scan, Direction::Forward).map_err(|e| format!("full scan failed: {e}"))?;
    let forward = loosen(filter, forward, &all);
    if let Some(d) = diff(&forward, &all) {
        return Err(format!("full scan differs from the model: {d}"));
    }
    for k in probe {
        let got = get(k).map_err(|e| format!("get {} failed: {e}", show(k)))?;
        if !accepts(filter, k, map.get(k).map(Vec::as_slice), got.as_deref()) {
            return Err(format!(
                "get {}: got {:?}, want {:?}",
                show(k),
                got.as_deref().map(show),
                map.get(k).map(|v| show(v))
            ));
        }
    }
    Ok(())
}

/// Checks a whole database against the model: a forward and a reverse full scan, and
/// a `get` of every key of `probe` (which should include absent keys).
pub fn check_db(db: &Db, map: &Map, probe: &[Vec<u8>]) -> Result<(), String> {
    check_db_with(db, map, probe, None)
}

/// [`check_db`], accepting under a `filter` the differences it explains.
pub fn check_db_with(
    db: &Db,
    map: &Map,
    probe: &[Vec<u8>],
    filter: Option<&TestFilter>,
) -> Result<(), String> {
    let all: Pairs = range(map, &Bound::Unbounded, &Bound::Unbounded);
    for dir in [Direction::Forward, Direction::Reverse] {
        let got = collect(db.scan::<Vec<u8>, _>(..), dir)
            .map_err(|e| format!("full scan {dir:?} failed: {e}"))?;
        let got = loosen(filter, got, &all);
        if let Some(d) = diff(&got, &all) {
            return Err(format!("full scan {dir:?} differs from the model: {d}"));
        }
    }
    for k in probe {
        let got = db
            .get(k)
            .map_err(|e| format!("get {} failed: {e}", show(k)))?;
        let want = map.get(k);
        if !accepts(filter, k, want.map(Vec::as_slice), got.as_deref()) {
            return Err(format!(
                "get {}: got {:?}, want {:?}",
                show(k),
                got.as_deref().map(show),
                want.map(|v| show(v))
            ));
        }
    }
    Ok(())
}

fn accepts(filter: Option<&TestFilter>, k: &[u8], want: Option<&[u8]>, got: Option<&[u8]>) -> bool {
    match filter {
        Some(f) => f.accepts(k, want, got),
        None => got == want,
    }
}

fn loosen(filter: Option<&TestFilter>, got: Pairs, want: &Pairs) -> Pairs {
    match filter {
        Some(f) => f.loosen(&got, want),
        None => got,
    }
}
