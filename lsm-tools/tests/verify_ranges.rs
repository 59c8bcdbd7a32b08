//! `lsm-verify` on segments with range tombstones: the report counts them, and every
//! flipped byte of the range-tombstone block is a problem naming the file and an
//! offset.

mod common;

use common::{range_db, redact_dir, run, stdout};
use lsm_tools::verify::verify_path;

const VERIFY: &str = env!("CARGO_BIN_EXE_lsm-verify");

/// Offset and length of the range-tombstone block of the segment at `path`.
fn range_del_region(path: &std::path::Path) -> (u64, u64) {
    let data = bytes::Bytes::from(std::fs::read(path).unwrap());
    let reader = lsm_format::SegmentReader::open(data, Default::default()).unwrap();
    let layout = reader.layout().unwrap();
    let r = layout.iter().find(|r| r.kind == "range-del").unwrap();
    (r.offset, r.len)
}

#[test]
fn healthy_directory_counts_range_tombstones() {
    let tmp = tempfile::tempdir().unwrap();
    range_db(tmp.path());
    let report = verify_path(tmp.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.range_tombstones_checked, 4);
    assert_eq!(report.segments_with_range_tombstones, 1);
    let out = run(VERIFY, &[tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("4 range tombstones checked in 1 segment"),
        "{text}"
    );
    insta::assert_snapshot!("ranges_healthy_dir", text);
}

#[test]
fn every_flip_in_the_range_tombstone_block_is_a_problem_at_its_offset() {
    let tmp = tempfile::tempdir().unwrap();
    range_db(tmp.path());
    let seg = tmp.path().join("000003.seg");
    let (start, len) = range_del_region(&seg);
    assert!(len > 0);
    let original = std::fs::read(&seg).unwrap();
    for at in start..start + len {
        let mut damaged = original.clone();
        damaged[at as usize] ^= 0x01;
        std::fs::write(&seg, &damaged).unwrap();
        for report in [
            verify_path(&seg, None).unwrap(),
            verify_path(tmp.path(), None).unwrap(),
        ] {
            let p = report
                .problems
                .iter()
                .find(|p| p.file.ends_with("000003.seg"))
                .unwrap_or_else(|| panic!("flip at {at} unnoticed: {:?}", report.problems));
            let offset = p.offset.expect("an offset");
            assert!(
                (start..start + len).contains(&offset),
                "flip at {at}: problem at offset {offset}, outside the block {start}+{len}: {p}"
            );
        }
    }
    // One flip through the binary: exit status 1, the problem line names the block.
    let mut damaged = original.clone();
    damaged[start as usize + 2] ^= 0x01;
    std::fs::write(&seg, &damaged).unwrap();
    let out = run(VERIFY, &[tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(
        "ranges_damaged_block",
        redact_dir(&stdout(&out), tmp.path())
    );
}
