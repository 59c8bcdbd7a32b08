//! Fuzz target: `lsm_format::fuzzing::range_del_decode` (documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lsm_format::fuzzing::range_del_decode(data));
