//! The report as text: what `lsm-repair` prints and `Display` gives.

use std::fmt;

use super::{show_key, FileStatus, KeyRange, Loss, ManifestFinding, RepairReport, SeqRange};

impl fmt::Display for KeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ..= {}", show_key(&self.first), show_key(&self.last))
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last {
            Some(last) if last == self.first => write!(f, "{last}"),
            Some(last) => write!(f, "{} ..= {last}", self.first),
            None => write!(f, "{} and after", self.first),
        }
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileStatus::Damaged => "damaged",
            FileStatus::Unreadable => "unreadable",
            FileStatus::Missing => "missing",
            FileStatus::Redundant => "not listed, redundant",
            FileStatus::Restored => "not listed, restored",
        })
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing");
        }
        let mut parts = Vec::new();
        match self.entries {
            Some(n) => parts.push(format!("{n} entries")),
            None => parts.push("an unknown number of entries".to_string()),
        }
        if self.keys_unknown {
            parts.push("keys unknown".to_string());
        }
        if !self.key_ranges.is_empty() {
            let ranges: Vec<String> = self.key_ranges.iter().map(|r| r.to_string()).collect();
            parts.push(format!("keys {}", ranges.join(", ")));
        }
        if !self.sequences.is_empty() {
            let seqs: Vec<String> = self.sequences.iter().map(|r| r.to_string()).collect();
            parts.push(format!("sequence numbers {}", seqs.join(", ")));
        }
        if !self.range_deletes.is_empty() {
            let ranges: Vec<String> = self.range_deletes.iter().map(|r| r.to_string()).collect();
            parts.push(format!(
                "range deletes over keys {} (a key they deleted may read an older value)",
                ranges.join(", ")
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

impl fmt::Display for RepairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "dry run: nothing was changed; a repair would do this")?;
        }
        match &self.manifest {
            ManifestFinding::Sound => writeln!(f, "manifest: sound")?,
            ManifestFinding::Missing => {
                writeln!(f, "manifest: missing; files judged by their contents")?
            }
            ManifestFinding::Damaged {
                problem,
                records_used,
            } => writeln!(
                f,
                "manifest: damaged ({problem}); the state of its first {records_used} \
                 record(s) used, the old file kept in lost/"
            )?,
        }
        if self.judged_by_contents_alone() {
            writeln!(
                f,
                "warning: without the manifest's state, a segment a compaction had \
                 retired cannot be told from a live one: a key deleted before that \
                 compaction may read an older value again"
            )?;
        }
        for file in &self.files {
            let level = file
                .level
                .map(|l| format!(" (level {l})"))
                .unwrap_or_default();
            writeln!(f, "{}{level}: {}: {}", file.file, file.status, file.detail)?;
            if file.salvaged_entries > 0 {
                writeln!(f, "  kept: {} entries", file.salvaged_entries)?;
            }
            writeln!(f, "  lost: {}", file.lost)?;
            if let Some(to) = &file.moved_to {
                let verb = if self.dry_run { "would move" } else { "moved" };
                writeln!(f, "  {verb} to {to}")?;
            }
        }
        if self.nothing_to_repair() {
            return writeln!(f, "nothing to repair");
        }
        if self.rebuilt {
            let new = if self.new_segments.is_empty() {
                "none".to_string()
            } else {
                self.new_segments.join(", ")
            };
            let range_tombstones = match self.restored_range_tombstones {
                0 => String::new(),
                n => format!(", {n} range tombstones"),
            };
            writeln!(
                f,
                "{}: {} segment(s) kept, new segments: {new}; {} entries{range_tombstones} \
                 restored; last sequence {}",
                if self.dry_run {
                    "would rebuild"
                } else {
                    "rebuilt"
                },
                self.kept_segments,
                self.restored_entries,
                self.last_sequence
            )?;
        } else {
            writeln!(f, "no rebuild needed: the database opens as it is")?;
        }
        writeln!(
            f,
            "data lost: {}",
            if self.lost_anything() {
                "yes, as listed above"
            } else {
                "nothing"
            }
        )
    }
}
