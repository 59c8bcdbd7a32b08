//! Fuzz target: `lsm_format::fuzzing::block_decode` (documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lsm_format::fuzzing::block_decode(data));
