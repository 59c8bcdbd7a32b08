//! What a power loss leaves on the simulated disk.
//!
//! Directory entries always fall back to what the last `sync_dir` of their directory
//! made durable: an unsynced create disappears, an unsynced rename reappears under
//! its old name, an unsynced remove comes back. The same holds for directories
//! renamed or removed without a sync of their parent: they come back under their
//! old name (newest change undone first). File bytes fall back to what the last
//! sync made durable, plus, depending on [`CrashMode`], some of the unsynced tail:
//! real disks write back dirty pages in any order, so the engine must cope with any
//! of these images, and a test can explore them with different seeds.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::state::{DirChange, Inode, State};

/// Unit in which [`CrashMode::RandomPages`] keeps or loses unsynced bytes.
pub const PAGE_SIZE: usize = 4096;

/// What a simulated power loss keeps of data that was written but not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// Every file holds exactly its durable bytes.
    DropUnsynced,
    /// Every file keeps its durable bytes plus a random prefix of its unsynced tail,
    /// as if the disk wrote pages back in order.
    KeepRandomPrefix,
    /// Every unsynced 4 KiB page is independently kept or lost, and the length lands
    /// anywhere between the durable and the current one. Durable bytes of a file
    /// that was only appended to are never altered.
    RandomPages {
        /// Lost pages read back as random bytes (a torn or unwritten block) instead
        /// of zeros.
        garbage: bool,
    },
}

impl CrashMode {
    /// Every mode, for tests that loop over them.
    pub const ALL: [CrashMode; 4] = [
        CrashMode::DropUnsynced,
        CrashMode::KeepRandomPrefix,
        CrashMode::RandomPages { garbage: false },
        CrashMode::RandomPages { garbage: true },
    ];
}

impl State {
    /// The disk after a power loss in `mode`, deterministic given `seed`. `self` is
    /// left as it was, so a test may crash the same state many ways.
    pub(super) fn crashed(&self, mode: CrashMode, seed: u64) -> State {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut undone = State {
            dirs: self.dirs.clone(),
            ..State::default()
        };
        for change in self.pending.iter().rev() {
            match change {
                DirChange::Renamed { from, to, .. } => undone.move_tree(to, from),
                DirChange::Removed { path, dir } => {
                    undone.dirs.insert(path.clone(), dir.clone());
                }
            }
        }
        let mut dirs = undone.dirs;
        for dir in dirs.values_mut() {
            dir.entries = dir.durable.clone();
        }
        // Only inodes with a durable name survive. `inodes` is ordered, so the random
        // draws happen in the same order on every run.
        let named: std::collections::BTreeSet<_> = dirs
            .values()
            .flat_map(|d| d.durable.values())
            .copied()
            .collect();
        let inodes = self
            .inodes
            .iter()
            .filter(|(ino, _)| named.contains(ino))
            .map(|(&ino, inode)| (ino, Inode::durable(image(inode, mode, &mut rng))))
            .collect();
        State {
            inodes,
            dirs,
            pending: Vec::new(),
            next_ino: self.next_ino,
            locks: Default::default(),
            ops: 0,
            op_limit: None,
        }
    }
}

/// The bytes of one file after a power loss.
fn image(inode: &Inode, mode: CrashMode, rng: &mut StdRng) -> Vec<u8> {
    // Preallocated zeros are bytes like any other here.
    let (data, durable) = (&inode.contents(), &inode.durable_contents());
    match mode {
        CrashMode::DropUnsynced => durable.to_vec(),
        CrashMode::KeepRandomPrefix => {
            // A truncation that was not synced may or may not have reached the disk.
            if !inode.extends_durable() && rng.gen_bool(0.5) {
                return durable.to_vec();
            }
            let cut = rng.gen_range(inode.clean..=data.len());
            data.get(..cut).unwrap_or_default().to_vec()
        }
        CrashMode::RandomPages { garbage } => {
            let (lo, hi) = if data.len() >= durable.len() {
                (durable.len(), data.len())
            } else {
                (data.len(), durable.len())
            };
            let len = rng.gen_range(lo..=hi);
            let mut out = Vec::with_capacity(len);
            for start in (0..len).step_by(PAGE_SIZE) {
                let end = (start + PAGE_SIZE).min(len);
                // Pages entirely inside the clean prefix hold the same bytes in both
                // versions; any other page was dirty and is kept or lost whole.
                let kept = end <= inode.clean || rng.gen_bool(0.5);
                for j in start..end {
                    let byte = match (kept, data.get(j), durable.get(j)) {
                        (true, Some(&b), _) => b,
                        (_, _, Some(&b)) => b,
                        _ if garbage => rng.gen(),
                        _ => 0,
                    };
                    out.push(byte);
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(durable: &[u8], tail: &[u8]) -> Inode {
        let mut inode = Inode::durable(durable.to_vec());
        inode.write_at(inode.data.len(), tail);
        inode
    }

    #[test]
    fn drop_unsynced_keeps_durable_only() {
        let inode = appended(b"abc", b"def");
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(image(&inode, CrashMode::DropUnsynced, &mut rng), b"abc");
    }

    #[test]
    fn random_prefix_is_a_prefix_of_current() {
        let inode = appended(b"abc", &[7; 10_000]);
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let img = image(&inode, CrashMode::KeepRandomPrefix, &mut rng);
            assert!(img.len() >= 3);
            assert!(inode.data.starts_with(&img));
        }
    }

    #[test]
    fn random_pages_keep_durable_and_mix_pages() {
        let durable: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8 + 1).collect();
        let inode = appended(&durable, &[0xAA; 3 * PAGE_SIZE]);
        let mut saw_lost = false;
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let img = image(&inode, CrashMode::RandomPages { garbage: false }, &mut rng);
            assert!(img.len() >= durable.len() && img.len() <= inode.data.len());
            assert_eq!(&img[..durable.len()], &durable[..]);
            for (j, &b) in img.iter().enumerate().skip(durable.len()) {
                assert!(b == 0xAA || b == 0, "byte {j} is {b}");
                saw_lost |= b == 0;
            }
        }
        assert!(saw_lost);
    }

    #[test]
    fn unsynced_truncation_may_survive_or_not() {
        let mut inode = Inode::durable(b"old contents".to_vec());
        inode.truncate();
        inode.write_at(inode.data.len(), b"new");
        let images: std::collections::BTreeSet<Vec<u8>> = (0..40)
            .map(|seed| {
                let mut rng = StdRng::seed_from_u64(seed);
                image(&inode, CrashMode::KeepRandomPrefix, &mut rng)
            })
            .collect();
        assert!(images.contains(b"old contents".as_slice()));
        assert!(images.iter().any(|i| b"new".starts_with(i)));
    }
}
