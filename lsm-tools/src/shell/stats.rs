//! The shell's `stats` command: the engine's counters for people.

use std::io::Write;

use lsm_core::Stats;

use crate::table::{Align, Table};

/// Prints the engine's counters.
///
/// # Errors
/// Errors of `out`.
pub fn print_stats(s: &Stats, out: &mut dyn Write) -> std::io::Result<()> {
    use crate::display::{human_bytes as h, plural};
    let rows = [
        ("user bytes written", h(s.user_bytes_written)),
        (
            "WAL bytes written",
            format!(
                "{} ({})",
                h(s.wal_bytes_written),
                plural(s.wal_syncs, "sync")
            ),
        ),
        (
            "flushed",
            format!("{} in {}", h(s.bytes_flushed), plural(s.flushes, "flush")),
        ),
        (
            "compacted",
            format!(
                "{} read, {} written in {}",
                h(s.bytes_compacted_read),
                h(s.bytes_compacted_written),
                plural(s.compactions, "compaction")
            ),
        ),
        (
            "write amplification",
            format!("{:.2}", s.write_amplification()),
        ),
        (
            "memtable",
            format!(
                "{} ({} immutable waiting)",
                h(s.memtable_bytes),
                s.immutable_memtables
            ),
        ),
        (
            "block cache",
            format!(
                "{} hits, {} misses",
                s.block_cache_hits, s.block_cache_misses
            ),
        ),
        (
            "mapped reads",
            format!("{} of segments read through mmap", h(s.mmap_read_bytes)),
        ),
        (
            "bloom filters",
            format!(
                "{} reads saved, {} false positives",
                s.bloom_useful, s.bloom_false_positives
            ),
        ),
        (
            "write stalls",
            format!("{} ({} µs)", s.write_stalls, s.write_stall_micros),
        ),
        ("last sequence", s.last_sequence.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<20} {value}")?;
    }
    let mut t = Table::new(&[
        ("level", Align::Right),
        ("segments", Align::Right),
        ("bytes", Align::Right),
    ]);
    for l in &s.levels {
        t.row(vec![
            l.level.to_string(),
            l.segments.to_string(),
            h(l.bytes),
        ]);
    }
    t.print(out)
}
