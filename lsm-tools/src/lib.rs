//! Library behind the `lsm` command-line tools.
