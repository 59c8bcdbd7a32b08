//! A transaction's range iterator: the snapshot's [`Scan`] merged with the
//! transaction's own writes in the range, in key order, from both ends.
//!
//! Own entries win over the snapshot's version of the same key (a value replaces
//! it, a deletion hides it) and own range deletes hide the snapshot's keys they
//! cover. Each end keeps at most one snapshot pair it has read but not yet
//! yielded; when the scan is exhausted from one end, the pair held at the other
//! end is the last snapshot pair left, so the two ends meet without yielding a key
//! twice.

use bytes::Bytes;

use super::write_set::Overlay;
use crate::error::Result;
use crate::scan::Scan;

/// Iterator over the live `(key, value)` pairs of a range as a
/// [`Transaction`](crate::Transaction) sees them: its snapshot with its own
/// writes applied, in key order; `.rev()` walks it backwards, and both ends may be
/// used on one scan. It reads the transaction's writes as they were when the scan
/// was created. After an error it yields nothing more.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let db = lsm_core::Db::open(dir.path(), lsm_core::Options::default())?;
/// db.put("a", "1")?;
/// db.put("c", "3")?;
/// let mut txn = db.begin();
/// txn.put("b", "2")?;
/// txn.delete("c")?;
/// let keys = txn.scan::<&str, _>(..).map(|kv| kv.map(|(k, _)| k)).collect::<lsm_core::Result<Vec<_>>>()?;
/// assert_eq!(keys, ["a", "b"]);
/// let last = txn.scan::<&str, _>(..).next_back().transpose()?;
/// assert_eq!(last, Some(("b".into(), "2".into())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TransactionScan {
    snapshot: Scan,
    overlay: Overlay,
    /// The own entries not yet passed: `overlay.entries[lo..hi]`.
    lo: usize,
    hi: usize,
    front: Option<(Bytes, Bytes)>,
    back: Option<(Bytes, Bytes)>,
    done: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Front,
    Back,
}

impl TransactionScan {
    pub(crate) fn new(snapshot: Scan, overlay: Overlay) -> Self {
        let hi = overlay.entries.len();
        TransactionScan {
            snapshot,
            overlay,
            lo: 0,
            hi,
            front: None,
            back: None,
            done: false,
        }
    }

    /// Fills this end's snapshot slot with the next snapshot pair not hidden by
    /// an own range delete; `None` when no snapshot pair is left.
    fn fill(&mut self, end: End) -> Result<()> {
        loop {
            let slot = match end {
                End::Front => &self.front,
                End::Back => &self.back,
            };
            if slot.is_some() {
                return Ok(());
            }
            let next = match end {
                End::Front => self.snapshot.next(),
                End::Back => self.snapshot.next_back(),
            };
            let pair = match next {
                Some(item) => item?,
                // The scan is exhausted: the other end's pair is the last one.
                None => match end {
                    End::Front => match self.back.take() {
                        Some(p) => p,
                        None => return Ok(()),
                    },
                    End::Back => match self.front.take() {
                        Some(p) => p,
                        None => return Ok(()),
                    },
                },
            };
            let hidden = self
                .overlay
                .deleted
                .as_ref()
                .is_some_and(|d| d.contains(&pair.0));
            if !hidden {
                match end {
                    End::Front => self.front = Some(pair),
                    End::Back => self.back = Some(pair),
                }
            }
        }
    }

    fn step(&mut self, end: End) -> Option<Result<(Bytes, Bytes)>> {
        if self.done {
            return None;
        }
        loop {
            if let Err(e) = self.fill(end) {
                self.done = true;
                return Some(Err(e));
            }
            let own = match end {
                End::Front if self.lo < self.hi => self.overlay.entries.get(self.lo),
                End::Back if self.lo < self.hi => self
                    .hi
                    .checked_sub(1)
                    .and_then(|i| self.overlay.entries.get(i)),
                _ => None,
            };
            let snap = match end {
                End::Front => self.front.as_ref(),
                End::Back => self.back.as_ref(),
            };
            // Which comes first from this end: the own entry, the snapshot pair, or
            // both (same key: the own entry wins and the pair is dropped).
            let (take_own, take_snap) = match (own, snap) {
                (None, None) => {
                    self.done = true;
                    return None;
                }
                (Some(_), None) => (true, false),
                (None, Some(_)) => (false, true),
                (Some((ok, _)), Some((sk, _))) => {
                    let own_first = match end {
                        End::Front => ok <= sk,
                        End::Back => ok >= sk,
                    };
                    (own_first, ok == sk || !own_first)
                }
            };
            let pair = if take_snap {
                match end {
                    End::Front => self.front.take(),
                    End::Back => self.back.take(),
                }
            } else {
                None
            };
            if !take_own {
                return pair.map(Ok);
            }
            let entry = match end {
                End::Front => {
                    self.lo += 1;
                    self.overlay.entries.get(self.lo - 1)
                }
                End::Back => {
                    self.hi -= 1;
                    self.overlay.entries.get(self.hi)
                }
            };
            if let Some((k, Some(v))) = entry {
                return Some(Ok((k.clone(), v.clone())));
            }
            // An own deletion: yields nothing, and hid the pair of its key if any.
        }
    }
}

impl Iterator for TransactionScan {
    type Item = Result<(Bytes, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.step(End::Front)
    }
}

impl DoubleEndedIterator for TransactionScan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(End::Back)
    }
}

impl std::iter::FusedIterator for TransactionScan {}

impl std::fmt::Debug for TransactionScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionScan").finish_non_exhaustive()
    }
}
