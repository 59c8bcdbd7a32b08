//! A latency histogram with bounded relative error, in the spirit of HdrHistogram:
//! each power of two of nanoseconds is split into 32 linear sub-buckets, so a
//! percentile is off by at most 1/32 (about 3 %) of its value, with a fixed 2 KiB of
//! counters whatever the number of samples. Threads keep their own and merge.

/// Sub-buckets per power of two (2^SUB_BITS).
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two covered: up to 2^45 ns (about 9.8 hours).
const POWERS: usize = 46;

/// Counts of latencies, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; POWERS * SUB],
            total: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }
}

/// Bucket of a value: values below `SUB` have their own bucket; above, the position of
/// the highest bit picks the power and the next `SUB_BITS` bits the sub-bucket.
fn bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let msb = 63 - ns.leading_zeros(); // >= SUB_BITS
    let shift = msb - SUB_BITS;
    let sub = ((ns >> shift) as usize) & (SUB - 1);
    let index = (msb - SUB_BITS + 1) as usize * SUB + sub;
    index.min(POWERS * SUB - 1)
}

/// The largest value that falls in bucket `index` (inclusive).
fn bucket_high(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let power = (index / SUB) as u32; // >= 1
    let sub = (index % SUB) as u64;
    let shift = power - 1;
    let low = (SUB as u64 + sub) << shift;
    low + (1u64 << shift) - 1
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency.
    pub fn record(&mut self, ns: u64) {
        if let Some(c) = self.counts.get_mut(bucket(ns)) {
            *c += 1;
        }
        self.total += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds `other`'s samples to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The latency (ns) below or at which a fraction `q` (0..=1) of the samples lie:
    /// the upper bound of the bucket holding that rank, capped at the maximum seen.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).min(self.max_ns);
            }
        }
        self.max_ns
    }

    /// Mean latency in nanoseconds.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.total as f64
        }
    }

    /// Largest latency seen, in nanoseconds.
    pub fn max(&self) -> u64 {
        self.max_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_contain_their_values() {
        let mut prev = 0;
        for ns in (0..100_000u64).chain([1 << 20, (1 << 30) + 12345, u64::MAX / 2]) {
            let b = bucket(ns);
            assert!(b >= prev || ns > 100_000, "bucket order at {ns}");
            prev = b;
            if b < POWERS * SUB - 1 {
                assert!(
                    ns <= bucket_high(b),
                    "{ns} above its bucket's high {}",
                    bucket_high(b)
                );
                assert!(
                    b == 0 || ns > bucket_high(b - 1),
                    "{ns} belongs to an earlier bucket"
                );
            }
        }
    }

    #[test]
    fn quantiles_within_bucket_error() {
        let mut h = Histogram::new();
        for ns in 1..=10_000u64 {
            h.record(ns * 100);
        }
        for (q, exact) in [(0.5, 500_000.0), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact <= 1.0 / 32.0 + 1e-9,
                "q {q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.quantile(1.0), 1_000_000);
        let mut other = Histogram::new();
        other.record(5);
        h.merge(&other);
        assert_eq!(h.count(), 10_001);
        assert_eq!(h.quantile(0.0), 5);
    }
}
