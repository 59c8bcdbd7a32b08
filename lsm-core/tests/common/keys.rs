//! The key space and value scheme of the tests.
//!
//! Keys are few (so random operations overwrite and delete the same keys) but of
//! awkward shapes: the empty key, long keys, keys ending in `0x00` or `0xff`, keys
//! made of `0xff` bytes, keys that are prefixes of others. Values carry the id of the write that made them, so a
//! stale or resurrected value is told apart from the right one.

/// Keys the model test writes: `key(0) ..= key(KEY_SPACE - 1)`.
pub const KEY_SPACE: u8 = 64;

/// Key number `i`. Indices at or above [`KEY_SPACE`] give keys that are never written
/// (lookups of absent keys between and after the written ones).
pub fn key(i: u8) -> Vec<u8> {
    if i == 0 {
        return Vec::new();
    }
    if i >= KEY_SPACE {
        // Sorts after every written key except those at the end of the space.
        return format!("k{:02}~absent", i - KEY_SPACE).into_bytes();
    }
    let mut k = format!("k{i:02}").into_bytes();
    match i % 8 {
        // A long key: shares a prefix with `k{i}` and forces long prefix compression.
        1 => k.extend(std::iter::repeat_n(b'~', 40)),
        // Keys ending in the smallest and the largest byte.
        2 => k.push(0x00),
        3 => k.extend([0xff, 0xff]),
        // A prefix of no other key but with a short common prefix of its neighbours.
        4 if i % 16 == 4 => k.truncate(2),
        // Keys at the very top of the key space, where a prefix has no successor.
        5 => k = vec![0xff, 0xff, i],
        _ => {}
    }
    k
}

/// The value of write number `id`, `len` bytes long: starts with the decimal id and a
/// separator, then a pattern derived from the id, truncated to `len`. Values of even
/// ids are repetitive text (they compress), those of odd ids pseudo-random bytes
/// (they do not), so both block encodings get exercised.
pub fn value(id: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{id}:").into_bytes();
    if id.is_multiple_of(2) {
        let word = format!("value-{}-", id % 97).into_bytes();
        while v.len() < len {
            v.extend_from_slice(&word);
        }
    } else {
        let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        while v.len() < len {
            // xorshift: cheap, and different for every id.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
    }
    v.truncate(len);
    v
}

/// The write id a value made by [`value`] starts with, when it is long enough to hold
/// it completely.
pub fn value_id(v: &[u8]) -> Option<u64> {
    let end = v.iter().position(|&b| b == b':')?;
    std::str::from_utf8(v.get(..end)?).ok()?.parse().ok()
}

/// A short human rendering of a key or value for failure messages (the same one the
/// crash oracle prints).
pub use lsm_core::fuzzing::show;
