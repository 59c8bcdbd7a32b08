//! Range tombstones in a repair: which candidates are already held, and how one that
//! is not newer than every version the base holds is made safe to restore.
//!
//! Lookups ask level 0's files newest first and stop at the first file whose range
//! tombstones cover the key (`version::Version::get`): that is right only when every
//! version of the key in a later file is older than the tombstone. The restored
//! entries go to a new level-0 file that sorts first, so a restored tombstone at `t`
//! must not cover a key the base holds a version newer than `t` of: such keys are cut
//! out of it ([`cut_out`]). Once cut, no version of any key it covers is newer than
//! `t`, so it hides the same versions at any number above `t`.

use std::collections::BTreeMap;

use bytes::Bytes;
use lsm_format::entry::MAX_KEY_LEN;
use lsm_format::range_del::RangeTombstone;

/// `t` without the keys `newest` (the newest sequence number of each key some file
/// holds) has a version newer than `t.seq` of: the pieces between them.
pub(super) fn cut_out(t: &RangeTombstone, newest: &BTreeMap<Bytes, u64>) -> Vec<RangeTombstone> {
    let mut out = Vec::new();
    let mut from: Option<Bytes> = Some(t.start.clone());
    for (key, _) in newest
        .range(t.start.clone()..t.end.clone())
        .filter(|(_, &seq)| seq > t.seq)
    {
        if let Some(start) = from.take() {
            if start < *key {
                out.push(RangeTombstone::new(start, key.clone(), t.seq));
            }
        }
        from = successor(key);
    }
    if let Some(start) = from.filter(|s| *s < t.end) {
        out.push(RangeTombstone::new(start, t.end.clone(), t.seq));
    }
    out
}

/// The smallest key after `key`: `key` + `[0]`, or for a key of the greatest length
/// the next one of at most that length (`None` after the greatest key of all).
fn successor(key: &[u8]) -> Option<Bytes> {
    if key.len() < MAX_KEY_LEN {
        let mut next = key.to_vec();
        next.push(0);
        return Some(next.into());
    }
    let mut next = key.to_vec();
    while next.last() == Some(&0xff) {
        next.pop();
    }
    let last = next.last_mut()?;
    *last += 1;
    Some(next.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_a_newer_version_are_cut_out_and_nothing_else() {
        let newest: BTreeMap<Bytes, u64> = [("a", 9), ("c", 3), ("e", 12), ("k", 20)]
            .into_iter()
            .map(|(k, s)| (Bytes::from(k), s))
            .collect();
        let t = RangeTombstone::new("a", "k", 10);
        assert_eq!(
            cut_out(&t, &newest),
            vec![
                RangeTombstone::new("a", "e", 10),
                RangeTombstone::new(&b"e\0"[..], "k", 10)
            ]
        );
        let newer_first = RangeTombstone::new("e", "f", 10);
        assert_eq!(
            cut_out(&newer_first, &newest),
            vec![RangeTombstone::new(&b"e\0"[..], "f", 10)]
        );
        assert_eq!(
            cut_out(&RangeTombstone::new("e", &b"e\0"[..], 10), &newest),
            vec![]
        );
    }

    #[test]
    fn the_successor_of_a_longest_key_is_the_next_key_that_fits() {
        let mut key = vec![b'a'; MAX_KEY_LEN];
        assert_eq!(successor(&key[..3]).as_deref(), Some(&b"aaa\0"[..]));
        key[MAX_KEY_LEN - 1] = 0xff;
        let next = successor(&key).unwrap();
        assert_eq!(next.len(), MAX_KEY_LEN - 1);
        assert_eq!(next.last(), Some(&b'b'));
        assert_eq!(successor(&[0xff; MAX_KEY_LEN]), None);
    }
}
