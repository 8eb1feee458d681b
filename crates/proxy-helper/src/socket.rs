//! The named-socket mode (`-s PATH -u UID -g GID`): listen, accept one connection.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketType};
use rustix::process::{self, Gid, Uid};

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The path exists already (QEMU's helper refuses too).
    #[error("socket {0} already exists")]
    Exists(String),
    /// A syscall failed.
    #[error("{step}: {errno}")]
    Sys {
        /// What was being done.
        step: &'static str,
        /// Its errno.
        errno: Errno,
    },
}

fn sys(step: &'static str) -> impl Fn(Errno) -> SocketError {
    move |errno| SocketError::Sys { step, errno }
}

/// Creates the socket at `path` (mode 0770, owned by `uid:gid`), waits for one
/// connection and returns it; the listening socket is closed.
pub fn accept_one(path: &Path, uid: u32, gid: u32) -> Result<OwnedFd, SocketError> {
    if rustix::fs::lstat(path).is_ok() {
        return Err(SocketError::Exists(path.display().to_string()));
    }
    let addr = SocketAddrUnix::new(path).map_err(sys("socket path"))?;
    let listener = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(sys("socket"))?;
    // Bound as uid:gid (and mode 0770 by the umask), the socket is never reachable with
    // the wrong owner and needs no chown by path: a chown after the bind could be raced
    // into changing whatever another user swapped in at that path. Without root there
    // is no switch; the socket is then ours, and an lchown (never following a symlink
    // put there meanwhile) gives it the group asked for where we may.
    let old = process::umask(Mode::from_raw_mode(0o007));
    let bound = confined_fs::Credentials::new(uid, gid)
        .switch()
        .and_then(|_as_owner| net::bind(&listener, &addr));
    process::umask(old);
    bound.map_err(sys("bind"))?;
    if !process::geteuid().is_root() {
        rustix::fs::chownat(
            rustix::fs::CWD,
            path,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(sys("chown socket"))?;
    }
    net::listen(&listener, 1).map_err(sys("listen"))?;
    loop {
        match net::accept_with(&listener, net::SocketFlags::CLOEXEC) {
            Ok(conn) => return Ok(conn),
            Err(Errno::INTR) => {}
            Err(e) => return Err(sys("accept")(e)),
        }
    }
}
