//! The one checksum of the format: XXH3-64 with seed 0 (`docs/format.md` section 1).

/// XXH3-64 of `bytes`.
#[inline]
pub fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// XXH3-64 of the concatenation of `parts`, without copying them together.
pub fn checksum_parts(parts: &[&[u8]]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_equal_whole() {
        assert_eq!(
            checksum(b"hello world"),
            checksum_parts(&[b"hello", b" ", b"world"])
        );
        assert_ne!(checksum(b"a"), checksum(b"b"));
    }
}
