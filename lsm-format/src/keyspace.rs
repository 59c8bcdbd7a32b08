//! Keyspace ids and names: `docs/format.md` section 1.
//!
//! A database holds named keyspaces, each a sorted map of its own. Every record
//! that belongs to a keyspace names it by id: a WAL op (section 5), a manifest's
//! segment records (section 6), a segment's properties (section 3.5). Keyspace 0,
//! [`DEFAULT_KEYSPACE`], named [`DEFAULT_KEYSPACE_NAME`], always exists; it is the
//! only one files written before keyspaces know, and records of it carry no id.

/// Id of a keyspace: `0 ..= MAX_KEYSPACE_ID`.
pub type KeyspaceId = u32;

/// The keyspace every database has, which cannot be dropped: id 0.
pub const DEFAULT_KEYSPACE: KeyspaceId = 0;

/// Name of keyspace 0.
pub const DEFAULT_KEYSPACE_NAME: &str = "default";

/// Largest keyspace id: `2^31 - 1`. A larger id anywhere on disk is corruption.
pub const MAX_KEYSPACE_ID: KeyspaceId = (1 << 31) - 1;

/// Longest keyspace name, in bytes of UTF-8.
pub const MAX_KEYSPACE_NAME_LEN: usize = 255;

/// Checks a keyspace name: non-empty, at most [`MAX_KEYSPACE_NAME_LEN`] bytes,
/// UTF-8. Returns the name as text, or why it is refused.
///
/// ```
/// use lsm_format::keyspace::check_keyspace_name;
///
/// assert_eq!(check_keyspace_name(b"users"), Ok("users"));
/// assert!(check_keyspace_name(b"").is_err());
/// assert!(check_keyspace_name(&[0xff]).is_err());
/// assert!(check_keyspace_name(&[b'a'; 256]).is_err());
/// ```
///
/// # Errors
/// A message naming the rule the name breaks.
pub fn check_keyspace_name(name: &[u8]) -> Result<&str, String> {
    if name.is_empty() {
        return Err("empty keyspace name".into());
    }
    if name.len() > MAX_KEYSPACE_NAME_LEN {
        return Err(format!(
            "keyspace name of {} bytes (at most {MAX_KEYSPACE_NAME_LEN})",
            name.len()
        ));
    }
    std::str::from_utf8(name).map_err(|_| "keyspace name is not UTF-8".to_string())
}

/// Checks a keyspace id read from disk against [`MAX_KEYSPACE_ID`].
///
/// ```
/// use lsm_format::keyspace::{check_keyspace_id, MAX_KEYSPACE_ID};
///
/// assert!(check_keyspace_id(MAX_KEYSPACE_ID, 0).is_ok());
/// assert!(check_keyspace_id(MAX_KEYSPACE_ID + 1, 0).is_err());
/// ```
///
/// # Errors
/// `Corruption` at `offset` for an id over the limit.
pub fn check_keyspace_id(id: u32, offset: u64) -> crate::Result<KeyspaceId> {
    if id > MAX_KEYSPACE_ID {
        return Err(crate::Error::corruption(
            offset,
            format!("keyspace id {id} is over the limit {MAX_KEYSPACE_ID}"),
        ));
    }
    Ok(id)
}
