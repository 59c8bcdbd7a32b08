//! The restart array of a block (`docs/format.md` section 3.2): its validation when
//! a block is loaded into a [`BlockIter`] (first restart 0, strictly increasing,
//! inside the entry area), and access to the restart points that seeks and `prev`
//! then trust.

use crate::error::Result;
use crate::segment::block_entry::u32_at;
use crate::segment::block_iter::{BlockIter, BlockOrigin};

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

    /// Number of restart points.
    pub fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// Offset of restart `i` (validated by [`reset`](Self::reset)).
    pub fn restart(&self, i: usize) -> usize {
        u32_at(self.data.as_ref(), self.entries_end + 4 * i)
            .map_or(self.entries_end, |r| r as usize)
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
}
