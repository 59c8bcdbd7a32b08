//! The simulated disk loses exactly what a real power loss could lose: unsynced file
//! bytes and directory operations not covered by a directory sync, and nothing else.
//! The engine's crash tests are only as good as these guarantees.

use std::io;
use std::path::Path;

use lsm_core::fs::sim::PAGE_SIZE;
use lsm_core::fs::{CrashMode, FileSystem, SimFs};
use proptest::prelude::*;

const DIR: &str = "/db";

fn p(name: &str) -> std::path::PathBuf {
    Path::new(DIR).join(name)
}

fn disk() -> SimFs {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs
}

/// Creates `name` holding `data`, optionally synced.
fn write(fs: &SimFs, name: &str, data: &[u8], sync: bool) {
    let mut f = fs.create(&p(name)).unwrap();
    f.write_all(data).unwrap();
    if sync {
        f.sync().unwrap();
    }
}

fn read(fs: &SimFs, name: &str) -> io::Result<Vec<u8>> {
    fs.read_file(&p(name))
}

fn seeds() -> std::ops::Range<u64> {
    0..20
}

#[test]
fn synced_file_with_synced_dir_survives_every_mode() {
    let fs = disk();
    let data: Vec<u8> = (0..3 * PAGE_SIZE + 17).map(|i| (i % 253) as u8).collect();
    write(&fs, "a", &data, true);
    fs.sync_dir(Path::new(DIR)).unwrap();
    for mode in CrashMode::ALL {
        for seed in seeds() {
            let after = fs.crash(mode, seed);
            assert_eq!(read(&after, "a").unwrap(), data, "{mode:?} seed {seed}");
        }
    }
}

#[test]
fn unsynced_bytes_disappear_under_drop_unsynced() {
    let fs = disk();
    let mut f = fs.create(&p("log")).unwrap();
    f.write_all(b"synced").unwrap();
    f.sync().unwrap();
    f.write_all(b" unsynced").unwrap();
    write(&fs, "never-synced", b"data", false);
    fs.sync_dir(Path::new(DIR)).unwrap();
    let after = fs.crash(CrashMode::DropUnsynced, 0);
    assert_eq!(read(&after, "log").unwrap(), b"synced");
    // The name was made durable, the bytes never were.
    assert_eq!(read(&after, "never-synced").unwrap(), b"");
    // The crash did not touch the original disk.
    assert_eq!(read(&fs, "log").unwrap(), b"synced unsynced");
}

#[test]
fn file_sync_without_dir_sync_loses_the_name() {
    let fs = disk();
    write(&fs, "a", b"durable bytes", true);
    for mode in CrashMode::ALL {
        let after = fs.crash(mode, 1);
        assert!(!after.exists(&p("a")), "{mode:?}");
        assert!(after.list(Path::new(DIR)).unwrap().is_empty());
    }
}

#[test]
fn rename_without_dir_sync_reverts() {
    let fs = disk();
    write(&fs, "CURRENT", b"old", true);
    write(&fs, "CURRENT.tmp", b"new", true);
    fs.sync_dir(Path::new(DIR)).unwrap();
    fs.rename(&p("CURRENT.tmp"), &p("CURRENT")).unwrap();
    assert_eq!(read(&fs, "CURRENT").unwrap(), b"new");
    for mode in CrashMode::ALL {
        let after = fs.crash(mode, 2);
        assert_eq!(read(&after, "CURRENT").unwrap(), b"old", "{mode:?}");
        assert_eq!(read(&after, "CURRENT.tmp").unwrap(), b"new", "{mode:?}");
    }
    fs.sync_dir(Path::new(DIR)).unwrap();
    let after = fs.crash(CrashMode::DropUnsynced, 2);
    assert_eq!(read(&after, "CURRENT").unwrap(), b"new");
    assert!(!after.exists(&p("CURRENT.tmp")));
}

#[test]
fn remove_without_dir_sync_reverts_with_durable_contents() {
    let fs = disk();
    let mut f = fs.create(&p("seg")).unwrap();
    f.write_all(b"kept").unwrap();
    f.sync().unwrap();
    f.write_all(b" lost").unwrap();
    drop(f);
    fs.sync_dir(Path::new(DIR)).unwrap();
    fs.remove(&p("seg")).unwrap();
    assert!(!fs.exists(&p("seg")));
    let after = fs.crash(CrashMode::DropUnsynced, 3);
    assert_eq!(read(&after, "seg").unwrap(), b"kept");
    fs.sync_dir(Path::new(DIR)).unwrap();
    assert!(!fs.crash(CrashMode::DropUnsynced, 3).exists(&p("seg")));
}

#[test]
fn create_over_existing_file_without_sync_keeps_old_contents() {
    let fs = disk();
    write(&fs, "a", b"old contents", true);
    fs.sync_dir(Path::new(DIR)).unwrap();
    write(&fs, "a", b"new", false);
    let after = fs.crash(CrashMode::DropUnsynced, 0);
    assert_eq!(read(&after, "a").unwrap(), b"old contents");
}

#[test]
fn crash_is_deterministic_by_seed() {
    let fs = disk();
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        let mut f = fs.create(&p(name)).unwrap();
        f.write_all(&vec![i as u8 + 1; 1000]).unwrap();
        f.sync().unwrap();
        f.write_all(&vec![0xEE; 20 * PAGE_SIZE]).unwrap();
    }
    fs.sync_dir(Path::new(DIR)).unwrap();
    let image = |after: &SimFs| -> Vec<Vec<u8>> {
        ["a", "b", "c"]
            .iter()
            .map(|n| read(after, n).unwrap())
            .collect()
    };
    for mode in CrashMode::ALL {
        for seed in seeds() {
            assert_eq!(image(&fs.crash(mode, seed)), image(&fs.crash(mode, seed)));
        }
        let distinct: std::collections::BTreeSet<_> =
            seeds().map(|seed| image(&fs.crash(mode, seed))).collect();
        let expected = if mode == CrashMode::DropUnsynced {
            1
        } else {
            2
        };
        assert!(
            distinct.len() >= expected,
            "{mode:?}: {} images",
            distinct.len()
        );
    }
}

#[test]
fn crash_releases_locks() {
    let fs = disk();
    let _guard = fs.lock(&p("LOCK")).unwrap();
    assert_eq!(
        fs.lock(&p("LOCK")).err().map(|e| e.kind()),
        Some(io::ErrorKind::WouldBlock)
    );
    let after = fs.crash(CrashMode::DropUnsynced, 0);
    assert!(after.lock(&p("LOCK")).is_ok());
}

/// The atomic-replace protocol (write temp, sync, rename, sync dir), cut off by a
/// power loss after every possible number of operations: the file is always either
/// entirely old or entirely new, never missing or mixed.
#[test]
fn power_cut_at_every_step_of_atomic_replace() {
    let steps = |fs: &SimFs| -> io::Result<()> {
        let mut f = fs.create(&p("CURRENT.tmp"))?;
        f.write_all(b"new contents")?;
        f.sync()?;
        drop(f);
        fs.rename(&p("CURRENT.tmp"), &p("CURRENT"))?;
        fs.sync_dir(Path::new(DIR))
    };
    let mut completed = false;
    for budget in 0.. {
        let fs = disk();
        write(&fs, "CURRENT", b"old", true);
        fs.sync_dir(Path::new(DIR)).unwrap();
        fs.power_off_after(budget);
        let outcome = steps(&fs);
        for mode in CrashMode::ALL {
            for seed in 0..4 {
                let current = read(&fs.crash(mode, seed), "CURRENT").unwrap();
                assert!(
                    current == b"old" || current == b"new contents",
                    "budget {budget} {mode:?}: {current:?}"
                );
                if outcome.is_ok() {
                    assert_eq!(current, b"new contents");
                }
            }
        }
        if outcome.is_ok() {
            completed = true;
            break;
        }
        assert!(fs.is_powered_off());
    }
    assert!(completed);
}

/// The staging protocol of checkpoints and restores (build a directory under a
/// temporary name, sync its files and itself, rename it into place, sync the
/// parent), cut off by a power loss after every possible number of operations: the
/// final name is always either missing or the whole directory, and present once the
/// protocol returned. Then the leftover is removed (files, then the directory), cut
/// at every step: the staging directory is whole or gone, never the final name.
#[test]
fn power_cut_at_every_step_of_a_directory_built_aside_and_renamed() {
    let (stage, dest) = (Path::new("/db/.copy.tmp"), Path::new("/db/copy"));
    let build = |fs: &SimFs| -> io::Result<()> {
        fs.create_dir_all(stage)?;
        for name in ["a", "b"] {
            let mut f = fs.create(&stage.join(name))?;
            f.write_all(name.as_bytes())?;
            f.sync()?;
        }
        fs.sync_dir(stage)?;
        fs.rename_dir(stage, dest)?;
        fs.sync_dir(Path::new(DIR))
    };
    let mut completed = false;
    for budget in 0.. {
        let fs = disk();
        fs.power_off_after(budget);
        let outcome = build(&fs);
        for mode in CrashMode::ALL {
            for seed in 0..4 {
                let image = fs.crash(mode, seed);
                if image.exists(dest) {
                    assert_eq!(image.read_file(&dest.join("a")).unwrap(), b"a");
                    assert_eq!(image.read_file(&dest.join("b")).unwrap(), b"b");
                    assert!(!image.exists(stage), "budget {budget}: both names");
                } else {
                    assert!(outcome.is_err(), "budget {budget} {mode:?}: no dest");
                }
            }
        }
        if outcome.is_ok() {
            completed = true;
            break;
        }
        assert!(fs.is_powered_off());
    }
    assert!(completed);

    let remove = |fs: &SimFs| -> io::Result<()> {
        for name in ["a", "b"] {
            fs.remove(&stage.join(name))?;
        }
        fs.remove_dir(stage)?;
        fs.sync_dir(Path::new(DIR))
    };
    for budget in 0.. {
        let fs = disk();
        fs.create_dir_all(stage).unwrap();
        write(&fs, ".copy.tmp/a", b"a", true);
        write(&fs, ".copy.tmp/b", b"b", true);
        fs.sync_dir(stage).unwrap();
        fs.power_off_after(budget);
        let outcome = remove(&fs);
        let image = fs.crash(CrashMode::DropUnsynced, 0);
        assert!(!image.exists(dest));
        if outcome.is_ok() {
            assert_eq!(image.list(Path::new(DIR)).unwrap(), Vec::<String>::new());
            break;
        }
        // Removals of files not followed by a sync of the directory come back.
        assert_eq!(image.read_file(&stage.join("a")).unwrap(), b"a");
        assert_eq!(image.read_file(&stage.join("b")).unwrap(), b"b");
    }
}

/// One step of a random single-file history.
#[derive(Debug, Clone)]
enum Step {
    Append(usize),
    Sync,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1usize..3 * PAGE_SIZE).prop_map(Step::Append),
        1 => Just(Step::Sync),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Whatever the history, a crash keeps every durable byte, never invents bytes
    /// (unsynced bytes are written data, or zeros where a page was lost) and lands
    /// between the durable and the current length.
    #[test]
    fn crash_images_respect_durability(
        steps in prop::collection::vec(step(), 1..20),
        seed in any::<u64>(),
    ) {
        let fs = disk();
        let mut f = fs.create(&p("f")).unwrap();
        fs.sync_dir(Path::new(DIR)).unwrap();
        let (mut current, mut durable) = (Vec::new(), 0usize);
        for s in &steps {
            match s {
                Step::Append(n) => {
                    // Nonzero bytes, distinct per position, so a lost page shows.
                    let chunk: Vec<u8> =
                        (current.len()..current.len() + n).map(|i| (i % 255) as u8 + 1).collect();
                    f.write_all(&chunk).unwrap();
                    current.extend_from_slice(&chunk);
                }
                Step::Sync => {
                    f.sync().unwrap();
                    durable = current.len();
                }
            }
        }
        for mode in CrashMode::ALL {
            let image = read(&fs.crash(mode, seed), "f").unwrap();
            prop_assert!(image.len() >= durable && image.len() <= current.len());
            prop_assert_eq!(&image[..durable], &current[..durable]);
            match mode {
                CrashMode::DropUnsynced => prop_assert_eq!(image.len(), durable),
                CrashMode::KeepRandomPrefix => prop_assert!(current.starts_with(&image)),
                CrashMode::RandomPages { garbage: false } => {
                    for (j, &b) in image.iter().enumerate().skip(durable) {
                        prop_assert!(b == current[j] || b == 0, "byte {}", j);
                    }
                }
                CrashMode::RandomPages { garbage: true } => {}
            }
        }
    }
}
