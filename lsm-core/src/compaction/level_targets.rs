//! Target sizes of the levels, and the level that level 0 compacts into (the base
//! level): a pure function of the bytes in each level and the options.
//!
//! **Static sizing** (`Options::dynamic_level_bytes` false): level `n >= 1` has the
//! target `level1_size * multiplier^(n-1)`, level 0 compacts into level 1, and
//! only the last of the `MAX_LEVELS` levels is never compacted further.
//!
//! **Dynamic sizing** (RocksDB's `level_compaction_dynamic_level_bytes`, whose
//! `VersionStorageInfo::CalculateBaseBytes` this follows rule for rule, without
//! its adjustment of the base size to a backlogged level 0): the targets are
//! derived from the bottom, so that the last level holds about
//! `(multiplier - 1) / multiplier` of the data whatever its size.
//! - The last level `L` is level [`DYNAMIC_LAST_LEVEL`] (RocksDB's seven levels),
//!   or the deepest non-empty level if a tree written with static sizing has files
//!   deeper. It is never compacted further.
//! - `biggest` is the size of the largest level `1..=L` (not of level `L` itself:
//!   the last level can be smaller than the one above it, for instance after a
//!   tree written with static sizing is opened), `first` the shallowest non-empty
//!   level `>= 1`. `max = level1_size` and `min = level1_size / multiplier` bound
//!   the size of the base level.
//! - From the bottom up, level `i` would need `biggest / multiplier^(L - i)`
//!   bytes. The levels from `first` down to the deepest `i < L` where that is
//!   `<= min` are **unnecessary**: the shape has no room for them, so they are
//!   drained downwards with priority (they score at least [`DRAIN_SCORE`]).
//! - The base level is the smallest-numbered level whose need exceeds `min` (its
//!   need then lies in `(min, max]`), searched upwards from `first` and never
//!   above level 1 (where the need is capped at `max`). If even `first`'s need is
//!   `<= min` (small data, or unnecessary levels), the base level is `first`
//!   itself with a need of `min + 1`. It is never deeper than `first`: level 0 is
//!   newer than every level below it, so it may not skip a level that holds data.
//!   An empty tree (nothing below level 0) has its base level at `L`: level 0
//!   compacts straight into the last level.
//! - The target of the base level is its need; each deeper level's is the one
//!   above it times the multiplier; none is below `max` (else a small tree would
//!   have levels smaller than level 0, whose compactions the scores would then
//!   neglect). The levels above the base level have target 0: they are empty.
//!
//! As the data grows, the base level moves up (a new level appears above the
//! others, as the last level passes `level1_size`, then `level1_size *
//! multiplier`, ...); as it shrinks, the levels that became unnecessary drain and
//! the base level moves down.

use lsm_format::manifest::MAX_LEVELS;

use super::picker::{FileInfo, PickerConfig, LAST_LEVEL};

/// The last level of a tree with dynamic sizing (when nothing is deeper): seven
/// levels, as RocksDB.
pub(crate) const DYNAMIC_LAST_LEVEL: usize = 6;

/// The score of a non-empty unnecessary level (at least): above a level merely
/// over its target, so the shape converges first; equal to level 0 at twice its
/// trigger, so a backlogged level 0 (which slows writers from
/// `level0_stop_writes / 2` files) still goes first.
pub(crate) const DRAIN_SCORE: f64 = 2.0;

/// The targets of one tree's levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LevelTargets {
    /// The level that level 0 compacts into.
    pub base: usize,
    /// The last level: never compacted further by size.
    pub last: usize,
    /// Target bytes per level; 0 for level 0 and the levels above `base`.
    targets: [u64; MAX_LEVELS],
    /// The deepest unnecessary level: the non-empty levels `base..=drain_through`
    /// are drained downwards.
    drain_through: Option<usize>,
}

impl LevelTargets {
    /// The targets of `levels` (files per level) under `cfg`.
    pub fn of<F: FileInfo>(levels: &[Vec<F>], cfg: &PickerConfig) -> Self {
        let mut sizes = [0u64; MAX_LEVELS];
        for (size, files) in sizes.iter_mut().zip(levels) {
            *size = files.iter().map(FileInfo::size).sum();
        }
        Self::from_sizes(&sizes, cfg)
    }

    /// The targets of a tree whose level `n` holds `sizes[n]` bytes.
    pub fn from_sizes(sizes: &[u64; MAX_LEVELS], cfg: &PickerConfig) -> Self {
        if cfg.dynamic_level_bytes {
            Self::dynamic(sizes, cfg)
        } else {
            Self::fixed(cfg)
        }
    }

    /// The target bytes of `level` (0 for level 0, the levels above the base
    /// level, and levels past the last).
    pub fn target(&self, level: usize) -> u64 {
        self.targets.get(level).copied().unwrap_or(0)
    }

    /// Whether `level` is one the shape has no room for, to be drained downwards.
    pub fn must_drain(&self, level: usize) -> bool {
        level >= 1 && self.drain_through.is_some_and(|d| level <= d)
    }

    /// The level `Db::compact` merges everything into: the last level under
    /// dynamic sizing, else the deepest non-empty level (at least 1).
    pub fn bottom<F>(&self, levels: &[Vec<F>], cfg: &PickerConfig) -> usize {
        let deepest = levels.iter().rposition(|l| !l.is_empty()).unwrap_or(0);
        if cfg.dynamic_level_bytes {
            self.last.max(deepest)
        } else {
            deepest.max(1)
        }
    }

    fn fixed(cfg: &PickerConfig) -> Self {
        let mut targets = [0u64; MAX_LEVELS];
        let mut t = cfg.level1_size;
        for target in targets.iter_mut().skip(1) {
            *target = t;
            t = t.saturating_mul(cfg.multiplier);
        }
        LevelTargets {
            base: 1,
            last: LAST_LEVEL,
            targets,
            drain_through: None,
        }
    }

    fn dynamic(sizes: &[u64; MAX_LEVELS], cfg: &PickerConfig) -> Self {
        let multiplier = cfg.multiplier.max(2);
        let deepest = sizes.iter().rposition(|&s| s > 0).unwrap_or(0);
        let last = DYNAMIC_LAST_LEVEL.max(deepest);
        let biggest = sizes.iter().skip(1).copied().max().unwrap_or(0);
        let mut out = LevelTargets {
            base: last,
            last,
            targets: [0; MAX_LEVELS],
            drain_through: None,
        };
        let Some(first) = (1..=last).find(|&n| sizes.get(n).is_some_and(|&s| s > 0)) else {
            // Nothing below level 0: it compacts straight into the last level.
            if let Some(target) = out.targets.get_mut(last) {
                *target = cfg.level1_size;
            }
            return out;
        };
        let max = cfg.level1_size;
        let min = max / multiplier;
        // The need of each level from the bottom up to `first`.
        let mut need = biggest;
        for level in (first..last).rev() {
            need /= multiplier;
            if out.drain_through.is_none() && need <= min {
                out.drain_through = Some(level);
            }
        }
        out.base = first;
        let base_need = if need <= min {
            min + 1
        } else {
            while out.base > 1 && need > max {
                out.base -= 1;
                need /= multiplier;
            }
            need.clamp(1, max)
        };
        let base = out.base;
        let mut t = base_need;
        for (level, target) in out.targets.iter_mut().enumerate().take(last + 1) {
            if level > base {
                t = t.saturating_mul(multiplier);
            }
            if level >= base {
                *target = t.max(max);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L1: u64 = 1000;

    fn cfg(dynamic: bool, multiplier: u64) -> PickerConfig {
        PickerConfig {
            level0_trigger: 4,
            level1_size: L1,
            multiplier,
            dynamic_level_bytes: dynamic,
        }
    }

    fn sizes(pairs: &[(usize, u64)]) -> [u64; MAX_LEVELS] {
        let mut s = [0u64; MAX_LEVELS];
        for &(level, bytes) in pairs {
            s[level] = bytes;
        }
        s
    }

    fn dynamic(pairs: &[(usize, u64)]) -> LevelTargets {
        LevelTargets::from_sizes(&sizes(pairs), &cfg(true, 10))
    }

    #[test]
    fn static_sizing_grows_from_level1_by_the_multiplier() {
        let t = LevelTargets::from_sizes(&sizes(&[(3, 5_000_000)]), &cfg(false, 10));
        assert_eq!((t.base, t.last), (1, LAST_LEVEL));
        assert_eq!(
            (t.target(1), t.target(2), t.target(3)),
            (1000, 10_000, 100_000)
        );
        assert!(!(0..MAX_LEVELS).any(|n| t.must_drain(n)));
        // Saturates rather than overflows deep down.
        assert_eq!(t.target(LAST_LEVEL), 1000 * 10u64.pow(14));
        let t = LevelTargets::from_sizes(&sizes(&[]), &cfg(false, 100));
        assert_eq!(t.target(LAST_LEVEL), u64::MAX);
    }

    #[test]
    fn an_empty_tree_or_one_of_only_level0_compacts_into_the_last_level() {
        for t in [dynamic(&[]), dynamic(&[(0, 50_000)])] {
            assert_eq!((t.base, t.last), (DYNAMIC_LAST_LEVEL, DYNAMIC_LAST_LEVEL));
            assert!((1..DYNAMIC_LAST_LEVEL).all(|n| t.target(n) == 0));
            assert!(!(0..MAX_LEVELS).any(|n| t.must_drain(n)));
        }
    }

    #[test]
    fn growth_moves_the_base_level_up() {
        // Up to level1_size in the last level, there is no other level.
        let t = dynamic(&[(6, 1000)]);
        assert_eq!(t.base, 6);
        assert_eq!(t.target(6), 1000);
        // Past it, level 5 appears with a tenth of the last level.
        let t = dynamic(&[(6, 1001)]);
        assert_eq!(t.base, 5);
        assert_eq!(t.target(5), 1000, "no target below level1_size");
        let t = dynamic(&[(5, 900), (6, 9_000)]);
        assert_eq!(t.base, 5);
        assert_eq!((t.target(5), t.target(6)), (1000, 9000));
        // Past level1_size * 10, level 4; the base level's need stays in (min, max].
        let t = dynamic(&[(5, 900), (6, 10_009)]);
        assert_eq!(t.base, 5, "a need of 1000 is level1_size exactly");
        let t = dynamic(&[(5, 900), (6, 10_010)]);
        assert_eq!(t.base, 4);
        let t = dynamic(&[(4, 500), (5, 5_000), (6, 55_000)]);
        assert_eq!(t.base, 4);
        assert_eq!(
            (t.target(4), t.target(5), t.target(6)),
            (1000, 5500, 55_000)
        );
        assert!((1..4).all(|n| t.target(n) == 0));
        assert!(!(0..MAX_LEVELS).any(|n| t.must_drain(n)));
        // A huge tree: the base level stops at level 1, capped at level1_size.
        let t = dynamic(&[(1, 10), (6, 10u64.pow(12))]);
        assert_eq!(t.base, 1);
        assert_eq!(t.target(1), 1000);
        assert_eq!(t.target(2), 10_000);
    }

    #[test]
    fn shrinking_drains_the_levels_that_became_unnecessary() {
        // The last level shrank to under level1_size: level 5 has no room left.
        let t = dynamic(&[(5, 900), (6, 800)]);
        assert_eq!(t.base, 5, "never below a level that holds data");
        assert!(t.must_drain(5));
        assert!(!t.must_drain(6));
        // Once level 5 is empty, the base level is the last.
        let t = dynamic(&[(6, 1700)]);
        assert_eq!(t.base, 5);
        let t = dynamic(&[(6, 900)]);
        assert_eq!(t.base, 6);
        // Three levels for data that needs two: level 4 drains, 5 stays.
        let t = dynamic(&[(4, 200), (5, 900), (6, 9_000)]);
        assert_eq!(t.base, 4);
        assert!(t.must_drain(4) && !t.must_drain(5));
    }

    #[test]
    fn a_static_layout_drains_into_the_dynamic_shape() {
        // Static sizing filled levels 1..=3 (level 3 is the largest).
        let t = dynamic(&[(1, 900), (2, 9_000), (3, 50_000)]);
        assert_eq!((t.base, t.last), (1, 6));
        // Needs from the bottom: 5000 at 5, 500 at 4, 50 at 3: levels 1..=3 are
        // unnecessary.
        assert!((1..=3).all(|n| t.must_drain(n)));
        assert!(!t.must_drain(4));
        // As they drain the base level follows the shallowest data down, then
        // settles where the data needs it.
        let t = dynamic(&[(3, 10_000), (4, 50_000)]);
        assert_eq!(t.base, 3);
        assert!(t.must_drain(3) && !t.must_drain(4));
        let t = dynamic(&[(6, 60_000)]);
        assert_eq!(t.base, 4);
        assert!(!(0..MAX_LEVELS).any(|n| t.must_drain(n)));
        // Files deeper than level 6 (a static tree with many levels) make the
        // deepest non-empty level the last one.
        let t = dynamic(&[(2, 100), (9, 20_000)]);
        assert_eq!(t.last, 9);
        assert!(t.must_drain(2));
        assert_eq!(t.base, 2);
    }

    #[test]
    fn multiplier_edge_values() {
        let c = cfg(true, 2);
        let t = LevelTargets::from_sizes(&sizes(&[(6, 3_000)]), &c);
        // Needs 1500 at 5, 750 at 4 (in (500, 1000]): the base level is 4.
        assert_eq!(t.base, 4);
        assert_eq!((t.target(4), t.target(5), t.target(6)), (1000, 1500, 3000));
        let c = cfg(true, 100);
        let t = LevelTargets::from_sizes(&sizes(&[(6, 99_000)]), &c);
        assert_eq!(t.base, 5);
        assert_eq!(t.target(6), 99_000);
        let t = LevelTargets::from_sizes(&sizes(&[(6, u64::MAX / 2)]), &c);
        assert_eq!(t.base, 1);
        assert_eq!(t.target(1), 1000);
        assert_eq!(t.target(6), 1000 * 100u64.pow(5));
    }

    #[test]
    fn bottom_is_the_last_level_under_dynamic_sizing() {
        let levels: Vec<Vec<u8>> = vec![vec![1], vec![], vec![1]];
        let mut padded = levels.clone();
        padded.resize(MAX_LEVELS, Vec::new());
        let c = cfg(true, 10);
        let t = LevelTargets::from_sizes(&sizes(&[(0, 1), (2, 1)]), &c);
        assert_eq!(t.bottom(&padded, &c), 6);
        let c = cfg(false, 10);
        let t = LevelTargets::from_sizes(&sizes(&[(0, 1), (2, 1)]), &c);
        assert_eq!(t.bottom(&padded, &c), 2);
        assert_eq!(t.bottom(&[vec![1u8]], &c), 1);
    }
}
