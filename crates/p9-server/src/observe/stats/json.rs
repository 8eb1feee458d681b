//! A snapshot as JSON (`p9proxy stats --json`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{bucket_bound_us, Snapshot, FINITE_BUCKETS};

impl Snapshot {
    /// JSON: `{"ops": {"walk": {"requests", "errors", "bytes", "latency_sum_seconds",
    /// "latency_mean_us", "latency_p50_us", "latency_p99_us", "latency_buckets"}, …},
    /// "bucket_upper_bounds_us", "errors_by_errno", "connections_open",
    /// "connections_total", "fids_open", "helper_respawns", "uptime_seconds"}`.
    /// `latency_buckets` are per bucket (not cumulative), the last one past 2^24 µs.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Op {
            requests: u64,
            errors: u64,
            bytes: u64,
            latency_sum_seconds: f64,
            latency_mean_us: f64,
            latency_p50_us: f64,
            latency_p99_us: f64,
            latency_buckets: Vec<u64>,
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            ops: BTreeMap<&'a str, Op>,
            bucket_upper_bounds_us: Vec<u64>,
            errors_by_errno: BTreeMap<&'a str, u64>,
            connections_open: u64,
            connections_total: u64,
            fids_open: u64,
            helper_respawns: u64,
            uptime_seconds: u64,
        }
        let doc = Doc {
            ops: self
                .ops
                .iter()
                .map(|o| {
                    (
                        o.op,
                        Op {
                            requests: o.requests,
                            errors: o.errors,
                            bytes: o.bytes,
                            latency_sum_seconds: o.sum_ns as f64 / 1e9,
                            latency_mean_us: o.mean_us(),
                            latency_p50_us: o.quantile_us(0.5),
                            latency_p99_us: o.quantile_us(0.99),
                            latency_buckets: o.buckets.to_vec(),
                        },
                    )
                })
                .collect(),
            bucket_upper_bounds_us: (0..FINITE_BUCKETS).map(bucket_bound_us).collect(),
            errors_by_errno: self.errnos.iter().map(|(e, n)| (e.as_str(), *n)).collect(),
            connections_open: self.connections_open,
            connections_total: self.connections_total,
            fids_open: self.fids_open,
            helper_respawns: self.helper_respawns,
            uptime_seconds: self.uptime_seconds,
        };
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}
