//! The properties block: `docs/format.md` section 3.5.
//!
//! ```text
//! properties := format_version:u32 entry_count:u64 tombstone_count:u64
//!               smallest_seq:u64 largest_seq:u64 data_size:u64 data_block_count:u64
//!               raw_key_size:u64 raw_value_size:u64 created_unix_ms:u64
//!               compression:u8 bloom_bits_per_key:u8
//!               smallest_key:bytes largest_key:bytes creator:bytes
//!               range_del_count:u64                     ; format version 4 and later
//!               keyspace:u32                            ; format version 5 and later
//! ```

use bytes::Bytes;

use crate::coding::{put_length_prefixed, Decoder};
use crate::entry::MAX_KEY_LEN;
use crate::error::{Error, Result};
use crate::keyspace::{check_keyspace_id, KeyspaceId};
use crate::segment::{KEYSPACE_FORMAT_VERSION, RANGE_DEL_FORMAT_VERSION};

/// Facts about a segment, stored in its properties block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// Format version that wrote the file.
    pub format_version: u32,
    /// Number of entries (puts, expiring puts and tombstones).
    pub entry_count: u64,
    /// Number of tombstones (point deletes).
    pub tombstone_count: u64,
    /// Smallest sequence number in the file, range tombstones included (0 when
    /// empty).
    pub smallest_seq: u64,
    /// Largest sequence number in the file, range tombstones included (0 when
    /// empty).
    pub largest_seq: u64,
    /// Bytes of all data blocks on disk, trailers included.
    pub data_size: u64,
    /// Number of data blocks.
    pub data_block_count: u64,
    /// Sum of key lengths.
    pub raw_key_size: u64,
    /// Sum of value lengths.
    pub raw_value_size: u64,
    /// When the file was written, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Compression the writer used for data blocks (on-disk byte).
    pub compression: u8,
    /// Bloom filter bits per key the writer used.
    pub bloom_bits_per_key: u8,
    /// First user key, or the first range tombstone's start if smaller (empty when
    /// the file is empty).
    pub smallest_key: Bytes,
    /// Last user key, or the last range tombstone's (exclusive) end if larger
    /// (empty when the file is empty).
    pub largest_key: Bytes,
    /// Who wrote the file.
    pub creator: String,
    /// Number of range tombstones: (fragment, sequence number) pairs of the
    /// range-tombstone block, [`Fragments::tombstone_count`](crate::range_del::Fragments::tombstone_count).
    /// Stored from format version 4 on; 0 in older files.
    pub range_del_count: u64,
    /// The keyspace the segment belongs to ([`crate::keyspace`]). Stored from
    /// format version 5 on; older files belong to keyspace 0.
    pub keyspace: KeyspaceId,
}

impl Properties {
    /// The block contents, in the layout of `format_version` (`range_del_count` is
    /// written from version 4 on, `keyspace` from version 5 on).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.smallest_key.len() + self.largest_key.len());
        out.extend_from_slice(&self.format_version.to_le_bytes());
        for v in [
            self.entry_count,
            self.tombstone_count,
            self.smallest_seq,
            self.largest_seq,
            self.data_size,
            self.data_block_count,
            self.raw_key_size,
            self.raw_value_size,
            self.created_unix_ms,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(self.compression);
        out.push(self.bloom_bits_per_key);
        put_length_prefixed(&mut out, &self.smallest_key);
        put_length_prefixed(&mut out, &self.largest_key);
        put_length_prefixed(&mut out, self.creator.as_bytes());
        if self.format_version >= RANGE_DEL_FORMAT_VERSION {
            out.extend_from_slice(&self.range_del_count.to_le_bytes());
        }
        if self.format_version >= KEYSPACE_FORMAT_VERSION {
            out.extend_from_slice(&self.keyspace.to_le_bytes());
        } else {
            debug_assert_eq!(self.keyspace, 0, "files before format 5 hold keyspace 0");
        }
        out
    }

    /// Decodes block contents whose first byte is at file offset `offset`, in the
    /// layout of the `format_version` they start with.
    ///
    /// # Errors
    /// Corruption for short or trailing bytes, an over-long key, a creator that is
    /// not UTF-8 or a keyspace id over [`crate::keyspace::MAX_KEYSPACE_ID`].
    pub fn decode(contents: &[u8], offset: u64) -> Result<Properties> {
        let mut d = Decoder::new(contents, offset);
        let format_version = d.u32("properties format_version")?;
        let mut u = [0u64; 9];
        for v in &mut u {
            *v = d.u64("properties")?;
        }
        let [entry_count, tombstone_count, smallest_seq, largest_seq, data_size, data_block_count, raw_key_size, raw_value_size, created_unix_ms] =
            u;
        let compression = d.u8("properties compression")?;
        let bloom_bits_per_key = d.u8("properties bloom_bits_per_key")?;
        let smallest_key = Bytes::copy_from_slice(d.length_prefixed(MAX_KEY_LEN, "smallest_key")?);
        let largest_key = Bytes::copy_from_slice(d.length_prefixed(MAX_KEY_LEN, "largest_key")?);
        let at = d.offset();
        let creator = d.length_prefixed(d.remaining(), "creator")?;
        let creator = std::str::from_utf8(creator)
            .map_err(|_| Error::corruption(at, "creator is not UTF-8"))?
            .to_string();
        let range_del_count = if format_version >= RANGE_DEL_FORMAT_VERSION {
            d.u64("properties range_del_count")?
        } else {
            0
        };
        let keyspace = if format_version >= KEYSPACE_FORMAT_VERSION {
            let at = d.offset();
            check_keyspace_id(d.u32("properties keyspace")?, at)?
        } else {
            0
        };
        d.finish("properties")?;
        Ok(Properties {
            format_version,
            entry_count,
            tombstone_count,
            smallest_seq,
            largest_seq,
            data_size,
            data_block_count,
            raw_key_size,
            raw_value_size,
            created_unix_ms,
            compression,
            bloom_bits_per_key,
            smallest_key,
            largest_key,
            creator,
            range_del_count,
            keyspace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Properties {
        Properties {
            format_version: 1,
            entry_count: 3,
            tombstone_count: 1,
            smallest_seq: 4,
            largest_seq: 9,
            data_size: 100,
            data_block_count: 1,
            raw_key_size: 7,
            raw_value_size: 11,
            created_unix_ms: 1_700_000_000_000,
            compression: 1,
            bloom_bits_per_key: 10,
            smallest_key: Bytes::from_static(b"a"),
            largest_key: Bytes::from_static(b"zz"),
            creator: "test ✓".into(),
            range_del_count: 0,
            keyspace: 0,
        }
    }

    #[test]
    fn round_trip_and_exact_length() {
        let p = sample();
        let bytes = p.encode();
        assert_eq!(bytes.len(), 4 + 9 * 8 + 2 + 2 + 3 + 1 + "test ✓".len());
        assert_eq!(Properties::decode(&bytes, 0).unwrap(), p);
        for cut in 0..bytes.len() {
            assert!(Properties::decode(&bytes[..cut], 0)
                .unwrap_err()
                .is_corruption());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Properties::decode(&long, 10).unwrap_err().offset(),
            Some(10 + bytes.len() as u64)
        );
    }

    #[test]
    fn version_4_adds_the_range_del_count() {
        let mut p = sample();
        p.range_del_count = 5;
        let v1 = p.encode();
        assert_eq!(Properties::decode(&v1, 0).unwrap().range_del_count, 0);
        p.format_version = 4;
        let v4 = p.encode();
        assert_eq!(v4.len(), v1.len() + 8);
        assert_eq!(v4[v4.len() - 8..], 5u64.to_le_bytes());
        assert_eq!(Properties::decode(&v4, 0).unwrap(), p);
        for cut in 0..v4.len() {
            assert!(Properties::decode(&v4[..cut], 0)
                .unwrap_err()
                .is_corruption());
        }
    }

    #[test]
    fn version_5_adds_the_keyspace() {
        let mut p = sample();
        p.format_version = 4;
        p.range_del_count = 2;
        let v4 = p.encode();
        p.format_version = 5;
        p.keyspace = 0x0102_0304;
        let v5 = p.encode();
        assert_eq!(v5.len(), v4.len() + 4);
        assert_eq!(v5[v5.len() - 4..], [4, 3, 2, 1]);
        assert_eq!(Properties::decode(&v5, 0).unwrap(), p);
        for cut in 0..v5.len() {
            assert!(Properties::decode(&v5[..cut], 0)
                .unwrap_err()
                .is_corruption());
        }
        // An id over the limit is corruption, at the field.
        p.keyspace = crate::keyspace::MAX_KEYSPACE_ID;
        let mut bad = p.encode();
        let n = bad.len();
        bad[n - 1] = 0x80;
        assert_eq!(
            Properties::decode(&bad, 100).unwrap_err().offset(),
            Some(100 + n as u64 - 4)
        );
    }

    #[test]
    fn bad_utf8_creator_is_corruption() {
        let mut p = sample();
        p.creator = "x".into();
        let mut bytes = p.encode();
        let n = bytes.len();
        bytes[n - 1] = 0xff;
        assert!(Properties::decode(&bytes, 0).unwrap_err().is_corruption());
    }
}
