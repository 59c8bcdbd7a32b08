//! Fuzz target: `lsm_format::fuzzing::log_read` (documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lsm_format::fuzzing::log_read(data));
