//! One write-ahead log file (`NNNNNN.wal`, `docs/format.md` sections 4 and 5).
//!
//! A commit group is encoded as a single batch record: its ops carry consecutive
//! sequence numbers, and the record is framed and handed to the OS with one
//! `write_all`. A group is atomic across a crash, which is stronger than the
//! per-batch atomicity promised to users.

use std::path::{Path, PathBuf};

use lsm_format::log::LogWriter;
use lsm_format::wal::{encode_batch_header, encode_op};

use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::filenames;
use crate::fs::{FsRef, WritableFile};

pub(crate) struct WalWriter {
    path: PathBuf,
    file: Box<dyn WritableFile>,
    log: LogWriter,
    /// Bytes of the file known durable (fsync returned Ok).
    synced: u64,
    payload: Vec<u8>,
    framed: Vec<u8>,
}

/// Buffers larger than this are not kept for reuse between groups.
const KEEP_BUFFER: usize = 4 << 20;

impl WalWriter {
    /// Creates the empty WAL file `number` in `dir`. The caller fsyncs the directory
    /// before relying on the file.
    ///
    /// # Errors
    /// `Io` when the file cannot be created.
    pub fn create(fs: &FsRef, dir: &Path, number: u64) -> Result<Self> {
        let path = filenames::wal_path(dir, number);
        let file = fs.create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(WalWriter {
            path,
            file,
            log: LogWriter::new(0),
            synced: 0,
            payload: Vec::new(),
            framed: Vec::new(),
        })
    }

    /// Appends one record holding every op of `batches`, the first with sequence
    /// number `first_seq`, and returns the bytes written.
    ///
    /// # Errors
    /// `Io` from the write; the file's tail is then unknown and the caller poisons
    /// the database.
    pub fn append(&mut self, first_seq: u64, batches: &[&WriteBatch]) -> Result<u64> {
        let count: usize = batches.iter().map(|b| b.len()).sum();
        let count = u32::try_from(count).map_err(|_| {
            Error::InvalidArgument(format!("{count} operations in one commit group"))
        })?;
        self.payload.clear();
        encode_batch_header(&mut self.payload, first_seq, self.synced, count);
        for batch in batches {
            for (kind, key, value) in batch.iter() {
                encode_op(&mut self.payload, kind, key, value);
            }
        }
        self.framed.clear();
        self.log.add_record(&self.payload, &mut self.framed);
        let n = self.framed.len() as u64;
        self.file
            .write_all(&self.framed)
            .map_err(|e| Error::io(&self.path, e))?;
        if self.payload.capacity() > KEEP_BUFFER {
            self.payload = Vec::new();
            self.framed = Vec::new();
        }
        Ok(n)
    }

    /// Makes everything written durable; `Ok(false)` when it already was.
    ///
    /// # Errors
    /// `Io`; never retried (the caller poisons the database: after a failed fsync
    /// the kernel may have dropped the dirty pages).
    pub fn sync(&mut self) -> Result<bool> {
        let len = self.file.len();
        if self.synced >= len {
            return Ok(false);
        }
        self.file.sync().map_err(|e| Error::io(&self.path, e))?;
        self.synced = len;
        Ok(true)
    }
}
