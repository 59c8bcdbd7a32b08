//! One write-ahead log file (`NNNNNN.wal`, `docs/format.md` sections 4 and 5).
//!
//! A commit group is encoded as a single batch record: its ops carry consecutive
//! sequence numbers, and the record is framed and handed to the OS with one
//! `write_all`. A group is atomic across a crash, which is stronger than the
//! per-batch atomicity promised to users.

use std::path::{Path, PathBuf};

use lsm_format::log::LogWriter;
use lsm_format::wal::{encode_batch_header, encode_op_in, start_wal, WalFormat};

use crate::batch::WriteBatch;
use crate::error::{Error, InvalidArgumentKind, Result};
use crate::filenames;
use crate::fs::{FsRef, WritableFile};

pub(crate) struct WalWriter {
    path: PathBuf,
    file: Box<dyn WritableFile>,
    log: LogWriter,
    /// Bytes of the file known durable (fsync returned Ok).
    synced: u64,
    /// The file's size including preallocated zeros (at least its written length).
    allocated: u64,
    /// Bytes of the file handed to the OS's writeback (`start_writeback`), or
    /// synced.
    writeback_started: u64,
    /// `Options::wal_bytes_per_sync`: the unsynced bytes that start writeback; 0
    /// never does.
    writeback_step: u64,
    payload: Vec<u8>,
    framed: Vec<u8>,
}

/// Buffers larger than this are not kept for reuse between groups.
const KEEP_BUFFER: usize = 4 << 20;
/// The file is extended with zeros in steps of this many bytes ahead of the
/// writes. A sync after an append that grew the file must also commit the new file
/// size (a second disk flush, about 1.5x the latency of a synced small write on
/// ext4); within preallocated space it need not. The zeros read as a torn tail
/// (`docs/format.md` section 5) and are trimmed before a WAL stops being the newest.
const PREALLOCATE_STEP: u64 = 4 << 20;
/// The unit the ranges handed to writeback (`Options::wal_bytes_per_sync`) are
/// aligned down to: whole pages only, the last, partial one takes the next append.
const WRITEBACK_ALIGN: u64 = 4096;

impl WalWriter {
    /// Creates WAL file `number` in `dir` and writes its header record (not synced:
    /// a WAL that loses its header in a crash before any sync held nothing
    /// acknowledged as durable). The caller fsyncs the directory before relying on
    /// the file.
    ///
    /// # Errors
    /// `Io` when the file cannot be created or written.
    pub fn create(fs: &FsRef, dir: &Path, number: u64, writeback_step: u64) -> Result<Self> {
        let path = filenames::wal_path(dir, number);
        let file = fs.create(&path).map_err(|e| Error::io(&path, e))?;
        Self::start(path, file, writeback_step)
    }

    /// Writes the header record into the empty `file` at `path`.
    fn start(path: PathBuf, file: Box<dyn WritableFile>, writeback_step: u64) -> Result<Self> {
        let mut framed = Vec::new();
        let log = start_wal(WalFormat::CURRENT, &mut framed);
        let mut wal = WalWriter {
            path,
            file,
            log,
            synced: 0,
            allocated: 0,
            writeback_started: 0,
            writeback_step,
            payload: Vec::new(),
            framed,
        };
        wal.file
            .write_all(&wal.framed)
            .map_err(|e| Error::io(&wal.path, e))?;
        Ok(wal)
    }

    /// Appends one record holding every op of `batches`, the first with sequence
    /// number `first_seq`, and returns the bytes written.
    ///
    /// # Errors
    /// `Io` from the write; the file's tail is then unknown and the caller poisons
    /// the database.
    pub fn append<'b, I>(&mut self, first_seq: u64, batches: I) -> Result<u64>
    where
        I: Iterator<Item = &'b WriteBatch> + Clone,
    {
        let count: usize = batches.clone().map(|b| b.len()).sum();
        let count = u32::try_from(count).map_err(|_| Error::InvalidArgument {
            kind: InvalidArgumentKind::BatchTooLarge,
            message: format!("{count} operations in one commit group"),
        })?;
        self.payload.clear();
        encode_batch_header(&mut self.payload, first_seq, self.synced, count);
        for batch in batches {
            for (keyspace, kind, key, value) in batch.iter_in() {
                encode_op_in(&mut self.payload, keyspace, kind, key, value);
            }
        }
        self.framed.clear();
        self.log.add_record(&self.payload, &mut self.framed);
        let n = self.framed.len() as u64;
        let end = self.file.len() + n;
        if end > self.allocated {
            let size = end.div_ceil(PREALLOCATE_STEP) * PREALLOCATE_STEP;
            self.file
                .preallocate(size)
                .map_err(|e| Error::io(&self.path, e))?;
            self.allocated = size;
        }
        self.file
            .write_all(&self.framed)
            .map_err(|e| Error::io(&self.path, e))?;
        self.start_writeback();
        if self.payload.capacity() > KEEP_BUFFER {
            self.payload = Vec::new();
            self.framed = Vec::new();
        }
        Ok(n)
    }

    /// Hands the written bytes that are neither synced nor in writeback yet to the
    /// OS's writeback once there are `writeback_step` of them. Without it, the fsync
    /// that finishes a full WAL at a memtable switch (with the state locked, so
    /// every writer waits) must write the whole WAL; with it, about one step is
    /// left. Every WAL byte reaches the device by that fsync anyway.
    fn start_writeback(&mut self) {
        if self.writeback_step == 0 {
            return;
        }
        let from = self.writeback_started.max(self.synced);
        let to = self.file.len() / WRITEBACK_ALIGN * WRITEBACK_ALIGN;
        if to >= from + self.writeback_step {
            self.file.start_writeback(from..to);
            self.writeback_started = to;
        }
    }

    /// Bytes written to the file so far, the header record included.
    pub fn written(&self) -> u64 {
        self.file.len()
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

    /// Cuts the preallocated zeros and makes the file durable at exactly its
    /// written length: done before the WAL stops being the newest (replay treats
    /// any damage, zeros included, in an older WAL as corruption) and at close.
    /// `Ok(false)` when nothing needed syncing.
    ///
    /// # Errors
    /// `Io`, as [`sync`](Self::sync).
    pub fn finish(&mut self) -> Result<bool> {
        let len = self.file.len();
        if self.allocated <= len {
            return self.sync();
        }
        self.file.trim().map_err(|e| Error::io(&self.path, e))?;
        self.allocated = len;
        self.file.sync().map_err(|e| Error::io(&self.path, e))?;
        self.synced = len;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{CrashMode, SimFs};
    use lsm_format::log::LOG_HEADER_LEN;
    use lsm_format::wal::{replay_wal, WAL_HEADER_LEN};
    use parking_lot::Mutex;
    use std::sync::Arc;

    /// Bytes of the header record every WAL starts with.
    const HEADER: u64 = (LOG_HEADER_LEN + WAL_HEADER_LEN) as u64;

    fn batch(key: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(key, "value");
        b
    }

    /// A new WAL `number` in `/db` on a simulated disk (its name durable), and its path.
    fn sim_wal(number: u64) -> (SimFs, FsRef, WalWriter, PathBuf) {
        let sim = SimFs::new();
        let fs = sim.fs_ref();
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let wal = WalWriter::create(&fs, dir, number, 0).unwrap();
        fs.sync_dir(dir).unwrap();
        (sim, fs, wal, filenames::wal_path(dir, number))
    }

    /// A file in memory that records the writeback it is asked to start.
    struct Recording {
        len: u64,
        hints: Arc<Mutex<Vec<std::ops::Range<u64>>>>,
    }

    impl WritableFile for Recording {
        fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
            self.len += buf.len() as u64;
            Ok(())
        }
        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn len(&self) -> u64 {
            self.len
        }
        fn preallocate(&mut self, _: u64) -> std::io::Result<()> {
            Ok(())
        }
        fn trim(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn start_writeback(&mut self, range: std::ops::Range<u64>) {
            self.hints.lock().push(range);
        }
    }

    #[test]
    fn writeback_starts_behind_the_writes_in_whole_pages_and_skips_synced_bytes() {
        let hints = Arc::new(Mutex::new(Vec::new()));
        let file = Recording {
            len: 0,
            hints: Arc::clone(&hints),
        };
        let step = 1 << 20;
        let mut wal =
            WalWriter::start(PathBuf::from("/db/000001.wal"), Box::new(file), step).unwrap();
        let mut big = WriteBatch::new();
        big.put("k", vec![7u8; 100_000]);
        let mut seq = 1;
        let mut append = |wal: &mut WalWriter, n: usize| {
            for _ in 0..n {
                wal.append(seq, [&big].into_iter()).unwrap();
                seq += 1;
            }
        };
        append(&mut wal, 35); // about 3.3 MiB
        let before_sync = hints.lock().clone();
        assert_eq!(before_sync.len(), 3, "{before_sync:?}");
        assert_eq!(before_sync[0].start, 0);
        for (i, r) in before_sync.iter().enumerate() {
            assert_eq!(r.end % WRITEBACK_ALIGN, 0, "{r:?}");
            assert!(r.end - r.start >= step, "{r:?}");
            if let Some(next) = before_sync.get(i + 1) {
                assert_eq!(next.start, r.end, "contiguous");
            }
        }
        let last = before_sync.last().unwrap().end;
        assert!(wal.written() - last < step + WRITEBACK_ALIGN);
        // A sync makes the bytes before it durable: writeback resumes after them.
        wal.sync().unwrap();
        let synced = wal.written();
        append(&mut wal, 5);
        assert_eq!(hints.lock().len(), 3, "under a step since the sync");
        append(&mut wal, 10);
        let after = hints.lock().clone();
        assert_eq!(after.len(), 4, "{after:?}");
        assert_eq!(after[3].start, synced);
        assert!(after[3].end <= wal.written());

        // Off (0): never.
        let hints = Arc::new(Mutex::new(Vec::new()));
        let file = Recording {
            len: 0,
            hints: Arc::clone(&hints),
        };
        let mut wal = WalWriter::start(PathBuf::from("/db/000002.wal"), Box::new(file), 0).unwrap();
        append(&mut wal, 35);
        assert!(hints.lock().is_empty());
    }

    #[test]
    fn the_file_is_preallocated_ahead_of_writes_and_finish_trims_it() {
        let (sim, fs, mut wal, path) = sim_wal(7);
        assert_eq!(
            fs.size(&path).unwrap(),
            HEADER,
            "an empty WAL holds its header"
        );
        let n = HEADER + wal.append(1, [&batch("a")].into_iter()).unwrap();
        assert!(wal.sync().unwrap());
        assert_eq!(fs.size(&path).unwrap(), PREALLOCATE_STEP);
        // The zeros after the record are a torn tail, not corruption.
        let replay = replay_wal(&sim.read_file(&path).unwrap()).unwrap();
        assert_eq!((replay.batches.len(), replay.clean_len), (1, n));
        assert_eq!(replay.torn_tail, Some(n));
        // So is what survives a crash now, whatever the crash keeps.
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let crashed = sim.crash(mode, 3);
            let replay = replay_wal(&crashed.read_file(&path).unwrap()).unwrap();
            assert_eq!(replay.batches.len(), 1, "{mode:?}");
        }
        let m = wal.append(2, [&batch("b")].into_iter()).unwrap();
        assert!(wal.finish().unwrap());
        assert_eq!(fs.size(&path).unwrap(), n + m);
        let replay = replay_wal(&sim.read_file(&path).unwrap()).unwrap();
        assert_eq!((replay.batches.len(), replay.torn_tail), (2, None));
        // Trimmed and synced: a crash keeps exactly the records.
        let crashed = sim.crash(CrashMode::DropUnsynced, 1);
        assert_eq!(crashed.read_file(&path).unwrap().len() as u64, n + m);
        assert!(!wal.finish().unwrap(), "nothing left to do");
    }

    /// The WAL records each op's keyspace: keyspace 0 with no id (the bytes of
    /// format 4), another with the flag and its id; replay gives them back.
    #[test]
    fn each_op_keeps_its_keyspace() {
        let (sim, _fs, mut wal, path) = sim_wal(3);
        let mut b = WriteBatch::new();
        b.put("a", "1");
        b.push_in(5, lsm_format::EntryKind::Put, b"b", b"2");
        b.push_in(300, lsm_format::EntryKind::Tombstone, b"c", b"");
        wal.append(10, [&b].into_iter()).unwrap();
        wal.finish().unwrap();
        let data = sim.read_file(&path).unwrap();
        assert_eq!(&data[11..19], b"lsmwal\x05\x00");
        let replay = replay_wal(&data).unwrap();
        let ops: Vec<_> = replay.batches[0]
            .ops
            .iter()
            .map(|op| (op.keyspace, op.kind, &op.key[..]))
            .collect();
        assert_eq!(
            ops,
            [
                (0, lsm_format::EntryKind::Put, &b"a"[..]),
                (5, lsm_format::EntryKind::Put, &b"b"[..]),
                (300, lsm_format::EntryKind::Tombstone, &b"c"[..]),
            ]
        );
    }

    #[test]
    fn a_record_larger_than_the_step_is_preallocated_whole() {
        let (_sim, fs, mut wal, path) = sim_wal(1);
        let mut big = WriteBatch::new();
        big.put("k", vec![7u8; PREALLOCATE_STEP as usize + 10]);
        let n = HEADER + wal.append(1, [&big].into_iter()).unwrap();
        assert_eq!(fs.size(&path).unwrap(), 2 * PREALLOCATE_STEP);
        wal.finish().unwrap();
        assert_eq!(fs.size(&path).unwrap(), n);
    }
}
