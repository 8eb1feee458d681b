//! The counters: one block per connection, written only by its thread, and the registry
//! that adds them up into a [`Snapshot`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use p9_wire::Tmessage;

use super::{errno_name, OpSnapshot, Snapshot};

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
