//! The shell's `stats` command: the engine's figures for people.
//!
//! Two kinds of figures: what the database holds (segments per level, the
//! memtable replayed from the WALs, the last sequence number), which any open
//! shows, and the engine's counters (bytes written, flushes, cache hits, ...), which
//! count from the moment this process opened the database. A one-shot
//! `lsm DIR stats` has done nothing but open it, so it prints the first kind and
//! says why the counters are left out.

use std::io::Write;

use lsm_core::Stats;

use crate::table::{Align, Table};

/// Where `stats` runs: what its counters can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `lsm DIR stats`: the process has only opened the database.
    OneShot,
    /// At the prompt or from a script: counters cover the commands run so far.
    Session,
}

/// Prints the database's figures, and in a session the counters since it was
/// opened.
///
/// # Errors
/// Errors of `out`.
pub fn print_stats(s: &Stats, scope: Scope, out: &mut dyn Write) -> std::io::Result<()> {
    use crate::display::{human_bytes as h, plural};
    writeln!(out, "database")?;
    let segments: usize = s.levels.iter().map(|l| l.segments).sum();
    writeln!(
        out,
        "  {:<20} {} in {}",
        "segments",
        h(s.total_segment_bytes()),
        plural(segments as u64, "segment")
    )?;
    writeln!(
        out,
        "  {:<20} {} ({} immutable waiting)",
        "memtable",
        h(s.memtable_bytes),
        s.immutable_memtables
    )?;
    writeln!(
        out,
        "  {:<20} {} in {} (values kept out of the segments)",
        "blob files",
        h(s.blob_bytes),
        plural(s.blob_files as u64, "blob file")
    )?;
    writeln!(out, "  {:<20} {}", "last sequence", s.last_sequence)?;
    let mut t = Table::new(&[
        ("level", Align::Right),
        ("segments", Align::Right),
        ("bytes", Align::Right),
    ])
    .indent(2);
    for l in &s.levels {
        t.row(vec![
            l.level.to_string(),
            l.segments.to_string(),
            h(l.bytes),
        ]);
    }
    t.print(out)?;
    if scope == Scope::OneShot {
        return writeln!(
            out,
            "counters (bytes written, flushes, compactions, cache and Bloom filter hits, \
             stalls) count from when a process opens the database, so a one-shot command \
             has none to show; run `stats` at the lsm prompt, after other commands"
        );
    }
    writeln!(out, "this session (counters since the database was opened)")?;
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
            "reclaimed",
            format!("{} given back by compactions", h(s.bytes_reclaimed)),
        ),
        (
            "write amplification",
            format!("{:.2}", s.write_amplification()),
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
            format!(
                "{} ({} µs, longest {} µs): {} at the level-0 stop, {} slowed at the \
                 level-0 threshold, {} waiting for a flush",
                s.write_stalls,
                s.write_stall_micros,
                s.longest_write_stall_micros,
                s.write_stalls_level0_stop,
                s.write_stalls_level0_slowdown,
                s.write_stalls_memtables
            ),
        ),
        (
            "WAL rotations",
            format!(
                "{} ({} µs, longest {} µs)",
                s.wal_rotations, s.wal_rotation_micros, s.longest_wal_rotation_micros
            ),
        ),
        (
            "range deletes",
            format!(
                "{} hidden dropped; range tombstones {} written, {} dropped",
                plural(s.dropped_by_range, "version"),
                s.range_tombstones_written,
                s.range_tombstones_dropped
            ),
        ),
        (
            "blob GC",
            format!(
                "{} written anew out of mostly-garbage blob files",
                plural(s.blob_values_relocated, "value")
            ),
        ),
        (
            "expiry and filter",
            format!(
                "{} expired dropped; compaction filter {} removed, {} changed",
                plural(s.expired_versions, "value"),
                s.filter_removed,
                s.filter_changed
            ),
        ),
    ];
    for (name, value) in rows {
        writeln!(out, "  {name:<20} {value}")?;
    }
    Ok(())
}
