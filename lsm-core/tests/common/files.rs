//! Looking at and damaging a database directory from outside the engine.

use std::path::{Path, PathBuf};

use lsm_format::{EntryKind, ReadOptions, SegmentReader};

/// Files of `dir` whose name ends with `.{ext}`, sorted by name (file numbers are
/// zero-padded, so this is creation order).
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let suffix = format!(".{ext}");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&suffix))
        })
        .collect();
    out.sort();
    out
}

/// The segment files of a database directory.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    files_with_ext(dir, "seg")
}

/// The names of the blob files of a database directory, sorted.
pub fn blob_files(dir: &Path) -> Vec<String> {
    files_with_ext(dir, "blob")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Opens a segment file with `lsm-format`'s reader.
pub fn open_segment(path: &Path) -> SegmentReader {
    let data =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let options = ReadOptions {
        file_name: Some(path.display().to_string()),
        ..ReadOptions::default()
    };
    SegmentReader::open(data.into(), options)
        .unwrap_or_else(|e| panic!("cannot open segment {}: {e}", path.display()))
}

/// One entry of a segment file, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// User key.
    pub key: Vec<u8>,
    /// Sequence number.
    pub seq: u64,
    /// Put or tombstone.
    pub kind: EntryKind,
    /// Stored value.
    pub value: Vec<u8>,
}

/// Every entry of a segment file, in file order.
pub fn segment_entries(path: &Path) -> Vec<RawEntry> {
    let reader = open_segment(path);
    let mut it = reader.iter();
    let mut out = Vec::new();
    it.seek_to_first()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    while it.valid() {
        out.push(RawEntry {
            key: it.key().to_vec(),
            seq: it.seq(),
            kind: it.kind(),
            value: it.value().to_vec(),
        });
        it.next()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    out
}

/// Every entry of every segment of a directory.
pub fn all_segment_entries(dir: &Path) -> Vec<(PathBuf, RawEntry)> {
    segments(dir)
        .into_iter()
        .flat_map(|p| segment_entries(&p).into_iter().map(move |e| (p.clone(), e)))
        .collect()
}

/// Size of a file in bytes.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// XORs the byte at `offset` of a file with `mask`.
pub fn flip_byte(path: &Path, offset: usize, mask: u8) {
    let mut data = std::fs::read(path).expect("read file to damage");
    data[offset] ^= mask;
    std::fs::write(path, data).expect("write damaged file");
}

/// Cuts `n` bytes off the end of a file.
pub fn truncate_by(path: &Path, n: u64) {
    let len = file_len(path);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open file to truncate");
    f.set_len(len.saturating_sub(n)).expect("truncate");
    f.sync_all().expect("sync");
}

/// Appends `n` zero bytes to a file.
pub fn append_zeros(path: &Path, n: usize) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open file to extend");
    f.write_all(&vec![0u8; n]).expect("append zeros");
    f.sync_all().expect("sync");
}
