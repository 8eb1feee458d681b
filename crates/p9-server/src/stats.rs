//! Per-operation counters, latency histograms and gauges, cheap enough for every request.
//!
//! Each connection owns a [`ConnStats`] block (cache-line aligned, a heap allocation of
//! its own) that only its thread writes, with relaxed loads and stores (no locked
//! instructions, no shared cache lines on the hot path). [`Stats::snapshot`] adds up the
//! live blocks and the totals of connections that ended, under a mutex taken only by
//! connects, disconnects and readers. A snapshot renders as a human table
//! ([`Snapshot::to_table`]), the Prometheus text format ([`Snapshot::to_prometheus`])
//! or JSON ([`Snapshot::to_json`]).
//!
//! Latency is the time from a decoded request to its encoded reply (writing the reply to
//! the socket is not included), in fixed log2 buckets whose upper bounds are 1 µs,
//! 2 µs, 4 µs, … 2^24 µs (16.8 s), then `+Inf`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use p9_wire::Tmessage;
use serde::Serialize;

/// Finite histogram buckets: upper bounds 2^0 … 2^24 µs.
pub const FINITE_BUCKETS: usize = 25;
/// Histogram slots: the finite buckets and the overflow (`+Inf`) one.
pub const SLOTS: usize = FINITE_BUCKETS + 1;

/// The 9P2000.L requests counted, by name (as in `Twalk` without the `T`), in the order
/// [`p9_wire::messages`] declares them; the last one, `unknown`, counts frames that could
/// not be decoded.
pub const OP_NAMES: [&str; OPS] = {
    let mut names = ["unknown"; OPS];
    let mut i = 0;
    while i < UNKNOWN {
        names[i] = op_name(Tmessage::NAMES[i]);
        i += 1;
    }
    names
};
/// Number of operations counted (including `unknown`).
pub const OPS: usize = Tmessage::TYPES.len() + 1;
const UNKNOWN: usize = OPS - 1;

/// `"Twalk"` -> `"walk"`.
const fn op_name(message: &'static str) -> &'static str {
    match message.as_bytes() {
        [_, rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => panic!("message names are ASCII"),
        },
        [] => panic!("message names are not empty"),
    }
}
/// Errnos counted one by one; larger ones are counted as `other`.
const ERRNOS: usize = 134;

/// Index of each message type in [`OP_NAMES`].
static OP_INDEX: [u8; 256] = {
    let mut t = [UNKNOWN as u8; 256];
    let mut i = 0;
    while i < UNKNOWN {
        t[Tmessage::TYPES[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The [`OP_NAMES`] index of the request type `ty` (`unknown` for anything else).
pub fn op_index(ty: u8) -> usize {
    OP_INDEX[ty as usize] as usize
}

/// The histogram slot of a latency of `ns` nanoseconds: the smallest `i` with
/// `ns <= 1000 * 2^i`, or the overflow slot.
pub fn bucket_of(ns: u64) -> usize {
    let us = ns.div_ceil(1000);
    if us <= 1 {
        return 0;
    }
    ((64 - (us - 1).leading_zeros()) as usize).min(FINITE_BUCKETS)
}

/// Upper bound of finite bucket `i`, in microseconds.
pub fn bucket_bound_us(i: usize) -> u64 {
    1u64 << i
}

/// Adds `n` to a counter written by one thread only (no read-modify-write instruction).
#[inline]
fn bump(a: &AtomicU64, n: u64) {
    a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
}

#[derive(Default)]
struct OpCell {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    sum_ns: AtomicU64,
    slots: [AtomicU64; SLOTS],
}

/// One connection's counters, written only by that connection's thread.
#[repr(align(64))]
pub struct ConnStats {
    ops: [OpCell; OPS],
    errnos: [AtomicU64; ERRNOS],
    fids: AtomicU64,
}

impl ConnStats {
    fn new() -> ConnStats {
        ConnStats {
            ops: std::array::from_fn(|_| OpCell::default()),
            errnos: std::array::from_fn(|_| AtomicU64::new(0)),
            fids: AtomicU64::new(0),
        }
    }

    /// Records one request of type index `op` that took `ns` nanoseconds, failed with
    /// `errno` (if not 0) and moved `bytes` bytes of file data. Only the connection's own
    /// thread may call it (the counters are not read-modify-written atomically: concurrent
    /// callers would lose counts, though never corrupt memory).
    #[inline]
    pub fn record(&self, op: usize, ns: u64, errno: i32, bytes: u64) {
        let Some(c) = self.ops.get(op) else { return };
        bump(&c.requests, 1);
        bump(&c.sum_ns, ns);
        bump(&c.slots[bucket_of(ns)], 1);
        if bytes != 0 {
            bump(&c.bytes, bytes);
        }
        if errno != 0 {
            bump(&c.errors, 1);
            let i = usize::try_from(errno)
                .ok()
                .filter(|&e| e < ERRNOS)
                .unwrap_or(0);
            bump(&self.errnos[i], 1);
        }
    }

    /// Sets the connection's number of fids.
    #[inline]
    pub fn set_fids(&self, n: usize) {
        self.fids.store(n as u64, Relaxed);
    }

    fn add_to(&self, t: &mut Totals) {
        for (cell, op) in self.ops.iter().zip(t.ops.iter_mut()) {
            op.requests += cell.requests.load(Relaxed);
            op.errors += cell.errors.load(Relaxed);
            op.bytes += cell.bytes.load(Relaxed);
            op.sum_ns += cell.sum_ns.load(Relaxed);
            for (s, v) in cell.slots.iter().zip(op.slots.iter_mut()) {
                *v += s.load(Relaxed);
            }
        }
        for (e, v) in self.errnos.iter().zip(t.errnos.iter_mut()) {
            *v += e.load(Relaxed);
        }
    }
}

#[derive(Clone)]
struct Totals {
    ops: [OpTotals; OPS],
    errnos: [u64; ERRNOS],
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            ops: [OpTotals::default(); OPS],
            errnos: [0; ERRNOS],
        }
    }
}

#[derive(Clone, Copy, Default)]
struct OpTotals {
    requests: u64,
    errors: u64,
    bytes: u64,
    sum_ns: u64,
    slots: [u64; SLOTS],
}

#[derive(Default)]
struct Registry {
    live: Vec<Arc<ConnStats>>,
    retired: Totals,
    connections_total: u64,
}

/// The statistics of a server: every connection's block, the totals of those that
/// ended, and process-wide gauges.
pub struct Stats {
    registry: Mutex<Registry>,
    helper_respawns: AtomicU64,
    started: std::time::Instant,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

/// A connection's registration: its block, unregistered (and its counts kept in the
/// totals) when dropped.
pub struct ConnGuard<'a> {
    stats: &'a Stats,
    conn: Arc<ConnStats>,
    /// The connection's number (1 for the first since start).
    pub id: u64,
}

impl std::ops::Deref for ConnGuard<'_> {
    type Target = ConnStats;
    fn deref(&self) -> &ConnStats {
        &self.conn
    }
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        let mut r = self.stats.lock();
        r.live.retain(|c| !Arc::ptr_eq(c, &self.conn));
        self.conn.set_fids(0);
        self.conn.add_to(&mut r.retired);
    }
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Stats {
        Stats {
            registry: Mutex::default(),
            helper_respawns: AtomicU64::new(0),
            started: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection.
    pub fn connect(&self) -> ConnGuard<'_> {
        let conn = Arc::new(ConnStats::new());
        let mut r = self.lock();
        r.live.push(Arc::clone(&conn));
        r.connections_total += 1;
        let id = r.connections_total;
        ConnGuard {
            stats: self,
            conn,
            id,
        }
    }

    /// Counts a helper started to replace one that died.
    pub fn helper_respawned(&self) {
        self.helper_respawns.fetch_add(1, Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        let (totals, open, total, fids) = {
            let r = self.lock();
            let mut t = r.retired.clone();
            let mut fids = 0;
            for c in &r.live {
                c.add_to(&mut t);
                fids += c.fids.load(Relaxed);
            }
            (t, r.live.len() as u64, r.connections_total, fids)
        };
        let ops = totals
            .ops
            .iter()
            .zip(OP_NAMES)
            .filter(|(o, _)| o.requests != 0)
            .map(|(o, name)| OpSnapshot {
                op: name,
                requests: o.requests,
                errors: o.errors,
                bytes: o.bytes,
                sum_ns: o.sum_ns,
                buckets: o.slots,
            })
            .collect();
        let errnos = totals
            .errnos
            .iter()
            .enumerate()
            .filter(|(_, &n)| n != 0)
            .map(|(e, &n)| (errno_name(e as i32), n))
            .collect();
        Snapshot {
            ops,
            errnos,
            connections_open: open,
            connections_total: total,
            fids_open: fids,
            helper_respawns: self.helper_respawns.load(Relaxed),
            uptime_seconds: self.started.elapsed().as_secs(),
        }
    }
}

/// The counts of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSnapshot {
    /// Its name in [`OP_NAMES`].
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

/// Everything [`Stats`] counted, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Operations seen at least once, in [`OP_NAMES`] order.
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

/// The symbolic name of `errno` (Linux numbering).
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        0 => "other",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EPROTO => "EPROTO",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ESTALE => "ESTALE",
        libc::EDQUOT => "EDQUOT",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNRESET => "ECONNRESET",
        libc::EINTR => "EINTR",
        libc::ECANCELED => "ECANCELED",
        _ => return format!("E{errno}"),
    };
    name.to_string()
}

/// Prometheus metric names (a prefix, so exports of several servers can sit together).
const PREFIX: &str = "p9proxy";

impl Snapshot {
    /// The operation named `op`, if it was seen.
    pub fn op(&self, op: &str) -> Option<&OpSnapshot> {
        self.ops.iter().find(|o| o.op == op)
    }

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

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        let family = |s: &mut String, name: &str, ty: &str, help: &str| {
            let _ = writeln!(s, "# HELP {PREFIX}_{name} {help}");
            let _ = writeln!(s, "# TYPE {PREFIX}_{name} {ty}");
        };
        family(
            &mut s,
            "requests_total",
            "counter",
            "9P requests answered, by request type.",
        );
        for o in &self.ops {
            let _ = writeln!(
                s,
                "{PREFIX}_requests_total{{op=\"{}\"}} {}",
                o.op, o.requests
            );
        }
        family(
            &mut s,
            "request_errors_total",
            "counter",
            "9P requests answered with Rlerror, by request type.",
        );
        for o in &self.ops {
            let _ = writeln!(
                s,
                "{PREFIX}_request_errors_total{{op=\"{}\"}} {}",
                o.op, o.errors
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use p9_wire::{P9_RWALK, P9_TGETATTR, P9_TGETLOCK, P9_TLOPEN, P9_TREAD, P9_TVERSION, P9_TWALK};

    #[test]
    fn buckets() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(1000), 0);
        assert_eq!(bucket_of(1001), 1);
        assert_eq!(bucket_of(2000), 1);
        assert_eq!(bucket_of(2001), 2);
        assert_eq!(bucket_of(4000), 2);
        assert_eq!(bucket_of(1_000_000), 10); // 1 ms <= 1024 us
        assert_eq!(bucket_of(10_000_000_000), 24); // 10 s <= 16.8 s
        assert_eq!(bucket_of(16_777_216_000), 24);
        assert_eq!(bucket_of(16_777_216_001), FINITE_BUCKETS);
        assert_eq!(bucket_of(u64::MAX), FINITE_BUCKETS);
        // Every value lies in its bucket's bounds.
        for ns in (0..5_000_000u64).step_by(997) {
            let b = bucket_of(ns);
            assert!(ns <= bucket_bound_us(b) * 1000);
            if b > 0 {
                assert!(ns > bucket_bound_us(b - 1) * 1000);
            }
        }
    }

    #[test]
    fn op_indices() {
        assert_eq!(OP_NAMES[op_index(P9_TWALK)], "walk");
        assert_eq!(OP_NAMES[op_index(P9_TGETATTR)], "getattr");
        assert_eq!(OP_NAMES[op_index(P9_TGETLOCK)], "getlock");
        assert_eq!(OP_NAMES[op_index(P9_TVERSION)], "version");
        assert_eq!(OP_NAMES[op_index(0)], "unknown");
        assert_eq!(OP_NAMES[op_index(P9_RWALK)], "unknown");
        assert_eq!(OP_NAMES[op_index(255)], "unknown");
        for (i, &t) in Tmessage::TYPES.iter().enumerate() {
            let name = p9_wire::msg_type_name(t).unwrap();
            assert_eq!(name[1..].to_ascii_lowercase(), OP_NAMES[i], "{name}");
        }
    }

    fn sample() -> Stats {
        let stats = Stats::new();
        {
            let c = stats.connect();
            for _ in 0..90 {
                c.record(op_index(P9_TWALK), 1_500, 0, 0); // 2 us bucket
            }
            for _ in 0..10 {
                c.record(op_index(P9_TWALK), 3_000_000, libc::ENOENT, 0); // 4096 us
            }
            c.record(op_index(P9_TREAD), 10_000, 0, 4096);
            c.record(op_index(P9_TREAD), 20_000_000_000, 0, 10); // overflow
            c.record(op_index(P9_TLOPEN), 500, 999, 0);
            c.set_fids(3);
            let snap = stats.snapshot();
            assert_eq!((snap.connections_open, snap.fids_open), (1, 3));
        }
        stats
    }

    #[test]
    fn merges_live_and_retired_connections() {
        let stats = sample();
        let live = stats.connect();
        live.record(op_index(P9_TWALK), 100, 0, 0);
        live.set_fids(2);
        let s = stats.snapshot();
        assert_eq!(s.connections_open, 1);
        assert_eq!(s.connections_total, 2);
        assert_eq!(s.fids_open, 2);
        let walk = s.op("walk").unwrap();
        assert_eq!((walk.requests, walk.errors), (101, 10));
        assert_eq!(walk.buckets[0], 1);
        assert_eq!(walk.buckets[1], 90);
        assert_eq!(walk.buckets[12], 10);
        assert_eq!(s.op("read").unwrap().bytes, 4106);
        assert_eq!(s.op("getattr"), None);
        assert_eq!(
            s.errnos,
            vec![("other".to_string(), 1), ("ENOENT".to_string(), 10)]
        );
        drop(live);
        let s = stats.snapshot();
        assert_eq!((s.connections_open, s.fids_open), (0, 0));
        assert_eq!(s.op("walk").unwrap().requests, 101);
    }

    #[test]
    fn quantiles() {
        let s = sample().snapshot();
        let walk = s.op("walk").unwrap();
        // 90 of 100 in (1, 2] us: the median interpolates to 1 + 50/90.
        let p50 = walk.quantile_us(0.5);
        assert!((p50 - (1.0 + 50.0 / 90.0)).abs() < 1e-9, "{p50}");
        // p99 is in the (2048, 4096] us bucket.
        let p99 = walk.quantile_us(0.99);
        assert!(p99 > 2048.0 && p99 <= 4096.0, "{p99}");
        // The overflow bucket reports its lower bound.
        let read = s.op("read").unwrap();
        assert_eq!(read.quantile_us(1.0), (1u64 << 24) as f64);
        let mean = walk.mean_us();
        assert!((mean - (90.0 * 1.5 + 10.0 * 3000.0) / 100.0).abs() < 1e-9);
    }

    #[test]
    fn table() {
        let t = sample().snapshot().to_table();
        let walk = t.lines().find(|l| l.starts_with("walk ")).unwrap();
        let cols: Vec<&str> = walk.split_whitespace().collect();
        assert_eq!(&cols[..4], ["walk", "100", "10", "-"]);
        assert!(t.contains("errors by errno: other 1, ENOENT 10"), "{t}");
        assert!(t.contains("connections open 0 (total 1)"), "{t}");
        assert!(Stats::new()
            .snapshot()
            .to_table()
            .contains("no requests yet"));
    }

    #[test]
    fn json() {
        let j: serde_json::Value = serde_json::from_str(&sample().snapshot().to_json()).unwrap();
        assert_eq!(j["ops"]["walk"]["requests"], 100);
        assert_eq!(j["ops"]["walk"]["errors"], 10);
        assert_eq!(j["ops"]["read"]["bytes"], 4106);
        assert_eq!(j["errors_by_errno"]["ENOENT"], 10);
        assert_eq!(j["bucket_upper_bounds_us"][24], 1u64 << 24);
        assert_eq!(
            j["ops"]["walk"]["latency_buckets"]
                .as_array()
                .unwrap()
                .len(),
            SLOTS
        );
    }

    #[test]
    fn prometheus_format() {
        let text = sample().snapshot().to_prometheus();
        let m = parse_prometheus(&text);
        assert_eq!(m[r#"p9proxy_requests_total{op="walk"}"#], 100.0);
        assert_eq!(m[r#"p9proxy_request_errors_total{op="walk"}"#], 10.0);
        assert_eq!(m[r#"p9proxy_errors_total{errno="ENOENT"}"#], 10.0);
        assert_eq!(m[r#"p9proxy_data_bytes_total{op="read"}"#], 4106.0);
        assert_eq!(m[r#"p9proxy_data_bytes_total{op="write"}"#], 0.0);
        assert_eq!(
            m[r#"p9proxy_request_duration_seconds_bucket{op="walk",le="0.000001"}"#],
            0.0
        );
        assert_eq!(
            m[r#"p9proxy_request_duration_seconds_bucket{op="walk",le="0.000002"}"#],
            90.0
        );
        assert_eq!(
            m[r#"p9proxy_request_duration_seconds_bucket{op="walk",le="+Inf"}"#],
            100.0
        );
        assert_eq!(
            m[r#"p9proxy_request_duration_seconds_bucket{op="read",le="16.777216"}"#],
            1.0
        );
        assert_eq!(
            m[r#"p9proxy_request_duration_seconds_bucket{op="read",le="+Inf"}"#],
            2.0
        );
        assert_eq!(
            m[r#"p9proxy_request_duration_seconds_count{op="walk"}"#],
            100.0
        );
        let sum = m[r#"p9proxy_request_duration_seconds_sum{op="walk"}"#];
        assert!((sum - 0.030135).abs() < 1e-9, "{sum}");
        assert_eq!(m["p9proxy_connections_open"], 0.0);
        assert_eq!(m["p9proxy_connections_total"], 1.0);
    }

    /// A strict reader of the text format as this module writes it: every family has
    /// HELP then TYPE before its samples, counters end in `_total`, histogram buckets are
    /// cumulative, end with `+Inf` equal to `_count`, and samples are unique.
    fn parse_prometheus(text: &str) -> std::collections::HashMap<String, f64> {
        let mut samples = std::collections::HashMap::new();
        let mut types: std::collections::HashMap<String, String> = Default::default();
        let mut current: Option<(String, String)> = None;
        let mut last_help: Option<String> = None;
        let mut last_bucket: Option<(String, f64, f64)> = None; // op, le, value
        for line in text.lines() {
            assert!(!line.is_empty(), "no blank lines");
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                assert!(!help.is_empty());
                last_help = Some(name.to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap();
                assert_eq!(last_help.as_deref(), Some(name), "HELP before TYPE");
                assert!(["counter", "gauge", "histogram"].contains(&ty));
                if ty == "counter" {
                    assert!(name.ends_with("_total"), "{name}");
                }
                assert!(
                    types.insert(name.into(), ty.into()).is_none(),
                    "{name} twice"
                );
                current = Some((name.into(), ty.into()));
                continue;
            }
            assert!(!line.starts_with('#'));
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap();
            let name = series.split('{').next().unwrap();
            assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'));
            let (family, ty) = current.clone().expect("a TYPE before samples");
            if ty == "histogram" {
                let suffix = name.strip_prefix(family.as_str()).unwrap();
                assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{name}");
                if suffix == "_bucket" {
                    let labels = &series[name.len()..];
                    let le = labels.split("le=\"").nth(1).unwrap();
                    let le = le.split('"').next().unwrap();
                    let le: f64 = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    let op = labels.split("op=\"").nth(1).unwrap();
                    let op = op.split('"').next().unwrap().to_string();
                    if let Some((pop, ple, pv)) = &last_bucket {
                        if *pop == op {
                            assert!(le > *ple && value >= *pv, "cumulative: {line}");
                        }
                    }
                    last_bucket = Some((op, le, value));
                } else if suffix == "_count" {
                    let (_, le, v) = last_bucket.clone().unwrap();
                    assert_eq!(le, f64::INFINITY, "+Inf bucket last");
                    assert_eq!(v, value, "+Inf bucket == count");
                }
            } else {
                assert_eq!(name, family);
            }
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{series}"
            );
        }
        samples
    }
}
