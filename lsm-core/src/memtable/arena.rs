//! A bump allocator for the memtable's skip-list nodes.
//!
//! Nodes are carved out of large blocks and never freed one by one: a memtable only
//! grows until it is flushed and dropped, and then its blocks are freed together.
//! One allocation per block instead of one (or two) per entry, nodes next to each
//! other in memory, and the memory charged to a memtable is what it really holds.
//!
//! The arena hands out raw pointers because the nodes are shared with concurrent
//! readers (see `skiplist`); it only owns the memory. Blocks are plain heap
//! allocations held as raw pointers (not `Box`es, whose moves would assert
//! uniqueness over memory the readers point into) and are freed in `Drop`.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

/// Every allocation is aligned to this, enough for the nodes' `u64` fields.
pub(super) const ALIGN: usize = 8;

/// A growing set of blocks from which aligned chunks are handed out.
pub(super) struct Arena {
    /// Every block allocated, with its layout, for `Drop`.
    blocks: Vec<(NonNull<u8>, Layout)>,
    /// The free tail of the current block: `next` up to `next + left`.
    next: NonNull<u8>,
    left: usize,
    block_size: usize,
    /// Bytes handed out (rounded up to `ALIGN`).
    used: usize,
}

// SAFETY: the arena owns its blocks exclusively (no thread-local state); moving it to
// another thread moves that ownership.
unsafe impl Send for Arena {}

impl Arena {
    /// An empty arena that allocates blocks of `block_size` bytes (rounded up to
    /// `ALIGN`). Nothing is allocated until the first `alloc`.
    pub fn new(block_size: usize) -> Self {
        Arena {
            blocks: Vec::new(),
            next: NonNull::dangling(),
            left: 0,
            block_size: block_size.max(ALIGN).next_multiple_of(ALIGN),
            used: 0,
        }
    }

    /// `size` bytes (rounded up to `ALIGN`), aligned to `ALIGN`, uninitialised, valid
    /// until the arena is dropped.
    ///
    /// A request above a quarter of the block size gets a block of its own, so a
    /// large entry never wastes the tail of the current block.
    pub fn alloc(&mut self, size: usize) -> NonNull<u8> {
        let size = size.max(1).next_multiple_of(ALIGN);
        self.used += size;
        if size > self.block_size / 4 {
            return self.new_block(size);
        }
        if size > self.left {
            self.next = self.new_block(self.block_size);
            self.left = self.block_size;
        }
        let out = self.next;
        // SAFETY: `size <= left`, so `next + size` is within the current block (or one
        // past its end).
        self.next = unsafe { out.add(size) };
        self.left -= size;
        out
    }

    /// Bytes handed out so far.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used
    }

    fn new_block(&mut self, size: usize) -> NonNull<u8> {
        let Ok(layout) = Layout::from_size_align(size, ALIGN) else {
            // Sizes are bounded by the key and value limits, far below isize::MAX.
            panic!("arena block of {size} bytes is too large");
        };
        // SAFETY: `layout` has a non-zero size (`size >= ALIGN`).
        let Some(block) = NonNull::new(unsafe { alloc(layout) }) else {
            handle_alloc_error(layout)
        };
        self.blocks.push((block, layout));
        block
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for (block, layout) in self.blocks.drain(..) {
            // SAFETY: each block was allocated by `new_block` with this layout and is
            // freed once; the arena's owner guarantees nobody reads it any more.
            unsafe { dealloc(block.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_counted() {
        let mut arena = Arena::new(1024);
        let mut spans = Vec::new();
        for size in [1, 7, 8, 9, 100, 250, 256, 257, 1000, 3, 4096] {
            let p = arena.alloc(size);
            assert_eq!(p.as_ptr() as usize % ALIGN, 0);
            // SAFETY: the allocation holds at least `size` bytes.
            unsafe { std::ptr::write_bytes(p.as_ptr(), 0xab, size) };
            spans.push((p.as_ptr() as usize, size));
        }
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "overlap: {w:?}");
        }
        let rounded: usize = [1, 7, 8, 9, 100, 250, 256, 257, 1000, 3, 4096]
            .iter()
            .map(|s: &usize| s.next_multiple_of(ALIGN))
            .sum();
        assert_eq!(arena.used(), rounded);
        // The 257-, 1000- and 4096-byte requests got blocks of their own.
        assert!(arena.blocks.iter().any(|(_, l)| l.size() == 4096));
    }
}
