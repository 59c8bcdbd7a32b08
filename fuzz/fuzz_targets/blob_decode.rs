//! Fuzz target: `lsm_format::fuzzing::blob_decode` (documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lsm_format::fuzzing::blob_decode(data));
