//! A typed client for QEMU's 9p "proxy" protocol: the Rust equivalent of QEMU's
//! `hw/9pfs/9p-proxy.c`, speaking to any `virtfs-proxy-helper` (QEMU's C one or ours)
//! over an AF_UNIX stream socket.
//!
//! - [`ProxyClient`]: one connection, `Send + Sync`, one request at a time; a method per
//!   request type, plus [`ProxyClient::request`] and [`ProxyClient::request_raw`] for
//!   exact bytes.
//! - [`Error`]: the helper's errno ([`Error::Errno`]) apart from transport and protocol
//!   failures, which close the connection for good.
//! - [`spawn_helper`]: a helper on a fresh socketpair (`-f N`), for tests and benchmarks.
//! - [`wait`]: adaptive polling for replies under a [`SpinPolicy`], shared with the 9P
//!   server's connections.
//!
//! Wire encoding and decoding come from the `proxy-protocol` codec.
//!
//! ```no_run
//! use proxy_client::{spawn_helper, OFlags};
//! let helper = spawn_helper("/usr/lib/qemu/virtfs-proxy-helper", "/srv/export")?;
//! let st = helper.client.lstat(b"/")?;
//! let fd = helper.client.open(b"//etc/motd", OFlags::RDONLY)?;
//! # let _ = (st, fd);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acting;
mod client;
mod error;
mod response;
mod spawn;
mod timestamp;
mod transport;
pub mod wait;

pub use acting::{set_thread_identity, Identity};
pub use client::{ProxyClient, READLINK_BUFSIZE, UNCHANGED_ID};
pub use error::{Error, Result};
pub use response::Response;
pub use spawn::{
    spawn_helper, spawn_helper_command, spawn_with_socket, spawn_with_socket_and_fd, SpawnedHelper,
};
pub use timestamp::{Timestamp, UTIME_NOW, UTIME_OMIT};
pub use wait::{spin_readable, spin_until, Spin, SpinHistory, SpinPolicy};

pub use proxy_protocol::{ReplyForm, Request, Stat, StatFs};
pub use rustix::fs::{OFlags, XattrFlags};
pub use rustix::io::Errno;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn client_is_send_and_sync() {
        assert_send_sync::<ProxyClient>();
    }
}
