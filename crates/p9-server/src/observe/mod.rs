//! What the server tells its operator: per-operation counters and latency histograms
//! ([`stats`]) and the decoded-message trace ([`trace`]).

pub mod stats;
pub mod trace;
