//! The write-ahead log: `docs/format.md` section 5.
//!
//! A WAL file is a log (section 4). Files of format 2 and later begin with a header
//! record naming the format ([`encode_wal_header`]); every other record is one write
//! batch:
//!
//! ```text
//! header := magic "lsmwal" version:u16                        ; format 2 and later
//! batch  := first_seq:varint64 synced_offset:varint64 count:varint32 op[count]   ; formats 2-5
//! batch  := first_seq:u64 synced_offset:u64 count:u32 op[count]                  ; format 1
//! op     := kind:u8 [keyspace:varint32] key:bytes [value:bytes]
//!           ; keyspace when kind has KEYSPACE_FLAG (format 5); value when kind = 1, 2 or 3
//! ```
//!
//! Kinds 2 (range delete: `value` is the range's end) and 3 (expiring put) are ops
//! from format 4 on; ops of a keyspace other than 0 from format 5 on. The header
//! record is framed with 8-byte fragment checksums in every format; from format 3
//! on the batches after it have 4-byte ones ([`read_wal_log`] reads a file in the
//! framing its header names).
//!
//! [`replay_wal`] reads a whole WAL file and applies the section 4/5 rule that tells
//! a torn tail (dropped) from corruption (refused): damage is corruption exactly when
//! a valid later record certifies, through its `synced_offset`, that the damaged
//! bytes had been made durable. [`WalRecordDecoder`] decodes records one by one, for
//! tools that show them.

mod batch;
mod file;
mod header;
mod replay;

pub use batch::{
    decode_batch, encode_batch_header, encode_batch_header_v1, encode_op, encode_op_in, WalBatch,
    WalOp, BATCH_HEADER_V1_LEN, KEYSPACE_FLAG,
};
pub use file::{read_wal_log, WalLog};
pub use header::{
    encode_wal_header, encode_wal_header_of, start_wal, WalFormat, WalRecord, WalRecordDecoder,
    WAL_HEADER_LEN, WAL_MAGIC,
};
pub use replay::{replay_wal, OwnedWalBatch, OwnedWalOp, WalReplay};

/// WAL format version the writer writes: 5 (varint batch headers, header record,
/// 4-byte fragment checksums after it, range deletes and expiring puts, ops that
/// name their keyspace).
pub const WAL_FORMAT_VERSION: u32 = 5;

/// Oldest WAL format version the reader reads: 1 (fixed-width batch headers, no
/// header record).
pub const MIN_WAL_FORMAT_VERSION: u32 = 1;
