//! Starting the OS's writeback of a file's range off the caller's thread.
//!
//! `sync_file_range(SYNC_FILE_RANGE_WRITE)` does not wait for the device, but it
//! does the submission work itself (mapping blocks, building requests) and blocks
//! when the device's queue is full: a few hundred microseconds for a megabyte,
//! which a writer calling it inline would see in its tail latency. So the calls go
//! through a channel to one worker thread per process, started on the first
//! request and ending after a second without one.

use std::fs::File;
use std::ops::Range;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;

/// One request: a file and the range of it to write back.
type Request = (Arc<File>, Range<u64>);

/// How long the worker waits for a request before it ends.
const IDLE: Duration = Duration::from_secs(1);

/// Requests the worker has served (tests: a request dropped is not served).
#[cfg(test)]
static SERVED: AtomicU64 = AtomicU64::new(0);

/// Asks the worker to start writeback of `range` of `file`. A hint: dropped when
/// no worker thread can be started.
pub(super) fn start_writeback(file: Arc<File>, range: Range<u64>) {
    static WORKER: OnceLock<Mutex<Option<Sender<Request>>>> = OnceLock::new();
    let mut worker = WORKER.get_or_init(|| Mutex::new(None)).lock();
    let mut request = (file, range);
    if let Some(tx) = worker.as_ref() {
        match tx.send(request) {
            Ok(()) => return,
            // The worker ended, idle: start another for this request.
            Err(mpsc::SendError(back)) => request = back,
        }
    }
    let (tx, rx) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("lsm-writeback".into())
        .spawn(move || serve(&rx));
    *worker = match started {
        Ok(_) => tx.send(request).ok().map(|()| tx),
        Err(e) => {
            log::debug!("no writeback thread ({e}); the hint is dropped");
            None
        }
    };
}

/// The worker: serves requests until none comes for `IDLE`.
fn serve(rx: &Receiver<Request>) {
    loop {
        match rx.recv_timeout(IDLE) {
            Ok((file, range)) => {
                write_back(&file, range);
                #[cfg(test)]
                SERVED.fetch_add(1, Ordering::SeqCst);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Starts writeback of `range` of `file` without waiting for it.
fn write_back(file: &File, range: Range<u64>) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (
            libc::off64_t::try_from(range.start),
            libc::off64_t::try_from(range.end.saturating_sub(range.start)),
        ) else {
            return;
        };
        if len == 0 {
            return;
        }
        // SAFETY: a plain system call on a descriptor `file` owns and keeps open
        // for the call; no memory is passed. `SYNC_FILE_RANGE_WRITE` only starts
        // writeback of the range's dirty pages. The result is ignored on purpose:
        // this is a hint, and a device error surfaces at the `fdatasync` that makes
        // the bytes durable.
        let _ = unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, range);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_served_and_the_worker_restarts_after_ending() {
        let dir = std::env::temp_dir().join(format!("lsm-writeback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, vec![1u8; 1 << 20]).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        // Only this test sends requests in this test binary.
        let wait_for = |n: u64| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while SERVED.load(Ordering::SeqCst) < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "request {n} not served"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let before = SERVED.load(Ordering::SeqCst);
        start_writeback(Arc::clone(&file), 0..(1 << 20));
        wait_for(before + 1);
        // Past the idle time the worker has ended; a request must start another
        // (sent to the ended one, it would be dropped and never served).
        std::thread::sleep(IDLE + Duration::from_millis(200));
        start_writeback(Arc::clone(&file), 0..4096);
        wait_for(before + 2);
        // Served requests hold the file no longer.
        assert_eq!(Arc::strong_count(&file), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
