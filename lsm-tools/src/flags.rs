//! Flag values the tool binaries share, so that every tool spells them alike.

use lsm_core::Compression;

/// A data-block compression as a command-line value: `none`, `lz4` or `zstd`
/// (`--compression` of `lsm-bench` and `lsm-compact`, `--bottommost-compression`).
///
/// ```
/// use clap::ValueEnum;
/// use lsm_core::Compression;
/// use lsm_tools::flags::CompressionArg;
///
/// let arg = CompressionArg::from_str("zstd", true).unwrap();
/// assert_eq!(Compression::from(arg), Compression::Zstd);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionArg {
    /// Blocks stored as they are.
    None,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

// By hand rather than derived: the derive would turn the variants' documentation
// into per-value help and switch every tool's `--help` to its long layout.
impl clap::ValueEnum for CompressionArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            CompressionArg::None,
            CompressionArg::Lz4,
            CompressionArg::Zstd,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            CompressionArg::None => "none",
            CompressionArg::Lz4 => "lz4",
            CompressionArg::Zstd => "zstd",
        }))
    }
}

impl From<CompressionArg> for Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::None => Compression::None,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}
