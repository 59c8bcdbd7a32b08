//! Describing a segment's structure for dumps and verification: its index entries
//! (`docs/format.md` section 3.3) and its regions in file order (the grammar of
//! section 3).

use crate::error::Result;
use crate::segment::{BlockHandle, BlockSource, IndexEntry, Region, SegmentReader, FOOTER_LEN};

impl<S: BlockSource> SegmentReader<S> {
    /// All entries of the index block, in order.
    ///
    /// # Errors
    /// None today (the index is decoded at open); kept fallible for lazily loaded
    /// indexes.
    pub fn index_entries(&self) -> Result<Vec<IndexEntry>> {
        Ok(self
            .inner
            .index
            .slots()
            .map(|s| IndexEntry {
                last_key: s.key,
                last_seq: s.tag >> 8,
                handle: s.handle,
            })
            .collect())
    }

    /// Every region of the file in offset order: each data block, the range
    /// tombstones (`range-del`, format 4 and later), the filter, the properties, the
    /// index and the footer.
    ///
    /// # Errors
    /// None today (the layout was checked at open).
    pub fn layout(&self) -> Result<Vec<Region>> {
        let f = &self.inner.footer;
        let block = |kind, h: BlockHandle| Region {
            kind,
            offset: h.offset,
            len: h.end() - h.offset,
        };
        let mut regions: Vec<Region> = self
            .inner
            .index
            .slots()
            .map(|s| block("data", s.handle))
            .collect();
        if let Some(h) = self.inner.range_del_block {
            regions.push(block("range-del", h));
        }
        regions.push(block("filter", f.filter));
        regions.push(block("properties", f.properties));
        regions.push(block("index", f.index));
        let len = self.inner.data.len() as u64;
        regions.push(Region {
            kind: "footer",
            offset: len - FOOTER_LEN as u64,
            len: FOOTER_LEN as u64,
        });
        regions.sort_by_key(|r| r.offset);
        Ok(regions)
    }
}
