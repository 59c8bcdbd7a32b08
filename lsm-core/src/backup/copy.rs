//! Checksumming and copying segment and blob files, a chunk at a time.
//!
//! A backup copies bytes, never links them: a restored database compacting (or the
//! source deleting a segment) must not be able to touch a file of the backup. The
//! source is mapped (segments and blob files are complete and immutable, the condition
//! `FileSystem::map` asks for) and its pages are released behind the copy, so a
//! large file does not stay resident.

use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use super::catalog::BackupFile;
use crate::error::{Error, Result};
use crate::fs::FsRef;

/// Bytes written (and hashed) per step.
const CHUNK: usize = 1 << 20;

/// Size and XXH3-64 of the file at `path`.
///
/// # Errors
/// `Io` when it cannot be read.
pub(crate) fn checksum_file(fs: &FsRef, path: &Path) -> Result<(u64, u64)> {
    let file = fs.map(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Xxh3::new();
    let mut at = 0;
    for chunk in file.bytes.chunks(CHUNK) {
        hasher.update(chunk);
        file.release(at..at + chunk.len());
        at += chunk.len();
    }
    Ok((file.bytes.len() as u64, hasher.digest()))
}

/// Copies `from` to the new file `to` and fsyncs it, checking on the way that the
/// bytes are the ones `expected` describes. A mismatch is reported as corruption of
/// `from`, and `to` is then left as written (the caller's record names it).
///
/// # Errors
/// `Corruption` naming `from` when its size or checksum is not `expected`'s; `Io`.
pub(crate) fn copy_checked(
    fs: &FsRef,
    from: &Path,
    to: &Path,
    expected: &BackupFile,
) -> Result<()> {
    let file = fs.map(from).map_err(|e| Error::io(from, e))?;
    check_size(from, file.bytes.len() as u64, expected)?;
    let mut out = fs.create(to).map_err(|e| Error::io(to, e))?;
    let mut hasher = Xxh3::new();
    let mut at = 0;
    for chunk in file.bytes.chunks(CHUNK) {
        hasher.update(chunk);
        out.write_all(chunk).map_err(|e| Error::io(to, e))?;
        file.release(at..at + chunk.len());
        at += chunk.len();
    }
    check_sum(from, hasher.digest(), expected)?;
    out.sync().map_err(|e| Error::io(to, e))
}

/// Checks that the file at `path` is the one `expected` describes.
///
/// # Errors
/// `Corruption` naming `path` on a size or checksum mismatch; `Io`, with kind
/// `NotFound` when the file is missing.
pub(crate) fn verify_file(fs: &FsRef, path: &Path, expected: &BackupFile) -> Result<()> {
    let size = fs.size(path).map_err(|e| Error::io(path, e))?;
    check_size(path, size, expected)?;
    let (_, sum) = checksum_file(fs, path)?;
    check_sum(path, sum, expected)
}

fn check_size(path: &Path, size: u64, expected: &BackupFile) -> Result<()> {
    if size == expected.size {
        return Ok(());
    }
    Err(Error::Corruption {
        file: path.to_path_buf(),
        offset: size.min(expected.size),
        reason: format!(
            "backup file is {size} bytes, its catalog says {}",
            expected.size
        ),
    })
}

fn check_sum(path: &Path, sum: u64, expected: &BackupFile) -> Result<()> {
    if sum == expected.checksum {
        return Ok(());
    }
    Err(Error::Corruption {
        file: path.to_path_buf(),
        offset: 0,
        reason: format!(
            "backup file checksum {sum:016x}, its catalog says {:016x}",
            expected.checksum
        ),
    })
}
