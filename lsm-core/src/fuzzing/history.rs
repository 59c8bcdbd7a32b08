//! The oracle of [`super::db_ops`] and of the crash tests in `tests/`: the
//! acknowledged history of a run, and the prefix check a recovered database must
//! pass.
//!
//! TTL puts: a step may set a key to a value that expires at a time fixed when it
//! was committed (ms since the epoch on the run's manual clock, [`Expiries`]). Its
//! effect is the value while the clock is before that time and nothing from then
//! on; every state the history computes is the one read at [`History::now_ms`].

use std::collections::{BTreeMap, BTreeSet};

/// Live keys and values.
pub type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// One write call: the keys it sets (`Some`) or deletes, applied atomically. A range
/// delete is recorded by its effect: a delete of every key it covered when it was
/// written ([`History::effect`]).
pub type Step = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// For one step: the keys it leaves holding a TTL put, with the expiry (ms since
/// the epoch) fixed when the step was committed.
pub type Expiries = BTreeMap<Vec<u8>, u64>;

/// One operation of a write call as sent to the database ([`super::write_ops`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// `put(key, value)`.
    Put(Vec<u8>, Vec<u8>),
    /// `put_with_ttl(key, value, ttl)` with a TTL of this many ms (the expiry is
    /// the clock's time when the call is written plus the TTL: [`expiries_of`]).
    PutWithTtl(Vec<u8>, Vec<u8>, u64),
    /// `delete(key)`.
    Delete(Vec<u8>),
    /// `delete_range(start, end)`: every key in `[start, end)`.
    DeleteRange(Vec<u8>, Vec<u8>),
    /// `delete_prefix(prefix)`: every key starting with it.
    DeletePrefix(Vec<u8>),
}

impl Write {
    /// True when `key` is one this operation deletes (puts delete nothing).
    pub fn deletes(&self, key: &[u8]) -> bool {
        match self {
            Write::Put(..) | Write::PutWithTtl(..) => false,
            Write::Delete(k) => k.as_slice() == key,
            Write::DeleteRange(start, end) => start.as_slice() <= key && key < end.as_slice(),
            Write::DeletePrefix(prefix) => key.starts_with(prefix),
        }
    }
}

/// Applies write operations in order to `map`, as one batch does (each operation of
/// a batch sees the ones before it: a range delete hides a put earlier in its batch,
/// not a later one), and returns the point changes that amount to the same.
pub fn apply_writes(map: &mut Map, ops: &[Write]) -> Step {
    let mut step = Step::new();
    for op in ops {
        match op {
            Write::Put(k, v) | Write::PutWithTtl(k, v, _) => {
                map.insert(k.clone(), v.clone());
                step.push((k.clone(), Some(v.clone())));
            }
            Write::Delete(k) => {
                map.remove(k);
                step.push((k.clone(), None));
            }
            Write::DeleteRange(..) | Write::DeletePrefix(_) => {
                let doomed: Vec<Vec<u8>> = map.keys().filter(|k| op.deletes(k)).cloned().collect();
                for k in doomed {
                    map.remove(&k);
                    step.push((k, None));
                }
            }
        }
    }
    step
}

/// The keys a write call of `ops` committed at `now_ms` (on the database's clock)
/// leaves holding a TTL put, with their expiry: a key whose last write in the call
/// is a TTL put.
pub fn expiries_of(ops: &[Write], now_ms: u64) -> Expiries {
    let mut out = Expiries::new();
    for op in ops {
        match op {
            Write::PutWithTtl(k, _, ttl) => {
                out.insert(k.clone(), now_ms.saturating_add(*ttl));
            }
            Write::Put(k, _) => {
                out.remove(k);
            }
            Write::Delete(_) | Write::DeleteRange(..) | Write::DeletePrefix(_) => {
                out.retain(|k, _| !op.deletes(k));
            }
        }
    }
    out
}

/// Every write since the last recovery, in acknowledgement order.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The state the history starts from (what the last recovery found).
    pub base: Map,
    /// The expiries of the keys of `base` that hold TTL puts.
    pub base_expiries: Expiries,
    /// Acknowledged steps, then at most one step whose call failed.
    pub steps: Vec<Step>,
    /// Number of acknowledged steps.
    pub acked: usize,
    /// Number of leading steps a returned `sync()` (or `close()`) made durable.
    pub durable: usize,
    /// The expiries of each step's TTL puts (as many as `steps`, or fewer when the
    /// last steps have none).
    pub expiries: Vec<Expiries>,
    /// The time (ms since the epoch) states are read at: a TTL put whose expiry is
    /// at or before it reads as absent. 0 (the default) for histories without TTL.
    pub now_ms: u64,
}

impl History {
    /// An empty history from `base`.
    pub fn new(base: Map) -> History {
        History {
            base,
            ..History::default()
        }
    }

    /// Records an acknowledged step.
    pub fn ack(&mut self, step: Step) {
        self.ack_expiring(step, Expiries::new());
    }

    /// Records an acknowledged step whose keys in `expiries` hold TTL puts.
    pub fn ack_expiring(&mut self, step: Step, expiries: Expiries) {
        assert_eq!(self.steps.len(), self.acked, "a step after a failed one");
        self.set_expiries(expiries);
        self.steps.push(step);
        self.acked += 1;
    }

    /// Records a step whose call failed: it may or may not have taken effect.
    pub fn attempt(&mut self, step: Step) {
        self.attempt_expiring(step, Expiries::new());
    }

    /// [`History::attempt`] of a step whose keys in `expiries` hold TTL puts.
    pub fn attempt_expiring(&mut self, step: Step, expiries: Expiries) {
        assert_eq!(self.steps.len(), self.acked, "two failed steps");
        self.set_expiries(expiries);
        self.steps.push(step);
    }

    /// Records the expiries of the step about to be pushed.
    fn set_expiries(&mut self, expiries: Expiries) {
        if !expiries.is_empty() {
            self.expiries.resize(self.steps.len(), Expiries::new());
            self.expiries.push(expiries);
        }
    }

    /// The expiries of step `i`.
    fn expiries_at(&self, i: usize) -> Option<&Expiries> {
        self.expiries.get(i).filter(|e| !e.is_empty())
    }

    /// Applies step `i` to `map` as read at [`History::now_ms`].
    fn apply_step(&self, map: &mut Map, i: usize) {
        if let Some(step) = self.steps.get(i) {
            apply(map, step);
            if let Some(expiries) = self.expiries_at(i) {
                for (k, &t) in expiries {
                    if t <= self.now_ms {
                        map.remove(k);
                    }
                }
            }
        }
    }

    /// Every acknowledged step is durable from now on.
    pub fn synced(&mut self) {
        self.durable = self.acked;
    }

    /// The step a write call of `ops` amounts to if it is written now, after every
    /// acknowledged step: puts and deletes as such, each range or prefix delete as a
    /// delete of every key it covers at that point of the call. Exact, because a
    /// range delete hides only what is older than it.
    pub fn effect(&self, ops: &[Write]) -> Step {
        apply_writes(&mut self.state(), ops)
    }

    /// `base` as read at [`History::now_ms`].
    fn base_now(&self) -> Map {
        let mut map = self.base.clone();
        map.retain(|k, _| self.base_expiries.get(k).is_none_or(|&t| t > self.now_ms));
        map
    }

    /// The expiries of the keys holding TTL puts after the first `prefix` steps
    /// (what a history starting from a recovery to that prefix takes as
    /// [`History::base_expiries`]).
    pub fn expiries_after(&self, prefix: usize) -> Expiries {
        let mut out = self.base_expiries.clone();
        for (i, step) in self.steps.iter().enumerate().take(prefix) {
            for (k, _) in step {
                out.remove(k);
            }
            if let Some(expiries) = self.expiries_at(i) {
                out.extend(expiries.iter().map(|(k, &t)| (k.clone(), t)));
            }
        }
        out
    }

    /// The state after every acknowledged step.
    pub fn state(&self) -> Map {
        let mut map = self.base_now();
        for i in 0..self.acked {
            self.apply_step(&mut map, i);
        }
        map
    }

    /// The prefix lengths whose state equals `found`, ascending.
    pub fn matching_prefixes(&self, found: &Map) -> Vec<usize> {
        let mut model = self.base_now();
        // Keys on which the model and `found` disagree, updated step by step.
        let mut differ: BTreeSet<Vec<u8>> = model
            .keys()
            .chain(found.keys())
            .filter(|k| model.get(*k) != found.get(*k))
            .cloned()
            .collect();
        let mut out = Vec::new();
        if differ.is_empty() {
            out.push(0);
        }
        for (i, step) in self.steps.iter().enumerate() {
            self.apply_step(&mut model, i);
            for (k, _) in step {
                if model.get(k) == found.get(k) {
                    differ.remove(k);
                } else {
                    differ.insert(k.clone());
                }
            }
            if differ.is_empty() {
                out.push(i + 1);
            }
        }
        out
    }

    /// The longest prefix of at least `durable` steps whose state is `found`, or a
    /// description of why there is none (with the keys `found` lacks or has beyond
    /// the state after every acknowledged step).
    pub fn check_prefix(&self, found: &Map) -> Result<usize, String> {
        let prefixes = self.matching_prefixes(found);
        if let Some(&p) = prefixes.last().filter(|&&p| p >= self.durable) {
            return Ok(p);
        }
        let want = self.state();
        let differing = |a: &Map, b: &Map| -> Vec<String> {
            a.iter()
                .filter(|(k, v)| b.get(*k) != Some(*v))
                .take(5)
                .map(|(k, v)| format!("{}={}", show(k), show(v)))
                .collect()
        };
        Err(format!(
            "the recovered state ({} keys) is no prefix of the history with at least {} of \
             {} acknowledged steps (matching prefixes: {prefixes:?}); vs the full history \
             it lacks {:?} and has {:?}",
            found.len(),
            self.durable,
            self.acked,
            differing(&want, found),
            differing(found, &want),
        ))
    }
}

/// A short printable rendering of a key or value for failure messages.
pub fn show(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(24)
        .flat_map(|&b| std::ascii::escape_default(b).map(char::from))
        .collect();
    s.insert(0, '"');
    s.push('"');
    if bytes.len() > 24 {
        s.push_str(&format!("..({} bytes)", bytes.len()));
    }
    s
}

/// Applies `step` to `map`.
pub fn apply(map: &mut Map, step: &Step) {
    for (k, v) in step {
        match v {
            Some(v) => map.insert(k.clone(), v.clone()),
            None => map.remove(k),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Step {
        vec![(k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))]
    }

    #[test]
    fn range_deletes_become_the_deletes_of_the_keys_they_cover() {
        let mut h = History::new(Map::new());
        for k in ["a", "b", "ba", "c"] {
            h.ack(put(k, "1"));
        }
        let ops = [
            Write::Put(b"bb".to_vec(), b"2".to_vec()),
            Write::DeleteRange(b"a".to_vec(), b"c".to_vec()),
            Write::Put(b"b".to_vec(), b"3".to_vec()),
            Write::DeletePrefix(b"c".to_vec()),
        ];
        let step = h.effect(&ops);
        h.ack(step);
        let mut want = Map::new();
        want.insert(b"b".to_vec(), b"3".to_vec());
        assert_eq!(h.state(), want);
        // All of the batch or none of it.
        assert_eq!(h.check_prefix(&want), Ok(5));
        want.insert(b"c".to_vec(), b"1".to_vec());
        assert!(h.check_prefix(&want).is_err());
    }

    #[test]
    fn a_ttl_put_is_its_value_until_the_clock_reaches_its_expiry() {
        let mut h = History::new(Map::new());
        h.ack(put("a", "1"));
        let ops = [
            Write::PutWithTtl(b"a".to_vec(), b"2".to_vec(), 100),
            Write::PutWithTtl(b"b".to_vec(), b"3".to_vec(), 50),
            Write::PutWithTtl(b"c".to_vec(), b"4".to_vec(), 10),
            Write::Put(b"c".to_vec(), b"5".to_vec()),
        ];
        h.ack_expiring(h.effect(&ops), expiries_of(&ops, 0));
        let at = |h: &History, pairs: &[(&str, &str)]| {
            assert_eq!(
                h.state(),
                pairs
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                    .collect::<Map>()
            );
        };
        h.now_ms = 49;
        at(&h, &[("a", "2"), ("b", "3"), ("c", "5")]);
        h.now_ms = 50;
        at(&h, &[("a", "2"), ("c", "5")]);
        assert_eq!(h.check_prefix(&h.state()), Ok(2));
        h.now_ms = 100;
        at(&h, &[("c", "5")]);
        let mut want = Expiries::new();
        want.insert(b"a".to_vec(), 100);
        want.insert(b"b".to_vec(), 50);
        assert_eq!(h.expiries_after(2), want);
        assert_eq!(h.expiries_after(1), Expiries::new());
        // The expired put hides the older value of `a`: no prefix has `a` at "1" and
        // the put of `c`.
        let mut m = h.state();
        m.insert(b"a".to_vec(), b"1".to_vec());
        assert!(h.check_prefix(&m).is_err());
    }

    #[test]
    fn prefixes_and_durability() {
        let mut h = History::new(Map::new());
        h.ack(put("a", "1"));
        h.synced();
        h.ack(put("a", "2"));
        h.attempt(vec![
            (b"b".to_vec(), Some(b"3".to_vec())),
            (b"a".to_vec(), None),
        ]);
        let mut m = Map::new();
        m.insert(b"a".to_vec(), b"1".to_vec());
        assert_eq!(h.check_prefix(&m), Ok(1));
        m.insert(b"a".to_vec(), b"2".to_vec());
        assert_eq!(h.check_prefix(&m), Ok(2));
        m.remove(b"a".as_slice());
        m.insert(b"b".to_vec(), b"3".to_vec());
        assert_eq!(h.check_prefix(&m), Ok(3));
        // Half of the failed batch: no prefix.
        m.insert(b"a".to_vec(), b"2".to_vec());
        assert!(h.check_prefix(&m).is_err());
        // Lost a synced write.
        assert!(h.check_prefix(&Map::new()).is_err());
    }
}
