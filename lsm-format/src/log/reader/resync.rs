//! Resynchronising after the first damage in a log: `docs/format.md` section 4.
//!
//! After the strict walk of the parent module stops at a bad fragment, the walk
//! continues at the next block boundary, skips MIDDLE / LAST fragments of a record
//! that began before, and collects every complete record whose fragments all check
//! out.
//!
//! Two refinements of the block-boundary rule find records written after the damage
//! in the same block (a one-block manifest would otherwise show nothing after any
//! damage, and a flipped byte would pass for a torn tail):
//!
//! - when a bad fragment's header still describes a fragment that fits in its block
//!   (only the checksum or the type byte is wrong), the walk steps over it;
//! - at the first damage, when that does not land on a valid fragment, the rest of
//!   the block is scanned for the first position where a chain of valid fragments
//!   starts and runs to the end of the block or file, laid out as the writer lays
//!   them (FULL fragments, perhaps a last FIRST that fills the block). Requiring the
//!   whole chain keeps bytes inside a torn record (user keys and values) from passing
//!   for a record written after it.
//!
//! Every record found this way passes its checksum like any other; without a match
//! the walk falls back to the next block boundary. The scan runs once per file, as one
//! backward pass over one block, and computes checksums only where the headers have
//! the writer's shape.

use std::borrow::Cow;

use super::{all_zero, next_block, next_fragment, record, Fragment, LogRecord, Pending};
use crate::log::{FragmentType, LogFraming};

/// Where resynchronisation starts after the first bad fragment, at `pos`.
///
/// A fragment whose header still fits its block is stepped over when a valid
/// fragment follows it. Otherwise (a damaged length, garbage, zeros, a fragment that
/// seems to run past the end of the file) the rest of the block is scanned for a
/// valid FULL or FIRST fragment from which valid fragments follow each other to the
/// end of the block or file, so that records written after the damage in the same
/// block are not overlooked: without them a damaged record in a one-block manifest
/// would pass for a torn tail. Requiring the chain keeps bytes inside a torn record
/// (user keys and values that happen to look like a fragment) from passing for
/// records written after it. The scan runs once per file, within one block.
pub(super) fn resume_after_damage(
    data: &[u8],
    pos: usize,
    skip: Option<usize>,
    f: LogFraming,
) -> usize {
    let block_end = next_block(pos);
    if let Some(next) = skip {
        // Only a valid fragment confirms the length: a damaged length can as well
        // land on the end of the file or on padding.
        if matches!(next_fragment(data, next, f), Fragment::Good { .. }) {
            return next;
        }
    }
    scan_for_record_start(data, pos + 1, block_end, f).unwrap_or(block_end)
}

/// The first position in `from .. block_end` where a valid chain of fragments
/// starts that reaches the end of the block, its padding or the end of the file.
///
/// Within a block, what follows a record start is what the writer lays out: FULL
/// fragments, then perhaps one FIRST that fills the block. One backward pass finds
/// every position where that shape starts, from the headers alone, so scanning costs
/// linear time and one block of memory; checksums are computed only for positions
/// with the right shape.
fn scan_for_record_start(
    data: &[u8],
    from: usize,
    block_end: usize,
    f: LogFraming,
) -> Option<usize> {
    let (c, header_len) = (f.checksum_len(), f.header_len());
    let end = block_end.min(data.len());
    let n = end.checked_sub(from)?;
    // shaped[i]: a writer-shaped chain starts at `from + i`; shaped[n] is the end.
    let mut shaped = vec![false; n + 1];
    for i in (0..=n).rev() {
        let pos = from + i;
        let ok = if pos == end {
            true
        } else if block_end - pos < header_len {
            data.get(pos..end).is_some_and(all_zero)
        } else {
            // The type byte first: it rules out almost every position.
            match data.get(pos + c + 2) {
                Some(&t) if t == FragmentType::Full as u8 || t == FragmentType::First as u8 => {
                    let len = data
                        .get(pos + c..pos + c + 2)
                        .and_then(|l| <[u8; 2]>::try_from(l).ok())
                        .map_or(usize::MAX, |l| usize::from(u16::from_le_bytes(l)));
                    let next = pos.saturating_add(header_len).saturating_add(len);
                    if t == FragmentType::Full as u8 {
                        next <= end && shaped.get(next - from).copied().unwrap_or(false)
                    } else {
                        next == block_end && next <= data.len()
                    }
                }
                _ => false,
            }
        };
        if let Some(slot) = shaped.get_mut(i) {
            *slot = ok;
        }
    }
    (0..n).map(|i| from + i).find(|&q| {
        let starts_record = shaped.get(q - from).copied().unwrap_or(false)
            && block_end - q >= header_len
            && q < end;
        starts_record && chain_checks_out(data, q, block_end, f)
    })
}

/// Whether every fragment from `q` to the end of its block (or file) passes its
/// checksum.
fn chain_checks_out(data: &[u8], mut q: usize, block_end: usize, f: LogFraming) -> bool {
    while q < block_end {
        match next_fragment(data, q, f) {
            Fragment::End | Fragment::Padding { .. } => return true,
            Fragment::Good { next, .. } => q = next,
            Fragment::Bad { .. } => return false,
        }
    }
    true
}

/// Collects the complete, valid records from `pos` on, jumping to the next block
/// boundary after each bad fragment and skipping fragments of records that began
/// before the jump.
pub(super) fn resynchronise(data: &[u8], mut pos: usize, f: LogFraming) -> Vec<LogRecord<'_>> {
    let mut found = Vec::new();
    let mut pending: Option<Pending> = None;
    while pos < data.len() {
        match next_fragment(data, pos, f) {
            Fragment::End => break,
            Fragment::Padding { next } => pos = next,
            Fragment::Bad { skip, .. } => {
                pending = None;
                pos = skip.unwrap_or_else(|| next_block(pos));
            }
            Fragment::Good { ty, payload, next } => {
                match (ty, pending.take()) {
                    (FragmentType::Full, _) => {
                        found.push(record(pos, next, Cow::Borrowed(payload)))
                    }
                    (FragmentType::First, _) => pending = Some(Pending::start(pos, payload)),
                    (FragmentType::Middle, Some(mut p)) => {
                        if p.push(payload) {
                            pending = Some(p);
                        }
                    }
                    (FragmentType::Last, Some(mut p)) => {
                        if p.push(payload) {
                            found.push(record(p.offset, next, Cow::Owned(p.bytes)));
                        }
                    }
                    // The tail of a record whose start was lost.
                    (FragmentType::Middle | FragmentType::Last, None) => {}
                }
                pos = next;
            }
        }
    }
    found
}
