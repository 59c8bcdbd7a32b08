//! `lsm-compact`: the merged view is unchanged, tombstones and old versions are gone,
//! the directory shrinks, also when the tool is killed at a random point and run
//! again; a directory another process has open is refused.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{copy_dir, engine_db, handmade_db, redact_dir, run, stdout};
use lsm_tools::compact::measure;
use lsm_tools::units::format_size;
use rand::{Rng, SeedableRng};

const COMPACT: &str = env!("CARGO_BIN_EXE_lsm-compact");
const DUMP: &str = env!("CARGO_BIN_EXE_lsm-dump");

fn entries(dir: &Path) -> String {
    let out = run(DUMP, &[dir.to_str().unwrap(), "--entries", "--full"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// The state a full compaction must leave: the same view, no tombstone anywhere (in
/// segments or WAL), nothing bigger than before.
fn assert_compacted(dir: &Path, view: &str, bytes_before: u64) {
    assert_eq!(entries(dir), view, "the merged view changed");
    let after = measure(dir).unwrap();
    assert_eq!(after.tombstones, 0, "tombstones remain: {after:?}");
    let live_keys = view.lines().count() as u64;
    assert_eq!(after.versions, live_keys, "old versions remain: {after:?}");
    assert!(
        after.bytes < bytes_before,
        "{} bytes after, {bytes_before} before",
        after.bytes
    );
}

#[test]
fn compaction_keeps_the_view_and_drops_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expected = engine_db(dir, 600, 3);
    let view = entries(dir);
    assert_eq!(view, expected, "lsm-dump --entries differs from the model");
    let before = measure(dir).unwrap();
    assert!(
        before.tombstones > 0 && before.versions > view.lines().count() as u64,
        "{before:?}"
    );

    let dry = run(COMPACT, &["--dry-run", dir.to_str().unwrap(), "--json"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(dry["keys_kept"], view.lines().count() as u64);
    assert_eq!(measure(dir).unwrap(), before, "a dry run must not write");

    let out = run(COMPACT, &["--quiet", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_compacted(dir, &view, before.bytes);
}

#[test]
fn report_on_a_handmade_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let view = entries(dir);
    let bytes = measure(dir).unwrap().bytes;
    let dry = run(COMPACT, &["--dry-run", dir.to_str().unwrap()]);
    let dry = redact_dir(&stdout(&dry), dir);
    insta::assert_snapshot!("dry_run_text", dry);
    // Static level sizing, as the directory was written: under dynamic sizing the
    // background drains its level-1 file down while the tool compacts, so the
    // manifest's size would depend on timing.
    let out = run(
        COMPACT,
        &[dir.to_str().unwrap(), "--dynamic-level-bytes", "false"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The time taken is the one volatile field.
    let text: String = redact_dir(&stdout(&out), dir)
        .lines()
        .map(|l| match l.find(" in ") {
            Some(i) if l.starts_with("compacted") => format!("{} in [time]\n", &l[..i]),
            _ => format!("{l}\n"),
        })
        .collect();
    insta::assert_snapshot!("compact_text", text);
    assert_compacted(dir, &view, bytes);
}

/// The JSON report, with the time taken (the one volatile field) set to 0.
fn report_json(args: &[&str], dir: &Path) -> serde_json::Value {
    let out = run(COMPACT, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["seconds"] = 0.into();
    json["dir"] = redact_dir(json["dir"].as_str().unwrap(), dir).into();
    json
}

#[test]
fn json_reports_on_a_handmade_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    handmade_db(dir);
    let d = dir.to_str().unwrap();
    insta::assert_json_snapshot!(
        "dry_run_json",
        report_json(&[d, "--dry-run", "--json"], dir)
    );
    // Static level sizing, as in `report_on_a_handmade_directory`.
    let args = [d, "--json", "--dynamic-level-bytes", "false"];
    insta::assert_json_snapshot!("compact_json", report_json(&args, dir));
}

#[test]
fn killed_at_a_random_point_and_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    engine_db(&template, 3000, 2);
    let view = entries(&template);
    let bytes = measure(&template).unwrap().bytes;
    // How long an uninterrupted run takes, to spread the kills over it.
    let probe = tmp.path().join("probe");
    copy_dir(&template, &probe);
    let start = Instant::now();
    assert!(run(COMPACT, &["--quiet", probe.to_str().unwrap()])
        .status
        .success());
    let full = start.elapsed().as_micros().max(1000) as u64;
    let seed = std::env::var("LSM_TOOLS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut interrupted = 0;
    for attempt in 0..8 {
        let dir = tmp.path().join(format!("run{attempt}"));
        copy_dir(&template, &dir);
        let delay = Duration::from_micros(rng.gen_range(0..full));
        let mut child = Command::new(COMPACT)
            .args(["--quiet", dir.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // Whatever happened, the files (read without the engine) hold the same view...
        assert_eq!(
            entries(&dir),
            view,
            "view changed after a kill at {delay:?} (seed {seed})"
        );
        // ...and a second run finishes the job.
        let out = run(COMPACT, &["--quiet", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_compacted(&dir, &view, bytes);
    }
    // Timing decides how many kills land mid-run; report it rather than assert it.
    eprintln!("{interrupted} of 8 runs killed before they finished (full run {full} µs)");
}

#[test]
fn a_locked_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lsm_core::Db::open(tmp.path(), lsm_core::Options::default()).unwrap();
    db.put("k", "v").unwrap();
    let out = run(COMPACT, &["--quiet", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another process has the database open"),
        "{err}"
    );
    // Reading tools work beside it.
    db.flush().unwrap();
    assert_eq!(entries(tmp.path()), "k = v\n");
    let dry = run(COMPACT, &["--dry-run", tmp.path().to_str().unwrap()]);
    assert!(dry.status.success());
    db.close().unwrap();
}

#[test]
fn not_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(COMPACT, &[tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a database directory"));
    assert!(
        !tmp.path().join("MANIFEST").exists(),
        "must not create a database"
    );
}

#[test]
fn level_option_puts_everything_in_that_level() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    engine_db(dir, 600, 3);
    let view = entries(dir);
    let before = measure(dir).unwrap();
    let out = run(COMPACT, &["--quiet", "--level", "3", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_compacted(dir, &view, before.bytes);
    let manifest = std::fs::read(dir.join("MANIFEST")).unwrap();
    let state = lsm_format::manifest::replay_manifest(&manifest).unwrap();
    for (level, files) in state.levels.iter().enumerate() {
        assert_eq!(
            files.is_empty(),
            level != 3,
            "level {level} holds {} files after --level 3",
            files.len()
        );
    }
    let bad = run(COMPACT, &["--quiet", "--level", "0", dir.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "level 0 is a usage error");
}

#[test]
fn help_gives_the_engine_defaults() {
    let help = stdout(&run(COMPACT, &["--help"]));
    let d = lsm_core::Options::default();
    let one_line = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        format!(
            "Bloom filter bits per key of the output (engine default: {})",
            d.bloom_bits_per_key
        ),
        format!("(engine default: {})", format_size(d.segment_size as u64)),
        format!("(engine default: {})", format_size(d.block_size as u64)),
    ] {
        assert!(one_line.contains(&expected), "{expected}\n{help}");
    }
    // docs/tools.md quotes the same default.
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tools.md")).unwrap();
    let docs = docs.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        docs.contains(&format!(
            "Bloom filter bits per key of the output (engine default: {})",
            d.bloom_bits_per_key
        )),
        "docs/tools.md must quote lsm-compact --help"
    );
}

#[test]
fn dry_run_counts_what_range_deletes_hide_as_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = lsm_core::Db::open(dir, lsm_core::Options::default()).unwrap();
    for i in 0..100u32 {
        db.put(format!("log/{i:03}"), "entry").unwrap();
    }
    db.flush().unwrap();
    db.delete_range("log/000", "log/090").unwrap();
    db.close().unwrap();
    let report = report_json(&[dir.to_str().unwrap(), "--dry-run", "--json"], dir);
    assert_eq!(report["keys_kept"], 10, "{report}");
    assert_eq!(report["versions_dropped"], 90, "{report}");
    // The real compaction agrees.
    let report = report_json(&[dir.to_str().unwrap(), "--json"], dir);
    assert_eq!(entries(dir).lines().count(), 10, "{report}");
}
