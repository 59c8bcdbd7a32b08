//! The skip list's nodes: their byte layout, and [`NodeRef`], the one place that
//! reads them.
//!
//! # Node layout
//!
//! Each entry is one arena allocation (8-byte aligned):
//!
//! ```text
//! offset 0   tag        u64   seq << 8 | kind (docs/format.md section 1)
//! offset 8   value_len  u32
//! offset 12  key_len    u16   (MAX_KEY_LEN is 65535)
//! offset 14  height     u8    1..=MAX_HEIGHT
//! offset 15  (padding)
//! offset 16  tower      height x AtomicPtr: the next node on levels 0..height
//! then       key bytes, then value bytes
//! ```
//!
//! About 16 + 8 x 2 bytes per entry on top of key and value (branching factor 2),
//! against about 120 for a general-purpose node with owned key and value handles.
//! The key sits right after the tower, so comparing against a node touches one or
//! two adjacent cache lines and follows no further pointer.

use std::cmp::Ordering as KeyOrdering;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::MAX_HEIGHT;
use crate::prefetch::prefetch;

pub(super) const HEADER: usize = 16;
const VALUE_LEN_AT: usize = 8;
const KEY_LEN_AT: usize = 12;
const HEIGHT_AT: usize = 14;

/// The size of a node of `height` levels holding `key_len + value_len` bytes.
#[inline]
pub(super) fn node_size(height: usize, key_len: usize, value_len: usize) -> usize {
    HEADER + height * 8 + key_len + value_len
}

/// A pointer to a linked node (or the head) of one list, stored without a borrow of
/// it (in the writer's splice, and in the memtable cursor beside the
/// `Arc<MemTable>` that keeps the list alive).
///
/// Only this module creates `Node`s (from an allocation it initialised or a link it
/// read), and only the list a node came from takes it back (`SkipList::node`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(in crate::memtable) struct Node(NonNull<u8>);

// SAFETY: a `Node` is an address; reading through it is only done through a
// `NodeRef`, under the rules in the list's module docs, which hold on any thread.
unsafe impl Send for Node {}
// SAFETY: as for `Send`.
unsafe impl Sync for Node {}

impl Node {
    #[inline]
    pub(super) fn as_ptr(self) -> *mut u8 {
        self.0.as_ptr()
    }
}

/// A node of a list that lives for `'list`: reading it is safe.
///
/// The invariant, established once by [`NodeRef::new`]: the pointer is the head or a
/// linked node of a list that outlives `'list`. Then every read below is sound: the
/// node was completely written before the release store that linked it (and the
/// reader found it through an acquire load); after that only its tower links change,
/// and they are atomics; nodes are freed only when the list is dropped. The links of
/// such a node point to nodes of the same list, so they keep the invariant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct NodeRef<'list> {
    ptr: NonNull<u8>,
    _list: PhantomData<&'list [u8]>,
}

impl<'list> NodeRef<'list> {
    /// # Safety
    /// `node` is the head or a linked node of a list that outlives `'list`.
    #[inline]
    pub(super) unsafe fn new(node: Node) -> Self {
        NodeRef {
            ptr: node.0,
            _list: PhantomData,
        }
    }

    /// The node, to store beyond a borrow of its list.
    #[inline]
    pub fn node(self) -> Node {
        Node(self.ptr)
    }

    #[inline]
    pub fn tag(self) -> u64 {
        // SAFETY: a complete node (the type's invariant) holds its tag at offset 0,
        // 8-byte aligned.
        unsafe { self.ptr.cast::<u64>().read() }
    }

    #[inline]
    fn value_len(self) -> usize {
        // SAFETY: as in `tag`; the value length is at `VALUE_LEN_AT`, 4-byte aligned.
        unsafe { self.ptr.add(VALUE_LEN_AT).cast::<u32>().read() as usize }
    }

    #[inline]
    fn key_len(self) -> usize {
        // SAFETY: as in `tag`; the key length is at `KEY_LEN_AT`, 2-byte aligned.
        unsafe { self.ptr.add(KEY_LEN_AT).cast::<u16>().read() as usize }
    }

    #[inline]
    pub fn height(self) -> usize {
        // SAFETY: as in `tag`; the height is the byte at `HEIGHT_AT`.
        unsafe { self.ptr.add(HEIGHT_AT).read() as usize }
    }

    #[inline]
    pub fn key(self) -> &'list [u8] {
        // SAFETY: a complete node holds `key_len` key bytes right after its tower of
        // `height` links; they never change after linking and live as long as the
        // list, which outlives `'list`.
        unsafe {
            let at = self.ptr.add(HEADER + self.height() * 8);
            std::slice::from_raw_parts(at.as_ptr(), self.key_len())
        }
    }

    #[inline]
    pub fn value(self) -> &'list [u8] {
        // SAFETY: as in `key`; the `value_len` value bytes follow the key.
        unsafe {
            let at = self.ptr.add(HEADER + self.height() * 8 + self.key_len());
            std::slice::from_raw_parts(at.as_ptr(), self.value_len())
        }
    }

    /// The node's link on `level`.
    ///
    /// # Safety
    /// `level < self.height()`. (Checked only in debug builds: searches know it from
    /// the way they reached the node, and pay nothing for it.)
    #[inline]
    pub unsafe fn link(self, level: usize) -> &'list AtomicPtr<u8> {
        debug_assert!(level < self.height());
        // SAFETY: a node's tower holds `height` 8-byte-aligned `AtomicPtr`s from
        // `HEADER`, initialised before the node was linked; `level < height` (the
        // caller's contract); the node lives as long as its list.
        unsafe {
            self.ptr
                .add(HEADER + level * 8)
                .cast::<AtomicPtr<u8>>()
                .as_ref()
        }
    }

    /// The next node on `level`, if any.
    ///
    /// # Safety
    /// As for [`NodeRef::link`].
    #[inline]
    pub unsafe fn next(self, level: usize) -> Option<NodeRef<'list>> {
        // SAFETY: the caller's contract is `link`'s.
        let link = unsafe { self.link(level) };
        NonNull::new(link.load(Ordering::Acquire)).map(|ptr| NodeRef {
            ptr,
            _list: PhantomData,
        })
    }

    /// The next node on level 0, which every tower reaches.
    #[inline]
    pub fn next0(self) -> Option<NodeRef<'list>> {
        // SAFETY: every node has a height of at least 1.
        unsafe { self.next(0) }
    }

    /// This node's position relative to `probe`.
    #[inline]
    pub fn cmp_probe(self, probe: &Probe<'_>) -> KeyOrdering {
        let key = self.key();
        let by_key = match prefix_of(key).cmp(&probe.prefix) {
            KeyOrdering::Equal => key.cmp(probe.key),
            unequal => unequal,
        };
        by_key.then_with(|| probe.tag.cmp(&self.tag()))
    }

    /// Starts loading the node that follows `self` on the level below `level`, while
    /// the search compares `n` (`self`'s successor on `level`): if `n` stops the walk,
    /// that node is the next one compared, and its cache miss overlaps `n`'s instead
    /// of following it. Nothing is loaded when it is `n` itself.
    ///
    /// # Safety
    /// `0 < level < self.height()`.
    #[inline(always)]
    pub unsafe fn prefetch_below(self, n: NodeRef<'list>, level: usize) {
        // SAFETY: `level - 1 < level < height` (the caller's contract).
        if let Some(below) = unsafe { self.next(level - 1) } {
            if below != n {
                prefetch(below.ptr.as_ptr());
                // A comparison also reads the key, at `HEADER + 8 * height`: for the
                // short towers of most nodes it starts within 40 bytes, often in the
                // next cache line.
                prefetch(below.ptr.as_ptr().wrapping_add(40));
            }
        }
    }
}

/// A search key: user key, tag, and the key's first 8 bytes as a number.
///
/// Comparing the 8-byte prefixes first settles most comparisons with one integer
/// compare instead of a `memcmp` call. Zero-padded big-endian prefixes order like
/// the keys whenever they differ (a difference at a padded position means one key is
/// a proper prefix of the other); equal prefixes fall back to the whole keys.
pub(super) struct Probe<'a> {
    key: &'a [u8],
    prefix: u64,
    tag: u64,
}

impl<'a> Probe<'a> {
    pub fn new(key: &'a [u8], tag: u64) -> Self {
        Probe {
            key,
            prefix: prefix_of(key),
            tag,
        }
    }
}

#[allow(
    clippy::indexing_slicing,
    reason = "`key` is shorter than 8 bytes in the fallback: it has no 8-byte first chunk"
)]
fn prefix_of(key: &[u8]) -> u64 {
    match key.first_chunk::<8>() {
        Some(first) => u64::from_be_bytes(*first),
        None => {
            let mut buf = [0u8; 8];
            buf[..key.len()].copy_from_slice(key);
            u64::from_be_bytes(buf)
        }
    }
}

/// Writes a complete node at `at` and returns it, not yet linked.
///
/// # Safety
/// `at` is an unaliased allocation of at least `node_size(height, key.len(),
/// value.len())` bytes, aligned to 8; `1 <= height <= MAX_HEIGHT`, `key.len() <=
/// u16::MAX`, `value.len() <= u32::MAX`.
pub(super) unsafe fn init_node(
    at: NonNull<u8>,
    height: usize,
    key: &[u8],
    tag: u64,
    value: &[u8],
    next: &[Option<Node>; MAX_HEIGHT],
) -> Node {
    let p = at.as_ptr();
    // SAFETY: every write is within the `node_size` bytes the caller provides, at
    // offsets aligned for its type (the allocation is 8-byte aligned); nobody else
    // sees the node before it is linked, and `key` and `value` cannot overlap the
    // fresh allocation.
    unsafe {
        p.cast::<u64>().write(tag);
        p.add(VALUE_LEN_AT).cast::<u32>().write(value.len() as u32);
        p.add(KEY_LEN_AT).cast::<u16>().write(key.len() as u16);
        p.add(HEIGHT_AT).write(height as u8);
        p.add(HEIGHT_AT + 1).write(0);
        for (l, n) in next.iter().take(height).enumerate() {
            let succ = n.map_or(ptr::null_mut(), |n| n.0.as_ptr());
            p.add(HEADER + l * 8)
                .cast::<AtomicPtr<u8>>()
                .write(AtomicPtr::new(succ));
        }
        let key_at = p.add(HEADER + height * 8);
        ptr::copy_nonoverlapping(key.as_ptr(), key_at, key.len());
        ptr::copy_nonoverlapping(value.as_ptr(), key_at.add(key.len()), value.len());
    }
    Node(at)
}
