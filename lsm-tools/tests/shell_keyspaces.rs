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
