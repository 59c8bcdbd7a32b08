//! `FaultFs` fails exactly the operation it was armed for, once or persistently,
//! over either the simulated or the real file system.

use std::path::{Path, PathBuf};

use lsm_core::fs::{FaultFs, FaultKind, FaultMode, FileSystem, FsRef, RealFs, SimFs};

/// Runs `f` over a fault wrapper of a simulated disk and of a real directory.
fn on_both(f: impl Fn(&FaultFs, &Path)) {
    let sim = SimFs::new();
    sim.create_dir_all(Path::new("/d")).unwrap();
    f(&FaultFs::new(sim.fs_ref()), Path::new("/d"));
    let dir = tempfile::tempdir().unwrap();
    let real: FsRef = std::sync::Arc::new(RealFs);
    f(&FaultFs::new(real), dir.path());
}

fn results(fs: &FaultFs, dir: &Path, n: usize) -> Vec<bool> {
    let mut f = fs.create(&dir.join("f")).unwrap();
    (0..n).map(|_| f.write_all(b"x").is_ok()).collect()
}

#[test]
fn once_fails_exactly_the_kth_write() {
    on_both(|fs, dir| {
        drop(fs.create(&dir.join("warmup")).unwrap().write_all(b"w"));
        fs.fail(FaultKind::Write, 3, FaultMode::Once);
        assert_eq!(results(fs, dir, 5), [true, true, false, true, true]);
        assert_eq!(fs.injected(), 1);
        assert_eq!(fs.count(FaultKind::Write), 6);
        // The failed write wrote nothing.
        assert_eq!(fs.read(&dir.join("f")).unwrap(), b"xxxx");
    });
}

#[test]
fn persistent_fails_from_the_kth_on_until_cleared() {
    on_both(|fs, dir| {
        fs.fail(FaultKind::Write, 2, FaultMode::Persistent);
        assert_eq!(results(fs, dir, 4), [true, false, false, false]);
        assert_eq!(fs.injected(), 3);
        fs.clear();
        assert_eq!(results(fs, dir, 2), [true, true]);
    });
}

#[test]
fn every_kind_can_fail_and_the_error_says_injected() {
    on_both(|fs, dir| {
        let file: PathBuf = dir.join("f");
        let mut w = fs.create(&file).unwrap();
        w.write_all(b"data").unwrap();
        fs.rename(&file, &dir.join("g")).unwrap();
        let g = dir.join("g");
        let attempts: [(FaultKind, &dyn Fn() -> std::io::Result<()>); 10] = [
            (FaultKind::Create, &|| fs.create(&dir.join("h")).map(drop)),
            (FaultKind::Open, &|| fs.open_append(&g).map(drop)),
            (FaultKind::Read, &|| fs.read(&g).map(drop)),
            (FaultKind::Read, &|| fs.map(&g).map(drop)),
            (FaultKind::Rename, &|| fs.rename(&g, &g)),
            (FaultKind::SyncDir, &|| fs.sync_dir(dir)),
            (FaultKind::List, &|| fs.list(dir).map(drop)),
            (FaultKind::CreateDir, &|| fs.create_dir_all(dir)),
            (FaultKind::Lock, &|| fs.lock(&dir.join("LOCK")).map(drop)),
            (FaultKind::Remove, &|| fs.remove(&g)),
        ];
        for (kind, op) in attempts {
            fs.fail(kind, 1, FaultMode::Once);
            let err = op().unwrap_err();
            assert!(FaultFs::is_injected(&err), "{kind:?}: {err}");
            assert!(err.to_string().contains("injected"), "{err}");
            op().unwrap();
        }
        fs.fail(FaultKind::Sync, 1, FaultMode::Once);
        assert!(w.sync().is_err());
        w.sync().unwrap();
    });
}

#[test]
fn faults_of_different_kinds_are_independent() {
    on_both(|fs, dir| {
        fs.fail(FaultKind::Sync, 1, FaultMode::Once);
        fs.fail(FaultKind::Remove, 1, FaultMode::Once);
        let mut w = fs.create(&dir.join("f")).unwrap();
        w.write_all(b"a").unwrap();
        assert!(w.sync().is_err());
        assert!(fs.remove(&dir.join("f")).is_err());
        w.sync().unwrap();
        fs.remove(&dir.join("f")).unwrap();
    });
}
