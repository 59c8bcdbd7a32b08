//! TODO: implemented by the segment work (see docs/format.md section 3).
