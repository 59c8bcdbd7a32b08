//! Writing the manifest: an append-only log of version edits (`docs/format.md`
//! section 6), replaced atomically when it grows.
//!
//! Crash-consistency rules kept here:
//! - **Commit rule**: an edit is appended and fsynced, then an empty record (the
//!   commit marker) is appended and fsynced; only after both does the caller delete
//!   files the edit made obsolete. A torn final record is therefore always safe to
//!   drop on replay.
//! - **Replacement**: a new manifest is written in full (one snapshot edit plus its
//!   commit marker) to `MANIFEST.tmp`, fsynced, renamed over `MANIFEST`, and the
//!   directory is fsynced, so a crash leaves either the old or the new manifest whole.

use std::path::{Path, PathBuf};

use lsm_format::log::LogWriter;
use lsm_format::manifest::VersionEdit;

use crate::error::{Error, Result};
use crate::filenames::{MANIFEST, MANIFEST_TMP};
use crate::fs::{FsRef, WritableFile};

pub(crate) struct ManifestWriter {
    fs: FsRef,
    path: PathBuf,
    file: Box<dyn WritableFile>,
    log: LogWriter,
    buf: Vec<u8>,
}

impl ManifestWriter {
    /// Writes a new manifest holding `snapshot` through `MANIFEST.tmp` and a rename,
    /// and opens it for appending.
    ///
    /// # Errors
    /// `Io` from any step; the old manifest, if any, is then untouched or wholly
    /// replaced.
    pub fn create(fs: &FsRef, dir: &Path, snapshot: &VersionEdit) -> Result<Self> {
        let tmp = dir.join(MANIFEST_TMP);
        let path = dir.join(MANIFEST);
        let mut log = LogWriter::new(0);
        let mut payload = Vec::new();
        snapshot.encode(&mut payload);
        let mut buf = Vec::new();
        log.add_record(&payload, &mut buf);
        log.add_record(&[], &mut buf);
        {
            let mut file = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            file.write_all(&buf).map_err(|e| Error::io(&tmp, e))?;
            file.sync().map_err(|e| Error::io(&tmp, e))?;
        }
        fs.rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        let file = fs.open_append(&path).map_err(|e| Error::io(&path, e))?;
        let log = LogWriter::new(file.len());
        Ok(ManifestWriter {
            fs: fs.clone(),
            path,
            file,
            log,
            buf: Vec::new(),
        })
    }

    /// Appends `edit` and its commit marker, each made durable before the next step.
    ///
    /// # Errors
    /// `Io`; the caller poisons the database (a failed fsync is never retried).
    pub fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        self.buf.clear();
        self.log.add_record(&payload, &mut self.buf);
        self.write_and_sync()?;
        self.buf.clear();
        self.log.add_record(&[], &mut self.buf);
        self.write_and_sync()
    }

    fn write_and_sync(&mut self) -> Result<()> {
        let path = &self.path;
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io(path, e))?;
        self.file.sync().map_err(|e| Error::io(path, e))
    }

    /// Current size of the manifest file.
    pub fn len(&self) -> u64 {
        self.file.len()
    }

    pub fn fs(&self) -> &FsRef {
        &self.fs
    }
}
