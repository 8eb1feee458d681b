//! systemd socket activation (`sd_listen_fds(3)`), without libsystemd.
//!
//! systemd (or `systemd-socket-activate`) passes listening sockets as descriptors 3,
//! 4, ... and sets `LISTEN_PID` (the process meant to take them) and `LISTEN_FDS`
//! (how many). When `LISTEN_PID` is this process, the descriptors are taken, marked
//! close-on-exec (so helpers started later never inherit them), and the variables are
//! removed (so children do not mistake them for theirs). Each must be a listening
//! stream socket: TCP (IPv4 or IPv6) or Unix.

use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use p9_server::listen::Listener;
use rustix::net::{sockopt, AddressFamily, SocketType};

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// The listeners systemd passed, or `None` when this process was not socket-activated.
/// Must run before this process opens any descriptor of its own and before it starts
/// threads (it changes the environment).
pub fn listeners() -> Result<Option<Vec<Listener>>, String> {
    let Some(n) = passed_count(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::process::id(),
    )?
    else {
        return Ok(None);
    };
    for v in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(v);
    }
    let mut out = Vec::with_capacity(n);
    for fd in (FIRST_FD..).take(n) {
        out.push(listener(take(fd)?).map_err(|e| format!("LISTEN_FDS: descriptor {fd}: {e}"))?);
    }
    Ok(Some(out))
}

/// How many descriptors were passed to `pid`: `None` when the variables are absent or
/// meant for another process (a parent that was activated and did not clean up).
fn passed_count(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    pid: u32,
) -> Result<Option<usize>, String> {
    let (Some(p), Some(n)) = (listen_pid, listen_fds) else {
        return Ok(None);
    };
    if p.trim().parse::<u32>().ok() != Some(pid) {
        return Ok(None);
    }
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS={n:?} is not a number"))?;
    if n == 0 || n > 1024 {
        return Err(format!("LISTEN_FDS={n}: expected 1 to 1024 sockets"));
    }
    Ok(Some(n))
}

/// Takes ownership of the passed descriptor `fd` and marks it close-on-exec.
#[allow(unsafe_code)]
fn take(fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: F_GETFD only reads the descriptor's flags; any integer is acceptable.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(format!(
            "LISTEN_FDS: descriptor {fd}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // LISTEN_PID is ours; this runs before we open descriptors; each number is taken once.
    // SAFETY: `fd` is open (checked above), passed to us for this use, owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)
        .map_err(|e| format!("LISTEN_FDS: descriptor {fd}: FD_CLOEXEC: {e}"))?;
    Ok(owned)
}

fn listener(fd: OwnedFd) -> Result<Listener, String> {
    let ty = sockopt::socket_type(fd.as_fd()).map_err(|e| format!("not a socket ({e})"))?;
    if ty != SocketType::STREAM {
        return Err("not a stream socket (use ListenStream= in the socket unit)".into());
    }
    if !sockopt::socket_acceptconn(fd.as_fd()).map_err(|e| e.to_string())? {
        return Err("not listening (Accept=yes is not supported; use Accept=no)".into());
    }
    let addr = rustix::net::getsockname(fd.as_fd()).map_err(|e| e.to_string())?;
    match addr.address_family() {
        AddressFamily::INET | AddressFamily::INET6 => {
            Ok(Listener::Tcp(std::net::TcpListener::from(fd)))
        }
        AddressFamily::UNIX => {
            let l = UnixListener::from(fd);
            let path = l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("(socket-activated)"));
            Ok(Listener::Unix(l, path))
        }
        other => Err(format!("unsupported address family {}", other.as_raw())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(passed_count(None, None, 7), Ok(None));
        assert_eq!(passed_count(Some("7"), None, 7), Ok(None));
        assert_eq!(passed_count(Some("8"), Some("1"), 7), Ok(None));
        assert_eq!(passed_count(Some("7"), Some("2"), 7), Ok(Some(2)));
        assert!(passed_count(Some("7"), Some("x"), 7).is_err());
        assert!(passed_count(Some("7"), Some("0"), 7).is_err());
    }
}
