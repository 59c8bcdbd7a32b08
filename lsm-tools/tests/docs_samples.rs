//! Every sample output in `docs/tools.md` is a snapshot a test produces, so the page
//! cannot drift from what the tools print.
//!
//! The convention, for whoever edits the page: the line right before each fenced
//! block (```) is an HTML comment that says where the block comes from.
//!
//! - `<!-- snapshot: NAME -->`: the block equals `lsm-tools/tests/snapshots/NAME.snap`
//!   (the text after the insta header, i.e. after its second `---` line). The block
//!   may start with one command line beginning with `$ ` (`$ lsm-dump DIR`), which is
//!   not part of the comparison. Trailing whitespace on each line and trailing empty
//!   lines are ignored; everything else must match exactly.
//! - `<!-- unchecked: REASON -->`: a block that is not tool output (a synopsis, a
//!   command to type) or that cannot be reproduced (benchmark timings); REASON says
//!   which, and the page must say so to the reader where it is output.
//!
//! A fenced block with neither comment fails the test, as does a name with no
//! snapshot file. To change a sample, change the test that makes the snapshot (or
//! add one) and copy the accepted snapshot into the page.

use std::path::{Path, PathBuf};

const SNAPSHOT: &str = "<!-- snapshot: ";
const UNCHECKED: &str = "<!-- unchecked: ";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A fenced block of the page.
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    /// The comment line before the fence, if any.
    marker: Option<String>,
    /// The lines between the fences.
    body: Vec<String>,
}

fn blocks(page: &str) -> Vec<Block> {
    let lines: Vec<&str> = page.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("```") {
            i += 1;
            continue;
        }
        let open = i;
        let marker = open
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .filter(|l| l.starts_with("<!--"))
            .map(str::to_string);
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i].to_string());
            i += 1;
        }
        assert!(
            i < lines.len(),
            "docs/tools.md:{}: unclosed fence",
            open + 1
        );
        out.push(Block {
            line: open + 1,
            marker,
            body,
        });
        i += 1;
    }
    out
}

/// The snapshot's contents: what follows the second `---` line of its header.
fn snapshot_contents(text: &str) -> &str {
    let mut rest = text;
    for _ in 0..2 {
        let at = rest
            .find("---\n")
            .expect("an insta snapshot starts with a `---` header");
        rest = &rest[at + 4..];
    }
    rest
}

/// Lines without trailing whitespace, without trailing empty lines.
fn normalise<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = lines.map(str::trim_end).collect();
    while v.last() == Some(&"") {
        v.pop();
    }
    v
}

#[test]
fn every_sample_in_tools_md_is_a_current_snapshot() {
    let page = std::fs::read_to_string(root().join("../docs/tools.md")).unwrap();
    let blocks = blocks(&page);
    assert!(!blocks.is_empty(), "no fenced block found in docs/tools.md");
    let mut failures = Vec::new();
    let mut checked = 0;
    for block in &blocks {
        let where_ = format!("docs/tools.md:{}", block.line);
        let marker = block.marker.as_deref().unwrap_or("");
        if let Some(reason) = marker.strip_prefix(UNCHECKED) {
            let reason = reason.trim_end_matches("-->").trim();
            assert!(!reason.is_empty(), "{where_}: `unchecked` needs a reason");
            continue;
        }
        let Some(name) = marker.strip_prefix(SNAPSHOT) else {
            failures.push(format!(
                "{where_}: a fenced block needs `{SNAPSHOT}NAME -->` or `{UNCHECKED}REASON -->` on the line before it"
            ));
            continue;
        };
        let name = name.trim_end_matches("-->").trim();
        let path = root().join("tests/snapshots").join(format!("{name}.snap"));
        let Ok(snap) = std::fs::read_to_string(&path) else {
            failures.push(format!("{where_}: no snapshot {}", path.display()));
            continue;
        };
        let skip = usize::from(block.body.first().is_some_and(|l| l.starts_with("$ ")));
        let sample = normalise(block.body.iter().skip(skip).map(String::as_str));
        let expected = normalise(snapshot_contents(&snap).lines());
        if sample != expected {
            failures.push(format!(
                "{where_}: the sample differs from snapshot {name}\n--- page\n{}\n--- snapshot\n{}",
                sample.join("\n"),
                expected.join("\n")
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked > 0, "no sample is marked with a snapshot");
}

#[test]
fn the_parser_follows_the_convention() {
    let page = "text\n<!-- snapshot: a -->\n```\n$ cmd\nout  \n\n```\n```\nx\n```\n";
    let b = blocks(page);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].line, 3);
    assert_eq!(b[0].marker.as_deref(), Some("<!-- snapshot: a -->"));
    assert_eq!(b[0].body, ["$ cmd", "out  ", ""]);
    assert!(b[1].marker.is_none());
    assert_eq!(
        snapshot_contents("---\nsource: x\nexpression: y\n---\nline\n"),
        "line\n"
    );
    assert_eq!(normalise(["a  ", "b", "", ""].into_iter()), ["a", "b"]);
}
