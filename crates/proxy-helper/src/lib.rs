//! `virtfs-proxy-helper`: the privileged half of QEMU's 9p proxy backend, in Rust.
//!
//! [`conn`] frames requests and replies on the socket, [`dispatch`] maps each decoded
//! request onto the confined export ([`confined_fs::Export`]), [`serve`] is the loop, and
//! [`sandbox`] confines the process before the first request is read.

#![warn(missing_docs)]

pub mod cli;
pub mod conn;
pub mod dispatch;
pub mod log;
pub mod mounts;
pub mod sandbox;
pub mod seccomp;
pub mod serve;
pub mod socket;

pub use serve::{serve, ServeOptions};
