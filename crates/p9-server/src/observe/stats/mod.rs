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
//!
//! One job a file: the counters and their registry (`counters.rs`), the snapshot
//! (`snapshot.rs`), its three renderings (`table.rs`, `prometheus.rs`, `json.rs`) and the
//! errno names (`errno.rs`).

mod counters;
mod errno;
mod json;
mod prometheus;
mod snapshot;
mod table;
#[cfg(test)]
mod tests;

pub use counters::{
    bucket_bound_us, bucket_of, op_index, ConnGuard, ConnStats, Stats, FINITE_BUCKETS, OPS,
    OP_NAMES, SLOTS,
};
pub use errno::errno_name;
pub use snapshot::{OpSnapshot, Snapshot};
