//! What the counters came to at one moment, and the latency figures read from it.

use super::{bucket_bound_us, FINITE_BUCKETS, SLOTS};

/// The counts of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSnapshot {
    /// Its name in [`OP_NAMES`](super::OP_NAMES).
    pub op: &'static str,
    /// Requests answered.
    pub requests: u64,
    /// Of them, answered with `Rlerror`.
    pub errors: u64,
    /// File data moved (read and write only).
    pub bytes: u64,
    /// Sum of latencies, in nanoseconds.
    pub sum_ns: u64,
    /// Latencies per histogram slot (not cumulative).
    pub buckets: [u64; SLOTS],
}

impl OpSnapshot {
    /// Mean latency in microseconds.
    pub fn mean_us(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.requests as f64 / 1000.0
        }
    }

    /// The `q` quantile (0..=1) of the latency in microseconds, interpolated linearly
    /// inside its bucket (as Prometheus' `histogram_quantile` does); in the overflow
    /// bucket, its lower bound.
    pub fn quantile_us(&self, q: f64) -> f64 {
        let count: u64 = self.buckets.iter().sum();
        if count == 0 {
            return 0.0;
        }
        let rank = q.clamp(0.0, 1.0) * count as f64;
        let mut below = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                if i == FINITE_BUCKETS {
                    return bucket_bound_us(FINITE_BUCKETS - 1) as f64;
                }
                let lo = if i == 0 {
                    0.0
                } else {
                    bucket_bound_us(i - 1) as f64
                };
                let hi = bucket_bound_us(i) as f64;
                return lo + (hi - lo) * ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
            }
            below += n;
        }
        bucket_bound_us(FINITE_BUCKETS - 1) as f64
    }
}

/// Everything [`Stats`](super::Stats) counted, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Operations seen at least once, in [`OP_NAMES`](super::OP_NAMES) order.
    pub ops: Vec<OpSnapshot>,
    /// Failed requests by errno name (`ENOENT`, or `E123`; `other` past 133).
    pub errnos: Vec<(String, u64)>,
    /// Connections being served.
    pub connections_open: u64,
    /// Connections served since start.
    pub connections_total: u64,
    /// Fids held by the connections being served.
    pub fids_open: u64,
    /// Helpers started to replace ones that died (proxy backend).
    pub helper_respawns: u64,
    /// Seconds since the statistics began.
    pub uptime_seconds: u64,
}

impl Snapshot {
    /// The operation named `op`, if it was seen.
    pub fn op(&self, op: &str) -> Option<&OpSnapshot> {
        self.ops.iter().find(|o| o.op == op)
    }
}
