mod common;
#[test]
fn scratch() {
    let dir = tempfile::tempdir().unwrap();
    common::handmade_db(dir.path());
    let d = dir.path().to_str().unwrap();
    for args in [
        vec![d],
        vec![d, "--entries"],
        vec![&format!("{d}/000004.seg"), "--layout"],
        vec![&format!("{d}/000006.wal")],
        vec![&format!("{d}/MANIFEST")],
    ] {
        let out = common::run(env!("CARGO_BIN_EXE_lsm-dump"), &args);
        println!(
            "{}{}",
            common::stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = common::run(env!("CARGO_BIN_EXE_lsm-verify"), &[d]);
    println!(
        "{}{}",
        common::stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}
