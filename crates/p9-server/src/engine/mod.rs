//! The 9P2000.L protocol engine: what each request does to a connection's fids and to
//! the backend, with no transport in sight (the session in [`crate::transport`] reads,
//! encodes, counts, traces and writes).
//!
//! - [`state`]: a connection's protocol state ([`state::ConnState`]: msize, fids, pending
//!   locks, the peer's authority);
//! - [`ops`]: one handler per request, dispatched on the decoded message, working on that
//!   state and returning what to answer ([`answer::Answer`]);
//! - [`fid`]: the connection's fids and their states; [`qid`]: stable qids;
//! - [`readdir`], [`xattr`], [`lock`]: directory entries, extended attributes and byte-range
//!   locks the 9P2000.L way;
//! - [`budget`]: the process-wide budgets of fds, fid memory, xattr buffers and lock
//!   ranges.

pub(crate) mod answer;
pub mod budget;
pub(crate) mod fid;
pub(crate) mod lock;
pub(crate) mod ops;
pub mod qid;
pub(crate) mod readdir;
pub(crate) mod state;
pub(crate) mod xattr;

#[cfg(test)]
mod tests;
