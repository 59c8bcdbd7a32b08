//! The corruption sweep with repair: every kind of damage to every file of a small
//! database (byte flips, truncations, deletions of its segments, WAL and manifest),
//! then `repair`. Every time: `Db::open` succeeds, every key reads its newest value
//! unless the report names a range holding that version (then an older value of it
//! or nothing), no key ever reads a value it never had, and a second repair finds
//! nothing to rebuild.
//!
//! By default the flips are a sample of positions (a fixed seed, about one byte in
//! forty, one in eight of the manifest); `LSM_SWEEP_FULL=1` flips every byte of every
//! file.

mod repair_support;

use lsm_core::repair_with_fs;
use repair_support::{build, check, copy, files, path, Built, Rng, DB};

use lsm_core::fs::SimFs;

enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    Delete,
}

fn run_case(built: &Built, file: &str, damage: &Damage) -> Result<bool, String> {
    let fs = copy(&built.image);
    let p = path(file);
    match *damage {
        Damage::Flip(at, mask) => {
            let mut data = fs.read_file(&p).unwrap();
            data[at] ^= mask;
            fs.write_file_raw(&p, &data).unwrap();
        }
        Damage::Truncate(len) => {
            let data = fs.read_file(&p).unwrap();
            fs.write_file_raw(&p, &data[..len]).unwrap();
        }
        Damage::Delete => fs.fs_ref().remove(&p).unwrap(),
    }
    let report = repair_with_fs(DB, repair_support::options(), fs.fs_ref())
        .map_err(|e| format!("repair failed: {e}"))?;
    if std::env::var("LSM_SWEEP_SHOW").is_ok() {
        eprintln!("--- {file}\n{report}");
    }
    check(&fs, built, &report)?;
    let again = repair_with_fs(DB, repair_support::options(), fs.fs_ref())
        .map_err(|e| format!("second repair failed: {e}"))?;
    if again.rebuilt || again.lost_anything() {
        return Err(format!("a second repair found more to do:\n{again}"));
    }
    Ok(report.lost_anything())
}

fn damages(fs: &SimFs, file: &str, full: bool, rng: &mut Rng) -> Vec<Damage> {
    // A live WAL is preallocated: only its written part (up to the last non-zero
    // byte) is swept.
    let data = fs.read_file(&path(file)).unwrap();
    let len = data.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let mut out = Vec::new();
    for at in 0..len {
        if full || rng.below(if file == "MANIFEST" { 8 } else { 40 }) == 0 {
            let mask = match rng.below(3) {
                0 => 0x01,
                1 => 0x80,
                _ => (rng.below(255) + 1) as u8,
            };
            out.push(Damage::Flip(at, mask));
        }
    }
    for cut in [0, 1, len / 3, len / 2, len.saturating_sub(1)] {
        if cut < len {
            out.push(Damage::Truncate(cut));
        }
    }
    out.push(Damage::Delete);
    out
}

#[test]
fn every_damage_repairs_to_a_database_that_opens_and_loses_only_what_the_report_names() {
    let full = std::env::var("LSM_SWEEP_FULL").is_ok_and(|v| v == "1");
    let built = build(160);
    let names = files(&built.image);
    let kinds = |ext: &str| names.iter().filter(|n| n.ends_with(ext)).count();
    assert!(kinds(".seg") >= 3 && kinds(".wal") >= 1, "{names:?}");
    assert!(names.iter().any(|n| n == "MANIFEST"));
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut cases, mut lossy) = (0, 0);
    let mut failures = Vec::new();
    let limit: usize = std::env::var("LSM_SWEEP_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    for file in &names {
        let start = std::time::Instant::now();
        let before = cases;
        for damage in damages(&built.image, file, full, &mut rng)
            .into_iter()
            .take(limit)
        {
            cases += 1;
            match run_case(&built, file, &damage) {
                Ok(lost) => lossy += usize::from(lost),
                Err(e) => {
                    let what = match damage {
                        Damage::Flip(at, mask) => format!("flip {mask:#04x} at {at}"),
                        Damage::Truncate(len) => format!("truncate to {len}"),
                        Damage::Delete => "delete".into(),
                    };
                    failures.push(format!("{file}: {what}: {e}"));
                }
            }
        }
        eprintln!("{file}: {} cases in {:?}", cases - before, start.elapsed());
    }
    eprintln!("{cases} damaged copies repaired, {lossy} of them with a reported loss");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed; first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n")
    );
    // The sweep must have exercised real losses and lossless repairs.
    assert!(lossy > 0 && lossy < cases);
}
