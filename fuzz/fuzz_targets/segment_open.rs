//! Fuzz target: `lsm_format::fuzzing::segment_open` (documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lsm_format::fuzzing::segment_open(data));
