//! A snapshot in the Prometheus text exposition format (`--metrics-listen`).

use std::fmt::Write as _;

use super::{bucket_bound_us, OpSnapshot, Snapshot, FINITE_BUCKETS};

/// Prometheus metric names (a prefix, so exports of several servers can sit together).
const PREFIX: &str = "p9proxy";

/// Reads one per-operation counter.
type Count = fn(&OpSnapshot) -> u64;

impl Snapshot {
    /// The Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        let family = |s: &mut String, name: &str, ty: &str, help: &str| {
            let _ = writeln!(s, "# HELP {PREFIX}_{name} {help}");
            let _ = writeln!(s, "# TYPE {PREFIX}_{name} {ty}");
        };
        // The two per-operation counters.
        let per_op: [(&str, &str, Count); 2] = [
            (
                "requests_total",
                "9P requests answered, by request type.",
                |o| o.requests,
            ),
            (
                "request_errors_total",
                "9P requests answered with Rlerror, by request type.",
                |o| o.errors,
            ),
        ];
        for (name, help, count) in per_op {
            family(&mut s, name, "counter", help);
            for o in &self.ops {
                let _ = writeln!(s, "{PREFIX}_{name}{{op=\"{}\"}} {}", o.op, count(o));
            }
        }
        family(
            &mut s,
            "errors_total",
            "counter",
            "9P requests answered with Rlerror, by errno.",
        );
        for (e, n) in &self.errnos {
            let _ = writeln!(s, "{PREFIX}_errors_total{{errno=\"{e}\"}} {n}");
        }
        family(
            &mut s,
            "data_bytes_total",
            "counter",
            "File data bytes moved by Tread and Twrite.",
        );
        for op in ["read", "write"] {
            let n = self.op(op).map(|o| o.bytes).unwrap_or(0);
            let _ = writeln!(s, "{PREFIX}_data_bytes_total{{op=\"{op}\"}} {n}");
        }
        family(
            &mut s,
            "request_duration_seconds",
            "histogram",
            "Time from a decoded 9P request to its encoded reply, by request type.",
        );
        for o in &self.ops {
            let mut cumulative = 0u64;
            for (i, n) in o.buckets.iter().enumerate().take(FINITE_BUCKETS) {
                cumulative += n;
                let le = bucket_bound_us(i) as f64 / 1e6;
                let _ = writeln!(
                    s,
                    "{PREFIX}_request_duration_seconds_bucket{{op=\"{}\",le=\"{le}\"}} {cumulative}",
                    o.op
                );
            }
            let count: u64 = o.buckets.iter().sum();
            let _ = writeln!(
                s,
                "{PREFIX}_request_duration_seconds_bucket{{op=\"{}\",le=\"+Inf\"}} {count}",
                o.op
            );
            let _ = writeln!(
                s,
                "{PREFIX}_request_duration_seconds_sum{{op=\"{}\"}} {}",
                o.op,
                o.sum_ns as f64 / 1e9
            );
            let _ = writeln!(
                s,
                "{PREFIX}_request_duration_seconds_count{{op=\"{}\"}} {count}",
                o.op
            );
        }
        let gauges: [(&str, &str, &str, u64); 4] = [
            (
                "connections_open",
                "gauge",
                "Client connections being served.",
                self.connections_open,
            ),
            (
                "connections_total",
                "counter",
                "Client connections accepted since start.",
                self.connections_total,
            ),
            (
                "fids_open",
                "gauge",
                "Fids held by the connections being served.",
                self.fids_open,
            ),
            (
                "helper_respawns_total",
                "counter",
                "Helpers started to replace ones that died (proxy backend).",
                self.helper_respawns,
            ),
        ];
        for (name, ty, help, v) in gauges {
            family(&mut s, name, ty, help);
            let _ = writeln!(s, "{PREFIX}_{name} {v}");
        }
        s
    }
}
