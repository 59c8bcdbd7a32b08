//! The `lsm` shell's keyspaces: `keyspaces`, `use NAME` (`--create` to create it),
//! and commands acting on the keyspace in use.

use lsm_core::{Db, Options};
use lsm_tools::display::Style;
use lsm_tools::shell::Session;

fn run(session: &Session, lines: &[&str]) -> String {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(format!("lsm> {line}\n").as_bytes());
        session.run_line(line, &mut out).unwrap();
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn use_switches_the_keyspace_commands_act_on() {
    let tmp = tempfile::tempdir().unwrap();
    let options = Options::default().with_create_if_missing(true);
    let session = Session::open(tmp.path(), options, Style::default()).unwrap();
    let text = run(
        &session,
        &[
            "put colour red",
            "use users",
            "use --create users",
            "put ada lovelace",
            "put colour blue",
            "get colour",
            "scan",
            "keyspaces",
            "flush",
            "use default",
            "get colour",
            "get ada",
            "keyspaces",
        ],
    );
    assert!(
        text.contains("error: no keyspace named \"users\""),
        "{text}"
    );
    assert!(text.contains("lsm> get colour\nblue\n"), "{text}");
    assert!(text.contains("lsm> get colour\nred\n"), "{text}");
    insta::assert_snapshot!("keyspace_session", text);
    session.close().unwrap();

    // What the shell wrote is in the keyspaces the engine sees.
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    assert_eq!(db.keyspace_names(), ["default", "users"]);
    let users = db.keyspace("users").unwrap();
    assert_eq!(users.get("ada").unwrap().as_deref(), Some(&b"lovelace"[..]));
    assert_eq!(db.get("ada").unwrap(), None);
    db.close().unwrap();

    // `use_keyspace` is what `--keyspace NAME` calls: it needs the keyspace to exist.
    let session = Session::open(tmp.path(), Options::default(), Style::default()).unwrap();
    assert!(session.use_keyspace("nobody", false).is_err());
    session.use_keyspace("users", false).unwrap();
    let text = run(&session, &["get ada"]);
    assert_eq!(text, "lsm> get ada\nlovelace\n");
    session.close().unwrap();
}

#[test]
fn a_read_only_session_lists_and_reads_every_keyspace_and_writes_none() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put("colour", "red").unwrap();
    let users = db.keyspace("users").unwrap();
    users.put("ada", "lovelace").unwrap();
    users.put("colour", "blue").unwrap();
    users.flush().unwrap();
    users.put("grace", "hopper").unwrap(); // in the WAL only
    db.keyspace("logs").unwrap();
    db.sync().unwrap();
    // The writer keeps the lock: both kinds of read-only session, the one `lsm`
    // falls back to and the one `--read-only` asks for.
    let locked = Session::open(tmp.path(), Options::default(), Style::default()).unwrap();
    assert_eq!(locked.access(), lsm_tools::shell::Access::ReadOnlyLocked);
    let asked = Session::open_read_only(tmp.path(), Style::default()).unwrap();
    for session in [&locked, &asked] {
        let mut out = Vec::new();
        session
            .run_lines(
                &mut &b"keyspaces\nuse users\nkeyspaces\nget ada\nget colour\nscan\nput ada x\ndelete ada\nflush\nuse --create fresh\nuse nobody\nget ada\nuse default\nget colour\n"[..],
                &mut out,
                Some("lsm> "),
            )
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("lsm> keyspaces\n* default\n  logs\n  users\n"),
            "{text}"
        );
        assert!(
            text.contains("lsm> keyspaces\n  default\n  logs\n* users\n"),
            "{text}"
        );
        assert!(text.contains("lsm> get ada\nlovelace\n"), "{text}");
        assert!(text.contains("lsm> get colour\nblue\n"), "{text}");
        assert!(text.contains("grace = hopper"), "{text}");
        assert!(text.contains("(3 keys)"), "{text}");
        for write in ["put ada x", "delete ada", "flush", "use --create fresh"] {
            assert!(
                text.contains(&format!("lsm> {write}\nerror: `")),
                "{write} was not refused: {text}"
            );
        }
        assert!(
            text.contains("lsm> use nobody\nerror: no keyspace named \"nobody\""),
            "{text}"
        );
        // After the refused writes and `use` of a missing keyspace, still `users`.
        assert!(text.ends_with("lsm> get ada\nlovelace\nlsm> use default\nusing keyspace default\nlsm> get colour\nred\n"), "{text}");
    }
    drop((locked, asked));
    assert_eq!(db.keyspace_names(), ["default", "logs", "users"]);
    assert_eq!(users.get("ada").unwrap().as_deref(), Some(&b"lovelace"[..]));
    db.close().unwrap();
}

/// `explain` traces the lookup in the keyspace in use, in writer and read-only
/// sessions: the keyspace's own segment, not the default keyspace's.
#[test]
fn explain_traces_the_keyspace_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put("ada", "default value").unwrap();
    let users = db.keyspace("users").unwrap();
    users.put("ada", "lovelace").unwrap();
    users.flush().unwrap();
    drop(users);
    db.close().unwrap();
    let session = Session::open(tmp.path(), Options::default(), Style::default()).unwrap();
    let text = run(&session, &["use users", "explain ada"]);
    assert!(text.contains("answer: lovelace (put"), "{text}");
    assert!(text.contains("Bloom filter: maybe present"), "{text}");
    session.close().unwrap();
    let session = Session::open_read_only(tmp.path(), Style::default()).unwrap();
    let text = run(
        &session,
        &["use users", "explain ada", "use default", "explain ada"],
    );
    assert!(text.contains("answer: lovelace (put"), "{text}");
    assert!(text.contains("answer: default value (put"), "{text}");
}
