//! A cursor within one decoded block (data or index): `docs/format.md` sections 3.2
//! and 3.3.
//!
//! The restart array is validated once when the block is loaded (first restart 0,
//! strictly increasing, inside the entry area), so seeks can trust it. Entries are
//! decoded lazily with every length checked against the end of the entry area; the
//! current key lives in one reused buffer and the value is a range of the block.
//! A seek binary-searches the restarts comparing the full keys stored there, then
//! scans forward; `prev` re-decodes from the restart before the current entry.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::entry::{compare_internal, EntryKind, MAX_KEY_LEN};
use crate::error::{Error, Result};
use crate::segment::block_entry::{decode_header, mismatch, u32_at, Header};

/// Where a block came from, for error messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockOrigin {
    /// File offset of the block's first byte.
    pub offset: u64,
    /// True when the contents were decompressed: positions within them are then not
    /// file offsets, and errors name the block's offset and the position inside.
    pub decompressed: bool,
    /// True for an index block, whose entries carry the tag of a data entry (possibly
    /// a tombstone) and a block handle as value.
    pub index: bool,
}

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
fn touch(data: &[u8], range: std::ops::Range<usize>) -> u8 {
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

/// A cursor over the entries of one block. Not valid until positioned.
///
/// `B` holds the block: [`Bytes`] when values are handed out sharing the block
/// ([`value`](BlockIter::value)), or a borrowed `&[u8]` for a point lookup that only
/// needs the value's range and so costs no reference counting.
#[derive(Debug, Default)]
pub struct BlockIter<B = Bytes> {
    data: B,
    origin: BlockOrigin,
    /// Where the entries end and the restart array begins.
    entries_end: usize,
    num_restarts: usize,
    /// Offset of the current entry and of the one after it.
    cur: usize,
    next: usize,
    key: Vec<u8>,
    tag: u64,
    value_start: usize,
    value_len: usize,
    valid: bool,
}

impl BlockIter<Bytes> {
    /// Value of the current entry, sharing the block.
    #[inline]
    pub fn value(&self) -> Bytes {
        let end = self.value_start + self.value_len;
        if end <= self.data.len() {
            self.data.slice(self.value_start..end)
        } else {
            Bytes::new()
        }
    }
}

impl<B: AsRef<[u8]> + Default> BlockIter<B> {
    /// Loads `data` (uncompressed block contents) into the cursor, reusing its key
    /// buffer. The cursor is left unpositioned.
    ///
    /// # Errors
    /// Corruption when the restart array is malformed.
    pub fn reset(&mut self, data: B, origin: BlockOrigin) -> Result<()> {
        self.valid = false;
        self.data = data;
        self.origin = origin;
        self.entries_end = 0;
        self.num_restarts = 0;
        (self.cur, self.next, self.value_start, self.value_len) = (0, 0, 0, 0);
        let len = self.data.as_ref().len();
        let n = match len
            .checked_sub(4)
            .and_then(|p| u32_at(self.data.as_ref(), p))
        {
            Some(n) => n as usize,
            None => {
                return Err(self.corrupt(0, format!("block of {len} bytes has no restart count")))
            }
        };
        let Some(entries_end) = n.checked_mul(4).and_then(|r| (len - 4).checked_sub(r)) else {
            return Err(self.corrupt(len - 4, format!("{n} restarts do not fit in {len} bytes")));
        };
        self.entries_end = entries_end;
        if n == 0 && entries_end != 0 {
            return Err(self.corrupt(0, "block without restarts has entry bytes".to_string()));
        }
        let mut prev: Option<usize> = None;
        for i in 0..n {
            let pos = entries_end + 4 * i;
            let r = u32_at(self.data.as_ref(), pos).map_or(usize::MAX, |r| r as usize);
            let ok = match prev {
                None => r == 0,
                Some(p) => r > p,
            };
            if !ok || r >= entries_end {
                self.entries_end = 0;
                return Err(self.corrupt(pos, format!("restart {i} has bad offset {r}")));
            }
            prev = Some(r);
        }
        self.num_restarts = n;
        Ok(())
    }

    /// An empty, unpositioned cursor that decodes keys into `buf` (reused scratch).
    pub fn with_key_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        BlockIter {
            key: buf,
            ..BlockIter::default()
        }
    }

    /// Gives back the key buffer (for reuse), dropping the block.
    pub fn into_key_buffer(self) -> Vec<u8> {
        self.key
    }

    /// Makes the cursor unpositioned, keeping the block.
    pub fn invalidate(&mut self) {
        self.valid = false;
    }

    /// True when the block holds no entry.
    pub fn is_empty(&self) -> bool {
        self.num_restarts == 0
    }

    /// True when positioned at an entry.
    #[inline]
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// Key of the current entry.
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Tag of the current entry.
    #[inline]
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// Sequence number of the current entry.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.tag >> 8
    }

    /// Kind of the current entry (the kind byte was checked when decoded).
    #[inline]
    pub fn kind(&self) -> EntryKind {
        if self.tag & 0xff == EntryKind::Put as u64 {
            EntryKind::Put
        } else {
            EntryKind::Tombstone
        }
    }

    /// Value of the current entry.
    #[inline]
    pub fn value_slice(&self) -> &[u8] {
        self.data
            .as_ref()
            .get(self.value_start..self.value_start + self.value_len)
            .unwrap_or_default()
    }

    /// Range of the current entry's value within the block.
    #[inline]
    pub fn value_range(&self) -> std::ops::Range<usize> {
        self.value_start..self.value_start + self.value_len
    }

    /// Offset of the current entry within the block.
    pub fn current_offset(&self) -> usize {
        self.cur
    }

    /// Offset just past the current entry.
    pub fn next_offset(&self) -> usize {
        self.next
    }

    /// Where the entry area ends.
    pub fn entries_end(&self) -> usize {
        self.entries_end
    }

    /// Number of restart points.
    pub fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// Offset of restart `i` (validated by [`reset`](Self::reset)).
    pub fn restart(&self, i: usize) -> usize {
        u32_at(self.data.as_ref(), self.entries_end + 4 * i)
            .map_or(self.entries_end, |r| r as usize)
    }

    /// Where this block came from.
    pub fn origin(&self) -> BlockOrigin {
        self.origin
    }

    /// Positions at the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.valid = false;
        if self.num_restarts > 0 {
            self.guard(|s| s.decode_restart(0))?;
        }
        Ok(())
    }

    /// Positions at the last entry (invalid if the block is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        self.valid = false;
        if self.num_restarts == 0 {
            return Ok(());
        }
        self.guard(|s| {
            s.decode_restart(s.num_restarts - 1)?;
            while s.next < s.entries_end {
                s.decode_at(s.next)?;
            }
            Ok(())
        })
    }

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

    /// Moves to the next entry; invalid after the last. Requires `valid()`.
    #[inline]
    #[allow(
        clippy::should_implement_trait,
        reason = "a cursor step, not an Iterator: it returns Result<()> and the entry stays readable"
    )]
    pub fn next(&mut self) -> Result<()> {
        if !self.valid || self.next >= self.entries_end {
            self.valid = false;
            return Ok(());
        }
        self.guard(|s| s.decode_at(s.next))
    }

    /// Moves to the previous entry; invalid before the first. Requires `valid()`.
    pub fn prev(&mut self) -> Result<()> {
        let target = self.cur;
        if !self.valid || target == 0 {
            self.valid = false;
            return Ok(());
        }
        self.guard(|s| {
            // The last restart strictly before the current entry.
            let (mut lo, mut hi) = (0, s.num_restarts);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if s.restart(mid) < target {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let Some(r) = lo.checked_sub(1) else {
                return Err(s.corrupt(target, "entry before the first restart".into()));
            };
            s.decode_restart(r)?;
            while s.next < target {
                s.decode_at(s.next)?;
            }
            if s.next != target {
                return Err(s.corrupt(
                    s.cur,
                    "entries do not line up with the restart array".into(),
                ));
            }
            Ok(())
        })
    }

    fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let r = f(self);
        if r.is_err() {
            self.valid = false;
        }
        r
    }

    /// The key and tag stored at restart `i`, borrowed from the block.
    ///
    /// # Errors
    /// Corruption when the entry there is malformed or shares a prefix.
    pub fn restart_entry(&self, i: usize) -> Result<(&[u8], u64)> {
        let pos = self.restart(i);
        let h = self.header(pos)?;
        if h.shared != 0 {
            return Err(self.corrupt(pos, "entry at a restart point shares a prefix".into()));
        }
        let key = self
            .data
            .as_ref()
            .get(h.key_start..h.tag_start)
            .unwrap_or_default();
        Ok((key, h.tag))
    }

    fn decode_restart(&mut self, i: usize) -> Result<()> {
        self.key.clear();
        self.decode_at(self.restart(i))
    }

    /// Decodes the entry at `pos`, whose key shares a prefix with the current key.
    #[inline]
    fn decode_at(&mut self, pos: usize) -> Result<()> {
        let h = self.header(pos)?;
        if h.shared > self.key.len() {
            return Err(self.corrupt(
                pos,
                format!(
                    "entry shares {} bytes with a {}-byte previous key",
                    h.shared,
                    self.key.len()
                ),
            ));
        }
        if h.shared + (h.tag_start - h.key_start) > MAX_KEY_LEN {
            return Err(self.corrupt(pos, "entry key longer than MAX_KEY_LEN".into()));
        }
        self.key.truncate(h.shared);
        self.key.extend_from_slice(
            self.data
                .as_ref()
                .get(h.key_start..h.tag_start)
                .unwrap_or_default(),
        );
        self.cur = pos;
        self.next = h.value_start + h.value_len;
        self.tag = h.tag;
        self.value_start = h.value_start;
        self.value_len = h.value_len;
        self.valid = true;
        Ok(())
    }

    /// Parses and bounds-checks the fixed part of the entry at `pos`.
    #[inline]
    fn header(&self, pos: usize) -> Result<Header> {
        let area = self
            .data
            .as_ref()
            .get(..self.entries_end)
            .unwrap_or_default();
        decode_header(area, pos, self.origin.index).map_err(|reason| self.corrupt(pos, reason))
    }

    fn corrupt(&self, pos: usize, reason: String) -> Error {
        if self.origin.decompressed {
            Error::corruption(
                self.origin.offset,
                format!("{reason} (at byte {pos} of the decompressed block)"),
            )
        } else {
            Error::corruption(self.origin.offset + pos as u64, reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::block_builder::BlockBuilder;

    fn build(keys: &[(&[u8], u64)], interval: usize) -> Bytes {
        let mut b = BlockBuilder::new(interval);
        for (k, seq) in keys {
            b.add(k, seq << 8 | 1, &[k.len() as u8]).unwrap();
        }
        Bytes::copy_from_slice(b.finish())
    }

    fn open(data: Bytes) -> Result<BlockIter> {
        let mut it = BlockIter::default();
        it.reset(
            data,
            BlockOrigin {
                offset: 1000,
                decompressed: false,
                index: false,
            },
        )?;
        Ok(it)
    }

    #[test]
    fn touch_reads_one_byte_per_line_and_the_last_and_stays_inside_the_data() {
        let data: Vec<u8> = (0..200u8).collect();
        // Lines start at 10, 74, 138; the last byte is 179.
        assert_eq!(touch(&data, 10..180), 10 ^ 74 ^ 138 ^ 179);
        assert_eq!(touch(&data, 150..10_000), 150 ^ 199);
        assert_eq!(touch(&data, 500..600), 0);
        assert_eq!(touch(&data, 20..20), 0);
        assert_eq!(touch(&[], 0..64), 0);
    }

    const KEYS: &[(&[u8], u64)] = &[
        (b"a", 3),
        (b"ab", 9),
        (b"ab", 2),
        (b"abc", 1),
        (b"b", 5),
        (b"bb", 5),
        (b"c", 1),
    ];

    #[test]
    fn forward_backward_and_seek_for_every_interval() {
        for interval in 1..=8 {
            let mut it = open(build(KEYS, interval)).unwrap();
            it.seek_to_first().unwrap();
            let mut seen = Vec::new();
            while it.valid() {
                seen.push((it.key().to_vec(), it.seq()));
                it.next().unwrap();
            }
            let want: Vec<_> = KEYS.iter().map(|(k, s)| (k.to_vec(), *s)).collect();
            assert_eq!(seen, want);
            it.seek_to_last().unwrap();
            let mut back = Vec::new();
            while it.valid() {
                back.push((it.key().to_vec(), it.seq()));
                it.prev().unwrap();
            }
            back.reverse();
            assert_eq!(back, want);
            // seek: first entry >= target.
            for (target, seq, expect) in [
                (&b""[..], 0, Some(0)),
                (b"ab", 100, Some(1)),
                (b"ab", 9, Some(1)),
                (b"ab", 5, Some(2)),
                (b"ab", 1, Some(3)),
                (b"b", 4, Some(5)),
                (b"c", 1, Some(6)),
                (b"c", 0, None),
                (b"zz", 0, None),
            ] {
                it.seek(target, seq).unwrap();
                assert_eq!(it.valid(), expect.is_some(), "{target:?} {seq}");
                if let Some(i) = expect {
                    assert_eq!(
                        (it.key(), it.seq()),
                        KEYS[i],
                        "{target:?} {seq} interval {interval}"
                    );
                    assert_eq!(it.value_slice(), &[KEYS[i].0.len() as u8]);
                }
            }
        }
    }

    #[test]
    fn empty_block() {
        let mut it = open(Bytes::from_static(&[0, 0, 0, 0])).unwrap();
        assert!(it.is_empty());
        it.seek_to_first().unwrap();
        assert!(!it.valid());
        it.seek(b"a", 1).unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert!(!it.valid());
    }

    #[test]
    fn malformed_restarts_are_corruption() {
        for bad in [
            vec![],
            vec![1, 0, 0],
            vec![9, 0, 0, 0, 0],          // entry bytes without restarts
            vec![0, 0, 0, 0, 1, 0, 0, 0], // restart 0 but no entry bytes
            vec![0xff, 0xff, 0xff, 0xff], // too many restarts
        ] {
            assert!(open(Bytes::from(bad)).unwrap_err().is_corruption());
        }
        let good = build(KEYS, 2).to_vec();
        let n = good.len();
        let mut bad = good.clone();
        bad[n - 8] = 0xff; // last restart beyond the entries
        assert!(open(Bytes::from(bad)).is_err());
    }

    #[test]
    fn every_byte_flip_gives_error_or_some_entries_never_panics() {
        let good = build(KEYS, 3).to_vec();
        for i in 0..good.len() {
            for x in [1u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= x;
                let Ok(mut it) = open(Bytes::from(bad)) else {
                    continue;
                };
                let mut steps = 0;
                if it.seek_to_first().is_ok() {
                    while it.valid() && it.next().is_ok() {
                        steps += 1;
                        assert!(steps <= good.len());
                    }
                }
                if it.seek_to_last().is_ok() {
                    while it.valid() && it.prev().is_ok() {
                        steps += 1;
                        assert!(steps <= 2 * good.len());
                    }
                }
                let _ = it.seek(b"ab", 3);
            }
        }
    }

    #[test]
    fn errors_name_file_offsets() {
        let mut good = build(&[(b"k", 1)], 1).to_vec();
        good[0] = 0x05; // restart entry claims a shared prefix
        let mut it = open(Bytes::from(good)).unwrap();
        let e = it.seek_to_first().unwrap_err();
        assert_eq!(e.offset(), Some(1000));
        assert!(!it.valid());
        let mut it = BlockIter::default();
        let mut data = build(&[(b"k", 1)], 1).to_vec();
        data[1] = 100;
        it.reset(
            Bytes::from(data),
            BlockOrigin {
                offset: 7,
                decompressed: true,
                index: false,
            },
        )
        .unwrap();
        let e = it.seek_to_first().unwrap_err();
        assert_eq!(e.offset(), Some(7));
        assert!(e.to_string().contains("decompressed"));
    }
}
