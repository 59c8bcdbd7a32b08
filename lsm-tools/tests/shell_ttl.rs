//! The `lsm` shell's `put --ttl`, and `explain` of a key whose value expired, on a
//! manual clock (the session is driven through the library, so the clock can move).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use lsm_core::{ManualClock, Options};
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
fn put_with_a_ttl_expires_and_explain_says_when() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let options = Options::default()
        .with_create_if_missing(true)
        .with_clock(clock.clone());
    let session = Session::open(tmp.path(), options, Style::default()).unwrap();
    let mut text = run(
        &session,
        &[
            "put --ttl 10s session/a token",
            "put --ttl 1d session/b longer",
            "put --ttl 10 session/c bad",
            "put --ttl 0s session/c bad",
            "get session/a",
            "explain session/a",
        ],
    );
    clock.advance(Duration::from_secs(11));
    text += &run(
        &session,
        &[
            "get session/a",
            "get session/b",
            "explain session/a",
            "flush",
            "explain session/a",
        ],
    );
    assert!(
        text.contains("expired at 2023-11-14T22:13:30.000Z"),
        "{text}"
    );
    assert!(text.contains("error: key not found: session/a"), "{text}");
    assert!(text.contains("is not a duration"), "{text}");
    insta::assert_snapshot!("ttl_session", text);
    session.close().unwrap();
}
