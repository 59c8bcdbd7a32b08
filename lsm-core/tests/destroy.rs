//! `lsm_core::destroy` on the real file system: an open database is refused, a
//! directory with a stranger's file is left whole, a closed database goes entirely.

use lsm_core::{destroy, Db, Error, InvalidArgumentKind, Options};

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn an_open_database_is_refused_and_a_closed_one_destroyed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.flush().unwrap();
    let before = files(&dir);
    let err = destroy(&dir).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert_eq!(
        files(&dir),
        before,
        "nothing may be deleted under a held lock"
    );
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    db.close().unwrap();
    destroy(&dir).unwrap();
    assert!(!dir.exists());
    // Again: nothing left to destroy is not an error.
    destroy(&dir).unwrap();
}

#[test]
fn a_directory_with_a_foreign_file_is_left_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let before = files(&dir);
    let err = destroy(&dir).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                kind: InvalidArgumentKind::ForeignFiles,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(files(&dir), before);
    let db = Db::open(&dir, Options::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    db.close().unwrap();
}

#[test]
fn a_plain_directory_gets_no_lock_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("report.pdf"), "x").unwrap();
    assert!(matches!(
        destroy(tmp.path()),
        Err(Error::InvalidArgument {
            kind: InvalidArgumentKind::ForeignFiles,
            ..
        })
    ));
    assert_eq!(files(tmp.path()), ["report.pdf"]);
}
