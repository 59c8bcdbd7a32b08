//! Fuzz target: `lsm_core::fuzzing::db_ops` (documented there): an operation
//! sequence against a `BTreeMap` on the simulated disk, with power cuts and crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lsm_core::fuzzing::db_ops(data));
