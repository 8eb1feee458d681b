//! [`Response`]: what a raw request gets back once the helper's errno has been split off.

use std::os::fd::OwnedFd;

use proxy_protocol::{Stat, StatFs};

/// A successful reply, owned. Error replies never appear here: they are
/// [`Error::Errno`](crate::Error::Errno).
#[derive(Debug)]
pub enum Response {
    /// A non-negative status: 0, or a length for a size-0 xattr query.
    Status(i32),
    /// T_LSTAT data.
    Stat(Stat),
    /// T_STATFS data.
    StatFs(StatFs),
    /// T_READLINK, T_LGETXATTR or T_LLISTXATTR data.
    Bytes(Vec<u8>),
    /// T_GETVERSION data.
    Version(u64),
    /// The fd that answers T_OPEN or T_CREATE (close-on-exec).
    Fd(OwnedFd),
}

impl Response {
    /// The name of the response's form, for error messages.
    pub fn form_name(&self) -> &'static str {
        match self {
            Response::Status(_) => "status",
            Response::Stat(_) => "stat",
            Response::StatFs(_) => "statfs",
            Response::Bytes(_) => "bytes",
            Response::Version(_) => "version",
            Response::Fd(_) => "fd",
        }
    }
}
