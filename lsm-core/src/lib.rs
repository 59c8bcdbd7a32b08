//! The `lsm` embedded key-value store engine.
