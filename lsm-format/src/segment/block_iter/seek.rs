//! Seeking within a block (`docs/format.md` section 3.2): a binary search over the
//! restart points, whose full keys are compared, then a forward scan that compares
//! each entry's key delta with the target in place. A block just taken from a cache
//! is usually cold, so a seek first loads the cache lines its search will touch, all
//! at once.

use std::cmp::Ordering;

use crate::entry::{compare_internal, MAX_KEY_LEN};
use crate::error::Result;
use crate::segment::block_entry::mismatch;
use crate::segment::block_iter::BlockIter;

/// Restart entries a seek loads together before its binary search.
const MAX_WARMED_RESTARTS: usize = 32;
/// Bytes loaded at each restart entry: its header and a short key (a longer key's
/// tail is compared only when the prefix ties).
const WARMED_RESTART_BYTES: usize = 32;
/// Bytes past the restart run that a seek loads too, for the steps that follow it.
const WARM_TAIL: usize = 512;
/// The most bytes of a run a seek loads up front.
const MAX_WARMED_RUN: usize = 8 << 10;
/// The cache line size assumed for warming.
const LINE: usize = 64;

/// Reads one byte of every cache line of `data[range]` (clamped to `data`). The
/// loads do not depend on one another, so the CPU keeps them in flight together:
/// one memory latency for the whole range instead of one per line as a walk that
/// decodes each entry before it knows where the next starts. Returns the xor of
/// the bytes read, for `black_box`, so the reads are not optimised away.
#[inline]
pub(super) fn touch(data: &[u8], range: std::ops::Range<usize>) -> u8 {
    let end = range.end.min(data.len());
    let mut x = 0u8;
    let mut p = range.start;
    while p < end {
        x ^= data.get(p).copied().unwrap_or(0);
        p += LINE;
    }
    if end > range.start {
        x ^= data.get(end - 1).copied().unwrap_or(0);
    }
    x
}

impl<B: AsRef<[u8]> + Default> BlockIter<B> {
    /// Positions at the first entry at or after `(key, seq)` in internal order, or
    /// invalid when every entry is before it.
    pub fn seek(&mut self, key: &[u8], seq: u64) -> Result<()> {
        self.valid = false;
        if self.num_restarts == 0 {
            return Ok(());
        }
        self.guard(|s| {
            // A block just taken from the cache is usually cold: load the entries the
            // binary search may probe all at once, not one miss after another.
            let data = s.data.as_ref();
            let mut warm = 0u8;
            for i in 0..s.num_restarts.min(MAX_WARMED_RESTARTS) {
                warm ^= touch(data, s.restart(i)..s.restart(i) + WARMED_RESTART_BYTES);
            }
            std::hint::black_box(warm);
            // Invariant: restart `lo` is 0 or holds a key before the target; every
            // restart above `hi` holds a key at or after it.
            let (mut lo, mut hi) = (0, s.num_restarts - 1);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                let (k, tag) = s.restart_entry(mid)?;
                if compare_internal(k, tag >> 8, key, seq) == Ordering::Less {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            // The scan reads the entries from restart `lo` to the next restart, and
            // a cursor then usually steps a few entries further.
            let run_start = s.restart(lo);
            let run_end = if lo + 1 < s.num_restarts {
                s.restart(lo + 1)
            } else {
                s.entries_end
            };
            std::hint::black_box(touch(
                s.data.as_ref(),
                run_start..(run_end + WARM_TAIL).min(run_start + MAX_WARMED_RUN),
            ));
            s.decode_restart(lo)?;
            if compare_internal(&s.key, s.tag >> 8, key, seq) != Ordering::Less {
                return Ok(());
            }
            s.scan_to(key, seq)
        })
    }

    /// From a current entry before `(key, seq)`, moves to the first entry at or
    /// after it (or invalid at the end of the block), comparing each key's delta with
    /// the target in place instead of rebuilding every key.
    ///
    /// Invariant: the current key (of length `cur_len`) is before the target and
    /// agrees with it on exactly `lcp` leading bytes. A next key that shares more than
    /// `lcp` bytes with the current one differs from the target where the current
    /// key does, in the same direction: it is before the target too. Otherwise its
    /// first `shared` bytes are the target's, and only its delta needs comparing.
    fn scan_to(&mut self, key: &[u8], seq: u64) -> Result<()> {
        let mut cur_len = self.key.len();
        let mut lcp = mismatch(&self.key, key);
        loop {
            let pos = self.next;
            if pos >= self.entries_end {
                self.valid = false;
                return Ok(());
            }
            let h = self.header(pos)?;
            let delta_len = h.tag_start - h.key_start;
            if h.shared > cur_len {
                let reason = format!(
                    "entry shares {} bytes with a {cur_len}-byte previous key",
                    h.shared
                );
                return Err(self.corrupt(pos, reason));
            }
            if h.shared + delta_len > MAX_KEY_LEN {
                return Err(self.corrupt(pos, "entry key longer than MAX_KEY_LEN".into()));
            }
            self.next = h.value_start + h.value_len;
            cur_len = h.shared + delta_len;
            if h.shared > lcp {
                continue;
            }
            let delta = self
                .data
                .as_ref()
                .get(h.key_start..h.tag_start)
                .unwrap_or_default();
            let tail = key.get(h.shared..).unwrap_or_default();
            let m = mismatch(delta, tail);
            lcp = h.shared + m;
            let order = match (delta.get(m), tail.get(m)) {
                (Some(a), Some(b)) => a.cmp(b),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => seq.cmp(&(h.tag >> 8)),
            };
            if order != Ordering::Less {
                // This entry's key is the target's first `shared` bytes plus delta.
                self.key.clear();
                self.key
                    .extend_from_slice(key.get(..h.shared).unwrap_or_default());
                self.key.extend_from_slice(delta);
                self.cur = pos;
                self.tag = h.tag;
                self.value_start = h.value_start;
                self.value_len = h.value_len;
                self.valid = true;
                return Ok(());
            }
        }
    }
}
