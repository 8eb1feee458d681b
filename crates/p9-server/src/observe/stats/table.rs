//! A snapshot as a table for people (`p9proxy stats`).

use std::fmt::Write as _;

use super::Snapshot;

impl Snapshot {
    /// A table for people: per operation, requests, errors, bytes, mean, p50 and p99
    /// latency; then the gauges and the errors by errno.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<12} {:>10} {:>8} {:>14} {:>10} {:>10} {:>10}",
            "op", "requests", "errors", "bytes", "mean", "p50", "p99"
        );
        for o in &self.ops {
            let bytes = if o.op == "read" || o.op == "write" {
                o.bytes.to_string()
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                s,
                "{:<12} {:>10} {:>8} {:>14} {:>10} {:>10} {:>10}",
                o.op,
                o.requests,
                o.errors,
                bytes,
                fmt_us(o.mean_us()),
                fmt_us(o.quantile_us(0.5)),
                fmt_us(o.quantile_us(0.99)),
            );
        }
        if self.ops.is_empty() {
            let _ = writeln!(s, "(no requests yet)");
        }
        let _ = writeln!(
            s,
            "\nconnections open {} (total {}), fids open {}, helper respawns {}, uptime {} s",
            self.connections_open,
            self.connections_total,
            self.fids_open,
            self.helper_respawns,
            self.uptime_seconds
        );
        if !self.errnos.is_empty() {
            let list: Vec<String> = self
                .errnos
                .iter()
                .map(|(e, n)| format!("{e} {n}"))
                .collect();
            let _ = writeln!(s, "errors by errno: {}", list.join(", "));
        }
        s
    }
}

/// `12.3us`, `4.56ms`, `1.20s`.
fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.1}us")
    } else if us < 1e6 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}
