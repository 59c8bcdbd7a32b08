//! Counting panics anywhere in the test process, background threads included: the
//! I/O-error enumerations assert that no fault ever made the engine panic, and a
//! panic in a flush or compaction thread would not reach the test otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Panics seen since [`count_panics`] was first called.
static PANICS: AtomicU64 = AtomicU64::new(0);

/// Installs (once per process) a panic hook that counts every panic outside the
/// tests' own code, then runs the default hook.
pub fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A failed assertion of a test itself (code under `tests/`) fails that
            // test; counting it would also fail every test running beside it in
            // this process.
            let in_a_test = info
                .location()
                .is_some_and(|at| at.file().contains("tests/"));
            if !in_a_test {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

/// Panics counted so far in this process.
pub fn panics() -> u64 {
    PANICS.load(Ordering::SeqCst)
}
